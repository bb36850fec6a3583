/* httpd: the share portal's HTTPS service (DESIGN.md), on access-server
 * (implicit TLS, connection limits, timeouts, the login lockout).
 *
 * This first step serves the portal's web pages from share_web_dir and
 * answers everything else with a JSON error; the API of
 * docs/share-api.md comes next. Every response carries HSTS, a strict
 * Content-Security-Policy and no-sniff; requests are parsed by
 * share/http-request (strict: smuggling cases refused), one at a time per
 * connection (a pipelined one waits its turn). */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access-server.h"
#include "daemon.h"
#include "httpd-private.h"
#include "lib/buf.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "share/http-request.h"
#include "share/http-response.h"
#include "share/http-target.h"
#include "share/share-store.h"

#ifndef POSTINO_WEB_DIR
#define POSTINO_WEB_DIR "/usr/share/postino/web"
#endif

#define PATH_MAX_OCTETS 1024
#define STATIC_FILE_MAX (4u << 20) /* octets of one web page or script */
#define READ_CHUNK      65536

static char web_dir[4096];
char httpd_data_dir[4096];
struct share_store *httpd_store;
struct event_base *httpd_base;

/* The fields every response carries. */
static const struct http_header security_headers[] = {
    {"Strict-Transport-Security", "max-age=31536000"},
    {"Content-Security-Policy",
     "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    {"Cache-Control", "no-store"},
};
#define N_SECURITY (sizeof(security_headers) / sizeof(security_headers[0]))

void httpd_respond_head(struct http_session *s, int status, const char *type, size_t len,
                        const struct http_header *extra, size_t n_extra)
{
    struct http_header h[N_SECURITY + 8];
    size_t n = 0;
    for (size_t i = 0; i < N_SECURITY; i++)
        h[n++] = security_headers[i];
    if (type)
        h[n++] = (struct http_header){"Content-Type", type};
    if (s->close_after)
        h[n++] = (struct http_header){"Connection", "close"};
    for (size_t i = 0; i < n_extra && n < sizeof(h) / sizeof(h[0]); i++)
        h[n++] = extra[i];
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    const char *err = NULL;
    enum http_response_framing fr =
        status == 204 || status == 304 ? HTTP_RESPONSE_NO_BODY : HTTP_RESPONSE_LENGTH;
    if (http_response_head(&out, status, h, n, fr, len, &err) < 0) {
        log_error("http: cannot write a response head: %s", err ? err : "?");
        s->close_after = true;
        access_conn_close(s->c);
    } else {
        access_conn_write(s->c, out.data, out.len);
    }
    buf_free(&out);
}

/* Send a response: status, content type, body (not sent for HEAD, whose
 * framing says the length it would have). */
void httpd_respond(struct http_session *s, int status, const char *type, const char *body,
                   size_t len)
{
    httpd_respond_head(s, status, type, len, NULL, 0);
    if (!s->head_only && len && body)
        access_conn_write(s->c, body, len);
    s->responded = true;
    if (s->close_after)
        access_conn_close(s->c);
}

void httpd_respond_error(struct http_session *s, int status, const char *why)
{
    struct buf b;
    buf_init(&b, 1024);
    buf_append_str(&b, "{\"error\": ");
    httpd_json_string(&b, why);
    buf_append_str(&b, "}\n");
    httpd_respond(s, status, "application/json", b.data, b.len);
    buf_free(&b);
}

void httpd_json_string(struct buf *b, const char *str)
{
    json_append_string(b, str);
}

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".json", "application/json"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

/* GET or HEAD of a web page under web_dir. path is decoded and free of
 * dot segments, NUL and "%2F" (http_target_parse). */
static void serve_static(struct http_session *s, const char *path)
{
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    const char *type = content_type(path);
    char file[4096 + PATH_MAX_OCTETS];
    if (!type || snprintf(file, sizeof(file), "%s%s", web_dir, path) >= (int)sizeof(file)) {
        httpd_respond_error(s, 404, "not found");
        return;
    }
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STATIC_FILE_MAX) {
        if (fd >= 0)
            close(fd);
        httpd_respond_error(s, 404, "not found");
        return;
    }
    struct buf body;
    buf_init(&body, STATIC_FILE_MAX);
    char chunk[READ_CHUNK];
    ssize_t got;
    int bad = 0;
    while ((got = read(fd, chunk, sizeof(chunk))) > 0)
        bad |= buf_append(&body, chunk, (size_t)got);
    close(fd);
    if (got < 0 || bad) {
        log_error("http: cannot read %s: %s", file, got < 0 ? strerror(errno) : "too large");
        httpd_respond_error(s, 500, "cannot read the page");
    } else {
        httpd_respond(s, 200, type, body.data, body.len);
    }
    buf_free(&body);
}

