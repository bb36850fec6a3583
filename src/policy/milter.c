/* milter: the asynchronous client of one milter (see milter.h). */
#include "policy/milter.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "lib/net-connect.h"
#include "lib/net.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define MILTER_TIMEOUT_MAX (24u * 3600u * 1000u) /* clamp: a day, in ms */
#define MILTER_READ_PIECE  4096                  /* bytes handed to the reader at once */

/* What we offer: every action we can apply, every step may be declined
 * or left unanswered. */
#define OFFERED_ACTIONS                                                                            \
    (SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_CHGHDRS |               \
     SMFIF_QUARANTINE | SMFIF_CHGFROM)
#define OFFERED_PROTOCOL                                                                           \
    (SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NORCPT | SMFIP_NOBODY | SMFIP_NOHDRS |  \
     SMFIP_NOEOH | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NR_HDR | SMFIP_NR_CONN | SMFIP_NR_HELO | \
     SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_EOH | SMFIP_NR_BODY)

enum milter_state {
    ST_CONNECTING,  /* waiting for the connection */
    ST_NEGOTIATING, /* OPTNEG sent */
    ST_READY,       /* no call pending */
    ST_WAITING,     /* a command sent, its answer awaited */
    ST_DEFERRED,    /* a call answered without the milter, from the timer */
    ST_DEAD,        /* failed: every call fails */
    ST_QUITTING,    /* QUIT queued; freed once sent */
};

struct milter {
    struct event_base *base;
    struct bufferevent *bev;
    struct event *timer;
    milter_done_fn *cb;
    void *arg;
    enum milter_state state;
    enum milter_stage stage;
    unsigned connect_timeout_ms;
    unsigned command_timeout_ms;
    size_t body_max;
    uint32_t version, actions, protocol;
    bool session_accepted; /* ACCEPT at connect or helo */
    bool message_done;     /* the milter decided the current message */
    struct milter_reader reader;
    struct buf out; /* one encoded packet */
    /* milter_body */
    const unsigned char *body_data;
    size_t body_len, body_sent;
    /* milter_eob */
    struct milter_mod *mods;
    char **strings; /* the names and values the mods point to */
    size_t n_mods, n_strings, mods_bytes;
    struct buf new_body;
    bool body_replaced;
    bool quarantine;
    char reason[MILTER_REPLY_LINE_MAX + 1];
    struct milter_result deferred;
    char address[MILTER_ADDRESS_TEXT_MAX];
};

int milter_address_check(const char *address, const char **error_r)
{
    struct net_peer a;
    return net_parse_peer(address, &a, error_r);
}

/* Forget the modifications and the new body of a message. */
static void mods_clear(struct milter *m)
{
    for (size_t i = 0; i < m->n_strings; i++)
        free(m->strings[i]);
    free(m->strings);
    free(m->mods);
    m->strings = NULL;
    m->mods = NULL;
    m->n_mods = m->n_strings = m->mods_bytes = 0;
    buf_free(&m->new_body);
    buf_init(&m->new_body, m->body_max);
    m->body_replaced = false;
    m->quarantine = false;
    m->reason[0] = '\0';
}

static void milter_free(struct milter *m)
{
    if (m->bev != NULL)
        bufferevent_free(m->bev);
    if (m->timer != NULL)
        event_free(m->timer);
    mods_clear(m);
    buf_free(&m->new_body);
    buf_free(&m->out);
    milter_reader_free(&m->reader);
    free(m);
}

static void timer_start(struct milter *m, unsigned ms)
{
    const struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(m->timer, &tv);
}

static void result_init(struct milter_result *r, enum milter_stage stage,
                        enum milter_verdict verdict)
{
    memset(r, 0, sizeof(*r));
    r->stage = stage;
    r->verdict = verdict;
}

/* The call is answered: back to READY, then tell the owner (who may make
 * the next call, or cancel, from the callback: touch nothing after). */
