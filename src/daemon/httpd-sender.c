/* httpd-sender: what a sender (a postino user) does on the portal: log
 * in (with the lockout rules of IMAP and SMTP AUTH, through
 * access-server), see their transfers, each one's recipients, files and
 * evidence log, and revoke one.
 *
 * A login gives a session cookie (random, HttpOnly, Secure,
 * SameSite=Strict: another site's page cannot make the browser use it)
 * that lives in this process's memory for SESSION_SECS. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "httpd-private.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"
#include "share/http-target.h"
#include "share/share-store.h"

#define SESSIONS_MAX 1024
#define SESSION_SECS (8 * 3600)
#define COOKIE_NAME  "postino_session"

struct login {
    char id[SHARE_ID_LEN + 1];
    char user[SHARE_ADDRESS_MAX + 1];
    bool external; /* an outside sender who proved the address by a code */
    long long until;
};

static struct login logins[SESSIONS_MAX];

const char *httpd_session_user(struct http_session *s)
{
    return httpd_session_login(s, NULL);
}

const char *httpd_session_login(struct http_session *s, bool *external_r)
{
    const char *cookie = http_request_header(s->req, "Cookie");
    if (!cookie)
        return NULL;
    const char *p = strstr(cookie, COOKIE_NAME "=");
    if (!p || (p != cookie && p[-1] != ' ' && p[-1] != ';'))
        return NULL;
    p += strlen(COOKIE_NAME) + 1;
    if (strcspn(p, "; ") != SHARE_ID_LEN)
        return NULL;
    long long now = (long long)time(NULL);
    for (size_t i = 0; i < SESSIONS_MAX; i++)
        if (logins[i].until >= now && CRYPTO_memcmp(logins[i].id, p, SHARE_ID_LEN) == 0) {
            if (external_r)
                *external_r = logins[i].external;
            return logins[i].user;
        }
    return NULL;
}

void httpd_sender_login(struct http_session *s)
{
    struct buf user, password;
    buf_init(&user, SHARE_ADDRESS_MAX);
    buf_init(&password, HTTPD_FORM_MAX);
    const char *body = s->body.data ? s->body.data : "";
    if (http_query_get(body, s->body.len, "user", &user) != 1 ||
        http_query_get(body, s->body.len, "password", &password) != 1) {
        httpd_respond_error(s, 400, "user and password are needed");
    } else {
        s->auth_pending = true;
        access_conn_authenticate(s->c, buf_cstr(&user), buf_cstr(&password), password.len);
    }
    if (password.data)
        OPENSSL_cleanse(password.data, password.len);
    buf_free(&password);
    buf_free(&user);
}

void httpd_sender_auth_done(struct http_session *s, const struct auth_outcome *o)
{
    s->auth_pending = false;
    if (o->result == AUTH_TEMPFAIL) {
        httpd_respond_error(s, 503, "the login cannot be checked now; try again later");
        return;
    }
    if (o->result != AUTH_OK) {
        httpd_respond_error(s, 401, "login failed");
        return;
    }
    httpd_session_start(s, o->user, false);
}

void httpd_session_start(struct http_session *s, const char *user, bool external)
{
    long long now = (long long)time(NULL);
    struct login *l = &logins[0];
    for (size_t i = 0; i < SESSIONS_MAX; i++)
        if (logins[i].until < l->until || logins[i].until < now) {
            l = &logins[i];
            if (l->until < now)
                break;
        }
    share_new_id(l->id);
    str_copy(l->user, sizeof(l->user), user);
    l->external = external;
    l->until = now + SESSION_SECS;
    char cookie[200];
    snprintf(cookie, sizeof(cookie),
             COOKIE_NAME "=%s; Path=/; Max-Age=%d; HttpOnly; Secure; SameSite=Strict", l->id,
             SESSION_SECS);
    struct buf b;
    buf_init(&b, 1024);
    buf_append_str(&b, "{\"user\": ");
    httpd_json_string(&b, l->user);
    buf_printf(&b, ", \"external\": %s}\n", external ? "true" : "false");
    const struct http_header extra[] = {{"Set-Cookie", cookie}};
    httpd_respond_head(s, 200, "application/json", b.len, extra, 1);
    access_conn_write(s->c, b.data, b.len);
    s->responded = true;
    buf_free(&b);
}

void httpd_sender_session(struct http_session *s)
{
    bool external = false;
    const char *user = httpd_session_login(s, &external);
    if (!user) {
        httpd_respond_error(s, 401, "not logged in");
        return;
    }
    struct buf b;
    buf_init(&b, 1024);
    buf_append_str(&b, "{\"user\": ");
    httpd_json_string(&b, user);
    buf_printf(&b, ", \"external\": %s}\n", external ? "true" : "false");
    httpd_respond(s, 200, "application/json", b.data, b.len);
    buf_free(&b);
}

