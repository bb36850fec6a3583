/* postino share: the share portal from the command line — send a
 * transfer (files encrypted at rest, recipients notified by mail), list,
 * show, revoke, and the evidence log of a transfer. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "policy/clamd.h"
#include "share/share-crypt.h"
#include "share/share-key.h"
#include "share/share-store.h"
#include "smtp/smtp-address.h"
#include "state/state-user.h"

static const char usage[] =
    "usage: postino share send --from ADDR --to ADDR... --file PATH... [--message TEXT]\n"
    "                          [--password-mode generated|manual|link] [--expires DAYS]\n"
    "                          [--password-stdin] [--json]\n"
    "       postino share list [--from ADDR] [--json]\n"
    "       postino share show ID [--json]\n"
    "       postino share revoke ID\n"
    "       postino share unlock ID ADDRESS\n"
    "       postino share log ID [--json]\n"
    "Options: --config FILE\n"
    "send encrypts the files at rest with a key of their own, protected by the\n"
    "transfer's password (generated: shown once here, to give the recipients by\n"
    "another channel; manual: read from the terminal or with --password-stdin;\n"
    "link: the key travels in each recipient's link), and mails each recipient a\n"
    "personal link. list, show and log say who sent what, who opened and downloaded\n"
    "it, and when; revoke makes a transfer unavailable at once; unlock lets a\n"
    "recipient locked out by wrong passwords try again.\n";

#define EXPIRES_MAX      3650 /* days; share_expires_max sets the real bound */
#define PASSWORD_MIN     10   /* a manual password's length, at least */
#define GENERATED_GROUPS 5    /* a generated password: 5 groups of 5 */
#define READ_CHUNK       (256 * 1024)
#define MESSAGE_MAX      (32 * 1024)
#define SHARE_CHUNK      SHARE_CHUNK_DEFAULT

/* --- send --- */

struct send_opts {
    const char *from;
    const char *to[SHARE_RCPTS_MAX];
    size_t n_to;
    const char *file[SHARE_FILES_MAX];
    int fd[SHARE_FILES_MAX]; /* opened as the caller, before the privileges go */
    size_t n_file;
    const char *message;
    enum share_password_mode mode;
    long expires_days;
};

/* A password of 25 letters and digits with no look-alikes, in groups. */
static void generate_password(char *out, size_t size)
{
    static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    unsigned char r[GENERATED_GROUPS * 5];
    if (RAND_bytes(r, sizeof(r)) != 1)
        abort();
    size_t o = 0;
    for (size_t i = 0; i < sizeof(r) && o + 2 < size; i++) {
        if (i && i % 5 == 0)
            out[o++] = '-';
        out[o++] = alphabet[r[i] % (sizeof(alphabet) - 1)];
    }
    out[o] = '\0';
}

struct fd_out {
    int fd;
};

