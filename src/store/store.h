/* store: the mailbox store of one account (Maildir++ plus one SQLite index).
 *
 * An account is the directory mail/DOMAIN/USER/ (store_account_root()):
 *
 *   cur/ new/ tmp/          INBOX
 *   .Sent/ .a.b/ ...        the folder "Sent", the folder "a.b" (the child
 *                           "b" of "a"): Maildir++, hierarchy separator '.'
 *   subscriptions           subscribed names, one a line (Dovecot reads it)
 *   maildirsize             Maildir++ quota (store-quota.h)
 *   index.db                the index (SQLite, WAL): UIDs, flags, modseqs,
 *                           \Recent claims, cached fields
 *
 * Folder names are given and returned as they are on disk: the IMAP
 * mailbox names (modified UTF-7, RFC 3501 5.1.3), '.' between levels,
 * "INBOX" for the root (matched case-insensitively; any other name is
 * case-sensitive). The store knows no IMAP or POP3 syntax: converting
 * UTF-8 names, matching LIST patterns and numbering responses belong to
 * the sessions.
 *
 * The files are the truth, the index is a cache: a folder on disk with no
 * row in the index (index deleted, corrupt, or a folder made by another
 * tool) is indexed afresh with a new UIDVALIDITY. Several processes
 * (imapd, pop3d, the admin CLI) may open the same account at once; every
 * write happens in one BEGIN IMMEDIATE transaction (busy timeout
 * STORE_BUSY_TIMEOUT_MS), so two processes never hand out the same UID.
 *
 * Message files use LF line ends (as Maildir readers expect). Names are
 * "BASE:2,INFO" where BASE is unique in the folder and never changes
 * (e.g. "secs.MusecsPpidQn.host,S=size,W=vsize") and INFO holds the flags
 * as letters: D (\Draft) F (\Flagged) R (\Answered) S (\Seen) T (\Deleted),
 * and the keywords as 'a'..'z', the letter of a keyword being its line in
 * the folder's `dovecot-keywords` file (Dovecot's format: "N name").
 *
 * Threading: one account handle may be shared by every session of one
 * process (store_account_ref/unref); all calls on it and its views must
 * come from one thread (the event loop). Calls block on the file system
 * and, when another process holds the index's write lock, for up to
 * STORE_BUSY_TIMEOUT_MS. The store itself may run one thread per handle:
 * when a view is opened on a folder with many files not yet indexed, the
 * view is answered from the scan and the rows are committed by that
 * thread (store-bg.c); the next call that needs the index waits for it,
 * and other processes wait for its write lock.
 *
 * Errors: a function that fails returns -1 (or NULL) and records the
 * reason on the account: store_account_error() gives its kind (what the
 * session answers: NO [NONEXISTENT], NO [OVERQUOTA], ...) and a text fit
 * for a log line. The record is kept until the next failing call. */
#ifndef POSTINO_STORE_H
#define POSTINO_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/buf.h"

/* Limits. */
#define STORE_FOLDER_NAME_MAX  255                    /* octets of a folder name */
#define STORE_FOLDER_DEPTH_MAX 16                     /* levels in a folder name */
#define STORE_FOLDERS_MAX      2000                   /* folders of one account */
#define STORE_KEYWORD_MAX      64                     /* octets of a keyword */
#define STORE_KEYWORDS_MAX     26                     /* keywords of one folder ('a'..'z') */
#define STORE_CACHE_KEY_MAX    32                     /* octets of a cache key */
#define STORE_CACHE_VALUE_MAX  1048576                /* octets of a cached value */
#define STORE_MESSAGE_MAX      (256ULL * 1024 * 1024) /* octets of one message */
#define STORE_BUSY_TIMEOUT_MS  10000                  /* wait for another process's lock */

/* System flags (bits of store_msg.flags and of flag arguments). \Recent is
 * not a flag here: see store_msg.recent. */
#define STORE_FLAG_SEEN     0x01u
#define STORE_FLAG_ANSWERED 0x02u
#define STORE_FLAG_FLAGGED  0x04u
#define STORE_FLAG_DELETED  0x08u
#define STORE_FLAG_DRAFT    0x10u
#define STORE_FLAGS_ALL     0x1fu

