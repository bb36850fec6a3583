/* fuzz-util: small helpers shared by the libFuzzer targets. */
#ifndef POSTINO_FUZZ_UTIL_H
#define POSTINO_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: a violation is a crash for libFuzzer. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A heap copy of exactly n bytes without a terminator, so that ASan
 * reports any read past the end. Free with free(). */
static inline char *fuzz_copy(const void *data, size_t n)
{
    char *p = malloc(n ? n : 1);
    if (!p)
        abort();
    if (n)
        memcpy(p, data, n);
    return p;
}

/* A deterministic generator seeded from the input, for choosing where to
 * split it: the same input always gives the same pieces. */
struct fuzz_rng {
    uint64_t s;
};

static inline void fuzz_rng_init(struct fuzz_rng *r, const uint8_t *data, size_t size)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 0x100000001b3ULL;
    r->s = h ? h : 1;
}

static inline uint64_t fuzz_rng_next(struct fuzz_rng *r)
{
    /* xorshift64 */
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

/* A piece length in [1, max]. */
static inline size_t fuzz_rng_piece(struct fuzz_rng *r, size_t max)
{
    return 1 + (size_t)(fuzz_rng_next(r) % max);
}

#endif
