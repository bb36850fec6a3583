/* postino trace: the history and the present state of messages, in plain
 * words, from the events every process records and from the spool. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "lib/config.h"
#include "lib/str.h"
#include "queue/envelope.h"
#include "queue/events.h"
#include "queue/spool.h"

static const char usage[] =
    "usage: postino trace ID | MESSAGE-ID | ADDRESS [--since TIME] [--json]\n"
    "Shows what happened to a message (by queue ID or Message-ID) or to the messages\n"
    "from or to an address: when it arrived and how, each delivery attempt (server,\n"
    "TLS, reply, how long every step took; replies slower than 30 s are flagged),\n"
    "and where it is now: in transit, queued (deferred: why, next try), delivered,\n"
    "bounced (why), expired, discarded, held or deleted. TIME is a duration back\n"
    "from now (30m, 2h, 7d) or a date YYYY-MM-DD.\n";

#define MAX_QIDS 200

struct state_line {
    char rcpt[330];
    char kind[24];
    char text[2048];
};

struct trace_ctx {
    bool json;
    size_t nevents;
    struct state_line *last; /* per recipient: the latest outcome event */
    size_t nlast;
    char related[MAX_QIDS][16]; /* notifications found in the events */
    size_t nrelated;
    bool deleted, held_ev;
    char set_aside[2048]; /* the last "held" or "quarantined" event's text */
};

static void print_time(double t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    char s[32];
    strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%S", &tm);
    printf("%s.%03d", s, (int)((t - (double)tt) * 1000));
}

static bool outcome_kind(const char *k)
{
    return strcmp(k, "delivered") == 0 || strcmp(k, "bounced") == 0 || strcmp(k, "deferred") == 0 ||
           strcmp(k, "expired") == 0 || strcmp(k, "discarded") == 0;
}

static void on_event(const struct event *ev, void *arg)
{
    struct trace_ctx *t = arg;
    if (t->json) {
        printf("%s{\"time\":%.3f,\"kind\":", t->nevents ? "," : "", ev->time);
        cmd_json_string(stdout, ev->kind);
        printf(",\"recipient\":");
        cmd_json_string(stdout, ev->rcpt);
        printf(",\"text\":");
        cmd_json_string(stdout, ev->text);
        printf(",\"slow\":%s}", strstr(ev->text, "SLOW") ? "true" : "false");
    } else {
        printf("  ");
        print_time(ev->time);
        printf("  %-10s %s%s%s%s\n", ev->kind, ev->rcpt, ev->rcpt[0] ? ": " : "", ev->text,
               strstr(ev->text, "SLOW") ? "   <-- slow server" : "");
    }
    t->nevents++;
    if (outcome_kind(ev->kind) && ev->rcpt[0]) {
        size_t i;
        for (i = 0; i < t->nlast; i++)
            if (strcmp(t->last[i].rcpt, ev->rcpt) == 0)
                break;
        if (i == t->nlast) {
            t->last = realloc(t->last, (t->nlast + 1) * sizeof(*t->last));
            t->nlast++;
        }
        str_copy(t->last[i].rcpt, sizeof(t->last[i].rcpt), ev->rcpt);
        str_copy(t->last[i].kind, sizeof(t->last[i].kind), ev->kind);
        str_copy(t->last[i].text, sizeof(t->last[i].text), ev->text);
    }
    if (strcmp(ev->kind, "deleted") == 0)
        t->deleted = true;
    if (strcmp(ev->kind, "held") == 0 || strcmp(ev->kind, "quarantined") == 0)
        str_copy(t->set_aside, sizeof(t->set_aside), ev->text);
    if (strcmp(ev->kind, "notified") == 0 && t->nrelated < MAX_QIDS) {
        const char *p = strstr(ev->text, "notification ");
        if (p && queue_id_valid(p + 13, QUEUE_ID_LEN))
            str_copyn(t->related[t->nrelated++], 16, p + 13, QUEUE_ID_LEN);
    }
}