static void finish(struct milter *m, const struct milter_result *r)
{
    evtimer_del(m->timer);
    if (m->state != ST_DEAD)
        m->state = ST_READY;
    m->cb(r, m->arg);
}

/* Format a printable, bounded reason into r->detail. */
static void set_detail(struct milter_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_detail(struct milter_result *r, const char *fmt, ...)
{
    char tmp[MILTER_DETAIL_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        str_copy(tmp, sizeof(tmp), "(unformattable reason)");
    /* n >= sizeof(tmp): cut, which a bounded log reason may be. */
    str_printable(r->detail, sizeof(r->detail), tmp, strnlen(tmp, sizeof(tmp)));
}

/* The session failed: it is dead; tell the owner if a call is pending. */
static void fail(struct milter *m, enum milter_failure failure, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct milter *m, enum milter_failure failure, const char *fmt, ...)
{
    bool pending = m->state == ST_CONNECTING || m->state == ST_NEGOTIATING ||
                   m->state == ST_WAITING || m->state == ST_DEFERRED;
    m->state = ST_DEAD;
    evtimer_del(m->timer);
    if (m->bev != NULL) {
        bufferevent_free(m->bev);
        m->bev = NULL;
    }
    if (!pending)
        return;
    struct milter_result r;
    result_init(&r, m->stage, MILTER_FAILED);
    r.failure = failure;
    char tmp[MILTER_DETAIL_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        str_copy(tmp, sizeof(tmp), "(unformattable reason)");
    set_detail(&r, "%s", tmp);
    finish(m, &r);
}

/* Send the packet in m->out and wait for its answer. */
static void send_and_wait(struct milter *m)
{
    bufferevent_write(m->bev, m->out.data, m->out.len);
    buf_reset(&m->out);
    m->state = ST_WAITING;
    timer_start(m, m->command_timeout_ms);
}

/* Answer the call from the loop without asking the milter. */
static void defer(struct milter *m, const struct milter_result *r)
{
    m->deferred = *r;
    m->state = ST_DEFERRED;
    timer_start(m, 0);
}

static void defer_skip(struct milter *m)
{
    struct milter_result r;
    result_init(&r, m->stage, MILTER_CONTINUE);
    r.skipped = true;
    defer(m, &r);
}

/* Check that a call may start now, and note its stage. */
static int call_begin(struct milter *m, enum milter_stage stage)
{
    if (m == NULL || m->state != ST_READY)
        return -1;
    m->stage = stage;
    buf_reset(&m->out);
    return 0;
}

/* Keep a copy of a modification's string; NULL past the limits. */
static const char *keep_string(struct milter *m, const char *s)
{
    size_t n = strlen(s);
    if (m->mods_bytes + n + 1 > MILTER_MODS_BYTES_MAX)
        return NULL;
    m->mods_bytes += n + 1;
    m->strings = xrealloc(m->strings, (m->n_strings + 1) * sizeof(*m->strings));
    m->strings[m->n_strings] = xstrdup(s);
    return m->strings[m->n_strings++];
}

/* Record a modification at end of body. Returns 0 or -1 (fail()ed). */
static int add_mod(struct milter *m, const struct milter_reply *rep)
{
    static const struct {
        char cmd;
        uint32_t action;
        enum milter_mod_type type;
    } table[] = {
        {SMFIR_ADDHEADER, SMFIF_ADDHDRS, MILTER_MOD_ADD_HEADER},
        {SMFIR_INSHEADER, SMFIF_ADDHDRS, MILTER_MOD_INSERT_HEADER},
        {SMFIR_CHGHEADER, SMFIF_CHGHDRS, MILTER_MOD_CHANGE_HEADER},
        {SMFIR_ADDRCPT, SMFIF_ADDRCPT, MILTER_MOD_ADD_RCPT},
        {SMFIR_DELRCPT, SMFIF_DELRCPT, MILTER_MOD_DELETE_RCPT},
        {SMFIR_CHGFROM, SMFIF_CHGFROM, MILTER_MOD_CHANGE_FROM},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (table[i].cmd != rep->cmd)
            continue;
        if ((m->actions & table[i].action) == 0) {
            fail(m, MILTER_FAIL_PROTOCOL, "milter %s: modification '%c' not negotiated", m->address,
                 rep->cmd);
            return -1;
        }
        if (m->n_mods >= MILTER_MODS_MAX) {
            fail(m, MILTER_FAIL_PROTOCOL, "milter %s: more than %d modifications", m->address,
                 MILTER_MODS_MAX);
            return -1;
        }
        const char *name = keep_string(m, rep->name);
        const char *value = name != NULL ? keep_string(m, rep->value) : NULL;
        if (value == NULL) {
            fail(m, MILTER_FAIL_PROTOCOL, "milter %s: modifications larger than %u bytes",
                 m->address, MILTER_MODS_BYTES_MAX);
            return -1;
        }
        m->mods = xrealloc(m->mods, (m->n_mods + 1) * sizeof(*m->mods));
        struct milter_mod *mod = &m->mods[m->n_mods++];
        mod->type = table[i].type;
        mod->index = rep->index;
        mod->name = name;
        mod->value = value;
        return 0;
    }
    fail(m, MILTER_FAIL_PROTOCOL, "milter %s: unexpected reply '%c'", m->address, rep->cmd);
    return -1;
}

/* The "no reply" flag of a stage (0: its command is always answered). */
static uint32_t no_reply_flag(enum milter_stage stage)
{
    switch (stage) {
    case MILTER_STAGE_CONNECT:
        return SMFIP_NR_CONN;
    case MILTER_STAGE_HELO:
        return SMFIP_NR_HELO;
    case MILTER_STAGE_MAIL:
        return SMFIP_NR_MAIL;
    case MILTER_STAGE_RCPT:
        return SMFIP_NR_RCPT;
    case MILTER_STAGE_DATA:
        return SMFIP_NR_DATA;
    case MILTER_STAGE_HEADER:
        return SMFIP_NR_HDR;
    case MILTER_STAGE_EOH:
        return SMFIP_NR_EOH;
    case MILTER_STAGE_BODY:
        return SMFIP_NR_BODY;
    default:
        return 0;
    }
}

/* The milter will not answer the current call's command. */
static bool no_reply(const struct milter *m)
{
    return (m->protocol & no_reply_flag(m->stage)) != 0;
}

/* Send the packet in m->out; the call is answered CONTINUE at once, from
 * the loop, as the milter will say nothing. */
static void send_unanswered(struct milter *m)
{
    bufferevent_write(m->bev, m->out.data, m->out.len);
    buf_reset(&m->out);
    struct milter_result r;
    result_init(&r, m->stage, MILTER_CONTINUE);
    defer(m, &r);
}

/* Send the next chunk of the body (there is one), or all of it to a
 * milter that does not answer body chunks. Returns 0, or -1 if the
 * session failed. */
static int send_body_chunk(struct milter *m)
{
    while (no_reply(m) && m->body_len - m->body_sent > MILTER_BODY_CHUNK_MAX) {
        if (milter_encode_body(&m->out, m->body_data + m->body_sent, MILTER_BODY_CHUNK_MAX) != 0) {
            fail(m, MILTER_FAIL_PROTOCOL, "milter %s: cannot encode a body chunk", m->address);
            return -1;
        }
        m->body_sent += MILTER_BODY_CHUNK_MAX;
        bufferevent_write(m->bev, m->out.data, m->out.len);
        buf_reset(&m->out);
    }
    size_t n = m->body_len - m->body_sent;
    if (n > MILTER_BODY_CHUNK_MAX)
        n = MILTER_BODY_CHUNK_MAX;
    if (milter_encode_body(&m->out, m->body_data + m->body_sent, n) != 0) {
        fail(m, MILTER_FAIL_PROTOCOL, "milter %s: cannot encode a body chunk", m->address);
        return -1;
    }
    m->body_sent += n;
    if (no_reply(m))
        send_unanswered(m);
    else
        send_and_wait(m);
    return 0;
}

/* The negotiation reply. */
static void on_optneg(struct milter *m, const struct milter_reply *rep)
{
    if (rep->cmd != SMFIR_OPTNEG) {
        fail(m, MILTER_FAIL_PROTOCOL, "milter %s: '%c' instead of the negotiation reply",
             m->address, rep->cmd);
        return;
    }
    if (rep->version < MILTER_VERSION_MIN || rep->version > MILTER_VERSION) {
        fail(m, MILTER_FAIL_NEGOTIATE, "milter %s: protocol version %u not supported", m->address,
             (unsigned)rep->version);
        return;
    }
    if ((rep->actions & ~(uint32_t)OFFERED_ACTIONS) != 0) {
        fail(m, MILTER_FAIL_NEGOTIATE, "milter %s: wants actions 0x%x, offered 0x%x", m->address,
             (unsigned)rep->actions, (unsigned)OFFERED_ACTIONS);
        return;
    }
    if ((rep->protocol & ~(uint32_t)OFFERED_PROTOCOL) != 0) {
        fail(m, MILTER_FAIL_NEGOTIATE, "milter %s: wants protocol flags 0x%x, offered 0x%x",
             m->address, (unsigned)rep->protocol, (unsigned)OFFERED_PROTOCOL);
        return;
    }
    m->version = rep->version;
    m->actions = rep->actions;
    m->protocol = rep->protocol;
    struct milter_result r;
    result_init(&r, MILTER_STAGE_OPEN, MILTER_CONTINUE);
    finish(m, &r);
}

/* What a final verdict means for the calls that follow. */
static void note_verdict(struct milter *m, enum milter_verdict v)
{
    if (v == MILTER_CONTINUE)
        return;
    switch (m->stage) {
    case MILTER_STAGE_CONNECT:
    case MILTER_STAGE_HELO:
        if (v == MILTER_ACCEPT)
            m->session_accepted = true;
        break;
    case MILTER_STAGE_RCPT:
        /* reject and tempfail concern this recipient only */
        if (v == MILTER_ACCEPT || v == MILTER_DISCARD)
            m->message_done = true;
        break;
    default:
        m->message_done = true;
        break;
    }
}

/* A reply to a stage command. Returns true if the call goes on. */
static bool on_reply(struct milter *m, const struct milter_reply *rep)
{
    struct milter_result r;
    switch (rep->cmd) {
    case SMFIR_PROGRESS:
        timer_start(m, m->command_timeout_ms);
        return true;
    case SMFIR_CONTINUE:
        if (m->stage == MILTER_STAGE_BODY && m->body_sent < m->body_len) {
            return send_body_chunk(m) == 0;
        }
        result_init(&r, m->stage, MILTER_CONTINUE);
        break;
    case SMFIR_ACCEPT:
        result_init(&r, m->stage, MILTER_ACCEPT);
        break;
    case SMFIR_REJECT:
        result_init(&r, m->stage, MILTER_REJECT);
        break;
    case SMFIR_TEMPFAIL:
        result_init(&r, m->stage, MILTER_TEMPFAIL);
        break;
    case SMFIR_DISCARD:
        result_init(&r, m->stage, MILTER_DISCARD);
        break;
    case SMFIR_REPLYCODE:
        result_init(&r, m->stage, MILTER_REPLY);
        r.code = rep->code;
        str_copy(r.enh, sizeof(r.enh), rep->enh);
        str_copy(r.text, sizeof(r.text), rep->text);
        break;
    case SMFIR_QUARANTINE:
        if (m->stage != MILTER_STAGE_EOB || (m->actions & SMFIF_QUARANTINE) == 0) {
            fail(m, MILTER_FAIL_PROTOCOL, "milter %s: quarantine not allowed here", m->address);
            return false;
        }
        m->quarantine = true;
        str_printable(m->reason, sizeof(m->reason), rep->name, strlen(rep->name));
        return true;
    case SMFIR_REPLBODY:
        if (m->stage != MILTER_STAGE_EOB || (m->actions & SMFIF_CHGBODY) == 0) {
            fail(m, MILTER_FAIL_PROTOCOL, "milter %s: body replacement not allowed here",
                 m->address);
            return false;
        }
        if (buf_append(&m->new_body, rep->body, rep->body_len) != 0) {
            fail(m, MILTER_FAIL_PROTOCOL, "milter %s: replacement body larger than %zu bytes",
                 m->address, m->body_max);
            return false;
        }
        m->body_replaced = true;
        return true;
    default:
        if (m->stage != MILTER_STAGE_EOB) {
            fail(m, MILTER_FAIL_PROTOCOL, "milter %s: reply '%c' not allowed at %s", m->address,
                 rep->cmd, milter_stage_name(m->stage));
            return false;
        }
        return add_mod(m, rep) == 0;
    }
    note_verdict(m, r.verdict);
    if (m->stage == MILTER_STAGE_EOB) {
        if (m->quarantine && (r.verdict == MILTER_CONTINUE || r.verdict == MILTER_ACCEPT)) {
            r.verdict = MILTER_QUARANTINE;
            str_copy(r.reason, sizeof(r.reason), m->reason);
        }
        if (r.verdict != MILTER_REJECT && r.verdict != MILTER_TEMPFAIL &&
            r.verdict != MILTER_REPLY && r.verdict != MILTER_DISCARD) {
            r.mods = m->mods;
            r.n_mods = m->n_mods;
            r.body_replaced = m->body_replaced;
            r.body = buf_cstr(&m->new_body);
            r.body_len = m->new_body.len;
        }
    }
    finish(m, &r);
    return false;
}

/* Hand one whole packet to the state machine. Returns true if the call
 * goes on (more packets may be read), false if it ended or failed. */
static bool on_packet(struct milter *m, char cmd, const char *data, size_t len)
{
    struct milter_reply rep;
    const char *error = NULL;
    if (m->state != ST_NEGOTIATING && m->state != ST_WAITING) {
        fail(m, MILTER_FAIL_PROTOCOL, "milter %s: '%c' when nothing was asked", m->address, cmd);
        return false;
    }
    if (milter_reply_decode(cmd, data, len, &rep, &error) != 0) {
        fail(m, MILTER_FAIL_PROTOCOL, "milter %s: reply '%c': %s", m->address, cmd, error);
        return false;
    }
    if (m->state == ST_NEGOTIATING) {
        on_optneg(m, &rep);
        return false;
    }
    return on_reply(m, &rep);
}

/* Input arrived: cut it into packets. Stops after a packet that ended
 * the call (the owner may have freed the session from the callback). */
static void on_read(struct bufferevent *bev, void *arg)
{
    struct milter *m = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    unsigned char piece[MILTER_READ_PIECE];
    for (;;) {
        ev_ssize_t got = evbuffer_copyout(in, piece, sizeof(piece));
        if (got <= 0)
            return;
        size_t used;
        int rc = milter_reader_push(&m->reader, piece, (size_t)got, &used);
        evbuffer_drain(in, used);
        if (rc < 0) {
            fail(m, MILTER_FAIL_PROTOCOL, "milter %s: packet length 0 or over %u bytes", m->address,
                 MILTER_PACKET_MAX);
            return;
        }
        if (rc == 0)
            continue;
        char cmd;
        const char *data;
        size_t len;
        milter_reader_packet(&m->reader, &cmd, &data, &len);
        if (!on_packet(m, cmd, data, len))
            return;
    }
}

/* Connected, closed, or broken. */
static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct milter *m = arg;
    int err = EVUTIL_SOCKET_ERROR();
    if (m->state == ST_QUITTING) {
        milter_free(m);
        return;
    }
    if (what & BEV_EVENT_CONNECTED) {
        if (milter_encode_optneg(&m->out, MILTER_VERSION, OFFERED_ACTIONS, OFFERED_PROTOCOL) != 0) {
            fail(m, MILTER_FAIL_PROTOCOL, "milter %s: cannot encode the negotiation", m->address);
            return;
        }
        bufferevent_write(m->bev, m->out.data, m->out.len);
        buf_reset(&m->out);
        m->state = ST_NEGOTIATING;
        bufferevent_enable(m->bev, EV_READ | EV_WRITE);
        return;
    }
    if (m->state == ST_CONNECTING) {
        fail(m, MILTER_FAIL_CONNECT, "connect %s: %s", m->address, err ? strerror(err) : "failed");
        return;
    }
    if (what & BEV_EVENT_ERROR)
        fail(m, MILTER_FAIL_IO, "milter %s: %s", m->address, err ? strerror(err) : "I/O error");
    else
        fail(m, MILTER_FAIL_IO, "milter %s: connection closed", m->address);
}

/* QUIT has gone out: close. */
static void on_quit_flushed(struct bufferevent *bev, void *arg)
{
    (void)bev;
    milter_free(arg);
}

/* A timeout, a deferred answer, or the end of a QUIT that did not drain. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct milter *m = arg;
    switch (m->state) {
    case ST_QUITTING:
        milter_free(m);
        return;
    case ST_DEFERRED: {
        struct milter_result r = m->deferred;
        finish(m, &r);
        return;
    }
    case ST_CONNECTING:
    case ST_NEGOTIATING:
        fail(m, MILTER_FAIL_TIMEOUT, "milter %s: not ready within %u ms", m->address,
             m->connect_timeout_ms);
        return;
    case ST_WAITING:
        fail(m, MILTER_FAIL_TIMEOUT, "milter %s: no answer at %s within %u ms", m->address,
             milter_stage_name(m->stage), m->command_timeout_ms);
        return;
    case ST_READY:
    case ST_DEAD:
        return;
    }
}

static unsigned clamp_ms(unsigned ms)
{
    return ms < MILTER_TIMEOUT_MAX ? ms : MILTER_TIMEOUT_MAX;
}

struct milter *milter_open(struct event_base *base, const struct milter_options *opts,
                           milter_done_fn *cb, void *arg, const char **error_r)
{
    struct net_peer a;
    if (net_parse_peer(opts->address, &a, error_r) != 0)
        return NULL;
    struct milter *m = xcalloc(1, sizeof(*m));
    m->base = base;
    m->cb = cb;
    m->arg = arg;
    m->connect_timeout_ms = clamp_ms(opts->connect_timeout_ms);
    m->command_timeout_ms = clamp_ms(opts->command_timeout_ms);
    m->body_max = opts->body_max;
    m->stage = MILTER_STAGE_OPEN;
    m->state = ST_CONNECTING;
    str_copy(m->address, sizeof(m->address), opts->address);
    milter_reader_init(&m->reader);
    buf_init(&m->out, MILTER_PACKET_MAX + 4);
    buf_init(&m->new_body, m->body_max);
    m->timer = evtimer_new(base, on_timer, m);
    if (m->timer == NULL) {
        milter_free(m);
        *error_r = "cannot create a timer";
        return NULL;
    }
    timer_start(m, m->connect_timeout_ms);
    char why[200];
    m->bev = net_connect_start(base, &a, why, sizeof(why));
    if (m->bev == NULL) {
        struct milter_result r;
        result_init(&r, MILTER_STAGE_OPEN, MILTER_FAILED);
        r.failure = MILTER_FAIL_CONNECT;
        set_detail(&r, "connect %s: %s", m->address, why);
        defer(m, &r);
        return m;
    }
    bufferevent_setcb(m->bev, on_read, NULL, on_event, m);
    return m;
}

/* Encode (with rc from an encoder) and send, or fail the call. */
static int call_send(struct milter *m, int rc)
{
    if (rc != 0) {
        buf_reset(&m->out);
        return -1;
    }
    if (no_reply(m))
        send_unanswered(m);
    else
        send_and_wait(m);
    return 0;
}

int milter_connect(struct milter *m, const char *hostname, char family, uint16_t port,
                   const char *address)
{
    if (call_begin(m, MILTER_STAGE_CONNECT) != 0)
        return -1;
    if ((m->protocol & SMFIP_NOCONNECT) || m->session_accepted) {
        defer_skip(m);
        return 0;
    }
    return call_send(m, milter_encode_connect(&m->out, hostname, family, port, address));
}

int milter_helo(struct milter *m, const char *helo)
{
    if (call_begin(m, MILTER_STAGE_HELO) != 0)
        return -1;
    if ((m->protocol & SMFIP_NOHELO) || m->session_accepted) {
        defer_skip(m);
        return 0;
    }
    return call_send(m, milter_encode_helo(&m->out, helo));
}

int milter_mail(struct milter *m, const char *const *argv, size_t argc)
{
    if (call_begin(m, MILTER_STAGE_MAIL) != 0)
        return -1;
    m->message_done = false;
    mods_clear(m);
    if ((m->protocol & SMFIP_NOMAIL) || m->session_accepted) {
        defer_skip(m);
        return 0;
    }
    return call_send(m, milter_encode_args(&m->out, SMFIC_MAIL, argv, argc));
}

/* A message step is sent unless declined or decided. */
static bool message_skip(const struct milter *m, uint32_t flag)
{
    return (m->protocol & flag) || m->session_accepted || m->message_done;
}

int milter_rcpt(struct milter *m, const char *const *argv, size_t argc)
{
    if (call_begin(m, MILTER_STAGE_RCPT) != 0)
        return -1;
    if (message_skip(m, SMFIP_NORCPT)) {
        defer_skip(m);
        return 0;
    }
    return call_send(m, milter_encode_args(&m->out, SMFIC_RCPT, argv, argc));
}

int milter_data(struct milter *m)
{
    if (call_begin(m, MILTER_STAGE_DATA) != 0)
        return -1;
    /* SMFIC_DATA came with version 4 */
    if (message_skip(m, SMFIP_NODATA) || m->version < 4) {
        defer_skip(m);
        return 0;
    }
    return call_send(m, milter_encode(&m->out, SMFIC_DATA, NULL, 0));
}

int milter_header(struct milter *m, const char *name, const char *value)
{
    if (call_begin(m, MILTER_STAGE_HEADER) != 0)
        return -1;
    if (message_skip(m, SMFIP_NOHDRS)) {
        defer_skip(m);
        return 0;
    }
    return call_send(m, milter_encode_header(&m->out, name, value));
}

int milter_eoh(struct milter *m)
{
    if (call_begin(m, MILTER_STAGE_EOH) != 0)
        return -1;
    if (message_skip(m, SMFIP_NOEOH)) {
        defer_skip(m);
        return 0;
    }
    return call_send(m, milter_encode(&m->out, SMFIC_EOH, NULL, 0));
}

int milter_body(struct milter *m, const void *data, size_t len)
{
    if (call_begin(m, MILTER_STAGE_BODY) != 0)
        return -1;
    if (message_skip(m, SMFIP_NOBODY) || len == 0) {
        defer_skip(m);
        return 0;
    }
    m->body_data = data;
    m->body_len = len;
    m->body_sent = 0;
    send_body_chunk(m);
    return 0;
}

int milter_eob(struct milter *m)
{
    if (call_begin(m, MILTER_STAGE_EOB) != 0)
        return -1;
    if (m->session_accepted || m->message_done) {
        defer_skip(m);
        return 0;
    }
    mods_clear(m);
    return call_send(m, milter_encode(&m->out, SMFIC_BODYEOB, NULL, 0));
}

int milter_macros(struct milter *m, char stage, const char *const *names, const char *const *values,
                  size_t n_pairs)
{
    if (m == NULL || m->state != ST_READY)
        return -1;
    buf_reset(&m->out);
    if (milter_encode_macro(&m->out, stage, names, values, n_pairs) != 0)
        return -1;
    bufferevent_write(m->bev, m->out.data, m->out.len);
    buf_reset(&m->out);
    return 0;
}

int milter_abort(struct milter *m)
{
    if (m == NULL || m->state != ST_READY)
        return -1;
    buf_reset(&m->out);
    if (milter_encode(&m->out, SMFIC_ABORT, NULL, 0) != 0)
        return -1;
    bufferevent_write(m->bev, m->out.data, m->out.len);
    buf_reset(&m->out);
    m->message_done = false;
    mods_clear(m);
    return 0;
}

void milter_quit(struct milter **mp)
{
    struct milter *m = *mp;
    if (m == NULL)
        return;
    *mp = NULL;
    if (m->bev == NULL || m->state == ST_CONNECTING || m->state == ST_DEAD) {
        milter_free(m);
        return;
    }
    buf_reset(&m->out);
    if (milter_encode(&m->out, SMFIC_QUIT, NULL, 0) != 0) {
        milter_free(m);
        return;
    }
    m->state = ST_QUITTING;
    bufferevent_setcb(m->bev, NULL, on_quit_flushed, on_event, m);
    bufferevent_enable(m->bev, EV_WRITE);
    bufferevent_write(m->bev, m->out.data, m->out.len);
    timer_start(m, m->command_timeout_ms);
}

void milter_cancel(struct milter **mp)
{
    if (*mp == NULL)
        return;
    milter_free(*mp);
    *mp = NULL;
}

uint32_t milter_protocol(const struct milter *m)
{
    return m->protocol;
}

uint32_t milter_actions(const struct milter *m)
{
    return m->actions;
}

const char *milter_verdict_name(enum milter_verdict verdict)
{
    switch (verdict) {
    case MILTER_CONTINUE:
        return "continue";
    case MILTER_ACCEPT:
        return "accept";
    case MILTER_REJECT:
        return "reject";
    case MILTER_TEMPFAIL:
        return "tempfail";
    case MILTER_DISCARD:
        return "discard";
    case MILTER_REPLY:
        return "reply";
    case MILTER_QUARANTINE:
        return "quarantine";
    case MILTER_FAILED:
        return "failed";
    }
    return "?";
}

const char *milter_failure_name(enum milter_failure failure)
{
    switch (failure) {
    case MILTER_FAIL_NONE:
        return "none";
    case MILTER_FAIL_CONNECT:
        return "connect";
    case MILTER_FAIL_TIMEOUT:
        return "timeout";
    case MILTER_FAIL_IO:
        return "io";
    case MILTER_FAIL_PROTOCOL:
        return "protocol";
    case MILTER_FAIL_NEGOTIATE:
        return "negotiate";
    }
    return "?";
}

const char *milter_stage_name(enum milter_stage stage)
{
    switch (stage) {
    case MILTER_STAGE_OPEN:
        return "open";
    case MILTER_STAGE_CONNECT:
        return "connect";
    case MILTER_STAGE_HELO:
        return "helo";
    case MILTER_STAGE_MAIL:
        return "mail";
    case MILTER_STAGE_RCPT:
        return "rcpt";
    case MILTER_STAGE_DATA:
        return "data";
    case MILTER_STAGE_HEADER:
        return "header";
    case MILTER_STAGE_EOH:
        return "eoh";
    case MILTER_STAGE_BODY:
        return "body";
    case MILTER_STAGE_EOB:
        return "eob";
    }
    return "?";
}
