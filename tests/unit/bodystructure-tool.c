/* bodystructure-tool: print what an IMAP FETCH of
 * (RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE) returns for a message file:
 *
 *   bodystructure-tool FILE
 *
 * prints "RFC822.SIZE n ENVELOPE (...) BODY (...) BODYSTRUCTURE (...)".
 * The file is read as a message stored by APPEND: every bare LF becomes
 * CRLF first (a bare CR stays), as the reference responses in
 * tests/testdata/mime/imap-fixtures were made. Used by the conformance
 * test (tests/unit/test-imap-conformance.c does the same in-process) and
 * by hand when a difference needs looking at. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-bodystructure.h"
#include "imap/imap-envelope.h"
#include "lib/buf.h"
#include "mime/mime-parse.h"

#define TOOL_MESSAGE_MAX (64 * 1024 * 1024)

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bodystructure-tool FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    struct buf msg;
    buf_init(&msg, TOOL_MESSAGE_MAX);
    int c, prev = 0;
    while ((c = getc(f)) != EOF) {
        if (c == '\n' && prev != '\r' && buf_append_char(&msg, '\r') < 0)
            break;
        if (buf_append_char(&msg, (char)c) < 0)
            break;
        prev = c;
    }
    bool too_big = c != EOF;
    fclose(f);
    if (too_big) {
        fprintf(stderr, "%s: larger than %d bytes\n", argv[1], TOOL_MESSAGE_MAX);
        buf_free(&msg);
        return 1;
    }
    struct mime_message *m = mime_message_parse(msg.data ? msg.data : "", msg.len);
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    buf_printf(&out, "RFC822.SIZE %zu ENVELOPE ", msg.len);
    imap_envelope_write(&out, m->data + m->root->hdr_off, m->root->hdr_len);
    buf_append_str(&out, " BODY ");
    imap_bodystructure_write(&out, m, m->root, false);
    buf_append_str(&out, " BODYSTRUCTURE ");
    imap_bodystructure_write(&out, m, m->root, true);
    fwrite(out.data, 1, out.len, stdout);
    putchar('\n');
    buf_free(&out);
    mime_message_free(&m);
    buf_free(&msg);
    return 0;
}