enum store_err {
    STORE_OK = 0,
    STORE_ERR_NOTFOUND,   /* no such folder / message: [NONEXISTENT] */
    STORE_ERR_EXISTS,     /* the folder exists already: [ALREADYEXISTS] */
    STORE_ERR_INVALID,    /* a bad name or argument: [CANNOT] */
    STORE_ERR_NOTALLOWED, /* e.g. deleting INBOX, selecting \Noselect: [CANNOT] */
    STORE_ERR_QUOTA,      /* over quota: [OVERQUOTA] */
    STORE_ERR_LIMIT,      /* a STORE_*_MAX crossed: [LIMIT] */
    STORE_ERR_EXPUNGED,   /* the message was expunged meanwhile: [EXPUNGEISSUED] */
    STORE_ERR_TEMP,       /* I/O, lock timeout, index trouble: [UNAVAILABLE] */
};

struct store_account;
struct store_view;

/* ---------------------------------------------------------------- account */

/* Write "MAIL_DIR/DOMAIN/local" (the local part lowercased, as
 * deliver-local does) for address "local@domain" into out. Returns 0, or -1
 * if the address is malformed or unsafe as a path, or out is too small. */
int store_account_root(const char *mail_dir, const char *address, char *out, size_t outsize);

/* Open the account at root (a Maildir++ directory). Creates what is
 * missing: root, cur/new/tmp, the special-use folders Sent, Drafts, Trash,
 * Junk and Archive (subscribed when created), and index.db. A missing or
 * corrupt index is rebuilt from the files (new UIDVALIDITYs). Returns a
 * handle with one reference, or NULL with a malloc'ed reason in *error_r
 * (the caller frees it). The handle holds one SQLite connection with a
 * small page cache and no open files otherwise: cheap to keep. */
struct store_account *store_account_open(const char *root, char **error_r);
/* Take one more reference (for one more session sharing the handle). */
struct store_account *store_account_ref(struct store_account *acc);
/* Drop a reference and set *accp to NULL; the last one closes the handle.
 * Every view of the account must be closed before its last reference. */
void store_account_unref(struct store_account **accp);
/* The kind and text of the last failure on this account (text never NULL;
 * valid until the next call on the account). */
enum store_err store_account_error(const struct store_account *acc, const char **text_r);
/* The account's directory, as given to store_account_open(). */
const char *store_account_path(const struct store_account *acc);

/* Set the account's quota limits (0 = no limit), usually from the users
 * table. While set, append/copy/move into a folder fail with
 * STORE_ERR_QUOTA when they would cross them, and every change is recorded
 * in `maildirsize` (store-quota.h). Default: no limits. */
void store_account_set_quota(struct store_account *acc, uint64_t bytes_limit,
                             uint64_t messages_limit);

/* ---------------------------------------------------------------- folders */

/* Attributes of a folder in a listing (bits of store_folder_info.attrs). */
#define STORE_ATTR_NOSELECT    0x0001u /* a name with children and no folder */
#define STORE_ATTR_HASCHILDREN 0x0002u
#define STORE_ATTR_HASNOCHILD  0x0004u /* \HasNoChildren */
#define STORE_ATTR_SUBSCRIBED  0x0008u
#define STORE_ATTR_NONEXISTENT 0x0010u /* subscribed, but no folder or children */
#define STORE_ATTR_SENT        0x0100u /* RFC 6154 special use */
#define STORE_ATTR_DRAFTS      0x0200u
#define STORE_ATTR_TRASH       0x0400u
#define STORE_ATTR_JUNK        0x0800u
#define STORE_ATTR_ARCHIVE     0x1000u
#define STORE_ATTR_SPECIAL_USE 0x1f00u

struct store_folder_info {
    char name[STORE_FOLDER_NAME_MAX + 1];
    unsigned attrs; /* STORE_ATTR_* */
};

/* True if name is acceptable as a folder name: 1..STORE_FOLDER_NAME_MAX
 * octets, no '/', no empty level (leading, trailing or doubled '.'), no
 * control characters, no '*' or '%', at most STORE_FOLDER_DEPTH_MAX
 * levels, and no level that is "." or "..". */
