/* mime-content: the Content-* fields of one MIME part (RFC 2045, 2183,
 * 3282, 2557, 1864), read from its header section as Dovecot reads them
 * for BODYSTRUCTURE:
 *
 * - the first Content-Type, Content-Transfer-Encoding, Content-ID,
 *   Content-Description, Content-Language, Content-Location and
 *   Content-MD5 count; a later Content-Disposition replaces one that had
 *   no parameters;
 * - a broken Content-Type keeps what could be read of type and subtype
 *   (subtype "" if there was no '/') and no parameters;
 * - a Content-Transfer-Encoding that is not a single token is ignored;
 * - ID, Description, Location and MD5 are the raw field values.
 *
 * Strings are owned by the struct and NUL-terminated (a NUL byte in a raw
 * value becomes U+FFFD). */
#ifndef POSTINO_MIME_CONTENT_H
#define POSTINO_MIME_CONTENT_H

#include <stdbool.h>
#include <stddef.h>

#include "mime-param.h"

#define MIME_CONTENT_LANGUAGE_MAX 32
#define MIME_CONTENT_VALUE_MAX    (64 * 1024)

struct mime_content {
    char *type;      /* NULL when there was no Content-Type */
    char *subtype;   /* "" when the value had no '/' */
    bool type_slash; /* the value had a '/' after the type */
    struct mime_params type_params;
    char *encoding;
    char *id;
    char *description;
    char *md5;
    char *location;
    char *disposition;
    struct mime_params disposition_params;
    char **language; /* n_language entries */
    size_t n_language;

    bool seen_mime_version; /* a MIME-Version field was present */
    bool seen_content_type; /* a Content-Type field was present */
};

/* Read the Content-* (and MIME-Version) fields of hdr[0..len) into *c,
 * which must be zeroed. Never fails. */
void mime_content_parse(struct mime_content *c, const char *hdr, size_t len);
/* Free everything; *c is zeroed. */
void mime_content_free(struct mime_content *c);

/* A copy of n bytes of a raw field value, NUL bytes turned into U+FFFD. */
char *mime_value_dup(const char *s, size_t n);

#endif
