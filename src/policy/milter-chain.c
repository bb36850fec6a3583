#include "policy/milter-chain.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "mime/mime-header.h"
#include "policy/milter-edit.h"

#define ARGS_MAX        64   /* MAIL/RCPT words kept */
#define FAILURES_MAX    4096 /* bytes of the failure lines of one step */
#define HELO_MAX        1024 /* bytes of a HELO name kept */
#define HEADER_NAME_MAX 256  /* a longer field name is sent cut */

enum step { STEP_NONE, STEP_MAIL, STEP_RCPT, STEP_MESSAGE };

/* Where a member is in the current step. */
enum phase {
    PH_START,
    PH_HELO, /* the HELO is out */
    PH_MAIL, /* the MAIL is out */
    PH_RCPT,
    PH_DATA,
    PH_HEADER, /* a header field is out */
    PH_EOH,
    PH_BODY,
    PH_EOB,
};

/* What one milter said, as far as the chain cares. */
struct said {
    enum milter_verdict verdict; /* CONTINUE, REJECT, TEMPFAIL, REPLY, DISCARD, QUARANTINE */
    unsigned code;
    char enh[MILTER_ENH_MAX + 1];
    char text[MILTER_REPLY_LINE_MAX + 1];
    char reason[MILTER_REPLY_LINE_MAX + 1];
    bool failed;
    char detail[MILTER_DETAIL_MAX + 1];
};

struct member {
    struct milter_chain *ch;
    const struct milter_spec *spec;
    struct milter *m; /* NULL once dropped */
    bool ready;       /* opened and told of the client */
    bool refused;     /* the session is refused: `session` says how */
    struct said session;
    char *helo; /* the HELO name the milter knows */
    bool in_tx; /* a MAIL was sent and its message not finished */
    /* the current step */
    bool in_step;
    enum phase phase;
    size_t pos;      /* message: the next header field */
    size_t body_off; /* message: where the body starts */
    struct said step;
    /* the end of the message */
    struct milter_mod *mods;
    char **strings;
    size_t n_mods;
    struct buf body;
    bool body_replaced;
};

struct milter_chain {
    struct event_base *base;
    const struct milter_list *list;
    struct member *mb;
    size_t n;
    /* the client */
    char *hostname, *address, *daemon_name, *our_hostname, *port_text;
    uint16_t port;
    bool ipv6;
    /* the step */
    enum step step;
    size_t pending; /* members still in it */
    bool starting;  /* inside the step's call */
    bool tx_discard;
    milter_chain_done_fn *cb;
    void *cb_arg;
    char *helo, *auth_user, *qid;
    char *argv[ARGS_MAX];
    size_t argc;
    const char *msg;
    size_t msg_len;
    struct event *kick; /* answers a step no milter had to be asked about */
    struct buf failures;
    struct milter_mod *all_mods;
    size_t n_all_mods;
};

static void member_advance(struct member *mb);

static void said_set(struct said *s, enum milter_verdict v)
{
    memset(s, 0, sizeof(*s));
    s->verdict = v;
}

static bool is_refusal(enum milter_verdict v)
{
    return v == MILTER_REJECT || v == MILTER_TEMPFAIL || v == MILTER_REPLY;
}

/* How strong an answer is (milter-chain.h). */
static int strength(enum milter_verdict v)
{
    return is_refusal(v) ? 3 : v == MILTER_DISCARD ? 2 : v == MILTER_QUARANTINE ? 1 : 0;
}

/* Keep what a milter answered (the chain's view of it). */
static void said_from(struct said *s, const struct milter_result *r)
{
    said_set(s, r->verdict == MILTER_ACCEPT ? MILTER_CONTINUE : r->verdict);
    if (r->verdict == MILTER_REPLY) {
        s->code = r->code;
        str_copy(s->enh, sizeof(s->enh), r->enh);
        str_copy(s->text, sizeof(s->text), r->text);
    }
    if (r->verdict == MILTER_QUARANTINE)
        str_copy(s->reason, sizeof(s->reason), r->reason);
}

