/* rules-private: the insides of a rule table, shared by the parser
 * (rule-parse.c) and the table (rules.c). Not for other modules. */
#ifndef POSTINO_POLICY_RULES_PRIVATE_H
#define POSTINO_POLICY_RULES_PRIVATE_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdbool.h>
#include <stddef.h>

#include "policy/rules.h"

/* Capture groups that $n may name: $1..$9. */
#define RULE_GROUPS_MAX 9

enum rule_kind {
    RULE_KIND_MATCH, /* /regex/ ACTION text */
    RULE_KIND_IF,    /* if /regex/ */
    RULE_KIND_ENDIF, /* endif */
};

struct rule {
    enum rule_kind kind;
    unsigned line;  /* the line the rule starts on */
    bool negate;    /* "!/regex/": applies when the regex does not match */
    pcre2_code *re; /* NULL for ENDIF */
    size_t endif;   /* IF: the index of its ENDIF */
    enum rule_action action;
    char code[RULE_CODE_MAX + 1]; /* REJECT's enhanced status code or "" */
    char *text;                   /* MATCH: the text as written (code removed) */
    size_t text_len;
    bool has_refs; /* text holds $n references */
};

struct rule_table {
    char *name;
    struct rule *rules;
    size_t n;
    size_t cap;
    size_t actions;            /* rules of kind MATCH */
    pcre2_match_context *mctx; /* the limits; read-only while matching */
};

/* The checks the arguments of PREPEND, REDIRECT and FILTER must pass, at
 * load time and again after $n expansion. */
/* A header line "Name: value": a name of printable ASCII without ':', a
 * colon, a value without control characters other than tab. */
bool rule_header_valid(const char *s, size_t n);
/* "local@domain": a dot-atom or quoted local part of at most 64 bytes, and
 * a domain of LDH labels or an address literal, at most 255 bytes. */
bool rule_address_valid(const char *s, size_t n);
/* "transport:destination": a transport name of letters, digits, '.', '-'
 * and '_', and a destination of printable ASCII without spaces, both
 * non-empty. */
bool rule_filter_valid(const char *s, size_t n);

#endif
