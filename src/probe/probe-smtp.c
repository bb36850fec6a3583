#include "probe/probe-smtp.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "smtp/smtp-client-reply.h"

#define READ_CHUNK 4096

struct conn {
    int fd;
    SSL *ssl;
    SSL_CTX *ctx;
    char in[READ_CHUNK];
    size_t in_len;
    struct smtp_reply_parser parser;
    unsigned timeout_ms;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

const char *probe_step_name(enum probe_step s)
{
    static const char *const names[PROBE_STEP_COUNT] = {
        "connect", "banner",          "EHLO", "STARTTLS", "EHLO after STARTTLS", "MAIL",
        "RCPT",    "RCPT postmaster", "RSET"};
    return s < PROBE_STEP_COUNT ? names[s] : "?";
}

static void step_fail(struct probe_step_result *st, double t0, const char *why)
{
    st->ms = now_ms() - t0;
    str_printable(st->reply, sizeof(st->reply), why, strlen(why));
}

/* Wait until fd is ready for events, at most until deadline. 1, 0
 * (timeout) or -1. */
static int wait_fd(int fd, short events, double deadline)
{
    for (;;) {
        double left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, (int)left + 1);
        if (rc < 0 && errno == EINTR)
            continue;
        return rc < 0 ? -1 : rc > 0 ? 1 : 0;
    }
}

/* Read some bytes (TLS or not). >0, 0 (closed), -1 (error), -2 (timeout). */
static ssize_t conn_read(struct conn *c, char *buf, size_t n, double deadline)
{
    for (;;) {
        if (c->ssl) {
            int r = SSL_read(c->ssl, buf, (int)n);
            if (r > 0)
                return r;
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_ZERO_RETURN)
                return 0;
            short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
            if (!ev)
                return -1;
            int w = wait_fd(c->fd, ev, deadline);
            if (w <= 0)
                return w == 0 ? -2 : -1;
            continue;
        }
        int w = wait_fd(c->fd, POLLIN, deadline);
        if (w <= 0)
            return w == 0 ? -2 : -1;
        ssize_t r = read(c->fd, buf, n);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        return r;
    }
}

