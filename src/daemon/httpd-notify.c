/* httpd-notify: the mails the portal sends the sender of a transfer:
 * at each recipient's first download (the certainty that the recipient
 * really received it, which plain mail cannot give), and when a recipient
 * is locked out by wrong passwords. Ordinary mail through the queue
 * (queue-inject), signed as the sender's domain's mail is. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "httpd-private.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "queue/queue-inject.h"
#include "smtp/smtp-address.h"
#include "state/state-resolve.h"

struct state_db *httpd_state;
const struct config *httpd_cfg;

void httpd_mail(const char *env_sender, const char *to, const char *text, size_t len,
                const char *what)
{
    struct smtp_path p;
    if (!httpd_state || smtp_mailbox_parse(to, strlen(to), &p) != SMTP_PATH_OK) {
        log_warn("share: the %s to <%s> cannot be addressed", what, to);
        return;
    }
    struct envelope env;
    envelope_init(&env);
    env.sender = strdup(env_sender);
    struct resolve_result res;
    enum resolve_status st = state_resolve(httpd_state, p.local, p.domain, &res);
    if (st == RESOLVE_OK) {
        for (size_t i = 0; i < res.n; i++)
            envelope_add_rcpt(&env, res.dests[i].addr, NULL, NULL, 0,
                              res.dests[i].local ? ROUTE_LOCAL : ROUTE_REMOTE);
        resolve_result_free(&res);
    } else if (st == RESOLVE_NOT_OURS) {
        envelope_add_rcpt(&env, p.mailbox, NULL, NULL, 0, ROUTE_REMOTE);
    }
    const char *err = NULL;
    if (env.nrcpts == 0)
        log_warn("share: the %s to <%s> cannot be addressed", what, to);
    else if (queue_inject(httpd_cfg, &env, text, len, "share", &err) < 0)
        log_error("share: the %s to <%s> cannot be queued: %s", what, to, err ? err : "?");
    envelope_free(&env);
}

/* Queue text (a whole message) to the sender, from nobody (<>). */
static void to_sender(const char *sender, const char *text, size_t len, const char *what)
{
    httpd_mail("", sender, text, len, what);
}

void httpd_notify_download(const char *transfer, const char *sender, const char *recipient,
                           const char *client)
{
    struct buf m;
    buf_init(&m, 16384);
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
    buf_printf(&m, "From: postino share <postmaster@%s>\r\nTo: <%s>\r\n", httpd_cfg->hostname,
               sender);
    buf_printf(&m, "Subject: %s has downloaded your files\r\n", recipient);
    buf_printf(&m, "Auto-Submitted: auto-generated\r\nX-Postino-Share: %s\r\n", transfer);
    buf_printf(&m, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    buf_printf(&m,
               "%s downloaded the files of your transfer %s for the first time on %s, from "
               "%s.\r\n\r\n",
               recipient, transfer, when, client);
    buf_printf(&m,
               "Every access is in the transfer's log: postino share log %s, or the "
               "portal.\r\n",
               transfer);
    to_sender(sender, m.data, m.len, "download");
    buf_free(&m);
}

void httpd_notify_locked(const char *transfer, const char *sender, const char *recipient,
                         unsigned failures)
{
    struct buf m;
    buf_init(&m, 16384);
    buf_printf(&m, "From: postino share <postmaster@%s>\r\nTo: <%s>\r\n", httpd_cfg->hostname,
               sender);
    buf_printf(&m, "Subject: Your transfer is locked for %s\r\n", recipient);
    buf_printf(&m, "Auto-Submitted: auto-generated\r\nX-Postino-Share: %s\r\n", transfer);
    buf_printf(&m, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    buf_printf(&m,
               "The password of your transfer %s was given wrong %u times for %s: the "
               "transfer is now locked for that recipient, and even the right password no "
               "longer opens it.\r\n\r\n",
               transfer, failures, recipient);
    buf_printf(&m, "If it was really them, unlock it for them; if not, someone tried to guess "
                   "the password.\r\n");
    to_sender(sender, m.data, m.len, "lock");
    buf_free(&m);
}

void httpd_notify_infected(const char *transfer, const char *sender, const char *file_name,
                           const char *virus)
{
    struct buf m;
    buf_init(&m, 16384);
    buf_printf(&m, "From: postino share <postmaster@%s>\r\nTo: <%s>\r\n", httpd_cfg->hostname,
               sender);
    buf_printf(&m, "Subject: A file of your transfer was refused: virus found\r\n");
    buf_printf(&m, "Auto-Submitted: auto-generated\r\nX-Postino-Share: %s\r\n", transfer);
    buf_printf(&m, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    char name[600];
    str_printable(name, sizeof(name), file_name, strlen(file_name));
    buf_printf(&m,
               "The virus scanner found %s in the file \"%s\" of your transfer %s.\r\n"
               "The file was removed and nothing was sent. The other files are kept: send\r\n"
               "them without it, or revoke the transfer.\r\n",
               virus, name, transfer);
    to_sender(sender, m.data, m.len, "virus");
    buf_free(&m);
}
