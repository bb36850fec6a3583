/* httpd-recipient: what a recipient of a transfer does on the portal,
 * without an account: unlock it with the password (or the key of the
 * link), then download its files, decrypted as they stream out.
 *
 * The data key exists in the clear only in this process's memory: in a
 * grant, from the unlock until GRANT_SECS later. Wrong passwords count
 * per recipient; at the transfer's maximum the recipient is locked, and
 * even the right password then fails. Every step goes to the evidence
 * log (share-store's access table). */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "httpd-private.h"
#include "lib/base64url.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "share/http-target.h"
#include "share/share-blob.h"
#include "share/share-crypt.h"
#include "share/share-key.h"
#include "share/share-store.h"

#define GRANTS_MAX     1024         /* unlocked transfers held at once */
#define GRANT_SECS     3600         /* how long an unlock lets a recipient download */
#define DOWNLOAD_PIECE (256 * 1024) /* ciphertext read at a time */
#define DOWNLOAD_HIGH  (1u << 20)   /* output queued before reading waits */
#define MAP_WINDOW     (8u << 20)   /* octets of the stored file mapped at a time */
#define META_MAX       (64 * 1024)  /* a decrypted message or file description */

struct grant {
    char id[SHARE_ID_LEN + 1];
    char token[SHARE_ID_LEN + 1];
    unsigned char key[SHARE_KEY_LEN];
    long long until;
};

static struct grant grants[GRANTS_MAX];

struct httpd_download {
    int fd;
    unsigned char *piece; /* DOWNLOAD_PIECE octets read at a time (no mapping) */
    /* the stored file is read through a window mapped MAP_WINDOW at a time:
     * no copy out of the page cache, and at most a window of it resident */
    unsigned char *map;
    unsigned long long map_off, map_len, off, fsize;
    bool raw; /* end to end: the ciphertext goes out as it is */
    struct share_decrypt *dec;
    struct http_session *s;
    unsigned long long size;
    bool failed;
    struct share_access a; /* the evidence, completed at the end */
    char token[SHARE_ID_LEN + 1];
    char sender[SHARE_ADDRESS_MAX + 1];
};

static void log_access(const char *transfer, const char *recipient, const char *client,
                       const char *file, const char *event, unsigned long long bytes,
                       bool completed)
{
    struct share_access a = {.time = (long long)time(NULL), .bytes = bytes, .completed = completed};
    str_copy(a.transfer, sizeof(a.transfer), transfer);
    str_copy(a.recipient, sizeof(a.recipient), recipient);
    str_copy(a.client, sizeof(a.client), client);
    str_copy(a.file, sizeof(a.file), file ? file : "");
    str_copy(a.event, sizeof(a.event), event);
    if (share_access_add(httpd_store, &a) < 0)
        log_error("share %s: the access log refused an entry: %s", transfer,
                  share_store_error(httpd_store));
}

/* Append the bytes as a JSON string of base64url. */
static void base64_json(struct buf *b, const unsigned char *data, size_t len)
{
    size_t need = BASE64URL_LEN(len) + 1;
    char *room = buf_reserve(b, need + 2);
    if (!room)
        return;
    room[0] = '"';
    long n = base64url_encode(data, len, room + 1, need);
    room[1 + n] = '"';
    buf_commit(b, (size_t)n + 2);
}

/* A transfer a recipient may still open: 0, or -1 after answering. */
static int usable(struct http_session *s, const char *token, struct share_recipient *r,
                  struct share_transfer *t)
{
    if (share_recipient_by_token(httpd_store, token, r) != 1 ||
        share_transfer_get(httpd_store, r->transfer, t) != 1) {
        httpd_respond_error(s, 404, "no such transfer");
        return -1;
    }
    const char *gone = t->revoked                           ? "the sender revoked this transfer"
                       : t->expires < (long long)time(NULL) ? "this transfer has expired"
                       : !t->sent                           ? "no such transfer"
                                                            : NULL;
    if (gone) {
        httpd_respond_error(s, t->sent ? 410 : 404, gone);
        share_transfer_free(t);
        return -1;
    }
    return 0;
}

