/* postino share: the share portal from the command line — send a
 * transfer (files encrypted at rest, recipients notified by mail), list,
 * show, revoke, and the evidence log of a transfer. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "lib/fd-write.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "policy/clamd.h"
#include "share/share-create.h"
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

#define EXPIRES_MAX 3650 /* days; share_expires_max sets the real bound */
#define READ_CHUNK  (256 * 1024)

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

struct fd_out {
    int fd;
};

static int write_fd(void *ctx, const unsigned char *data, size_t len)
{
    struct fd_out *o = ctx;
    return fd_write_all(o->fd, data, len);
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
    struct share_encrypt *e = share_header_init(&h, mode, SHARE_FILE_CHUNK, &err) == 0
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

static int share_send(struct config *cfg, struct state_db *db, const struct cmd_common *c,
                      const struct send_opts *o)
{
    struct state_user u;
    if (state_user_get(db, o->from, &u) != 1) {
        cmd_error("--from %s: not a user of this server (postino user list)", o->from);
        return 1;
    }
    char password[SHARE_PASSWORD_MAX + 1] = "";
    if (o->mode == SHARE_PW_MANUAL && cmd_read_password(c, password, sizeof(password)) < 0)
        return 1;
    char *err = NULL;
    struct share_store *st = share_store_open(cfg->data_dir, &err);
    if (!st) {
        cmd_error("%s", err);
        free(err);
        return 1;
    }
    struct share_new_file files[SHARE_FILES_MAX];
    memset(files, 0, sizeof(files));
    for (size_t i = 0; i < o->n_file; i++) {
        struct stat sb;
        if (fstat(o->fd[i], &sb) < 0 || !S_ISREG(sb.st_mode)) {
            cmd_error("%s: not a readable file", o->file[i]);
            share_store_close(&st);
            return 1;
        }
        const char *base = strrchr(o->file[i], '/');
        files[i].name = base ? base + 1 : o->file[i];
        files[i].size = (unsigned long long)sb.st_size;
    }
    struct share_new n = {.sender = o->from,
                          .rcpts = o->to,
                          .n_rcpts = o->n_to,
                          .message = o->message,
                          .message_len = o->message ? strlen(o->message) : 0,
                          .mode = o->mode,
                          .password = password,
                          .expires_days = o->expires_days,
                          .files = files,
                          .n_files = o->n_file};
    struct share_created *cr = calloc(1, sizeof(*cr));
    int status = 0;
    char why[512];
    if (!cr || share_create(cfg, st, &n, cr, &status, why, sizeof(why)) < 0) {
        cmd_error("%s", cr ? why : "out of memory");
        OPENSSL_cleanse(password, sizeof(password));
        free(cr);
        share_store_close(&st);
        return status == 400 || status == 413 ? 2 : 1;
    }
    OPENSSL_cleanse(password, sizeof(password));
    int rc = 1;
    const struct share_transfer *t = &cr->t;
    /* the files: scanned, encrypted into shares/ID/FILE-ID, described */
    for (size_t i = 0; i < o->n_file; i++) {
        struct share_file *f = &cr->files[i];
        if (scan_file(cfg, o->fd[i], (size_t)f->size, o->file[i], f) < 0)
            goto undo;
        share_file_scanned(st, t->id, f->id, f->scan, f->scan_detail);
        char dest[4200], sha[65] = "";
        share_file_path(cfg->data_dir, t->id, f->id, dest, sizeof(dest));
        if (encrypt_file(share_file_mode(o->mode), cr->key, o->fd[i], o->file[i], dest, sha) < 0)
            goto undo;
        if (share_file_stored(st, t->id, f->id, f->expected) < 0 ||
            share_create_describe(st, o->mode, cr->key, t->id, f->id, files[i].name, NULL, f->size,
                                  sha) < 0) {
            cmd_error("%s: cannot record it: %s", o->file[i], share_store_error(st));
            goto undo;
        }
    }
    /* the notifications */
    for (size_t i = 0; i < o->n_to; i++) {
        struct buf m;
        buf_init(&m, BUF_UNLIMITED);
        share_notification(cfg, t, &cr->rcpts[i], o->mode == SHARE_PW_LINK ? cr->link_key : NULL,
                           o->n_file, &m);
        const char *to[1] = {cr->rcpts[i].address};
        struct cmd_inject in = {.sender = t->sender,
                                .rcpts = to,
                                .n_rcpts = 1,
                                .domain = u.domain,
                                .msg = m.data,
                                .len = m.len,
                                .via = "share"};
        int ir = cmd_inject(cfg, db, &in, NULL);
        buf_free(&m);
        if (ir) {
            cmd_error("the notification to %s could not be queued", cr->rcpts[i].address);
            goto undo;
        }
    }
    share_transfer_set_sent(st, t->id);
    struct share_access a = {.time = t->created, .completed = true};
    str_copy(a.transfer, sizeof(a.transfer), t->id);
    str_copy(a.client, sizeof(a.client), "command line");
    str_copy(a.event, sizeof(a.event), "sent");
    share_access_add(st, &a);
    char until[64];
    time_t ex = (time_t)t->expires;
    struct tm tm;
    gmtime_r(&ex, &tm);
    strftime(until, sizeof(until), "%Y-%m-%d %H:%M UTC", &tm);
    if (c->json) {
        printf("{\"id\": \"%s\", \"expires\": %lld, \"mode\": \"%s\"", t->id, t->expires,
               share_password_mode_name(t->mode));
        if (o->mode == SHARE_PW_GENERATED) {
            printf(", \"password\": ");
            cmd_json_string(stdout, cr->password);
        }
        printf(", \"files\": %zu, \"recipients\": %zu}\n", o->n_file, o->n_to);
    } else {
        printf("transfer %s: %zu file%s to %zu recipient%s, until %s\n", t->id, o->n_file,
               o->n_file == 1 ? "" : "s", o->n_to, o->n_to == 1 ? "" : "s", until);
        if (o->mode == SHARE_PW_GENERATED)
            printf("password: %s\n(shown this once: give it to the recipients by another "
                   "channel)\n",
                   cr->password);
        else if (o->mode == SHARE_PW_LINK)
            printf("the key travels in each recipient's link (convenient, and the weakest "
                   "protection)\n");
    }
    rc = 0;
    goto out;
undo:
    /* nothing half-sent stays: the files and the rows go */
    share_discard(cfg->data_dir, st, t->id);
out:
    share_created_wipe(cr);
    free(cr);
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
