/* imap-list-match: the wildcards of LIST and LSUB patterns (RFC 3501
 * 6.3.8): '*' matches any run of characters, '%' any run without the
 * hierarchy separator. Everything else matches itself, case-sensitively,
 * except the name INBOX, whose five letters match in any case (so the
 * pattern "inbox" or "Inbox/%" finds INBOX and its children).
 *
 * The match runs in O(pattern length x name length) time and O(name
 * length) memory whatever the pattern ("*a*a*a*a*b" cannot blow up). */
#ifndef POSTINO_IMAP_LIST_MATCH_H
#define POSTINO_IMAP_LIST_MATCH_H

#include <stdbool.h>

/* The longest pattern and name matched; longer ones never match. */
#define IMAP_LIST_MATCH_MAX 4096

/* True if the mailbox name (as stored, in modified UTF-7 or UTF-8 alike)
 * matches pattern (the reference already joined in). separator is the
 * hierarchy separator, or '\0' for a flat namespace ('%' then behaves like
 * '*'). Both strings are NUL-terminated. */
bool imap_list_match(const char *pattern, const char *name, char separator);

#endif
