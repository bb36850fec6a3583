/* rule-parse: the text of a rule file into a rule table (see rules.h). */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "policy/rules-private.h"

/* The state of one parse: where we are and what is open. */
struct parse {
    const char *name;
    struct rule_table *t;
    size_t open[RULE_NEST_MAX]; /* indexes of the open IF rules */
    size_t depth;
    size_t regexes;   /* if and match rules so far */
    struct buf error; /* the message, when parsing fails */
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Record the reason a parse fails ("NAME:LINE: why"); returns -1. */
static int __attribute__((format(printf, 3, 4)))
parse_fail(struct parse *p, unsigned line, const char *fmt, ...)
{
    va_list ap;
    buf_reset(&p->error);
    if (line > 0)
        (void)buf_printf(&p->error, "%s:%u: ", p->name, line);
    else
        (void)buf_printf(&p->error, "%s: ", p->name);
    va_start(ap, fmt);
    (void)buf_vprintf(&p->error, fmt, ap);
    va_end(ap);
    return -1;
}

/* A printable copy of untrusted bytes for an error message. */
static const char *printable(char *dst, size_t dstsize, const char *s, size_t n)
{
    return str_printable(dst, dstsize, s, n > 64 ? 64 : n);
}

bool rule_header_valid(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] != ':') {
        unsigned char c = (unsigned char)s[i];
        if (c < 33 || c > 126)
            return false;
        i++;
    }
    if (i == 0 || i == n)
        return false;
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 32 && c != '\t') || c == 127)
            return false;
    }
    return true;
}

/* atext of RFC 5322 3.2.3. */
static bool is_atext(char c)
{
    return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* A dot-atom or quoted-string local part occupying all of s[0..n). */
static bool local_valid(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    if (s[0] == '"') {
        if (n < 2 || s[n - 1] != '"')
            return false;
        for (size_t i = 1; i < n - 1; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '\\') {
                if (++i >= n - 1)
                    return false;
                c = (unsigned char)s[i];
                if (c < 32 || c > 126)
                    return false;
            } else if (c < 32 || c > 126 || c == '"') {
                return false;
            }
        }
        return true;
    }
    bool after_dot = true;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (after_dot)
                return false;
            after_dot = true;
        } else if (is_atext(s[i])) {
            after_dot = false;
        } else {
            return false;
        }
    }
    return !after_dot;
}

/* LDH labels, or "[...]" with the characters of an IPv4/IPv6 literal. */
static bool domain_valid(const char *s, size_t n)
{
    if (n == 0 || n > 255)
        return false;
    if (s[0] == '[') {
        if (n < 3 || s[n - 1] != ']')
            return false;
        for (size_t i = 1; i < n - 1; i++)
            if (!is_alnum(s[i]) && s[i] != '.' && s[i] != ':' && s[i] != '-')
                return false;
        return true;
    }
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return false;
            label = 0;
        } else if (is_alnum(s[i]) || s[i] == '-') {
            if (label == 0 && s[i] == '-')
                return false;
            label++;
        } else {
            return false;
        }
    }
    return true;
}

bool rule_address_valid(const char *s, size_t n)
{
    /* The domain is after the last '@' (a quoted local part may hold one). */
    size_t at = n;
    while (at > 0 && s[at - 1] != '@')
        at--;
    if (at == 0)
        return false;
    return local_valid(s, at - 1) && domain_valid(s + at, n - at);
}

bool rule_filter_valid(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (is_alnum(s[i]) || s[i] == '.' || s[i] == '-' || s[i] == '_'))
        i++;
    if (i == 0 || i == n || s[i] != ':' || i + 1 == n)
        return false;
    for (i++; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 127)
            return false;
    return true;
}

/* Append a zeroed rule to the table. */
static struct rule *rule_add(struct parse *p, unsigned line, enum rule_kind kind)
{
    struct rule_table *t = p->t;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->rules = xrealloc(t->rules, t->cap * sizeof(*t->rules));
    }
    struct rule *r = &t->rules[t->n++];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->line = line;
    return r;
}

/* Parse "[!...]DregexD[flags]" at s[*pos..n) and compile it. Returns the
 * compiled regex (with *negate and *pos past the flags), or NULL after
 * parse_fail(). */
