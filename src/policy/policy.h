/* policy: the content checks made on a message before the final reply to
 * DATA, so that what is refused is never accepted and bounced later
 * (DESIGN.md: policy judges, smtpd replies and stores).
 *
 * Two entry points, both pure (no I/O, no logging):
 *
 *   policy_header_field()   each field of the message's own header
 *                           section as it streams in: header_checks;
 *   policy_check_message()  the whole message at the end: MIME limits,
 *                           the headers of the MIME parts (mime_header_checks,
 *                           or header_checks when none is set, as Postfix
 *                           does), the body lines of every leaf part
 *                           (body_checks, on the octets as sent: no
 *                           transfer decoding) and every attachment
 *                           (attachment.h), decoded.
 *
 * Both add to one verdict. A stronger action replaces a weaker one (REJECT
 * over DISCARD over QUARANTINE over HOLD over accept), and the first rule
 * of each strength is the one reported. WARN matches, PREPEND lines, a
 * REDIRECT, a FILTER and the rules that hit a PCRE2 limit are collected
 * for the caller to log and apply.
 *
 * FILTER (as Postfix's): the message is accepted as usual, but every one
 * of its recipients, local or remote, goes to the FILTER's next hop (a
 * content filter, reached by smtp: or lmtp:, that hands the message back)
 * instead of its own route. The last FILTER that matches wins; REJECT and
 * DISCARD still win over it; a HOLD or QUARANTINE keeps it for the release;
 * a REDIRECT overrides it (the verdict then has no filter). The next hop is
 * checked with queue/transport's parser: at load (policy_table_usable) when
 * the rule's text is fixed, else after $n expansion (a bad one is logged
 * and the rule skipped). */
#ifndef POSTINO_POLICY_H
#define POSTINO_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "policy/attachment.h"
#include "policy/rules.h"

/* What the administrator configured (0 / NULL: no such check). The tables
 * and the attachment policy are the caller's and outlive the calls. */
struct policy_config {
    unsigned mime_max_depth; /* nesting of multipart and message/rfc822 parts */
    unsigned mime_max_parts; /* MIME parts in all, the message itself counted */
    const struct rule_table *header_checks;
    const struct rule_table *mime_header_checks;
    const struct rule_table *body_checks;
    const struct attachment_policy *attachments;
};

/* What becomes of the message, weakest first. */
enum policy_action {
    POLICY_ACCEPT,     /* store and deliver */
    POLICY_HOLD,       /* stored in the hold queue */
    POLICY_QUARANTINE, /* stored in quarantine */
    POLICY_DISCARD,    /* 250 to the client, then dropped */
    POLICY_REJECT,     /* refuse with code, enh and text */
};

#define POLICY_WHY_MAX 600
/* Bytes of a FILTER next hop ("smtp:[HOST]:PORT" with a 255-byte host
 * fits). */
#define POLICY_FILTER_MAX 300

struct policy_verdict {
    enum policy_action action;
    int code;                           /* POLICY_REJECT: 5xx */
    char enh[16];                       /* its enhanced status code */
    char text[400];                     /* its text, for the client */
    char why[POLICY_WHY_MAX];           /* what decided, in plain words, for the log and trace */
    struct buf prepend;                 /* PREPEND lines (CRLF) for the front of the message */
    struct buf log;                     /* WARN matches and rule errors, one line each (LF) */
    char redirect[RULE_TEXT_MAX + 1];   /* REDIRECT: the one recipient, "" if none */
    char filter[POLICY_FILTER_MAX + 1]; /* FILTER: every recipient's next hop, "" if none */
};

/* Start (and end) a verdict: POLICY_ACCEPT, nothing collected. */
void policy_verdict_init(struct policy_verdict *v);
void policy_verdict_free(struct policy_verdict *v);

/* Check one field of the message's header section (field[0..len), as
 * received, folding and final CRLF included) with header_checks. Returns
 * false if the field is to be removed (IGNORE). A PREPEND's line goes to
 * insert (CRLF-terminated): the caller writes it just before the field. */
bool policy_header_field(const struct policy_config *pc, const char *field, size_t len,
                         struct policy_verdict *v, struct buf *insert);

/* Check data[0..len) (the whole message) and add to v. */
void policy_check_message(const struct policy_config *pc, const char *data, size_t len,
                          struct policy_verdict *v);

/* Whether a table can be used: every FILTER whose text has no $n names a
 * next hop policy_filter_check() accepts. 0, or -1 with a message naming
 * the table and line in *error_r (caller frees). */
int policy_table_usable(const struct rule_table *t, char **error_r);

/* Whether spec can be a FILTER's next hop: at most POLICY_FILTER_MAX bytes,
 * and an smtp: or lmtp: transport as transport_parse() (queue/transport.h)
 * reads it. 0, or -1 with a static reason in *why_r. */
int policy_filter_check(const char *spec, const char **why_r);

/* The name of an action, for logs ("accept", "reject", ...). */
const char *policy_action_name(enum policy_action a);

#endif