bool store_folder_name_valid(const char *name);

/* Every name of the account, sorted (INBOX first, then by octets): each
 * folder, each intermediate name that has children but no folder of its
 * own (STORE_ATTR_NOSELECT), and each subscribed name that does not exist
 * (STORE_ATTR_NONEXISTENT | STORE_ATTR_SUBSCRIBED). *list_r is malloc'ed
 * (the caller frees it; NULL when *count_r is 0). 0, or -1. */
int store_folder_list(struct store_account *acc, struct store_folder_info **list_r,
                      size_t *count_r);
/* True if the folder exists (and can be selected). */
bool store_folder_exists(struct store_account *acc, const char *name);

/* Create a folder and any missing parents ("a.b.c" creates "a" and "a.b"
 * too). Fails with STORE_ERR_EXISTS if it exists (INBOX always does),
 * STORE_ERR_INVALID for a bad name, STORE_ERR_LIMIT past
 * STORE_FOLDERS_MAX. 0, or -1. */
int store_folder_create(struct store_account *acc, const char *name);
/* Delete a folder and its messages (RFC 3501 DELETE). INBOX cannot be
 * deleted (STORE_ERR_NOTALLOWED). A folder with children is deleted, and
 * its name stays as a \Noselect parent; deleting a name that is only a
 * parent fails (STORE_ERR_NOTALLOWED); a name that is nothing fails with
 * STORE_ERR_NOTFOUND. Subscriptions are left as they are. Views open on
 * the folder see every message expunged at their next sync. 0, or -1. */
int store_folder_delete(struct store_account *acc, const char *name);
/* Rename a folder and all its children (RFC 3501 RENAME); UIDs and
 * UIDVALIDITY are kept. new_name must not exist (STORE_ERR_EXISTS); its
 * missing parents are created. Renaming INBOX creates new_name, moves
 * every message of INBOX into it (new UIDs there) and leaves INBOX empty;
 * INBOX's children are not moved. Subscriptions of the renamed names
 * follow them. 0, or -1. */
int store_folder_rename(struct store_account *acc, const char *old_name, const char *new_name);
/* Add / remove name in the `subscriptions` file (the name need not
 * exist). Idempotent. 0, or -1. */
int store_folder_subscribe(struct store_account *acc, const char *name, bool subscribed);

/* What STATUS tells of a folder (RFC 3501, RFC 7162 HIGHESTMODSEQ, RFC 8438
 * SIZE). */
struct store_status {
    uint32_t messages;
    uint32_t recent; /* messages not yet claimed as \Recent by a view */
    uint32_t uidnext;
    uint32_t uidvalidity;
    uint32_t unseen;  /* messages without \Seen */
    uint32_t deleted; /* messages with \Deleted */
    uint64_t highestmodseq;
    uint64_t size; /* sum of RFC822.SIZE */
};

/* The status of a folder, synced with the files first (new mail is
 * indexed, but no \Recent is claimed), without opening a view. 0, or -1
 * (STORE_ERR_NOTFOUND if there is no such folder). */
int store_folder_status(struct store_account *acc, const char *name, struct store_status *st);

/* ---------------------------------------------------------------- views */

/* One message as a view sees it. */
struct store_msg {
    uint32_t uid;
    uint32_t flags;       /* STORE_FLAG_* */
    uint32_t keywords;    /* bit i: keyword i of the view (store_view_keyword_name) */
    bool recent;          /* \Recent in this view */
    bool expunged;        /* gone, kept only because the last sync said
                           * STORE_SYNC_NO_EXPUNGE: FETCH of it should fail */
    time_t internal_date; /* the file's delivery time (Maildir: its mtime) */
    uint64_t size;        /* RFC822.SIZE: octets with CRLF line ends */
    uint64_t modseq;      /* RFC 7162 MODSEQ */
    const char *filename; /* the file's name in cur/ (owned by the view) */
};

