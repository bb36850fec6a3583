/* mime-addrlist: RFC 5322 address lists (From, Sender, Reply-To, To, Cc,
 * Bcc) split into the name / route / mailbox / domain quadruples of the
 * IMAP ENVELOPE (RFC 3501 7.4.2), read the way Dovecot reads them so that
 * clients see the same ENVELOPE for broken headers too:
 *
 * - a group "name: a, b;" gives a start entry (mailbox = name, domain
 *   NULL) and an end entry (all NULL) around its members;
 * - "user@domain (Comment)" takes the last comment as the name;
 * - a missing mailbox or domain becomes "MISSING_MAILBOX" or
 *   "MISSING_DOMAIN"; "user" alone is a mailbox, "Some Name" alone a name;
 * - a broken angle address has the domain "SYNTAX_ERROR", a broken route
 *   "INVALID_ROUTE".
 *
 * Names are phrases with quoting removed and words joined by one space;
 * encoded words are left as they are. At most MIME_ADDRLIST_MAX entries
 * are read from one field. */
#ifndef POSTINO_MIME_ADDRLIST_H
#define POSTINO_MIME_ADDRLIST_H

#include <stdbool.h>
#include <stddef.h>

#define MIME_ADDRLIST_MAX      1000
#define MIME_ADDRLIST_WORD_MAX (64 * 1024)

struct mime_addr {
    char *name; /* each owned, NULL when absent */
    char *route;
    char *mailbox;
    char *domain;
    bool invalid; /* the syntax was broken somewhere */
};

struct mime_addrlist {
    struct mime_addr *v;
    size_t n;
    size_t cap;
};

/* Parse value[0..len) (folding line breaks may be present) and append the
 * entries to *list (zero it first). Never fails; an empty value adds
 * nothing. */
void mime_addrlist_parse(struct mime_addrlist *list, const char *value, size_t len);
void mime_addrlist_free(struct mime_addrlist *list);

#endif
