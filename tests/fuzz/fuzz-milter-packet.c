/* Fuzz target: the bytes a milter sends, through the incremental reader
 * (cut at places chosen from the input) and the reply decoder. Besides
 * not crashing or reading past the input, every packet must be within
 * MILTER_PACKET_MAX, and every decoded field bounded and free of the
 * bytes its kind forbids (names, addresses and reply lines reach log
 * lines, SMTP replies and the message header). */
#include <stdbool.h>

#include "fuzz-util.h"
#include "policy/milter-packet.h"

/* No control byte (8-bit allowed). */
static void check_text(const char *s, size_t max)
{
    size_t n = strlen(s);
    CHECK(n <= max);
    for (size_t i = 0; i < n; i++)
        CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] != 0x7f);
}

static void check_reply(char cmd, const char *data, size_t len)
{
    struct milter_reply r;
    const char *error = NULL;
    if (milter_reply_decode(cmd, data, len, &r, &error) != 0) {
        CHECK(error != NULL);
        return;
    }
    CHECK(r.cmd == cmd);
    size_t n;
    switch (cmd) {
    case SMFIR_REPLYCODE:
        CHECK(r.code >= 400 && r.code <= 599);
        n = strlen(r.line);
        CHECK(n <= MILTER_REPLY_LINE_MAX);
        for (size_t i = 0; i < n; i++)
            CHECK(r.line[i] >= 0x20 && r.line[i] < 0x7f);
        CHECK(r.enh[0] == '\0' || r.enh[0] == r.line[0]);
        CHECK(strlen(r.enh) <= MILTER_ENH_MAX);
        CHECK(r.text >= r.line && r.text <= r.line + n);
        break;
    case SMFIR_ADDHEADER:
    case SMFIR_INSHEADER:
    case SMFIR_CHGHEADER:
        n = strlen(r.name);
        CHECK(n > 0 && n <= MILTER_FIELD_NAME_MAX);
        for (size_t i = 0; i < n; i++)
            CHECK(r.name[i] > 0x20 && r.name[i] < 0x7f && r.name[i] != ':');
        n = strlen(r.value);
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)r.value[i];
            if (c == '\n')
                CHECK(i + 1 < n && (r.value[i + 1] == ' ' || r.value[i + 1] == '\t'));
            else if (c == '\r')
                CHECK(i + 1 < n && r.value[i + 1] == '\n');
            else
                CHECK((c >= 0x20 || c == '\t') && c != 0x7f);
        }
        break;
    case SMFIR_ADDRCPT:
    case SMFIR_DELRCPT:
    case SMFIR_CHGFROM:
        CHECK(r.name[0] != '\0');
        check_text(r.name, MILTER_ADDRESS_MAX);
        check_text(r.value, MILTER_ADDRESS_MAX);
        break;
    case SMFIR_QUARANTINE:
        CHECK(r.name[0] != '\0');
        check_text(r.name, MILTER_REPLY_LINE_MAX);
        break;
    case SMFIR_REPLBODY:
        CHECK(r.body_len == len);
        break;
    case SMFIR_OPTNEG:
        CHECK(len >= 12);
        break;
    default:
        CHECK(len == 0);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_rng rng;
    fuzz_rng_init(&rng, data, size);
    struct milter_reader rd;
    milter_reader_init(&rd);
    size_t pos = 0;
    while (pos < size) {
        size_t piece = fuzz_rng_piece(&rng, size - pos);
        char *p = fuzz_copy(data + pos, piece);
        size_t off = 0;
        int rc = 0;
        while (off < piece) {
            size_t used;
            rc = milter_reader_push(&rd, p + off, piece - off, &used);
            CHECK(used <= piece - off);
            off += used;
            if (rc < 0)
                break;
            if (rc == 1) {
                char cmd;
                const char *d;
                size_t len;
                milter_reader_packet(&rd, &cmd, &d, &len);
                CHECK(len + 1 <= MILTER_PACKET_MAX);
                CHECK(d[len] == '\0');
                char *copy = fuzz_copy(d, len);
                check_reply(cmd, copy, len);
                free(copy);
            } else {
                CHECK(off == piece);
            }
        }
        free(p);
        if (rc < 0)
            break;
        pos += piece;
    }
    milter_reader_free(&rd);
    return 0;
}
