/* transport: where the mail of a recipient goes (the "next hop").
 *
 *   smtp:DOMAIN[:PORT]       the MX hosts of DOMAIN (A/AAAA without MX)
 *   smtp:[HOST][:PORT]       HOST itself, no MX lookup (a smarthost)
 *   lmtp:[HOST]:PORT         an LMTP server over TCP (no MX lookup)
 *   lmtp:unix:/PATH          an LMTP server on a Unix socket (Dovecot)
 *   local                    the mailboxes of this server
 *   error:X.Y.Z TEXT         refuse: 5.x.x bounces, 4.x.x defers
 *   discard                  accept and drop (logged)
 */
#ifndef POSTINO_TRANSPORT_H
#define POSTINO_TRANSPORT_H

#include <stdbool.h>

enum transport_kind {
    TRANSPORT_LOCAL,
    TRANSPORT_SMTP,
    TRANSPORT_LMTP,
    TRANSPORT_ERROR,
    TRANSPORT_DISCARD,
};

struct transport {
    enum transport_kind kind;
    char host[256]; /* SMTP/LMTP over TCP: a name or an IP address */
    int port;
    bool mx;         /* look up the MX records of host */
    char path[108];  /* LMTP over a Unix socket */
    char error[300]; /* ERROR: "5.1.1 text" */
};

/* Parse a next hop. 0, or -1 with a static reason in *error_r. */
int transport_parse(const char *spec, struct transport *out, const char **error_r);

#endif