static void free_mods(struct member *mb)
{
    for (size_t i = 0; i < 2 * mb->n_mods; i++)
        free(mb->strings[i]);
    free(mb->strings);
    free(mb->mods);
    mb->strings = NULL;
    mb->mods = NULL;
    mb->n_mods = 0;
    buf_free(&mb->body);
    mb->body_replaced = false;
}

/* Copy the modifications of an end of body: they live only during the
 * callback. */
static void keep_mods(struct member *mb, const struct milter_result *r)
{
    free_mods(mb);
    if (r->n_mods) {
        mb->mods = xcalloc(r->n_mods, sizeof(*mb->mods));
        mb->strings = xcalloc(2 * r->n_mods, sizeof(*mb->strings));
        for (size_t i = 0; i < r->n_mods; i++) {
            mb->mods[i] = r->mods[i];
            mb->strings[2 * i] = xstrdup(r->mods[i].name ? r->mods[i].name : "");
            mb->strings[2 * i + 1] = xstrdup(r->mods[i].value ? r->mods[i].value : "");
            mb->mods[i].name = mb->strings[2 * i];
            mb->mods[i].value = mb->strings[2 * i + 1];
        }
        mb->n_mods = r->n_mods;
    }
    if (r->body_replaced) {
        buf_init(&mb->body, MILTER_CHAIN_BODY_MAX);
        buf_append(&mb->body, r->body ? r->body : "", r->body_len);
        mb->body_replaced = true;
    }
}

/* Fill in the reply of a refusal the milter gave without one. */
static void said_reply(struct said *s, bool message)
{
    if (s->verdict == MILTER_REJECT && !s->code) {
        s->code = 550;
        str_copy(s->enh, sizeof(s->enh), "5.7.1");
        str_copy(s->text, sizeof(s->text),
                 message ? "Message rejected by a mail filter"
                         : "Command rejected by a mail filter");
    } else if (s->verdict == MILTER_TEMPFAIL && !s->code) {
        s->code = 451;
        str_copy(s->enh, sizeof(s->enh), "4.7.1");
        str_copy(s->text, sizeof(s->text), "Temporary failure in a mail filter, try again later");
    } else if (s->verdict == MILTER_REPLY && !s->enh[0]) {
        str_copy(s->enh, sizeof(s->enh), s->code >= 500 ? "5.7.1" : "4.7.1");
    }
}

/* --- answering a step --- */

static void deliver(struct milter_chain *ch)
{
    struct milter_chain_result r;
    memset(&r, 0, sizeof(r));
    r.verdict = MILTER_CONTINUE;
    const struct member *best = NULL;
    for (size_t i = 0; i < ch->n; i++) {
        const struct member *mb = &ch->mb[i];
        if (strength(mb->step.verdict) > (best ? strength(best->step.verdict) : 0))
            best = mb;
    }
    if (best) {
        struct said s = best->step;
        said_reply(&s, ch->step == STEP_MESSAGE);
        r.verdict = s.verdict;
        r.code = s.code;
        str_copy(r.enh, sizeof(r.enh), s.enh);
        str_copy(r.text, sizeof(r.text), s.text);
        str_copy(r.reason, sizeof(r.reason), s.reason);
        str_copy(r.who, sizeof(r.who), best->spec->address);
        r.failed = s.failed;
        str_copy(r.detail, sizeof(r.detail), s.detail);
    }
    if (ch->step == STEP_MESSAGE && !is_refusal(r.verdict) && ch->tx_discard) {
        r.verdict = MILTER_DISCARD;
        if (!best)
            str_copy(r.who, sizeof(r.who), "(at MAIL or RCPT)");
    }
    free(ch->all_mods);
    ch->all_mods = NULL;
    ch->n_all_mods = 0;
    if (ch->step == STEP_MESSAGE) {
        size_t total = 0;
        for (size_t i = 0; i < ch->n; i++)
            total += ch->mb[i].n_mods;
        if (total)
            ch->all_mods = xcalloc(total, sizeof(*ch->all_mods));
        for (size_t i = 0; i < ch->n; i++) {
            struct member *mb = &ch->mb[i];
            for (size_t k = 0; k < mb->n_mods; k++)
                ch->all_mods[ch->n_all_mods++] = mb->mods[k];
            if (mb->body_replaced) {
                r.body = buf_cstr(&mb->body);
                r.body_len = mb->body.len;
            }
        }
        r.mods = ch->all_mods;
        r.n_mods = ch->n_all_mods;
        for (size_t i = 0; i < ch->n; i++)
            ch->mb[i].in_tx = false;
        ch->tx_discard = false;
    }
    /* the failures since the last answer (the chain may be freed by the
     * callback: keep nothing of it) */
    char failures[FAILURES_MAX + 1];
    str_copy(failures, sizeof(failures), buf_cstr(&ch->failures));
    buf_reset(&ch->failures);
    r.failures = failures;
    /* a refused MAIL ends the transaction for the milters that took it */
    if (ch->step == STEP_MAIL && is_refusal(r.verdict))
        milter_chain_abort(ch);
    ch->step = STEP_NONE;
    ch->cb(&r, ch->cb_arg);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    deliver(arg);
}

