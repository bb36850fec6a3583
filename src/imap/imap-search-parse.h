/* imap-search-parse: the criteria of SEARCH and UID SEARCH (RFC 3501
 * 6.4.4, MODSEQ of RFC 7162 3.1.5), from the argument tree of
 * imap-parser.h, into a tree of keys.
 *
 * Only syntax is judged. The result is a copy (valid after the parser
 * moves on) to free with imap_search_free(). Sequence sets stay as parsed,
 * '*' included: the session resolves them (imap-seqset.h) against the
 * mailbox it searches. Every string is valid UTF-8. */
#ifndef POSTINO_IMAP_SEARCH_PARSE_H
#define POSTINO_IMAP_SEARCH_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-parser.h"
#include "imap/imap-seqset.h"

/* Keys in one search (each NOT, OR and group counts), and how deeply NOT,
 * OR and parentheses may nest. */
#define IMAP_SEARCH_KEYS_MAX  4096
#define IMAP_SEARCH_DEPTH_MAX 32

enum imap_search_type {
    /* No argument. */
    IMAP_SEARCH_ALL,
    IMAP_SEARCH_ANSWERED,
    IMAP_SEARCH_DELETED,
    IMAP_SEARCH_DRAFT,
    IMAP_SEARCH_FLAGGED,
    IMAP_SEARCH_NEW, /* RECENT UNSEEN */
    IMAP_SEARCH_OLD, /* NOT RECENT */
    IMAP_SEARCH_RECENT,
    IMAP_SEARCH_SEEN,
    IMAP_SEARCH_UNANSWERED,
    IMAP_SEARCH_UNDELETED,
    IMAP_SEARCH_UNDRAFT,
    IMAP_SEARCH_UNFLAGGED,
    IMAP_SEARCH_UNSEEN,
    /* str: a keyword (flag-keyword syntax). */
    IMAP_SEARCH_KEYWORD,
    IMAP_SEARCH_UNKEYWORD,
    /* str: a substring to look for. */
    IMAP_SEARCH_BCC,
    IMAP_SEARCH_BODY,
    IMAP_SEARCH_CC,
    IMAP_SEARCH_FROM,
    IMAP_SEARCH_SUBJECT,
    IMAP_SEARCH_TEXT,
    IMAP_SEARCH_TO,
    IMAP_SEARCH_HEADER, /* header: the field name; str: the substring (may be "") */
    /* date. */
    IMAP_SEARCH_BEFORE,
    IMAP_SEARCH_ON,
    IMAP_SEARCH_SINCE,
    IMAP_SEARCH_SENTBEFORE,
    IMAP_SEARCH_SENTON,
    IMAP_SEARCH_SENTSINCE,
    /* number: a size in octets. */
    IMAP_SEARCH_LARGER,
    IMAP_SEARCH_SMALLER,
    /* set. */
    IMAP_SEARCH_SEQSET, /* message sequence numbers */
    IMAP_SEARCH_UID,
    /* number: the mod-sequence; str: the entry name or NULL; entry_type. */
    IMAP_SEARCH_MODSEQ,
    /* children. */
    IMAP_SEARCH_NOT, /* one child */
    IMAP_SEARCH_OR,  /* two children */
    IMAP_SEARCH_AND, /* a parenthesised group, or the whole search: all children */
};

struct imap_date {
    int year;  /* 4 digits */
    int month; /* 1..12 */
    int day;   /* 1..31, valid for the month and year */
};

enum imap_modseq_entry {
    IMAP_MODSEQ_ENTRY_NONE,
    IMAP_MODSEQ_ENTRY_PRIV,
    IMAP_MODSEQ_ENTRY_SHARED,
    IMAP_MODSEQ_ENTRY_ALL,
};

struct imap_search_key {
    enum imap_search_type type;
    char *str; /* NUL-terminated; see the types above */
    size_t len;
    char *header; /* HEADER: the field name */
    struct imap_date date;
    uint64_t number;
    enum imap_modseq_entry entry_type;
    struct imap_seqset set;
    struct imap_search_key *children;
    size_t count;
};

enum imap_search_charset {
    IMAP_SEARCH_CHARSET_NONE, /* not given: US-ASCII */
    IMAP_SEARCH_CHARSET_US_ASCII,
    IMAP_SEARCH_CHARSET_UTF8,
};

struct imap_search {
    enum imap_search_charset charset;
    struct imap_search_key root; /* IMAP_SEARCH_AND of the top-level keys */
    bool uses_modseq;            /* a MODSEQ key: the reply carries (MODSEQ n) */
};

/* Outcomes of imap_search_parse(). */
#define IMAP_SEARCH_PARSE_OK 0
/* Syntax error: "TAG BAD text". */
#define IMAP_SEARCH_PARSE_BAD (-1)
/* An unsupported CHARSET: "TAG NO [BADCHARSET (US-ASCII UTF-8)] text". */
#define IMAP_SEARCH_PARSE_BADCHARSET (-2)

/* Parse the arguments of SEARCH (after the command name, or after UID
 * SEARCH): [CHARSET name] then one or more keys. Returns
 * IMAP_SEARCH_PARSE_OK with *out filled (free with imap_search_free()), or
 * BAD / BADCHARSET with a static text in *error_r and *out empty. */
int imap_search_parse(const struct imap_arg *args, size_t count, struct imap_search *out,
                      const char **error_r);
void imap_search_free(struct imap_search *s);

/* Parse a date "d-mon-yyyy" (day of one or two digits, month name in any
 * case) of len octets. Returns 0, or -1 for bad syntax or a day the month
 * does not have. */
int imap_date_parse(const char *s, size_t len, struct imap_date *out);

#endif
