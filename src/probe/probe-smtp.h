/* probe-smtp: one SMTP conversation with one address of a mail server,
 * for `postino probe`, timed step by step: connect, greeting, EHLO,
 * STARTTLS (and the TLS handshake), EHLO again, and optionally MAIL and
 * RCPT (the given recipient, then postmaster@ the domain), RSET and QUIT.
 * It never sends DATA. Blocking, with a limit per step: for a command-line
 * tool that probes a few addresses one after the other.
 *
 * What it saw is returned, not judged: cmd-probe decides what is ok. */
#ifndef POSTINO_PROBE_SMTP_H
#define POSTINO_PROBE_SMTP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define PROBE_REPLY_MAX 512 /* bytes of a reply kept (printable) */
#define PROBE_EHLO_MAX  2048
#define PROBE_CHAIN_MAX 6   /* certificates of the chain described */
#define PROBE_NAMES_MAX 512 /* bytes of a certificate's names, ", "-joined */
#define PROBE_DN_MAX    256

enum probe_step {
    PROBE_STEP_CONNECT,
    PROBE_STEP_BANNER,
    PROBE_STEP_EHLO,
    PROBE_STEP_STARTTLS, /* the command and the handshake */
    PROBE_STEP_EHLO_TLS,
    PROBE_STEP_MAIL,
    PROBE_STEP_RCPT,
    PROBE_STEP_POSTMASTER,
    PROBE_STEP_RSET,
    PROBE_STEP_COUNT,
};

struct probe_step_result {
    bool tried;
    bool done;                       /* a reply came (or the connection / handshake was made) */
    double ms;                       /* how long it took (or until it was given up) */
    int code;                        /* the reply code, 0 if none */
    char reply[PROBE_REPLY_MAX + 1]; /* its text, or why it failed */
};

struct probe_cert {
    char subject[PROBE_DN_MAX + 1];
    char issuer[PROBE_DN_MAX + 1];
    char not_before[32], not_after[32]; /* "2026-11-28 13:00:00 UTC" */
    long days_left;                     /* to not_after, negative once expired */
    bool not_yet_valid;
};

struct probe_smtp_options {
    const char *server_name; /* the MX name: SNI and the certificate's names */
    const struct sockaddr *addr;
    socklen_t addr_len;
    const char *helo;              /* our EHLO name */
    const char *mail_from;         /* MAIL FROM (NULL: no MAIL, RCPT, RSET) */
    const char *rcpt;              /* RCPT TO, or NULL */
    const char *postmaster;        /* "postmaster@domain" to try after it, or NULL */
    unsigned timeout_ms;           /* for each step */
    const char *ca_file;           /* trusted CAs; NULL: the system's */
    int tls_max_version;           /* e.g. TLS1_1_VERSION, to see it refused; 0: any */
    const struct sockaddr *source; /* the local address to connect from, or NULL */
    socklen_t source_len;
};

struct probe_smtp_result {
    struct probe_step_result step[PROBE_STEP_COUNT];
    char banner[PROBE_REPLY_MAX + 1]; /* the greeting's text, '\n'-joined */
    char ehlo[PROBE_EHLO_MAX + 1];    /* the last EHLO reply's text, '\n'-joined */
    bool esmtp;                       /* EHLO was accepted */
    bool starttls_offered;
    bool tls; /* the handshake succeeded */
    char tls_version[32], cipher[80], group[48];
    bool forward_secrecy;
    /* the certificate */
    bool have_cert;
    char names[PROBE_NAMES_MAX + 1]; /* subjectAltName DNS names (else CN) */
    bool name_matches;               /* server_name is among them */
    bool verified;                   /* the chain verifies to a trusted CA */
    char verify_error[160];          /* why not */
    struct probe_cert chain[PROBE_CHAIN_MAX];
    size_t chain_len;
};

/* Probe; fills *r (zeroed first). Returns 0 once the conversation is
 * over, whatever it found (the steps say); -1 only if it could not start
 * (no memory for TLS). */
int probe_smtp_run(const struct probe_smtp_options *o, struct probe_smtp_result *r);

const char *probe_step_name(enum probe_step s);

/* A plain SMTP session for scripted checks (selfcheck's relay tests):
 * connect, greeting, EHLO (o->helo), then any commands; no TLS.
 * probe_session_open fills connect and banner and returns NULL if there
 * is no usable session (then they say why). */
struct probe_session;
struct probe_session *probe_session_open(const struct probe_smtp_options *o,
                                         struct probe_step_result *connect,
                                         struct probe_step_result *banner);
/* Send line (without CRLF), read the reply into *st. False if the
 * session broke (st says why). */
bool probe_session_command(struct probe_session *s, const char *line, struct probe_step_result *st);
/* QUIT and close; *sp = NULL. */
void probe_session_close(struct probe_session **sp);

#endif
