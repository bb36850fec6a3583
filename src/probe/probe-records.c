#include "probe-records.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/str.h"

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
    return is_digit(c) || is_alpha(c);
}

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A byte of a field name after its first: ALPHA / DIGIT / "_" / "-" / "." */
static bool is_name_char(char c)
{
    return is_alnum(c) || c == '_' || c == '-' || c == '.';
}

/* A byte of a field value: %x21-3A / %x3C / %x3E-7E (printable, not ';'
 * or '='). */
static bool is_value_char(char c)
{
    return c >= 0x21 && c <= 0x7e && c != ';' && c != '=';
}

/* Say why a record is not valid: out_why gets the formatted text, cut to
 * its size. */
__attribute__((format(printf, 2, 3))) static void why_set(char *out_why, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out_why, PROBE_RECORD_WHY_MAX + 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        (void)str_copy(out_why, PROBE_RECORD_WHY_MAX + 1, "invalid");
}

/* A printable copy of at most 40 untrusted bytes, for a why. */
static const char *show(char *dst, size_t dstsize, const char *s, size_t n)
{
    return str_printable(dst, dstsize, s, n > 40 ? 40 : n);
}

/* True if txt starts with the version literal lit followed by the end, a
 * blank or ';'. */
static bool starts_with_version(const char *txt, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    if (len < n || memcmp(txt, lit, n) != 0)
        return false;
    return len == n || is_wsp(txt[n]) || txt[n] == ';';
}

bool probe_mta_sts_is(const char *txt, size_t len)
{
    return starts_with_version(txt, len, "v=STSv1");
}

bool probe_tlsrpt_is(const char *txt, size_t len)
{
    return starts_with_version(txt, len, "v=TLSRPTv1");
}

/* One field of a record. */
struct field {
    const char *name;
    size_t name_n;
    const char *value;
    size_t value_n;
};

/* A record cut into fields, the version literal not among them. */
struct record {
    struct field f[PROBE_RECORD_FIELDS_MAX];
    size_t n;
};

static bool field_is(const struct field *f, const char *name)
{
    return f->name_n == strlen(name) && memcmp(f->name, name, f->name_n) == 0;
}

/* Why the record does not start with lit. */
static void why_no_version(const char *txt, size_t len, const char *lit, char *why)
{
    size_t n = strlen(lit);
    char buf[64];
    if (len > 0 && is_wsp(txt[0])) {
        why_set(why, "white space before %s: the record must begin with it", lit);
        return;
    }
    if (len >= n && str_eqn_ci(txt, lit, n) && (len == n || !is_alnum(txt[n]))) {
        why_set(why, "%s is case-sensitive, not \"%s\"", lit, show(buf, sizeof(buf), txt, n));
        return;
    }
    /* "v = STSv1" */
    size_t i = 0;
    if (len > 0 && (txt[0] == 'v' || txt[0] == 'V')) {
        i = 1;
        while (i < len && is_wsp(txt[i]))
            i++;
        if (i < len && txt[i] == '=' && (i > 1 || (i + 1 < len && is_wsp(txt[i + 1])))) {
            why_set(why, "no white space is allowed around '=' in %s", lit);
            return;
        }
    }
    size_t m = 0;
    while (m < len && txt[m] != ';')
        m++;
    why_set(why, "does not begin with %s (begins \"%s\")", lit, show(buf, sizeof(buf), txt, m));
}

/* Cut txt[0..len) into fields after the version literal lit. rua_name is
 * the field whose value runs to the next ';' (URIs with blanks around
 * their commas), or NULL. False with why set on a syntax error. */
