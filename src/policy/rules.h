/* rules: the rule tables of the content policy (header_checks,
 * mime_header_checks, body_checks), in the PCRE table format Postfix
 * administrators already write (pcre_table(5), header_checks(5)):
 *
 *   /regex/flags ACTION [text]     the first rule whose regex matches wins
 *   !/regex/flags ACTION [text]    ... or whose regex does not match
 *   if /regex/flags  ...  endif    the rules inside apply only when the
 *   if !/regex/flags ...  endif    regex matches (does not match); nestable
 *
 * The delimiter is any ASCII punctuation character but '\' and '!' ('/'
 * traditionally; '#' only after a '!', since a line that starts with '#'
 * is a comment); a backslash in the regex escapes the next character
 * (the pair goes to PCRE2 unchanged). Flags toggle options: i (case-
 * insensitive, ON by default), s (dot matches newline, ON by default), m
 * (multi-line), x (extended), A (anchored), E (dollar at end only), U
 * (ungreedy), X (accepted for compatibility; PCRE2 already refuses unknown
 * escapes). Blank lines and lines whose first non-space is '#' are ignored;
 * a line that starts with a space or tab continues the previous logical
 * line (its newline is dropped, its leading whitespace kept).
 *
 * Actions (keywords in any case):
 *   REJECT [5.x.y] [text]  DISCARD [text]  HOLD [text]  QUARANTINE [text]
 *   WARN [text]  PREPEND Name: value  REDIRECT local@domain  IGNORE
 *   FILTER transport:destination  DUNNO  OK
 * DUNNO and OK match and stop the search with no action. In the text,
 * $1..$9, ${1}..${9} and $(1)..$(9) stand for the regex's capture groups
 * (an unset group gives ""), $$ for '$'. Control characters (CR, LF, ...)
 * taken from the subject become spaces, so an expanded text is one line.
 *
 * Subjects are bytes (no UTF-8 mode; (*UTF) is refused). Every regex is
 * compiled once at load, JIT-compiled when possible, and run with match,
 * depth and heap limits (the JIT code honours the match limit and its own
 * stack limit), so no regex can hang a session.
 *
 * Threads: a table is immutable once loaded; rule_table_match() allocates
 * its own match data on each call, so any number of threads may match
 * against one table at the same time. */
#ifndef POSTINO_POLICY_RULES_H
#define POSTINO_POLICY_RULES_H

#include <stdbool.h>
#include <stddef.h>

#define RULE_FILE_MAX       (4 * 1024 * 1024) /* bytes in a rule file */
#define RULE_LINE_MAX       8192              /* bytes in a logical line */
#define RULE_COUNT_MAX      10000             /* regexes in a table (if lines included) */
#define RULE_NEST_MAX       32                /* depth of nested if..endif */
#define RULE_TEXT_MAX       998               /* bytes of action text, before and after $n */
#define RULE_CODE_MAX       9                 /* "5.999.999" */
#define RULE_ERROR_MAX      256               /* bytes of a match error message */
#define RULE_MATCH_LIMIT    1000000           /* pcre2_set_match_limit() */
#define RULE_DEPTH_LIMIT    10000             /* pcre2_set_depth_limit() */
#define RULE_HEAP_LIMIT_KIB 8192              /* pcre2_set_heap_limit() */

enum rule_action {
    RULE_REJECT,
    RULE_DISCARD,
    RULE_HOLD,
    RULE_QUARANTINE,
    RULE_WARN,
    RULE_PREPEND,
    RULE_REDIRECT,
    RULE_IGNORE,
    RULE_FILTER,
    RULE_DUNNO,
    RULE_OK,
};

/* The result of a match, written into the caller's struct (no allocation). */
struct rule_match {
    enum rule_action action;
    /* REJECT's enhanced status code ("5.7.1"), "" when the text had none. */
    char code[RULE_CODE_MAX + 1];
    /* The action's text with $n expanded (code removed), "" if none. */
    char text[RULE_TEXT_MAX + 1];
    size_t text_len;
    /* The text was cut at RULE_TEXT_MAX (only REJECT, DISCARD, HOLD,
     * QUARANTINE and WARN texts are cut; for the others that is an error). */
    bool truncated;
    /* Where the rule is, for logs ("header_checks line 12"): the table's
     * name (owned by the table) and the line the rule starts on. */
    const char *file;
    unsigned line;
    /* Why rule_table_match() returned -1. */
    char error[RULE_ERROR_MAX];
};

struct rule_table;

/* Parse the rule file text[0..len) (it need not be terminated). name is
 * used in error messages ("NAME:LINE: why") and in matches; it is copied.
 * Returns the table (free with rule_table_free), or NULL with a message in
 * *error_r (caller frees) on any bad line or crossed limit. */
struct rule_table *rule_table_parse(const char *name, const char *text, size_t len, char **error_r);

/* Read the file at path (at most RULE_FILE_MAX bytes) and parse it with the
 * path as its name. NULL with a message in *error_r (caller frees) if the
 * file cannot be read or does not parse. */
struct rule_table *rule_table_load(const char *path, char **error_r);

/* Free a table and set *tp to NULL (no effect on NULL). */
void rule_table_free(struct rule_table **tp);

/* The number of rules with an action (if/endif lines not counted). */
size_t rule_table_count(const struct rule_table *t);
/* The name given at parse or load time. */
const char *rule_table_name(const struct rule_table *t);
/* Call fn(line, text, has_refs, arg) for each rule with this action, in
 * file order: the line the rule starts on, its text as written
 * (terminated, owned by the table, $n not expanded) and whether that text
 * holds $n references. Stops at the first nonzero value fn returns and
 * returns it; 0 once every such rule was seen. */
int rule_table_each(const struct rule_table *t, enum rule_action action,
                    int (*fn)(unsigned line, const char *text, bool has_refs, void *arg),
                    void *arg);

/* Match subject[0..len) (bytes, need not be terminated) against the table,
 * honouring if/endif and negation. Returns 1 with the first matching rule
 * in *m, 0 if none matched, or -1 with a reason in m->error when PCRE2
 * failed (a limit was hit) or an expanded PREPEND/REDIRECT/FILTER text was
 * invalid: the caller treats that as no match and logs it with m->file and
 * m->line (the rule concerned). Thread-safe (see above). */
int rule_table_match(const struct rule_table *t, const char *subject, size_t len,
                     struct rule_match *m);

/* The action's keyword in upper case ("REJECT"). */
const char *rule_action_name(enum rule_action action);

#endif
