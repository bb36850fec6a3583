#include "imap-search-parse.h"

#include <stdlib.h>
#include <string.h>

#include "imap/imap-fetch-parse.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* What follows a search key's name. */
enum key_arg {
    ARG_NONE,
    ARG_STRING,
    ARG_KEYWORD,
    ARG_HEADER,
    ARG_DATE,
    ARG_NUMBER,
    ARG_SET,
    ARG_MODSEQ,
    ARG_NOT,
    ARG_OR,
};

static const struct {
    const char *name;
    enum imap_search_type type;
    enum key_arg arg;
} keys[] = {
    {"ALL", IMAP_SEARCH_ALL, ARG_NONE},
    {"ANSWERED", IMAP_SEARCH_ANSWERED, ARG_NONE},
    {"BCC", IMAP_SEARCH_BCC, ARG_STRING},
    {"BEFORE", IMAP_SEARCH_BEFORE, ARG_DATE},
    {"BODY", IMAP_SEARCH_BODY, ARG_STRING},
    {"CC", IMAP_SEARCH_CC, ARG_STRING},
    {"DELETED", IMAP_SEARCH_DELETED, ARG_NONE},
    {"DRAFT", IMAP_SEARCH_DRAFT, ARG_NONE},
    {"FLAGGED", IMAP_SEARCH_FLAGGED, ARG_NONE},
    {"FROM", IMAP_SEARCH_FROM, ARG_STRING},
    {"HEADER", IMAP_SEARCH_HEADER, ARG_HEADER},
    {"KEYWORD", IMAP_SEARCH_KEYWORD, ARG_KEYWORD},
    {"LARGER", IMAP_SEARCH_LARGER, ARG_NUMBER},
    {"MODSEQ", IMAP_SEARCH_MODSEQ, ARG_MODSEQ},
    {"NEW", IMAP_SEARCH_NEW, ARG_NONE},
    {"NOT", IMAP_SEARCH_NOT, ARG_NOT},
    {"OLD", IMAP_SEARCH_OLD, ARG_NONE},
    {"ON", IMAP_SEARCH_ON, ARG_DATE},
    {"OR", IMAP_SEARCH_OR, ARG_OR},
    {"RECENT", IMAP_SEARCH_RECENT, ARG_NONE},
    {"SEEN", IMAP_SEARCH_SEEN, ARG_NONE},
    {"SENTBEFORE", IMAP_SEARCH_SENTBEFORE, ARG_DATE},
    {"SENTON", IMAP_SEARCH_SENTON, ARG_DATE},
    {"SENTSINCE", IMAP_SEARCH_SENTSINCE, ARG_DATE},
    {"SINCE", IMAP_SEARCH_SINCE, ARG_DATE},
    {"SMALLER", IMAP_SEARCH_SMALLER, ARG_NUMBER},
    {"SUBJECT", IMAP_SEARCH_SUBJECT, ARG_STRING},
    {"TEXT", IMAP_SEARCH_TEXT, ARG_STRING},
    {"TO", IMAP_SEARCH_TO, ARG_STRING},
    {"UID", IMAP_SEARCH_UID, ARG_SET},
    {"UNANSWERED", IMAP_SEARCH_UNANSWERED, ARG_NONE},
    {"UNDELETED", IMAP_SEARCH_UNDELETED, ARG_NONE},
    {"UNDRAFT", IMAP_SEARCH_UNDRAFT, ARG_NONE},
    {"UNFLAGGED", IMAP_SEARCH_UNFLAGGED, ARG_NONE},
    {"UNKEYWORD", IMAP_SEARCH_UNKEYWORD, ARG_KEYWORD},
    {"UNSEEN", IMAP_SEARCH_UNSEEN, ARG_NONE},
};

/* The state of one parse. */
struct ctx {
    const char *error;
    size_t keys;
    bool uses_modseq;
};

/* Free what a key holds (not the key itself). */
static void key_free(struct imap_search_key *k)
{
    free(k->str);
    free(k->header);
    imap_seqset_free(&k->set);
    for (size_t i = 0; i < k->count; i++)
        key_free(&k->children[i]);
    free(k->children);
    memset(k, 0, sizeof(*k));
}

void imap_search_free(struct imap_search *s)
{
    key_free(&s->root);
    memset(s, 0, sizeof(*s));
}

