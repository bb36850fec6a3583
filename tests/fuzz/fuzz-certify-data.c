/* Fuzz target: the data part of a certified receipt (daticert.xml), as
 * read from a receipt off the network by verification.
 *
 * Besides not crashing, whatever is accepted must be within the limits,
 * writable again, and parse back from what is written to the same data. */
#include <stdbool.h>

#include "certify/certify-data.h"
#include "fuzz-util.h"
#include "lib/buf.h"
#include "lib/str.h"

/* Two parses of the same content must agree field by field. */
static void check_same(const struct certify_data *a, const struct certify_data *b)
{
    CHECK(a->type == b->type && a->error == b->error);
    CHECK(strcmp(a->sender, b->sender) == 0 && strcmp(a->subject, b->subject) == 0);
    CHECK(a->n_rcpts == b->n_rcpts);
    for (size_t i = 0; i < a->n_rcpts; i++)
        CHECK(strcmp(a->rcpts[i].addr, b->rcpts[i].addr) == 0 &&
              a->rcpts[i].certified == b->rcpts[i].certified);
    CHECK(strcmp(a->service, b->service) == 0 && strcmp(a->id, b->id) == 0 &&
          strcmp(a->msgid, b->msgid) == 0);
    CHECK(a->time == b->time && a->zone_minutes == b->zone_minutes);
    CHECK(strcmp(a->delivery, b->delivery) == 0);
    CHECK(a->has_receipt_kind == b->has_receipt_kind);
    CHECK(!a->has_receipt_kind || a->receipt == b->receipt);
    CHECK(strcmp(a->original_sha256, b->original_sha256) == 0);
    CHECK(a->n_parts == b->n_parts);
    for (size_t i = 0; i < a->n_parts; i++)
        CHECK(strcmp(a->parts[i].path, b->parts[i].path) == 0 &&
              strcmp(a->parts[i].type, b->parts[i].type) == 0 &&
              strcmp(a->parts[i].sha256, b->parts[i].sha256) == 0);
    CHECK(strcmp(a->error_ext, b->error_ext) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_copy(data, size);
    struct certify_data d;
    const char *why = NULL;
    if (certify_data_parse(in, size, &d, &why) < 0) {
        CHECK(why != NULL);
        certify_data_free(&d);
        free(in);
        return 0;
    }
    CHECK(d.n_rcpts <= CERTIFY_MAX_RECIPIENTS && d.n_parts <= CERTIFY_MAX_PART_HASHES);
    CHECK(certify_type_name(d.type) != NULL && certify_error_name(d.error) != NULL);
    CHECK(str_utf8_valid(d.subject, strlen(d.subject)));
    struct buf out;
    buf_init(&out, CERTIFY_DATA_MAX);
    CHECK(certify_data_write(&d, &out, &why) == 0);
    char *again = fuzz_copy(out.data, out.len);
    struct certify_data d2;
    CHECK(certify_data_parse(again, out.len, &d2, &why) == 0);
    check_same(&d, &d2);
    certify_data_free(&d2);
    certify_data_free(&d);
    free(again);
    buf_free(&out);
    free(in);
    return 0;
}
