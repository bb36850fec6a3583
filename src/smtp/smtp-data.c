#include "smtp-data.h"

#include <string.h>

#include "lib/str.h"

enum {
    ST_BOL,    /* at the beginning of a line */
    ST_TEXT,   /* inside a line */
    ST_CR,     /* inside a line, after CR */
    ST_DOT,    /* after "." at the beginning of a line (DATA only) */
    ST_DOT_CR, /* after "." CR at the beginning of a line */
};

void smtp_data_init(struct smtp_data_parser *p, bool dots)
{
    memset(p, 0, sizeof(*p));
    p->state = ST_BOL;
    p->dots = dots;
    p->in_header = true;
}

/* Hand out a run of message octets and count them. */
static void emit(struct smtp_data_parser *p, const char *data, size_t len, smtp_data_output_fn *out,
                 void *ctx)
{
    if (len == 0)
        return;
    p->size += len;
    out(ctx, data, len);
}

/* A CRLF ended the current line. */
static void end_line(struct smtp_data_parser *p)
{
    if (p->mid_state == 1)
        p->mid_state = 2;
    if (p->in_header) {
        p->header_size += p->line_len + 2;
        if (p->line_len == 0)
            p->in_header = false;
        else if (p->head_len >= 9 && str_eqn_ci(p->head, "received:", 9))
            p->received++;
    }
    p->line_len = 0;
    p->head_len = 0;
    p->state = ST_BOL;
}

size_t smtp_data_feed(struct smtp_data_parser *p, const char *data, size_t n,
                      smtp_data_output_fn *out, void *ctx)
{
    size_t run = 0; /* start of the octets not yet handed out */
    if (p->done)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)data[i];
        switch (p->state) {
        case ST_BOL:
            if (p->dots && c == '.') {
                emit(p, data + run, i - run, out, ctx);
                run = i + 1;
                p->state = ST_DOT;
                continue;
            }
            goto text;
        case ST_DOT:
            if (c == '\r') {
                run = i + 1;
                p->state = ST_DOT_CR;
                continue;
            }
            /* A stuffed line: its first dot is gone (RFC 5321 4.5.2). */
            goto text;
        case ST_DOT_CR:
            if (c == '\n') {
                p->done = true;
                return i + 1;
            }
            /* "." CR then not LF: a bare CR, and not the end. */
            p->errors |= SMTP_DATA_BARE_CR;
            emit(p, "\r", 1, out, ctx);
            p->line_len++;
            goto text;
        case ST_CR:
            if (c == '\n') {
                end_line(p);
                continue;
            }
            p->errors |= SMTP_DATA_BARE_CR;
            goto text;
        case ST_TEXT:
        text:
            p->state = ST_TEXT;
            if (c == '\r') {
                p->state = ST_CR;
                continue;
            }
            if (c == '\n') {
                /* A bare LF never ends a line: the line goes on. */
                p->errors |= SMTP_DATA_BARE_LF;
                continue;
            }
            if (c == '\0')
                p->errors |= SMTP_DATA_NUL;
            else if (c >= 0x80)
                p->has_8bit = true;
            if (++p->line_len > SMTP_TEXT_LINE_MAX)
                p->errors |= SMTP_DATA_LONG_LINE;
            if (p->in_header) {
                if (p->line_len == 1 && c != ' ' && c != '\t') {
                    p->header_fields++; /* not a continuation: a new field */
                    p->in_subject = false;
                }
                /* the Subject: value unfolded: every octet after the colon
                 * on its first line and on its continuation lines */
                if (p->in_subject && ++p->subject_cur > p->subject_len)
                    p->subject_len = p->subject_cur;
                if (p->line_len == 1 && p->mid_state == 2 && c != ' ' && c != '\t')
                    p->mid_state = 0; /* not a continuation: the field ended */
                if (p->mid_state && p->mid_len < sizeof(p->message_id) - 1 &&
                    (p->mid_len > 0 || (c != ' ' && c != '\t')))
                    p->message_id[p->mid_len++] = (char)c;
                if (p->head_len < sizeof(p->head) - 1) {
                    p->head[p->head_len++] = (char)c;
                    if (p->head_len == 8 && str_eqn_ci(p->head, "subject:", 8)) {
                        p->in_subject = true;
                        p->subject_cur = 0;
                    }
                    if (p->head_len == 11 && !p->mid_len && str_eqn_ci(p->head, "message-id:", 11))
                        p->mid_state = 1;
                }
            }
            break;
        }
    }
    emit(p, data + run, n - run, out, ctx);
    return n;
}

bool smtp_data_finish_chunks(struct smtp_data_parser *p)
{
    if (p->state == ST_CR) {
        p->errors |= SMTP_DATA_BARE_CR;
        return false;
    }
    return p->state == ST_TEXT;
}
