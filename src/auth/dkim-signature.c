#include "dkim-signature.h"

#include <string.h>

#include "lib/str.h"

/* Copy a tag value into dst (lowercased if lower), if it fits and is
 * plain printable ASCII. Returns 0 or -1. */
static int copy_value(char *dst, size_t size, const char *s, size_t n, bool lower)
{
    if (n >= size)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f)
            return -1;
        dst[i] = lower ? str_lower_char((char)c) : (char)c;
    }
    dst[n] = '\0';
    return 0;
}

/* A domain name as DKIM uses it (d=, s=, the domain of i=): dot-separated
 * labels of letters, digits, "-" and "_", none empty. */
bool dkim_name_ok(const char *s)
{
    size_t label = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label > 0;
}

/* ftext of RFC 5322: the characters of a header field name. */
static bool is_ftext(unsigned char c)
{
    return c >= 33 && c <= 126 && c != ':';
}

/* Split h= into names: field names separated by ":" with optional FWS. */
static int parse_names(const struct dkim_tag *h, struct dkim_signature *sig)
{
    const char *p = h->value, *end = h->value + h->value_len;
    sig->name_count = 0;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
            p++;
        const char *name = p;
        while (p < end && is_ftext((unsigned char)*p))
            p++;
        if (p == name || sig->name_count == DKIM_SIG_NAMES_MAX)
            return -1;
        sig->names[sig->name_count].p = name;
        sig->names[sig->name_count].n = (size_t)(p - name);
        sig->name_count++;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
            p++;
        if (p == end)
            return 0;
        if (*p != ':')
            return -1;
        p++;
    }
}

/* A decimal number of at most digits digits. */
static int parse_number(const struct dkim_tag *t, size_t digits, uint64_t *out)
{
    unsigned long long v;
    if (t->value_len == 0 || t->value_len > digits ||
        str_to_u64(t->value, t->value_len, ~0ULL, &v) < 0)
        return -1;
    *out = v;
    return 0;
}

