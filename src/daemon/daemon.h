/* daemon: the processes of `postino serve` and what the supervisor hands
 * each of them. Each *_main() runs one event loop until told to stop and
 * returns the process exit status. */
#ifndef POSTINO_DAEMON_H
#define POSTINO_DAEMON_H

#include <stddef.h>

#include "lib/config.h"

#define DAEMON_MAX_LISTENERS 32

/* What a listening socket of smtpd serves. */
enum smtpd_service {
    SERVICE_SMTP,        /* port 25: mail from other servers */
    SERVICE_SUBMISSION,  /* port 587: users, STARTTLS and AUTH required */
    SERVICE_SUBMISSIONS, /* port 465: users, implicit TLS, AUTH required */
};

/* What a listening socket of imapd or pop3d serves. */
enum access_service {
    ACCESS_IMAP,  /* 143: STARTTLS */
    ACCESS_IMAPS, /* 993: implicit TLS */
    ACCESS_POP3,  /* 110: STLS */
    ACCESS_POP3S, /* 995: implicit TLS */
    ACCESS_HTTPS, /* 443: the share portal, implicit TLS (httpd) */
};

struct daemon_env {
    struct config *cfg;
    int smtp_fds[DAEMON_MAX_LISTENERS]; /* listening sockets of smtpd */
    enum smtpd_service smtp_services[DAEMON_MAX_LISTENERS];
    size_t n_smtp_fds;
    int access_fds[DAEMON_MAX_LISTENERS]; /* listening sockets of imapd and pop3d */
    enum access_service access_services[DAEMON_MAX_LISTENERS];
    size_t n_access_fds;
    int deliver_fd; /* listening socket of deliver-local */
    char deliver_path[512];
    int smtp_client_fd; /* listening socket of deliver-smtp */
    char smtp_client_path[512];
    int queue_ctl_fd; /* the queue manager's control socket (postino queue) */
    char queue_ctl_path[512];
};

int supervisor_main(struct config *cfg);
int smtpd_main(struct daemon_env *env);
int queue_main(struct daemon_env *env);
int deliver_local_main(struct daemon_env *env);
int deliver_smtp_main(struct daemon_env *env);
int imapd_main(struct daemon_env *env);
int pop3d_main(struct daemon_env *env);
int httpd_main(struct daemon_env *env);

struct evbuffer;

/* The next IPC frame at the front of in: 1 with *frame (made contiguous)
 * and *len set, the caller drains len octets when done; 0 if incomplete;
 * -1 if the peer sent an impossible length. */
int daemon_frame_next(struct evbuffer *in, unsigned char **frame, size_t *len);

/* A service has set up its signal handlers: let SIGTERM, SIGINT and SIGHUP
 * in (the supervisor starts services with them blocked). */
void daemon_signals_ready(void);

const char *smtpd_service_name(enum smtpd_service s);

/* Path under the data directory, or fatal if too long. */
void daemon_path(const struct config *cfg, const char *rel, char *out, size_t outsize);

#endif
