#include "policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/str.h"
#include "mime/mime-decode.h"
#include "mime/mime-encoded-word.h"
#include "mime/mime-header.h"
#include "mime/mime-parse.h"
#include "queue/transport.h"

/* The part of a matched line quoted in the reason, at most. */
#define QUOTE_MAX 80
/* Octets of a decoded attachment file name. */
#define NAME_MAX_OCTETS 1024

/* Format into out, cut to fit (these are texts for the log and for a
 * reply line, where the start says enough). */
static void cut_printf(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void cut_printf(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, size, fmt, ap);
    va_end(ap);
    if (n < 0)
        str_copy(out, size, "?");
}

const char *policy_action_name(enum policy_action a)
{
    switch (a) {
    case POLICY_ACCEPT:
        return "accept";
    case POLICY_HOLD:
        return "hold";
    case POLICY_QUARANTINE:
        return "quarantine";
    case POLICY_DISCARD:
        return "discard";
    case POLICY_REJECT:
        return "reject";
    }
    return "?";
}

void policy_verdict_init(struct policy_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->action = POLICY_ACCEPT;
    buf_init(&v->prepend, 64 * 1024);
    buf_init(&v->log, 64 * 1024);
}

void policy_verdict_free(struct policy_verdict *v)
{
    buf_free(&v->prepend);
    buf_free(&v->log);
}

/* Make a the verdict if it is stronger than the one so far; text is the
 * client's (REJECT), why the log's. */
static void decide(struct policy_verdict *v, enum policy_action a, int code, const char *enh,
                   const char *text, const char *why)
{
    if (a <= v->action)
        return;
    v->action = a;
    v->code = code;
    str_copy(v->enh, sizeof(v->enh), enh ? enh : "");
    str_copy(v->text, sizeof(v->text), text ? text : "");
    str_copy(v->why, sizeof(v->why), why);
}

/* A limit crossed: refused with 554 5.6.0 and this text. */
static void refuse(struct policy_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void refuse(struct policy_verdict *v, const char *fmt, ...)
{
    char text[sizeof(v->text)];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n < 0)
        str_copy(text, sizeof(text), "Message refused by the content policy");
    decide(v, POLICY_REJECT, 554, "5.6.0", text, text);
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
    if (pc->mime_max_depth && (depth > pc->mime_max_depth || too_deep))
        refuse(v, "Message refused: MIME parts nested %u%s deep, more than the %u accepted", depth,
               too_deep ? " or more" : "", pc->mime_max_depth);
    else if (pc->mime_max_parts && (m->n_parts > pc->mime_max_parts || too_many))
        refuse(v, "Message refused: %zu%s MIME parts, more than the %u accepted", m->n_parts,
               too_many ? " or more" : "", pc->mime_max_parts);
}

/* subject[0..len) without its final line break. */
static size_t chomp(const char *s, size_t len)
{
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
        len--;
    return len;
}

int policy_filter_check(const char *spec, const char **why_r)
{
    if (strlen(spec) > POLICY_FILTER_MAX) {
        *why_r = "next hop too long";
        return -1;
    }
    struct transport t;
    if (transport_parse(spec, &t, why_r) < 0)
        return -1;
    if (t.kind != TRANSPORT_SMTP && t.kind != TRANSPORT_LMTP) {
        *why_r = "a content filter is reached by smtp: or lmtp:";
        return -1;
    }
    return 0;
}

/* A FILTER matched: its next hop replaces any earlier one (the last one
 * wins), unless a REDIRECT came first (it overrides FILTER). The text was
 * checked at load unless it had $n, so check it again here. */
static void apply_filter(struct policy_verdict *v, const struct rule_match *m, const char *why)
{
    const char *bad;
    if (policy_filter_check(m->text, &bad) < 0) {
        buf_printf(&v->log, "rule skipped: %s line %u: FILTER %s: %s\n", m->file, m->line, m->text,
                   bad);
        return;
    }
    if (v->redirect[0]) {
        buf_printf(&v->log, "FILTER ignored (a REDIRECT overrides it): %s\n", why);
        return;
    }
    str_copy(v->filter, sizeof(v->filter), m->text);
    buf_printf(&v->log, "filter: %s\n", why);
}

/* One rule matched `what` (subject[0..len)): add what it says to v. A
 * PREPEND line goes to insert if given, else to v->prepend. */
