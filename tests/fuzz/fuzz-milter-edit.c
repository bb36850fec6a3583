/* Fuzz target: the header edits and the new body milters ask for,
 * applied to a message (milter_edit_message), and field values as they
 * are sent to a milter (milter_edit_header_value).
 *
 * The first byte of the input gives the number of modifications and
 * whether a new body follows; each modification takes a type, an index,
 * a name (one of a few usual ones, or bytes of the input) and a value
 * (bytes of the input); then the new body; the rest is the message.
 * Besides not crashing or reading past the input:
 *  - the header section of the result ends where the message's did: what
 *    follows it is the message's own rest, byte for byte, or "\r\n" and
 *    the new body with every line end made CRLF. So no value, however
 *    folded, ends the header or puts an empty line in it;
 *  - fields are added or removed only by the modifications;
 *  - the result is no longer than the message, plus per modification its
 *    name and three times its value (a lone LF becomes CRLF TAB) and 4,
 *    plus twice the new body and 4;
 *  - exactly the modifications with a bad name are counted as ignored;
 *  - unchanged, the result is the message (a CRLF added to a last field
 *    that has none);
 *  - with a maximum below the result's length: -1 and a prefix of it;
 *  - a value sent to a milter is the field's value without its final line
 *    breaks and with the CR of each CRLF dropped. */
#include <stdbool.h>

#include "fuzz-util.h"
#include "lib/buf.h"
#include "mime/mime-header.h"
#include "policy/milter-edit.h"
#include "policy/milter.h"

#define MODS_MAX  6  /* modifications in one input */
#define VALUE_MAX 64 /* bytes of one value from the input */

/* The input, read from the front; past its end every byte is 0. */
struct input {
    const uint8_t *p;
    size_t n, pos;
};

static uint8_t next_byte(struct input *in)
{
    return in->pos < in->n ? in->p[in->pos++] : 0;
}

/* Up to n bytes of the input as a terminated string (a NUL in them ends it). */
static char *next_string(struct input *in, size_t n)
{
    if (n > in->n - in->pos)
        n = in->n - in->pos;
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, in->p + in->pos, n);
    s[n] = '\0';
    in->pos += n;
    return s;
}

static const char *const names[] = {
    "Subject", "subject", "X-A", "x-a", "From", "To", "Received", "X", "", "X Y", "X:Y", "X\r\n",
};

static bool is_header_mod(enum milter_mod_type t)
{
    return t == MILTER_MOD_ADD_HEADER || t == MILTER_MOD_INSERT_HEADER ||
           t == MILTER_MOD_CHANGE_HEADER;
}

/* RFC 5322 3.6.8, as the header of milter-edit says. */
static bool name_valid(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 33 || (unsigned char)*s > 126 || *s == ':')
            return false;
    return true;
}

/* The header's end in d[0..len) and the number of its fields. */
static size_t header_end(const char *d, size_t len, size_t *fields)
{
    size_t pos = 0;
    struct mime_field f;
    *fields = 0;
    while (mime_header_next(d, len, &pos, &f))
        (*fields)++;
    return pos;
}

/* Every CRLF, lone CR and lone LF made CRLF. */
static void crlf(struct buf *out, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\r' || p[i] == '\n') {
            buf_append(out, "\r\n", 2);
            if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')
                i++;
        } else {
            buf_append(out, p + i, 1);
        }
    }
}

