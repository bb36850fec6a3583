#include "lib/json.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/xalloc.h"

/* One node of the tree. A tree is one block (see build_tree): the nodes,
 * root first, then the child pointers, then the strings; freeing the root
 * frees the tree. */
struct json_value {
    enum json_type type;
    bool is_int;     /* a number without fraction or exponent that fits */
    const char *key; /* the member's key if this is a member's value */
    size_t key_len;
    union {
        struct {
            const char *data; /* decoded, NUL-terminated */
            size_t len;
        } str;
        struct {
            const struct json_value **items; /* in input order */
            size_t count;
        } list;
        struct {
            double d;
            long long i; /* valid if is_int */
        } num;
    } u;
};

/* The child pointers follow the nodes in the block: they must be aligned. */
_Static_assert(sizeof(struct json_value) % _Alignof(const struct json_value *) == 0,
               "node size keeps the child pointers aligned");

/* A number's text up to this length is copied on the stack for strtod;
 * longer ones (legal, if odd) on the heap. */
#define JSON_NUMBER_STACK 64

/* A value while parsing: positions in the growing arrays, not pointers. */
struct pnode {
    enum json_type type;
    bool is_int;
    bool has_key;
    size_t key_off, key_len; /* in the string area */
    size_t off, len;         /* a string: in the string area; a container: in links */
    double d;
    long long i;
};

struct parser {
    const char *p;       /* next byte */
    const char *end;     /* end of input */
    struct pnode *nodes; /* in input order, the root first */
    size_t n_nodes, cap_nodes;
    size_t *links; /* the children of every container, node indices */
    size_t n_links, cap_links;
    size_t *stack; /* children of the containers still open */
    size_t n_stack, cap_stack;
    char *strings; /* decoded strings and keys, each NUL-terminated */
    size_t n_strings;
    const char *error;
};

/* The C locale for strtod_l, made once: a number's meaning must not
 * depend on the process's LC_NUMERIC. */
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (c_locale == (locale_t)0)
        abort(); /* out of memory, as xmalloc */
}

/* JSON whitespace is exactly these four (RFC 8259 2). */
static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && is_ws(*ps->p))
        ps->p++;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Record the first error only; returns -1 for the caller to pass up. */
static int fail(struct parser *ps, const char *why)
{
    if (!ps->error)
        ps->error = why;
    return -1;
}

/* The value of a hex digit, or -1. */
static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Read the four hex digits of a \u escape at s (bounds checked by the
 * caller); -1 if one is not a hex digit. */