void httpd_sender_logout(struct http_session *s)
{
    const char *user = httpd_session_user(s);
    if (user)
        for (size_t i = 0; i < SESSIONS_MAX; i++)
            if (logins[i].user == user)
                OPENSSL_cleanse(&logins[i], sizeof(logins[i]));
    const struct http_header extra[] = {
        {"Set-Cookie", COOKIE_NAME "=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict"}};
    httpd_respond_head(s, 204, NULL, 0, extra, 1);
    s->responded = true;
}

static const char *state_of(const struct share_transfer *t, long long now)
{
    return t->revoked ? "revoked" : t->expires < now ? "expired" : t->sent ? "active" : "unsent";
}

/* One transfer as a JSON object. */
static void transfer_object(const struct share_transfer *t, struct buf *b)
{
    buf_printf(b,
               "{\"id\": \"%s\", \"created\": %lld, \"expires\": %lld, \"mode\": \"%s\", "
               "\"state\": \"%s\"}",
               t->id, t->created, t->expires, share_password_mode_name(t->mode),
               state_of(t, (long long)time(NULL)));
}

/* The same as an item of a list in b (after its "["). */
static void transfer_json(const struct share_transfer *t, void *arg)
{
    struct buf *b = arg;
    if (b->len > 1)
        buf_append_str(b, ", ");
    transfer_object(t, b);
}

static void access_json(const struct share_access *a, void *arg)
{
    struct buf *b = arg;
    if (b->len > 1)
        buf_append_str(b, ", ");
    buf_printf(b, "{\"time\": %lld, \"event\": ", a->time);
    httpd_json_string(b, a->event);
    buf_append_str(b, ", \"recipient\": ");
    httpd_json_string(b, a->recipient);
    buf_append_str(b, ", \"client\": ");
    httpd_json_string(b, a->client);
    buf_printf(b, ", \"file\": \"%s\", \"bytes\": %llu, \"completed\": %s}", a->file, a->bytes,
               a->completed ? "true" : "false");
}

/* The transfer id, if it is the user's: 1, 0 (answered 404), -1 (500). */
static int own_transfer(struct http_session *s, const char *user, const char *id,
                        struct share_transfer *t)
{
    int g = strlen(id) == SHARE_ID_LEN ? share_transfer_get(httpd_store, id, t) : 0;
    if (g == 1 && strcmp(t->sender, user) == 0)
        return 1;
    if (g == 1)
        share_transfer_free(t);
    httpd_respond_error(s, g < 0 ? 500 : 404, g < 0 ? "the store failed" : "no such transfer");
    return g < 0 ? -1 : 0;
}

/* POST /api/transfers/ID/unlock {"recipient": ADDRESS} (or a form). */
static void unlock_recipient(struct http_session *s, const char *user,
                             const struct share_transfer *t)
{
    struct buf addr;
    buf_init(&addr, SHARE_ADDRESS_MAX);
    const char *body = s->body.data ? s->body.data : "";
    struct json_value *doc = body[0] == '{' ? json_parse(body, s->body.len, NULL) : NULL;
    const char *want =
        doc ? json_string(json_get(doc, "recipient"), NULL)
            : (http_query_get(body, s->body.len, "recipient", &addr) == 1 ? buf_cstr(&addr) : NULL);
    struct share_recipient r[SHARE_RCPTS_MAX];
    int n = want ? share_recipients(httpd_store, t->id, r, SHARE_RCPTS_MAX) : 0;
    int found = -1;
    for (int i = 0; i < n && found < 0; i++)
        if (strcasecmp(r[i].address, want) == 0)
            found = i;
    if (!want) {
        httpd_respond_error(s, 400, "recipient: the address to unlock");
    } else if (found < 0) {
        httpd_respond_error(s, 404, "no such recipient of this transfer");
    } else if (share_recipient_unlock(httpd_store, r[found].token) < 0) {
        httpd_respond_error(s, 500, "the store failed");
    } else {
        struct share_access a = {.time = (long long)time(NULL), .completed = true};
        str_copy(a.transfer, sizeof(a.transfer), t->id);
        str_copy(a.recipient, sizeof(a.recipient), r[found].address);
        str_copy(a.client, sizeof(a.client), access_conn_ip(s->c));
        str_copy(a.event, sizeof(a.event), "unlocked");
        share_access_add(httpd_store, &a);
        log_info("share %s: <%s> unlocked for <%s>", t->id, user, r[found].address);
        httpd_respond_head(s, 204, NULL, 0, NULL, 0);
        s->responded = true;
    }
    json_free(&doc);
    buf_free(&addr);
}