static void check_header_values(const char *msg, size_t len)
{
    size_t pos = 0;
    struct mime_field f;
    while (mime_header_next(msg, len, &pos, &f)) {
        char *v = fuzz_copy(f.value, f.value_len);
        struct buf got, want;
        buf_init(&got, BUF_UNLIMITED);
        buf_init(&want, BUF_UNLIMITED);
        milter_edit_header_value(v, f.value_len, &got);
        for (size_t i = 0; i < f.value_len; i++)
            if (!(v[i] == '\r' && i + 1 < f.value_len && v[i + 1] == '\n'))
                buf_append(&want, v + i, 1);
        while (want.len && (want.data[want.len - 1] == '\r' || want.data[want.len - 1] == '\n'))
            want.len--;
        CHECK(got.len == want.len && (!got.len || memcmp(got.data, want.data, got.len) == 0));
        buf_free(&got);
        buf_free(&want);
        free(v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size, 0};
    uint8_t first = next_byte(&in);
    size_t n = first % (MODS_MAX + 1);
    bool has_body = first & 0x80;
    struct milter_mod mods[MODS_MAX];
    char *strings[2 * MODS_MAX];
    size_t bound = 0, header_mods = 0, bad_names = 0;
    for (size_t i = 0; i < n; i++) {
        mods[i].type = (enum milter_mod_type)(next_byte(&in) % 6);
        uint8_t index = next_byte(&in);
        mods[i].index =
            index < 0xf0 ? (uint32_t)(index % 8) : UINT32_MAX - (uint32_t)(index & 0x0f);
        uint8_t sel = next_byte(&in);
        size_t value_len = next_byte(&in) % VALUE_MAX;
        if (sel < 0xc0) {
            const char *name = names[sel % (sizeof(names) / sizeof(names[0]))];
            struct input fixed = {(const uint8_t *)name, strlen(name), 0};
            strings[2 * i] = next_string(&fixed, fixed.n);
        } else {
            strings[2 * i] = next_string(&in, sel & 0x1f);
        }
        strings[2 * i + 1] = next_string(&in, value_len);
        mods[i].name = strings[2 * i];
        mods[i].value = strings[2 * i + 1];
        bound += strlen(mods[i].name) + 3 * strlen(mods[i].value) + 4;
        if (is_header_mod(mods[i].type)) {
            header_mods++;
            if (!name_valid(mods[i].name))
                bad_names++;
        }
    }
    char *body = NULL;
    size_t body_len = 0;
    if (has_body) {
        body_len = next_byte(&in);
        if (body_len > size - in.pos)
            body_len = size - in.pos;
        body = fuzz_copy(data + in.pos, body_len);
        in.pos += body_len;
        bound += 2 * body_len + 4;
    }
    size_t len = size - in.pos;
    char *msg = fuzz_copy(data + in.pos, len);

    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    bool changed = false;
    size_t ignored = 0;
    CHECK(milter_edit_message(msg, len, mods, n, body, body_len, &out, &changed, &ignored) == 0);
    CHECK(ignored == bad_names);
    CHECK(out.len <= len + 2 + bound);

    /* The header ends where it did; what follows is the expected body. */
    size_t fields_in, fields_out;
    size_t end_in = header_end(msg, len, &fields_in);
    size_t end_out = header_end(out.data ? out.data : "", out.len, &fields_out);
    struct buf tail;
    buf_init(&tail, BUF_UNLIMITED);
    if (body) {
        buf_append(&tail, "\r\n", 2);
        crlf(&tail, body, body_len);
    } else {
        buf_append(&tail, msg + end_in, len - end_in);
    }
    CHECK(out.len - end_out == tail.len);
    CHECK(!tail.len || memcmp(out.data + end_out, tail.data, tail.len) == 0);
    buf_free(&tail);
    /* One field more than the modifications explain: a message whose
     * first line starts with white space, folded into a field inserted
     * before it. */
    CHECK(fields_out <= fields_in + header_mods);
    CHECK(fields_out + header_mods + 1 >= fields_in);

    if (body)
        CHECK(changed);
    if (!changed) {
        CHECK(out.len >= len && (!len || memcmp(out.data, msg, len) == 0));
        if (out.len != len)
            CHECK(out.len == len + 2 && len > 0 && end_in == len && msg[len - 1] != '\n' &&
                  memcmp(out.data + len, "\r\n", 2) == 0);
    }

    /* Past a maximum: -1 and a prefix. */
    if (out.len > 0) {
        struct fuzz_rng rng;
        fuzz_rng_init(&rng, data, size);
        size_t max = (size_t)(fuzz_rng_next(&rng) % out.len);
        struct buf small;
        buf_init(&small, max);
        bool c2;
        CHECK(milter_edit_message(msg, len, mods, n, body, body_len, &small, &c2, NULL) == -1);
        CHECK(small.len <= max && (!small.len || memcmp(small.data, out.data, small.len) == 0));
        buf_free(&small);
    }

    check_header_values(msg, len);

    buf_free(&out);
    free(msg);
    free(body);
    for (size_t i = 0; i < 2 * n; i++)
        free(strings[i]);
    return 0;
}