/* Open a view of a folder (SELECT/EXAMINE, or a POP3 session on INBOX):
 * the folder is synced with the files, then its messages, sorted by UID,
 * are in the view (index i is sequence number i + 1). A read-write view
 * claims \Recent for the messages that arrived since the last claim (RFC
 * 3501: one session sees each message as \Recent); a read-only view
 * claims none and cannot change anything (STORE_ERR_NOTALLOWED). NULL
 * on failure (STORE_ERR_NOTFOUND; STORE_ERR_NOTALLOWED for a \Noselect
 * name). The view holds a reference to the account. */
#define STORE_VIEW_READONLY 0x01u
struct store_view *store_view_open(struct store_account *acc, const char *name, unsigned flags);
/* Close the view and set *vp to NULL. */
void store_view_close(struct store_view **vp);

/* The folder's name, UIDVALIDITY, the UIDNEXT and HIGHESTMODSEQ as of the
 * last sync, whether the view is read-only. */
const char *store_view_name(const struct store_view *v);
uint32_t store_view_uidvalidity(const struct store_view *v);
uint32_t store_view_uidnext(const struct store_view *v);
uint64_t store_view_highestmodseq(const struct store_view *v);
bool store_view_readonly(const struct store_view *v);

/* Messages in the view (expunged ones kept by STORE_SYNC_NO_EXPUNGE
 * included), and message i (0-based; NULL past the end). The pointer is
 * valid until the next store_view_sync(). */
size_t store_view_count(const struct store_view *v);
const struct store_msg *store_view_msg(const struct store_view *v, size_t i);
/* The index of the message with this UID, or -1 if the view has none. */
long store_view_find_uid(const struct store_view *v, uint32_t uid);
/* Counts over the view: \Recent, messages without \Seen, the index of
 * the first message without \Seen (-1 if none). */
uint32_t store_view_recent_count(const struct store_view *v);
uint32_t store_view_unseen_count(const struct store_view *v);
long store_view_first_unseen(const struct store_view *v);

/* The folder's keywords (at most STORE_KEYWORDS_MAX): the name of keyword
 * i, NULL if i is not defined. Valid until the next sync. */
size_t store_view_keyword_count(const struct store_view *v);
const char *store_view_keyword_name(const struct store_view *v, size_t i);
/* The index of keyword name (exact, case-sensitive as Dovecot), defining
 * it in the folder's `dovecot-keywords` when create is true. -1 if it is
 * not defined (and !create), or with STORE_ERR_LIMIT when the folder has
 * STORE_KEYWORDS_MAX already, or STORE_ERR_INVALID for a name longer than
 * STORE_KEYWORD_MAX or containing a space or control character. */
int store_view_keyword_index(struct store_view *v, const char *name, bool create);

/* What changed since the view's previous sync, to be told to the client
 * in this order: expunges, then the new message count (EXISTS) and
 * \Recent count, then flag changes. Owned by the view, valid until its
 * next sync or close. */
struct store_sync_result {
    /* Expunged messages in the order to announce them: expunged_seqs[i] is
     * the sequence number of the message at the moment its EXPUNGE is
     * sent (each counts the ones announced before it), expunged_uids[i]
     * its UID (for VANISHED). */
    const uint32_t *expunged_seqs;
    const uint32_t *expunged_uids;
    size_t n_expunged;
    size_t n_new;    /* messages added at the end of the view */
    uint32_t exists; /* store_view_count() after the sync */
    uint32_t recent; /* \Recent messages in the view after the sync */
    /* UIDs (ascending) whose flags or keywords were changed by another
     * view or process (or a tool renaming files); not the view's own
     * changes, which its caller knows. */
    const uint32_t *flag_uids;
    size_t n_flags;
    bool keywords_changed;    /* new keywords defined: send FLAGS again */
    bool uidvalidity_changed; /* the folder was rebuilt or deleted: the
                               * view is now empty; a session must end */
};

/* Don't remove expunged messages from the view (an IMAP session may not
 * send EXPUNGE during FETCH, STORE or SEARCH, RFC 3501 7.4.1): they stay
 * with store_msg.expunged set and are reported by a later sync without
 * this flag. New messages and flag changes are reported as usual. */