/* The member is through the current step. */
static void member_finish(struct member *mb)
{
    struct milter_chain *ch = mb->ch;
    if (!mb->in_step)
        return;
    mb->in_step = false;
    if (--ch->pending == 0 && !ch->starting)
        deliver(ch);
}

/* The milter failed: drop it for the session and apply its default. */
static void member_fail(struct member *mb, const char *detail)
{
    struct milter_chain *ch = mb->ch;
    milter_cancel(&mb->m);
    mb->ready = true;
    mb->in_tx = false;
    if (ch->failures.len)
        buf_append_str(&ch->failures, "; ");
    buf_printf(&ch->failures, "milter %s: %s (default %s)", mb->spec->address, detail,
               mb->spec->default_accept ? "accept" : "tempfail");
    if (!mb->spec->default_accept && !mb->refused) {
        mb->refused = true;
        said_set(&mb->session, MILTER_TEMPFAIL);
        mb->session.code = 451;
        str_copy(mb->session.enh, sizeof(mb->session.enh), "4.7.1");
        str_copy(mb->session.text, sizeof(mb->session.text),
                 "Temporary failure: a mail filter is unavailable, try again later");
        mb->session.failed = true;
        str_copy(mb->session.detail, sizeof(mb->session.detail), detail);
    }
    if (mb->in_step) {
        if (mb->refused)
            mb->step = mb->session;
        member_finish(mb);
    }
}

/* Send macros; failures show at the next call. */
static void macros(struct member *mb, char stage, const char *const *names,
                   const char *const *values, size_t n)
{
    const char *nn[8], *vv[8];
    size_t k = 0;
    for (size_t i = 0; i < n && k < 8; i++)
        if (values[i]) {
            nn[k] = names[i];
            vv[k++] = values[i];
        }
    if (k)
        milter_macros(mb->m, stage, nn, vv, k);
}

/* Issue a call; a refused call is a failure. */
static void called(struct member *mb, int rc, const char *what)
{
    if (rc == 0)
        return;
    char d[80];
    snprintf(d, sizeof(d), "cannot send %s", what);
    member_fail(mb, d);
}

