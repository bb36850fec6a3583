/* dnsbl-sites: parsing of the postscreen_dnsbl_sites syntax. */
#include "policy/dnsbl-sites.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"

#define ERROR_MAX 1024 /* bytes of an error message */
#define SHOWN_MAX 100  /* bytes of the entry quoted in it */

/* Why an entry was refused, with the entry made printable. */
static int fail(char **error_r, const char *entry, size_t n, const char *why)
{
    char shown[SHOWN_MAX * 4 + 1];
    struct buf b;
    buf_init(&b, ERROR_MAX);
    str_printable(shown, sizeof(shown), entry, n > SHOWN_MAX ? SHOWN_MAX : n);
    if (buf_printf(&b, "dnsbl site \"%s\": %s", shown, why) != 0) {
        buf_reset(&b);
        (void)buf_append_str(&b, why);
    }
    *error_r = buf_steal(&b);
    return -1;
}

static bool is_sep(char c)
{
    return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_label_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Check and copy a domain (a trailing dot is dropped). NULL or the reason. */
static const char *parse_domain(const char *s, size_t n, char *out)
{
    if (n > 0 && s[n - 1] == '.')
        n--;
    if (n == 0)
        return "no domain";
    if (n > DNSBL_DOMAIN_MAX)
        return "domain too long";
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (label == 0)
                return "empty label in the domain";
            label = 0;
            continue;
        }
        if (!is_label_char(s[i]))
            return "bad character in the domain";
        if (++label > DNSBL_LABEL_MAX)
            return "label too long in the domain";
    }
    if (label == 0)
        return "empty label in the domain";
    memcpy(out, s, n);
    out[n] = '\0';
    str_lower(out);
    return NULL;
}

/* A number 0..255 of 1 to 3 digits at s[*i]. */
static int parse_octet(const char *s, size_t n, size_t *i, unsigned *v)
{
    size_t start = *i;
    while (*i < n && *i - start < 4 && s[*i] >= '0' && s[*i] <= '9')
        (*i)++;
    unsigned long long x;
    if (*i - start > 3 || str_to_u64(s + start, *i - start, 255, &x) != 0)
        return -1;
    *v = (unsigned)x;
    return 0;
}

static void set_bits(uint64_t set[4], unsigned lo, unsigned hi)
{
    for (unsigned v = lo; v <= hi; v++)
        set[v / 64] |= (uint64_t)1 << (v % 64);
}

/* One item of a filter: a number or [a..b;c;...]. NULL or the reason. */
static const char *parse_filter_octet(const char *s, size_t n, size_t *i, uint64_t set[4])
{
    unsigned lo;
    unsigned hi;
    if (*i < n && s[*i] != '[') {
        if (parse_octet(s, n, i, &lo) != 0)
            return "bad number in the filter";
        set_bits(set, lo, lo);
        return NULL;
    }
    if (*i >= n)
        return "filter too short";
    (*i)++;
    for (;;) {
        if (parse_octet(s, n, i, &lo) != 0)
            return "bad number in a filter list";
        hi = lo;
        if (*i + 1 < n && s[*i] == '.' && s[*i + 1] == '.') {
            *i += 2;
            if (parse_octet(s, n, i, &hi) != 0)
                return "bad number in a filter range";
            if (hi < lo)
                return "filter range goes down";
        }
        set_bits(set, lo, hi);
        if (*i < n && s[*i] == ';') {
            (*i)++;
            continue;
        }
        if (*i < n && s[*i] == ']') {
            (*i)++;
            return NULL;
        }
        return "unterminated filter list";
    }
}

static const char *parse_filter(const char *s, size_t n, struct dnsbl_site *site)
{
    size_t i = 0;
    for (int k = 0; k < 4; k++) {
        if (k > 0) {
            if (i >= n || s[i] != '.')
                return "the filter needs four octets d.d.d.d";
            i++;
        }
        const char *why = parse_filter_octet(s, n, &i, site->filter[k]);
        if (why != NULL)
            return why;
    }
    if (i != n)
        return "junk after the filter";
    site->has_filter = true;
    return NULL;
}

static const char *parse_weight(const char *s, size_t n, int *weight)
{
    bool neg = false;
    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s++;
        n--;
    }
    unsigned long long w;
    if (str_to_u64(s, n, DNSBL_WEIGHT_MAX, &w) != 0)
        return "bad weight (an integer from -1000 to 1000)";
    *weight = neg ? -(int)w : (int)w;
    return NULL;
}

/* One entry s[0..n) into *site. NULL or the reason. */
static const char *parse_entry(const char *s, size_t n, struct dnsbl_site *site)
{
    if (n > DNSBL_ENTRY_MAX)
        return "entry too long";
    memset(site, 0, sizeof(*site));
    site->weight = 1;
    const char *star = memchr(s, '*', n);
    size_t end = star ? (size_t)(star - s) : n;
    const char *eq = memchr(s, '=', end);
    size_t dlen = eq ? (size_t)(eq - s) : end;
    const char *why = parse_domain(s, dlen, site->domain);
    if (why == NULL && eq != NULL)
        why = parse_filter(eq + 1, end - dlen - 1, site);
    if (why == NULL && star != NULL)
        why = parse_weight(star + 1, n - end - 1, &site->weight);
    return why;
}

/* Fill the distinct-domain table and each site's index into it. */
static void index_domains(struct dnsbl_sites *out)
{
    out->n_domains = 0;
    for (size_t i = 0; i < out->n; i++) {
        size_t d = 0;
        while (d < out->n_domains && strcmp(out->domains[d], out->site[i].domain) != 0)
            d++;
        if (d == out->n_domains)
            out->domains[out->n_domains++] = out->site[i].domain;
        out->site[i].domain_index = d;
    }
}

int dnsbl_sites_parse(const char *text, size_t len, struct dnsbl_sites *out, char **error_r)
{
    memset(out, 0, sizeof(*out));
    *error_r = NULL;
    if (len > DNSBL_SETTING_MAX)
        return fail(error_r, "", 0, "setting too long");
    size_t i = 0;
    while (i < len) {
        if (is_sep(text[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && !is_sep(text[i]))
            i++;
        if (out->n == DNSBL_SITES_MAX) {
            memset(out, 0, sizeof(*out));
            return fail(error_r, text + start, i - start, "too many sites (at most 32)");
        }
        const char *why = parse_entry(text + start, i - start, &out->site[out->n]);
        if (why != NULL) {
            memset(out, 0, sizeof(*out));
            return fail(error_r, text + start, i - start, why);
        }
        out->n++;
    }
    index_domains(out);
    return 0;
}

void dnsbl_sites_copy(struct dnsbl_sites *dst, const struct dnsbl_sites *src)
{
    *dst = *src;
    for (size_t d = 0; d < dst->n_domains; d++)
        dst->domains[d] = NULL;
    index_domains(dst);
}

bool dnsbl_site_filter_match(const struct dnsbl_site *site, uint32_t a)
{
    if (!site->has_filter)
        return true;
    for (int k = 0; k < 4; k++) {
        unsigned v = (a >> (24 - 8 * k)) & 0xff;
        if (!(site->filter[k][v / 64] & ((uint64_t)1 << (v % 64))))
            return false;
    }
    return true;
}
