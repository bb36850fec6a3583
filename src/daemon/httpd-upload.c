/* httpd-upload: transfers made on the portal — created by a sender
 * (POST /api/transfers) or by a recipient's secure reply, their files
 * uploaded (PUT /api/uploads/UPLOAD/FILE, resumable: HEAD says where to go
 * on), then sent (POST /api/uploads/UPLOAD/send: scanned, described,
 * recipients mailed).
 *
 * An upload lives in this process's memory from its creation until it is
 * sent, or for UPLOAD_SECS: it holds the transfer's data key (never on
 * disk in the clear) and, for each file, the encryptor and the SHA-256 of
 * what arrived so far. So a dropped connection loses nothing — the
 * partial chunk waits in the encryptor — and the client goes on from
 * Upload-Offset; a restart of httpd loses the unsent uploads, and the
 * expiry task removes their transfers a day later. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "httpd-private.h"
#include "lib/base64url.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "policy/clamd.h"
#include "share/share-blob.h"
#include "share/share-create.h"
#include "share/share-sink.h"
#include "share/http-target.h"
#include "share/share-store.h"
#include "state/state-domain.h"

#define UPLOADS_MAX 256
#define UPLOAD_SECS (24 * 3600)

struct upload_file {
    char id[SHARE_ID_LEN + 1];
    char name[SHARE_NAME_MAX + 1];
    char type[SHARE_TYPE_MAX + 1];
    unsigned long long size;     /* octets the client sends */
    unsigned long long received; /* of them, taken */
    unsigned long long written;  /* octets on disk once complete */
    int fd;                      /* open while incomplete, else -1 */
    struct share_sink *sink;     /* hashes, encrypts and writes, on its own thread */
    char sha256[65];
    bool complete, busy, removed;
    enum share_scan scan;
    char scan_detail[200];
};

struct upload {
    char id[SHARE_ID_LEN + 1];
    char transfer[SHARE_ID_LEN + 1];
    char owner[SHARE_ADDRESS_MAX + 1]; /* the sender's login; "" for a reply */
    char sender[SHARE_ADDRESS_MAX + 1];
    enum share_password_mode mode;
    unsigned char key[SHARE_KEY_LEN];
    char link_key[SHARE_LINK_KEY_LEN + 1];
    long long until;
    size_t n_files;
    struct upload_file *files;
    /* sending: the scan under way, the request waiting for its answer */
    struct clamd_scan *scan;
    size_t scanning; /* the file being scanned */
    struct buf plain;
    struct http_session *waiting;
};

struct httpd_put {
    struct upload *u;
    struct upload_file *f;
    bool failed; /* answered already; the rest of the body is dropped */
};

static struct upload *uploads[UPLOADS_MAX];

/* --- the table --- */

static void upload_free(struct upload *u, bool discard)
{
    if (!u)
        return;
    clamd_scan_cancel(&u->scan);
    if (u->waiting)
        u->waiting->waiting_upload = false;
    for (size_t i = 0; i < u->n_files; i++) {
        struct upload_file *f = &u->files[i];
        share_sink_free(&f->sink);
        if (f->fd >= 0)
            close(f->fd);
    }
    if (discard)
        share_discard(httpd_data_dir, httpd_store, u->transfer);
    free(u->files);
    buf_free(&u->plain);
    OPENSSL_cleanse(u, sizeof(*u));
    free(u);
}

static bool upload_busy(const struct upload *u)
{
    if (u->waiting || u->scan)
        return true;
    for (size_t i = 0; i < u->n_files; i++)
        if (u->files[i].busy)
            return true;
    return false;
}

/* Forget the uploads past their time (their transfers go too). */
static void sweep(long long now)
{
    for (size_t i = 0; i < UPLOADS_MAX; i++)
        if (uploads[i] && uploads[i]->until < now && !upload_busy(uploads[i])) {
            log_info("share %s: never sent; removed", uploads[i]->transfer);
            upload_free(uploads[i], true);
            uploads[i] = NULL;
        }
}

static struct upload *upload_find(const char *id)
{
    if (strlen(id) != SHARE_ID_LEN)
        return NULL;
    for (size_t i = 0; i < UPLOADS_MAX; i++)
        if (uploads[i] && CRYPTO_memcmp(uploads[i]->id, id, SHARE_ID_LEN) == 0)
            return uploads[i];
    return NULL;
}

static void upload_forget(struct upload *u)
{
    for (size_t i = 0; i < UPLOADS_MAX; i++)
        if (uploads[i] == u)
            uploads[i] = NULL;
    upload_free(u, false);
}