static void apply_match(struct policy_verdict *v, const struct rule_match *m, const char *what,
                        const char *subject, size_t len, struct buf *insert)
{
    char quote[QUOTE_MAX * 4 + 8];
    str_printable(quote, sizeof(quote), subject, len < QUOTE_MAX ? len : QUOTE_MAX);
    char why[POLICY_WHY_MAX];
    cut_printf(why, sizeof(why), "%s line %u: %s%s%s for the %s \"%s%s\"", m->file, m->line,
               rule_action_name(m->action), m->text[0] ? " " : "", m->text, what, quote,
               len > QUOTE_MAX ? "..." : "");
    switch (m->action) {
    case RULE_REJECT:
        decide(v, POLICY_REJECT, 550, m->code[0] ? m->code : "5.7.1",
               m->text[0] ? m->text : "Message content rejected", why);
        break;
    case RULE_DISCARD:
        decide(v, POLICY_DISCARD, 250, "2.0.0", NULL, why);
        break;
    case RULE_QUARANTINE:
        decide(v, POLICY_QUARANTINE, 250, "2.0.0", NULL, why);
        break;
    case RULE_HOLD:
        decide(v, POLICY_HOLD, 250, "2.0.0", NULL, why);
        break;
    case RULE_WARN:
        buf_printf(&v->log, "warning: %s\n", why);
        break;
    case RULE_PREPEND: {
        struct buf *out = insert ? insert : &v->prepend;
        if (buf_append(out, m->text, m->text_len) < 0 || buf_append_str(out, "\r\n") < 0)
            buf_printf(&v->log, "PREPEND not done (too many lines): %s\n", why);
        break;
    }
    case RULE_REDIRECT:
        if (!v->redirect[0])
            str_copy(v->redirect, sizeof(v->redirect), m->text);
        buf_printf(&v->log, "redirect: %s\n", why);
        if (v->filter[0]) {
            buf_printf(&v->log, "FILTER %s overridden by the REDIRECT\n", v->filter);
            v->filter[0] = '\0';
        }
        break;
    case RULE_FILTER:
        apply_filter(v, m, why);
        break;
    case RULE_IGNORE: /* the caller drops the field */
    case RULE_DUNNO:
    case RULE_OK:
        break;
    }
}

/* Match subject[0..len) against t; returns the action matched (RULE_DUNNO
 * when none). */
static enum rule_action check_line(const struct rule_table *t, const char *what,
                                   const char *subject, size_t len, struct policy_verdict *v,
                                   struct buf *insert)
{
    struct rule_match m;
    int r = rule_table_match(t, subject, len, &m);
    if (r < 0) {
        buf_printf(&v->log, "rule skipped: %s line %u: %s\n", m.file ? m.file : "?", m.line,
                   m.error);
        return RULE_DUNNO;
    }
    if (r == 0)
        return RULE_DUNNO;
    apply_match(v, &m, what, subject, len, insert);
    return m.action;
}

bool policy_header_field(const struct policy_config *pc, const char *field, size_t len,
                         struct policy_verdict *v, struct buf *insert)
{
    if (!pc->header_checks || v->action == POLICY_REJECT)
        return true;
    return check_line(pc->header_checks, "header", field, chomp(field, len), v, insert) !=
           RULE_IGNORE;
}

/* The header fields of a MIME part, each matched whole (folding kept). */
static void check_part_header(const struct rule_table *t, const char *hdr, size_t len,
                              struct policy_verdict *v)
{
    size_t pos = 0;
    struct mime_field f;
    while (v->action != POLICY_REJECT && mime_header_next(hdr, len, &pos, &f) == 1)
        check_line(t, "MIME header", hdr + f.off, chomp(hdr + f.off, f.len), v, NULL);
}

