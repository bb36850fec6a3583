/* dkim-key-cache: DKIM key records kept parsed across messages.
 *
 * Mail from a big sender arrives signed with the same key over and over;
 * parsing its record (base64, DER) and OpenSSL's first use of the key (the
 * RSA modulus' Montgomery form, the verify context) cost as much as the
 * signature check itself. A cache maps the exact text of a key record to
 * its parsed key: a record that changes in DNS is other text, hence a new
 * entry, and the old one ages out. Only usable keys are kept: a revoked
 * key (empty p=) or a record that does not parse is parsed every time.
 *
 * The cache holds at most a fixed number of entries and drops the least
 * recently used one to make room. It is not thread-safe: one per process
 * (or per thread), created by the verifier's owner and handed to the
 * verifier through its parameters. */
#ifndef POSTINO_DKIM_KEY_CACHE_H
#define POSTINO_DKIM_KEY_CACHE_H

#include <stddef.h>

#include "auth/dkim-key.h"

/* The default number of entries. */
#define DKIM_KEY_CACHE_ENTRIES 256
/* The most entries a cache can be asked for. */
#define DKIM_KEY_CACHE_ENTRIES_MAX 65536
/* The longest key record kept (a record for an 8192-bit RSA key is about
 * 1.5 kB); longer ones are parsed every time. */
#define DKIM_KEY_CACHE_TXT_MAX 4096

struct dkim_key_cache;

/* A new, empty cache of at most entries entries (0: DKIM_KEY_CACHE_ENTRIES;
 * more than DKIM_KEY_CACHE_ENTRIES_MAX: that many). Never returns NULL. */
struct dkim_key_cache *dkim_key_cache_new(size_t entries);
/* Free the cache and every key in it; sets *c to NULL. No effect on NULL. */
void dkim_key_cache_free(struct dkim_key_cache **c);

/* The key of the record txt (len bytes, the TXT record's strings
 * concatenated), as dkim_key_parse gives it: from the cache, or parsed and
 * then kept if it has a usable key (not revoked) and the record is at most
 * DKIM_KEY_CACHE_TXT_MAX bytes. Returns the key, owned by the cache and
 * valid until the next dkim_key_cache_get or dkim_key_cache_free on c (the
 * caller may check signatures with it, dkim_key_verify, and must not free
 * it), or NULL with dkim_key_parse's static reason in *error_r. */
struct dkim_key *dkim_key_cache_get(struct dkim_key_cache *c, const char *txt, size_t len,
                                    const char **error_r);

/* The number of keys in the cache. */
size_t dkim_key_cache_count(const struct dkim_key_cache *c);

#endif