static int write_fd(void *ctx, const unsigned char *data, size_t len)
{
    struct fd_out *o = ctx;
    while (len) {
        ssize_t w = write(o->fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Encrypt bytes to a buf (the message, a file's description). */
static int encrypt_small(enum share_mode mode, const unsigned char key[SHARE_KEY_LEN],
                         const char *data, size_t len, struct buf *out)
{
    struct share_header h;
    const char *err;
    if (share_header_init(&h, mode, SHARE_CHUNK, &err) < 0)
        return -1;
    struct share_encrypt *e = share_encrypt_new(&h, key, share_crypt_output_buf, out, &err);
    if (!e)
        return -1;
    int rc = share_encrypt_update(e, data, len) == 0 && share_encrypt_finish(e) == 0 ? 0 : -1;
    share_encrypt_free(&e);
    return rc;
}

/* Encrypt the file open on in (named path) into dest (created), hashing
 * the plaintext. 0, or -1 after printing why. */
static int encrypt_file(enum share_mode mode, const unsigned char key[SHARE_KEY_LEN], int in,
                        const char *path, const char *dest, char sha256_hex[65])
{
    struct fd_out o = {.fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640)};
    if (o.fd < 0) {
        cmd_error("%s: %s", dest, strerror(errno));
        return -1;
    }
    struct share_header h;
    const char *err = NULL;
    struct share_encrypt *e = share_header_init(&h, mode, SHARE_CHUNK, &err) == 0
                                  ? share_encrypt_new(&h, key, write_fd, &o, &err)
                                  : NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = e && md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? 0 : -1;
    unsigned char *chunk = malloc(READ_CHUNK);
    ssize_t got = 0;
    while (rc == 0 && chunk && (got = read(in, chunk, READ_CHUNK)) > 0) {
        EVP_DigestUpdate(md, chunk, (size_t)got);
        if (share_encrypt_update(e, chunk, (size_t)got) < 0)
            rc = -1;
    }
    if (!chunk || got < 0 || (rc == 0 && share_encrypt_finish(e) < 0) || fsync(o.fd) < 0)
        rc = -1;
    unsigned char d[32];
    unsigned int dl = 0;
    if (rc == 0 && EVP_DigestFinal_ex(md, d, &dl) == 1 && dl == 32)
        for (unsigned i = 0; i < 32; i++)
            snprintf(sha256_hex + 2 * i, 3, "%02x", d[i]);
    if (rc < 0)
        cmd_error("%s: cannot encrypt it to %s: %s", path, dest,
                  e     ? share_encrypt_error(e)
                  : err ? err
                        : strerror(errno));
    free(chunk);
    EVP_MD_CTX_free(md);
    share_encrypt_free(&e);
    close(o.fd);
    if (rc < 0)
        unlink(dest);
    return rc;
}

struct scan_wait {
    bool done;
    struct clamd_result r;
};

static void scan_done(const struct clamd_result *r, void *arg)
{
    struct scan_wait *w = arg;
    w->r = *r;
    w->done = true;
}

/* Scan the file open on fd (size octets) with clamd (clamd_socket), as
 * the mail is. Sets f's verdict; 0 if the file may be sent, -1 after
 * printing why not (infected, or the scanner down with
 * clamd_unavailable = tempfail). */
static int scan_file(const struct config *cfg, int fd, size_t size, const char *path,
                     struct share_file *f)
{
    if (!cfg->clamd_socket || !cfg->clamd_socket[0]) {
        f->scan = SHARE_SCAN_NONE;
        str_copy(f->scan_detail, sizeof(f->scan_detail), "not scanned: no clamd_socket");
        return 0;
    }
    void *map = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    if (map == MAP_FAILED) {
        cmd_error("%s: cannot read it for the virus scan: %s", path, strerror(errno));
        return -1;
    }
    struct event_base *base = event_base_new();
    struct scan_wait w = {0};
    const char *err = NULL;
    struct clamd_scan *sc =
        base ? clamd_scan_start(base, cfg->clamd_socket, map ? map : "", size,
                                (size_t)cfg->clamd_max_size, (unsigned)cfg->clamd_timeout * 1000u,
                                scan_done, &w, &err)
             : NULL;
    while (sc && !w.done)
        event_base_loop(base, EVLOOP_ONCE);
    if (base)
        event_base_free(base);
    if (map)
        munmap(map, size);
    if (!w.done) {
        cmd_error("%s: cannot scan it: %s", path, err ? err : "no event loop");
        return -1;
    }
    switch (w.r.status) {
    case CLAMD_SCAN_CLEAN:
        f->scan = SHARE_SCAN_CLEAN;
        return 0;
    case CLAMD_SCAN_INFECTED:
        cmd_error("%s: virus found: %s; nothing was sent", path, w.r.signature);
        return -1;
    case CLAMD_SCAN_TOO_BIG:
        f->scan = SHARE_SCAN_NONE;
        str_copy(f->scan_detail, sizeof(f->scan_detail), "not scanned: larger than clamd_max_size");
        return 0;
    case CLAMD_SCAN_UNAVAILABLE:
        if (cfg->clamd_unavailable == 0) {
            cmd_error("%s: the virus scanner is unavailable (%s); nothing was sent, try again "
                      "later",
                      path, w.r.detail);
            return -1;
        }
        f->scan = SHARE_SCAN_NONE;
        str_copy(f->scan_detail, sizeof(f->scan_detail), "not scanned: scanner unavailable");
        return 0;
    }
    return -1;
}

/* The portal's address for links: share_url, else https://hostname. */
static void portal_url(const struct config *cfg, char *out, size_t size)
{
    if (cfg->share_url && cfg->share_url[0])
        str_copy(out, size, cfg->share_url);
    else if (snprintf(out, size, "https://%s", cfg->hostname) >= (int)size)
        out[0] = '\0';
    size_t n = strlen(out);
    if (n && out[n - 1] == '/')
        out[n - 1] = '\0';
}

/* The notification of one recipient: a neutral subject that tells
 * nothing of the content, the personal link, the expiry. */
static void notification(const struct config *cfg, const struct share_transfer *t,
                         const struct share_recipient *r, const char *link_key, size_t n_files,
                         struct buf *m)
{
    char url[1024], until[64];
    portal_url(cfg, url, sizeof(url));
    time_t ex = (time_t)t->expires;
    struct tm tm;
    gmtime_r(&ex, &tm);
    strftime(until, sizeof(until), "%Y-%m-%d %H:%M UTC", &tm);
    buf_printf(m, "From: <%s>\r\nTo: <%s>\r\nSubject: Files shared with you by %s\r\n", t->sender,
               r->address, t->sender);
    buf_printf(m, "Auto-Submitted: auto-generated\r\nX-Postino-Share: %s\r\n", t->id);
    buf_printf(m, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    buf_printf(m, "%s has shared %zu file%s with you through %s's secure file transfer.\r\n\r\n",
               t->sender, n_files, n_files == 1 ? "" : "s", cfg->hostname);
    buf_printf(m, "Open them here (the link is yours alone):\r\n\r\n  %s/t/%s%s%s\r\n\r\n", url,
               r->token, link_key ? "#k=" : "", link_key ? link_key : "");
    if (t->mode == SHARE_PW_GENERATED || t->mode == SHARE_PW_MANUAL)
        buf_printf(m,
                   "You need the password, which %s gives you by another channel (phone,\r\n"
                   "text message). After %u wrong passwords the transfer is locked.\r\n\r\n",
                   t->sender, t->max_failures);
    buf_printf(m, "The files can be downloaded until %s.\r\n", until);
}

static int share_send(struct config *cfg, struct state_db *db, const struct cmd_common *c,
                      const struct send_opts *o)
{
    struct state_user u;
    if (state_user_get(db, o->from, &u) != 1) {
        cmd_error("--from %s: not a user of this server (postino user list)", o->from);
        return 1;
    }
    for (size_t i = 0; i < o->n_to; i++) {
        struct smtp_path p;
        if (smtp_mailbox_parse(o->to[i], strlen(o->to[i]), &p) != SMTP_PATH_OK || !p.domain[0]) {
            cmd_error("--to %s: not a valid address", o->to[i]);
            return 2;
        }
    }
    char password[SHARE_PASSWORD_MAX + 1] = "";
    if (o->mode == SHARE_PW_MANUAL) {
        int n = cmd_read_password(c, password, sizeof(password));
        if (n < 0)
            return 1;
        if (n < PASSWORD_MIN) {
            cmd_error("the password needs at least %d characters", PASSWORD_MIN);
            return 2;
        }
    } else if (o->mode == SHARE_PW_GENERATED) {
        generate_password(password, sizeof(password));
    }
    char *err = NULL;
    struct share_store *st = share_store_open(cfg->data_dir, &err);
    if (!st) {
        cmd_error("%s", err);
        free(err);
        return 1;
    }
    int rc = 1;
    const char *why = NULL;
    unsigned char key[SHARE_KEY_LEN];
    long days = o->expires_days ? o->expires_days : (long)cfg->share_expires_default;
    if (days > cfg->share_expires_max) {
        cmd_error("--expires: at most %lld days (share_expires_max)", cfg->share_expires_max);
        share_store_close(&st);
        return 2;
    }
    struct share_transfer t = {.mode = o->mode,
                               .created = (long long)time(NULL),
                               .max_failures = (unsigned)cfg->share_max_failures};
    t.expires = t.created + days * 86400;
    str_copy(t.sender, sizeof(t.sender), o->from);
    share_new_id(t.id);
    enum share_mode fmode = o->mode == SHARE_PW_LINK ? SHARE_MODE_LINK : SHARE_MODE_PASSWORD;
    struct buf msg, wk_text;
    buf_init(&msg, MESSAGE_MAX * 2);
    buf_init(&wk_text, SHARE_WRAPPED_KEY_TEXT_MAX);
    struct share_recipient rcpts[SHARE_RCPTS_MAX];
    memset(rcpts, 0, sizeof(rcpts));
    char dir[4096] = "";
    char link_key[SHARE_LINK_KEY_LEN + 1];
    if (share_key_generate(key, &why) < 0) {
        cmd_error("%s", why);
        goto out;
    }
    if (o->mode != SHARE_PW_LINK) {
        struct share_kdf_params kdf = {.time = (unsigned)cfg->password_argon2_time,
                                       .memory_kib = (unsigned)(cfg->password_argon2_memory / 1024),
                                       .parallelism = (unsigned)cfg->password_argon2_parallelism};
        struct share_wrapped_key wk;
        char text[SHARE_WRAPPED_KEY_TEXT_MAX];
        if (share_key_wrap(key, password, strlen(password), t.id, &kdf, &wk, &why) < 0) {
            cmd_error("cannot protect the key: %s", why);
            goto out;
        }
        size_t tl = share_wrapped_key_format(&wk, text);
        buf_append(&wk_text, text, tl);
        t.wrapped_key = (unsigned char *)wk_text.data;
        t.wrapped_key_len = wk_text.len;
    }
    share_key_to_link(key, link_key);
    if (o->message && (strlen(o->message) > MESSAGE_MAX ||
                       encrypt_small(fmode, key, o->message, strlen(o->message), &msg) < 0)) {
        cmd_error("the message is too long (at most %d octets) or cannot be encrypted",
                  MESSAGE_MAX);
        goto out;
    }
    if (msg.len) {
        t.message = (unsigned char *)msg.data;
        t.message_len = msg.len;
    }
    for (size_t i = 0; i < o->n_to; i++)
        str_copy(rcpts[i].address, sizeof(rcpts[i].address), o->to[i]);
    if (share_transfer_add(st, &t, rcpts, o->n_to, &err) < 0) {
        cmd_error("cannot record the transfer: %s", err ? err : "?");
        goto out;
    }
    /* the files, each encrypted into shares/ID/FILE-ID */
    char top[4096];
    config_data_path(cfg, "shares", top, sizeof(top));
    if ((mkdir(top, 0750) < 0 && errno != EEXIST) ||
        snprintf(dir, sizeof(dir), "%s/%s", top, t.id) >= (int)sizeof(dir) ||
        mkdir(dir, 0750) < 0) {
        cmd_error("cannot create %s: %s", dir[0] ? dir : top, strerror(errno));
        dir[0] = '\0';
        share_transfer_delete(st, t.id);
        goto out;
    }
    for (size_t i = 0; i < o->n_file; i++) {
        struct stat sb;
        if (fstat(o->fd[i], &sb) < 0 || !S_ISREG(sb.st_mode)) {
            cmd_error("%s: not a readable file", o->file[i]);
            goto undo;
        }
        struct share_file f = {.size = (unsigned long long)sb.st_size};
        if (scan_file(cfg, o->fd[i], (size_t)sb.st_size, o->file[i], &f) < 0)
            goto undo;
        uint64_t expected;
        share_crypt_ciphertext_len((uint64_t)sb.st_size, SHARE_CHUNK, &expected);
        f.expected = expected;
        str_copy(f.transfer, sizeof(f.transfer), t.id);
        if (share_file_add(st, &f, &err) < 0) {
            cmd_error("cannot record %s: %s", o->file[i], err ? err : "?");
            goto undo;
        }
        char dest[4200], sha[65] = "";
        snprintf(dest, sizeof(dest), "%s/%s", dir, f.id);
        if (encrypt_file(fmode, key, o->fd[i], o->file[i], dest, sha) < 0)
            goto undo;
        /* the name, size and checksum, readable with the key only */
        const char *base = strrchr(o->file[i], '/');
        base = base ? base + 1 : o->file[i];
        struct buf meta, json;
        buf_init(&meta, SHARE_BLOB_MAX);
        buf_init(&json, 8192);
        buf_append_str(&json, "{\"name\": ");
        char shown[1024];
        str_printable(shown, sizeof(shown), base, strlen(base));
        for (char *p = shown; *p; p++) /* JSON-safe: no quote or backslash survives */
            if (*p == '"' || *p == '\\')
                *p = '_';
        buf_printf(&json, "\"%s\", \"size\": %llu, \"sha256\": \"%s\"}", shown, f.size, sha);
        int me = encrypt_small(fmode, key, json.data, json.len, &meta);
        buf_free(&json);
        if (me < 0) {
            buf_free(&meta);
            goto undo;
        }
        share_file_stored(st, t.id, f.id, f.expected);
        share_file_set_meta(st, t.id, f.id, (const unsigned char *)meta.data, meta.len);
        buf_free(&meta);
    }
    /* the notifications */
    for (size_t i = 0; i < o->n_to; i++) {
        struct buf m;
        buf_init(&m, BUF_UNLIMITED);
        notification(cfg, &t, &rcpts[i], o->mode == SHARE_PW_LINK ? link_key : NULL, o->n_file, &m);
        const char *to[1] = {rcpts[i].address};
        struct cmd_inject in = {.sender = t.sender,
                                .rcpts = to,
                                .n_rcpts = 1,
                                .domain = u.domain,
                                .msg = m.data,
                                .len = m.len,
                                .via = "share"};
        int ir = cmd_inject(cfg, db, &in, NULL);
        buf_free(&m);
        if (ir) {
            cmd_error("the notification to %s could not be queued", rcpts[i].address);
            goto undo;
        }
    }
    share_transfer_set_sent(st, t.id);
    struct share_access a = {.time = t.created, .completed = true};
    str_copy(a.transfer, sizeof(a.transfer), t.id);
    str_copy(a.recipient, sizeof(a.recipient), "");
    str_copy(a.client, sizeof(a.client), "command line");
    str_copy(a.event, sizeof(a.event), "sent");
    share_access_add(st, &a);
    char until[64];
    time_t ex = (time_t)t.expires;
    struct tm tm;
    gmtime_r(&ex, &tm);
    strftime(until, sizeof(until), "%Y-%m-%d %H:%M UTC", &tm);
    if (c->json) {
        printf("{\"id\": \"%s\", \"expires\": %lld, \"mode\": \"%s\"", t.id, t.expires,
               share_password_mode_name(t.mode));
        if (o->mode == SHARE_PW_GENERATED) {
            printf(", \"password\": ");
            cmd_json_string(stdout, password);
        }
        printf(", \"files\": %zu, \"recipients\": %zu}\n", o->n_file, o->n_to);
    } else {
        printf("transfer %s: %zu file%s to %zu recipient%s, until %s\n", t.id, o->n_file,
               o->n_file == 1 ? "" : "s", o->n_to, o->n_to == 1 ? "" : "s", until);
        if (o->mode == SHARE_PW_GENERATED)
            printf("password: %s\n(shown this once: give it to the recipients by another "
                   "channel)\n",
                   password);
        else if (o->mode == SHARE_PW_LINK)
            printf("the key travels in each recipient's link (convenient, and the weakest "
                   "protection)\n");
    }
    rc = 0;
    goto out;
undo:
    /* nothing half-sent stays: the files and the rows go */
    for (size_t i = 0; dir[0] && i < SHARE_FILES_MAX; i++) {
        struct share_file fs[SHARE_FILES_MAX];
        int n = share_files(st, t.id, fs, SHARE_FILES_MAX);
        for (int k = 0; k < n; k++) {
            char p[4200];
            snprintf(p, sizeof(p), "%s/%s", dir, fs[k].id);
            unlink(p);
            share_file_free(&fs[k]);
        }
        break;
    }
    if (dir[0])
        rmdir(dir);
    share_transfer_delete(st, t.id);
out:
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(password, sizeof(password));
    OPENSSL_cleanse(link_key, sizeof(link_key));
    buf_free(&msg);
    buf_free(&wk_text);
    free(err);
    share_store_close(&st);
    return rc;
}

/* --- list, show, revoke, log --- */

static const char *state_of(const struct share_transfer *t, long long now)
{
    return t->revoked ? "revoked" : t->expires < now ? "expired" : t->sent ? "active" : "unsent";
}

static void fmt_time(long long t, char *out, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, size, "%Y-%m-%d %H:%M", &tm);
}

struct list_ctx {
    struct cmd_list l;
    long long now;
};

static void list_one(const struct share_transfer *t, void *arg)
{
    struct list_ctx *x = arg;
    char created[32], expires[32];
    fmt_time(t->created, created, sizeof(created));
    fmt_time(t->expires, expires, sizeof(expires));
    if (cmd_list_item(&x->l)) {
        printf("{\"id\": \"%s\", \"sender\": ", t->id);
        cmd_json_string(stdout, t->sender);
        printf(", \"created\": %lld, \"expires\": %lld, \"mode\": \"%s\", \"state\": \"%s\"}",
               t->created, t->expires, share_password_mode_name(t->mode), state_of(t, x->now));
        return;
    }
    printf("%s  %s  until %s  %-9s %-8s %s\n", t->id, created, expires,
           share_password_mode_name(t->mode), state_of(t, x->now), t->sender);
}

static void log_one(const struct share_access *a, void *arg)
{
    struct list_ctx *x = arg;
    char when[32];
    fmt_time(a->time, when, sizeof(when));
    if (cmd_list_item(&x->l)) {
        printf("{\"time\": %lld, \"event\": \"%s\", \"recipient\": ", a->time, a->event);
        cmd_json_string(stdout, a->recipient);
        printf(", \"client\": ");
        cmd_json_string(stdout, a->client);
        printf(", \"file\": \"%s\", \"bytes\": %llu, \"completed\": %s}", a->file, a->bytes,
               a->completed ? "true" : "false");
        return;
    }
    printf("%s  %-15s %-30s %-15s %s%s%llu octets%s\n", when, a->event,
           a->recipient[0] ? a->recipient : "-", a->client, a->file[0] ? a->file : "",
           a->file[0] ? " " : "", a->bytes, a->completed ? "" : " (not completed)");
}

static int share_show(struct share_store *st, const char *id, bool json)
{
    struct share_transfer t;
    int g = share_transfer_get(st, id, &t);
    if (g <= 0) {
        cmd_error("%s: %s", id, g < 0 ? share_store_error(st) : "no such transfer");
        return 1;
    }
    struct share_recipient r[SHARE_RCPTS_MAX];
    int nr = share_recipients(st, id, r, SHARE_RCPTS_MAX);
    struct share_file f[SHARE_FILES_MAX];
    int nf = share_files(st, id, f, SHARE_FILES_MAX);
    long long now = (long long)time(NULL);
    char created[32], expires[32];
    fmt_time(t.created, created, sizeof(created));
    fmt_time(t.expires, expires, sizeof(expires));
    if (json) {
        printf("{\"id\": \"%s\", \"sender\": ", t.id);
        cmd_json_string(stdout, t.sender);
        printf(", \"created\": %lld, \"expires\": %lld, \"mode\": \"%s\", \"state\": \"%s\", "
               "\"recipients\": [",
               t.created, t.expires, share_password_mode_name(t.mode), state_of(&t, now));
        for (int i = 0; i < nr; i++) {
            printf("%s{\"address\": ", i ? ", " : "");
            cmd_json_string(stdout, r[i].address);
            printf(", \"failures\": %u, \"locked\": %s, \"first_download\": %lld}", r[i].failures,
                   r[i].locked ? "true" : "false", r[i].first_download);
        }
        printf("], \"files\": [");
        for (int i = 0; i < nf; i++)
            printf("%s{\"id\": \"%s\", \"size\": %llu, \"complete\": %s, \"scan\": \"%s\", "
                   "\"scan_detail\": \"%s\"}",
                   i ? ", " : "", f[i].id, f[i].size, f[i].complete ? "true" : "false",
                   share_scan_name(f[i].scan), f[i].scan_detail);
        printf("]}\n");
    } else {
        printf("transfer %s from %s\n  created %s, until %s, %s, password mode %s\n", t.id,
               t.sender, created, expires, state_of(&t, now), share_password_mode_name(t.mode));
        for (int i = 0; i < nr; i++) {
            char first[32] = "not yet";
            if (r[i].first_download)
                fmt_time(r[i].first_download, first, sizeof(first));
            printf("  to %s: downloaded %s%s, %u wrong password%s\n", r[i].address, first,
                   r[i].locked ? ", LOCKED" : "", r[i].failures, r[i].failures == 1 ? "" : "s");
        }
        for (int i = 0; i < nf; i++)
            printf("  file %s: %llu octets (name encrypted), %s, scan %s\n", f[i].id, f[i].size,
                   f[i].complete ? "complete" : "incomplete", share_scan_name(f[i].scan));
    }
    for (int i = 0; i < nf; i++)
        share_file_free(&f[i]);
    share_transfer_free(&t);
    return 0;
}

int cmd_share(int argc, char **argv)
{
    struct cmd_common c;
    struct send_opts o = {.mode = SHARE_PW_GENERATED};
    const char *list_from = NULL;
    int out = 1;
    bool bad = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--from") == 0 && v) {
            o.from = list_from = v;
        } else if (strcmp(a, "--to") == 0 && v) {
            if (o.n_to < SHARE_RCPTS_MAX)
                o.to[o.n_to++] = v;
            else
                bad = true;
        } else if (strcmp(a, "--file") == 0 && v) {
            if (o.n_file < SHARE_FILES_MAX)
                o.file[o.n_file++] = v;
            else
                bad = true;
        } else if (strcmp(a, "--message") == 0 && v) {
            o.message = v;
        } else if (strcmp(a, "--password-mode") == 0 && v) {
            int m = share_password_mode_parse(v);
            if (m < 0 || m == SHARE_PW_E2E)
                bad = true;
            else
                o.mode = (enum share_password_mode)m;
        } else if (strcmp(a, "--expires") == 0 && v) {
            char *end;
            o.expires_days = strtol(v, &end, 10);
            if (*end || o.expires_days < 1 || o.expires_days > EXPIRES_MAX)
                bad = true;
        } else {
            argv[out++] = argv[i];
            continue;
        }
        i++;
    }
    argc = cmd_parse_common(out, argv, &c, usage);
    if (argc <= 0)
        return argc < 0 ? 2 : 0;
    const char *sub = argc >= 2 ? argv[1] : "";
    bool needs_id =
        strcmp(sub, "show") == 0 || strcmp(sub, "revoke") == 0 || strcmp(sub, "log") == 0;
    bool unlock = strcmp(sub, "unlock") == 0;
    if (bad || (needs_id && argc != 3) || (unlock && argc != 4) ||
        (!needs_id && !unlock && argc != 2) ||
        (strcmp(sub, "send") == 0 && (!o.from || !o.n_to || !o.n_file))) {
        fputs(usage, stderr);
        return 2;
    }
    /* the files are read with the caller's rights: opened before the
     * state is opened (as root, that makes this the service user) */
    int rc = 0;
    for (size_t i = 0; i < o.n_file; i++) {
        o.fd[i] = open(o.file[i], O_RDONLY | O_CLOEXEC);
        if (o.fd[i] < 0) {
            cmd_error("%s: not a readable file: %s", o.file[i], strerror(errno));
            rc = 1;
        }
    }
    struct config *cfg = NULL;
    struct state_db *db = NULL;
    if (rc == 0 && cmd_open(&c, &cfg, &db) < 0)
        rc = 1;
    if (strcmp(sub, "send") == 0 || rc) {
        if (rc == 0)
            rc = cmd_close(&cfg, &db, NULL, share_send(cfg, db, &c, &o));
        for (size_t i = 0; i < o.n_file; i++)
            if (o.fd[i] >= 0)
                close(o.fd[i]);
        return rc;
    }
    char *err = NULL;
    struct share_store *st = share_store_open(cfg->data_dir, &err);
    if (!st)
        return cmd_close(&cfg, &db, err, 1);
    struct list_ctx x = {.now = (long long)time(NULL)};
    if (strcmp(sub, "list") == 0) {
        cmd_list_begin(&x.l, c.json);
        rc = share_transfer_list(st, list_from, list_one, &x) < 0 ? 1 : 0;
        cmd_list_end(&x.l);
    } else if (strcmp(sub, "show") == 0) {
        rc = share_show(st, argv[2], c.json);
    } else if (strcmp(sub, "revoke") == 0) {
        if (share_transfer_revoke(st, argv[2], x.now) < 0) {
            cmd_error("%s: no such transfer, or revoked already", argv[2]);
            rc = 1;
        } else {
            struct share_access a = {.time = x.now, .completed = true};
            str_copy(a.transfer, sizeof(a.transfer), argv[2]);
            str_copy(a.client, sizeof(a.client), "command line");
            str_copy(a.event, sizeof(a.event), "revoke");
            share_access_add(st, &a);
            printf("transfer %s revoked: nothing of it can be downloaded any more\n", argv[2]);
        }
    } else if (unlock) {
        struct share_recipient r[SHARE_RCPTS_MAX];
        int n = share_recipients(st, argv[2], r, SHARE_RCPTS_MAX);
        int k = -1;
        for (int i = 0; i < n; i++)
            if (str_eq_ci(r[i].address, argv[3]))
                k = i;
        if (k < 0 || share_recipient_unlock(st, r[k].token) < 0) {
            cmd_error("%s: no recipient %s", argv[2], argv[3]);
            rc = 1;
        } else {
            struct share_access a = {.time = x.now, .completed = true};
            str_copy(a.transfer, sizeof(a.transfer), argv[2]);
            str_copy(a.recipient, sizeof(a.recipient), r[k].address);
            str_copy(a.client, sizeof(a.client), "command line");
            str_copy(a.event, sizeof(a.event), "unlocked");
            share_access_add(st, &a);
            printf("%s may try the password of %s again\n", r[k].address, argv[2]);
        }
    } else if (strcmp(sub, "log") == 0) {
        /* the evidence outlives the transfer (expired, deleted) */
        cmd_list_begin(&x.l, c.json);
        int n = share_access_list(st, argv[2], log_one, &x);
        cmd_list_end(&x.l);
        if (n <= 0) {
            cmd_error("%s: no such transfer", argv[2]);
            rc = 1;
        }
    } else {
        fputs(usage, stderr);
        rc = 2;
    }
    share_store_close(&st);
    return cmd_close(&cfg, &db, NULL, rc);
}