static struct grant *grant_new(const char *token, const unsigned char key[SHARE_KEY_LEN])
{
    long long now = (long long)time(NULL);
    struct grant *g = &grants[0];
    for (size_t i = 0; i < GRANTS_MAX; i++) /* a free or expired slot, else the oldest */
        if (grants[i].until < g->until || grants[i].until < now) {
            g = &grants[i];
            if (g->until < now)
                break;
        }
    OPENSSL_cleanse(g, sizeof(*g));
    share_new_id(g->id);
    str_copy(g->token, sizeof(g->token), token);
    memcpy(g->key, key, SHARE_KEY_LEN);
    g->until = now + GRANT_SECS;
    return g;
}

static const struct grant *grant_find(const char *id, const char *token)
{
    long long now = (long long)time(NULL);
    for (size_t i = 0; i < GRANTS_MAX; i++)
        if (grants[i].until >= now && CRYPTO_memcmp(grants[i].id, id, SHARE_ID_LEN) == 0 &&
            strlen(id) == SHARE_ID_LEN && strcmp(grants[i].token, token) == 0)
            return &grants[i];
    return NULL;
}

/* The grant named by the query's grant= for token, or NULL after
 * answering 403. */
static const struct grant *grant_of_query(struct http_session *s, const char *token,
                                          const char *query, size_t query_len)
{
    struct buf gid;
    buf_init(&gid, 64);
    const struct grant *g = query && http_query_get(query, query_len, "grant", &gid) == 1
                                ? grant_find(buf_cstr(&gid), token)
                                : NULL;
    buf_free(&gid);
    if (!g)
        httpd_respond_error(s, 403, "unlock the transfer first");
    return g;
}

