/* Fuzz target: a JSON request body through json_parse.
 *
 * Besides not crashing, a refusal must give a reason, and an accepted tree
 * must keep the contract when walked through every accessor: within the
 * depth and value limits, strings valid UTF-8 without NUL, keys unique and
 * found by json_get, integers equal to their double, wrong types answered
 * as missing. The tree is then written back as JSON, which must parse to
 * the same tree. */
#include <math.h>
#include <stdbool.h>

#include "fuzz-util.h"
#include "lib/buf.h"
#include "lib/json.h"
#include "lib/str.h"

/* Values seen in one walk. */
static size_t values;

/* Write string s as JSON. */
static void write_string(struct buf *b, const char *s, size_t n)
{
    CHECK(buf_append_char(b, '"') == 0);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            CHECK(buf_append_char(b, '\\') == 0);
            CHECK(buf_append_char(b, (char)c) == 0);
        } else if (c < 0x20) {
            CHECK(buf_printf(b, "\\u%04x", c) == 0);
        } else {
            CHECK(buf_append_char(b, (char)c) == 0);
        }
    }
    CHECK(buf_append_char(b, '"') == 0);
}

/* Check v (inside depth containers) and write it to b. */
static void walk(const struct json_value *v, unsigned depth, struct buf *b)
{
    CHECK(v != NULL);
    values++;
    CHECK(values <= JSON_VALUES_MAX);
    enum json_type t = json_type(v);
    long long i;
    double d;
    bool flag;
    size_t len = 1;

    /* What every type but its own answers as missing. */
    if (t != JSON_STRING) {
        CHECK(json_string(v, &len) == NULL);
        CHECK(len == 0);
    }
    if (t != JSON_NUMBER) {
        CHECK(!json_number(v, &d));
        CHECK(!json_int(v, &i));
    }
    if (t != JSON_TRUE && t != JSON_FALSE)
        CHECK(!json_bool(v, &flag));
    if (t != JSON_OBJECT) {
        CHECK(json_get(v, "") == NULL);
        CHECK(json_key_at(v, 0) == NULL);
    }
    if (t != JSON_ARRAY && t != JSON_OBJECT) {
        CHECK(json_count(v) == 0);
        CHECK(json_at(v, 0) == NULL);
    }

    switch (t) {
    case JSON_NULL:
        CHECK(buf_append_str(b, "null") == 0);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        CHECK(json_bool(v, &flag) && flag == (t == JSON_TRUE));
        CHECK(buf_append_str(b, flag ? "true" : "false") == 0);
        break;
    case JSON_NUMBER:
        CHECK(json_number(v, &d));
        CHECK(isfinite(d));
        if (json_int(v, &i)) {
            CHECK(d == (double)i);
            /* "-0" is the integer 0 and the double -0.0. */
            CHECK(buf_printf(b, "%s%lld", i == 0 && signbit(d) ? "-" : "", i) == 0);
        } else {
            CHECK(buf_printf(b, "%.17g", d) == 0);
        }
        break;
    case JSON_STRING: {
        const char *s = json_string(v, &len);
        CHECK(s != NULL);
        CHECK(strlen(s) == len);
        CHECK(str_utf8_valid(s, len));
        write_string(b, s, len);
        break;
    }
    case JSON_ARRAY:
    case JSON_OBJECT: {
        CHECK(depth < JSON_DEPTH_MAX);
        size_t n = json_count(v);
        CHECK(n < JSON_VALUES_MAX);
        CHECK(json_at(v, n) == NULL);
        CHECK(json_key_at(v, n) == NULL);
        CHECK(buf_append_char(b, t == JSON_ARRAY ? '[' : '{') == 0);
        for (size_t k = 0; k < n; k++) {
            const struct json_value *e = json_at(v, k);
            if (k)
                CHECK(buf_append_char(b, ',') == 0);
            if (t == JSON_OBJECT) {
                const char *key = json_key_at(v, k);
                CHECK(key != NULL);
                size_t key_len = strlen(key);
                CHECK(str_utf8_valid(key, key_len));
                /* Keys are unique, so the first match is this member
                 * (json_get scans: ask for the first members only, or a
                 * wide object would take quadratic time here). */
                if (k < 256)
                    CHECK(json_get(v, key) == e);
                write_string(b, key, key_len);
                CHECK(buf_append_char(b, ':') == 0);
            }
            walk(e, depth + 1, b);
        }
        CHECK(buf_append_char(b, t == JSON_ARRAY ? ']' : '}') == 0);
        break;
    }
    default:
        CHECK(!"a type outside enum json_type");
    }
}

/* a and b hold the same values (an integer may have been written back
 * as a fraction or exponent only if it was not one). */
static void same(const struct json_value *a, const struct json_value *b)
{
    CHECK(json_type(a) == json_type(b));
    size_t la, lb;
    double da, db;
    long long ia, ib;
    switch (json_type(a)) {
    case JSON_NUMBER:
        CHECK(json_number(a, &da) && json_number(b, &db));
        CHECK(da == db && signbit(da) == signbit(db));
        if (json_int(a, &ia))
            CHECK(json_int(b, &ib) && ia == ib);
        break;
    case JSON_STRING: {
        const char *sa = json_string(a, &la);
        const char *sb = json_string(b, &lb);
        CHECK(la == lb && memcmp(sa, sb, la) == 0);
        break;
    }
    case JSON_ARRAY:
    case JSON_OBJECT:
        CHECK(json_count(a) == json_count(b));
        for (size_t k = 0; k < json_count(a); k++) {
            if (json_type(a) == JSON_OBJECT)
                CHECK(strcmp(json_key_at(a, k), json_key_at(b, k)) == 0);
            same(json_at(a, k), json_at(b, k));
        }
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy(data, size);
    const char *error = NULL;
    struct json_value *v = json_parse(text, size, &error);
    free(text);
    if (!v) {
        CHECK(error != NULL && error[0] != '\0');
        return 0;
    }
    CHECK(error == NULL);

    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    values = 0;
    walk(v, 0, &b);

    char *again_text = fuzz_copy(b.data, b.len);
    struct json_value *again = json_parse(again_text, b.len, &error);
    free(again_text);
    if (!again) {
        fprintf(stderr, "written back: %s\nrefused: %s\n", buf_cstr(&b), error);
        CHECK(!"the tree written back parses");
    }
    same(v, again);
    json_free(&again);
    buf_free(&b);
    json_free(&v);
    CHECK(v == NULL);
    return 0;
}
