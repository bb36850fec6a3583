/* imap-fetch-parse: the arguments of FETCH and STORE (RFC 3501 6.4.5,
 * 6.4.6; CONDSTORE modifiers of RFC 7162 3.1.3, 3.1.4), from the argument
 * tree of imap-parser.h, after the sequence set.
 *
 * Only syntax is judged: what a message has (does part 1.2 exist?) is the
 * session's business. Results are copies: they stay valid after the
 * parser moves on, until imap_fetch_free() / imap_store_free(). Errors
 * come back as a static text for "TAG BAD text". */
#ifndef POSTINO_IMAP_FETCH_PARSE_H
#define POSTINO_IMAP_FETCH_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-parser.h"
#include "lib/buf.h"

/* Items in one FETCH (after the macros are expanded). */
#define IMAP_FETCH_ITEMS_MAX 128
/* Numbers in a section part path ("1.2.3"). */
#define IMAP_SECTION_DEPTH_MAX 32
/* Header field names in one HEADER.FIELDS list, and the length of one. */
#define IMAP_FETCH_FIELDS_MAX 256
#define IMAP_FIELD_NAME_MAX   256
/* Flags in one STORE, and the length of one flag or keyword. */
#define IMAP_STORE_FLAGS_MAX 256
#define IMAP_FLAG_MAX        256
/* The largest mod-sequence value (RFC 7162: 63 bits). */
#define IMAP_MODSEQ_MAX ((uint64_t)INT64_MAX)

enum imap_fetch_type {
    IMAP_FETCH_FLAGS,
    IMAP_FETCH_INTERNALDATE,
    IMAP_FETCH_RFC822_SIZE,
    IMAP_FETCH_ENVELOPE,
    IMAP_FETCH_BODY,          /* the BODY structure (non-extensible) */
    IMAP_FETCH_BODYSTRUCTURE, /* with extension data */
    IMAP_FETCH_UID,
    IMAP_FETCH_RFC822,        /* like BODY[], sets \Seen */
    IMAP_FETCH_RFC822_HEADER, /* like BODY.PEEK[HEADER] */
    IMAP_FETCH_RFC822_TEXT,   /* like BODY[TEXT], sets \Seen */
    IMAP_FETCH_MODSEQ,
    IMAP_FETCH_SECTION, /* BODY[...]<...> or BODY.PEEK[...]<...> */
};

enum imap_section_kind {
    IMAP_SECTION_WHOLE, /* BODY[] or BODY[1.2]: the whole message / part */
    IMAP_SECTION_HEADER,
    IMAP_SECTION_HEADER_FIELDS,
    IMAP_SECTION_HEADER_FIELDS_NOT,
    IMAP_SECTION_TEXT,
    IMAP_SECTION_MIME, /* only after a part number */
};

struct imap_fetch_item {
    enum imap_fetch_type type;
    /* IMAP_FETCH_SECTION only: */
    bool peek;                             /* BODY.PEEK: does not set \Seen */
    uint32_t part[IMAP_SECTION_DEPTH_MAX]; /* part path, each >= 1 */
    size_t part_count;                     /* 0: the message itself */
    enum imap_section_kind kind;
    char **fields; /* HEADER.FIELDS[.NOT]: names as sent, NUL-terminated */
    size_t field_count;
    bool has_partial;
    uint32_t partial_origin; /* <origin.length> */
    uint32_t partial_length; /* >= 1 */
};

struct imap_fetch {
    struct imap_fetch_item *items;
    size_t count;
    bool has_changedsince; /* (CHANGEDSINCE n): also asks for MODSEQ */
    uint64_t changedsince;
    bool sets_seen; /* some item sets \Seen (BODY[...], RFC822, RFC822.TEXT) */
};

/* Parse the FETCH arguments that follow the sequence set: one item, a
 * macro (ALL, FAST, FULL) or a parenthesised list of items, then
 * optionally a list of modifiers (CHANGEDSINCE). Returns 0 with *out
 * filled (free it with imap_fetch_free()), or -1 with the reason in
 * *error_r and *out empty. */
int imap_fetch_parse(const struct imap_arg *args, size_t count, struct imap_fetch *out,
                     const char **error_r);
void imap_fetch_free(struct imap_fetch *f);

/* Append the name an item's data has in the FETCH response, e.g.
 * "BODY[1.2.HEADER.FIELDS (Date From)]<0>" for BODY.PEEK[1.2.HEADER.FIELDS
 * (Date From)]<0.100> (RFC 3501 7.4.2: no PEEK, only the origin of a
 * partial), "RFC822.SIZE", "UID". Returns 0, or -1 at out's maximum. */
int imap_fetch_item_write_name(const struct imap_fetch_item *item, struct buf *out);

enum imap_store_op {
    IMAP_STORE_REPLACE, /* FLAGS */
    IMAP_STORE_ADD,     /* +FLAGS */
    IMAP_STORE_REMOVE,  /* -FLAGS */
};

struct imap_store {
    enum imap_store_op op;
    bool silent;             /* .SILENT: no untagged FETCH back */
    bool has_unchangedsince; /* (UNCHANGEDSINCE n) */
    uint64_t unchangedsince;
    char **flags; /* system flags in their canonical case ("\Seen"), keywords as sent */
    size_t flag_count;
};

/* Parse the STORE arguments that follow the sequence set: an optional
 * modifier list ((UNCHANGEDSINCE n)), the item (FLAGS, +FLAGS, -FLAGS,
 * each maybe .SILENT) and the flags (a list, or flags separated by
 * spaces; an empty list is allowed). Returns 0 with *out filled (free with
 * imap_store_free()), or -1 with *error_r. */
int imap_store_parse(const struct imap_arg *args, size_t count, struct imap_store *out,
                     const char **error_r);
void imap_store_free(struct imap_store *s);

/* Check a flag for STORE or APPEND: one of the system flags \Answered,
 * \Flagged, \Deleted, \Seen, \Draft (any case), or a keyword (an atom
 * without '\', ']', '%', '*'). \Recent and other '\' names are refused.
 * Returns the canonical spelling of a system flag (static), flag itself
 * for a keyword, or NULL with *error_r. */
const char *imap_flag_check(const char *flag, size_t len, const char **error_r);

#endif