static bool record_split(const char *txt, size_t len, const char *lit, const char *rua_name,
                         struct record *r, char *why)
{
    char buf[64];
    r->n = 0;
    if (len > PROBE_RECORD_TEXT_MAX) {
        why_set(why, "longer than %d bytes, more than DNS can hold", PROBE_RECORD_TEXT_MAX);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)txt[i];
        if ((c < 0x20 && c != '\t') || c >= 0x7f) {
            why_set(why, "byte 0x%02x at offset %zu: the record must be printable US-ASCII", c, i);
            return false;
        }
    }
    if (!starts_with_version(txt, len, lit)) {
        why_no_version(txt, len, lit, why);
        return false;
    }
    size_t i = strlen(lit);
    for (;;) {
        while (i < len && is_wsp(txt[i]))
            i++;
        if (i >= len)
            return true;
        if (txt[i] != ';') {
            size_t e = i;
            while (e < len && txt[e] != ';')
                e++;
            show(buf, sizeof(buf), txt + i, e - i);
            if (r->n > 0)
                why_set(why, "\"%s\" after the field \"%.*s\": fields are separated by ';'", buf,
                        (int)r->f[r->n - 1].name_n, r->f[r->n - 1].name);
            else
                why_set(why, "\"%s\" after %s: fields are separated by ';'", buf, lit);
            return false;
        }
        i++;
        while (i < len && is_wsp(txt[i]))
            i++;
        if (i >= len)
            return true;
        if (txt[i] == ';') {
            why_set(why, "an empty field (two ';' with nothing between)");
            return false;
        }
        /* name */
        size_t name = i;
        while (i < len && is_name_char(txt[i]))
            i++;
        size_t name_n = i - name;
        if (i >= len || txt[i] != '=') {
            size_t e = i;
            while (e < len && txt[e] != ';')
                e++;
            size_t j = i;
            while (j < len && is_wsp(txt[j]))
                j++;
            if (name_n > 0 && j < len && txt[j] == '=')
                why_set(why, "white space before '=' in the field \"%s\"",
                        show(buf, sizeof(buf), txt + name, name_n));
            else
                why_set(why, "the field \"%s\" is not name=value",
                        show(buf, sizeof(buf), txt + name, e - name));
            return false;
        }
        if (name_n == 0 || !is_alnum(txt[name]) || name_n > 32) {
            why_set(why, "\"%s\" is not a field name (a letter or digit, then at most 31 more)",
                    show(buf, sizeof(buf), txt + name, name_n));
            return false;
        }
        i++; /* '=' */
        size_t value = i;
        if (rua_name != NULL && name_n == strlen(rua_name) &&
            memcmp(txt + name, rua_name, name_n) == 0) {
            while (i < len && txt[i] != ';')
                i++;
            while (i > value && is_wsp(txt[i - 1]))
                i--;
        } else {
            while (i < len && is_value_char(txt[i]))
                i++;
            if (i < len && txt[i] == '=') {
                why_set(why, "a '=' in the value of \"%s\"",
                        show(buf, sizeof(buf), txt + name, name_n));
                return false;
            }
        }
        if (i == value) {
            if (i < len && is_wsp(txt[i]))
                why_set(why, "white space after '=' in the field \"%s\"",
                        show(buf, sizeof(buf), txt + name, name_n));
            else
                why_set(why, "the field \"%s\" has an empty value",
                        show(buf, sizeof(buf), txt + name, name_n));
            return false;
        }
        if (r->n >= PROBE_RECORD_FIELDS_MAX) {
            why_set(why, "more than %d fields", PROBE_RECORD_FIELDS_MAX);
            return false;
        }
        struct field *f = &r->f[r->n++];
        f->name = txt + name;
        f->name_n = name_n;
        f->value = txt + value;
        f->value_n = i - value;
        if (f->name_n == 1 && f->name[0] == 'v') {
            why_set(why, "v= appears again (two records run together?)");
            return false;
        }
    }
}

/* A field spelled like name but in another case ("ID" for "id"), or NULL:
 * a why can then point at it. */
static const struct field *field_miscased(const struct record *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t k = 0; k < r->n; k++) {
        if (r->f[k].name_n == n && str_eqn_ci(r->f[k].name, name, n))
            return &r->f[k];
    }
    return NULL;
}

void probe_mta_sts_parse(const char *txt, size_t len, struct probe_mta_sts *out)
{
    memset(out, 0, sizeof(*out));
    struct record r;
    char buf[64];
    if (!record_split(txt, len, "v=STSv1", NULL, &r, out->why))
        return;
    const struct field *id = NULL;
    for (size_t k = 0; k < r.n; k++) {
        for (size_t j = 0; j < k; j++) {
            if (r.f[j].name_n == r.f[k].name_n &&
                memcmp(r.f[j].name, r.f[k].name, r.f[k].name_n) == 0) {
                why_set(out->why, "the field \"%s\" appears twice",
                        show(buf, sizeof(buf), r.f[k].name, r.f[k].name_n));
                return;
            }
        }
        if (field_is(&r.f[k], "id"))
            id = &r.f[k];
    }
    if (id == NULL) {
        const struct field *m = field_miscased(&r, "id");
        if (m != NULL)
            why_set(out->why, "no id= field (field names are case-sensitive: \"%s=\" is not id=)",
                    show(buf, sizeof(buf), m->name, m->name_n));
        else
            why_set(out->why, "no id= field: it is required");
        return;
    }
    if (id->value_n > PROBE_STS_ID_MAX) {
        why_set(out->why, "the id is %zu characters long, more than %d", id->value_n,
                PROBE_STS_ID_MAX);
        return;
    }
    for (size_t k = 0; k < id->value_n; k++) {
        if (!is_alnum(id->value[k])) {
            why_set(out->why, "the id has '%c': only letters and digits are allowed", id->value[k]);
            return;
        }
    }
    (void)str_copyn(out->id, sizeof(out->id), id->value, id->value_n);
    out->valid = true;
}

