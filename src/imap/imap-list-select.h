/* imap-list-select: which names a LIST or LSUB answers with, and with
 * which attributes, given every name of the account (store_folder_list())
 * and the command's arguments (imap-list-args.h). Pure: no session, no
 * store calls.
 *
 * LIST (RFC 3501 6.3.8): the folders and the \Noselect parents that match
 * a pattern. With the SUBSCRIBED selection (RFC 5258) the subscribed names
 * instead, those that do not exist as \NonExistent; with SPECIAL-USE (RFC
 * 6154) the special-use folders; both: both. RECURSIVEMATCH also returns
 * a matching name one of whose descendants meets the selection, with the
 * CHILDINFO extended item (a name that is nothing at all then comes as
 * \NonExistent).
 *
 * LSUB (6.3.9): the subscribed names that match, \Noselect when they are
 * not selectable; and a name that matches but is not subscribed, while a
 * subscribed descendant of it does not match (the "%" case), as
 * \Noselect. */
#ifndef POSTINO_IMAP_LIST_SELECT_H
#define POSTINO_IMAP_LIST_SELECT_H

#include <stddef.h>

#include "imap/imap-list-args.h"
#include "lib/buf.h"
#include "store/store.h"

/* Names considered at most (what the store lists and the ancestors
 * LSUB or RECURSIVEMATCH add). */
#define IMAP_LIST_NAMES_MAX (4 * STORE_FOLDERS_MAX + 64)

struct imap_list_entry {
    char name[STORE_FOLDER_NAME_MAX + 1];
    unsigned attrs;     /* STORE_ATTR_* of the name */
    unsigned childinfo; /* IMAP_LIST_SEL_SUBSCRIBED / _SPECIAL_USE: CHILDINFO */
};

/* The entries to answer, sorted as store_folder_list() sorts (INBOX
 * first, then by octets). folders[0..n) is store_folder_list()'s output;
 * patterns are joined with args->ref. *out_r is malloc'ed (the caller
 * frees it; NULL when *count_r is 0). 0, or -1 if more than
 * IMAP_LIST_NAMES_MAX names would be considered. */
int imap_list_select(const struct store_folder_info *folders, size_t n,
                     const struct imap_list_args *args, bool lsub, struct imap_list_entry **out_r,
                     size_t *count_r);

/* Append the response line for entry e, without "* " and CRLF:
 * `LIST (\HasNoChildren \Sent) "." "Sent"`, `LSUB (\Noselect) "." "a"`, with
 * ` ("CHILDINFO" ("SUBSCRIBED"))` after the name when e->childinfo is
 * set. \Subscribed is written when args->ret asks for it; children and
 * special-use attributes always (RFC 5258 and RFC 6154 allow it). 0, or
 * -1 if out reached its maximum. */
int imap_list_format(const struct imap_list_entry *e, const struct imap_list_args *args, bool lsub,
                     struct buf *out);

#endif
