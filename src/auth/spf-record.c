/* spf-record: SPF record and macro-string syntax (RFC 7208 4.5-7). */
#include "spf-record.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_alpha(c) || is_digit(c);
}

bool spf_record_is_spf(const char *text, size_t len)
{
    return len >= 6 && str_eqn_ci(text, "v=spf1", 6) && (len == 6 || text[6] == ' ');
}

/* One macro-expand at s[0] == '%': its length, or 0 if malformed. */
static size_t macro_expand_len(const char *s, size_t len, bool exp_text)
{
    if (len < 2)
        return 0;
    if (s[1] == '%' || s[1] == '_' || s[1] == '-')
        return 2;
    if (s[1] != '{' || len < 4)
        return 0;
    char letter = str_lower_char(s[2]);
    if (!strchr("slodiphv", letter) && !(exp_text && strchr("crt", letter)))
        return 0;
    if (letter == '\0')
        return 0;
    size_t i = 3;
    while (i < len && is_digit(s[i]))
        i++;
    if (i < len && (s[i] == 'r' || s[i] == 'R'))
        i++;
    while (i < len && strchr(".-+,/_=", s[i]) && s[i] != '\0')
        i++;
    return i < len && s[i] == '}' ? i + 1 : 0;
}

int spf_macro_check(const char *s, size_t len, bool exp_text)
{
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            size_t n = macro_expand_len(s + i, len - i, exp_text);
            if (!n)
                return -1;
            i += n;
        } else if ((c >= 0x21 && c <= 0x7e) || (exp_text && c == ' ')) {
            i++;
        } else {
            return -1;
        }
    }
    return 0;
}

/* RFC 7208 toplabel: letters, digits and hyphens, not at either end, and
 * not all digits (so that an IP address is not a domain). */