int imap_date_parse(const char *s, size_t len, struct imap_date *out)
{
    static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    size_t i = 0;
    int day = 0;
    while (i < len && i < 2 && s[i] >= '0' && s[i] <= '9')
        day = day * 10 + (s[i++] - '0');
    if (i == 0 || i + 9 != len || s[i] != '-' || s[i + 4] != '-')
        return -1;
    int month = 0;
    for (int m = 0; m < 12; m++)
        if (str_eqn_ci(s + i + 1, months + 3 * m, 3))
            month = m + 1;
    int year = 0;
    for (size_t k = i + 5; k < len; k++) {
        if (s[k] < '0' || s[k] > '9')
            return -1;
        year = year * 10 + (s[k] - '0');
    }
    if (month == 0 || day < 1 || day > days[month - 1])
        return -1;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month == 2 && day == 29 && !leap)
        return -1;
    out->year = year;
    out->month = month;
    out->day = day;
    return 0;
}

/* Copy an astring argument that must be valid UTF-8. */
static const char *take_string(const struct imap_arg *a, char **out, size_t *len_r)
{
    size_t len;
    const char *s = imap_arg_astring(a, &len);
    if (!s)
        return "Invalid search string";
    if (!str_utf8_valid(s, len) || memchr(s, '\0', len))
        return "Search string is not valid UTF-8";
    *out = xstrndup(s, len);
    *len_r = len;
    return NULL;
}

/* Parse a decimal atom into *out (at most max). */
static const char *take_number(const struct imap_arg *a, uint64_t max, uint64_t *out)
{
    const char *s = imap_arg_atom(a);
    unsigned long long v;
    if (!s || a->type == IMAP_ARG_NIL || str_to_u64(s, a->len, max, &v) != 0)
        return "Invalid number";
    *out = v;
    return NULL;
}

static const char *parse_key(struct ctx *c, const struct imap_arg *args, size_t count, size_t *i,
                             struct imap_search_key *k, int depth);

/* Parse keys args[0..count) into the children of k (an AND). */
static const char *parse_keys(struct ctx *c, const struct imap_arg *args, size_t count,
                              struct imap_search_key *k, int depth)
{
    size_t cap = 0;
    k->type = IMAP_SEARCH_AND;
    if (count == 0)
        return "Missing search key";
    size_t i = 0;
    while (i < count) {
        if (k->count == cap) {
            cap = cap ? cap * 2 : 4;
            k->children = xrealloc(k->children, cap * sizeof(*k->children));
        }
        struct imap_search_key *child = &k->children[k->count++];
        memset(child, 0, sizeof(*child));
        const char *e = parse_key(c, args, count, &i, child, depth);
        if (e)
            return e;
    }
    return NULL;
}

/* The arguments of MODSEQ: [entry-name entry-type] number. */
static const char *parse_modseq(struct ctx *c, const struct imap_arg *args, size_t count, size_t *i,
                                struct imap_search_key *k)
{
    c->uses_modseq = true;
    if (*i < count && args[*i].type == IMAP_ARG_QUOTED) {
        const char *e = take_string(&args[*i], &k->str, &k->len);
        if (e)
            return e;
        if (k->len <= 7 || strncmp(k->str, "/flags/", 7) != 0)
            return "Invalid MODSEQ entry name";
        (*i)++;
        if (*i >= count)
            return "Missing MODSEQ entry type";
        if (imap_arg_atom_is(&args[*i], "priv"))
            k->entry_type = IMAP_MODSEQ_ENTRY_PRIV;
        else if (imap_arg_atom_is(&args[*i], "shared"))
            k->entry_type = IMAP_MODSEQ_ENTRY_SHARED;
        else if (imap_arg_atom_is(&args[*i], "all"))
            k->entry_type = IMAP_MODSEQ_ENTRY_ALL;
        else
            return "Invalid MODSEQ entry type";
        (*i)++;
    }
    if (*i >= count)
        return "Missing MODSEQ value";
    return take_number(&args[(*i)++], IMAP_MODSEQ_MAX, &k->number);
}

