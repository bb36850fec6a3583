/* libFuzzer target: the frames the queue manager and deliver-local send
 * each other (a confused or hostile peer must be refused, never misread). */
#include "deliver/deliver-ipc.h"
#include "fuzz-util.h"
#include "lib/ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t flen;
    if (ipc_frame_peek(data, size, &flen) != 1)
        return 0;
    char *frame = fuzz_copy(data, flen);
    struct deliver_job j;
    if (deliver_decode_request(frame, flen, &j) == 0) {
        struct buf out;
        buf_init(&out, BUF_UNLIMITED);
        CHECK(deliver_encode_request(&j, &out) == 0);
        CHECK(out.len == flen && memcmp(out.data, frame, flen) == 0);
        buf_free(&out);
        deliver_job_free(&j);
    }
    if (deliver_decode_result(frame, flen, &j) == 0) {
        struct buf out;
        buf_init(&out, BUF_UNLIMITED);
        CHECK(deliver_encode_result(&j, &out) == 0);
        CHECK(out.len == flen && memcmp(out.data, frame, flen) == 0);
        buf_free(&out);
        deliver_job_free(&j);
    }
    free(frame);
    return 0;
}