/* A new upload for a transfer just created: NULL when the table is full. */
static struct upload *upload_new(const struct share_created *c, const struct share_new *n,
                                 const char *owner)
{
    long long now = (long long)time(NULL);
    sweep(now);
    size_t slot = UPLOADS_MAX;
    for (size_t i = 0; i < UPLOADS_MAX && slot == UPLOADS_MAX; i++)
        if (!uploads[i])
            slot = i;
    if (slot == UPLOADS_MAX)
        return NULL;
    struct upload *u = xcalloc(1, sizeof(*u));
    share_new_id(u->id);
    str_copy(u->transfer, sizeof(u->transfer), c->t.id);
    str_copy(u->owner, sizeof(u->owner), owner);
    str_copy(u->sender, sizeof(u->sender), c->t.sender);
    u->mode = c->t.mode;
    memcpy(u->key, c->key, SHARE_KEY_LEN);
    str_copy(u->link_key, sizeof(u->link_key), c->link_key);
    u->until = now + UPLOAD_SECS;
    u->n_files = c->n_files;
    u->files = xcalloc(c->n_files ? c->n_files : 1, sizeof(*u->files));
    buf_init(&u->plain, (size_t)httpd_cfg->clamd_max_size);
    for (size_t i = 0; i < c->n_files; i++) {
        struct upload_file *f = &u->files[i];
        str_copy(f->id, sizeof(f->id), c->files[i].id);
        if (n->files[i].name)
            str_copy(f->name, sizeof(f->name), n->files[i].name);
        str_copy(f->type, sizeof(f->type),
                 n->files[i].type && n->files[i].type[0] ? n->files[i].type
                                                         : "application/octet-stream");
        f->size = n->files[i].size;
        f->fd = -1;
        f->scan = c->files[i].scan;
    }
    uploads[slot] = u;
    return u;
}

/* --- answers --- */

/* The answer to a creation: the transfer, its upload, its files. */
static void created_answer(struct http_session *s, const struct share_created *c,
                           const struct upload *u)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_printf(&b, "{\"id\": \"%s\", \"expires\": %lld, \"mode\": \"%s\", ", c->t.id, c->t.expires,
               share_password_mode_name(c->t.mode));
    if (c->t.mode == SHARE_PW_GENERATED && !c->t.parent[0])
        buf_printf(&b, "\"password\": \"%s\", ", c->password);
    buf_printf(&b, "\"upload\": \"%s\", \"files\": [", u->id);
    for (size_t i = 0; i < u->n_files; i++)
        buf_printf(&b, "%s{\"id\": \"%s\", \"size\": %llu, \"url\": \"/api/uploads/%s/%s\"}",
                   i ? ", " : "", u->files[i].id, u->files[i].size, u->id, u->files[i].id);
    buf_append_str(&b, "], \"recipients\": [");
    for (size_t i = 0; i < c->n_rcpts; i++) {
        buf_append_str(&b, i ? ", {\"address\": " : "{\"address\": ");
        httpd_json_string(&b, c->rcpts[i].address);
        if (c->t.mode == SHARE_PW_E2E)
            buf_printf(&b, ", \"token\": \"%s\"", c->rcpts[i].token);
        buf_append_str(&b, "}");
    }
    buf_append_str(&b, "]}\n");
    httpd_respond(s, 201, "application/json", b.data, b.len);
    OPENSSL_cleanse(b.data, b.len);
    buf_free(&b);
}

/* --- creation --- */

/* The files of a request into out[]: 0, or -1 after answering. In e2e
 * mode each meta is decoded into metas[i] (freed by the caller). */
