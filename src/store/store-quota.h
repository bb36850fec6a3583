/* store-quota: Maildir++ quota of one account, through its `maildirsize`
 * file, so delivery can check it without opening the index.
 *
 * maildirsize (Maildir++ spec): a first line defining the quota
 * ("NNNS,MMMC": bytes and messages, either may be absent), then lines
 * "bytes count" (either may be negative) appended by every delivery,
 * append and expunge. The usage is the sum of those lines. The file is
 * recalculated (every folder's files counted, by the S= of their names
 * or their size) when it is missing, when its first line does not match
 * the limits, when it has grown past STORE_QUOTA_FILE_MAX octets, or when
 * it is older than STORE_QUOTA_MAX_AGE seconds and over quota. Sizes are
 * octets on disk (LF), as the S= of the names.
 *
 * Limits come from the caller (the users table); 0 means no limit. With
 * both limits 0 nothing is written: store_quota_check() says it fits,
 * store_quota_update() does nothing, and store_quota_get() /
 * store_quota_recalc() count the files without touching maildirsize. */
#ifndef POSTINO_STORE_QUOTA_H
#define POSTINO_STORE_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

#define STORE_QUOTA_FILE_MAX 5120 /* octets: recalculate past this */
#define STORE_QUOTA_MAX_AGE  900  /* seconds: recalculate an older file if over */

struct store_quota {
    uint64_t bytes_limit;    /* 0: none */
    uint64_t messages_limit; /* 0: none */
};

struct store_quota_usage {
    int64_t bytes;
    int64_t messages;
};

/* True if q sets a limit. */
bool store_quota_enabled(const struct store_quota *q);

/* The usage of the account at root (mail/DOMAIN/USER), recalculating
 * maildirsize when the rules above say so. 0, or -1 with errno set. */
int store_quota_get(const char *root, const struct store_quota *q, struct store_quota_usage *u);

/* Would adding bytes octets and messages messages stay within q? Returns
 * 1 if it fits (always when q sets no limit), 0 if a limit would be
 * crossed (usage + added > limit), -1 with errno set on I/O trouble. */
int store_quota_check(const char *root, const struct store_quota *q, uint64_t bytes,
                      uint64_t messages);

/* Record a change of usage (positive for a delivery or append, negative
 * for an expunge) by appending one line to maildirsize (one write(),
 * O_APPEND, so concurrent writers do not mix lines). Does nothing when q
 * sets no limit. 0, or -1 with errno set. */
int store_quota_update(const char *root, const struct store_quota *q, int64_t bytes,
                       int64_t messages);

/* Recount the usage from the files and rewrite maildirsize (atomically).
 * 0, or -1 with errno set. */
int store_quota_recalc(const char *root, const struct store_quota *q, struct store_quota_usage *u);

#endif
