/* share-create: what making a transfer takes, the same from the command
 * line, the portal's API and a recipient's secure reply: the request
 * checked against the policy (recipients, sizes, quota, expiry, password),
 * a fresh data key, the key protected as the mode says, the message
 * sealed, the rows in the store and the transfer's directory of files.
 * The files' contents come afterwards (each caller streams them), then
 * their descriptions (share_create_describe) and the notifications
 * (share_notification). */
#ifndef POSTINO_SHARE_CREATE_H
#define POSTINO_SHARE_CREATE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "share/share-crypt.h"
#include "share/share-key.h"
#include "share/share-store.h"

#define SHARE_MESSAGE_MAX   (32 * 1024) /* a message, plaintext */
#define SHARE_PASSWORD_MIN  10          /* a manual password, characters */
#define SHARE_NAME_MAX      255         /* a file's name, octets */
#define SHARE_TYPE_MAX      127         /* a file's media type, octets */
#define SHARE_GENERATED_LEN 30          /* a generated password: 5 groups of 5, dashes, NUL */
#define SHARE_FILE_CHUNK    SHARE_CHUNK_DEFAULT
#define SHARE_DISK_RESERVE  (1024ULL * 1024 * 1024) /* free disk space a transfer may not take */

struct share_new_file {
    const char *name;          /* NULL in e2e mode */
    const char *type;          /* NULL: application/octet-stream */
    unsigned long long size;   /* plaintext octets; e2e: the ciphertext's */
    const unsigned char *meta; /* e2e: the description, sealed by the browser */
    size_t meta_len;
};

struct share_new {
    const char *sender;
    bool external; /* the sender proved an address by a code, or replies */
    const char *const *rcpts;
    size_t n_rcpts;
    const char *message; /* plaintext; e2e: sealed by the browser; may be NULL */
    size_t message_len;
    enum share_password_mode mode;
    const char *password; /* manual mode */
    long expires_days;    /* 0: share_expires_default */
    const struct share_new_file *files;
    size_t n_files;
    /* a reply: the transfer answered, its data key (the reply is
     * encrypted with it) and its wrapped key (kept with the reply, bound to
     * the parent's id: the original password opens the reply) */
    const char *parent;
    const unsigned char *parent_key;
    const unsigned char *parent_wrapped;
    size_t parent_wrapped_len;
};

struct share_created {
    struct share_transfer t; /* id, sender, mode, expiry (no owned blobs) */
    struct share_recipient rcpts[SHARE_RCPTS_MAX];
    size_t n_rcpts;
    struct share_file files[SHARE_FILES_MAX]; /* id, size, expected (no meta) */
    size_t n_files;
    unsigned char key[SHARE_KEY_LEN]; /* zero in e2e mode */
    char link_key[SHARE_LINK_KEY_LEN + 1];
    char password[SHARE_GENERATED_LEN]; /* generated mode: shown once */
    char dir[4096];                     /* data_dir/shares/ID */
};

/* A password of 25 letters and digits with no look-alikes, in groups of 5
 * (SHARE_GENERATED_LEN with its terminator). */
void share_password_generate(char out[SHARE_GENERATED_LEN]);

/* Make the transfer n describes, within share_domain_policy
 * (share-policy.h). Returns 0 and fills *c (wipe it with
 * share_created_wipe); or -1 with *status_r an HTTP status (400 a bad
 * request, 403 refused by the policy, 413 too large or over the quota,
 * 500 the store or the disk failed) and why[] a sentence for the sender.
 * Nothing stays on failure. */
int share_create(const struct config *cfg, struct share_store *st, const struct share_new *n,
                 struct share_created *c, int *status_r, char *why, size_t why_size);

/* Wipe the keys and passwords of c. */
void share_created_wipe(struct share_created *c);

/* The path of a transfer's file: data_dir/shares/TRANSFER/FILE. 0 or -1
 * (too long). */
int share_file_path(const char *data_dir, const char *transfer, const char *file, char *out,
                    size_t size);

/* Undo a transfer that will not be sent: its files, its directory, its
 * rows (the access log stays). */
void share_discard(const char *data_dir, struct share_store *st, const char *transfer);

/* Seal and store a file's description {"name", "type", "size", "sha256"}
 * with the transfer's key. 0 or -1. */
int share_create_describe(struct share_store *st, enum share_password_mode mode,
                          const unsigned char key[SHARE_KEY_LEN], const char *transfer,
                          const char *file, const char *name, const char *type,
                          unsigned long long size, const char *sha256_hex);

/* The portal's address for links: share_url, else https://hostname, with
 * no slash at the end. */
void share_portal_url(const struct config *cfg, char *out, size_t size);

/* The notification mail of one recipient (a whole message, CRLF): a
 * neutral subject that tells nothing of the content, the personal link
 * (with link_key in its fragment in link mode, else NULL), the expiry,
 * and in password modes where the password comes from. For a reply, the
 * wording of a reply. */
void share_notification(const struct config *cfg, const struct share_transfer *t,
                        const struct share_recipient *r, const char *link_key, size_t n_files,
                        struct buf *m);

/* The file format's mode for a transfer's password mode. */
enum share_mode share_file_mode(enum share_password_mode m);

#endif