void httpd_sender_api(struct http_session *s, const char *method, const char *path)
{
    bool external = false;
    const char *user = httpd_session_login(s, &external);
    if (!user) {
        httpd_respond_error(s, 401, "log in first");
        return;
    }
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    const char *rest = path + strlen("/api/transfers");
    struct share_transfer t;
    if (strcmp(rest, "") == 0 && strcmp(method, "POST") == 0) {
        httpd_upload_create(s, user, external);
    } else if (rest[0] == '/' && strlen(rest) == 1 + SHARE_ID_LEN + 7 &&
               strcmp(rest + 1 + SHARE_ID_LEN, "/unlock") == 0 && strcmp(method, "POST") == 0) {
        char id[SHARE_ID_LEN + 1];
        str_copyn(id, sizeof(id), rest + 1, SHARE_ID_LEN);
        if (own_transfer(s, user, id, &t) == 1) {
            unlock_recipient(s, user, &t);
            share_transfer_free(&t);
        }
    } else if (strcmp(rest, "") == 0 && strcmp(method, "GET") == 0) {
        buf_append_str(&b, "[");
        share_transfer_list(httpd_store, user, transfer_json, &b);
        buf_append_str(&b, "]\n");
        httpd_respond(s, 200, "application/json", b.data, b.len);
    } else if (rest[0] == '/' && strlen(rest + 1) == SHARE_ID_LEN && strcmp(method, "GET") == 0) {
        if (own_transfer(s, user, rest + 1, &t) == 1) {
            buf_append_str(&b, "{\"transfer\": ");
            transfer_object(&t, &b);
            buf_append_str(&b, ", \"recipients\": [");
            struct share_recipient r[SHARE_RCPTS_MAX];
            int n = share_recipients(httpd_store, t.id, r, SHARE_RCPTS_MAX);
            for (int i = 0; i < n; i++) {
                buf_append_str(&b, i ? ", {\"address\": " : "{\"address\": ");
                httpd_json_string(&b, r[i].address);
                buf_printf(&b, ", \"locked\": %s, \"failures\": %u, \"first_download\": %lld}",
                           r[i].locked ? "true" : "false", r[i].failures, r[i].first_download);
            }
            buf_append_str(&b, "], \"files\": [");
            struct share_file *f = calloc(SHARE_FILES_MAX, sizeof(*f));
            int nf = f ? share_files(httpd_store, t.id, f, SHARE_FILES_MAX) : 0;
            for (int i = 0; i < nf; i++) {
                buf_printf(&b,
                           "%s{\"id\": \"%s\", \"size\": %llu, \"stored\": %llu, "
                           "\"complete\": %s, \"scan\": \"%s\"}",
                           i ? ", " : "", f[i].id, f[i].size, f[i].stored,
                           f[i].complete ? "true" : "false", share_scan_name(f[i].scan));
                share_file_free(&f[i]);
            }
            free(f);
            buf_append_str(&b, "]}\n");
            httpd_respond(s, 200, "application/json", b.data, b.len);
            share_transfer_free(&t);
        }
    } else if (rest[0] == '/' && strlen(rest) == 1 + SHARE_ID_LEN + 4 &&
               strcmp(rest + 1 + SHARE_ID_LEN, "/log") == 0 && strcmp(method, "GET") == 0) {
        char id[SHARE_ID_LEN + 1];
        str_copyn(id, sizeof(id), rest + 1, SHARE_ID_LEN);
        if (own_transfer(s, user, id, &t) == 1) {
            buf_append_str(&b, "[");
            share_access_list(httpd_store, id, access_json, &b);
            buf_append_str(&b, "]\n");
            httpd_respond(s, 200, "application/json", b.data, b.len);
            share_transfer_free(&t);
        }
    } else if (rest[0] == '/' && strlen(rest + 1) == SHARE_ID_LEN &&
               strcmp(method, "DELETE") == 0) {
        if (own_transfer(s, user, rest + 1, &t) == 1) {
            long long now = (long long)time(NULL);
            if (share_transfer_revoke(httpd_store, t.id, now) == 0) {
                struct share_access a = {.time = now, .completed = true};
                str_copy(a.transfer, sizeof(a.transfer), t.id);
                str_copy(a.client, sizeof(a.client), access_conn_ip(s->c));
                str_copy(a.event, sizeof(a.event), "revoke");
                share_access_add(httpd_store, &a);
                log_info("share %s: revoked by <%s> from [%s]", t.id, user, a.client);
            }
            httpd_respond_head(s, 204, NULL, 0, NULL, 0);
            s->responded = true;
            share_transfer_free(&t);
        }
    } else {
        httpd_respond_error(s, 404, "no such API call");
    }
    buf_free(&b);
}