void httpd_recipient_unlock(struct http_session *s, const char *token)
{
    struct share_recipient r;
    struct share_transfer t;
    if (usable(s, token, &r, &t) < 0)
        return;
    const char *ip = access_conn_ip(s->c);
    unsigned char key[SHARE_KEY_LEN];
    struct buf secret;
    buf_init(&secret, HTTPD_FORM_MAX);
    int found = 0;
    enum share_unwrap_result ur = SHARE_UNWRAP_WRONG_PASSWORD;
    const char *why = NULL;
    if (r.locked) {
        log_access(t.id, r.address, ip, NULL, "locked-attempt", 0, false);
        httpd_respond_error(s, 403, "locked: too many wrong passwords; ask the sender");
        goto out;
    }
    if (t.mode == SHARE_PW_E2E) {
        /* nothing to check here: the key is in the recipient's link only */
        memset(key, 0, sizeof(key));
        found = 1;
        ur = SHARE_UNWRAP_OK;
    } else if (t.mode == SHARE_PW_LINK) {
        found = http_query_get(s->body.data ? s->body.data : "", s->body.len, "key", &secret);
        ur = found == 1 && share_key_from_link(secret.data, secret.len, key) == 0
                 ? SHARE_UNWRAP_OK
                 : SHARE_UNWRAP_WRONG_PASSWORD;
        /* the key must open what it protects */
        struct share_file f[1];
        struct buf probe;
        buf_init(&probe, META_MAX);
        if (ur == SHARE_UNWRAP_OK && share_files(httpd_store, t.id, f, 1) == 1) {
            if (share_blob_open(key, f[0].meta, f[0].meta_len, &probe) < 0)
                ur = SHARE_UNWRAP_WRONG_PASSWORD;
            share_file_free(&f[0]);
        } else if (ur == SHARE_UNWRAP_OK && t.message &&
                   share_blob_open(key, t.message, t.message_len, &probe) < 0) {
            ur = SHARE_UNWRAP_WRONG_PASSWORD;
        }
        buf_free(&probe);
    } else {
        found = http_query_get(s->body.data ? s->body.data : "", s->body.len, "password", &secret);
        if (found == 1)
            /* a reply keeps its original's key, wrapped for the original */
            ur = share_key_unwrap_text((const char *)t.wrapped_key, t.wrapped_key_len,
                                       buf_cstr(&secret), secret.len, t.parent[0] ? t.parent : t.id,
                                       key, &why);
    }
    if (found < 0) {
        httpd_respond_error(s, 400, "the form cannot be read");
        goto out;
    }
    if (ur == SHARE_UNWRAP_CORRUPT || ur == SHARE_UNWRAP_ERROR) {
        log_error("share %s: cannot unwrap its key: %s", t.id, why ? why : "?");
        httpd_respond_error(s, 500, "this transfer cannot be opened");
        goto out;
    }
    if (ur != SHARE_UNWRAP_OK) {
        bool locked = false;
        int n = share_recipient_fail(httpd_store, token, t.max_failures, &locked);
        log_access(t.id, r.address, ip, NULL, "wrong-password", 0, false);
        log_info("share %s: wrong password for <%s> from [%s] (%d of %u)", t.id, r.address, ip, n,
                 t.max_failures);
        if (locked) {
            log_access(t.id, r.address, ip, NULL, "locked", 0, true);
            log_info("share %s: <%s> is locked after %d wrong passwords", t.id, r.address, n);
            httpd_notify_locked(t.id, t.sender, r.address, (unsigned)n);
            httpd_respond_error(s, 403, "locked: too many wrong passwords; ask the sender");
        } else {
            struct buf b;
            buf_init(&b, 256);
            buf_printf(&b, "{\"error\": \"wrong password\", \"attempts_left\": %d}\n",
                       n < 0 ? 0 : (int)t.max_failures - n);
            httpd_respond(s, 403, "application/json", b.data, b.len);
            buf_free(&b);
        }
        goto out;
    }
    share_recipient_reset(httpd_store, token);
    const struct grant *g = grant_new(token, key);
    log_access(t.id, r.address, ip, NULL, "unlock", 0, true);
    /* the answer: the message and the files, readable now */
    struct buf out, plain;
    buf_init(&out, BUF_UNLIMITED);
    buf_init(&plain, META_MAX);
    bool e2e = t.mode == SHARE_PW_E2E;
    buf_printf(&out,
               "{\"grant\": \"%s\", \"transfer\": \"%s\", \"mode\": \"%s\", \"sender\": ", g->id,
               t.id, share_password_mode_name(t.mode));
    httpd_json_string(&out, t.sender);
    buf_printf(&out, ", \"expires\": %lld, \"can_reply\": %s, \"reply_to\": \"%s\", \"message\": ",
               t.expires, !e2e && !t.parent[0] ? "true" : "false", t.parent);
    if (e2e && t.message)
        base64_json(&out, t.message, t.message_len);
    else if (!e2e && t.message && share_blob_open(key, t.message, t.message_len, &plain) == 0)
        httpd_json_string(&out, buf_cstr(&plain));
    else
        buf_append_str(&out, "\"\"");
    buf_append_str(&out, ", \"files\": [");
    struct share_file *f = xcalloc(SHARE_FILES_MAX, sizeof(*f));
    int nf = share_files(httpd_store, t.id, f, SHARE_FILES_MAX);
    for (int i = 0; i < nf; i++) {
        buf_reset(&plain);
        bool ok = !e2e && f[i].meta && share_blob_open(key, f[i].meta, f[i].meta_len, &plain) == 0;
        buf_printf(
            &out, "%s{\"id\": \"%s\", \"available\": %s, \"size\": %llu, \"meta\": ", i ? ", " : "",
            f[i].id, f[i].complete && f[i].scan != SHARE_SCAN_INFECTED ? "true" : "false",
            e2e ? f[i].expected : f[i].size);
        if (e2e && f[i].meta)
            base64_json(&out, f[i].meta, f[i].meta_len); /* for the browser to open */
        else /* the description is postino's own JSON, authenticated by the key */
            buf_append_str(&out, ok ? buf_cstr(&plain) : "null");
        buf_append_str(&out, "}");
        share_file_free(&f[i]);
    }
    free(f);
    buf_append_str(&out, "]}\n");
    httpd_respond(s, 200, "application/json", out.data, out.len);
    buf_free(&out);
    buf_free(&plain);
out:
    OPENSSL_cleanse(key, sizeof(key));
    if (secret.data)
        OPENSSL_cleanse(secret.data, secret.len);
    buf_free(&secret);
    share_transfer_free(&t);
}

/* --- downloads --- */

static int write_out(void *ctx, const unsigned char *data, size_t len)
{
    struct httpd_download *d = ctx;
    access_conn_write(d->s->c, data, len);
    d->a.bytes += len;
    return 0;
}

