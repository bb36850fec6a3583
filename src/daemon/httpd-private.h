/* httpd-private: what the parts of httpd share (httpd.c: the service,
 * routing and the web pages; httpd-recipient.c: the recipients' API). */
#ifndef POSTINO_HTTPD_PRIVATE_H
#define POSTINO_HTTPD_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "access-server.h"
#include "lib/config.h"
#include "state/state-db.h"
#include "lib/buf.h"
#include "share/http-request.h"
#include "share/http-response.h"

#define HTTPD_FORM_MAX 4096         /* octets of a form body kept */
#define HTTPD_JSON_MAX (256 * 1024) /* octets of a JSON body kept (e2e metas, message) */

struct httpd_download;
struct httpd_put;
struct share_transfer;
struct share_recipient;

struct http_session {
    struct access_conn *c;
    struct http_request *req;
    bool responded;      /* the current request has its response */
    bool close_after;    /* close once the response is out */
    bool head_only;      /* HEAD: the head of the response only */
    bool keep_body;      /* the route wants the body (a form) in body */
    bool auth_pending;   /* a login is being checked: no input meanwhile */
    bool waiting_upload; /* an upload is being sent (scanned): no input meanwhile */
    struct buf body;
    struct httpd_download *dl; /* a download being sent */
    struct httpd_put *put;     /* an upload being received */
};

/* The service's state, set by httpd_main. */
extern char httpd_data_dir[4096];
extern struct share_store *httpd_store;
extern struct state_db *httpd_state; /* the accounts (notices' routes), or NULL */
extern const struct config *httpd_cfg;
extern struct event_base *httpd_base;

/* An answer given later than its request's turn (after a scan): let the
 * connection read its next request. */
void httpd_request_finished(struct http_session *s);

/* A whole response (body NULL: none). */
void httpd_respond(struct http_session *s, int status, const char *type, const char *body,
                   size_t len);
/* A JSON error {"error": why}. why is plain ASCII without quotes. */
void httpd_respond_error(struct http_session *s, int status, const char *why);
/* The head of a response whose body the caller sends (Content-Length
 * len), with extra fields. */
void httpd_respond_head(struct http_session *s, int status, const char *type, size_t len,
                        const struct http_header *extra, size_t n_extra);
/* Append s as a JSON string (quoted; control characters, quote and
 * backslash escaped; other octets as they are). */
void httpd_json_string(struct buf *b, const char *s);

/* The senders' API (httpd-sender.c). */
/* POST /api/login, form user=...&password=...: the check runs on
 * access-server's workers; httpd_sender_auth_done answers. */
void httpd_sender_login(struct http_session *s);
void httpd_sender_auth_done(struct http_session *s, const struct auth_outcome *o);
/* POST /api/logout */
void httpd_sender_logout(struct http_session *s);
/* The user of the request's session cookie, or NULL. */
const char *httpd_session_user(struct http_session *s);
/* The same, and whether it is an outside sender (external_r may be NULL). */
const char *httpd_session_login(struct http_session *s, bool *external_r);
/* Log user in: a session cookie, answered {"user", "external"}. */
void httpd_session_start(struct http_session *s, const char *user, bool external);
/* POST /api/verify and /api/verify/code: outside senders prove their
 * address with a code mailed to it (httpd-verify.c). */
void httpd_verify_start(struct http_session *s);
void httpd_verify_code(struct http_session *s);
/* GET /api/session: who is logged in. */
void httpd_sender_session(struct http_session *s);
/* /api/transfers[/ID[/log]]: GET a list, one, its log; DELETE revokes. */
void httpd_sender_api(struct http_session *s, const char *method, const char *path);

/* The recipients' API (httpd-recipient.c). */
/* POST /api/r/TOKEN/unlock, form password=... or key=... */
void httpd_recipient_unlock(struct http_session *s, const char *token);
/* GET /api/r/TOKEN/files/FILE?grant=G */
void httpd_recipient_download(struct http_session *s, const char *token, const char *file,
                              const char *query, size_t query_len);
/* POST /api/r/TOKEN/reply?grant=G: a secure reply (httpd_upload_reply). */
void httpd_recipient_reply(struct http_session *s, const char *token, const char *query,
                           size_t query_len);
/* The client took output: send more of the download. */
void httpd_download_more(struct http_session *s);
void httpd_download_free(struct http_session *s);

/* Transfers made on the portal and their uploads (httpd-upload.c). */
/* POST /api/transfers (JSON) by user (external: an outside sender). */
void httpd_upload_create(struct http_session *s, const char *user, bool external);
/* The reply r makes to t (unlocked with key). */
void httpd_upload_reply(struct http_session *s, const struct share_transfer *t,
                        const struct share_recipient *r, const unsigned char key[32]);
/* PUT /api/uploads/UPLOAD/FILE: at the head, false when it was answered
 * (refused: the connection closes); each run of the body; the end. */
bool httpd_upload_put_begin(struct http_session *s, const char *path);
void httpd_upload_put_body(struct http_session *s, const char *data, size_t len);
void httpd_upload_put_done(struct http_session *s);
/* Let go of the PUT of s (answered, or its connection gone). */
void httpd_upload_put_end(struct http_session *s);
/* HEAD /api/uploads/UPLOAD/FILE: Upload-Offset. */
void httpd_upload_head(struct http_session *s, const char *path);
/* POST /api/uploads/UPLOAD/send: answers now or after the scan. */
void httpd_upload_send(struct http_session *s, const char *path);
/* s is going away: nothing may answer it any more. */
void httpd_upload_session_gone(struct http_session *s);
/* Forget every upload (the service stops). */
void httpd_upload_stop(void);

/* Mails to the sender (httpd-notify.c): a recipient's first download,
 * a recipient locked out. */
void httpd_notify_download(const char *transfer, const char *sender, const char *recipient,
                           const char *client);
void httpd_notify_locked(const char *transfer, const char *sender, const char *recipient,
                         unsigned failures);
/* An uploaded file had a virus: it was removed. */
void httpd_notify_infected(const char *transfer, const char *sender, const char *file_name,
                           const char *virus);
/* Queue a whole message text from env_sender ("" for none) to the address
 * to (resolved through aliases when it is ours); what names it in logs. */
void httpd_mail(const char *env_sender, const char *to, const char *text, size_t len,
                const char *what);

/* Expired transfers (httpd-expiry.c): removed at start, then every
 * every_secs; httpd_expire_now does one pass. */
struct event_base;
void httpd_expiry_start(struct event_base *base, long long every_secs);
void httpd_expiry_stop(void);
void httpd_expire_now(long long now);

#endif
