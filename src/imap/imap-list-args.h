/* imap-list-args: the arguments of LIST (RFC 3501 6.3.8 and the extended
 * form of RFC 5258 with RFC 6154 SPECIAL-USE and RFC 5819 LIST-STATUS),
 * LSUB (6.3.9) and STATUS (6.3.10, RFC 7162 HIGHESTMODSEQ, RFC 8438 SIZE),
 * read from the parser's argument tree. Pure functions: no session, no store. */
#ifndef POSTINO_IMAP_LIST_ARGS_H
#define POSTINO_IMAP_LIST_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "imap/imap-parser.h"

/* Mailbox patterns in one extended LIST. */
#define IMAP_LIST_PATTERNS_MAX 32
/* The longest reference, pattern, or reference and pattern joined. */
#define IMAP_LIST_PATTERN_MAX 1024

/* Selection options (RFC 5258 3.1, RFC 6154 5.1). */
#define IMAP_LIST_SEL_SUBSCRIBED     0x01u
#define IMAP_LIST_SEL_REMOTE         0x02u
#define IMAP_LIST_SEL_RECURSIVEMATCH 0x04u
#define IMAP_LIST_SEL_SPECIAL_USE    0x08u

/* Return options (RFC 5258 3.2, RFC 6154 5.2, RFC 5819). */
#define IMAP_LIST_RET_SUBSCRIBED  0x01u
#define IMAP_LIST_RET_CHILDREN    0x02u
#define IMAP_LIST_RET_SPECIAL_USE 0x04u
#define IMAP_LIST_RET_STATUS      0x08u

/* STATUS data items (bits), written in this order. */
#define IMAP_STATUS_MESSAGES      0x01u
#define IMAP_STATUS_RECENT        0x02u
#define IMAP_STATUS_UIDNEXT       0x04u
#define IMAP_STATUS_UIDVALIDITY   0x08u
#define IMAP_STATUS_UNSEEN        0x10u
#define IMAP_STATUS_DELETED       0x20u /* RFC 9051 */
#define IMAP_STATUS_HIGHESTMODSEQ 0x40u
#define IMAP_STATUS_SIZE          0x80u

/* A LIST or LSUB command. The strings point into the argument tree they
 * were read from (valid as long as it is). */
struct imap_list_args {
    bool extended;   /* selection options, RETURN or a pattern list */
    unsigned select; /* IMAP_LIST_SEL_* */
    unsigned ret;    /* IMAP_LIST_RET_* (SUBSCRIBED and SPECIAL-USE
                      * added when the selection implies them) */
    unsigned status; /* IMAP_STATUS_* of RETURN (STATUS (...)) */
    const char *ref; /* the reference name, NUL-terminated */
    const char *patterns[IMAP_LIST_PATTERNS_MAX];
    size_t n_patterns; /* at least 1 */
};

/* Read the arguments of LIST (lsub false) or LSUB (lsub true: exactly a
 * reference and a pattern). Returns 0, or -1 with a static text for the
 * BAD reply in *error_r: a missing or extra argument, an unknown option
 * (RFC 5258: refused with BAD), RECURSIVEMATCH without another selection
 * option, an empty pattern list, more than IMAP_LIST_PATTERNS_MAX
 * patterns, a reference or pattern longer than IMAP_LIST_PATTERN_MAX or
 * holding NUL. */
int imap_list_args_parse(const struct imap_arg *args, size_t count, bool lsub,
                         struct imap_list_args *out, const char **error_r);

/* Read a parenthesised list of STATUS items (any case, repeats allowed)
 * into *items_r (IMAP_STATUS_* bits). 0, or -1 with a static text in
 * *error_r: not a list, empty, or an unknown item. */
int imap_list_args_status(const struct imap_arg *list, unsigned *items_r, const char **error_r);

/* Join reference and pattern into the pattern matched against names
 * (RFC 3501 6.3.8: the reference is prepended as it is). out gets a
 * NUL-terminated string. 0, or -1 if the result does not fit. */
int imap_list_args_join(const char *ref, const char *pattern, char *out, size_t outsize);

#endif