#define STORE_SYNC_NO_EXPUNGE 0x01u

/* Bring the view up to date with the folder: the files (deliveries into
 * new/ are moved to cur/ and given UIDs in order of arrival; files gone
 * are expunged; renamed flags are picked up) and the index (changes of
 * other views and processes). Cheap when nothing changed (two stat()s and
 * one look at the index's change counter), so it may run after every
 * command and every second of IDLE. *res_r (optional) tells what changed.
 * 0, or -1 (the view stays as it was). */
int store_view_sync(struct store_view *v, unsigned flags, const struct store_sync_result **res_r);

/* ---------------------------------------------------------------- messages */

/* Open the file of the message with this UID for reading (LF line ends).
 * Returns an fd the caller closes, or -1 (STORE_ERR_EXPUNGED if the file
 * is gone). If size_r is not NULL it gets the file's size. */
int store_view_msg_open(struct store_view *v, uint32_t uid, uint64_t *size_r);
/* Append the message to out as stored (LF), or with every line ending in
 * CRLF (crlf = true: what IMAP FETCH and POP3 RETR send; exactly
 * store_msg.size octets for a well-formed message). Fails without a
 * partial result if out->max would be crossed (STORE_ERR_LIMIT). 0 or -1. */
int store_view_msg_read(struct store_view *v, uint32_t uid, bool crlf, struct buf *out);

/* How store_view_store() changes the flags. */
enum store_flag_op {
    STORE_FLAGS_SET,    /* FLAGS */
    STORE_FLAGS_ADD,    /* +FLAGS */
    STORE_FLAGS_REMOVE, /* -FLAGS */
};

/* What store_view_store() did; owned by the view, valid until the next
 * store/sync/close. */
struct store_store_result {
    const uint32_t *changed_uids; /* flags changed (new modseq each) */
    size_t n_changed;
    const uint32_t *modified_uids; /* refused: modseq > unchangedsince */
    size_t n_modified;
};

/* Change the flags and keywords of the messages with these UIDs (UIDs not
 * in the view, or expunged, are skipped). With unchangedsince != 0 (RFC
 * 7162 UNCHANGEDSINCE), messages whose modseq is greater are left alone
 * and listed in modified_uids. Each changed file is renamed to its new
 * info; the changed messages get one new modseq, and the view is updated
 * (its own changes are not reported by its next sync). Messages whose
 * flags would not change are neither changed nor listed. keywords are
 * bits of the view's keyword indexes. 0, or -1 (STORE_ERR_NOTALLOWED for
 * a read-only view). */
int store_view_store(struct store_view *v, const uint32_t *uids, size_t n, enum store_flag_op op,
                     uint32_t flags, uint32_t keywords, uint64_t unchangedsince,
                     const struct store_store_result **res_r);

/* Expunge the messages with \Deleted: all of them (uids NULL), or only
 * those among uids (UID EXPUNGE). The files are removed; the view learns
 * of the expunges, with their sequence numbers, at its next
 * store_view_sync(), like any other view. *count_r (optional) gets the
 * number expunged. 0, or -1. */
int store_view_expunge(struct store_view *v, const uint32_t *uids, size_t n, size_t *count_r);

/* Copy the messages with these UIDs (in the order given; UIDs not in the
 * view are skipped) into folder dest (hard links when possible, flags
 * and keywords kept by name, internal date kept, no \Recent claimed).
 * On success *dest_uidvalidity_r is dest's UIDVALIDITY, and *src_uids_r
 * and *dest_uids_r (malloc'ed, the caller frees both, n_r entries) pair
 * each copied source UID with its new UID, for COPYUID. All or nothing:
 * on failure nothing is left in dest. STORE_ERR_NOTFOUND for a missing
 * dest (IMAP's [TRYCREATE]), STORE_ERR_QUOTA. 0, or -1. */
int store_view_copy(struct store_view *v, const uint32_t *uids, size_t n, const char *dest,
                    uint32_t *dest_uidvalidity_r, uint32_t **src_uids_r, uint32_t **dest_uids_r,
                    size_t *n_r);