/* Parse one key at args[*i], advancing *i past it and its arguments. */
static const char *parse_key(struct ctx *c, const struct imap_arg *args, size_t count, size_t *i,
                             struct imap_search_key *k, int depth)
{
    if (++c->keys > IMAP_SEARCH_KEYS_MAX)
        return "Too many search keys";
    if (depth >= IMAP_SEARCH_DEPTH_MAX)
        return "Search keys nested too deeply";
    const struct imap_arg *a = &args[(*i)++];
    if (a->type == IMAP_ARG_LIST)
        return parse_keys(c, a->list, a->count, k, depth + 1);
    const char *name = imap_arg_atom(a);
    if (!name || a->type == IMAP_ARG_NIL)
        return "Invalid search key";
    size_t n;
    for (n = 0; n < sizeof(keys) / sizeof(keys[0]); n++)
        if (str_eq_ci(name, keys[n].name))
            break;
    if (n == sizeof(keys) / sizeof(keys[0])) {
        const char *e;
        k->type = IMAP_SEARCH_SEQSET;
        if (imap_seqset_parse(name, a->len, &k->set, &e) != 0)
            return imap_seqset_valid(name, a->len) ? e : "Unknown search key";
        return NULL;
    }
    k->type = keys[n].type;
    enum key_arg kind = keys[n].arg;
    if (kind == ARG_NONE)
        return NULL;
    if (*i >= count)
        return "Missing search key argument";
    const struct imap_arg *v = &args[*i];
    const char *e = NULL;
    uint64_t num;
    switch (kind) {
    case ARG_NONE:
        break;
    case ARG_STRING:
        (*i)++;
        return take_string(v, &k->str, &k->len);
    case ARG_KEYWORD:
        (*i)++;
        if ((e = take_string(v, &k->str, &k->len)) != NULL)
            return e;
        if (k->str[0] == '\\' || !imap_flag_check(k->str, k->len, &e))
            return "Invalid keyword";
        return NULL;
    case ARG_HEADER: {
        size_t hlen;
        (*i)++;
        if ((e = take_string(v, &k->header, &hlen)) != NULL)
            return e;
        if (hlen == 0)
            return "Invalid header name";
        for (size_t j = 0; j < hlen; j++)
            if ((unsigned char)k->header[j] <= 0x20 || k->header[j] >= 0x7f || k->header[j] == ':')
                return "Invalid header name";
        if (*i >= count)
            return "Missing search key argument";
        return take_string(&args[(*i)++], &k->str, &k->len);
    }
    case ARG_DATE: {
        size_t len;
        const char *s = imap_arg_astring(v, &len);
        (*i)++;
        if (!s || imap_date_parse(s, len, &k->date) != 0)
            return "Invalid date";
        return NULL;
    }
    case ARG_NUMBER:
        (*i)++;
        if ((e = take_number(v, UINT32_MAX, &num)) != NULL)
            return e;
        k->number = num;
        return NULL;
    case ARG_SET: {
        const char *s = imap_arg_atom(v);
        (*i)++;
        if (!s || v->type == IMAP_ARG_NIL)
            return "Invalid sequence set";
        return imap_seqset_parse(s, v->len, &k->set, &e) != 0 ? e : NULL;
    }
    case ARG_MODSEQ:
        return parse_modseq(c, args, count, i, k);
    case ARG_NOT:
    case ARG_OR:
        k->count = kind == ARG_NOT ? 1 : 2;
        k->children = xcalloc(k->count, sizeof(*k->children));
        for (size_t j = 0; j < k->count; j++) {
            if (*i >= count)
                return "Missing search key argument";
            if ((e = parse_key(c, args, count, i, &k->children[j], depth + 1)) != NULL)
                return e;
        }
        return NULL;
    }
    return NULL;
}

int imap_search_parse(const struct imap_arg *args, size_t count, struct imap_search *out,
                      const char **error_r)
{
    memset(out, 0, sizeof(*out));
    size_t i = 0;
    if (count >= 1 && imap_arg_atom_is(&args[0], "CHARSET")) {
        size_t len;
        const char *cs = count >= 2 ? imap_arg_astring(&args[1], &len) : NULL;
        if (!cs) {
            *error_r = "Missing charset";
            return IMAP_SEARCH_PARSE_BAD;
        }
        if (str_eq_ci(cs, "US-ASCII") && len == 8) {
            out->charset = IMAP_SEARCH_CHARSET_US_ASCII;
        } else if (str_eq_ci(cs, "UTF-8") && len == 5) {
            out->charset = IMAP_SEARCH_CHARSET_UTF8;
        } else {
            *error_r = "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset";
            return IMAP_SEARCH_PARSE_BADCHARSET;
        }
        i = 2;
    }
    struct ctx c = {0};
    const char *e = parse_keys(&c, count > i ? args + i : args, count - i, &out->root, 0);
    if (e) {
        imap_search_free(out);
        *error_r = e;
        return IMAP_SEARCH_PARSE_BAD;
    }
    out->uses_modseq = c.uses_modseq;
    return IMAP_SEARCH_PARSE_OK;
}
