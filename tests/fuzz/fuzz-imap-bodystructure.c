/* libFuzzer target: a message parsed into its MIME tree, then ENVELOPE,
 * BODY and BODYSTRUCTURE written, HEADER.FIELDS filtered, a few sections
 * resolved and the SEARCH decoders (encoded words, transfer encodings)
 * run. Checks that every part lies inside the message and inside its
 * parent, that the writers and decoders succeed within their bounds and
 * that section ranges stay inside the data. */
#include "fuzz-util.h"
#include "imap/imap-bodystructure.h"
#include "imap/imap-envelope.h"
#include "mime/mime-decode.h"
#include "mime/mime-encoded-word.h"
#include "mime/mime-header.h"
#include "mime/mime-parse.h"
#include "mime/mime-section.h"

static void check_section(const struct mime_message *m, const unsigned *path, size_t n,
                          enum mime_section_kind kind)
{
    struct mime_section s;
    memset(&s, 0, sizeof(s));
    memcpy(s.path, path, n * sizeof(*path));
    s.n_path = n;
    s.kind = kind;
    size_t off, len;
    if (mime_section_range(m, &s, &off, &len) == 0)
        CHECK(off <= m->len && len <= m->len - off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_copy(data, size);
    struct mime_message *m = mime_message_parse(in, size);
    CHECK(m->n_parts >= 1 && m->n_parts <= MIME_PARSE_MAX_PARTS);
    for (size_t i = 0; i < m->n_parts; i++) {
        const struct mime_part *p = m->parts[i];
        CHECK(p->hdr_off + p->hdr_len == p->body_off);
        CHECK(p->body_off + p->body_len <= size);
        CHECK(p->depth <= MIME_PARSE_MAX_DEPTH);
        if (p->parent) {
            CHECK(p->hdr_off >= p->parent->body_off);
            CHECK(p->body_off + p->body_len <= p->parent->body_off + p->parent->body_len);
        }
    }
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    CHECK(imap_envelope_write(&out, in + m->root->hdr_off, m->root->hdr_len) == 0);
    CHECK(imap_bodystructure_write(&out, m, m->root, false) == 0);
    CHECK(imap_bodystructure_write(&out, m, m->root, true) == 0);
    static const char *const names[] = {"Subject", "From", "Content-Type"};
    CHECK(mime_header_filter(in + m->root->hdr_off, m->root->hdr_len, names, 3, true, &out) == 0);
    /* the SEARCH decoders on the root's header and body */
    buf_reset(&out);
    out.max = 4 * size + 64;
    CHECK(mime_encoded_words_decode(in + m->root->hdr_off, m->root->hdr_len, &out) == 0);
    buf_reset(&out);
    CHECK(mime_decode_body(m->root->content.encoding, in + m->root->body_off, m->root->body_len,
                           &out) == 0);
    buf_free(&out);

    static const unsigned paths[][3] = {{1, 0, 0}, {2, 0, 0}, {1, 1, 0}, {1, 2, 0}, {2, 1, 1}};
    static const size_t lens[] = {1, 1, 2, 2, 3};
    for (size_t i = 0; i < 5; i++) {
        for (int k = MIME_SECTION_BODY; k <= MIME_SECTION_MIME; k++)
            check_section(m, paths[i], lens[i], (enum mime_section_kind)k);
    }
    check_section(m, paths[0], 0, MIME_SECTION_HEADER);
    check_section(m, paths[0], 0, MIME_SECTION_TEXT);
    mime_message_free(&m);
    free(in);
    return 0;
}