static int conn_write(struct conn *c, const char *p, size_t n, double deadline)
{
    while (n > 0) {
        ssize_t w;
        if (c->ssl) {
            int r = SSL_write(c->ssl, p, (int)n);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                short ev = e == SSL_ERROR_WANT_READ    ? POLLIN
                           : e == SSL_ERROR_WANT_WRITE ? POLLOUT
                                                       : 0;
                if (!ev || wait_fd(c->fd, ev, deadline) <= 0)
                    return -1;
                continue;
            }
            w = r;
        } else {
            if (wait_fd(c->fd, POLLOUT, deadline) <= 0)
                return -1;
            w = write(c->fd, p, n);
            if (w < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (w < 0)
                return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read one reply into st (and its text into text_out, '\n'-joined, if
 * given). True if one came. */
static bool read_reply(struct conn *c, struct probe_step_result *st, double t0, char *text_out,
                       size_t text_size)
{
    double deadline = t0 + c->timeout_ms;
    struct smtp_client_reply rep;
    smtp_client_reply_init(&rep);
    for (;;) {
        if (c->in_len) {
            size_t used;
            enum smtp_reply_parse pr = smtp_reply_parse(&c->parser, c->in, c->in_len, &used, &rep);
            memmove(c->in, c->in + used, c->in_len - used);
            c->in_len -= used;
            if (pr == SMTP_REPLY_DONE)
                break;
            if (pr == SMTP_REPLY_BAD) {
                step_fail(st, t0, "not an SMTP reply");
                smtp_client_reply_free(&rep);
                return false;
            }
        }
        ssize_t r = conn_read(c, c->in + c->in_len, sizeof(c->in) - c->in_len, deadline);
        if (r <= 0) {
            char why[100];
            snprintf(why, sizeof(why), "%s",
                     r == 0    ? "the server closed the connection"
                     : r == -2 ? "no reply in time"
                               : "the connection broke");
            step_fail(st, t0, why);
            smtp_client_reply_free(&rep);
            return false;
        }
        c->in_len += (size_t)r;
    }
    st->done = true;
    st->ms = now_ms() - t0;
    st->code = rep.code;
    struct buf flat;
    buf_init(&flat, 4 * PROBE_REPLY_MAX);
    smtp_client_reply_flat(&rep, &flat);
    str_printable(st->reply, sizeof(st->reply), flat.data ? flat.data : "", flat.len);
    buf_free(&flat);
    if (text_out) {
        /* keep the line breaks: printable per line */
        const char *p = buf_cstr(&rep.text);
        size_t o = 0;
        while (*p && o + 1 < text_size) {
            size_t n = strcspn(p, "\n");
            char line[PROBE_REPLY_MAX + 1];
            str_printable(line, sizeof(line), p, n);
            int w = snprintf(text_out + o, text_size - o, "%s%s", o ? "\n" : "", line);
            if (w < 0 || (size_t)w >= text_size - o)
                break;
            o += (size_t)w;
            p += n + (p[n] == '\n');
        }
    }
    smtp_client_reply_free(&rep);
    return true;
}

/* Send a command and read its reply. */
static bool command(struct conn *c, struct probe_step_result *st, const char *line, char *text_out,
                    size_t text_size)
{
    st->tried = true;
    double t0 = now_ms();
    struct buf b;
    buf_init(&b, 2048);
    buf_printf(&b, "%s\r\n", line);
    int rc = conn_write(c, b.data, b.len, t0 + c->timeout_ms);
    buf_free(&b);
    if (rc < 0) {
        step_fail(st, t0, "cannot send the command");
        return false;
    }
    return read_reply(c, st, t0, text_out, text_size);
}

/* Non-blocking connect under the time limit. */
static int connect_to(const struct probe_smtp_options *o, struct probe_step_result *st)
{
    st->tried = true;
    double t0 = now_ms();
    int fd = socket(o->addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        step_fail(st, t0, strerror(errno));
        return -1;
    }
    if (o->source && bind(fd, o->source, o->source_len) < 0) {
        step_fail(st, t0, strerror(errno));
        close(fd);
        return -1;
    }
    if (connect(fd, o->addr, o->addr_len) < 0 && errno != EINPROGRESS) {
        step_fail(st, t0, strerror(errno));
        close(fd);
        return -1;
    }
    int w = wait_fd(fd, POLLOUT, t0 + o->timeout_ms);
    int err = 0;
    socklen_t el = sizeof(err);
    if (w <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
        step_fail(st, t0, w == 0 ? "no connection in time" : strerror(err ? err : errno));
        close(fd);
        return -1;
    }
    st->done = true;
    st->ms = now_ms() - t0;
    snprintf(st->reply, sizeof(st->reply), "connected");
    return fd;
}

/* "2026-11-28 13:00:00 UTC" */
static void format_time(const ASN1_TIME *t, char *out, size_t size)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1 ||
        strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        str_copy(out, size, "?");
}

static void name_text(X509_NAME *n, char *out, size_t size)
{
    BIO *b = BIO_new(BIO_s_mem());
    out[0] = '\0';
    if (!b)
        return;
    X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253);
    char tmp[PROBE_DN_MAX + 1];
    int n_read = BIO_read(b, tmp, sizeof(tmp) - 1);
    BIO_free(b);
    if (n_read > 0)
        str_printable(out, size, tmp, (size_t)n_read);
}

/* The DNS names of the certificate (subjectAltName, else the CN). */
static void cert_names(X509 *x, char *out, size_t size)
{
    struct buf b;
    buf_init(&b, size - 1);
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_DNS)
            continue;
        const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
        int len = ASN1_STRING_length(g->d.dNSName);
        char name[300];
        str_printable(name, sizeof(name), (const char *)d, (size_t)len);
        if (b.len)
            buf_append_str(&b, ", ");
        buf_append_str(&b, name);
    }
    GENERAL_NAMES_free(gens);
    if (!b.len) {
        char cn[256];
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)) >
            0) {
            char shown[300];
            str_printable(shown, sizeof(shown), cn, strlen(cn));
            buf_append_str(&b, shown);
        }
    }
    str_copy(out, size, buf_cstr(&b));
    buf_free(&b);
}

static void describe_cert(X509 *x, struct probe_cert *pc)
{
    name_text(X509_get_subject_name(x), pc->subject, sizeof(pc->subject));
    name_text(X509_get_issuer_name(x), pc->issuer, sizeof(pc->issuer));
    format_time(X509_get0_notBefore(x), pc->not_before, sizeof(pc->not_before));
    format_time(X509_get0_notAfter(x), pc->not_after, sizeof(pc->not_after));
    int days = 0, secs = 0;
    if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) == 1)
        pc->days_left = days - (secs < 0 ? 1 : 0);
    pc->not_yet_valid = X509_cmp_current_time(X509_get0_notBefore(x)) > 0;
}

