#include "dmarc-record.h"

#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"

/* A piece of the record text: s[0..n). */
struct span {
    const char *s;
    size_t n;
};

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Drop whitespace at both ends of a span. */
static struct span trim(struct span v)
{
    while (v.n > 0 && is_wsp(v.s[0])) {
        v.s++;
        v.n--;
    }
    while (v.n > 0 && is_wsp(v.s[v.n - 1]))
        v.n--;
    return v;
}

/* True if the span is exactly the keyword kw, ignoring ASCII case. */
static bool span_is(struct span v, const char *kw)
{
    return strlen(kw) == v.n && str_eqn_ci(v.s, kw, v.n);
}

/* Cut the next piece up to sep (or the end) off *rest; false when *rest
 * was already consumed. */
static bool next_piece(struct span *rest, char sep, struct span *piece, bool *done)
{
    if (*done)
        return false;
    const char *p = memchr(rest->s, sep, rest->n);
    if (!p) {
        *piece = *rest;
        rest->s += rest->n;
        rest->n = 0;
        *done = true;
        return true;
    }
    piece->s = rest->s;
    piece->n = (size_t)(p - rest->s);
    rest->n -= piece->n + 1;
    rest->s = p + 1;
    return true;
}

bool dmarc_record_is_dmarc(const char *txt, size_t len)
{
    size_t i = 0;
    while (i < len && is_wsp(txt[i]))
        i++;
    if (i >= len || (txt[i] != 'v' && txt[i] != 'V'))
        return false;
    i++;
    while (i < len && is_wsp(txt[i]))
        i++;
    if (i >= len || txt[i] != '=')
        return false;
    i++;
    while (i < len && is_wsp(txt[i]))
        i++;
    if (len - i < 6 || memcmp(txt + i, "DMARC1", 6) != 0)
        return false;
    i += 6;
    while (i < len && is_wsp(txt[i]))
        i++;
    return i == len || txt[i] == ';';
}

void dmarc_record_init(struct dmarc_record *r)
{
    memset(r, 0, sizeof(*r));
    r->p = DMARC_POLICY_NONE;
    r->sp = DMARC_POLICY_NONE;
    r->pct = 100;
    r->adkim = DMARC_ALIGN_RELAXED;
    r->aspf = DMARC_ALIGN_RELAXED;
    r->fo = DMARC_FO_0;
    r->rf = DMARC_RF_AFRF;
    r->ri = 86400;
}

void dmarc_record_free(struct dmarc_record *r)
{
    for (size_t i = 0; i < r->rua_count; i++)
        x_free(&r->rua[i].uri);
    for (size_t i = 0; i < r->ruf_count; i++)
        x_free(&r->ruf[i].uri);
    dmarc_record_init(r);
}

/* p= and sp= values. */
static int parse_policy(struct span v, enum dmarc_policy *out)
{
    if (span_is(v, "none"))
        *out = DMARC_POLICY_NONE;
    else if (span_is(v, "quarantine"))
        *out = DMARC_POLICY_QUARANTINE;
    else if (span_is(v, "reject"))
        *out = DMARC_POLICY_REJECT;
    else
        return -1;
    return 0;
}

/* adkim= and aspf= values. */
static int parse_align(struct span v, enum dmarc_align *out)
{
    if (span_is(v, "r"))
        *out = DMARC_ALIGN_RELAXED;
    else if (span_is(v, "s"))
        *out = DMARC_ALIGN_STRICT;
    else
        return -1;
    return 0;
}

/* A decimal number of 1 to maxdigits digits, at most max. */
static int parse_number(struct span v, size_t maxdigits, unsigned long long max,
                        unsigned long long *out)
{
    if (v.n == 0 || v.n > maxdigits)
        return -1;
    return str_to_u64(v.s, v.n, max, out);
}

/* fo=: 0 / 1 / d / s separated by ':'. */
static int parse_fo(struct span v, unsigned *out)
{
    unsigned bits = 0;
    struct span rest = v, piece;
    bool done = false;
    while (next_piece(&rest, ':', &piece, &done)) {
        piece = trim(piece);
        if (span_is(piece, "0"))
            bits |= DMARC_FO_0;
        else if (span_is(piece, "1"))
            bits |= DMARC_FO_1;
        else if (span_is(piece, "d"))
            bits |= DMARC_FO_D;
        else if (span_is(piece, "s"))
            bits |= DMARC_FO_S;
        else
            return -1;
    }
    *out = bits;
    return 0;
}

/* rf=: report formats separated by ':'. RFC 7489 6.3 lets a receiver
 * ignore the whole record when a format is not registered; we do. */
static int parse_rf(struct span v, unsigned *out)
{
    unsigned bits = 0;
    struct span rest = v, piece;
    bool done = false;
    while (next_piece(&rest, ':', &piece, &done)) {
        piece = trim(piece);
        if (span_is(piece, "afrf"))
            bits |= DMARC_RF_AFRF;
        else
            return -1;
    }
    *out = bits;
    return 0;
}