static long hex4(const char *s)
{
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int d = hex_value(s[k]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Write code point cp (valid, not a surrogate) as UTF-8; returns its length. */
static size_t utf8_put(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* The length of the well-formed UTF-8 sequence at s (at most avail bytes,
 * s[0] >= 0x80), or 0: no overlongs, no surrogates, nothing past U+10FFFF. */
static size_t utf8_seq_len(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    size_t len;
    unsigned long cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Decode the \u escape at ps->p (just after the backslash and 'u'), and a
 * second one if the first is a high surrogate, into out; returns the
 * number of bytes written, or 0 on error. */
static size_t parse_u_escape(struct parser *ps, char *out)
{
    if (ps->end - ps->p < 4) {
        fail(ps, "invalid escape in a string");
        return 0;
    }
    long cp = hex4(ps->p);
    if (cp < 0) {
        fail(ps, "invalid escape in a string");
        return 0;
    }
    ps->p += 4;
    if (cp == 0) {
        fail(ps, "NUL in a string");
        return 0;
    }
    if (cp >= 0xdc00 && cp <= 0xdfff) {
        fail(ps, "lone surrogate in a string");
        return 0;
    }
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u') {
            fail(ps, "lone surrogate in a string");
            return 0;
        }
        long lo = ps->end - ps->p < 6 ? -1 : hex4(ps->p + 2);
        if (lo < 0) {
            fail(ps, "invalid escape in a string");
            return 0;
        }
        if (lo < 0xdc00 || lo > 0xdfff) {
            fail(ps, "lone surrogate in a string");
            return 0;
        }
        ps->p += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    return utf8_put(out, (unsigned long)cp);
}

/* Parse the string at ps->p (its opening quote) and decode it into the
 * string area. A decoded string is never longer than its text less the
 * quotes, so the area (as long as the input) cannot overflow. */
static int parse_string(struct parser *ps, size_t *off_r, size_t *len_r)
{
    ps->p++; /* the opening quote */
    char *out = ps->strings + ps->n_strings;
    size_t n = 0;
    for (;;) {
        if (ps->p >= ps->end)
            return fail(ps, "unterminated string");
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            break;
        }
        if (c < 0x20)
            return fail(ps, c == 0 ? "NUL in a string" : "control character in a string");
        if (c >= 0x80) {
            size_t k = utf8_seq_len((const unsigned char *)ps->p, (size_t)(ps->end - ps->p));
            if (k == 0)
                return fail(ps, "invalid UTF-8 in a string");
            memcpy(out + n, ps->p, k);
            n += k;
            ps->p += k;
            continue;
        }
        if (c != '\\') {
            out[n++] = (char)c;
            ps->p++;
            continue;
        }
        ps->p++;
        if (ps->p >= ps->end)
            return fail(ps, "unterminated string");
        char e = *ps->p++;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            out[n++] = e;
            break;
        case 'b':
            out[n++] = '\b';
            break;
        case 'f':
            out[n++] = '\f';
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 'r':
            out[n++] = '\r';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'u': {
            size_t k = parse_u_escape(ps, out + n);
            if (k == 0)
                return -1;
            n += k;
            break;
        }
        default:
            return fail(ps, "invalid escape in a string");
        }
    }
    out[n] = '\0';
    *off_r = ps->n_strings;
    *len_r = n;
    ps->n_strings += n + 1;
    return 0;
}

/* True if s[0..n) is a number by RFC 8259 6:
 * -? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?
 * *plain_r tells whether it has neither fraction nor exponent. */
static bool number_valid(const char *s, size_t n, bool *plain_r)
{
    size_t i = 0;
    *plain_r = true;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n || !is_digit(s[i]))
        return false;
    if (s[i] == '0') {
        i++;
    } else {
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && s[i] == '.') {
        *plain_r = false;
        i++;
        if (i >= n || !is_digit(s[i]))
            return false;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        *plain_r = false;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return false;
        while (i < n && is_digit(s[i]))
            i++;
    }
    return i == n;
}

/* The integer written in s[0..n) (grammar checked, no fraction or
 * exponent) if it fits in long long. */
static bool number_int(const char *s, size_t n, long long *out)
{
    bool neg = s[0] == '-';
    unsigned long long limit = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
    unsigned long long v = 0;
    for (size_t i = neg ? 1 : 0; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (!neg)
        *out = (long long)v;
    else if (v == (unsigned long long)LLONG_MAX + 1)
        *out = LLONG_MIN;
    else
        *out = -(long long)v;
    return true;
}

/* Parse the number at ps->p into v. The token is every byte that may
 * appear in a number, so "01" or "1.e5" is refused as a bad number rather
 * than as what follows a good one. */
static int parse_number(struct parser *ps, struct pnode *v)
{
    const char *s = ps->p;
    while (ps->p < ps->end && (is_digit(*ps->p) || *ps->p == '-' || *ps->p == '+' ||
                               *ps->p == '.' || *ps->p == 'e' || *ps->p == 'E'))
        ps->p++;
    size_t n = (size_t)(ps->p - s);
    bool plain;
    if (!number_valid(s, n, &plain))
        return fail(ps, "invalid number");

    /* strtod needs a terminated copy: the input is not terminated. */
    char stack[JSON_NUMBER_STACK];
    char *copy = n < sizeof(stack) ? stack : xmalloc(n + 1);
    memcpy(copy, s, n);
    copy[n] = '\0';
    pthread_once(&c_locale_once, c_locale_init);
    char *endp = NULL;
    errno = 0;
    double d = strtod_l(copy, &endp, c_locale);
    bool whole = endp == copy + n;
    bool overflow = errno == ERANGE && isinf(d);
    if (copy != stack)
        free(copy);
    if (!whole)
        return fail(ps, "invalid number");
    if (overflow || !isfinite(d))
        return fail(ps, "number out of range");

    v->type = JSON_NUMBER;
    v->d = d;
    v->is_int = plain && number_int(s, n, &v->i);
    return 0;
}

/* Compare literal word w (of length n) at ps->p; advance past it if equal. */
static bool match_word(struct parser *ps, const char *w, size_t n)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0)
        return false;
    ps->p += n;
    return true;
}

