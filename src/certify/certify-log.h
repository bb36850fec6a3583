/* certify-log: the evidence log of certified mail, tamper-evident and
 * append-only.
 *
 * DATA_DIR/state/certify-evidence.log holds one record per line, fields in a
 * fixed order, each "key=value" with the value percent-encoded (every
 * octet outside printable ASCII, and "%", "=" and space):
 *
 *   seq=7 time=2026-11-28T15:25:29Z event=delivery queue=Q msgid=%3Cm1@a%3E
 *   id=ID sender=alice@a rcpt=bob@b detail=... prev=HEX hash=HEX
 *
 * hash is the SHA-256 of the line up to " hash=", prev the hash of the
 * record before (64 zeros for the first), so changing, removing or
 * inserting a record breaks the chain at that point. No message bodies
 * are logged. Writers append under an exclusive flock(2) and fsync.
 *
 * Pruning (certified_log_retention) drops the records older than the
 * retention and puts in their place one checkpoint record (event
 * checkpoint, seq of the last record dropped, prev = its hash): the next
 * record's prev is the checkpoint's prev, so the rest still verifies. */
#ifndef POSTINO_CERTIFY_LOG_H
#define POSTINO_CERTIFY_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "certify/certify-data.h"
#include "lib/config.h"

#define CERTIFY_LOG_LINE_MAX   8192 /* octets of one record, line break included */
#define CERTIFY_LOG_FIELD_MAX  2048 /* octets of one decoded value, plus NUL */
#define CERTIFY_LOG_EVENT_MAX  32
#define CERTIFY_LOG_CHECKPOINT "checkpoint"

struct certify_log_record {
    unsigned long long seq;
    time_t time;
    char event[CERTIFY_LOG_EVENT_MAX]; /* a certify_type name, or e.g. "checkpoint" */
    char queue_id[64];
    char msgid[CERTIFY_TEXT_MAX];
    char id[CERTIFY_ID_MAX];
    char sender[CERTIFY_ADDR_MAX];
    char rcpt[CERTIFY_LOG_FIELD_MAX];   /* one recipient, or a comma-separated list */
    char detail[CERTIFY_LOG_FIELD_MAX]; /* free text: error, remote reply... */
    char prev[CERTIFY_HASH_HEX + 1];
    char hash[CERTIFY_HASH_HEX + 1];
};

/* The log's path for cfg into out. 0, or -1 if it does not fit. */
int certify_log_path(const struct config *cfg, char *out, size_t outsize);

/* Append a record (seq, prev, hash and, if zero, time are filled in; the
 * other fields are taken as they are, cut to fit). The directory is
 * created if missing. 0, or -1 with a message in *error_r (caller
 * frees): the file cannot be written, or its last record is damaged
 * (nothing is appended to a log whose tail does not parse). */
int certify_log_append(const char *path, struct certify_log_record *rec, char **error_r);

/* Call fn for each record of the file, in order, until it returns false.
 * A line that does not parse stops the reading. 0 at the end (a missing
 * file is empty), or -1 with a message in *error_r (caller frees). */
typedef bool certify_log_fn(void *arg, const struct certify_log_record *rec);
int certify_log_read(const char *path, certify_log_fn *fn, void *arg, char **error_r);

/* The result of checking the chain. */
struct certify_log_check {
    bool ok;
    size_t records;               /* records read (checkpoint included) */
    unsigned long long first_seq; /* of the first record, if any */
    unsigned long long bad_seq;   /* where it broke (or the line number, if unparseable) */
    char reason[256];
};

/* Check the whole chain of the file. 0 after filling *c (c->ok says), or
 * -1 with a message in *error_r (caller frees) if it cannot be read. */
int certify_log_verify(const char *path, struct certify_log_check *c, char **error_r);

/* Drop the records older than before, leaving a checkpoint. Refuses (-1)
 * to prune a chain that does not verify. *pruned is the number dropped.
 * 0, or -1 with a message in *error_r (caller frees). */
int certify_log_prune(const char *path, time_t before, size_t *pruned, char **error_r);

/* before for a retention of months months back from now. */
time_t certify_log_cutoff(time_t now, long long months);

/* Format one record's line (without hash computing; for tests): the line
 * of rec as stored, with its line break, into out. */
int certify_log_format(const struct certify_log_record *rec, struct buf *out);
/* Parse one line (without its line break). 0, or -1 if malformed. */
int certify_log_parse(const char *line, size_t len, struct certify_log_record *rec);

#endif
