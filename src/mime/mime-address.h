/* mime-address: the addresses in RFC 5322 address-list header fields
 * (To:, Cc:, Bcc:, From:), for `postino sendmail -t`.
 *
 *   address-list = address *("," address)
 *   address      = mailbox / group            group = name ":" [list] ";"
 *   mailbox      = name-addr / addr-spec      name-addr = [name] "<" addr-spec ">"
 *
 * Quoted strings and (nested) comments are understood; folding whitespace
 * must have been unfolded. Each addr-spec found is handed out as written
 * (without the angle brackets). */
#ifndef POSTINO_MIME_ADDRESS_H
#define POSTINO_MIME_ADDRESS_H

#include <stddef.h>

/* Call fn for each addr-spec in value[0..len). Returns the number found,
 * or -1 on a syntax error (fn may have been called for earlier ones). */
int mime_address_list(const char *value, size_t len,
                      void (*fn)(const char *addr, size_t len, void *arg), void *arg);

#endif
