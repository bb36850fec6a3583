/* policy-db: what the content policy remembers between sessions and
 * processes, in state/policy.db (SQLite, WAL): the counts behind the rate
 * limits and the greylisting triplets.
 *
 * Every smtpd process opens it; the counts are shared. It is not mail:
 * commits are not flushed to disk one by one (synchronous=NORMAL), and a
 * power cut that loses the last counts or triplets only lets a little more
 * through. Calls are synchronous and short (one indexed statement); they
 * wait up to POLICY_DB_BUSY_MS for another process's write. */
#ifndef POSTINO_POLICY_DB_H
#define POSTINO_POLICY_DB_H

#include <stdbool.h>
#include <stddef.h>

#define POLICY_DB_BUSY_MS  2000
#define POLICY_KEY_MAX     400 /* bytes of a rate key ("user:...", "ip:...") */
#define POLICY_WINDOW_SECS 3600

struct policy_db;

/* Open (creating) data_dir/state/policy.db. NULL with *error_r (caller
 * frees). */
struct policy_db *policy_db_open(const char *data_dir, char **error_r);
void policy_db_close(struct policy_db **db);

/* Messages and recipients counted for key in the POLICY_WINDOW_SECS before
 * now (minute buckets). 0, or -1 on a database error (counts 0). */
int policy_rate_get(struct policy_db *db, const char *key, long long now,
                    unsigned long long *messages, unsigned long long *recipients);
/* Count messages and recipients for key at now. 0 or -1. Buckets older
 * than two windows are removed now and then. */
int policy_rate_add(struct policy_db *db, const char *key, long long now, unsigned messages,
                    unsigned recipients);

enum greylist_verdict {
    GREYLIST_PASS,  /* seen long enough ago, or the client is allowed */
    GREYLIST_DEFER, /* new, or retried too soon */
    GREYLIST_ERROR, /* database error: let it pass */
};

/* The greylisting of a triplet: client (network) text, sender, recipient.
 * A new triplet is recorded and deferred; one first seen at least delay
 * seconds ago passes, and from then on the client passes every triplet
 * for allow_secs (the "auto-allow" of a client that retries as a real
 * server does). *wait_r: seconds left when deferred. */
enum greylist_verdict policy_greylist(struct policy_db *db, const char *client, const char *sender,
                                      const char *rcpt, long long now, long long delay,
                                      long long allow_secs, long long *wait_r);

/* The greylisting client of an address: its /24 (IPv4) or /64 (IPv6)
 * network, as text into out. Other text is copied. */
void policy_greylist_client(const char *ip, char *out, size_t size);

#endif
