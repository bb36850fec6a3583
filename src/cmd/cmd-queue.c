/* postino queue list|show|flush|retry|hold|release|delete|bounce */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "lib/syncer.h"
#include "queue/envelope.h"
#include "queue/events.h"
#include "queue/spool.h"

static const char usage[] =
    "usage: postino queue list [--json]\n"
    "       postino queue show ID [--json]\n"
    "       postino queue flush                  try every deferred message now\n"
    "       postino queue retry ID               try this one now\n"
    "       postino queue hold ID                set aside (no delivery) until release\n"
    "       postino queue release ID\n"
    "       postino queue delete ID | --from ADDRESS\n"
    "       postino queue bounce ID              return to the sender now (with a DSN)\n"
    "Options: --config FILE, --json\n"
    "Works whether the server runs or not: a running queue manager is asked to do\n"
    "it (run/queue.sock); otherwise the spool is changed directly.\n";

static void json_rcpts(const struct envelope *env)
{
    printf("\"recipients\":[");
    for (size_t i = 0; i < env->nrcpts; i++) {
        const struct envelope_rcpt *r = &env->rcpts[i];
        printf("%s{\"address\":", i ? "," : "");
        cmd_json_string(stdout, r->addr);
        printf(",\"status\":\"%s\",\"attempts\":%u,\"next_try\":%lld,\"route\":\"%s\"",
               rcpt_status_name(r->status), r->attempts, r->next_try,
               r->route == ROUTE_LOCAL ? "local" : "remote");
        if (r->orig) {
            printf(",\"original\":");
            cmd_json_string(stdout, r->orig);
        }
        if (r->relay) {
            printf(",\"relay\":");
            cmd_json_string(stdout, r->relay);
        }
        if (r->last) {
            printf(",\"last_reply\":");
            cmd_json_string(stdout, r->last);
        }
        printf("}");
    }
    printf("]");
}

void cmd_message_json(const struct envelope *env, const char *flag, bool on)
{
    printf("{\"id\":\"%s\",\"size\":%llu,\"arrival\":%lld,\"sender\":", env->id, env->size,
           env->arrival);
    cmd_json_string(stdout, env->sender);
    printf(",\"%s\":%s,", flag, on ? "true" : "false");
    if (env->filter) {
        printf("\"filter\":");
        cmd_json_string(stdout, env->filter);
        printf(",");
    }
    json_rcpts(env);
    printf("}");
}

static void text_time(long long t, char *out, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    strftime(out, size, "%b %e %H:%M:%S", &tm);
}

void cmd_message_text(const struct envelope *env, bool held)
{
    char when[32];
    text_time(env->arrival, when, sizeof(when));
    printf("%-14s%s %9llu %s  <%s>\n", env->id, held ? "!" : " ", env->size, when, env->sender);
    for (size_t i = 0; i < env->nrcpts; i++) {
        const struct envelope_rcpt *r = &env->rcpts[i];
        printf("    %-40s %s", r->addr, rcpt_status_name(r->status));
        if (r->status == RCPT_DEFERRED && r->next_try) {
            char next[32];
            text_time(r->next_try, next, sizeof(next));
            printf(", next try %s", next);
        }
        if (r->last)
            printf(" (%s)", r->last);
        putchar('\n');
    }
}

struct list_ctx {
    struct spool *sp;
    bool json;
    bool held;
    size_t n;
};

static void list_one(const char *id, void *arg)
{
    struct list_ctx *lc = arg;
    struct envelope env;
    const char *err;
    bool missing;
    int r = lc->held ? spool_read_held_envelope(lc->sp, id, &env, &err)
                     : spool_read_envelope(lc->sp, id, &env, &err, &missing);
    if (r < 0)
        return;
    if (lc->json) {
        printf("%s", lc->n ? "," : "");
        cmd_message_json(&env, "held", lc->held);
    } else {
        cmd_message_text(&env, lc->held);
    }
    lc->n++;
    envelope_free(&env);
}

/* Ask the running queue manager; 1 done (reply printed), 0 not running,
 * -1 it refused. */
