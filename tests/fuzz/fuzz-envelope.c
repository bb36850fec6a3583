/* libFuzzer target: the queue envelope decoder, and a decode/encode round
 * trip (what decodes must encode to the same envelope again). */
#include "fuzz-util.h"
#include "queue/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = fuzz_copy(data, size);
    struct envelope env;
    const char *err = NULL;
    if (envelope_decode(copy, size, &env, &err) == 0) {
        struct buf out;
        buf_init(&out, BUF_UNLIMITED);
        CHECK(envelope_encode(&env, &out) == 0);
        struct envelope back;
        CHECK(envelope_decode(out.data, out.len, &back, &err) == 0);
        CHECK(back.nrcpts == env.nrcpts);
        CHECK(strcmp(back.sender, env.sender) == 0);
        for (size_t i = 0; i < env.nrcpts; i++)
            CHECK(strcmp(back.rcpts[i].addr, env.rcpts[i].addr) == 0);
        struct buf again;
        buf_init(&again, BUF_UNLIMITED);
        CHECK(envelope_encode(&back, &again) == 0);
        CHECK(again.len == out.len && memcmp(again.data, out.data, out.len) == 0);
        buf_free(&again);
        buf_free(&out);
        envelope_free(&back);
        envelope_free(&env);
    } else {
        CHECK(err != NULL);
    }
    free(copy);
    return 0;
}