/* "/api/r/TOKEN/REST": the token and what follows. */
static bool recipient_path(const char *path, char token[SHARE_ID_LEN + 1], const char **rest)
{
    if (strncmp(path, "/api/r/", 7) != 0)
        return false;
    const char *t = path + 7;
    size_t n = strcspn(t, "/");
    if (n != SHARE_ID_LEN)
        return false;
    memcpy(token, t, n);
    token[n] = '\0';
    *rest = t + n;
    return true;
}

/* Calls whose body is kept (a form or JSON), and how much of it. */
static size_t kept_body_max(const char *method, const char *path)
{
    if (strcmp(method, "POST") != 0)
        return 0;
    if (strcmp(path, "/api/login") == 0 || strncmp(path, "/api/verify", 11) == 0)
        return HTTPD_FORM_MAX;
    if (strncmp(path, "/api/r/", 7) == 0 || strncmp(path, "/api/transfers", 14) == 0)
        return HTTPD_JSON_MAX;
    return 0;
}

/* The header of a request has arrived: decide what becomes of its body. */
static void head_arrived(struct http_session *s)
{
    const char *method = http_request_method(s->req);
    const char *target = http_request_target(s->req);
    s->head_only = strcmp(method, "HEAD") == 0;
    s->close_after = !http_request_keep_alive(s->req);
    s->responded = false;
    struct buf path;
    buf_init(&path, PATH_MAX_OCTETS);
    const char *query, *why = NULL;
    size_t qlen;
    bool parsed = http_target_parse(target, strlen(target), &path, &query, &qlen, &why) == 0;
    size_t max = parsed ? kept_body_max(method, buf_cstr(&path)) : 0;
    s->keep_body = max > 0;
    buf_free(&s->body);
    buf_init(&s->body, max ? max : HTTPD_FORM_MAX);
    bool upload =
        parsed && strcmp(method, "PUT") == 0 && strncmp(buf_cstr(&path), "/api/uploads/", 13) == 0;
    const char *cl = http_request_header(s->req, "Content-Length");
    if (!upload && cl && strtoull(cl, NULL, 10) > (max ? max : HTTPD_FORM_MAX)) {
        /* no call but an upload takes a large body: do not read it */
        s->close_after = true;
        s->head_only = false;
        httpd_respond_error(s, 413, "request body too large");
    } else if (upload) {
        if (httpd_upload_put_begin(s, buf_cstr(&path)) && http_request_expect_continue(s->req))
            access_conn_write(s->c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    } else if (http_request_expect_continue(s->req)) {
        access_conn_write(s->c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    }
    buf_free(&path);
}

/* A whole request has arrived (its body kept in s->body if wanted). */
static void handle(struct http_session *s)
{
    const char *method = http_request_method(s->req);
    const char *target = http_request_target(s->req);
    struct buf path;
    buf_init(&path, PATH_MAX_OCTETS);
    const char *query, *why = NULL;
    size_t qlen;
    char token[SHARE_ID_LEN + 1];
    const char *rest;
    if (http_target_parse(target, strlen(target), &path, &query, &qlen, &why) < 0) {
        char shown[200];
        str_printable(shown, sizeof(shown), target, strlen(target));
        log_info("http: refused the target %s from [%s]: %s", shown, access_conn_ip(s->c), why);
        s->close_after = true;
        httpd_respond_error(s, 400, "bad request target");
    } else if (s->put) {
        httpd_upload_put_done(s);
    } else if (strncmp(buf_cstr(&path), "/api/uploads/", 13) == 0) {
        if (s->head_only)
            httpd_upload_head(s, buf_cstr(&path));
        else if (strcmp(method, "POST") == 0)
            httpd_upload_send(s, buf_cstr(&path));
        else
            httpd_respond_error(s, 405, "PUT the file, HEAD for where it stands, POST send");
    } else if (recipient_path(buf_cstr(&path), token, &rest)) {
        if (strcmp(rest, "/unlock") == 0 && strcmp(method, "POST") == 0)
            httpd_recipient_unlock(s, token);
        else if (strcmp(rest, "/reply") == 0 && strcmp(method, "POST") == 0)
            httpd_recipient_reply(s, token, query, qlen);
        else if (strncmp(rest, "/files/", 7) == 0 && strlen(rest + 7) == SHARE_ID_LEN &&
                 (strcmp(method, "GET") == 0 || s->head_only))
            httpd_recipient_download(s, token, rest + 7, query, qlen);
        else
            httpd_respond_error(s, 404, "no such API call");
    } else if (strcmp(buf_cstr(&path), "/api/login") == 0 && strcmp(method, "POST") == 0) {
        httpd_sender_login(s);
    } else if (strcmp(buf_cstr(&path), "/api/logout") == 0 && strcmp(method, "POST") == 0) {
        httpd_sender_logout(s);
    } else if (strcmp(buf_cstr(&path), "/api/session") == 0 && strcmp(method, "GET") == 0) {
        httpd_sender_session(s);
    } else if (strcmp(buf_cstr(&path), "/api/verify") == 0 && strcmp(method, "POST") == 0) {
        httpd_verify_start(s);
    } else if (strcmp(buf_cstr(&path), "/api/verify/code") == 0 && strcmp(method, "POST") == 0) {
        httpd_verify_code(s);
    } else if (strncmp(buf_cstr(&path), "/api/transfers", 14) == 0 &&
               (buf_cstr(&path)[14] == '\0' || buf_cstr(&path)[14] == '/')) {
        httpd_sender_api(s, method, buf_cstr(&path));
    } else if (strncmp(buf_cstr(&path), "/api/", 5) == 0) {
        httpd_respond_error(s, 404, "no such API call");
    } else if (strncmp(buf_cstr(&path), "/t/", 3) == 0 &&
               (strcmp(method, "GET") == 0 || s->head_only)) {
        serve_static(s, "/download.html"); /* the page reads the token from its address */
    } else if (strcmp(method, "GET") == 0 || s->head_only) {
        serve_static(s, buf_cstr(&path));
    } else {
        s->head_only = false;
        httpd_respond_error(s, 405, "method not allowed");
    }
    buf_free(&path);
}

/* --- the access-server hooks --- */

static void *proto_session_new(struct access_conn *c, bool tls)
{
    struct http_session *s = xcalloc(1, sizeof(*s));
    s->c = c;
    /* uploads may be as large as a transfer (e2e: with its encryption's
     * overhead); other calls refuse large bodies at their head */
    s->req = http_request_new((uint64_t)httpd_cfg->share_max_size +
                              (uint64_t)httpd_cfg->share_max_size / 64 + (1u << 20));
    buf_init(&s->body, HTTPD_FORM_MAX);
    (void)tls; /* every listener of the portal is HTTPS */
    return s;
}

static size_t proto_input(void *session, const char *data, size_t len)
{
    struct http_session *s = session;
    size_t taken = 0;
    for (;;) {
        if (s->dl || s->auth_pending || s->waiting_upload) /* the next request waits its turn */
            return taken;
        size_t used;
        const char *body;
        size_t body_len;
        enum http_request_event ev =
            http_request_feed(s->req, data + taken, len - taken, &used, &body, &body_len);
        taken += used;
        switch (ev) {
        case HTTP_REQUEST_MORE:
            return taken;
        case HTTP_REQUEST_BODY:
            if (s->put)
                httpd_upload_put_body(s, body, body_len);
            else if (s->keep_body && buf_append(&s->body, body, body_len) < 0) {
                s->close_after = true;
                httpd_respond_error(s, 413, "request body too large");
            }
            if (s->close_after && s->responded)
                return len; /* refused: nothing more is read */
            continue;
        case HTTP_REQUEST_HEAD:
            head_arrived(s);
            if (s->close_after && s->responded)
                return len;
            continue;
        case HTTP_REQUEST_DONE:
            s->responded = false;
            handle(s);
            if (s->close_after)
                return len; /* nothing more is read */
            http_request_reset(s->req);
            if (s->auth_pending)
                return taken; /* access-server holds the input until the answer */
            if (s->dl || s->waiting_upload) {
                access_conn_busy(s->c);
                return taken;
            }
            continue;
        case HTTP_REQUEST_ERROR:
            log_info("http: bad request from [%s]: %d %s", access_conn_ip(s->c),
                     http_request_status(s->req), http_request_error(s->req));
            s->close_after = true;
            s->head_only = false;
            httpd_respond_error(s, http_request_status(s->req),
                                http_status_reason(http_request_status(s->req)));
            return len;
        }
    }
}

static void proto_output_drained(void *session)
{
    struct http_session *s = session;
    httpd_download_more(s);
    if (!s->dl && !s->close_after)
        access_conn_resume(s->c);
}

void httpd_request_finished(struct http_session *s)
{
    if (!s->close_after && !s->dl)
        access_conn_resume(s->c);
}

static void proto_tls_started(void *session)
{
    (void)session;
}

static void proto_auth_done(void *session, const struct auth_outcome *o)
{
    httpd_sender_auth_done(session, o);
}

/* Silence, or the service stops: HTTP has no goodbye; access-server
 * closes the connection after these (closing here could free it under
 * its feet). */
static void proto_timeout(void *session)
{
    (void)session;
}

static void proto_shutdown(void *session)
{
    (void)session;
}

static void proto_session_free(void *session)
{
    struct http_session *s = session;
    httpd_download_free(s);
    httpd_upload_session_gone(s);
    http_request_free(&s->req);
    buf_free(&s->body);
    free(s);
}

static void proto_refusal(const char *why, char *out, size_t outsize)
{
    /* before TLS: nothing an HTTPS client could read; close quietly */
    (void)why;
    if (outsize)
        out[0] = '\0';
}

static const struct access_protocol http_protocol = {
    .name = "http",
    .session_new = proto_session_new,
    .input = proto_input,
    .tls_started = proto_tls_started,
    .auth_done = proto_auth_done,
    .output_drained = proto_output_drained,
    .timeout = proto_timeout,
    .shutdown = proto_shutdown,
    .session_free = proto_session_free,
    .refusal = proto_refusal,
};

static void setup(struct access_server *srv, void *arg)
{
    (void)arg;
    httpd_base = access_server_base(srv);
    httpd_expiry_start(httpd_base, access_server_config(srv)->share_expiry_interval);
}

static void teardown(struct access_server *srv, void *arg)
{
    (void)srv;
    (void)arg;
    httpd_expiry_stop();
    httpd_upload_stop();
}

int httpd_main(struct daemon_env *env)
{
    /* TLS record buffers (released between writes), decryption and
     * evbuffer chains come and go for every piece of a transfer: kept in
     * the heap, not mapped afresh and faulted in each time (a tenth of a
     * download's CPU otherwise) */
    mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 16 * 1024 * 1024);
    const struct config *cfg = env->cfg;
    str_copy(httpd_data_dir, sizeof(httpd_data_dir), cfg->data_dir);
    httpd_cfg = cfg;
    char dbpath[4096];
    daemon_path(cfg, "state/postino.db", dbpath, sizeof(dbpath));
    char *dberr = NULL;
    httpd_state = state_db_open(dbpath, false, &dberr);
    if (!httpd_state) {
        log_error("httpd: no account database (notices to senders cannot be sent): %s",
                  dberr ? dberr : "?");
        free(dberr);
    }
    char *err = NULL;
    httpd_store = share_store_open(cfg->data_dir, &err);
    if (!httpd_store) {
        log_error("httpd: %s", err ? err : "cannot open the share store");
        free(err);
        return 1;
    }
    str_copy(web_dir, sizeof(web_dir),
             cfg->share_web_dir && cfg->share_web_dir[0] ? cfg->share_web_dir : POSTINO_WEB_DIR);
    struct access_listener listeners[DAEMON_MAX_LISTENERS];
    size_t n = 0;
    for (size_t i = 0; i < env->n_access_fds; i++) {
        if (env->access_services[i] != ACCESS_HTTPS)
            continue;
        listeners[n].fd = env->access_fds[i];
        listeners[n].tls = true;
        n++;
    }
    struct access_settings set = {
        .max_connections = cfg->mail_max_connections,
        .max_connections_per_ip = cfg->mail_max_connections_per_ip,
        .timeout = cfg->http_timeout,
    };
    int rc = access_server_run(env, &http_protocol, listeners, n, &set, setup, teardown, NULL);
    share_store_close(&httpd_store);
    state_db_close(&httpd_state);
    return rc;
}
