/* smtp-data: the DATA stream (RFC 5321 4.1.1.4, 4.5.2) and BDAT chunks.
 *
 * Bytes go in, the message comes out: lines with their CRLF, dot-stuffing
 * removed, up to the end mark CRLF "." CRLF, and not one byte further (what
 * follows is the next pipelined command). Only CRLF ends a line, so the
 * smuggling sequences LF "." LF, LF "." CRLF, CR "." CR LF and CRLF "." CR
 * never end the data: they are marked as errors and the message is
 * rejected at the real end. The same checker runs over BDAT chunks, with
 * no dot handling and no end mark. */
#ifndef POSTINO_SMTP_DATA_H
#define POSTINO_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_TEXT_LINE_MAX 998 /* octets, CRLF excluded (RFC 5322 2.1.1) */

/* Error flags found in the message. */
#define SMTP_DATA_BARE_LF   0x01u
#define SMTP_DATA_BARE_CR   0x02u
#define SMTP_DATA_NUL       0x04u
#define SMTP_DATA_LONG_LINE 0x08u

/* Called with each run of message octets (dot-stuffing removed). */
typedef void smtp_data_output_fn(void *ctx, const char *data, size_t len);

struct smtp_data_parser {
    int state;
    bool dots;               /* DATA (dot-stuffed, end mark) or BDAT (raw chunks) */
    bool done;               /* the end mark was seen */
    unsigned errors;         /* SMTP_DATA_* */
    size_t line_len;         /* octets of the current line so far */
    unsigned long long size; /* octets of message output so far */
    bool has_8bit;
    /* Header section tracking, for the Received: hop count and the
     * limits the server applies at the end (smtp_server_settings). */
    bool in_header;
    unsigned received;              /* Received: header fields seen */
    unsigned header_fields;         /* header fields seen */
    unsigned long long header_size; /* octets of the header section so far */
    size_t subject_len;             /* octets of the longest Subject: value, unfolded */
    size_t subject_cur;             /* ... of the Subject: field being read */
    bool in_subject;                /* inside a Subject: field's value */
    char head[12];                  /* the first octets of the current line */
    size_t head_len;
    /* The Message-ID: field's value (for the trace), as found. */
    char message_id[256];
    size_t mid_len;
    int mid_state; /* 0 not in it, 1 in it, 2 it may go on in a continuation line */
};

/* Start a message: dots = true for DATA, false for BDAT. */
void smtp_data_init(struct smtp_data_parser *p, bool dots);
/* Feed data[0..n); output runs go to out(ctx, ...). Returns the octets
 * consumed: all of them, except that DATA stops right after the end mark
 * (then p->done is set). */
size_t smtp_data_feed(struct smtp_data_parser *p, const char *data, size_t n,
                      smtp_data_output_fn *out, void *ctx);
/* At the end of the last BDAT chunk. Returns true if the last line lacks
 * its CRLF, which the caller then appends (RFC 5322 lines end in CRLF). */
bool smtp_data_finish_chunks(struct smtp_data_parser *p);

#endif
