/* header-stream: field-at-a-time view of a streaming header section. */
#include "header-stream.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"

struct header_stream {
    header_stream_field_fn *field_fn;
    header_stream_out_fn *out_fn;
    void *arg;
    struct buf field; /* the field being gathered */
    bool have_field;  /* field holds the start of one */
    bool passing;     /* the current field was too long: it goes on unseen */
    bool in_body;
    bool line_start; /* the next octet starts a line */
};

struct header_stream *header_stream_new(header_stream_field_fn *field, header_stream_out_fn *out,
                                        void *arg)
{
    struct header_stream *hs = xcalloc(1, sizeof(*hs));
    hs->field_fn = field;
    hs->out_fn = out;
    hs->arg = arg;
    hs->line_start = true;
    buf_init(&hs->field, BUF_UNLIMITED);
    return hs;
}

/* The gathered field is complete: ask about it, pass it on or drop it. */
static void end_field(struct header_stream *hs)
{
    /* lines before the first field (continuations of nothing) go on as
     * they are: only a field can be dropped */
    if (hs->field.len && (!hs->have_field || hs->field_fn(hs->arg, hs->field.data, hs->field.len)))
        hs->out_fn(hs->arg, hs->field.data, hs->field.len);
    buf_reset(&hs->field);
    hs->have_field = false;
    hs->passing = false;
}

void header_stream_feed(struct header_stream *hs, const char *data, size_t len)
{
    size_t i = 0;
    while (i < len && !hs->in_body) {
        if (hs->line_start) {
            char c = data[i];
            if (c == ' ' || c == '\t') {
                /* a continuation line: part of the field being gathered */
            } else {
                end_field(hs);
                if (c == '\r' || c == '\n') {
                    /* the empty line: the body follows */
                    hs->in_body = true;
                    break;
                }
                hs->have_field = true;
            }
        }
        const char *nl = memchr(data + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (data + i)) + 1 : len - i;
        if (hs->passing) {
            hs->out_fn(hs->arg, data + i, n);
        } else if (hs->field.len + n > HEADER_STREAM_FIELD_MAX) {
            /* too long to look at: what is gathered goes on as it is */
            hs->out_fn(hs->arg, hs->field.data, hs->field.len);
            hs->out_fn(hs->arg, data + i, n);
            buf_reset(&hs->field);
            hs->passing = true;
        } else {
            buf_append(&hs->field, data + i, n);
        }
        hs->line_start = nl != NULL;
        i += n;
    }
    if (i < len)
        hs->out_fn(hs->arg, data + i, len - i);
}

void header_stream_finish(struct header_stream *hs)
{
    if (!hs->in_body)
        end_field(hs);
}

bool header_stream_in_body(const struct header_stream *hs)
{
    return hs->in_body;
}

void header_stream_free(struct header_stream **hsp)
{
    struct header_stream *hs = *hsp;
    if (!hs)
        return;
    buf_free(&hs->field);
    free(hs);
    *hsp = NULL;
}

bool header_field_is(const char *field, size_t len, const char *name)
{
    size_t n = strlen(name);
    if (len <= n || !str_eqn_ci(field, name, n))
        return false;
    size_t i = n;
    while (i < len && (field[i] == ' ' || field[i] == '\t'))
        i++; /* obsolete syntax allows blanks before the colon */
    return i < len && field[i] == ':';
}
