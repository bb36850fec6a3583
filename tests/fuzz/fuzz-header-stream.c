/* libFuzzer target: the header section of arriving messages, field by
 * field (mime/header-stream), and the recognition of Authentication-
 * Results fields that claim to be ours. Whatever the split of the input,
 * what is kept comes out unchanged and in order, and dropping forged
 * fields removes exactly the fields dropped. */
#include "auth/auth-results.h"
#include "fuzz-util.h"
#include "lib/buf.h"
#include "mime/header-stream.h"

struct sink {
    struct buf out;
    size_t dropped; /* octets of the fields dropped */
    bool drop;
};

static bool on_field(void *arg, const char *field, size_t len)
{
    struct sink *s = arg;
    CHECK(len > 0 && len <= HEADER_STREAM_FIELD_MAX);
    if (s->drop && auth_results_claims(field, len, "mx.example.test")) {
        s->dropped += len;
        return false;
    }
    return true;
}

static void on_out(void *arg, const char *data, size_t len)
{
    struct sink *s = arg;
    buf_append(&s->out, data, len);
}

static void run(const uint8_t *data, size_t size, size_t step, bool drop, struct sink *s)
{
    buf_init(&s->out, BUF_UNLIMITED);
    s->dropped = 0;
    s->drop = drop;
    struct header_stream *hs = header_stream_new(on_field, on_out, s);
    for (size_t i = 0; i < size; i += step)
        header_stream_feed(hs, (const char *)data + i, size - i < step ? size - i : step);
    header_stream_finish(hs);
    header_stream_free(&hs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = data[0] % 17 + 1;
    data++;
    size--;
    char *copy = fuzz_copy(data, size);
    struct sink keep, drop;
    run((const uint8_t *)copy, size, step, false, &keep);
    CHECK(keep.out.len == size && (size == 0 || memcmp(keep.out.data, copy, size) == 0));
    run((const uint8_t *)copy, size, size ? size : 1, true, &drop);
    CHECK(drop.out.len + drop.dropped == size);
    buf_free(&keep.out);
    buf_free(&drop.out);
    free(copy);
    return 0;
}
