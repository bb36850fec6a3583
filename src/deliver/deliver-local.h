/* deliver-local: store one queued message in the Maildirs of its local
 * recipients (mail/DOMAIN/LOCAL/), one copy per recipient, each with its
 * own Return-Path: and Delivered-To: header.
 *
 * deliver_local_prepare() writes every copy into tmp/ and returns the
 * sync ops that make them durable and move them into new/; once the owner
 * has run them (syncer), deliver_local_complete() turns their outcome into
 * the job's results. Temporary trouble (disk full, permissions, I/O) is a
 * temporary failure, so the queue keeps the message and tries again.
 *
 * Quota: when the owner sets quota_lookup, each recipient's Maildir++
 * quota (store/store-quota.h, the account's maildirsize) is checked
 * before its copy is written; a copy that would cross it is a temporary
 * failure "4.2.2 mailbox full" (SMTP 452: the queue retries, and bounces
 * when the message expires), and each delivered copy is recorded in
 * maildirsize. Without quota_lookup (or with no limit for a recipient)
 * nothing is checked or recorded. */
#ifndef POSTINO_DELIVER_LOCAL_H
#define POSTINO_DELIVER_LOCAL_H

#include <stdbool.h>
#include <stddef.h>

#include "deliver-ipc.h"
#include "lib/syncer.h"
#include "queue/spool.h"
#include "store/maildir.h"
#include "store/store-quota.h"

struct local_delivery {
    struct deliver_job job;      /* request in, results filled in */
    struct maildir_delivery *md; /* one per recipient */
    struct sync_op *ops;         /* one per recipient */
    bool *started;               /* recipient has an op to run */
    size_t ops_left;             /* ops submitted and not yet complete */
    /* Set by the owner before deliver_local_prepare(), or NULL: fill *q
     * with the limits of the account of address (zeros: none); return 0,
     * or -1 if they cannot be known now (a temporary failure). */
    int (*quota_lookup)(void *arg, const char *address, struct store_quota *q);
    void *quota_arg;
    struct store_quota *quotas;  /* one per recipient (private) */
    char **quota_roots;          /* one per recipient, or NULL (private) */
    void *owner;                 /* for the owner's use */
    struct local_delivery *next; /* for the owner's use */
};

/* Write the copies of ld->job. Recipients that fail at once get their
 * result now; the others have ld->started[i] set and ld->ops[i] ready. */
void deliver_local_prepare(struct local_delivery *ld, const char *mail_dir, struct spool *sp);
/* Record the outcome of ld->ops[i] and close that copy's files. */
void deliver_local_complete(struct local_delivery *ld, size_t i);
/* Free everything (files of unfinished copies are removed). */
void deliver_local_free(struct local_delivery *ld);

#endif