/* What the handshake gave: version, cipher, forward secrecy, the chain. */
static void describe_tls(SSL *ssl, const struct probe_smtp_options *o, struct probe_smtp_result *r)
{
    str_copy(r->tls_version, sizeof(r->tls_version), SSL_get_version(ssl));
    const SSL_CIPHER *ci = SSL_get_current_cipher(ssl);
    str_copy(r->cipher, sizeof(r->cipher), ci ? SSL_CIPHER_get_name(ci) : "?");
    int kx = ci ? SSL_CIPHER_get_kx_nid(ci) : NID_undef;
    /* TLS 1.3 always uses an ephemeral (EC)DHE exchange */
    r->forward_secrecy = SSL_version(ssl) >= TLS1_3_VERSION || kx == NID_kx_ecdhe ||
                         kx == NID_kx_dhe || kx == NID_kx_ecdhe_psk || kx == NID_kx_dhe_psk;
    int group = SSL_get_negotiated_group(ssl);
    const char *gname = group ? SSL_group_to_name(ssl, group) : NULL;
    str_copy(r->group, sizeof(r->group), gname ? gname : "");
    X509 *peer = SSL_get1_peer_certificate(ssl);
    if (!peer)
        return;
    r->have_cert = true;
    cert_names(peer, r->names, sizeof(r->names));
    r->name_matches = o->server_name && X509_check_host(peer, o->server_name, 0, 0, NULL) == 1;
    long v = SSL_get_verify_result(ssl);
    r->verified = v == X509_V_OK;
    str_copy(r->verify_error, sizeof(r->verify_error),
             r->verified ? "" : X509_verify_cert_error_string(v));
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    int n = chain ? sk_X509_num(chain) : 0;
    if (n == 0)
        describe_cert(peer, &r->chain[r->chain_len++]);
    for (int i = 0; i < n && r->chain_len < PROBE_CHAIN_MAX; i++)
        describe_cert(sk_X509_value(chain, i), &r->chain[r->chain_len++]);
    X509_free(peer);
}

/* STARTTLS and the handshake. */
static bool start_tls(struct conn *c, const struct probe_smtp_options *o,
                      struct probe_smtp_result *r)
{
    struct probe_step_result *st = &r->step[PROBE_STEP_STARTTLS];
    if (!command(c, st, "STARTTLS", NULL, 0))
        return false;
    if (st->code != 220)
        return false;
    double t0 = now_ms() - st->ms;
    st->done = false;
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx) {
        step_fail(st, t0, "cannot set up TLS");
        return false;
    }
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL); /* verified below, reported */
    if (o->ca_file)
        SSL_CTX_load_verify_locations(c->ctx, o->ca_file, NULL);
    else
        SSL_CTX_set_default_verify_paths(c->ctx);
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        step_fail(st, t0, "cannot set up TLS");
        return false;
    }
    if (o->server_name)
        SSL_set_tlsext_host_name(c->ssl, o->server_name);
    if (o->tls_max_version) {
        /* OpenSSL's default security level refuses TLS 1.0 and 1.1 itself */
        SSL_set_security_level(c->ssl, 0);
        SSL_set_min_proto_version(c->ssl, TLS1_VERSION);
        SSL_set_max_proto_version(c->ssl, o->tls_max_version);
    }
    double deadline = t0 + c->timeout_ms;
    for (;;) {
        int rc = SSL_connect(c->ssl);
        if (rc == 1)
            break;
        int e = SSL_get_error(c->ssl, rc);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (!ev || wait_fd(c->fd, ev, deadline) <= 0) {
            char why[300], err[200];
            unsigned long le = ERR_get_error();
            if (le)
                ERR_error_string_n(le, err, sizeof(err));
            snprintf(why, sizeof(why), "TLS handshake failed: %s",
                     !ev ? (le ? err : "the server closed the connection") : "no answer in time");
            step_fail(st, t0, why);
            ERR_clear_error();
            SSL_free(c->ssl);
            c->ssl = NULL;
            return false;
        }
    }
    st->done = true;
    st->ms = now_ms() - t0;
    r->tls = true;
    describe_tls(c->ssl, o, r);
    return true;
}