/* Every line of a leaf part's body, as sent. */
static void check_body_lines(const struct rule_table *t, const char *body, size_t len,
                             struct policy_verdict *v)
{
    size_t pos = 0;
    while (pos < len && v->action != POLICY_REJECT) {
        const char *nl = memchr(body + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - body) + 1 : len;
        check_line(t, "body line", body + pos, chomp(body + pos, end - pos), v, NULL);
        pos = end;
    }
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* A file name parameter into out: an RFC 2231 extended value
 * (charset'language'%XX...) is percent-decoded, a plain one has its
 * encoded words (RFC 2047, as mailers still send) decoded. */
static void decode_name(const char *value, bool extended, struct buf *out)
{
    if (extended) {
        const char *q1 = strchr(value, '\'');
        const char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
        const char *p = q2 ? q2 + 1 : value;
        for (; *p; p++) {
            int hi, lo;
            if (*p == '%' && (hi = hex_value(p[1])) >= 0 && (lo = hex_value(p[2])) >= 0) {
                buf_append_char(out, (char)(hi * 16 + lo));
                p += 2;
            } else {
                buf_append_char(out, *p);
            }
        }
        return;
    }
    if (mime_encoded_words_decode(value, strlen(value), out) < 0)
        return; /* a prefix is what there is */
}

/* The attachment's file name (Content-Disposition filename, else
 * Content-Type name), decoded into out; false if it has none. */
static bool part_file_name(const struct mime_content *c, struct buf *out)
{
    const char *v;
    if ((v = mime_params_get(&c->disposition_params, "filename")))
        decode_name(v, false, out);
    else if ((v = mime_params_get(&c->disposition_params, "filename*")))
        decode_name(v, true, out);
    else if ((v = mime_params_get(&c->type_params, "name")))
        decode_name(v, false, out);
    else if ((v = mime_params_get(&c->type_params, "name*")))
        decode_name(v, true, out);
    return v != NULL;
}

/* One leaf part judged as an attachment: any part with a file name, an
 * attachment disposition or a type other than text. */
static void check_attachment(const struct policy_config *pc, const struct mime_message *m,
                             const struct mime_part *p, struct policy_verdict *v)
{
    const struct mime_content *c = &p->content;
    struct buf name;
    buf_init(&name, NAME_MAX_OCTETS);
    bool named = part_file_name(c, &name);
    bool text = !c->type || str_eq_ci(c->type, "text");
    bool attached = c->disposition && str_eq_ci(c->disposition, "attachment");
    if (!named && !attached && text) {
        buf_free(&name);
        return;
    }
    char ctype[256] = "";
    if (c->type)
        cut_printf(ctype, sizeof(ctype), "%s/%s", c->type, c->subtype ? c->subtype : "");
    struct buf data;
    buf_init(&data, p->body_len + 1);
    mime_decode_body(c->encoding, m->data + p->body_off, p->body_len, &data);
    struct attachment_result res;
    enum attachment_verdict av =
        attachment_inspect(pc->attachments, named ? buf_cstr(&name) : NULL, ctype[0] ? ctype : NULL,
                           data.data, data.len, &res);
    buf_free(&data);
    buf_free(&name);
    if (av == ATTACH_OK)
        return;
    char path[ATTACHMENT_PATH_MAX];
    str_printable(path, sizeof(path), res.path, strlen(res.path));
    char text_out[sizeof(v->text)];
    cut_printf(text_out, sizeof(text_out), "Message refused: attachment %s: %s",
               path[0] ? path : "(no name)", res.reason);
    char why[POLICY_WHY_MAX];
    cut_printf(why, sizeof(why), "attachment %s: %s", path[0] ? path : "(no name)", res.reason);
    switch (attachment_action(pc->attachments, av)) {
    case ATTACH_ACTION_REJECT:
        decide(v, POLICY_REJECT, 554, "5.7.1", text_out, why);
        break;
    case ATTACH_ACTION_QUARANTINE:
        decide(v, POLICY_QUARANTINE, 250, "2.0.0", NULL, why);
        break;
    case ATTACH_ACTION_ACCEPT:
        buf_printf(&v->log, "accepted by the attachment policy: %s\n", why);
        break;
    }
}

void policy_check_message(const struct policy_config *pc, const char *data, size_t len,
                          struct policy_verdict *v)
{
    const struct rule_table *mime_hdr =
        pc->mime_header_checks ? pc->mime_header_checks : pc->header_checks;
    if (v->action == POLICY_REJECT || (!pc->mime_max_depth && !pc->mime_max_parts && !mime_hdr &&
                                       !pc->body_checks && !pc->attachments))
        return;
    struct mime_message *m = mime_message_parse(data ? data : "", len);
    check_mime(pc, m, v);
    for (size_t i = 0; i < m->n_parts && v->action != POLICY_REJECT; i++) {
        const struct mime_part *p = m->parts[i];
        if (p->depth > 0 && mime_hdr)
            check_part_header(mime_hdr, m->data + p->hdr_off, p->hdr_len, v);
        if (p->children)
            continue;
        if (pc->body_checks)
            check_body_lines(pc->body_checks, m->data + p->body_off, p->body_len, v);
        if (pc->attachments && v->action != POLICY_REJECT)
            check_attachment(pc, m, p, v);
    }
    mime_message_free(&m);
}

/* The table being checked, and the message when a rule fails. */
struct usable_ctx {
    const struct rule_table *t;
    char *error;
};

/* rule_table_each() callback: a FILTER's fixed next hop must be one
 * policy_filter_check() accepts. */
static int filter_usable(unsigned line, const char *text, bool has_refs, void *arg)
{
    struct usable_ctx *u = arg;
    const char *why;
    if (has_refs || policy_filter_check(text, &why) == 0)
        return 0; /* with $n: checked after expansion, at each match */
    char show[QUOTE_MAX * 4 + 8];
    str_printable(show, sizeof(show), text, strlen(text) < QUOTE_MAX ? strlen(text) : QUOTE_MAX);
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_printf(&b, "%s:%u: bad FILTER next hop \"%s\": %s", rule_table_name(u->t), line, show, why);
    u->error = buf_steal(&b);
    return -1;
}

int policy_table_usable(const struct rule_table *t, char **error_r)
{
    struct usable_ctx u = {t, NULL};
    if (rule_table_each(t, RULE_FILTER, filter_usable, &u) == 0)
        return 0;
    *error_r = u.error;
    return -1;
}