static int read_files(struct http_session *s, const struct json_value *files, bool e2e,
                      struct share_new_file *out, struct buf *metas, size_t *n_r)
{
    size_t n = json_count(files);
    if (json_type(files) != JSON_ARRAY || n > SHARE_FILES_MAX) {
        httpd_respond_error(s, 400, "files: a list of at most 100 files, please");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const struct json_value *f = json_at(files, i);
        long long size;
        if (!json_int(json_get(f, "size"), &size) || size < 0) {
            httpd_respond_error(s, 400, "each file needs its size in octets");
            return -1;
        }
        out[i].size = (unsigned long long)size;
        out[i].name = json_string(json_get(f, "name"), NULL);
        out[i].type = json_string(json_get(f, "type"), NULL);
        if (e2e) {
            size_t len;
            const char *m = json_string(json_get(f, "meta"), &len);
            buf_init(&metas[i], SHARE_BLOB_MAX);
            char *room = m ? buf_reserve(&metas[i], BASE64URL_DECODED_MAX(len) + 1) : NULL;
            if (!room) {
                httpd_respond_error(s, 400, "each end-to-end file needs its sealed description");
                return -1;
            }
            long got = base64url_decode(m, len, room, BASE64URL_DECODED_MAX(len) + 1);
            if (got <= 0) {
                httpd_respond_error(s, 400, "a file's description is not base64url");
                return -1;
            }
            buf_commit(&metas[i], (size_t)got);
            out[i].meta = (const unsigned char *)metas[i].data;
            out[i].meta_len = metas[i].len;
        }
    }
    *n_r = n;
    return 0;
}

/* Create the transfer n describes and its upload, and answer. */
static void create_and_answer(struct http_session *s, const struct share_new *n, const char *owner)
{
    struct share_created *c = xcalloc(1, sizeof(*c));
    int status = 500;
    char why[512];
    if (share_create(httpd_cfg, httpd_store, n, c, &status, why, sizeof(why)) < 0) {
        log_info("share: a transfer of <%s> from [%s] refused: %s", n->sender, access_conn_ip(s->c),
                 why);
        httpd_respond_error(s, status, why);
    } else {
        struct upload *u = upload_new(c, n, owner);
        if (!u) {
            share_discard(httpd_data_dir, httpd_store, c->t.id);
            httpd_respond_error(s, 503, "too many uploads at once; try again later");
        } else {
            log_info("share %s: created by <%s> from [%s]: %zu file(s), %zu recipient(s), %s%s",
                     c->t.id, n->sender, access_conn_ip(s->c), c->n_files, c->n_rcpts,
                     share_password_mode_name(c->t.mode), n->parent ? ", a reply" : "");
            created_answer(s, c, u);
        }
    }
    share_created_wipe(c);
    free(c);
}

/* An outside sender sends to users of this server only. */
static bool all_ours(const char *const *rcpts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *at = strrchr(rcpts[i], '@');
        if (!at || !httpd_state || state_domain_exists(httpd_state, at + 1) != 1)
            return false;
    }
    return true;
}

void httpd_upload_create(struct http_session *s, const char *user, bool external)
{
    const char *err = NULL;
    struct json_value *doc = json_parse(s->body.data ? s->body.data : "", s->body.len, &err);
    if (!doc || json_type(doc) != JSON_OBJECT) {
        httpd_respond_error(s, 400, err ? err : "a JSON object, please");
        json_free(&doc);
        return;
    }
    const char *mode_name = json_string(json_get(doc, "mode"), NULL);
    int mode = share_password_mode_parse(mode_name ? mode_name : "generated");
    const struct json_value *rcpts = json_get(doc, "recipients");
    size_t n_rcpts = json_count(rcpts);
    const char *to[SHARE_RCPTS_MAX];
    struct share_new_file files[SHARE_FILES_MAX];
    struct buf *metas = xcalloc(SHARE_FILES_MAX, sizeof(*metas));
    struct buf msg;
    buf_init(&msg, SHARE_BLOB_MAX);
    size_t n_files = 0;
    long long days = 0;
    memset(files, 0, sizeof(files));
    if (mode < 0) {
        httpd_respond_error(s, 400, "mode: generated, manual, link or e2e");
        goto out;
    }
    if (json_type(rcpts) != JSON_ARRAY || n_rcpts == 0 || n_rcpts > SHARE_RCPTS_MAX) {
        httpd_respond_error(s, 400, "recipients: a list of 1 to 100 addresses, please");
        goto out;
    }
    for (size_t i = 0; i < n_rcpts; i++)
        if (!(to[i] = json_string(json_at(rcpts, i), NULL))) {
            httpd_respond_error(s, 400, "recipients: addresses as strings, please");
            goto out;
        }
    if (external && !all_ours(to, n_rcpts)) {
        httpd_respond_error(s, 403, "outside senders send to users of this server only");
        goto out;
    }
    if (json_get(doc, "expires_days") && !json_int(json_get(doc, "expires_days"), &days)) {
        httpd_respond_error(s, 400, "expires_days: a number of days");
        goto out;
    }
    if (read_files(s, json_get(doc, "files"), mode == SHARE_PW_E2E, files, metas, &n_files) < 0)
        goto out;
    size_t mlen = 0;
    const char *m = json_string(json_get(doc, "message"), &mlen);
    if (m && mode == SHARE_PW_E2E && mlen) {
        char *room = buf_reserve(&msg, BASE64URL_DECODED_MAX(mlen) + 1);
        long got = room ? base64url_decode(m, mlen, room, BASE64URL_DECODED_MAX(mlen) + 1) : -1;
        if (got <= 0) {
            httpd_respond_error(s, 400, "an end-to-end message is base64url ciphertext");
            goto out;
        }
        buf_commit(&msg, (size_t)got);
        m = msg.data;
        mlen = msg.len;
    }
    struct share_new n = {.sender = user,
                          .external = external,
                          .rcpts = to,
                          .n_rcpts = n_rcpts,
                          .message = m,
                          .message_len = m ? mlen : 0,
                          .mode = (enum share_password_mode)mode,
                          .password = json_string(json_get(doc, "password"), NULL),
                          .expires_days = days < 0 || days > 100000 ? -1 : (long)days,
                          .files = files,
                          .n_files = n_files};
    create_and_answer(s, &n, user);
out:
    for (size_t i = 0; i < SHARE_FILES_MAX; i++)
        buf_free(&metas[i]);
    free(metas);
    buf_free(&msg);
    json_free(&doc);
}