static pcre2_code *regex_parse(struct parse *p, unsigned line, const char *s, size_t n, size_t *pos,
                               bool *negate)
{
    size_t i = *pos;
    *negate = false;
    while (i < n && (s[i] == '!' || is_space(s[i]))) {
        if (s[i] == '!')
            *negate = !*negate;
        i++;
    }
    if (i == n) {
        parse_fail(p, line, "missing regex");
        return NULL;
    }
    char delim = s[i];
    unsigned char d = (unsigned char)delim;
    if (d < 33 || d > 126 || is_alnum(delim) || delim == '\\') {
        char show[16];
        parse_fail(p, line, "a regex must start with a delimiter such as '/', not '%s'",
                   printable(show, sizeof(show), &s[i], 1));
        return NULL;
    }
    size_t start = ++i;
    while (i < n && s[i] != delim) {
        if (s[i] == '\\' && i + 1 < n)
            i++;
        i++;
    }
    if (i >= n) {
        char show[16];
        parse_fail(p, line, "unterminated regex (no closing '%s')",
                   printable(show, sizeof(show), &delim, 1));
        return NULL;
    }
    size_t end = i++;

    uint32_t opts = PCRE2_CASELESS | PCRE2_DOTALL;
    for (; i < n && !is_space(s[i]); i++) {
        switch (s[i]) {
        case 'i':
            opts ^= PCRE2_CASELESS;
            break;
        case 's':
            opts ^= PCRE2_DOTALL;
            break;
        case 'm':
            opts ^= PCRE2_MULTILINE;
            break;
        case 'x':
            opts ^= PCRE2_EXTENDED;
            break;
        case 'A':
            opts ^= PCRE2_ANCHORED;
            break;
        case 'E':
            opts ^= PCRE2_DOLLAR_ENDONLY;
            break;
        case 'U':
            opts ^= PCRE2_UNGREEDY;
            break;
        case 'X':
            /* PCRE_EXTRA: what it asked for is PCRE2's default. */
            break;
        default: {
            char show[16];
            parse_fail(p, line, "unknown regex flag '%s'", printable(show, sizeof(show), &s[i], 1));
            return NULL;
        }
        }
    }

    int errcode = 0;
    PCRE2_SIZE erroffset = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)(s + start), end - start, opts | PCRE2_NEVER_UTF,
                                   &errcode, &erroffset, NULL);
    if (re == NULL) {
        PCRE2_UCHAR msg[RULE_ERROR_MAX];
        if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0)
            str_copy((char *)msg, sizeof(msg), "unknown error");
        parse_fail(p, line, "bad regex at offset %zu: %s", (size_t)erroffset, (const char *)msg);
        return NULL;
    }
    /* A JIT failure (no JIT on this machine, no memory) only costs speed. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    *pos = i;
    return re;
}

/* The highest $n in text[0..n), or -1 after parse_fail() on a bad '$'. */
static int refs_check(struct parse *p, unsigned line, const char *s, size_t n)
{
    int max = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '$')
            continue;
        if (i + 1 < n && s[i + 1] == '$') {
            i++;
            continue;
        }
        int num = -1;
        if (i + 1 < n && is_digit(s[i + 1])) {
            num = s[i + 1] - '0';
            i++;
        } else if (i + 3 < n && (s[i + 1] == '{' || s[i + 1] == '(') && is_digit(s[i + 2]) &&
                   s[i + 3] == (s[i + 1] == '{' ? '}' : ')')) {
            num = s[i + 2] - '0';
            i += 3;
        }
        if (num < 1)
            return parse_fail(p, line, "bad $ in text: use $1..$9, ${1}..${9} or $$");
        if (num > max)
            max = num;
    }
    return max;
}

/* REJECT's text may begin with an enhanced status code "5.x.y" (RFC 3463):
 * move it to r->code. Returns the length of the code and the space after
 * it, or -1 after parse_fail() for a code of another class. */
static int code_split(struct parse *p, unsigned line, const char *s, size_t n, struct rule *r)
{
    size_t i = 0;
    if (n < 5 || !is_digit(s[0]) || s[1] != '.')
        return 0;
    i = 2;
    for (int part = 0; part < 2; part++) {
        size_t digits = 0;
        while (i < n && is_digit(s[i]) && digits < 4) {
            i++;
            digits++;
        }
        if (digits == 0 || digits > 3)
            return 0;
        if (part == 0) {
            if (i >= n || s[i] != '.')
                return 0;
            i++;
        }
    }
    if (i < n && !is_space(s[i]))
        return 0;
    if (s[0] != '5')
        return parse_fail(p, line, "a REJECT status code must be 5.x.y, not %.*s", (int)i, s);
    memcpy(r->code, s, i);
    r->code[i] = '\0';
    while (i < n && is_space(s[i]))
        i++;
    return (int)i;
}

static const struct {
    const char *name;
    enum rule_action action;
    int arg; /* 0: none, 1: optional text, 2: required */
} actions[] = {
    {"REJECT", RULE_REJECT, 1},         {"DISCARD", RULE_DISCARD, 1}, {"HOLD", RULE_HOLD, 1},
    {"QUARANTINE", RULE_QUARANTINE, 1}, {"WARN", RULE_WARN, 1},       {"PREPEND", RULE_PREPEND, 2},
    {"REDIRECT", RULE_REDIRECT, 2},     {"IGNORE", RULE_IGNORE, 0},   {"FILTER", RULE_FILTER, 2},
    {"DUNNO", RULE_DUNNO, 0},           {"OK", RULE_OK, 0},
};