/* The present, in words, from the spool when the message is there. */
static void present_state(struct spool *sp, const char *qid, struct trace_ctx *t)
{
    struct envelope env;
    const char *err;
    bool missing = true, held = false, quarantined = false;
    int r = spool_read_envelope(sp, qid, &env, &err, &missing);
    if (r < 0 && missing) {
        r = spool_read_held_envelope(sp, qid, &env, &err);
        held = r == 0;
    }
    if (r < 0 && missing) {
        r = spool_read_quarantined_envelope(sp, qid, &env, &err);
        quarantined = r == 0;
    }
    if (t->json)
        printf("],\"state\":[");
    else
        printf("  now:\n");
    size_t k = 0;
    if (r == 0) {
        for (size_t i = 0; i < env.nrcpts; i++) {
            const struct envelope_rcpt *rc = &env.rcpts[i];
            char word[3000];
            switch (rc->status) {
            case RCPT_PENDING:
                if (held || quarantined)
                    snprintf(word, sizeof(word), "%s",
                             t->set_aside[0] ? t->set_aside
                             : held          ? "held by the administrator"
                                             : "quarantined");
                else
                    snprintf(word, sizeof(word), "in transit");
                break;
            case RCPT_DEFERRED: {
                char when[32];
                time_t nt = (time_t)rc->next_try;
                struct tm tm;
                localtime_r(&nt, &tm);
                strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
                snprintf(word, sizeof(word), "%s (deferred: %s; next try at %s)",
                         held ? "held" : "queued", rc->last ? rc->last : "?", when);
                break;
            }
            case RCPT_DELIVERED:
                snprintf(word, sizeof(word), "delivered (%s)", rc->last ? rc->last : "");
                break;
            case RCPT_BOUNCED:
                snprintf(word, sizeof(word), "bounced (%s)", rc->last ? rc->last : "");
                break;
            case RCPT_EXPIRED:
                snprintf(word, sizeof(word), "expired (%s)", rc->last ? rc->last : "");
                break;
            }
            if (t->json) {
                printf("%s{\"recipient\":", k++ ? "," : "");
                cmd_json_string(stdout, rc->addr);
                printf(",\"state\":");
                cmd_json_string(stdout, word);
                printf("}");
            } else {
                printf("    %-40s %s\n", rc->addr, word);
            }
        }
        envelope_free(&env);
        return;
    }
    /* Gone from the spool: the last outcome of each recipient tells. */
    for (size_t i = 0; i < t->nlast; i++) {
        char word[2200];
        const struct state_line *l = &t->last[i];
        if (t->deleted && strcmp(l->kind, "deferred") == 0)
            snprintf(word, sizeof(word), "deleted by the administrator");
        else
            snprintf(word, sizeof(word), "%s (%s)", l->kind, l->text);
        if (t->json) {
            printf("%s{\"recipient\":", k++ ? "," : "");
            cmd_json_string(stdout, l->rcpt);
            printf(",\"state\":");
            cmd_json_string(stdout, word);
            printf("}");
        } else {
            printf("    %-40s %s\n", l->rcpt, word);
        }
    }
    if (t->nlast == 0 && !t->json)
        printf("    %s\n", t->deleted   ? "deleted by the administrator"
                           : t->nevents ? "no longer in the queue"
                                        : "unknown: no event recorded");
}

/* --since: "30m", "2h", "7d" back from now, or "YYYY-MM-DD". */
static int parse_since(const char *s, double *out)
{
    long long secs;
    if (config_parse_duration(s, &secs) == 0) {
        *out = (double)(time(NULL) - secs);
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(s, "%Y-%m-%d", &tm);
    if (end && *end == '\0') {
        tm.tm_isdst = -1;
        *out = (double)mktime(&tm);
        return 0;
    }
    return -1;
}

int cmd_trace(int argc, char **argv)
{
    double since = 0;
    /* --since is ours alone: take it out before the common options */
    int k = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--since") == 0) {
            if (i + 1 >= argc || parse_since(argv[i + 1], &since) < 0) {
                cmd_error("--since needs a duration (2h, 7d) or a date (YYYY-MM-DD)");
                return 2;
            }
            i++;
            continue;
        }
        argv[k++] = argv[i];
    }
    argc = k;
    argv[argc] = NULL;
    struct cmd_common c;
    argc = cmd_parse_common(argc, argv, &c, usage);
    if (argc <= 0)
        return argc < 0 ? 2 : 0;
    if (argc != 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *what = argv[1];
    struct config *cfg;
    struct state_db *db;
    if (cmd_open(&c, &cfg, &db) < 0)
        return 1;
    char *err = NULL;
    struct events *ev = events_open(cfg->data_dir, &err);
    if (!ev) {
        cmd_error("no message history: %s", err);
        free(err);
        return cmd_close(&cfg, &db, NULL, 1);
    }
    char qids[MAX_QIDS][16];
    size_t n = 0;
    if (queue_id_valid(what, strlen(what))) {
        str_copy(qids[0], 16, what);
        n = 1;
    } else if (strchr(what, '@')) {
        n = events_find_by_message_id(ev, what, qids, MAX_QIDS);
        if (n == 0 && what[0] != '<') {
            char bracketed[600];
            snprintf(bracketed, sizeof(bracketed), "<%s>", what);
            n = events_find_by_message_id(ev, bracketed, qids, MAX_QIDS);
        }
        if (n == 0)
            n = events_find_by_address(ev, what, since, qids, MAX_QIDS);
    } else {
        events_close(&ev);
        cmd_error("'%s' is neither a queue ID, a Message-ID nor an address", what);
        return cmd_close(&cfg, &db, NULL, 2);
    }
    struct spool sp;
    const char *serr;
    /* without a spool the present is told from the events alone */
    (void)spool_open(&sp, cfg->data_dir, &serr);
    if (c.json)
        printf("{\"messages\":[");
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        struct trace_ctx t;
        memset(&t, 0, sizeof(t));
        t.json = c.json;
        if (c.json)
            printf("%s{\"id\":\"%s\",\"events\":[", shown ? "," : "", qids[i]);
        else
            printf("%s%s\n", shown ? "\n" : "", qids[i]);
        events_of(ev, qids[i], since, on_event, &t);
        present_state(&sp, qids[i], &t);
        if (c.json)
            printf("]}");
        shown++;
        /* follow the notifications this message caused */
        for (size_t r = 0; r < t.nrelated && n < MAX_QIDS; r++) {
            bool known = false;
            for (size_t q = 0; q < n; q++)
                if (strcmp(qids[q], t.related[r]) == 0)
                    known = true;
            if (!known)
                str_copy(qids[n++], 16, t.related[r]);
        }
        free(t.last);
    }
    if (c.json)
        printf("]}\n");
    else if (n == 0)
        printf("nothing recorded for %s\n", what);
    spool_close(&sp);
    events_close(&ev);
    return cmd_close(&cfg, &db, NULL, n ? 0 : 1);
}
