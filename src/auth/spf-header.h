/* spf-header: the Received-SPF header field (RFC 7208 9.1) that records an
 * SPF result in the message. */
#ifndef POSTINO_SPF_HEADER_H
#define POSTINO_SPF_HEADER_H

#include <stdbool.h>

#include "spf.h"

struct buf;

struct spf_header_info {
    const char *ip;       /* the client address */
    const char *sender;   /* MAIL FROM, "" for the null sender */
    const char *helo;     /* the HELO/EHLO name */
    const char *receiver; /* our host name */
};

/* Append "Received-SPF: ..." with its CRLF, folded. Text that came from
 * DNS or from the client is reduced to printable ASCII outside quotes and
 * comments' special characters. */
void spf_header_received(struct buf *out, const struct spf_outcome *o,
                         const struct spf_header_info *info);

#endif
