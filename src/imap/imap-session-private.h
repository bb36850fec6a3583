/* imap-session-private: what the command files (imap-cmd-*.c) share with
 * the session core (imap-session.c). Not for anyone else.
 *
 * A command is a function of the command table (imap-commands.c). It gets
 * the parsed command (valid only during that first call: copy what a
 * resumed command needs into its own state) and returns:
 *
 *   IMAP_CMD_DONE  the tagged reply is written (imap_cmd_ok/no/bad);
 *   IMAP_CMD_MORE  long output paused: the core calls cmd->resume again
 *                  once the client has read what was written (FETCH of
 *                  many messages writes until imap_session_output_full());
 *   IMAP_CMD_WAIT  waiting for an event (a login check): whoever handles
 *                  that event finishes the command with
 *                  imap_session_cmd_finish().
 *
 * Before the tagged reply of a command in the selected state, the core
 * tells the client what changed meanwhile (EXPUNGE, EXISTS, RECENT, FETCH
 * FLAGS), except expunges during FETCH, STORE and SEARCH by sequence
 * number (RFC 3501 7.4.1): imap_cmd_ok() does this. */
#ifndef POSTINO_IMAP_SESSION_PRIVATE_H
#define POSTINO_IMAP_SESSION_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-parser.h"
#include "imap/imap-session.h"
#include "lib/buf.h"
#include "store/store.h"

#define IMAP_OUTPUT_FULL (256 * 1024) /* pause long outputs above this */

enum imap_state {
    IMAP_STATE_NOT_AUTH,
    IMAP_STATE_AUTH,
    IMAP_STATE_SELECTED,
    IMAP_STATE_LOGOUT,
};

enum imap_cmd_status {
    IMAP_CMD_DONE,
    IMAP_CMD_MORE,
    IMAP_CMD_WAIT,
};

/* In which states a command may run (bits). */
#define IMAP_IN_NOT_AUTH 0x1u
#define IMAP_IN_AUTH     0x2u
#define IMAP_IN_SELECTED 0x4u
#define IMAP_IN_ANY      0x7u

/* Extensions a client turned on with ENABLE (RFC 5161). */
#define IMAP_ENABLED_CONDSTORE 0x1u

struct imap_session;
struct imap_cmd;

typedef enum imap_cmd_status (*imap_cmd_fn)(struct imap_session *s, struct imap_cmd *cmd);

struct imap_cmd_def {
    const char *name; /* upper case */
    unsigned states;  /* IMAP_IN_* */
    imap_cmd_fn fn;
    bool uid_ok;     /* may follow UID (COPY, FETCH, ...) */
    bool no_expunge; /* without UID: no EXPUNGE before its reply */
};

struct imap_cmd {
    char tag[IMAP_TAG_MAX + 1];
    const struct imap_cmd_def *def;
    bool uid;                    /* UID FETCH, UID STORE, ... */
    const struct imap_arg *args; /* after the name (and after UID's name) */
    size_t count;
    /* A paused command: called again by the core (IMAP_CMD_MORE). */
    imap_cmd_fn resume;
    void *state; /* the command's own, freed by state_free */
    void (*state_free)(void *state);
};

struct imap_session {
    struct imap_session_settings set;
    struct imap_session_callbacks cb;
    void *ctx;
    struct imap_parser *parser;
    enum imap_state state;
    bool tls;
    bool closing;
    bool starttls_pending; /* the OK is out: no input before the handshake */
    unsigned enabled;      /* IMAP_ENABLED_* */
    unsigned auth_failures;
    unsigned bad_commands; /* in a row */
    char user[320];
    struct store_account *acc;
    struct store_view *view; /* the selected folder */
    bool condstore_seen;     /* CONDSTORE used in this selection: MODSEQ in FETCH
                                responses to flag changes */
    /* The command running (waiting or paused), or none. */
    struct imap_cmd cmd;
    bool cmd_active;
    /* Reading the client's next line raw: AUTHENTICATE's response, IDLE's
     * DONE. */
    enum { IMAP_LINE_NONE, IMAP_LINE_AUTHENTICATE, IMAP_LINE_IDLE } line_for;
    bool idling;
    bool notified;        /* a change may wait for the next sync */
    uint32_t exists_sent; /* the message count the client knows */
    uint32_t recent_sent;
    struct imap_append *append; /* an APPEND whose message is arriving */
    struct buf out;             /* scratch for building responses */
};

/* --- output --- */

