/* cmd: the `postino` command line. main.c dispatches to one cmd_*() per
 * subcommand; each parses its own options and returns the exit status
 * (0 ok, 1 failure, 2 usage error). */
#ifndef POSTINO_CMD_H
#define POSTINO_CMD_H

#include <stdbool.h>
#include <stdio.h>

#include "lib/config.h"
#include "queue/queue-id.h"
#include "state/state-db.h"

int cmd_init(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_alias(int argc, char **argv);
int cmd_domain(int argc, char **argv);
int cmd_config_reference(int argc, char **argv);
int cmd_sendmail(int argc, char **argv);
int cmd_transport(int argc, char **argv);
int cmd_queue(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_dkim(int argc, char **argv);
int cmd_dmarc(int argc, char **argv);
int cmd_dns_records(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_quarantine(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_selfcheck(int argc, char **argv);
int cmd_share(int argc, char **argv);
int cmd_certify(int argc, char **argv);

/* Options every subcommand shares. */
struct cmd_common {
    const char *config_path; /* --config, $POSTINO_CONFIG or the default */
    bool json;               /* --json */
    bool password_stdin;     /* --password-stdin */
    bool help;               /* --help / -h */
};

/* Take the shared options out of argv (which is compacted, argv[0] kept);
 * an unknown "--option" is a usage error printed with usage. Returns the
 * new argc, or -1. */
int cmd_parse_common(int argc, char **argv, struct cmd_common *c, const char *usage);
/* Load the configuration or print why not. */
struct config *cmd_load_config(const struct cmd_common *c);
/* Open the state database of cfg, as the owner of the state directory when
 * run as root. NULL after printing why. */
struct state_db *cmd_open_state(const struct config *cfg);
/* Print a message to stderr as "postino: ..." */
void cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print s as a JSON string (quoted, escaped) to f. */
void cmd_json_string(FILE *f, const char *s);
/* Open the configuration and the state database. 0, or -1 after printing
 * why (nothing left open). */
int cmd_open(const struct cmd_common *c, struct config **cfg, struct state_db **db);
/* Print err (if any, then freed), close db and cfg; returns rc. */
int cmd_close(struct config **cfg, struct state_db **db, char *err, int rc);

/* The output of a list command: one item per line, or with --json one
 * JSON array. */
struct cmd_list {
    bool json;
    int n;
};
void cmd_list_begin(struct cmd_list *l, bool json);
/* Start an item: with JSON, the separator. Returns l->json. */
bool cmd_list_item(struct cmd_list *l);
void cmd_list_end(struct cmd_list *l);

/* Read a new password: from stdin with --password-stdin, else twice from
 * the terminal without echo. Returns its length or -1 after printing why. */
int cmd_read_password(const struct cmd_common *c, char *out, size_t outsize);
/* Hash a password with the configured argon2id cost; -1 after printing. */
int cmd_hash_password(const struct config *cfg, const char *pw, size_t len, char *out);

struct state_dkim_key;
/* Append the TXT record value ("v=DKIM1; k=...; p=...") of a stored DKIM
 * key to out, read from its key file. 0, or -1 with a message in *error_r
 * (caller frees): the file is missing or holds no usable key. */
int cmd_dkim_key_value(const struct config *cfg, const struct state_dkim_key *k, struct buf *out,
                       char **error_r);
/* Print "NAME. IN TXT "..." "..."" (value split into 255-octet strings). */
void cmd_zone_txt(FILE *f, const char *name, const char *value);

/* One spooled message for postino queue and postino quarantine: as text
 * (marked with "!" when held or quarantined) or as a JSON object with the
 * boolean field flag. */
struct envelope;
void cmd_message_text(const struct envelope *env, bool marked);
void cmd_message_json(const struct envelope *env, const char *flag, bool on);
/* Record what the administrator did in the message history (postino
 * trace); a failure is reported, not fatal. */
struct config;
void cmd_record_event(const struct config *cfg, const char *id, const char *kind, const char *text);

/* sysexits.h codes of the commands that queue mail. */
#define CMD_EX_USAGE     64
#define CMD_EX_NOUSER    67
#define CMD_EX_CANTCREAT 73
#define CMD_EX_TEMPFAIL  75

/* A message to queue from the command line (cmd-inject.c). */
struct cmd_inject {
    const char *sender;       /* "" for <> */
    const char *const *rcpts; /* addresses; a bare local part gets domain */
    size_t n_rcpts;
    const char *domain; /* for bare local parts */
    const char *msg;    /* the message, CRLF line ends */
    size_t len;
    const char *via; /* "sendmail, uid 0": the Received field, log and trace */
};

/* Queue in->msg for its recipients (through aliases), with Received,
 * and From, Date and Message-ID when missing; committed to disk before
 * it returns. 0 with the queue ID in id_out (may be NULL), or a CMD_EX_
 * code after printing why. */
int cmd_inject(const struct config *cfg, struct state_db *db, const struct cmd_inject *in,
               char id_out[QUEUE_ID_LEN + 1]);
/* The length of msg's header section, its empty line included (all of
 * msg when it has no body). */
size_t cmd_header_length(const char *msg, size_t len);

#endif
