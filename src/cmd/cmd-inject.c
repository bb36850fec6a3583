/* cmd-inject: a message queued from the command line, straight into the
 * spool (no running server needed: the queue manager finds it), as
 * postino sendmail and the share portal's notifications need it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/syncer.h"
#include "queue/envelope.h"
#include "queue/events.h"
#include "queue/spool.h"
#include "smtp/smtp-address.h"
#include "state/state-resolve.h"

size_t cmd_header_length(const char *msg, size_t len)
{
    const char *p = msg ? msg : "";
    if (len >= 2 && p[0] == '\r' && p[1] == '\n')
        return 0;
    const char *e = memmem(p, len, "\r\n\r\n", 4);
    return e ? (size_t)(e - p) + 2 : len;
}

/* The header section hdr[0..len) has a field named name. */
static bool has_field(const char *hdr, size_t len, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i + n < len;) {
        if ((i == 0 || hdr[i - 1] == '\n') && str_eqn_ci(hdr + i, name, n) && hdr[i + n] == ':')
            return true;
        const char *nl = memchr(hdr + i, '\n', len - i);
        if (!nl)
            break;
        i = (size_t)(nl - hdr) + 1;
    }
    return false;
}

/* The recipients into env, through aliases. 0 or an EX_ code. */
static int add_rcpts(struct state_db *db, const char *const *rcpts, size_t n, const char *domain,
                     struct envelope *env)
{
    for (size_t k = 0; k < n; k++) {
        char full[SMTP_PATH_MAX + 1];
        if (strchr(rcpts[k], '@'))
            str_copy(full, sizeof(full), rcpts[k]);
        else
            snprintf(full, sizeof(full), "%s@%s", rcpts[k], domain);
        struct smtp_path p;
        if (smtp_mailbox_parse(full, strlen(full), &p) != SMTP_PATH_OK) {
            cmd_error("<%s>: not a valid address", rcpts[k]);
            return CMD_EX_USAGE;
        }
        struct resolve_result res;
        enum resolve_status st =
            p.literal ? RESOLVE_NOT_OURS : state_resolve(db, p.local, p.domain, &res);
        if (st == RESOLVE_UNKNOWN || st == RESOLVE_LOOP) {
            cmd_error("<%s>: no such user here", p.mailbox);
            return CMD_EX_NOUSER;
        }
        if (st == RESOLVE_TEMPFAIL) {
            cmd_error("account database error: %s", state_db_error(db));
            return CMD_EX_TEMPFAIL;
        }
        if (st == RESOLVE_NOT_OURS) {
            envelope_add_rcpt(env, p.mailbox, NULL, NULL, 0, ROUTE_REMOTE);
            continue;
        }
        for (size_t d = 0; d < res.n; d++) {
            bool dup = false;
            for (size_t e = 0; e < env->nrcpts; e++)
                if (strcmp(env->rcpts[e].addr, res.dests[d].addr) == 0)
                    dup = true;
            if (!dup)
                envelope_add_rcpt(env, res.dests[d].addr,
                                  strcmp(p.mailbox, res.dests[d].addr) ? p.mailbox : NULL, NULL, 0,
                                  res.dests[d].local ? ROUTE_LOCAL : ROUTE_REMOTE);
        }
        resolve_result_free(&res);
    }
    return 0;
}

int cmd_inject(const struct config *cfg, struct state_db *db, const struct cmd_inject *in,
               char id_out[QUEUE_ID_LEN + 1])
{
    struct envelope env;
    envelope_init(&env);
    env.sender = strdup(in->sender);
    int rc = add_rcpts(db, in->rcpts, in->n_rcpts, in->domain, &env);
    struct spool sp = {.incoming_fd = -1, .queue_fd = -1, .free_fd = -1, .hold_fd = -1};
    struct spool_file *f = NULL;
    const char *err;
    if (rc)
        goto out;
    rc = CMD_EX_CANTCREAT;
    if (spool_open(&sp, cfg->data_dir, &err) < 0) {
        cmd_error("cannot open the spool: %s (run as root or as %s)", err, cfg->service_user);
        goto out;
    }
    f = spool_file_create(&sp, env.id);
    if (!f) {
        cmd_error("cannot create a queue file: %s", strerror(errno));
        goto out;
    }
    rc = CMD_EX_TEMPFAIL;
    /* Received:, then the fields a message must have (RFC 5322 3.6). */
    size_t hlen = cmd_header_length(in->msg, in->len);
    struct buf head;
    buf_init(&head, BUF_UNLIMITED);
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
    buf_printf(&head, "Received: by %s (postino %s) id %s;\r\n\t%s\r\n", cfg->hostname, in->via,
               env.id, date);
    if (!has_field(in->msg, hlen, "From"))
        buf_printf(&head, "From: <%s>\r\n", env.sender[0] ? env.sender : "MAILER-DAEMON");
    if (!has_field(in->msg, hlen, "Date"))
        buf_printf(&head, "Date: %s\r\n", date);
    if (!has_field(in->msg, hlen, "Message-ID"))
        buf_printf(&head, "Message-ID: <%s@%s>\r\n", env.id, cfg->hostname);
    if (hlen == 0)
        buf_append_str(&head, "\r\n"); /* no header at all: the body starts after ours */
    spool_file_write(f, head.data, head.len);
    buf_free(&head);
    spool_file_write(f, in->msg ? in->msg : "", in->len);
    env.arrival = (long long)now;
    env.size = spool_file_size(f);
    env.proto = strdup("local");
    env.body_8bit = env.has_8bit = !str_is_ascii(in->msg ? in->msg : "", in->len);
    struct sync_op op;
    if (spool_file_finish(f, &env, &op) < 0) {
        cmd_error("cannot write the queue file: %s", strerror(errno));
        spool_file_done(&f, false);
        goto out;
    }
    sync_op_run_now(&op, cfg->spool_sync == SPOOL_SYNC_SYNCFS ? SYNCER_SYNCFS : SYNCER_FSYNC);
    spool_file_done(&f, op.error == 0);
    if (op.error) {
        cmd_error("cannot commit the message to the queue: %s", strerror(op.error));
        goto out;
    }
    log_info("%s: from=<%s>, size=%llu, nrcpt=%zu, %s", env.id, env.sender, env.size, env.nrcpts,
             in->via);
    char *everr = NULL;
    struct events *ev = events_open(cfg->data_dir, &everr);
    free(everr);
    events_add(ev, env.id, "received", NULL, "from <%s> by %s, %llu octets, %zu recipient%s",
               env.sender, in->via, env.size, env.nrcpts, env.nrcpts == 1 ? "" : "s");
    for (size_t k = 0; k < env.nrcpts; k++) {
        const char *a[1] = {env.rcpts[k].addr};
        events_index(ev, env.id, NULL, a, 1);
    }
    const char *snd[1] = {env.sender};
    events_index(ev, env.id, NULL, snd, 1);
    events_close(&ev);
    if (id_out)
        memcpy(id_out, env.id, QUEUE_ID_LEN + 1);
    rc = 0;
out:
    if (sp.queue_fd >= 0)
        spool_close(&sp);
    envelope_free(&env);
    return rc;
}