/* Write raw octets / a formatted line (the caller writes the CRLF). */
void imap_write(struct imap_session *s, const void *data, size_t len);
void imap_printf(struct imap_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* True when enough output waits that a long command should pause. */
bool imap_session_output_full(struct imap_session *s);

/* The tagged replies of the running command: "TAG OK text" (after the
 * untagged updates of the selected folder), "TAG NO text", "TAG BAD text".
 * text may begin with a response code ("[TRYCREATE] ..."). All return
 * IMAP_CMD_DONE, so a command can end with `return imap_cmd_ok(...)`. */
enum imap_cmd_status imap_cmd_ok(struct imap_session *s, struct imap_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
enum imap_cmd_status imap_cmd_no(struct imap_session *s, struct imap_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
enum imap_cmd_status imap_cmd_bad(struct imap_session *s, struct imap_cmd *cmd, const char *fmt,
                                  ...) __attribute__((format(printf, 3, 4)));
/* NO with the response code and text for the store's last failure on the
 * account (NONEXISTENT, ALREADYEXISTS, OVERQUOTA, ...), prefixed by what. */
enum imap_cmd_status imap_cmd_store_error(struct imap_session *s, struct imap_cmd *cmd,
                                          const char *what);

/* Finish a command that returned IMAP_CMD_WAIT: the reply is written;
 * the core goes on with the next command. */
void imap_session_cmd_finish(struct imap_session *s);

/* --- the selected folder --- */

/* Tell the client what changed in the selected folder since the last
 * sync: EXPUNGE (unless allow_expunge is false), EXISTS, RECENT, FETCH
 * FLAGS (with MODSEQ once CONDSTORE is on). Does nothing without a
 * selected folder. Closes the session if the folder's UIDVALIDITY
 * changed. */
void imap_session_sync(struct imap_session *s, bool allow_expunge);
/* Tell the owner that this session changed the selected folder (or
 * folder, if not NULL): other sessions then sync. */
void imap_session_changed(struct imap_session *s, const char *folder);
/* Write the flag list of message m, "(\Seen $Label)", into out. */
void imap_write_flags(struct imap_session *s, const struct store_msg *m, struct buf *out);
/* The untagged lines that open a selection (SELECT, EXAMINE): FLAGS,
 * PERMANENTFLAGS, EXISTS, RECENT, UNSEEN, UIDVALIDITY, UIDNEXT and, with
 * CONDSTORE, HIGHESTMODSEQ. */
void imap_session_write_selected(struct imap_session *s);
/* Deselect (CLOSE, UNSELECT, SELECT of another folder, LOGOUT). */
void imap_session_deselect(struct imap_session *s);

/* Mailbox names: the client's name (modified UTF-7, any case for INBOX)
 * to the store's; 0, or -1 if it cannot name a folder. */
int imap_mailbox_to_store(const char *name, size_t len, char *out, size_t outsize);

/* --- commands (one file per family) --- */

/* imap-cmd-any.c */
enum imap_cmd_status imap_cmd_capability(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_noop(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_logout(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_id(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_enable(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_starttls(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_login(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_authenticate(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_idle(struct imap_session *s, struct imap_cmd *cmd);
/* The line after "+ " of AUTHENTICATE, and IDLE's DONE. */
void imap_session_authenticate_line(struct imap_session *s, const char *line, size_t len);
void imap_session_idle_line(struct imap_session *s, const char *line, size_t len);
/* The capability list for the current state, without "* CAPABILITY ". */
void imap_capabilities(struct imap_session *s, struct buf *out);

/* imap-cmd-select.c */
enum imap_cmd_status imap_cmd_select(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_close(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_unselect(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_check(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_expunge(struct imap_session *s, struct imap_cmd *cmd);

/* imap-cmd-mailbox.c */
enum imap_cmd_status imap_cmd_create(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_delete(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_rename(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_subscribe(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_unsubscribe(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_list(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_lsub(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_status(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_namespace(struct imap_session *s, struct imap_cmd *cmd);

/* imap-cmd-append.c: APPEND takes its message literal streamed. The core
 * asks imap_append_literal() when a literal of APPEND is announced
 * (partial holds the arguments before it): true to take it (streamed into
 * the folder), false after writing the tagged NO/BAD (the parser then
 * drops the command). The pieces go to imap_append_data(); the command
 * itself (imap_cmd_append) then finishes the append. imap_append_abort()
 * drops an append in progress (the session ends). */
struct imap_append;
bool imap_append_literal(struct imap_session *s, const struct imap_literal_info *li);
void imap_append_data(struct imap_session *s, const char *data, size_t len);
void imap_append_abort(struct imap_session *s);
enum imap_cmd_status imap_cmd_append(struct imap_session *s, struct imap_cmd *cmd);

/* imap-cmd-fetch.c */
enum imap_cmd_status imap_cmd_fetch(struct imap_session *s, struct imap_cmd *cmd);

/* imap-cmd-search.c */
enum imap_cmd_status imap_cmd_search(struct imap_session *s, struct imap_cmd *cmd);

/* imap-cmd-store.c */
enum imap_cmd_status imap_cmd_store(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_copy(struct imap_session *s, struct imap_cmd *cmd);
enum imap_cmd_status imap_cmd_move(struct imap_session *s, struct imap_cmd *cmd);

/* imap-commands.c: the command table; NULL for an unknown name. */
const struct imap_cmd_def *imap_command_find(const char *name);

#endif