void httpd_upload_reply(struct http_session *s, const struct share_transfer *t,
                        const struct share_recipient *r, const unsigned char key[SHARE_KEY_LEN])
{
    if (t->mode == SHARE_PW_E2E || t->parent[0]) {
        httpd_respond_error(s, 400, "this transfer takes no reply");
        return;
    }
    const char *err = NULL;
    struct json_value *doc = json_parse(s->body.data ? s->body.data : "", s->body.len, &err);
    struct share_new_file files[SHARE_FILES_MAX];
    memset(files, 0, sizeof(files));
    size_t n_files = 0;
    if (!doc || json_type(doc) != JSON_OBJECT) {
        httpd_respond_error(s, 400, err ? err : "a JSON object, please");
    } else if (!json_get(doc, "files") ||
               read_files(s, json_get(doc, "files"), false, files, NULL, &n_files) == 0) {
        size_t mlen = 0;
        const char *m = json_string(json_get(doc, "message"), &mlen);
        const char *to[1] = {t->sender};
        struct share_new n = {.sender = r->address,
                              .external = true,
                              .rcpts = to,
                              .n_rcpts = 1,
                              .message = m,
                              .message_len = m ? mlen : 0,
                              .mode = t->mode,
                              .expires_days = 0,
                              .files = files,
                              .n_files = n_files,
                              .parent = t->id,
                              .parent_key = key,
                              .parent_wrapped = t->wrapped_key,
                              .parent_wrapped_len = t->wrapped_key_len};
        if (n_files == 0 && mlen == 0)
            httpd_respond_error(s, 400, "a reply holds a message, files, or both");
        else
            create_and_answer(s, &n, "");
    }
    json_free(&doc);
}

/* --- uploads --- */

/* "/api/uploads/UPLOAD/REST": the upload and what follows, or NULL. */
static struct upload *upload_path(const char *path, const char **rest)
{
    if (strncmp(path, "/api/uploads/", 13) != 0)
        return NULL;
    const char *p = path + 13;
    size_t n = strcspn(p, "/");
    char id[SHARE_ID_LEN + 1];
    if (n != SHARE_ID_LEN)
        return NULL;
    str_copyn(id, sizeof(id), p, n);
    *rest = p + n;
    return upload_find(id);
}

static struct upload_file *upload_file_find(struct upload *u, const char *id)
{
    for (size_t i = 0; i < u->n_files; i++)
        if (!u->files[i].removed && strcmp(u->files[i].id, id) == 0)
            return &u->files[i];
    return NULL;
}

static void put_fail(struct http_session *s, int status, const char *why)
{
    s->put->failed = true;
    s->close_after = true; /* the rest of the body is not read */
    httpd_respond_error(s, status, why);
}