/* Make room for one more of an array of *cap elements of size bytes. */
static void *grow(void *array, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return array;
    *cap = *cap ? *cap * 2 : 16;
    return xrealloc(array, *cap * size);
}

/* Push node index k as a child of the innermost open container. */
static void push_child(struct parser *ps, size_t k)
{
    ps->stack = grow(ps->stack, ps->n_stack, &ps->cap_stack, sizeof(*ps->stack));
    ps->stack[ps->n_stack++] = k;
}

/* Order of members by key, for finding repeated keys (qsort_r). */
static int member_cmp(const void *a, const void *b, void *arg)
{
    const struct parser *ps = arg;
    const struct pnode *x = &ps->nodes[*(const size_t *)a];
    const struct pnode *y = &ps->nodes[*(const size_t *)b];
    if (x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    return memcmp(ps->strings + x->key_off, ps->strings + y->key_off, x->key_len);
}

/* Move the children pushed since base from the stack to node k's place
 * in links (in order); for an object, refuse a key given twice. */
static int close_container(struct parser *ps, size_t k, size_t base)
{
    size_t count = ps->n_stack - base;
    while (ps->cap_links - ps->n_links < count) {
        ps->cap_links = ps->cap_links ? ps->cap_links * 2 : 16;
        ps->links = xrealloc(ps->links, ps->cap_links * sizeof(*ps->links));
    }
    struct pnode *v = &ps->nodes[k];
    v->off = ps->n_links;
    v->len = count;
    if (count == 0)
        return 0; /* (and the stack may not be allocated yet) */
    size_t *slots = ps->stack + base;
    memcpy(ps->links + ps->n_links, slots, count * sizeof(*slots));
    ps->n_links += count;
    ps->n_stack = base;
    if (v->type == JSON_OBJECT && count > 1) {
        /* The stack slots are free now: sort them, not the members. */
        qsort_r(slots, count, sizeof(*slots), member_cmp, ps);
        for (size_t i = 1; i < count; i++) {
            if (member_cmp(&slots[i - 1], &slots[i], ps) == 0)
                return fail(ps, "duplicate key");
        }
    }
    return 0;
}

static int parse_value(struct parser *ps, unsigned depth, size_t *k_r);

/* The elements of array k, after its '['; depth counts it. */
static int parse_array(struct parser *ps, size_t k, unsigned depth)
{
    size_t base = ps->n_stack;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return close_container(ps, k, base);
    }
    for (;;) {
        size_t e;
        if (parse_value(ps, depth, &e) < 0)
            return -1;
        push_child(ps, e);
        skip_ws(ps);
        if (ps->p >= ps->end)
            return fail(ps, "unterminated array");
        char c = *ps->p++;
        if (c == ']')
            break;
        if (c != ',')
            return fail(ps, "expected ',' or ']'");
        skip_ws(ps);
    }
    return close_container(ps, k, base);
}