const char *rule_action_name(enum rule_action action)
{
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if (actions[i].action == action)
            return actions[i].name;
    return "?";
}

/* The action and its text at s[i..n) of a match rule. */
static int action_parse(struct parse *p, unsigned line, const char *s, size_t n, size_t i,
                        struct rule *r)
{
    while (i < n && is_space(s[i]))
        i++;
    size_t w = i;
    while (w < n && !is_space(s[w]))
        w++;
    if (w == i)
        return parse_fail(p, line, "missing action after the regex");
    size_t k = 0;
    size_t nactions = sizeof(actions) / sizeof(actions[0]);
    while (k < nactions &&
           !(strlen(actions[k].name) == w - i && str_eqn_ci(s + i, actions[k].name, w - i)))
        k++;
    if (k == nactions) {
        char show[80];
        return parse_fail(p, line, "unknown action \"%s\"",
                          printable(show, sizeof(show), s + i, w - i));
    }
    r->action = actions[k].action;
    const char *name = actions[k].name;

    while (w < n && is_space(s[w]))
        w++;
    while (n > w && is_space(s[n - 1]))
        n--;
    const char *text = s + w;
    size_t len = n - w;
    if (actions[k].arg == 0 && len > 0)
        return parse_fail(p, line, "%s takes no argument", name);
    if (actions[k].arg == 2 && len == 0)
        return parse_fail(p, line, "%s needs an argument", name);
    for (size_t j = 0; j < len; j++) {
        unsigned char c = (unsigned char)text[j];
        if ((c < 32 && c != '\t') || c == 127)
            return parse_fail(p, line, "control character in the text of %s", name);
    }
    if (r->action == RULE_REJECT) {
        int skip = code_split(p, line, text, len, r);
        if (skip < 0)
            return -1;
        text += skip;
        len -= (size_t)skip;
    }
    if (len > RULE_TEXT_MAX)
        return parse_fail(p, line, "text of %s too long (max %d bytes)", name, RULE_TEXT_MAX);

    int max = refs_check(p, line, text, len);
    if (max < 0)
        return -1;
    if (max > 0) {
        if (r->negate)
            return parse_fail(p, line, "$%d in the text of a negated regex (it has no groups)",
                              max);
        uint32_t groups = 0;
        (void)pcre2_pattern_info(r->re, PCRE2_INFO_CAPTURECOUNT, &groups);
        if ((uint32_t)max > groups)
            return parse_fail(p, line, "$%d but the regex has %u capture group%s", max,
                              (unsigned)groups, groups == 1 ? "" : "s");
        r->has_refs = true;
    }

    /* Arguments with $n are checked again after expansion; what is fixed
     * can be checked now. */
    bool ok = true;
    if (r->action == RULE_PREPEND) {
        size_t colon = 0;
        while (colon < len && text[colon] != ':' && text[colon] != '$')
            colon++;
        ok = max > 0 ? colon < len && text[colon] == ':' && rule_header_valid(text, colon + 1)
                     : rule_header_valid(text, len);
        if (!ok)
            return parse_fail(p, line, "PREPEND needs a header line \"Name: value\"");
    } else if (r->action == RULE_REDIRECT && max == 0 && !rule_address_valid(text, len)) {
        return parse_fail(p, line, "REDIRECT needs an address local@domain");
    } else if (r->action == RULE_FILTER && max == 0 && !rule_filter_valid(text, len)) {
        return parse_fail(p, line, "FILTER needs transport:destination");
    }
    r->text = xstrndup(text, len);
    r->text_len = len;
    return 0;
}

/* True if s[0..n) starts with the keyword kw followed by a non-alnum. */
static bool keyword_is(const char *s, size_t n, const char *kw)
{
    size_t k = strlen(kw);
    return n >= k && str_eqn_ci(s, kw, k) && (n == k || !is_alnum(s[k]));
}