/* The next header field of the message, or the end of the header. */
static void send_next_header(struct member *mb)
{
    struct milter_chain *ch = mb->ch;
    struct mime_field f;
    size_t pos = mb->pos;
    if (mime_header_next(ch->msg, ch->msg_len, &pos, &f)) {
        mb->pos = pos;
        char name[HEADER_NAME_MAX + 1];
        str_copyn(name, sizeof(name), f.name,
                  f.name_len < HEADER_NAME_MAX ? f.name_len : HEADER_NAME_MAX);
        struct buf v;
        buf_init(&v, MILTER_PACKET_MAX / 2);
        milter_edit_header_value(f.value, f.value_len, &v);
        mb->phase = PH_HEADER;
        called(mb, milter_header(mb->m, name, buf_cstr(&v)), "a header field");
        buf_free(&v);
        return;
    }
    /* pos is at the empty line, or at the end */
    mb->body_off = pos;
    if (pos + 2 <= ch->msg_len && ch->msg[pos] == '\r' && ch->msg[pos + 1] == '\n')
        mb->body_off = pos + 2;
    else if (pos < ch->msg_len && ch->msg[pos] == '\n')
        mb->body_off = pos + 1;
    mb->phase = PH_EOH;
    called(mb, milter_eoh(mb->m), "the end of the header");
}

/* Make the member's next call of the step, or finish it. */
static void member_advance(struct member *mb)
{
    struct milter_chain *ch = mb->ch;
    if (!mb->in_step)
        return;
    if (mb->refused && ch->step == STEP_MAIL) {
        mb->step = mb->session;
        member_finish(mb);
        return;
    }
    if (!mb->m) {
        member_finish(mb);
        return;
    }
    if (!mb->ready)
        return; /* comes back when connected */
    switch (ch->step) {
    case STEP_MAIL:
        if (mb->phase == PH_START && (!mb->helo || strcmp(mb->helo, ch->helo) != 0)) {
            free(mb->helo);
            mb->helo = xstrdup(ch->helo);
            mb->phase = PH_HELO;
            called(mb, milter_helo(mb->m, ch->helo), "HELO");
            return;
        }
        if (mb->phase == PH_START || mb->phase == PH_HELO) {
            const char *names[] = {"{mail_addr}", "{auth_authen}", "{auth_type}"};
            const char *values[] = {ch->argc ? ch->argv[0] : "", ch->auth_user,
                                    ch->auth_user ? "PLAIN" : NULL};
            macros(mb, SMFIC_MAIL, names, values, 3);
            mb->phase = PH_MAIL;
            mb->in_tx = true;
            called(mb, milter_mail(mb->m, (const char *const *)ch->argv, ch->argc), "MAIL");
            return;
        }
        break;
    case STEP_RCPT:
        if (mb->phase == PH_START) {
            const char *names[] = {"{rcpt_addr}"};
            const char *values[] = {ch->argc ? ch->argv[0] : ""};
            macros(mb, SMFIC_RCPT, names, values, 1);
            mb->phase = PH_RCPT;
            called(mb, milter_rcpt(mb->m, (const char *const *)ch->argv, ch->argc), "RCPT");
            return;
        }
        break;
    case STEP_MESSAGE:
        switch (mb->phase) {
        case PH_START: {
            const char *names[] = {"i"};
            const char *values[] = {ch->qid};
            macros(mb, SMFIC_DATA, names, values, 1);
            mb->phase = PH_DATA;
            called(mb, milter_data(mb->m), "DATA");
            return;
        }
        case PH_DATA:
        case PH_HEADER:
            send_next_header(mb);
            return;
        case PH_EOH:
            mb->phase = PH_BODY;
            called(mb,
                   milter_body(mb->m, ch->msg + mb->body_off,
                               ch->msg_len > mb->body_off ? ch->msg_len - mb->body_off : 0),
                   "the body");
            return;
        case PH_BODY: {
            const char *names[] = {"i"};
            const char *values[] = {ch->qid};
            macros(mb, SMFIC_BODYEOB, names, values, 1);
            mb->phase = PH_EOB;
            called(mb, milter_eob(mb->m), "the end of the message");
            return;
        }
        default:
            break;
        }
        break;
    case STEP_NONE:
        break;
    }
    member_finish(mb);
}