/* The members of object k, after its '{'; depth counts it. */
static int parse_object(struct parser *ps, size_t k, unsigned depth)
{
    size_t base = ps->n_stack;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return close_container(ps, k, base);
    }
    for (;;) {
        if (ps->p >= ps->end)
            return fail(ps, "unterminated object");
        if (*ps->p != '"')
            return fail(ps, "expected a string as key");
        size_t key_off, key_len;
        if (parse_string(ps, &key_off, &key_len) < 0)
            return -1;
        skip_ws(ps);
        if (ps->p >= ps->end)
            return fail(ps, "unterminated object");
        if (*ps->p != ':')
            return fail(ps, "expected ':'");
        ps->p++;
        skip_ws(ps);
        size_t m;
        if (parse_value(ps, depth, &m) < 0)
            return -1;
        ps->nodes[m].has_key = true;
        ps->nodes[m].key_off = key_off;
        ps->nodes[m].key_len = key_len;
        push_child(ps, m);
        skip_ws(ps);
        if (ps->p >= ps->end)
            return fail(ps, "unterminated object");
        char c = *ps->p++;
        if (c == '}')
            break;
        if (c != ',')
            return fail(ps, "expected ',' or '}'");
        skip_ws(ps);
    }
    return close_container(ps, k, base);
}

/* Parse one value at ps->p (whitespace already skipped) inside depth
 * containers; its node index in *k_r. Recursion is bounded by
 * JSON_DEPTH_MAX. Nodes move as the array grows: hold indices only. */
static int parse_value(struct parser *ps, unsigned depth, size_t *k_r)
{
    if (ps->p >= ps->end)
        return fail(ps, "expected a value");
    if (ps->n_nodes >= JSON_VALUES_MAX)
        return fail(ps, "too many values");
    ps->nodes = grow(ps->nodes, ps->n_nodes, &ps->cap_nodes, sizeof(*ps->nodes));
    size_t k = ps->n_nodes++;
    struct pnode *v = &ps->nodes[k];
    memset(v, 0, sizeof(*v));
    *k_r = k;
    char c = *ps->p;
    switch (c) {
    case '{':
    case '[':
        if (depth >= JSON_DEPTH_MAX)
            return fail(ps, "nesting too deep");
        ps->p++;
        v->type = c == '{' ? JSON_OBJECT : JSON_ARRAY;
        return c == '{' ? parse_object(ps, k, depth + 1) : parse_array(ps, k, depth + 1);
    case '"':
        v->type = JSON_STRING;
        return parse_string(ps, &v->off, &v->len);
    case 't':
        v->type = JSON_TRUE;
        return match_word(ps, "true", 4) ? 0 : fail(ps, "invalid literal");
    case 'f':
        v->type = JSON_FALSE;
        return match_word(ps, "false", 5) ? 0 : fail(ps, "invalid literal");
    case 'n':
        v->type = JSON_NULL;
        return match_word(ps, "null", 4) ? 0 : fail(ps, "invalid literal");
    default:
        if (c == '-' || is_digit(c))
            return parse_number(ps, v);
        return fail(ps, "expected a value");
    }
}

/* The tree of a parse that succeeded, in one block of just the size it
 * needs: nodes, child pointers, strings. */
static struct json_value *build_tree(const struct parser *ps)
{
    size_t nodes_size = ps->n_nodes * sizeof(struct json_value);
    size_t links_size = ps->n_links * sizeof(const struct json_value *);
    char *block = xmalloc(nodes_size + links_size + ps->n_strings);
    struct json_value *nodes = (struct json_value *)(void *)block;
    const struct json_value **links = (const struct json_value **)(void *)(block + nodes_size);
    char *strings = block + nodes_size + links_size;
    if (ps->n_strings > 0)
        memcpy(strings, ps->strings, ps->n_strings);
    for (size_t j = 0; j < ps->n_links; j++)
        links[j] = &nodes[ps->links[j]];
    for (size_t k = 0; k < ps->n_nodes; k++) {
        const struct pnode *p = &ps->nodes[k];
        struct json_value *v = &nodes[k];
        memset(v, 0, sizeof(*v));
        v->type = p->type;
        if (p->has_key) {
            v->key = strings + p->key_off;
            v->key_len = p->key_len;
        }
        switch (p->type) {
        case JSON_NUMBER:
            v->is_int = p->is_int;
            v->u.num.d = p->d;
            v->u.num.i = p->i;
            break;
        case JSON_STRING:
            v->u.str.data = strings + p->off;
            v->u.str.len = p->len;
            break;
        case JSON_ARRAY:
        case JSON_OBJECT:
            v->u.list.items = links + p->off;
            v->u.list.count = p->len;
            break;
        case JSON_NULL:
        case JSON_FALSE:
        case JSON_TRUE:
            break;
        }
    }
    return nodes;
}

