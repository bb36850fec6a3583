/* imap-seqset: IMAP sequence sets (RFC 3501 section 9, sequence-set),
 * for message sequence numbers and UIDs alike.
 *
 * A set is a list of ranges [lo, hi] of 32-bit numbers (1..4294967295).
 * As parsed it may still hold '*' (IMAP_SEQ_STAR), "the largest number in
 * use", which only the session knows: imap_seqset_resolve() replaces it by
 * the current maximum (the message count, or UIDNEXT-1) and sorts and
 * merges the ranges; membership and iteration work on resolved sets.
 * Ranges may be written either way round ("5:2" is "2:5"); "n:*" always
 * includes the largest number even when n is above it (RFC 3501 6.4.8).
 * The search-result reference "$" (RFC 5182) is not supported.
 *
 * Sets are bounded: at most IMAP_SEQSET_RANGES_MAX ranges. They also serve
 * to build the sets the server writes (COPYUID, APPENDUID, VANISHED). */
#ifndef POSTINO_IMAP_SEQSET_H
#define POSTINO_IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* Ranges in one set ("1,3,5,..." from a client may be long: a 64 KiB
 * command line holds at most about 16000). */
#define IMAP_SEQSET_RANGES_MAX 16384
/* '*' in a parsed, not yet resolved set (0 is no valid number). */
#define IMAP_SEQ_STAR 0u

struct imap_seq_range {
    uint32_t lo, hi; /* lo <= hi once resolved; hi may be IMAP_SEQ_STAR before */
};

struct imap_seqset {
    struct imap_seq_range *ranges;
    size_t count, cap;
};

/* An empty set; allocates nothing. */
void imap_seqset_init(struct imap_seqset *set);
/* Release the ranges; the set is empty and may be used again. */
void imap_seqset_free(struct imap_seqset *set);
/* Make the set empty, keeping its memory. */
void imap_seqset_clear(struct imap_seqset *set);

/* Parse s[0..len) (no terminator needed) as a sequence-set, replacing the
 * contents of set. Returns 0, or -1 with a static reason in *error_r
 * (e.g. "Invalid sequence set"), the set then empty. */
int imap_seqset_parse(const char *s, size_t len, struct imap_seqset *set, const char **error_r);

/* True if s[0..len) is a syntactically valid sequence-set (what SEARCH
 * uses to tell a set from a search key). */
bool imap_seqset_valid(const char *s, size_t len);

/* Add the range [lo, hi] (either order; IMAP_SEQ_STAR allowed) at the end,
 * without sorting. Returns 0, or -1 (set unchanged) past
 * IMAP_SEQSET_RANGES_MAX ranges or for lo or hi 0 when not star. */
int imap_seqset_add(struct imap_seqset *set, uint32_t lo, uint32_t hi);
/* Add one number n >= 1 at the end, extending the last range when n
 * follows it: adding UIDs in copy order gives COPYUID's sets. Returns 0 or
 * -1 as imap_seqset_add. */
int imap_seqset_append(struct imap_seqset *set, uint32_t n);

/* Replace '*' by max and bring the set into normal form: sorted, ranges
 * neither overlapping nor adjacent. With max 0 (no messages) '*' stands
 * for nothing: a range holding '*' keeps only its number part ("3:*"
 * becomes "3"), and "*" alone disappears. Numbers above max are kept (the
 * session decides: BAD for sequence numbers, ignore for UIDs, see
 * imap_seqset_clamp()). */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t max);
/* Sort and merge without touching '*' (for sets built with add/append). */
void imap_seqset_normalize(struct imap_seqset *set);
/* On a resolved set: drop every number above max. */
void imap_seqset_clamp(struct imap_seqset *set, uint32_t max);

/* On a resolved set: whether n is in it (binary search). */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);
/* On any set, whether n is in it once '*' means max (no need to resolve;
 * linear in the number of ranges). */
bool imap_seqset_contains_max(const struct imap_seqset *set, uint32_t n, uint32_t max);
/* On a resolved set: the number of members, and the largest (0 if empty). */
uint64_t imap_seqset_size(const struct imap_seqset *set);
uint32_t imap_seqset_last(const struct imap_seqset *set);

/* Walk a resolved set in ascending order:
 *   struct imap_seqset_iter it = {0}; uint32_t n;
 *   while (imap_seqset_next(set, &it, &n)) ...
 * The set must not change during the walk. */
struct imap_seqset_iter {
    size_t range;
    uint64_t next; /* 0: start of the current range */
};
bool imap_seqset_next(const struct imap_seqset *set, struct imap_seqset_iter *it, uint32_t *n_r);

/* Append the set in its current order to out, compactly: "1:3,7,9:*".
 * Writes nothing for an empty set. Returns 0, or -1 when out's maximum
 * was reached (out then holds a cut set: discard it). */
int imap_seqset_write(const struct imap_seqset *set, struct buf *out);

#endif