/* A milter answered. */
static void on_result(const struct milter_result *r, void *arg)
{
    struct member *mb = arg;
    struct milter_chain *ch = mb->ch;
    if (r->verdict == MILTER_FAILED) {
        char d[MILTER_DETAIL_MAX + 80];
        snprintf(d, sizeof(d), "%s at %s: %s", milter_failure_name(r->failure),
                 milter_stage_name(r->stage), r->detail);
        member_fail(mb, d);
        return;
    }
    switch (r->stage) {
    case MILTER_STAGE_OPEN: {
        const char *names[] = {"j", "{daemon_name}", "{client_addr}", "{client_name}",
                               "{client_port}"};
        const char *values[] = {ch->our_hostname, ch->daemon_name, ch->address, ch->hostname,
                                ch->port_text};
        macros(mb, SMFIC_CONNECT, names, values, 5);
        called(mb,
               milter_connect(mb->m, ch->hostname, ch->ipv6 ? SMFIA_INET6 : SMFIA_INET, ch->port,
                              ch->address),
               "the connection");
        return;
    }
    case MILTER_STAGE_CONNECT:
        if (is_refusal(r->verdict)) {
            mb->refused = true;
            said_from(&mb->session, r);
        }
        mb->ready = true;
        member_advance(mb);
        return;
    case MILTER_STAGE_HELO:
        if (is_refusal(r->verdict)) {
            mb->refused = true;
            said_from(&mb->session, r);
            mb->step = mb->session;
            member_finish(mb);
            return;
        }
        member_advance(mb);
        return;
    case MILTER_STAGE_MAIL:
    case MILTER_STAGE_RCPT:
        if (r->verdict == MILTER_DISCARD)
            ch->tx_discard = true;
        else
            said_from(&mb->step, r);
        member_finish(mb);
        return;
    case MILTER_STAGE_EOB:
        said_from(&mb->step, r);
        keep_mods(mb, r);
        mb->in_tx = false;
        member_finish(mb);
        return;
    default: /* data, header, eoh, body */
        if (r->verdict != MILTER_CONTINUE) {
            said_from(&mb->step, r);
            mb->in_tx = false;
            member_finish(mb);
            return;
        }
        member_advance(mb);
        return;
    }
}

/* --- the owner's calls --- */

struct milter_chain *milter_chain_start(struct event_base *base, const struct milter_list *list,
                                        const struct milter_chain_client *client)
{
    if (!list || list->n == 0)
        return NULL;
    struct milter_chain *ch = xcalloc(1, sizeof(*ch));
    ch->base = base;
    ch->list = list;
    ch->n = list->n;
    ch->mb = xcalloc(ch->n, sizeof(*ch->mb));
    ch->hostname = xstrdup(client->hostname);
    ch->address = xstrdup(client->address);
    ch->daemon_name = xstrdup(client->daemon_name);
    ch->our_hostname = xstrdup(client->our_hostname);
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)client->port);
    ch->port_text = xstrdup(port);
    ch->port = client->port;
    ch->ipv6 = client->ipv6;
    ch->kick = evtimer_new(base, on_kick, ch);
    buf_init(&ch->failures, FAILURES_MAX);
    for (size_t i = 0; i < ch->n; i++) {
        struct member *mb = &ch->mb[i];
        mb->ch = ch;
        mb->spec = &list->m[i];
        buf_init(&mb->body, MILTER_CHAIN_BODY_MAX);
        struct milter_options o = {.address = mb->spec->address,
                                   .connect_timeout_ms = mb->spec->connect_timeout_ms,
                                   .command_timeout_ms = mb->spec->command_timeout_ms,
                                   .body_max = MILTER_CHAIN_BODY_MAX};
        const char *err = NULL;
        mb->m = milter_open(base, &o, on_result, mb, &err);
        if (!mb->m)
            member_fail(mb, err ? err : "bad address");
    }
    return ch;
}

static void step_args(struct milter_chain *ch, const char *const *argv, size_t argc)
{
    for (size_t i = 0; i < ch->argc; i++)
        free(ch->argv[i]);
    ch->argc = 0;
    for (size_t i = 0; i < argc && i < ARGS_MAX; i++)
        ch->argv[ch->argc++] = xstrdup(argv[i]);
}