struct json_value *json_parse(const char *data, size_t len, const char **error_r)
{
    const char *dummy;
    if (!error_r)
        error_r = &dummy;
    *error_r = NULL;
    if (len == 0) {
        *error_r = "expected a value";
        return NULL;
    }
    if (len == SIZE_MAX) {
        *error_r = "input too long";
        return NULL;
    }
    /* A decoded string is never longer than its text less the quotes, so
     * the strings with their terminators fit in len bytes. */
    struct parser ps = {
        .p = data,
        .end = data + len,
        .strings = xmalloc(len + 1),
    };
    size_t root;
    skip_ws(&ps);
    if (parse_value(&ps, 0, &root) == 0) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            fail(&ps, "trailing characters");
    }
    struct json_value *tree = NULL;
    if (ps.error)
        *error_r = ps.error;
    else
        tree = build_tree(&ps); /* the root is node 0 */
    free(ps.nodes);
    free(ps.links);
    free(ps.stack);
    free(ps.strings);
    return tree;
}

void json_free(struct json_value **vp)
{
    x_free(vp);
}

enum json_type json_type(const struct json_value *v)
{
    return v ? v->type : JSON_NULL;
}

const struct json_value *json_get(const struct json_value *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT || !key)
        return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->u.list.count; i++) {
        const struct json_value *m = obj->u.list.items[i];
        if (m->key_len == n && memcmp(m->key, key, n) == 0)
            return m;
    }
    return NULL;
}

size_t json_count(const struct json_value *v)
{
    if (!v || (v->type != JSON_ARRAY && v->type != JSON_OBJECT))
        return 0;
    return v->u.list.count;
}

const struct json_value *json_at(const struct json_value *v, size_t i)
{
    if (i >= json_count(v))
        return NULL;
    return v->u.list.items[i];
}

const char *json_key_at(const struct json_value *v, size_t i)
{
    if (!v || v->type != JSON_OBJECT || i >= v->u.list.count)
        return NULL;
    return v->u.list.items[i]->key;
}

const char *json_string(const struct json_value *v, size_t *len_r)
{
    if (!v || v->type != JSON_STRING) {
        if (len_r)
            *len_r = 0;
        return NULL;
    }
    if (len_r)
        *len_r = v->u.str.len;
    return v->u.str.data;
}

bool json_int(const struct json_value *v, long long *out)
{
    if (!v || v->type != JSON_NUMBER || !v->is_int)
        return false;
    *out = v->u.num.i;
    return true;
}

bool json_number(const struct json_value *v, double *out)
{
    if (!v || v->type != JSON_NUMBER)
        return false;
    *out = v->u.num.d;
    return true;
}

bool json_bool(const struct json_value *v, bool *out)
{
    if (!v || (v->type != JSON_TRUE && v->type != JSON_FALSE))
        return false;
    *out = v->type == JSON_TRUE;
    return true;
}

void json_append_string(struct buf *b, const char *str)
{
    buf_append_char(b, '"');
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_printf(b, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            buf_printf(b, "\\u%04x", *p);
        else
            buf_append_char(b, (char)*p);
    }
    buf_append_char(b, '"');
}
