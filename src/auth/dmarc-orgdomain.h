/* dmarc-orgdomain: domain names as DMARC compares them, and the
 * Organizational Domain of RFC 7489 3.2 through libpsl.
 *
 * The Organizational Domain of a name is its public suffix plus one label
 * (example.co.uk for a.b.example.co.uk). A name that is itself a public
 * suffix (co.uk, com) has none; we then use the name itself, so that it
 * only ever aligns with itself.
 *
 * Domains are handled in ASCII (A-labels for IDNs, "xn--..."); a name
 * with bytes >= 0x80 is refused rather than guessed at. */
#ifndef POSTINO_DMARC_ORGDOMAIN_H
#define POSTINO_DMARC_ORGDOMAIN_H

#include <stddef.h>

/* Longest domain name (without the trailing dot) and a buffer for one. */
#define DMARC_DOMAIN_MAX  253
#define DMARC_DOMAIN_SIZE (DMARC_DOMAIN_MAX + 1)

struct dmarc_orgdomain;

/* Load a public suffix list: from psl_file (the text format of
 * publicsuffix.org, e.g. /usr/share/publicsuffix/public_suffix_list.dat)
 * if not NULL, else the newest of the distribution's list and libpsl's
 * built-in one (psl_latest). Returns NULL with *error_r set (static text)
 * if the list cannot be loaded. Free with dmarc_orgdomain_free(). */
struct dmarc_orgdomain *dmarc_orgdomain_new(const char *psl_file, const char **error_r);
void dmarc_orgdomain_free(struct dmarc_orgdomain **od);

/* Check and normalize in[0..len): ASCII letters lowered, one trailing dot
 * removed; labels of 1 to 63 letters, digits, '-' or '_', at most
 * DMARC_DOMAIN_MAX bytes in all. Writes the result into out (size
 * DMARC_DOMAIN_SIZE) and returns 0, or returns -1 with *error_r (static
 * text) set. */
int dmarc_domain_normalize(const char *in, size_t len, char *out, const char **error_r);

/* The Organizational Domain of domain (any case, optional trailing dot)
 * into out (size DMARC_DOMAIN_SIZE): 0 on success, -1 with *error_r set if
 * the domain is not a valid name. */
int dmarc_orgdomain_get(const struct dmarc_orgdomain *od, const char *domain, char *out,
                        const char **error_r);

#endif
