/* dkim-message: the header section of a message as DKIM sees it, for the
 * signer and the verifier.
 *
 * A message arrives as bytes (CRLF line ends) in chunks of any size. The
 * splitter keeps the header section (up to DKIM_HEADER_MAX bytes) and hands
 * back, chunk by chunk, the body bytes that follow the empty line. The
 * header section is then cut into fields. */
#ifndef POSTINO_DKIM_MESSAGE_H
#define POSTINO_DKIM_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/dkim-canon.h"
#include "lib/buf.h"

/* The largest header section kept (RFC 5322 sets no limit; the SMTP
 * server has its own, smaller, message limits). */
#define DKIM_HEADER_MAX (1024 * 1024)
/* The room the header section gets at first (it grows past it). */
#define DKIM_HEADER_RESERVE 4096
/* The most header fields looked at in one message. */
#define DKIM_FIELDS_MAX 1000

struct dkim_field {
    const char *text; /* the whole field without its final CRLF */
    size_t len;
    size_t name_len; /* bytes before the colon, trailing WSP excluded */
};

struct dkim_message {
    struct buf header; /* the header section, with its final CRLF */
    bool header_done;  /* the empty line (or the end of input) was seen */
    bool too_big;      /* the header section passed DKIM_HEADER_MAX */
    struct dkim_field *fields;
    size_t field_count;
};

/* Start empty. Allocates nothing. */
void dkim_message_init(struct dkim_message *m);
/* Release everything. */
void dkim_message_free(struct dkim_message *m);

/* Feed n more bytes of the message. While the header section is not
 * complete, bytes are kept; once it is, *body and *body_len give the part
 * of this chunk that belongs to the body (possibly empty). Returns 0, or -1
 * if the header section is too big (too_big is set; later calls fail too). */
int dkim_message_feed(struct dkim_message *m, const char *data, size_t n, const char **body,
                      size_t *body_len);
/* The input ended: a message without an empty line is all header section.
 * Cuts the header section into fields. Idempotent. Returns 0 or -1 (too
 * big, or more than DKIM_FIELDS_MAX fields). */
int dkim_message_end_header(struct dkim_message *m);

/* True if field f is called name (ASCII case-insensitive). */
bool dkim_field_is(const struct dkim_field *f, const char *name, size_t name_len);
/* The value of f: the bytes after its colon. */
const char *dkim_field_value(const struct dkim_field *f, size_t *len);

/* A header field name in an h= list. */
struct dkim_name {
    const char *p;
    size_t n;
};

/* The SHA-256 of the signed header fields (RFC 6376 5.4.2): for each of
 * the count names, the next instance of that name from the bottom of the
 * header section (none left: nothing, as for an oversigned name), each
 * canonicalized with c and ended by CRLF; then sig (the DKIM-Signature
 * field with its b= value removed) canonicalized, without CRLF. Returns 0,
 * or -1 on an OpenSSL failure. */
int dkim_message_header_hash(const struct dkim_message *m, enum dkim_canon c,
                             const struct dkim_name *names, size_t count, const char *sig,
                             size_t sig_len, unsigned char digest[32]);

#endif