void httpd_download_free(struct http_session *s)
{
    struct httpd_download *d = s->dl;
    if (!d)
        return;
    if (!d->a.completed) { /* the client left, or the file failed */
        d->a.time = (long long)time(NULL);
        share_access_add(httpd_store, &d->a);
    }
    share_decrypt_free(&d->dec);
    if (d->fd >= 0)
        close(d->fd);
    free(d->piece);
    if (d->map)
        munmap(d->map, d->map_len);
    free(d);
    s->dl = NULL;
}

/* The next octets of the stored file, at most DOWNLOAD_PIECE: from the
 * mapped window (mapped anew as the reading passes its end), or read into
 * d->piece when the file cannot be mapped. Returns the count (0 at the
 * end), or -1 with errno. */
static ssize_t next_piece(struct httpd_download *d, const unsigned char **p)
{
    if (d->off >= d->fsize)
        return 0;
    if (!d->map || d->off >= d->map_off + d->map_len) {
        if (d->map)
            munmap(d->map, d->map_len);
        d->map = NULL;
        d->map_off = d->off - d->off % MAP_WINDOW;
        d->map_len = d->fsize - d->map_off < MAP_WINDOW ? d->fsize - d->map_off : MAP_WINDOW;
        void *m = mmap(NULL, d->map_len, PROT_READ, MAP_SHARED, d->fd, (off_t)d->map_off);
        if (m == MAP_FAILED) {
            /* read(2) instead, from where we are */
            if (!d->piece)
                d->piece = xmalloc(DOWNLOAD_PIECE);
            ssize_t got = pread(d->fd, d->piece, DOWNLOAD_PIECE, (off_t)d->off);
            if (got > 0)
                d->off += (unsigned long long)got;
            *p = d->piece;
            return got;
        }
        d->map = m;
        madvise(d->map, d->map_len, MADV_SEQUENTIAL | MADV_WILLNEED);
    }
    unsigned long long in = d->off - d->map_off, left = d->map_len - in;
    size_t n = left < DOWNLOAD_PIECE ? (size_t)left : DOWNLOAD_PIECE;
    *p = d->map + in;
    d->off += n;
    return (ssize_t)n;
}

void httpd_download_more(struct http_session *s)
{
    struct httpd_download *d = s->dl;
    if (!d)
        return;
    while (access_conn_output_len(s->c) < DOWNLOAD_HIGH) {
        const unsigned char *piece = NULL;
        ssize_t got = next_piece(d, &piece);
        if (got < 0 && errno == EINTR)
            continue;
        if (got > 0 && d->raw) {
            access_conn_write(s->c, piece, (size_t)got);
            d->a.bytes += (unsigned long long)got;
            continue;
        }
        if (got > 0 && share_decrypt_update(d->dec, piece, (size_t)got) == 0)
            continue;
        if (got == 0 && (d->raw || share_decrypt_finish(d->dec) == 0) && d->a.bytes == d->size) {
            d->a.completed = true;
            d->a.time = (long long)time(NULL);
            share_access_add(httpd_store, &d->a);
            if (share_recipient_downloaded(httpd_store, d->token, d->a.time) == 1) {
                log_info("share %s: first download by <%s>", d->a.transfer, d->a.recipient);
                httpd_notify_download(d->a.transfer, d->sender, d->a.recipient, d->a.client);
            }
            log_info("share %s: <%s> downloaded %s (%llu octets) from [%s]", d->a.transfer,
                     d->a.recipient, d->a.file, d->a.bytes, d->a.client);
        } else {
            /* the status is sent already: cut the response short */
            log_error("share %s: file %s cannot be sent: %s", d->a.transfer, d->a.file,
                      got < 0  ? strerror(errno)
                      : d->raw ? "the stored file is shorter than recorded"
                               : share_decrypt_error(d->dec));
            s->close_after = true;
            access_conn_close(s->c);
        }
        httpd_download_free(s);
        return;
    }
    access_conn_want_output(s->c, true);
}

