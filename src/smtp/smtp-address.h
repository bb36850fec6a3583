/* smtp-address: RFC 5321 paths and mailboxes (with RFC 6531 UTF-8).
 *
 *   Path     = "<" [ A-d-l ":" ] Mailbox ">"
 *   Mailbox  = Local-part "@" ( Domain / address-literal )
 *
 * The parser is strict about syntax: dot-strings without empty atoms,
 * quoted strings with only the allowed quoted pairs, LDH domain labels
 * (or well-formed UTF-8 U-labels), checked IPv4/IPv6 literals, and the
 * RFC 5321 length limits. A source route is accepted and dropped, as
 * RFC 5321 section 4.1.1.3 asks. */
#ifndef POSTINO_SMTP_ADDRESS_H
#define POSTINO_SMTP_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_LOCAL_MAX  64  /* octets in a local part */
#define SMTP_DOMAIN_MAX 255 /* octets in a domain */
#define SMTP_PATH_MAX   256 /* octets in a path, angle brackets included */

struct smtp_path {
    bool null;       /* "<>" */
    bool postmaster; /* "<postmaster>" without a domain (RCPT only) */
    bool quoted;     /* the local part was a quoted string */
    bool utf8;       /* non-ASCII octets appear (needs SMTPUTF8) */
    bool literal;    /* the domain is an address literal "[...]" */
    /* The mailbox as it should be written in an envelope: the local part
     * as received (quotes kept) "@" the domain, source route removed. */
    char mailbox[SMTP_PATH_MAX + 1];
    /* The local part with quoting removed (what a mailbox lookup sees). */
    char local[SMTP_LOCAL_MAX + 1];
    /* The domain (or "[literal]") lowercased in ASCII. */
    char domain[SMTP_DOMAIN_MAX + 1];
};

enum smtp_path_error {
    SMTP_PATH_OK = 0,
    SMTP_PATH_SYNTAX,   /* not a path at all */
    SMTP_PATH_TOO_LONG, /* a length limit crossed */
    SMTP_PATH_UTF8,     /* ill-formed UTF-8 */
};

/* Parse a path at s[0..len). On success *used is the number of octets the
 * path occupied (so parameters can follow). allow_null permits "<>" and
 * allow_postmaster "<postmaster>". */
enum smtp_path_error smtp_path_parse(const char *s, size_t len, bool allow_null,
                                     bool allow_postmaster, struct smtp_path *out, size_t *used);

/* Parse a bare mailbox "local@domain" (no angle brackets), as stored in
 * envelopes and given on the command line. */
enum smtp_path_error smtp_mailbox_parse(const char *s, size_t len, struct smtp_path *out);

/* True if s[0..len) is a domain name (LDH labels, or UTF-8 labels when
 * allow_utf8) of at most 255 octets. */
bool smtp_domain_valid(const char *s, size_t len, bool allow_utf8);
/* True if s[0..len) is an address literal "[1.2.3.4]", "[IPv6:...]". */
bool smtp_address_literal_valid(const char *s, size_t len);

#endif
