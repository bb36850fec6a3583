/* rules: a loaded rule table and matching against it (see rules.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "policy/rules-private.h"

/* "PATH: why" for a file that cannot be read. */
static char *load_error(const char *path, const char *why)
{
    struct buf b;
    buf_init(&b, 4096);
    if (buf_printf(&b, "%s: %s", path, why) < 0)
        (void)buf_append_str(&b, "cannot read a rule file");
    return buf_steal(&b);
}

struct rule_table *rule_table_load(const char *path, char **error_r)
{
    /* O_NONBLOCK: a FIFO in place of the file must not block the open. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        *error_r = load_error(path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        *error_r = load_error(path, "not a regular file");
        close(fd);
        return NULL;
    }
    /* One byte more than allowed tells a file that is too large. */
    struct buf text;
    buf_init(&text, (size_t)RULE_FILE_MAX + 1);
    for (;;) {
        char *p = buf_reserve(&text, 65536);
        size_t room = 65536;
        if (p == NULL) {
            room = text.max - text.len;
            p = room > 0 ? buf_reserve(&text, room) : NULL;
        }
        if (p == NULL)
            break;
        ssize_t n = read(fd, p, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *error_r = load_error(path, strerror(errno));
            buf_free(&text);
            close(fd);
            return NULL;
        }
        if (n == 0)
            break;
        buf_commit(&text, (size_t)n);
    }
    close(fd);
    struct rule_table *t = rule_table_parse(path, buf_cstr(&text), text.len, error_r);
    buf_free(&text);
    return t;
}

void rule_table_free(struct rule_table **tp)
{
    struct rule_table *t = *tp;
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++) {
        pcre2_code_free(t->rules[i].re);
        free(t->rules[i].text);
    }
    free(t->rules);
    pcre2_match_context_free(t->mctx);
    free(t->name);
    free(t);
    *tp = NULL;
}

size_t rule_table_count(const struct rule_table *t)
{
    return t->actions;
}

const char *rule_table_name(const struct rule_table *t)
{
    return t->name;
}

int rule_table_each(const struct rule_table *t, enum rule_action action,
                    int (*fn)(unsigned line, const char *text, bool has_refs, void *arg), void *arg)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct rule *r = &t->rules[i];
        if (r->kind != RULE_KIND_MATCH || r->action != action)
            continue;
        int rc = fn(r->line, r->text, r->has_refs, arg);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Run one rule's regex: 1 matched, 0 not, -1 with m->error. */
static int regex_run(const struct rule_table *t, const struct rule *r, const char *subject,
                     size_t len, pcre2_match_data *md, struct rule_match *m)
{
    int rc = pcre2_match(r->re, (PCRE2_SPTR)subject, len, 0, 0, md, t->mctx);
    if (rc >= 0)
        return 1; /* 0 means more groups than the match data holds: still a match */
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    PCRE2_UCHAR msg[RULE_ERROR_MAX];
    if (pcre2_get_error_message(rc, msg, sizeof(msg)) < 0)
        str_copy((char *)msg, sizeof(msg), "unknown error");
    str_copy(m->error, sizeof(m->error), (const char *)msg);
    return -1;
}

/* Append n bytes to m->text, cutting at RULE_TEXT_MAX. clean turns control
 * characters (from the subject) into spaces. */
static void text_add(struct rule_match *m, const char *s, size_t n, bool clean)
{
    if (n > RULE_TEXT_MAX - m->text_len) {
        n = RULE_TEXT_MAX - m->text_len;
        m->truncated = true;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        m->text[m->text_len++] = clean && (c < 32 || c == 127) ? ' ' : (char)c;
    }
    m->text[m->text_len] = '\0';
}

/* The rule's text into m->text with $n replaced by the groups in md and
 * $$ by '$' (the syntax was checked at load). */
static void text_expand(const struct rule *r, const char *subject, pcre2_match_data *md,
                        struct rule_match *m)
{
    const char *s = r->text;
    size_t n = r->text_len;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    uint32_t pairs = pcre2_get_ovector_count(md);
    size_t lit = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '$')
            continue;
        text_add(m, s + lit, i - lit, false);
        size_t num = 0;
        if (s[i + 1] == '$') {
            text_add(m, "$", 1, false);
            i += 1;
        } else if (s[i + 1] == '{' || s[i + 1] == '(') {
            num = (size_t)(s[i + 2] - '0');
            i += 3;
        } else {
            num = (size_t)(s[i + 1] - '0');
            i += 1;
        }
        lit = i + 1;
        if (num == 0 || num >= pairs)
            continue;
        PCRE2_SIZE a = ov[2 * num], b = ov[2 * num + 1];
        if (a == PCRE2_UNSET || b == PCRE2_UNSET || b < a)
            continue; /* the group took no part in the match */
        text_add(m, subject + a, b - a, true);
    }
    text_add(m, s + lit, n - lit, false);
}

/* Fill *m for the rule that matched; 1, or -1 if its expanded argument is
 * no longer valid. */
static int match_fill(const struct rule *r, const char *subject, pcre2_match_data *md,
                      struct rule_match *m)
{
    m->action = r->action;
    str_copy(m->code, sizeof(m->code), r->code);
    text_expand(r, subject, md, m);
    if (!r->has_refs)
        return 1;
    const char *why = NULL;
    switch (r->action) {
    case RULE_PREPEND:
        if (m->truncated || !rule_header_valid(m->text, m->text_len))
            why = "expanded PREPEND text is not a header line";
        break;
    case RULE_REDIRECT:
        if (m->truncated || !rule_address_valid(m->text, m->text_len))
            why = "expanded REDIRECT text is not an address";
        break;
    case RULE_FILTER:
        if (m->truncated || !rule_filter_valid(m->text, m->text_len))
            why = "expanded FILTER text is not transport:destination";
        break;
    default:
        break;
    }
    if (why == NULL)
        return 1;
    str_copy(m->error, sizeof(m->error), why);
    return -1;
}

int rule_table_match(const struct rule_table *t, const char *subject, size_t len,
                     struct rule_match *m)
{
    memset(m, 0, sizeof(*m));
    m->file = t->name;
    if (subject == NULL)
        subject = "";
    /* $0..$9: the match data of this call only, so threads share nothing
     * but the read-only table. */
    pcre2_match_data *md = pcre2_match_data_create(RULE_GROUPS_MAX + 1, NULL);
    if (md == NULL) {
        str_copy(m->error, sizeof(m->error), "out of memory");
        return -1;
    }
    int ret = 0;
    size_t i = 0;
    while (i < t->n) {
        const struct rule *r = &t->rules[i];
        if (r->kind == RULE_KIND_ENDIF) {
            i++;
            continue;
        }
        int rc = regex_run(t, r, subject, len, md, m);
        if (rc < 0) {
            m->line = r->line;
            ret = -1;
            break;
        }
        bool applies = (rc == 1) != r->negate;
        if (r->kind == RULE_KIND_IF) {
            i = applies ? i + 1 : r->endif + 1;
            continue;
        }
        if (applies) {
            m->line = r->line;
            ret = match_fill(r, subject, md, m);
            break;
        }
        i++;
    }
    pcre2_match_data_free(md);
    return ret;
}