/* Start a step on every member. */
static int step_begin(struct milter_chain *ch, enum step step, milter_chain_done_fn *cb, void *arg)
{
    ch->step = step;
    ch->cb = cb;
    ch->cb_arg = arg;
    ch->pending = ch->n;
    ch->starting = true;
    for (size_t i = 0; i < ch->n; i++) {
        struct member *mb = &ch->mb[i];
        mb->in_step = true;
        mb->phase = PH_START;
        mb->pos = 0;
        said_set(&mb->step, MILTER_CONTINUE);
        if (step == STEP_MESSAGE)
            free_mods(mb);
    }
    for (size_t i = 0; i < ch->n; i++)
        member_advance(&ch->mb[i]);
    ch->starting = false;
    if (ch->pending == 0) {
        struct timeval now = {0, 0};
        evtimer_add(ch->kick, &now);
    }
    return 0;
}

int milter_chain_mail(struct milter_chain *ch, const char *helo, const char *auth_user,
                      const char *const *argv, size_t argc, milter_chain_done_fn *cb, void *arg)
{
    if (ch->step != STEP_NONE)
        return -1;
    free(ch->helo);
    char h[HELO_MAX + 1];
    str_copy(h, sizeof(h), helo ? helo : "");
    ch->helo = xstrdup(h);
    free(ch->auth_user);
    ch->auth_user = auth_user ? xstrdup(auth_user) : NULL;
    step_args(ch, argv, argc);
    ch->tx_discard = false;
    return step_begin(ch, STEP_MAIL, cb, arg);
}

int milter_chain_rcpt(struct milter_chain *ch, const char *const *argv, size_t argc,
                      milter_chain_done_fn *cb, void *arg)
{
    if (ch->step != STEP_NONE)
        return -1;
    step_args(ch, argv, argc);
    return step_begin(ch, STEP_RCPT, cb, arg);
}

int milter_chain_message(struct milter_chain *ch, const char *qid, const char *msg, size_t len,
                         milter_chain_done_fn *cb, void *arg)
{
    if (ch->step != STEP_NONE)
        return -1;
    free(ch->qid);
    ch->qid = xstrdup(qid);
    ch->msg = msg ? msg : "";
    ch->msg_len = msg ? len : 0;
    return step_begin(ch, STEP_MESSAGE, cb, arg);
}

void milter_chain_abort(struct milter_chain *ch)
{
    if (!ch)
        return;
    for (size_t i = 0; i < ch->n; i++) {
        struct member *mb = &ch->mb[i];
        if (mb->in_tx && mb->m && !mb->in_step && milter_abort(mb->m) != 0)
            member_fail(mb, "cannot send ABORT");
        mb->in_tx = false;
    }
    ch->tx_discard = false;
}

bool milter_chain_busy(const struct milter_chain *ch)
{
    return ch && ch->step != STEP_NONE;
}

void milter_chain_free(struct milter_chain **chp)
{
    struct milter_chain *ch = *chp;
    if (!ch)
        return;
    for (size_t i = 0; i < ch->n; i++) {
        struct member *mb = &ch->mb[i];
        if (mb->m && (mb->in_step || !mb->ready))
            milter_cancel(&mb->m);
        else
            milter_quit(&mb->m);
        free(mb->helo);
        free_mods(mb);
    }
    free(ch->mb);
    for (size_t i = 0; i < ch->argc; i++)
        free(ch->argv[i]);
    free(ch->hostname);
    free(ch->address);
    free(ch->daemon_name);
    free(ch->our_hostname);
    free(ch->port_text);
    free(ch->helo);
    free(ch->auth_user);
    free(ch->qid);
    free(ch->all_mods);
    buf_free(&ch->failures);
    if (ch->kick)
        event_free(ch->kick);
    free(ch);
    *chp = NULL;
}
