/* postino quarantine list|show|release|delete: the messages the content
 * policy set aside in spool/quarantine. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "lib/str.h"
#include "queue/envelope.h"
#include "queue/events.h"
#include "queue/queue-id.h"
#include "queue/spool.h"

static const char usage[] =
    "usage: postino quarantine list [--json]\n"
    "       postino quarantine show ID [--json]   the message, and why it was quarantined\n"
    "       postino quarantine release ID         deliver it after all\n"
    "       postino quarantine delete ID\n"
    "Options: --config FILE, --json\n"
    "Quarantined messages are removed after quarantine_retention (default 30 days).\n";

struct list_ctx {
    struct spool *sp;
    bool json;
    size_t n;
};

static void list_one(const char *id, void *arg)
{
    struct list_ctx *lc = arg;
    struct envelope env;
    const char *err;
    if (spool_read_quarantined_envelope(lc->sp, id, &env, &err) < 0)
        return;
    if (lc->json) {
        printf("%s", lc->n ? "," : "");
        cmd_message_json(&env, "quarantined", true);
    } else {
        cmd_message_text(&env, true);
    }
    lc->n++;
    envelope_free(&env);
}

/* The reason recorded when the message was quarantined. */
struct why_ctx {
    char text[2048];
};

static void why_one(const struct event *ev, void *arg)
{
    struct why_ctx *w = arg;
    if (strcmp(ev->kind, "quarantined") == 0)
        str_copy(w->text, sizeof(w->text), ev->text);
}

static void quarantine_reason(const struct config *cfg, const char *id, char *out, size_t size)
{
    out[0] = '\0';
    char *err = NULL;
    struct events *e = events_open(cfg->data_dir, &err);
    free(err);
    if (!e)
        return;
    struct why_ctx w = {.text = ""};
    events_of(e, id, 0, why_one, &w);
    events_close(&e);
    str_copy(out, size, w.text);
}

int cmd_quarantine(int argc, char **argv)
{
    struct cmd_common c;
    argc = cmd_parse_common(argc, argv, &c, usage);
    if (argc <= 0)
        return argc < 0 ? 2 : 0;
    const char *sub = argc > 1 ? argv[1] : "";
    const char *id = argc > 2 ? argv[2] : NULL;
    bool ok =
        (strcmp(sub, "list") == 0 && argc == 2) ||
        ((strcmp(sub, "show") == 0 || strcmp(sub, "release") == 0 || strcmp(sub, "delete") == 0) &&
         argc == 3);
    if (!ok) {
        fputs(usage, stderr);
        return 2;
    }
    if (id && !queue_id_valid(id, strlen(id))) {
        cmd_error("%s: not a queue ID", id);
        return 2;
    }
    struct config *cfg;
    struct state_db *db;
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
        spool_scan_quarantined(&sp, list_one, &lc);
        if (c.json)
            printf("]\n");
        else
            printf("-- %zu message%s in quarantine\n", lc.n, lc.n == 1 ? "" : "s");
    } else if (strcmp(sub, "show") == 0) {
        struct envelope env;
        if (spool_read_quarantined_envelope(&sp, id, &env, &err) < 0) {
            cmd_error("%s: %s", id, errno == ENOENT ? "not in quarantine" : err);
            rc = 1;
        } else {
            char why[2048];
            quarantine_reason(cfg, id, why, sizeof(why));
            if (c.json) {
                printf("{\"message\":");
                cmd_message_json(&env, "quarantined", true);
                printf(",\"reason\":");
                cmd_json_string(stdout, why);
                printf("}\n");
            } else {
                cmd_message_text(&env, true);
                printf("  %s\n", why[0] ? why : "(no reason recorded)");
            }
            envelope_free(&env);
        }
    } else if (strcmp(sub, "release") == 0) {
        if (spool_quarantine_release(&sp, id) < 0) {
            cmd_error("%s: %s", id, errno == ENOENT ? "not in quarantine" : strerror(errno));
            rc = 1;
        } else {
            printf("%s released: it goes on to delivery\n", id);
            cmd_record_event(cfg, id, "released", "released from quarantine by the administrator");
        }
    } else {
        if (spool_quarantine_delete(&sp, id) < 0) {
            cmd_error("%s: %s", id, errno == ENOENT ? "not in quarantine" : strerror(errno));
            rc = 1;
        } else {
            printf("%s deleted\n", id);
            cmd_record_event(cfg, id, "deleted", "deleted from quarantine by the administrator");
        }
    }
    spool_close(&sp);
    return cmd_close(&cfg, &db, NULL, rc);
}