static bool toplabel_ok(const char *s, size_t len)
{
    if (len == 0 || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
        return false;
    bool alpha = false, hyphen = false;
    for (size_t i = 0; i < len; i++) {
        if (is_alpha(s[i]))
            alpha = true;
        else if (s[i] == '-')
            hyphen = true;
        else if (!is_digit(s[i]))
            return false;
    }
    return alpha || hyphen;
}

/* domain-spec = macro-string domain-end, where domain-end is a
 * macro-expand or "." toplabel ["."]. */
static bool domain_spec_ok(const char *s, size_t len)
{
    if (len == 0 || spf_macro_check(s, len, false) < 0)
        return false;
    /* ends with a macro-expand: find the expand that ends there */
    for (size_t i = 0; i < len;) {
        if (s[i] == '%') {
            size_t n = macro_expand_len(s + i, len - i, false);
            if (i + n == len)
                return true;
            i += n;
        } else {
            i++;
        }
    }
    size_t end = len;
    if (s[end - 1] == '.')
        end--;
    size_t dot = end;
    while (dot > 0 && s[dot - 1] != '.')
        dot--;
    if (dot == 0)
        return false; /* no "." before the top label */
    return toplabel_ok(s + dot, end - dot);
}

/* "/N" with N in 0..max, no leading zero. Returns -1 if malformed. */
static int parse_cidr(const char *s, size_t len, unsigned max, unsigned *out)
{
    if (len < 2 || len > 4 || s[0] != '/')
        return -1;
    if (s[1] == '0' && len > 2)
        return -1;
    unsigned v = 0;
    for (size_t i = 1; i < len; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* Split a trailing dual-cidr-length ("/24", "//64", "/24//64") off s.
 * Returns the length left, or -1 if a cidr is malformed. */
static long split_dual_cidr(const char *s, size_t len, struct spf_term *t)
{
    size_t end = len;
    /* "//N" at the end */
    size_t i = end;
    while (i > 0 && is_digit(s[i - 1]))
        i--;
    if (i >= 2 && i < end && s[i - 1] == '/' && s[i - 2] == '/') {
        if (parse_cidr(s + i - 1, end - i + 1, 128, &t->cidr6) < 0)
            return -1;
        end = i - 2;
    }
    i = end;
    while (i > 0 && is_digit(s[i - 1]))
        i--;
    if (i >= 1 && i < end && s[i - 1] == '/') {
        if (parse_cidr(s + i - 1, end - i + 1, 32, &t->cidr4) < 0)
            return -1;
        end = i - 1;
    }
    return (long)end;
}

static const struct {
    const char *name;
    enum spf_mech mech;
} mechs[] = {
    {"all", SPF_MECH_ALL}, {"include", SPF_MECH_INCLUDE}, {"a", SPF_MECH_A},
    {"mx", SPF_MECH_MX},   {"ptr", SPF_MECH_PTR},         {"ip4", SPF_MECH_IP4},
    {"ip6", SPF_MECH_IP6}, {"exists", SPF_MECH_EXISTS},
};

static int parse_mechanism(const char *s, size_t len, struct spf_term *t, const char **error_r)
{
    size_t i = 0;
    t->qualifier = '+';
    if (len && strchr("+-~?", s[0])) {
        t->qualifier = s[0];
        i = 1;
    }
    size_t name = i;
    while (i < len && is_alnum(s[i]))
        i++;
    bool found = false;
    for (size_t m = 0; m < sizeof(mechs) / sizeof(mechs[0]); m++)
        if (strlen(mechs[m].name) == i - name && str_eqn_ci(s + name, mechs[m].name, i - name)) {
            t->mech = mechs[m].mech;
            found = true;
        }
    if (!found) {
        *error_r = "unknown mechanism";
        return -1;
    }
    const char *rest = s + i;
    size_t rlen = len - i;
    t->cidr4 = 32;
    t->cidr6 = 128;
    switch (t->mech) {
    case SPF_MECH_ALL:
        if (rlen) {
            *error_r = "'all' takes no argument";
            return -1;
        }
        return 0;
    case SPF_MECH_INCLUDE:
    case SPF_MECH_EXISTS:
    case SPF_MECH_PTR:
        if (rlen == 0 && t->mech == SPF_MECH_PTR)
            return 0;
        if (rlen < 2 || rest[0] != ':' || !domain_spec_ok(rest + 1, rlen - 1)) {
            *error_r = "bad or missing domain";
            return -1;
        }
        t->domain = rest + 1;
        t->domain_len = rlen - 1;
        return 0;
    case SPF_MECH_A:
    case SPF_MECH_MX: {
        long left = split_dual_cidr(rest, rlen, t);
        if (left < 0) {
            *error_r = "bad CIDR length";
            return -1;
        }
        if (left == 0)
            return 0;
        if (rest[0] != ':' || !domain_spec_ok(rest + 1, (size_t)left - 1)) {
            *error_r = "bad domain";
            return -1;
        }
        t->domain = rest + 1;
        t->domain_len = (size_t)left - 1;
        return 0;
    }
    case SPF_MECH_IP4:
    case SPF_MECH_IP6: {
        bool v6 = t->mech == SPF_MECH_IP6;
        if (rlen < 2 || rest[0] != ':') {
            *error_r = "missing address";
            return -1;
        }
        const char *slash = memchr(rest + 1, '/', rlen - 1);
        size_t alen = slash ? (size_t)(slash - rest - 1) : rlen - 1;
        unsigned prefix = v6 ? 128 : 32;
        if (slash && parse_cidr(slash, rlen - 1 - alen, prefix, &prefix) < 0) {
            *error_r = "bad CIDR length";
            return -1;
        }
        char addr[64];
        if (alen == 0 || alen >= sizeof(addr)) {
            *error_r = "bad address";
            return -1;
        }
        memcpy(addr, rest + 1, alen);
        addr[alen] = '\0';
        if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, t->ip) != 1) {
            *error_r = "bad address";
            return -1;
        }
        t->cidr4 = t->cidr6 = prefix;
        return 0;
    }
    }
    return -1;
}

int spf_record_parse(const char *text, size_t len, struct spf_record *out, const char **error_r)
{
    memset(out, 0, sizeof(*out));
    if (!spf_record_is_spf(text, len)) {
        *error_r = "not an SPF record";
        return -1;
    }
    size_t i = 6;
    while (i < len) {
        if (text[i] == ' ') {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && text[i] != ' ')
            i++;
        const char *term = text + start;
        size_t tlen = i - start;
        /* modifier: name "=" macro-string; name = ALPHA *(ALPHA/DIGIT/-/_/.) */
        size_t n = 0;
        if (is_alpha(term[0])) {
            n = 1;
            while (n < tlen && (is_alnum(term[n]) || strchr("-_.", term[n])) && term[n] != '\0')
                n++;
        }
        if (n && n < tlen && term[n] == '=') {
            const char *val = term + n + 1;
            size_t vlen = tlen - n - 1;
            bool redirect = n == 8 && str_eqn_ci(term, "redirect", 8);
            bool exp = n == 3 && str_eqn_ci(term, "exp", 3);
            if (redirect || exp) {
                if ((redirect && out->redirect) || (exp && out->exp)) {
                    *error_r = redirect ? "two redirect= modifiers" : "two exp= modifiers";
                    return -1;
                }
                if (!domain_spec_ok(val, vlen)) {
                    *error_r = redirect ? "bad redirect= domain" : "bad exp= domain";
                    return -1;
                }
                if (redirect) {
                    out->redirect = val;
                    out->redirect_len = vlen;
                } else {
                    out->exp = val;
                    out->exp_len = vlen;
                }
            } else if (spf_macro_check(val, vlen, true) < 0) {
                *error_r = "bad modifier value";
                return -1;
            }
            continue;
        }
        if (out->n == SPF_MAX_TERMS) {
            *error_r = "too many terms";
            return -1;
        }
        struct spf_term *t = &out->terms[out->n];
        if (parse_mechanism(term, tlen, t, error_r) < 0)
            return -1;
        t->text = term;
        t->text_len = tlen;
        if (t->mech == SPF_MECH_ALL)
            out->has_all = true;
        out->n++;
    }
    return 0;
}

bool spf_macro_uses_ptr(const char *s, size_t len)
{
    for (size_t i = 0; i + 2 < len; i++)
        if (s[i] == '%' && s[i + 1] == '{' && (s[i + 2] == 'p' || s[i + 2] == 'P'))
            return true;
    return false;
}

/* Append v, URL-escaped if the macro letter was upper case (RFC 7208
 * 7.3: unreserved characters stay). */
static void put_value(struct buf *out, const char *v, size_t len, bool escape)
{
    for (size_t i = 0; i < len; i++) {
        char c = v[i];
        if (!escape || is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
            buf_append_char(out, c);
        else
            buf_printf(out, "%%%02X", (unsigned char)c);
    }
}

#define MACRO_PARTS_MAX 128

static int expand_one(const char *m, size_t mlen, const struct spf_macro_vars *v, struct buf *out)
{
    /* m is "%{" letter digits [r] delimiters "}" */
    char letter = m[2];
    bool upper = letter >= 'A' && letter <= 'Z';
    char num[32];
    const char *value = NULL;
    switch (str_lower_char(letter)) {
    case 's':
        value = v->sender;
        break;
    case 'l':
        value = v->local;
        break;
    case 'o':
        value = v->sender_domain;
        break;
    case 'd':
        value = v->domain;
        break;
    case 'i':
        value = v->ip;
        break;
    case 'p':
        value = v->ptr_name ? v->ptr_name : "unknown";
        break;
    case 'v':
        value = v->ipv6 ? "ip6" : "in-addr";
        break;
    case 'h':
        value = v->helo;
        break;
    case 'c':
        value = v->client_ip;
        break;
    case 'r':
        value = v->receiver ? v->receiver : "unknown";
        break;
    case 't':
        snprintf(num, sizeof(num), "%lld", v->now);
        value = num;
        break;
    }
    if (!value)
        value = "";
    size_t i = 3;
    unsigned keep = 0;
    bool has_digits = false;
    while (is_digit(m[i])) {
        has_digits = true;
        if (keep < 1000)
            keep = keep * 10 + (unsigned)(m[i] - '0');
        i++;
    }
    if (has_digits && keep == 0)
        return -1; /* RFC 7208 7.3: the number must be nonzero */
    bool reverse = false;
    if (m[i] == 'r' || m[i] == 'R') {
        reverse = true;
        i++;
    }
    const char *delims = m + i;
    size_t ndelims = mlen - 1 - i;
    if (!has_digits && !reverse && ndelims == 0) {
        put_value(out, value, strlen(value), upper);
        return 0;
    }
    /* split on the delimiters (default "."), reverse, keep the rightmost */
    const char *part[MACRO_PARTS_MAX];
    size_t plen[MACRO_PARTS_MAX];
    size_t n = 0;
    const char *p = value;
    for (;;) {
        const char *q = p;
        while (*q && !(ndelims ? memchr(delims, *q, ndelims) != NULL : *q == '.'))
            q++;
        if (n == MACRO_PARTS_MAX)
            return -1;
        part[n] = p;
        plen[n++] = (size_t)(q - p);
        if (!*q)
            break;
        p = q + 1;
    }
    if (reverse)
        for (size_t a = 0, b = n - 1; a < b; a++, b--) {
            const char *tp = part[a];
            part[a] = part[b];
            part[b] = tp;
            size_t tl = plen[a];
            plen[a] = plen[b];
            plen[b] = tl;
        }
    size_t first = has_digits && keep < n ? n - keep : 0;
    for (size_t k = first; k < n; k++) {
        if (k > first)
            buf_append_char(out, '.');
        put_value(out, part[k], plen[k], upper);
    }
    return 0;
}

int spf_macro_expand(const char *s, size_t len, const struct spf_macro_vars *v, bool exp_text,
                     struct buf *out)
{
    if (spf_macro_check(s, len, exp_text) < 0)
        return -1;
    for (size_t i = 0; i < len;) {
        if (s[i] != '%') {
            buf_append_char(out, s[i]);
            i++;
            continue;
        }
        size_t n = macro_expand_len(s + i, len - i, exp_text);
        if (!n)
            return -1;
        if (s[i + 1] == '%')
            buf_append_char(out, '%');
        else if (s[i + 1] == '_')
            buf_append_char(out, ' ');
        else if (s[i + 1] == '-')
            buf_append_str(out, "%20");
        else if (expand_one(s + i, n, v, out) < 0)
            return -1;
        i += n;
    }
    return 0;
}
