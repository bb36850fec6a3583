/* smtp-client-reply: replies as an SMTP client reads them (RFC 5321 4.2).
 *
 *   Reply-line = *( Reply-code "-" [ textstring ] CRLF )
 *                   Reply-code [ SP textstring ] CRLF
 *
 * Every line of one reply must carry the same code. A bare LF is taken
 * as a line end too (old servers send it; reading a reply leniently
 * cannot smuggle anything). The enhanced status code (RFC 3463) is taken
 * from the first line when it has one. A reply is at most
 * SMTP_CLIENT_REPLY_MAX octets (an EHLO reply with many extensions fits). */
#ifndef POSTINO_SMTP_CLIENT_REPLY_H
#define POSTINO_SMTP_CLIENT_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

#define SMTP_CLIENT_REPLY_MAX 65536
#define SMTP_CLIENT_LINE_MAX  4096

struct smtp_client_reply {
    int code;        /* 100..599 */
    char enh[16];    /* "4.2.0", "" if the reply has none */
    struct buf text; /* the lines' texts (enhanced code of the first line
                      * included), joined with '\n' */
    unsigned lines;
};

enum smtp_reply_parse {
    SMTP_REPLY_NEED_MORE,
    SMTP_REPLY_DONE, /* a whole reply is in *out */
    SMTP_REPLY_BAD,  /* not an SMTP reply: give up on this connection */
};

struct smtp_reply_parser {
    struct smtp_client_reply cur;
    bool started;
};

void smtp_reply_parser_init(struct smtp_reply_parser *p);
void smtp_reply_parser_free(struct smtp_reply_parser *p);
void smtp_client_reply_init(struct smtp_client_reply *r);
void smtp_client_reply_free(struct smtp_client_reply *r);

/* Read from data[0..n). *used is set to the octets consumed. On DONE the
 * reply is moved to *out (which the caller frees; init it first) and the
 * parser is ready for the next one. */
enum smtp_reply_parse smtp_reply_parse(struct smtp_reply_parser *p, const char *data, size_t n,
                                       size_t *used, struct smtp_client_reply *out);

/* The reply on one line, for logs and DSNs: "550 5.1.1 text text". */
void smtp_client_reply_flat(const struct smtp_client_reply *r, struct buf *out);

#endif