static int ask_queue(const struct config *cfg, const char *command)
{
    char path[4096];
    if (config_data_path(cfg, "run/queue.sock", path, sizeof(path)) < 0)
        return 0;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    str_copy(sun.sun_path, sizeof(sun.sun_path), path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    struct buf line;
    buf_init(&line, BUF_UNLIMITED);
    buf_printf(&line, "%s\n", command);
    ssize_t w = write(fd, line.data, line.len);
    buf_free(&line);
    char reply[1024];
    size_t got = 0;
    ssize_t n;
    while (w > 0 && got < sizeof(reply) - 1 &&
           (n = read(fd, reply + got, sizeof(reply) - 1 - got)) > 0)
        got += (size_t)n;
    close(fd);
    reply[got] = '\0';
    reply[strcspn(reply, "\n")] = '\0';
    if (strncmp(reply, "ok ", 3) == 0) {
        printf("%s\n", reply + 3);
        return 1;
    }
    cmd_error("%s", strncmp(reply, "error ", 6) == 0 ? reply + 6 : "no answer from the queue");
    return -1;
}

/* Without a running queue manager: change the envelope directly. */
static int edit_envelope(struct spool *sp, const char *id, bool bounce)
{
    struct envelope env;
    const char *err;
    bool missing;
    if (spool_read_envelope(sp, id, &env, &err, &missing) < 0) {
        cmd_error("%s: %s", id, missing ? "no such message in the queue" : err);
        return -1;
    }
    for (size_t i = 0; i < env.nrcpts; i++) {
        struct envelope_rcpt *r = &env.rcpts[i];
        if (r->status != RCPT_PENDING && r->status != RCPT_DEFERRED)
            continue;
        if (bounce) {
            r->status = RCPT_BOUNCED;
            envelope_rcpt_set_last(r, "5.0.0 returned to the sender by the administrator");
        } else {
            r->next_try = 0;
        }
    }
    struct sync_op op;
    int fd;
    int rc = spool_write_envelope(sp, &env, &op, &fd);
    if (rc == 0) {
        sync_op_run_now(&op, SYNCER_FSYNC);
        close(fd);
        rc = op.error ? -1 : 0;
    }
    envelope_free(&env);
    if (rc < 0)
        cmd_error("%s: cannot write the envelope", id);
    return rc;
}

struct from_ctx {
    struct spool *sp;
    const char *from;
    size_t n;
};

static void delete_from_one(const char *id, void *arg)
{
    struct from_ctx *fc = arg;
    struct envelope env;
    const char *err;
    bool missing;
    if (spool_read_envelope(fc->sp, id, &env, &err, &missing) < 0)
        return;
    if (str_eq_ci(env.sender, fc->from) && spool_delete(fc->sp, id) == 0)
        fc->n++;
    envelope_free(&env);
}

static void flush_one(const char *id, void *arg)
{
    edit_envelope(arg, id, false);
}

/* What the administrator did, for postino trace, when the queue manager
 * is not there to record it (it records what goes through its socket). */
void cmd_record_event(const struct config *cfg, const char *id, const char *kind, const char *text)
{
    char *err = NULL;
    struct events *e = events_open(cfg->data_dir, &err);
    if (!e) {
        cmd_error("%s: not recorded for postino trace: %s", id, err ? err : "?");
        free(err);
        return;
    }
    events_add(e, id, kind, NULL, "%s", text);
    events_close(&e);
}

int cmd_queue(int argc, char **argv)
{
    struct cmd_common c;
    argc = cmd_parse_common(argc, argv, &c, usage);
    if (argc <= 0)
        return argc < 0 ? 2 : 0;
    const char *sub = argc > 1 ? argv[1] : "";
    const char *id = argc > 2 ? argv[2] : NULL;
    bool from = id && strcmp(id, "from") == 0; /* "--from" was taken as an option */
    bool ok = (strcmp(sub, "list") == 0 && argc == 2) || (strcmp(sub, "flush") == 0 && argc == 2) ||
              ((strcmp(sub, "show") == 0 || strcmp(sub, "retry") == 0 || strcmp(sub, "hold") == 0 ||
                strcmp(sub, "release") == 0 || strcmp(sub, "delete") == 0 ||
                strcmp(sub, "bounce") == 0) &&
               argc == 3) ||
              (strcmp(sub, "delete") == 0 && argc == 4 && from);
    if (!ok) {
        fputs(usage, stderr);
        return 2;
    }
    struct config *cfg;
    struct state_db *db;
    /* opening the state makes us the service user when run as root */
    if (cmd_open(&c, &cfg, &db) < 0)
        return 1;
    struct spool sp;
    const char *err;
    if (spool_open(&sp, cfg->data_dir, &err) < 0) {
        cmd_error("cannot open the spool: %s", err);
        return cmd_close(&cfg, &db, NULL, 1);
    }
    int rc = 0;
    if (strcmp(sub, "list") == 0) {
        struct list_ctx lc = {.sp = &sp, .json = c.json};
        if (c.json)
            printf("[");
        spool_scan(&sp, list_one, &lc);
        size_t queued = lc.n;
        lc.held = true;
        spool_scan_held(&sp, list_one, &lc);
        if (c.json)
            printf("]\n");
        else
            printf("-- %zu message%s in the queue, %zu held\n", queued, queued == 1 ? "" : "s",
                   lc.n - queued);
    } else if (strcmp(sub, "show") == 0) {
        struct envelope env;
        bool missing, held = false;
        int r = spool_read_envelope(&sp, id, &env, &err, &missing);
        if (r < 0 && missing) {
            r = spool_read_held_envelope(&sp, id, &env, &err);
            held = r == 0;
        }
        if (r < 0) {
            cmd_error("%s: %s", id, missing ? "no such message" : err);
            rc = 1;
        } else {
            if (c.json) {
                cmd_message_json(&env, "held", held);
                printf("\n");
            } else {
                cmd_message_text(&env, held);
                printf("  client %s helo %s proto %s, body %s%s\n", env.client ? env.client : "-",
                       env.helo ? env.helo : "-", env.proto ? env.proto : "-",
                       env.body_8bit ? "8BITMIME" : "7BIT", env.smtputf8 ? ", SMTPUTF8" : "");
                if (env.filter)
                    printf("  every recipient to the content filter %s\n", env.filter);
            }
            envelope_free(&env);
        }
    } else if (strcmp(sub, "release") == 0) {
        if (spool_release(&sp, id) < 0) {
            cmd_error("%s: %s", id, errno == ENOENT ? "not held" : strerror(errno));
            rc = 1;
        } else {
            printf("%s released\n", id);
            cmd_record_event(cfg, id, "released", "released by the administrator");
        }
    } else {
        char command[600];
        if (from)
            snprintf(command, sizeof(command), "delete-from %s", argv[3]);
        else if (id)
            snprintf(command, sizeof(command), "%s %s", sub, id);
        else
            snprintf(command, sizeof(command), "%s", sub);
        int asked = ask_queue(cfg, command);
        if (asked < 0) {
            rc = 1;
        } else if (asked == 0) {
            /* no queue manager running: do it here */
            if (strcmp(sub, "flush") == 0) {
                spool_scan(&sp, flush_one, &sp);
                printf("deferred messages will be tried as soon as postino runs\n");
            } else if (strcmp(sub, "retry") == 0 || strcmp(sub, "bounce") == 0) {
                rc = edit_envelope(&sp, id, strcmp(sub, "bounce") == 0) < 0 ? 1 : 0;
                if (rc == 0) {
                    printf("%s: done (takes effect when postino runs)\n", id);
                    cmd_record_event(cfg, id, sub[0] == 'b' ? "bounce" : "retry",
                                     sub[0] == 'b'
                                         ? "to be returned to the sender (the administrator, "
                                           "while postino was stopped)"
                                         : "to be tried again at once (the administrator, "
                                           "while postino was stopped)");
                }
            } else if (strcmp(sub, "hold") == 0) {
                rc = spool_hold(&sp, id) < 0 ? 1 : 0;
                if (rc)
                    cmd_error("%s: %s", id, strerror(errno));
                else {
                    printf("%s held\n", id);
                    cmd_record_event(cfg, id, "held", "held by the administrator");
                }
            } else if (from) {
                struct from_ctx fc = {&sp, argv[3], 0};
                spool_scan(&sp, delete_from_one, &fc);
                printf("%zu deleted\n", fc.n);
            } else {
                rc = spool_delete(&sp, id) < 0 ? 1 : 0;
                if (rc)
                    cmd_error("%s: %s", id, strerror(errno));
                else {
                    printf("%s deleted\n", id);
                    cmd_record_event(cfg, id, "deleted", "deleted by the administrator");
                }
            }
        }
    }
    spool_close(&sp);
    return cmd_close(&cfg, &db, NULL, rc);
}