enum dkim_status dkim_signature_parse(const char *value, size_t n, time_t now, bool allow_l,
                                      struct dkim_signature *sig, const char **reason_r)
{
    memset(sig, 0, sizeof(*sig));
    const char *err;
    if (dkim_tags_parse(value, n, &sig->tags, &err) < 0) {
        *reason_r = "signature syntax error";
        return DKIM_NEUTRAL;
    }
    const struct dkim_tag_list *tl = &sig->tags;
    const struct dkim_tag *v = dkim_tags_find(tl, "v"), *a = dkim_tags_find(tl, "a"),
                          *b = dkim_tags_find(tl, "b"), *bh = dkim_tags_find(tl, "bh"),
                          *d = dkim_tags_find(tl, "d"), *h = dkim_tags_find(tl, "h"),
                          *s = dkim_tags_find(tl, "s"), *c = dkim_tags_find(tl, "c"),
                          *i = dkim_tags_find(tl, "i"), *l = dkim_tags_find(tl, "l"),
                          *q = dkim_tags_find(tl, "q"), *t = dkim_tags_find(tl, "t"),
                          *x = dkim_tags_find(tl, "x");
    /* What an Authentication-Results line shows, first. */
    if (d && copy_value(sig->domain, sizeof(sig->domain), d->value, d->value_len, true) < 0)
        sig->domain[0] = '\0';
    if (s && copy_value(sig->selector, sizeof(sig->selector), s->value, s->value_len, true) < 0)
        sig->selector[0] = '\0';
    if (a && copy_value(sig->algorithm, sizeof(sig->algorithm), a->value, a->value_len, false) < 0)
        sig->algorithm[0] = '\0';
    if (b) {
        size_t k = 0;
        for (size_t j = 0; j < b->value_len && k < 8; j++) {
            char ch = b->value[j];
            if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n')
                sig->header_b[k++] = ch;
        }
        sig->header_b[k] = '\0';
    }
    if (!v || !a || !b || !bh || !d || !h || !s) {
        *reason_r = "signature lacks a required tag";
        return DKIM_NEUTRAL;
    }
    if (!dkim_tag_is(v, "1")) {
        *reason_r = "unsupported signature version";
        return DKIM_NEUTRAL;
    }
    if (dkim_tag_is_ci(a, "rsa-sha256")) {
        sig->alg = DKIM_ALG_RSA_SHA256;
    } else if (dkim_tag_is_ci(a, "ed25519-sha256")) {
        sig->alg = DKIM_ALG_ED25519_SHA256;
    } else if (dkim_tag_is_ci(a, "rsa-sha1")) {
        *reason_r = "rsa-sha1 is not accepted (RFC 8301)";
        return DKIM_FAIL;
    } else {
        *reason_r = "unsupported signature algorithm";
        return DKIM_NEUTRAL;
    }
    sig->header_canon = sig->body_canon = DKIM_CANON_SIMPLE;
    if (c && dkim_canon_parse(c->value, c->value_len, &sig->header_canon, &sig->body_canon) < 0) {
        *reason_r = "unsupported canonicalization";
        return DKIM_NEUTRAL;
    }
    if (!sig->domain[0] || !dkim_name_ok(sig->domain)) {
        *reason_r = "bad d= domain";
        return DKIM_NEUTRAL;
    }
    if (!sig->selector[0] || !dkim_name_ok(sig->selector)) {
        *reason_r = "bad s= selector";
        return DKIM_NEUTRAL;
    }
    if (parse_names(h, sig) < 0) {
        *reason_r = "bad h= list";
        return DKIM_NEUTRAL;
    }
    bool from = false;
    for (size_t k = 0; k < sig->name_count; k++)
        from = from || (sig->names[k].n == 4 && str_eqn_ci(sig->names[k].p, "from", 4));
    if (!from) {
        *reason_r = "From is not signed";
        return DKIM_NEUTRAL;
    }
    if (i) {
        if (copy_value(sig->identity, sizeof(sig->identity), i->value, i->value_len, false) < 0) {
            *reason_r = "bad i= identity";
            return DKIM_NEUTRAL;
        }
        const char *at = strrchr(sig->identity, '@');
        if (!at ||
            copy_value(sig->i_domain, sizeof(sig->i_domain), at + 1, strlen(at + 1), true) < 0 ||
            !dkim_name_ok(sig->i_domain)) {
            *reason_r = "bad i= identity";
            return DKIM_NEUTRAL;
        }
        size_t il = strlen(sig->i_domain), dl = strlen(sig->domain);
        if (!(il == dl && strcmp(sig->i_domain, sig->domain) == 0) &&
            !(il > dl && sig->i_domain[il - dl - 1] == '.' &&
              strcmp(sig->i_domain + il - dl, sig->domain) == 0)) {
            *reason_r = "i= is not within d=";
            return DKIM_NEUTRAL;
        }
    } else {
        sig->identity[0] = '@';
        str_copy(sig->identity + 1, sizeof(sig->identity) - 1, sig->domain);
        str_copy(sig->i_domain, sizeof(sig->i_domain), sig->domain);
    }
    if (q) {
        bool dns = false;
        const char *p = q->value, *end = q->value + q->value_len;
        while (p < end) {
            const char *colon = memchr(p, ':', (size_t)(end - p));
            const char *e = colon ? colon : end;
            /* "dns/txt" possibly followed by nothing else */
            while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
                p++;
            const char *f = e;
            while (f > p && (f[-1] == ' ' || f[-1] == '\t' || f[-1] == '\r' || f[-1] == '\n'))
                f--;
            if (f - p == 7 && str_eqn_ci(p, "dns/txt", 7))
                dns = true;
            p = colon ? colon + 1 : end;
        }
        if (!dns) {
            *reason_r = "unsupported query method";
            return DKIM_NEUTRAL;
        }
    }
    if (l) {
        if (parse_number(l, 76, &sig->l) < 0) {
            *reason_r = "bad l= length";
            return DKIM_NEUTRAL;
        }
        sig->has_l = true;
    }
    if (t) {
        if (parse_number(t, 12, &sig->t) < 0) {
            *reason_r = "bad t= timestamp";
            return DKIM_NEUTRAL;
        }
        sig->has_t = true;
    }
    if (x) {
        if (parse_number(x, 12, &sig->x) < 0) {
            *reason_r = "bad x= expiry";
            return DKIM_NEUTRAL;
        }
        sig->has_x = true;
    }
    if (sig->has_t && sig->has_x && sig->x < sig->t) {
        *reason_r = "x= is before t=";
        return DKIM_NEUTRAL;
    }
    if (dkim_base64_decode(bh->value, bh->value_len, sig->bh, sizeof(sig->bh)) != 32) {
        *reason_r = "bad bh= body hash";
        return DKIM_NEUTRAL;
    }
    long blen = dkim_base64_decode(b->value, b->value_len, sig->b, sizeof(sig->b));
    if (blen <= 0) {
        *reason_r = "bad b= signature data";
        return DKIM_NEUTRAL;
    }
    sig->b_len = (size_t)blen;
    sig->b_tag = b;
    if (sig->has_x && now >= 0 && (uint64_t)now > sig->x) {
        *reason_r = "signature expired";
        return DKIM_FAIL;
    }
    if (sig->has_l && !allow_l) {
        *reason_r = "signatures with l= are not accepted";
        return DKIM_POLICY;
    }
    return DKIM_PASS;
}
