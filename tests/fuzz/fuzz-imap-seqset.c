/* Fuzz target: IMAP sequence sets.
 *
 * The input is "MAX:SET" or just a set (max then comes from its length).
 * A set that parses must write out and parse back to the same ranges;
 * once resolved it must be sorted and merged, agree with the unresolved
 * membership test, and iterate in order over exactly its size. */
#include <stdbool.h>

#include "fuzz-util.h"
#include "imap/imap-seqset.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t max = (uint32_t)(size * 7);
    const uint8_t *colon = memchr(data, '|', size);
    if (colon) {
        max = 0;
        for (const uint8_t *d = data; d < colon && d < data + 9; d++)
            max = max * 10 + (uint32_t)(*d & 7);
        size -= (size_t)(colon + 1 - data);
        data = colon + 1;
    }
    char *s = fuzz_copy(data, size);
    struct imap_seqset set, again;
    imap_seqset_init(&set);
    imap_seqset_init(&again);
    const char *err = NULL;
    int r = imap_seqset_parse(s, size, &set, &err);
    CHECK((r == 0) == imap_seqset_valid(s, size) || (r != 0 && set.count == 0));
    if (r != 0) {
        CHECK(err != NULL && set.count == 0);
        goto out;
    }
    CHECK(set.count > 0 && set.count <= IMAP_SEQSET_RANGES_MAX);
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    CHECK(imap_seqset_write(&set, &b) == 0);
    CHECK(imap_seqset_parse(b.data, b.len, &again, &err) == 0);
    CHECK(again.count == set.count);
    CHECK(memcmp(again.ranges, set.ranges, set.count * sizeof(*set.ranges)) == 0);
    buf_free(&b);

    imap_seqset_resolve(&again, max);
    for (size_t i = 0; i < again.count; i++) {
        CHECK(again.ranges[i].lo >= 1 && again.ranges[i].lo <= again.ranges[i].hi);
        if (i > 0)
            CHECK((uint64_t)again.ranges[i - 1].hi + 1 < again.ranges[i].lo);
    }
    /* Membership agrees around every range end. */
    for (size_t i = 0; i < set.count && i < 64; i++) {
        uint32_t probes[] = {set.ranges[i].lo,
                             set.ranges[i].lo - 1,
                             set.ranges[i].lo + 1,
                             set.ranges[i].hi,
                             set.ranges[i].hi + 1,
                             max,
                             max + 1,
                             1};
        for (size_t k = 0; k < sizeof(probes) / sizeof(probes[0]); k++)
            CHECK(imap_seqset_contains(&again, probes[k]) ==
                  imap_seqset_contains_max(&set, probes[k], max));
    }
    uint64_t total = imap_seqset_size(&again);
    if (total <= 100000) {
        struct imap_seqset_iter it = {0};
        uint32_t n, prev = 0;
        uint64_t count = 0;
        while (imap_seqset_next(&again, &it, &n)) {
            CHECK(n > prev || count == 0);
            CHECK(imap_seqset_contains(&again, n));
            prev = n;
            count++;
        }
        CHECK(count == total);
        if (count)
            CHECK(prev == imap_seqset_last(&again));
    }
    imap_seqset_clamp(&again, max);
    CHECK(imap_seqset_last(&again) <= max);
out:
    imap_seqset_free(&set);
    imap_seqset_free(&again);
    free(s);
    return 0;
}