/* The file is whole: finish it. 0, or -1 after answering. */
static int file_complete(struct http_session *s, struct upload *u, struct upload_file *f)
{
    unsigned long long written = 0;
    int rc = share_sink_finish(f->sink, f->sha256, &written);
    if (rc < 0) {
        log_error("share %s: file %s cannot be stored: %s", u->transfer, f->id,
                  share_sink_error(f->sink));
        share_sink_free(&f->sink);
        put_fail(s, 500, "the file cannot be stored (disk full?)");
        return -1;
    }
    share_sink_free(&f->sink);
    f->written = written;
    if (u->mode == SHARE_PW_E2E) {
        /* the browser's ciphertext: at least its header must be ours */
        unsigned char h[SHARE_HEADER_LEN];
        struct share_header hdr;
        const char *why = NULL;
        uint64_t plain;
        if (pread(f->fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
            share_header_parse(h, sizeof(h), &hdr, &why) < 0 || hdr.mode != SHARE_MODE_E2E ||
            share_crypt_plaintext_len(f->size, hdr.chunk_size, &plain) < 0) {
            log_info("share %s: file %s is not an end-to-end share file: %s", u->transfer, f->id,
                     why ? why : "wrong mode or length");
            if (ftruncate(f->fd, 0) == 0 && lseek(f->fd, 0, SEEK_SET) == 0)
                f->received = f->written = 0;
            put_fail(s, 422,
                     "not a file encrypted end to end in the share format; upload it again");
            return -1;
        }
    }
    close(f->fd);
    f->fd = -1;
    f->complete = true;
    share_file_stored(httpd_store, u->transfer, f->id, f->written);
    log_info("share %s: file %s uploaded (%llu octets)", u->transfer, f->id, f->size);
    return 0;
}

bool httpd_upload_put_begin(struct http_session *s, const char *path)
{
    const char *rest = NULL;
    struct upload *u = upload_path(path, &rest);
    struct upload_file *f = u && rest[0] == '/' ? upload_file_find(u, rest + 1) : NULL;
    s->put = xcalloc(1, sizeof(*s->put));
    s->put->u = u;
    s->put->f = f;
    if (!f) {
        put_fail(s, 404, "no such upload");
        return false;
    }
    if (f->busy || u->waiting || u->scan) {
        put_fail(s, 409, "this file is being uploaded on another connection");
        return false;
    }
    unsigned long long start = 0, end = 0, size = 0;
    const char *cr = http_request_header(s->req, "Content-Range");
    if (cr && http_content_range_parse(cr, strlen(cr), &start, &end, &size) < 0) {
        put_fail(s, 400, "Content-Range: bytes START-END/SIZE, please");
        return false;
    }
    const char *cl = http_request_header(s->req, "Content-Length");
    if (cr && cl && strtoull(cl, NULL, 10) != end - start + 1) {
        put_fail(s, 400, "the Content-Range and the Content-Length do not agree");
        return false;
    }
    if (cr && size != f->size) {
        put_fail(s, 400, "the Content-Range's size is not the file's");
        return false;
    }
    if (start != f->received || f->complete) {
        struct buf b;
        buf_init(&b, 256);
        buf_printf(&b, "{\"error\": \"the upload is at octet %llu\", \"stored\": %llu}\n",
                   f->received, f->received);
        s->put->failed = true;
        s->close_after = true;
        httpd_respond(s, 409, "application/json", b.data, b.len);
        buf_free(&b);
        return false;
    }
    if (f->fd < 0) {
        char p[4200];
        share_file_path(httpd_data_dir, u->transfer, f->id, p, sizeof(p));
        f->fd = open(p, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (f->fd < 0) {
            log_error("share %s: cannot open %s: %s", u->transfer, p, strerror(errno));
            put_fail(s, 500, "the file cannot be stored");
            return false;
        }
    }
    if (!f->sink) {
        struct share_header h;
        const char *why = NULL;
        bool raw = u->mode == SHARE_PW_E2E;
        if ((!raw && share_header_init(&h, share_file_mode(u->mode), SHARE_FILE_CHUNK, &why) < 0) ||
            !(f->sink = share_sink_new(f->fd, raw ? NULL : &h, u->key, &why))) {
            log_error("share %s: cannot store: %s", u->transfer, why ? why : "?");
            put_fail(s, 500, "the file cannot be stored");
            return false;
        }
    }
    f->busy = true;
    return true;
}

void httpd_upload_put_body(struct http_session *s, const char *data, size_t len)
{
    struct httpd_put *p = s->put;
    if (!p || p->failed)
        return;
    struct upload *u = p->u;
    struct upload_file *f = p->f;
    if (len > f->size - f->received) {
        put_fail(s, 413, "more octets than the file's size");
        return;
    }
    if (share_sink_write(f->sink, data, len) < 0) {
        log_error("share %s: cannot store file %s: %s", u->transfer, f->id,
                  share_sink_error(f->sink));
        put_fail(s, 500, "the file cannot be stored (disk full?)");
        return;
    }
    f->received += len;
    if (f->received == f->size)
        file_complete(s, u, f);
}

void httpd_upload_put_done(struct http_session *s)
{
    struct httpd_put *p = s->put;
    if (!p)
        return;
    if (!p->failed) {
        struct upload_file *f = p->f;
        if (f->received == f->size && !f->complete)
            file_complete(s, p->u, f); /* an empty file, or a 0-length last piece */
        if (!p->failed) {
            share_file_stored(httpd_store, p->u->transfer, f->id,
                              f->sink ? share_sink_written(f->sink) : f->written);
            struct buf b;
            buf_init(&b, 256);
            buf_printf(&b, "{\"stored\": %llu, \"size\": %llu, \"complete\": %s}\n", f->received,
                       f->size, f->complete ? "true" : "false");
            httpd_respond(s, 200, "application/json", b.data, b.len);
            buf_free(&b);
        }
    }
    httpd_upload_put_end(s);
}

void httpd_upload_put_end(struct http_session *s)
{
    struct httpd_put *p = s->put;
    if (!p)
        return;
    if (p->f && p->f->busy) {
        p->f->busy = false;
        if (!p->f->complete)
            share_file_stored(httpd_store, p->u->transfer, p->f->id,
                              p->f->sink ? share_sink_written(p->f->sink) : p->f->written);
    }
    free(p);
    s->put = NULL;
}

void httpd_upload_head(struct http_session *s, const char *path)
{
    const char *rest = NULL;
    struct upload *u = upload_path(path, &rest);
    struct upload_file *f = u && rest[0] == '/' ? upload_file_find(u, rest + 1) : NULL;
    if (!f) {
        httpd_respond_error(s, 404, "no such upload");
        return;
    }
    char off[32], len[32];
    snprintf(off, sizeof(off), "%llu", f->received);
    snprintf(len, sizeof(len), "%llu", f->size);
    const struct http_header extra[] = {{"Upload-Offset", off}, {"Upload-Length", len}};
    httpd_respond_head(s, 200, NULL, 0, extra, 2);
    s->responded = true;
}

/* --- sending --- */

/* Mail each recipient their link, mark the transfer sent, answer s (if
 * the client still waits). */
static void send_out(struct upload *u, struct http_session *s)
{
    struct share_transfer t;
    if (share_transfer_get(httpd_store, u->transfer, &t) != 1) {
        if (s)
            httpd_respond_error(s, 410, "this transfer is gone");
        return;
    }
    size_t n_files = 0;
    for (size_t i = 0; i < u->n_files; i++)
        n_files += !u->files[i].removed;
    struct share_recipient r[SHARE_RCPTS_MAX];
    int nr = share_recipients(httpd_store, t.id, r, SHARE_RCPTS_MAX);
    for (int i = 0; i < nr; i++) {
        struct buf m;
        buf_init(&m, BUF_UNLIMITED);
        share_notification(httpd_cfg, &t, &r[i], t.mode == SHARE_PW_LINK ? u->link_key : NULL,
                           n_files, &m);
        httpd_mail(t.sender, r[i].address, m.data, m.len, "notification");
        buf_free(&m);
    }
    share_transfer_set_sent(httpd_store, t.id);
    struct share_access a = {.time = (long long)time(NULL), .completed = true};
    str_copy(a.transfer, sizeof(a.transfer), t.id);
    str_copy(a.client, sizeof(a.client), s ? access_conn_ip(s->c) : "");
    str_copy(a.event, sizeof(a.event), t.parent[0] ? "reply" : "sent");
    share_access_add(httpd_store, &a);
    if (t.parent[0]) {
        struct share_access pa = a;
        str_copy(pa.transfer, sizeof(pa.transfer), t.parent);
        str_copy(pa.recipient, sizeof(pa.recipient), t.sender);
        share_access_add(httpd_store, &pa);
    }
    log_info("share %s: sent to %d recipient(s), %zu file(s)", t.id, nr, n_files);
    if (s) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        buf_printf(&b, "{\"id\": \"%s\", \"state\": \"active\", \"files\": [", t.id);
        size_t k = 0;
        for (size_t i = 0; i < u->n_files; i++)
            if (!u->files[i].removed)
                buf_printf(&b, "%s{\"id\": \"%s\", \"scan\": \"%s\"}", k++ ? ", " : "",
                           u->files[i].id, share_scan_name(u->files[i].scan));
        buf_append_str(&b, "]}\n");
        httpd_respond(s, 200, "application/json", b.data, b.len);
        buf_free(&b);
    }
    share_transfer_free(&t);
}

/* Every file scanned: describe them, take out the infected, send or say
 * why not (to s, if the client still waits). Frees the upload once
 * sent. */
static void scans_done(struct upload *u, struct http_session *s)
{
    struct upload_file *bad = NULL;
    for (size_t i = 0; i < u->n_files; i++) {
        struct upload_file *f = &u->files[i];
        if (f->removed)
            continue;
        if (f->scan == SHARE_SCAN_INFECTED) {
            char p[4200];
            share_file_path(httpd_data_dir, u->transfer, f->id, p, sizeof(p));
            unlink(p);
            share_file_remove(httpd_store, u->transfer, f->id);
            f->removed = true;
            log_info("share %s: file %s (%s) removed: virus %s", u->transfer, f->id, f->name,
                     f->scan_detail);
            httpd_notify_infected(u->transfer, u->sender, f->name, f->scan_detail);
            if (!bad)
                bad = f;
            continue;
        }
        share_file_scanned(httpd_store, u->transfer, f->id, f->scan, f->scan_detail);
        if (u->mode != SHARE_PW_E2E &&
            share_create_describe(httpd_store, u->mode, u->key, u->transfer, f->id, f->name,
                                  f->type, f->size, f->sha256) < 0)
            log_error("share %s: file %s cannot be described: %s", u->transfer, f->id,
                      share_store_error(httpd_store));
    }
    if (bad) {
        if (s) {
            struct buf b;
            buf_init(&b, 2048);
            buf_append_str(&b, "{\"error\": \"a virus was found; the file was removed and "
                               "nothing was sent\", \"file\": ");
            httpd_json_string(&b, bad->id);
            buf_append_str(&b, ", \"name\": ");
            httpd_json_string(&b, bad->name);
            buf_append_str(&b, ", \"virus\": ");
            httpd_json_string(&b, bad->scan_detail);
            buf_append_str(&b, "}\n");
            httpd_respond(s, 422, "application/json", b.data, b.len);
            buf_free(&b);
        }
        return;
    }
    send_out(u, s);
    upload_forget(u);
}

static bool scan_next(struct upload *u);

/* The scans ended after the request's own turn: answer it, and let the
 * connection go on. */
static void scans_ended_late(struct upload *u)
{
    struct http_session *s = u->waiting;
    u->waiting = NULL;
    if (s)
        s->waiting_upload = false;
    scans_done(u, s); /* may free u */
    if (s)
        httpd_request_finished(s);
}

static void scan_answered(const struct clamd_result *r, void *arg)
{
    struct upload *u = arg;
    u->scan = NULL;
    struct upload_file *f = &u->files[u->scanning];
    f->scan_detail[0] = '\0';
    switch (r->status) {
    case CLAMD_SCAN_CLEAN:
        f->scan = SHARE_SCAN_CLEAN;
        break;
    case CLAMD_SCAN_INFECTED:
        f->scan = SHARE_SCAN_INFECTED;
        str_copy(f->scan_detail, sizeof(f->scan_detail), r->signature);
        break;
    case CLAMD_SCAN_TOO_BIG:
        f->scan = SHARE_SCAN_NONE;
        str_copy(f->scan_detail, sizeof(f->scan_detail), "not scanned: larger than clamd_max_size");
        break;
    case CLAMD_SCAN_UNAVAILABLE:
        log_warn("share %s: the virus scanner is unavailable: %s", u->transfer, r->detail);
        if (httpd_cfg->clamd_unavailable == 0) {
            f->scan = SHARE_SCAN_PENDING;
            struct http_session *s = u->waiting;
            u->waiting = NULL;
            if (s) {
                s->waiting_upload = false;
                httpd_respond_error(s, 503,
                                    "the virus scanner is unavailable; nothing was sent, try "
                                    "again later");
                httpd_request_finished(s);
            }
            return;
        }
        f->scan = SHARE_SCAN_NONE;
        str_copy(f->scan_detail, sizeof(f->scan_detail), "not scanned: scanner unavailable");
        break;
    }
    u->scanning++;
    if (!scan_next(u))
        scans_ended_late(u);
}

/* Scan the files from u->scanning on, one at a time. true while a scan
 * is under way (scan_answered goes on), false when every file has its
 * verdict. */
static bool scan_next(struct upload *u)
{
    const char *sock = httpd_cfg->clamd_socket;
    for (; u->scanning < u->n_files; u->scanning++) {
        struct upload_file *f = &u->files[u->scanning];
        if (f->removed || u->mode == SHARE_PW_E2E || f->scan != SHARE_SCAN_PENDING)
            continue;
        if (!sock || !sock[0]) {
            f->scan = SHARE_SCAN_NONE;
            str_copy(f->scan_detail, sizeof(f->scan_detail), "not scanned: no clamd_socket");
            continue;
        }
        if (f->size > (unsigned long long)httpd_cfg->clamd_max_size) {
            f->scan = SHARE_SCAN_NONE;
            str_copy(f->scan_detail, sizeof(f->scan_detail),
                     "not scanned: larger than clamd_max_size");
            continue;
        }
        /* the plaintext, decrypted again from disk (at most clamd_max_size) */
        char p[4200];
        share_file_path(httpd_data_dir, u->transfer, f->id, p, sizeof(p));
        buf_reset(&u->plain);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        const char *why = NULL;
        struct share_decrypt *d =
            fd >= 0 ? share_decrypt_new(u->key, share_crypt_output_buf, &u->plain, &why) : NULL;
        unsigned char piece[65536];
        ssize_t got = 0;
        while (d && (got = read(fd, piece, sizeof(piece))) > 0)
            if (share_decrypt_update(d, piece, (size_t)got) < 0)
                break;
        bool ok = d && got == 0 && share_decrypt_finish(d) == 0;
        share_decrypt_free(&d);
        if (fd >= 0)
            close(fd);
        OPENSSL_cleanse(piece, sizeof(piece));
        if (!ok) {
            log_error("share %s: file %s cannot be read back for the scan", u->transfer, f->id);
            f->scan = SHARE_SCAN_NONE;
            str_copy(f->scan_detail, sizeof(f->scan_detail), "not scanned: unreadable");
            continue;
        }
        u->scan =
            clamd_scan_start(httpd_base, sock, u->plain.data ? u->plain.data : "", u->plain.len,
                             (size_t)httpd_cfg->clamd_max_size,
                             (unsigned)httpd_cfg->clamd_timeout * 1000u, scan_answered, u, &why);
        if (u->scan)
            return true;
        log_error("share %s: cannot scan: %s", u->transfer, why ? why : "?");
        f->scan = SHARE_SCAN_NONE;
        str_copy(f->scan_detail, sizeof(f->scan_detail), "not scanned: scanner misconfigured");
    }
    if (u->plain.data)
        OPENSSL_cleanse(u->plain.data, u->plain.cap);
    buf_reset(&u->plain);
    return false;
}

void httpd_upload_send(struct http_session *s, const char *path)
{
    const char *rest = NULL;
    struct upload *u = upload_path(path, &rest);
    if (!u || strcmp(rest, "/send") != 0) {
        httpd_respond_error(s, 404, "no such upload");
        return;
    }
    if (u->waiting || u->scan) {
        httpd_respond_error(s, 409, "this transfer is being sent already");
        return;
    }
    size_t live = 0;
    for (size_t i = 0; i < u->n_files; i++) {
        struct upload_file *f = &u->files[i];
        if (f->removed)
            continue;
        live++;
        if (!f->complete || f->busy) {
            struct buf b;
            buf_init(&b, 512);
            buf_printf(&b,
                       "{\"error\": \"a file is not complete\", \"file\": \"%s\", \"stored\": "
                       "%llu, \"size\": %llu}\n",
                       f->id, f->received, f->size);
            httpd_respond(s, 409, "application/json", b.data, b.len);
            buf_free(&b);
            return;
        }
    }
    if (live == 0 && u->n_files) {
        httpd_respond_error(s, 409, "no file is left to send");
        return;
    }
    u->waiting = s;
    u->scanning = 0;
    if (scan_next(u)) {
        s->waiting_upload = true; /* scan_answered answers */
        return;
    }
    u->waiting = NULL;
    scans_done(u, s);
}

void httpd_upload_session_gone(struct http_session *s)
{
    httpd_upload_put_end(s);
    for (size_t i = 0; i < UPLOADS_MAX; i++)
        if (uploads[i] && uploads[i]->waiting == s)
            uploads[i]->waiting = NULL;
}

void httpd_upload_stop(void)
{
    for (size_t i = 0; i < UPLOADS_MAX; i++) {
        upload_free(uploads[i], false);
        uploads[i] = NULL;
    }
}