/* store_view_copy() then expunge the sources (RFC 6851 MOVE): the view
 * learns of the expunges at its next sync. Same results and failures. */
int store_view_move(struct store_view *v, const uint32_t *uids, size_t n, const char *dest,
                    uint32_t *dest_uidvalidity_r, uint32_t **src_uids_r, uint32_t **dest_uids_r,
                    size_t *n_r);

/* Streaming append (APPEND, saving a sent message): begin, write the
 * message in any number of pieces (CRLF line ends, stored with LF),
 * finish. At most STORE_MESSAGE_MAX octets (STORE_ERR_LIMIT). */
struct store_append;
/* Start an append into folder name. NULL on failure (STORE_ERR_NOTFOUND:
 * IMAP's [TRYCREATE]). */
struct store_append *store_append_begin(struct store_account *acc, const char *name);
/* Add octets of the message. 0, or -1 (the append then can only be
 * aborted). */
int store_append_write(struct store_append *a, const void *data, size_t len);
/* Make the message durable in the folder with flags (STORE_FLAG_*) and
 * keywords (names, defined in the folder if new; NULL when nkeywords is
 * 0), and internal date idate (0: now). On success *uid_r and
 * *uidvalidity_r (APPENDUID) are set. Frees a in every case. 0, or -1
 * (STORE_ERR_QUOTA, STORE_ERR_LIMIT, STORE_ERR_TEMP). */
int store_append_finish(struct store_append **ap, uint32_t flags, const char *const *keywords,
                        size_t nkeywords, time_t idate, uint32_t *uid_r, uint32_t *uidvalidity_r);
/* Abandon the append (the temporary file is removed) and set *ap to NULL. */
void store_append_abort(struct store_append **ap);
/* The whole of an append in one call: data is len octets, CRLF. */
int store_append(struct store_account *acc, const char *name, const void *data, size_t len,
                 uint32_t flags, const char *const *keywords, size_t nkeywords, time_t idate,
                 uint32_t *uid_r, uint32_t *uidvalidity_r);

/* A per-message cache of fields computed by the caller (e.g. "envelope",
 * "bodystructure", "header.subject"): key of 1..STORE_CACHE_KEY_MAX
 * octets, value up to STORE_CACHE_VALUE_MAX octets, kept in the index
 * and dropped with the message. Get appends the value to out and returns
 * 1, or 0 if nothing is cached, or -1 (out->max crossed, index error).
 * Put returns 0 or -1; it also works on a read-only view. */
int store_view_cache_get(struct store_view *v, uint32_t uid, const char *key, struct buf *out);
int store_view_cache_put(struct store_view *v, uint32_t uid, const char *key, const void *data,
                         size_t len);
/* Group the cache puts of a long loop (a SEARCH or FETCH filling the
 * cache of a whole folder) into transactions of up to
 * STORE_CACHE_BATCH_MAX puts instead of one each: begin = true before the
 * loop, false after it. In between, only cache gets and puts, message
 * reads and view lookups may be called on the account. Without a batch
 * each put is its own transaction. 0, or -1 (then puts go one by one). */
#define STORE_CACHE_BATCH_MAX 2000
int store_view_cache_batch(struct store_view *v, bool begin);

/* ---------------------------------------------------------------- housekeeping */

/* Expunge from Trash and Junk (the folders with those special uses) the
 * messages that entered the folder more than days days before now (the
 * time of their move/copy/delivery there, so an old message just moved
 * to Trash is kept). For the daemon, once a day. *count_r (optional)
 * gets the number expunged. 0, or -1. */
int store_account_expire(struct store_account *acc, unsigned days, time_t now, size_t *count_r);

/* One folder's line in a usage report. */
struct store_usage {
    char name[STORE_FOLDER_NAME_MAX + 1];
    uint64_t messages;
    uint64_t bytes; /* sum of RFC822.SIZE */
};
/* Per-folder message counts and sizes (synced with the files first), in
 * store_folder_list() order, folders only. *list_r malloc'ed (the caller
 * frees it). 0, or -1. */
int store_account_usage(struct store_account *acc, struct store_usage **list_r, size_t *count_r);

#endif