int probe_smtp_run(const struct probe_smtp_options *o, struct probe_smtp_result *r)
{
    memset(r, 0, sizeof(*r));
    struct conn c = {.fd = -1, .timeout_ms = o->timeout_ms};
    smtp_reply_parser_init(&c.parser);
    c.fd = connect_to(o, &r->step[PROBE_STEP_CONNECT]);
    if (c.fd < 0)
        goto out;
    struct probe_step_result *st = &r->step[PROBE_STEP_BANNER];
    st->tried = true;
    if (!read_reply(&c, st, now_ms(), r->banner, sizeof(r->banner)) || st->code != 220)
        goto out;
    char line[1200];
    snprintf(line, sizeof(line), "EHLO %s", o->helo);
    st = &r->step[PROBE_STEP_EHLO];
    if (!command(&c, st, line, r->ehlo, sizeof(r->ehlo)))
        goto out;
    if (st->code != 250) {
        /* an old server: HELO, without extensions */
        snprintf(line, sizeof(line), "HELO %s", o->helo);
        if (!command(&c, st, line, NULL, 0) || st->code != 250)
            goto out;
        r->ehlo[0] = '\0';
    } else {
        r->esmtp = true;
    }
    for (const char *p = r->ehlo; *p;) {
        size_t n = strcspn(p, "\n");
        if ((n == 8 || (n > 8 && p[8] == ' ')) && str_eqn_ci(p, "STARTTLS", 8))
            r->starttls_offered = true;
        p += n + (p[n] == '\n');
    }
    if (r->starttls_offered) {
        if (!start_tls(&c, o, r))
            goto out;
        snprintf(line, sizeof(line), "EHLO %s", o->helo);
        if (!command(&c, &r->step[PROBE_STEP_EHLO_TLS], line, r->ehlo, sizeof(r->ehlo)))
            goto out;
    }
    if (o->mail_from) {
        snprintf(line, sizeof(line), "MAIL FROM:<%s>", o->mail_from);
        if (!command(&c, &r->step[PROBE_STEP_MAIL], line, NULL, 0))
            goto out;
        if (r->step[PROBE_STEP_MAIL].code / 100 == 2) {
            if (o->rcpt) {
                snprintf(line, sizeof(line), "RCPT TO:<%s>", o->rcpt);
                if (!command(&c, &r->step[PROBE_STEP_RCPT], line, NULL, 0))
                    goto out;
            }
            if (o->postmaster) {
                snprintf(line, sizeof(line), "RCPT TO:<%s>", o->postmaster);
                if (!command(&c, &r->step[PROBE_STEP_POSTMASTER], line, NULL, 0))
                    goto out;
            }
        }
        if (!command(&c, &r->step[PROBE_STEP_RSET], "RSET", NULL, 0))
            goto out;
    }
    {
        /* QUIT, politely, without waiting long */
        struct probe_step_result quit = {0};
        c.timeout_ms = c.timeout_ms < 2000 ? c.timeout_ms : 2000;
        command(&c, &quit, "QUIT", NULL, 0);
    }
out:
    if (c.ssl) {
        SSL_shutdown(c.ssl);
        SSL_free(c.ssl);
    }
    SSL_CTX_free(c.ctx);
    if (c.fd >= 0)
        close(c.fd);
    smtp_reply_parser_free(&c.parser);
    return 0;
}

struct probe_session {
    struct conn c;
};

struct probe_session *probe_session_open(const struct probe_smtp_options *o,
                                         struct probe_step_result *connect,
                                         struct probe_step_result *banner)
{
    memset(connect, 0, sizeof(*connect));
    memset(banner, 0, sizeof(*banner));
    struct probe_session *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->c.fd = -1;
    s->c.timeout_ms = o->timeout_ms;
    smtp_reply_parser_init(&s->c.parser);
    s->c.fd = connect_to(o, connect);
    bool ok = s->c.fd >= 0;
    if (ok) {
        banner->tried = true;
        ok = read_reply(&s->c, banner, now_ms(), NULL, 0) && banner->code == 220;
    }
    if (ok) {
        char line[1200];
        struct probe_step_result ehlo = {0};
        snprintf(line, sizeof(line), "EHLO %s", o->helo);
        ok = command(&s->c, &ehlo, line, NULL, 0) && ehlo.code == 250;
        if (!ok)
            memcpy(banner->reply, ehlo.reply, sizeof(banner->reply)); /* why EHLO failed */
    }
    if (!ok) {
        probe_session_close(&s);
        return NULL;
    }
    return s;
}

bool probe_session_command(struct probe_session *s, const char *line, struct probe_step_result *st)
{
    memset(st, 0, sizeof(*st));
    return command(&s->c, st, line, NULL, 0);
}

void probe_session_close(struct probe_session **sp)
{
    struct probe_session *s = *sp;
    if (!s)
        return;
    if (s->c.fd >= 0) {
        struct probe_step_result quit = {0};
        s->c.timeout_ms = s->c.timeout_ms < 2000 ? s->c.timeout_ms : 2000;
        command(&s->c, &quit, "QUIT", NULL, 0);
        close(s->c.fd);
    }
    smtp_reply_parser_free(&s->c.parser);
    free(s);
    *sp = NULL;
}