/* One logical line s[0..n), which starts with a non-space. */
static int line_parse(struct parse *p, unsigned line, const char *s, size_t n)
{
    struct rule_table *t = p->t;
    size_t i = 0;

    if (keyword_is(s, n, "endif")) {
        for (i = 5; i < n; i++)
            if (!is_space(s[i]))
                return parse_fail(p, line, "text after endif");
        if (p->depth == 0)
            return parse_fail(p, line, "endif without if");
        (void)rule_add(p, line, RULE_KIND_ENDIF);
        t->rules[p->open[--p->depth]].endif = t->n - 1;
        return 0;
    }

    /* if and match rules carry a regex, counted against the limit. */
    if (p->regexes >= RULE_COUNT_MAX)
        return parse_fail(p, line, "too many rules (max %d)", RULE_COUNT_MAX);
    p->regexes++;

    if (keyword_is(s, n, "if")) {
        if (p->depth == RULE_NEST_MAX)
            return parse_fail(p, line, "if nested too deep (max %d)", RULE_NEST_MAX);
        i = 2;
        bool negate = false;
        pcre2_code *re = regex_parse(p, line, s, n, &i, &negate);
        if (re == NULL)
            return -1;
        for (; i < n; i++) {
            if (!is_space(s[i])) {
                pcre2_code_free(re);
                return parse_fail(p, line, "text after the regex of if");
            }
        }
        struct rule *r = rule_add(p, line, RULE_KIND_IF);
        r->re = re;
        r->negate = negate;
        p->open[p->depth++] = t->n - 1;
        return 0;
    }

    if (is_alnum(s[0])) {
        char show[80];
        size_t w = 0;
        while (w < n && !is_space(s[w]))
            w++;
        return parse_fail(p, line, "expected /regex/ ACTION, if or endif, not \"%s\"",
                          printable(show, sizeof(show), s, w));
    }
    bool negate = false;
    pcre2_code *re = regex_parse(p, line, s, n, &i, &negate);
    if (re == NULL)
        return -1;
    /* The rule is in the table before its action is parsed, so that a
     * failure frees the regex with the table. */
    struct rule *r = rule_add(p, line, RULE_KIND_MATCH);
    r->re = re;
    r->negate = negate;
    if (action_parse(p, line, s, n, i, r) < 0)
        return -1;
    t->actions++;
    return 0;
}

struct rule_table *rule_table_parse(const char *name, const char *text, size_t len, char **error_r)
{
    struct parse p;
    memset(&p, 0, sizeof(p));
    p.name = name;
    buf_init(&p.error, 1024);
    p.t = xcalloc(1, sizeof(*p.t));
    p.t->name = xstrdup(name);

    struct buf logical;
    buf_init(&logical, RULE_LINE_MAX);
    unsigned logical_line = 0; /* 0: no logical line open */
    bool too_long = false;
    int ret = 0;

    if (len > RULE_FILE_MAX)
        ret = parse_fail(&p, 0, "file too large (max %d bytes)", RULE_FILE_MAX);

    size_t pos = 0;
    unsigned lineno = 0;
    while (ret == 0) {
        bool eof = pos >= len;
        const char *s = text + pos;
        size_t n = 0;
        if (!eof) {
            const char *nl = memchr(s, '\n', len - pos);
            n = nl ? (size_t)(nl - s) : len - pos;
            pos += n + (nl != NULL);
            lineno++;
            if (n > 0 && s[n - 1] == '\r')
                n--;
            if (memchr(s, '\0', n) != NULL) {
                ret = parse_fail(&p, lineno, "NUL byte in the line");
                break;
            }
        }
        size_t first = 0;
        while (first < n && is_space(s[first]))
            first++;
        bool skip = !eof && (first == n || s[first] == '#');
        if (skip)
            continue;
        bool continues = !eof && first > 0;
        if (continues) {
            if (logical_line == 0) {
                ret = parse_fail(&p, lineno,
                                 "a line that starts with whitespace must continue a rule");
                break;
            }
            if (buf_append(&logical, s, n) < 0)
                too_long = true;
            continue;
        }
        /* The line before is complete. */
        if (logical_line != 0) {
            if (too_long)
                ret = parse_fail(&p, logical_line, "line too long (max %d bytes)", RULE_LINE_MAX);
            else
                ret = line_parse(&p, logical_line, logical.data, logical.len);
            if (ret < 0)
                break;
        }
        if (eof)
            break;
        buf_reset(&logical);
        too_long = buf_append(&logical, s, n) < 0;
        logical_line = lineno;
    }
    buf_free(&logical);

    if (ret == 0 && p.depth > 0)
        ret = parse_fail(&p, p.t->rules[p.open[p.depth - 1]].line, "if without endif");

    if (ret == 0) {
        p.t->mctx = pcre2_match_context_create(NULL);
        if (p.t->mctx == NULL)
            ret = parse_fail(&p, 0, "out of memory");
    }
    if (ret == 0) {
        pcre2_set_match_limit(p.t->mctx, RULE_MATCH_LIMIT);
        pcre2_set_depth_limit(p.t->mctx, RULE_DEPTH_LIMIT);
        pcre2_set_heap_limit(p.t->mctx, RULE_HEAP_LIMIT_KIB);
        buf_free(&p.error);
        return p.t;
    }
    *error_r = buf_steal(&p.error);
    buf_free(&p.error);
    rule_table_free(&p.t);
    return NULL;
}
