#include "policy.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/str.h"
#include "mime/mime-parse.h"

const char *policy_action_name(enum policy_action a)
{
    switch (a) {
    case POLICY_ACCEPT:
        return "accept";
    case POLICY_REJECT:
        return "reject";
    case POLICY_DISCARD:
        return "discard";
    case POLICY_HOLD:
        return "hold";
    case POLICY_QUARANTINE:
        return "quarantine";
    }
    return "?";
}

/* Refuse the message: the client's text and, for the log, why. */
static void reject(struct policy_verdict *v, int code, const char *enh, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reject(struct policy_verdict *v, int code, const char *enh, const char *fmt, ...)
{
    v->action = POLICY_REJECT;
    v->code = code;
    str_copy(v->enh, sizeof(v->enh), enh);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(v->text, sizeof(v->text), fmt, ap);
    va_end(ap);
    if (n < 0)
        str_copy(v->text, sizeof(v->text), "Message refused by the content policy");
    str_copy(v->why, sizeof(v->why), v->text);
}

/* MIME limits: the depth of the deepest part and the number of parts.
 * The parser stops nesting past its own limits (MIME_PARSE_MAX_*); a
 * message that reached them is over any limit configured here. */
static void check_mime(const struct policy_config *pc, const struct mime_message *m,
                       struct policy_verdict *v)
{
    unsigned depth = 0;
    for (size_t i = 0; i < m->n_parts; i++)
        if (m->parts[i]->depth > depth)
            depth = m->parts[i]->depth;
    bool too_many = m->n_parts >= MIME_PARSE_MAX_PARTS;
    bool too_deep = m->limited && !too_many;
    if (pc->mime_max_depth && (depth > pc->mime_max_depth || too_deep)) {
        reject(v, 554, "5.6.0",
               "Message refused: MIME parts nested %u%s deep, more than the %u accepted", depth,
               too_deep ? " or more" : "", pc->mime_max_depth);
        return;
    }
    if (pc->mime_max_parts && (m->n_parts > pc->mime_max_parts || too_many))
        reject(v, 554, "5.6.0", "Message refused: %zu%s MIME parts, more than the %u accepted",
               m->n_parts, too_many ? " or more" : "", pc->mime_max_parts);
}

void policy_check_message(const struct policy_config *pc, const char *data, size_t len,
                          struct policy_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->action = POLICY_ACCEPT;
    if (!pc->mime_max_depth && !pc->mime_max_parts)
        return;
    struct mime_message *m = mime_message_parse(data ? data : "", len);
    check_mime(pc, m, v);
    mime_message_free(&m);
}