/* The file's name from its description ({"name": "...", ...}), or "file". */
static void file_name(const char *meta, char *out, size_t size)
{
    str_copy(out, size, "file");
    const char *p = meta ? strstr(meta, "{\"name\": \"") : NULL;
    if (!p)
        return;
    p += 10;
    const char *e = strchr(p, '"');
    if (e && e > p)
        str_copyn(out, size, p, (size_t)(e - p));
}

/* RFC 6266 / RFC 8187: filename*=UTF-8''percent-encoded. */
static void disposition(const char *name, struct buf *out)
{
    buf_append_str(out, "attachment; filename*=UTF-8''");
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("!#$&+-.^_`|~", *p))
            buf_append_char(out, (char)*p);
        else
            buf_printf(out, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
    }
}

void httpd_recipient_download(struct http_session *s, const char *token, const char *file,
                              const char *query, size_t query_len)
{
    const struct grant *g = grant_of_query(s, token, query, query_len);
    if (!g)
        return;
    struct share_recipient r;
    struct share_transfer t;
    if (usable(s, token, &r, &t) < 0)
        return;
    struct share_file f;
    int fr = share_file_get(httpd_store, t.id, file, &f);
    if (fr != 1 || !f.complete || f.scan == SHARE_SCAN_INFECTED) {
        httpd_respond_error(s, fr == 1 ? 410 : 404,
                            fr == 1 ? "this file is not available" : "no such file");
        if (fr == 1)
            share_file_free(&f);
        share_transfer_free(&t);
        return;
    }
    char path[4200];
    snprintf(path, sizeof(path), "%s/shares/%s/%s", httpd_data_dir, t.id, f.id);
    struct httpd_download *d = xcalloc(1, sizeof(*d));
    d->s = s;
    d->raw = t.mode == SHARE_PW_E2E;
    d->size = d->raw ? f.expected : f.size;
    d->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    d->fsize = d->fd >= 0 && fstat(d->fd, &st) == 0 ? (unsigned long long)st.st_size : 0;
    const char *err = NULL;
    d->dec = d->fd >= 0 ? share_decrypt_new(g->key, write_out, d, &err) : NULL;
    struct buf meta, cd;
    buf_init(&meta, META_MAX);
    buf_init(&cd, 1024);
    char name[512];
    file_name(!d->raw && f.meta && share_blob_open(g->key, f.meta, f.meta_len, &meta) == 0
                  ? buf_cstr(&meta)
                  : NULL,
              name, sizeof(name));
    disposition(name, &cd);
    str_copy(d->token, sizeof(d->token), token);
    str_copy(d->sender, sizeof(d->sender), t.sender);
    str_copy(d->a.transfer, sizeof(d->a.transfer), t.id);
    str_copy(d->a.recipient, sizeof(d->a.recipient), r.address);
    str_copy(d->a.client, sizeof(d->a.client), access_conn_ip(s->c));
    str_copy(d->a.file, sizeof(d->a.file), f.id);
    str_copy(d->a.event, sizeof(d->a.event), "download");
    if (!d->dec) {
        log_error("share %s: cannot open %s: %s", t.id, path, err ? err : strerror(errno));
        httpd_respond_error(s, 500, "this file cannot be read");
        if (d->fd >= 0)
            close(d->fd);
        free(d);
    } else {
        const struct http_header extra[] = {{"Content-Disposition", buf_cstr(&cd)}};
        httpd_respond_head(s, 200, "application/octet-stream", (size_t)d->size, extra, 1);
        s->responded = true;
        s->dl = d;
        if (s->head_only) {
            d->a.completed = true; /* nothing to log for a HEAD */
            httpd_download_free(s);
        } else {
            httpd_download_more(s);
        }
    }
    buf_free(&meta);
    buf_free(&cd);
    share_file_free(&f);
    share_transfer_free(&t);
}

void httpd_recipient_reply(struct http_session *s, const char *token, const char *query,
                           size_t query_len)
{
    const struct grant *g = grant_of_query(s, token, query, query_len);
    if (!g)
        return;
    struct share_recipient r;
    struct share_transfer t;
    if (usable(s, token, &r, &t) < 0)
        return;
    unsigned char key[SHARE_KEY_LEN];
    memcpy(key, g->key, sizeof(key));
    httpd_upload_reply(s, &t, &r, key);
    OPENSSL_cleanse(key, sizeof(key));
    share_transfer_free(&t);
}
