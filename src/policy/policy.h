/* policy: the content checks made on a whole message before the final
 * reply to DATA, so that what is refused is never accepted and bounced
 * later (DESIGN.md: policy judges, smtpd replies and stores).
 *
 * The checks here look at the message as received (CRLF lines, the
 * header fields postino added in front included): its MIME structure
 * against the configured limits. The checks made while the message
 * streams in (line lengths, Received: count, header section limits) are
 * the SMTP server's (smtp-server.h). */
#ifndef POSTINO_POLICY_H
#define POSTINO_POLICY_H

#include <stddef.h>

/* What the administrator configured (0: no limit). */
struct policy_config {
    unsigned mime_max_depth; /* nesting of multipart and message/rfc822 parts */
    unsigned mime_max_parts; /* MIME parts in all, the message itself counted */
};

/* What becomes of the message. */
enum policy_action {
    POLICY_ACCEPT,     /* store and deliver */
    POLICY_REJECT,     /* refuse with code, enh and text */
    POLICY_DISCARD,    /* 250 to the client, then dropped */
    POLICY_HOLD,       /* stored in the hold queue */
    POLICY_QUARANTINE, /* stored in quarantine */
};

struct policy_verdict {
    enum policy_action action;
    int code;       /* POLICY_REJECT: 5xx or 4xx */
    char enh[16];   /* its enhanced status code */
    char text[400]; /* its text, for the client */
    char why[300];  /* what decided, in plain words, for the log and trace */
};

/* Check data[0..len) (the whole message) and fill v; v->action is
 * POLICY_ACCEPT when nothing objects. Never fails. */
void policy_check_message(const struct policy_config *pc, const char *data, size_t len,
                          struct policy_verdict *v);

/* The name of an action, for logs ("accept", "reject", ...). */
const char *policy_action_name(enum policy_action a);

#endif
