#include "queue/queue-inject.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/syncer.h"
#include "queue/events.h"
#include "queue/spool.h"

size_t queue_header_length(const char *msg, size_t len)
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

int queue_inject(const struct config *cfg, struct envelope *env, const char *msg, size_t len,
                 const char *via, const char **error_r)
{
    struct spool sp = {.incoming_fd = -1, .queue_fd = -1, .free_fd = -1, .hold_fd = -1};
    struct spool_file *f = NULL;
    int rc = -1;
    if (spool_open(&sp, cfg->data_dir, error_r) < 0)
        return -1;
    f = spool_file_create(&sp, env->id);
    if (!f) {
        *error_r = strerror(errno);
        goto out;
    }
    /* Received:, then the fields a message must have (RFC 5322 3.6). */
    size_t hlen = queue_header_length(msg, len);
    struct buf head;
    buf_init(&head, BUF_UNLIMITED);
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
    buf_printf(&head, "Received: by %s (postino %s) id %s;\r\n\t%s\r\n", cfg->hostname, via,
               env->id, date);
    if (!has_field(msg, hlen, "From"))
        buf_printf(&head, "From: <%s>\r\n", env->sender[0] ? env->sender : "MAILER-DAEMON");
    if (!has_field(msg, hlen, "Date"))
        buf_printf(&head, "Date: %s\r\n", date);
    if (!has_field(msg, hlen, "Message-ID"))
        buf_printf(&head, "Message-ID: <%s@%s>\r\n", env->id, cfg->hostname);
    if (hlen == 0)
        buf_append_str(&head, "\r\n"); /* no header at all: the body starts after ours */
    spool_file_write(f, head.data, head.len);
    buf_free(&head);
    spool_file_write(f, msg ? msg : "", len);
    env->arrival = (long long)now;
    env->size = spool_file_size(f);
    free(env->proto);
    env->proto = strdup("local");
    env->body_8bit = env->has_8bit = !str_is_ascii(msg ? msg : "", len);
    struct sync_op op;
    if (spool_file_finish(f, env, &op) < 0) {
        *error_r = strerror(errno);
        spool_file_done(&f, false);
        goto out;
    }
    sync_op_run_now(&op, cfg->spool_sync == SPOOL_SYNC_SYNCFS ? SYNCER_SYNCFS : SYNCER_FSYNC);
    spool_file_done(&f, op.error == 0);
    if (op.error) {
        *error_r = strerror(op.error);
        goto out;
    }
    log_info("%s: from=<%s>, size=%llu, nrcpt=%zu, %s", env->id, env->sender, env->size,
             env->nrcpts, via);
    char *everr = NULL;
    struct events *ev = events_open(cfg->data_dir, &everr);
    free(everr);
    events_add(ev, env->id, "received", NULL, "from <%s> by %s, %llu octets, %zu recipient%s",
               env->sender, via, env->size, env->nrcpts, env->nrcpts == 1 ? "" : "s");
    for (size_t k = 0; k < env->nrcpts; k++) {
        const char *a[1] = {env->rcpts[k].addr};
        events_index(ev, env->id, NULL, a, 1);
    }
    const char *snd[1] = {env->sender};
    events_index(ev, env->id, NULL, snd, 1);
    events_close(&ev);
    rc = 0;
out:
    spool_close(&sp);
    return rc;
}
