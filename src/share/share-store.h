/* share-store: what the share portal knows about its transfers, in
 * state/shares.db (SQLite, shared by httpd and the command line).
 *
 *   transfer    who sent it, when, until when, how its key is protected
 *               (password mode), its wrapped key (never the key itself),
 *               its message encrypted with the transfer's key, revoked or
 *               not; a reply names the transfer it answers
 *   recipient   one per address: a personal token for the link, the
 *               count of wrong passwords and the lock they lead to, the
 *               time of the first download
 *   file        one per uploaded file: its name, type and checksum
 *               encrypted with the transfer's key (meta), its plaintext
 *               size, the ciphertext bytes received so far (uploads
 *               resume from there), and the virus scan's verdict
 *   access      the evidence: every access (time, recipient, client
 *               address, file, bytes, completed or not, what happened)
 *
 * The encrypted bytes live in files under data_dir/shares/ID/ (the
 * caller's business); this module holds no plaintext of any file or
 * message. Identifiers and tokens are random (128 bits, base64url). */
#ifndef POSTINO_SHARE_STORE_H
#define POSTINO_SHARE_STORE_H

#include <stdbool.h>
#include <stddef.h>

#define SHARE_ID_LEN      22 /* base64url of 16 random octets */
#define SHARE_ADDRESS_MAX 320
#define SHARE_RCPTS_MAX   100         /* recipients of one transfer */
#define SHARE_FILES_MAX   100         /* files of one transfer */
#define SHARE_BLOB_MAX    (64 * 1024) /* wrapped key, encrypted message or meta */

enum share_password_mode {
    SHARE_PW_GENERATED, /* password made by postino, shown once */
    SHARE_PW_MANUAL,    /* password chosen by the sender */
    SHARE_PW_LINK,      /* the key travels in the link */
    SHARE_PW_E2E,       /* encrypted in the browser: the server never sees the key */
};

enum share_scan {
    SHARE_SCAN_PENDING,
    SHARE_SCAN_CLEAN,
    SHARE_SCAN_INFECTED,
    SHARE_SCAN_NONE, /* not scanned: end-to-end, or no clamd configured */
};

struct share_transfer {
    char id[SHARE_ID_LEN + 1];
    char sender[SHARE_ADDRESS_MAX + 1];
    bool sender_verified_external; /* not a user: proved the address by a code */
    char parent[SHARE_ID_LEN + 1]; /* a reply: the transfer it answers, else "" */
    enum share_password_mode mode;
    long long created, expires, revoked; /* unix times; revoked 0 if not */
    bool sent;                           /* uploads finished, recipients told */
    unsigned max_failures;               /* wrong passwords before a lock */
    unsigned char *wrapped_key;          /* owned; NULL in link and e2e modes */
    size_t wrapped_key_len;
    unsigned char *message; /* the message, encrypted (owned), or NULL */
    size_t message_len;
};

struct share_recipient {
    char transfer[SHARE_ID_LEN + 1];
    char token[SHARE_ID_LEN + 1]; /* the personal link */
    char address[SHARE_ADDRESS_MAX + 1];
    unsigned failures;
    bool locked;
    long long first_download; /* 0: none yet */
};

struct share_file {
    char transfer[SHARE_ID_LEN + 1];
    char id[SHARE_ID_LEN + 1];
    unsigned char *meta; /* name, type, checksum: encrypted (owned) */
    size_t meta_len;
    unsigned long long size;     /* plaintext octets */
    unsigned long long stored;   /* ciphertext octets received */
    unsigned long long expected; /* ciphertext octets in all */
    bool complete;
    enum share_scan scan;
    char scan_detail[200]; /* the signature found, or why not scanned */
};

struct share_access {
    long long time;
    char transfer[SHARE_ID_LEN + 1];
    char recipient[SHARE_ADDRESS_MAX + 1]; /* "" for the sender or nobody known */
    char client[64];
    char file[SHARE_ID_LEN + 1]; /* "" when no file */
    char event[32];              /* "view", "unlock", "wrong-password", "locked",
                                  * "download", "reply", "revoke", "expire" */
    unsigned long long bytes;
    bool completed;
};

struct share_store;

/* Open (creating) data_dir/state/shares.db. NULL with *error_r (caller
 * frees). */
struct share_store *share_store_open(const char *data_dir, char **error_r);
void share_store_close(struct share_store **sp);

/* A fresh random identifier or token (base64url, SHARE_ID_LEN; never
 * starting with "-" or "_", so that a command line cannot take it for an
 * option). */