/* A character allowed in a URI (RFC 3986 unreserved / reserved / '%'). */
static bool is_uri_char(char c)
{
    if (is_alpha(c) || is_digit(c))
        return true;
    return c != '\0' && strchr("-._~:/?#[]@!$&'()*+,;=%", c) != NULL;
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* True if the span is an absolute URI: scheme ":" and at least one more
 * character, percent signs followed by two hex digits. */
static bool uri_valid(struct span u)
{
    size_t i = 0;
    if (u.n == 0 || !is_alpha(u.s[0]))
        return false;
    for (i = 1; i < u.n && u.s[i] != ':'; i++) {
        char c = u.s[i];
        if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
            return false;
    }
    if (i >= u.n || i + 1 >= u.n)
        return false;
    for (i++; i < u.n; i++) {
        if (!is_uri_char(u.s[i]))
            return false;
        if (u.s[i] == '%' && (i + 2 >= u.n || !is_hex(u.s[i + 1]) || !is_hex(u.s[i + 2])))
            return false;
    }
    return true;
}

/* One dmarc-uri: URI ["!" 1*DIGIT ["k" / "m" / "g" / "t"]]. Returns 0 and
 * fills uri/size, or -1 if it is not one. */
static int parse_one_uri(struct span v, struct span *uri, unsigned long long *size)
{
    const char *bang = memchr(v.s, '!', v.n);
    *size = 0;
    uri->s = v.s;
    uri->n = bang ? (size_t)(bang - v.s) : v.n;
    if (!uri_valid(*uri))
        return -1;
    if (!bang)
        return 0;
    struct span num = {bang + 1, v.n - uri->n - 1};
    unsigned long long mult = 1;
    if (num.n > 0 && !is_digit(num.s[num.n - 1])) {
        switch (str_lower_char(num.s[num.n - 1])) {
        case 'k':
            mult = 1ULL << 10;
            break;
        case 'm':
            mult = 1ULL << 20;
            break;
        case 'g':
            mult = 1ULL << 30;
            break;
        case 't':
            mult = 1ULL << 40;
            break;
        default:
            return -1;
        }
        num.n--;
    }
    unsigned long long n;
    if (parse_number(num, 20, (1ULL << 63) / mult, &n) < 0)
        return -1;
    *size = n * mult;
    return 0;
}

/* rua= / ruf=: URIs separated by ','. Invalid ones are dropped; the
 * first DMARC_RECORD_URIS_MAX valid ones are kept. */
static void parse_uris(struct span v, struct dmarc_uri *list, size_t *count)
{
    struct span rest = v, piece;
    bool done = false;
    while (next_piece(&rest, ',', &piece, &done)) {
        struct span uri;
        unsigned long long size;
        if (parse_one_uri(trim(piece), &uri, &size) < 0)
            continue;
        if (*count >= DMARC_RECORD_URIS_MAX)
            continue;
        list[*count].uri = xstrndup(uri.s, uri.n);
        list[*count].max_size = size;
        (*count)++;
    }
}

/* A tag name: ALPHA *(ALPHA / DIGIT / "_"). */
static bool tag_name_valid(struct span n)
{
    if (n.n == 0 || !is_alpha(n.s[0]))
        return false;
    for (size_t i = 1; i < n.n; i++)
        if (!is_alpha(n.s[i]) && !is_digit(n.s[i]) && n.s[i] != '_')
            return false;
    return true;
}

/* A tag value: printable ASCII but ';', with inner whitespace. */
static bool tag_value_valid(struct span v)
{
    for (size_t i = 0; i < v.n; i++) {
        unsigned char c = (unsigned char)v.s[i];
        if (!is_wsp((char)c) && (c < 0x21 || c > 0x7e || c == ';'))
            return false;
    }
    return true;
}

enum {
    SEEN_P = 1 << 0,
    SEEN_SP = 1 << 1,
    SEEN_RUA = 1 << 2,
    SEEN_RUF = 1 << 3,
    SEEN_ADKIM = 1 << 4,
    SEEN_ASPF = 1 << 5,
    SEEN_PCT = 1 << 6,
    SEEN_FO = 1 << 7,
    SEEN_RF = 1 << 8,
    SEEN_RI = 1 << 9,
    SEEN_V = 1 << 10,
};

/* Fail the parse: reset r and say why. */
static enum dmarc_record_status fail(struct dmarc_record *r, enum dmarc_record_status st,
                                     const char *why, const char **error_r)
{
    dmarc_record_free(r);
    if (error_r)
        *error_r = why;
    return st;
}

enum dmarc_record_status dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *r,
                                            const char **error_r)
{
    dmarc_record_free(r);
    struct span all = trim((struct span){txt, len});
    if (all.n == 0)
        return fail(r, DMARC_RECORD_EMPTY, "empty record", error_r);
    if (all.n > DMARC_RECORD_MAX)
        return fail(r, DMARC_RECORD_BAD_SYNTAX, "record too long", error_r);
    if (!dmarc_record_is_dmarc(all.s, all.n))
        return fail(r, DMARC_RECORD_BAD_VERSION, "record does not start with v=DMARC1", error_r);

    unsigned seen = 0;
    bool p_bad = false, sp_bad = false;
    struct span rest = all, piece;
    bool done = false, first = true;
    while (next_piece(&rest, ';', &piece, &done)) {
        piece = trim(piece);
        if (first) {
            first = false; /* v=DMARC1, checked above */
            seen |= SEEN_V;
            continue;
        }
        if (piece.n == 0)
            continue; /* "; ;" and a final ';' are harmless */
        const char *eq = memchr(piece.s, '=', piece.n);
        if (!eq)
            return fail(r, DMARC_RECORD_BAD_SYNTAX, "tag without '='", error_r);
        struct span name = trim((struct span){piece.s, (size_t)(eq - piece.s)});
        struct span value = trim((struct span){eq + 1, (size_t)(piece.s + piece.n - eq - 1)});
        if (!tag_name_valid(name))
            return fail(r, DMARC_RECORD_BAD_SYNTAX, "bad tag name", error_r);
        if (!tag_value_valid(value))
            return fail(r, DMARC_RECORD_BAD_SYNTAX, "bad character in a tag value", error_r);

        unsigned bit = 0;
        int bad = 0;
        unsigned long long n;
        if (span_is(name, "v")) {
            bit = SEEN_V;
        } else if (span_is(name, "p")) {
            bit = SEEN_P;
            p_bad = parse_policy(value, &r->p) < 0;
        } else if (span_is(name, "sp")) {
            bit = SEEN_SP;
            sp_bad = parse_policy(value, &r->sp) < 0;
        } else if (span_is(name, "rua")) {
            bit = SEEN_RUA;
            parse_uris(value, r->rua, &r->rua_count);
        } else if (span_is(name, "ruf")) {
            bit = SEEN_RUF;
            parse_uris(value, r->ruf, &r->ruf_count);
        } else if (span_is(name, "adkim")) {
            bit = SEEN_ADKIM;
            bad = parse_align(value, &r->adkim);
        } else if (span_is(name, "aspf")) {
            bit = SEEN_ASPF;
            bad = parse_align(value, &r->aspf);
        } else if (span_is(name, "pct")) {
            bit = SEEN_PCT;
            bad = parse_number(value, 3, 100, &n);
            if (!bad)
                r->pct = (unsigned)n;
        } else if (span_is(name, "fo")) {
            bit = SEEN_FO;
            bad = parse_fo(value, &r->fo);
        } else if (span_is(name, "rf")) {
            bit = SEEN_RF;
            bad = parse_rf(value, &r->rf);
        } else if (span_is(name, "ri")) {
            bit = SEEN_RI;
            bad = parse_number(value, 10, 0xffffffffULL, &n);
            if (!bad)
                r->ri = (unsigned long)n;
        } else {
            continue; /* unknown tags are ignored (RFC 7489 6.3) */
        }
        if (seen & bit)
            return fail(r, DMARC_RECORD_BAD_VALUE, "tag given twice", error_r);
        seen |= bit;
        if (bad)
            return fail(r, DMARC_RECORD_BAD_VALUE, "bad tag value", error_r);
    }

    if (!(seen & SEEN_P) || p_bad || sp_bad) {
        /* RFC 7489 6.6.3: with a usable rua=, act as if p=none. */
        if (r->rua_count > 0) {
            r->p = DMARC_POLICY_NONE;
            r->sp = DMARC_POLICY_NONE;
            r->sp_given = false;
            r->p_implied = true;
            return DMARC_RECORD_OK;
        }
        if (p_bad || sp_bad)
            return fail(r, DMARC_RECORD_BAD_VALUE, p_bad ? "bad p= value" : "bad sp= value",
                        error_r);
        return fail(r, DMARC_RECORD_NO_POLICY, "no p= tag", error_r);
    }
    if (seen & SEEN_SP)
        r->sp_given = true;
    else
        r->sp = r->p;
    return DMARC_RECORD_OK;
}

const char *dmarc_policy_name(enum dmarc_policy p)
{
    switch (p) {
    case DMARC_POLICY_NONE:
        return "none";
    case DMARC_POLICY_QUARANTINE:
        return "quarantine";
    case DMARC_POLICY_REJECT:
        return "reject";
    }
    return "?";
}

const char *dmarc_align_name(enum dmarc_align a)
{
    return a == DMARC_ALIGN_STRICT ? "s" : "r";
}

const char *dmarc_record_status_name(enum dmarc_record_status s)
{
    switch (s) {
    case DMARC_RECORD_OK:
        return "ok";
    case DMARC_RECORD_EMPTY:
        return "empty";
    case DMARC_RECORD_BAD_VERSION:
        return "bad-version";
    case DMARC_RECORD_BAD_SYNTAX:
        return "bad-syntax";
    case DMARC_RECORD_BAD_VALUE:
        return "bad-value";
    case DMARC_RECORD_NO_POLICY:
        return "no-policy";
    }
    return "?";
}