/* An RFC 3986 URI byte, except ',' '!' and ';', which RFC 8460 wants
 * percent-encoded ('%' is checked by the caller). */
static bool is_uri_char(char c)
{
    if (is_alnum(c))
        return true;
    return c != '\0' && strchr("-._~:/?#[]@$&'()*+=%", c) != NULL;
}

/* Check one report URI u[0..n); false with why set. */
static bool rua_uri_check(const char *u, size_t n, char *why)
{
    char buf[64];
    for (size_t k = 0; k < n; k++) {
        char c = u[k];
        if (c == '!') {
            why_set(why, "'!' in the report URI \"%s\" must be percent-encoded (%%21)",
                    show(buf, sizeof(buf), u, n));
            return false;
        }
        if (is_wsp(c)) {
            why_set(why, "white space in the report URI \"%s\"", show(buf, sizeof(buf), u, n));
            return false;
        }
        if (!is_uri_char(c) ||
            (c == '%' && (k + 2 >= n || !is_hex(u[k + 1]) || !is_hex(u[k + 2])))) {
            why_set(why, "the report URI \"%s\" is not a URI (byte '%c')",
                    show(buf, sizeof(buf), u, n), c);
            return false;
        }
    }
    static const char mailto[] = "mailto:", https[] = "https:";
    if (n >= sizeof(mailto) - 1 && str_eqn_ci(u, mailto, sizeof(mailto) - 1)) {
        const char *addr = u + sizeof(mailto) - 1;
        size_t an = n - (sizeof(mailto) - 1);
        const char *q = memchr(addr, '?', an);
        if (q != NULL)
            an = (size_t)(q - addr);
        const char *at = memchr(addr, '@', an);
        if (at == NULL || at == addr || at + 1 == addr + an) {
            why_set(why, "the report URI \"%s\" has no local@domain address",
                    show(buf, sizeof(buf), u, n));
            return false;
        }
        return true;
    }
    if (n >= sizeof(https) - 1 && str_eqn_ci(u, https, sizeof(https) - 1)) {
        const char *rest = u + sizeof(https) - 1;
        size_t rn = n - (sizeof(https) - 1);
        if (rn < 3 || rest[0] != '/' || rest[1] != '/' || strchr("/?#:", rest[2]) != NULL) {
            why_set(why, "the report URI \"%s\" has no host (https://HOST/...)",
                    show(buf, sizeof(buf), u, n));
            return false;
        }
        return true;
    }
    const char *colon = memchr(u, ':', n);
    why_set(why, "the report URI \"%s\" is not mailto: or https:",
            show(buf, sizeof(buf), u, colon ? (size_t)(colon - u) + 1 : n));
    return false;
}

/* Check and keep the URIs of one rua= value; false with why set. */
static bool rua_parse(const struct field *f, struct probe_tlsrpt *out)
{
    size_t i = 0;
    for (;;) {
        size_t start = i;
        while (i < f->value_n && f->value[i] != ',')
            i++;
        size_t s = start, e = i;
        while (s < e && is_wsp(f->value[s]))
            s++;
        while (e > s && is_wsp(f->value[e - 1]))
            e--;
        if (s == e) {
            why_set(out->why, "an empty report URI in rua= (a stray ',')");
            return false;
        }
        if (!rua_uri_check(f->value + s, e - s, out->why))
            return false;
        out->n_rua_all++;
        if (out->n_rua < PROBE_RUA_MAX && e - s <= PROBE_URI_MAX)
            (void)str_copyn(out->rua[out->n_rua++], PROBE_URI_MAX + 1, f->value + s, e - s);
        if (i >= f->value_n)
            return true;
        i++; /* ',' */
    }
}

void probe_tlsrpt_parse(const char *txt, size_t len, struct probe_tlsrpt *out)
{
    memset(out, 0, sizeof(*out));
    struct record r;
    char buf[64];
    if (!record_split(txt, len, "v=TLSRPTv1", "rua", &r, out->why))
        return;
    bool rua = false;
    for (size_t k = 0; k < r.n; k++) {
        if (!field_is(&r.f[k], "rua"))
            continue;
        rua = true;
        if (!rua_parse(&r.f[k], out)) {
            memset(out->rua, 0, sizeof(out->rua));
            out->n_rua = 0;
            out->n_rua_all = 0;
            return;
        }
    }
    if (!rua) {
        const struct field *m = field_miscased(&r, "rua");
        if (m != NULL)
            why_set(out->why, "no rua= field (field names are case-sensitive: \"%s=\" is not rua=)",
                    show(buf, sizeof(buf), m->name, m->name_n));
        else
            why_set(out->why, "no rua= field: it is required");
        return;
    }
    out->valid = true;
}