void share_new_id(char out[SHARE_ID_LEN + 1]);

/* Add a transfer (t->id is made here unless set: the key wrapping binds
 * it before) with its recipients (their tokens set here). 0, or -1 with
 * *error_r. */
int share_transfer_add(struct share_store *s, struct share_transfer *t,
                       struct share_recipient *rcpts, size_t n, char **error_r);
/* 1 and *t filled (free with share_transfer_free), 0 none, -1 error. */
int share_transfer_get(struct share_store *s, const char *id, struct share_transfer *t);
void share_transfer_free(struct share_transfer *t);
/* Mark sent / revoked (now). 0 or -1. */
int share_transfer_set_sent(struct share_store *s, const char *id);
int share_transfer_revoke(struct share_store *s, const char *id, long long now);
/* Call fn for each transfer of sender (all with NULL), newest first. The
 * transfer is valid during the call. Returns the count or -1. */
int share_transfer_list(struct share_store *s, const char *sender,
                        void (*fn)(const struct share_transfer *t, void *arg), void *arg);
/* The ids of transfers expired before now, and of those never sent a day
 * after their creation (an upload abandoned, or lost with a restart), at
 * most max: for the cleanup. */
int share_transfer_expired(struct share_store *s, long long now, char (*ids)[SHARE_ID_LEN + 1],
                           size_t max);
/* Forget a transfer, its recipients and files; its access log stays (the
 * evidence outlives the data). 0 or -1. */
int share_transfer_delete(struct share_store *s, const char *id);

/* The recipients of a transfer into out[0..max). Returns how many, -1. */
int share_recipients(struct share_store *s, const char *transfer, struct share_recipient *out,
                     size_t max);
/* 1 and *r filled by token, 0 none, -1 error. */
int share_recipient_by_token(struct share_store *s, const char *token, struct share_recipient *r);
/* A wrong password: count it; lock at the transfer's maximum. Returns the
 * new count, -1 on error; *locked_r tells whether it is now locked. */
int share_recipient_fail(struct share_store *s, const char *token, unsigned max, bool *locked_r);
/* A right password: the count starts again (unless locked). 0 or -1. */
int share_recipient_reset(struct share_store *s, const char *token);
/* The first download (kept once). 1 if this was the first, 0, -1. */
int share_recipient_downloaded(struct share_store *s, const char *token, long long now);
/* The sender unlocks a recipient. 0 or -1. */
int share_recipient_unlock(struct share_store *s, const char *token);

/* Files. add sets f->id. 0 or -1. */
int share_file_add(struct share_store *s, struct share_file *f, char **error_r);
int share_files(struct share_store *s, const char *transfer, struct share_file *out, size_t max);
/* 1 and *f filled (free with share_file_free), 0, -1. */
int share_file_get(struct share_store *s, const char *transfer, const char *id,
                   struct share_file *f);
void share_file_free(struct share_file *f);
/* The file's description (name, type, checksum), encrypted. 0 or -1. */
int share_file_set_meta(struct share_store *s, const char *transfer, const char *id,
                        const unsigned char *meta, size_t len);
/* Upload progress; complete when stored reaches expected. 0 or -1. */
int share_file_stored(struct share_store *s, const char *transfer, const char *id,
                      unsigned long long stored);
int share_file_scanned(struct share_store *s, const char *transfer, const char *id,
                       enum share_scan scan, const char *detail);

/* Take a file out of its transfer (an infected upload). 0, -1 (none). */
int share_file_remove(struct share_store *s, const char *transfer, const char *id);

/* What the portal stores: the transfers holding files, the octets of
 * their ciphertext (expected sizes, uploads in progress included: what
 * the quota counts) and of it the octets stored so far (stored_r may be
 * NULL). 0 or -1. */
int share_store_usage(struct share_store *s, unsigned long long *bytes_r,
                      unsigned long long *stored_r, unsigned long long *transfers_r);

/* The evidence. */
int share_access_add(struct share_store *s, const struct share_access *a);
/* Call fn for each access to transfer, oldest first. Count or -1. */
int share_access_list(struct share_store *s, const char *transfer,
                      void (*fn)(const struct share_access *a, void *arg), void *arg);

/* The last SQLite error, for messages. */
const char *share_store_error(struct share_store *s);

const char *share_password_mode_name(enum share_password_mode m);
/* -1 if unknown. */
int share_password_mode_parse(const char *name);
const char *share_scan_name(enum share_scan s);

#endif
