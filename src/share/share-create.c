/* share-create: making a transfer (see the header). */
#include "share/share-create.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "lib/json.h"
#include "lib/str.h"
#include "share/share-blob.h"
#include "share/share-policy.h"
#include "smtp/smtp-address.h"

#define GENERATED_GROUPS 5

void share_password_generate(char out[SHARE_GENERATED_LEN])
{
    static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    unsigned char r[GENERATED_GROUPS * 5];
    if (RAND_bytes(r, sizeof(r)) != 1)
        abort(); /* no random numbers: nothing secret can be made */
    size_t o = 0;
    for (size_t i = 0; i < sizeof(r); i++) {
        if (i && i % 5 == 0)
            out[o++] = '-';
        /* 56 letters: the bias of % over 256 is a fraction of a bit */
        out[o++] = alphabet[r[i] % (sizeof(alphabet) - 1)];
    }
    out[o] = '\0';
    OPENSSL_cleanse(r, sizeof(r));
}

enum share_mode share_file_mode(enum share_password_mode m)
{
    return m == SHARE_PW_LINK  ? SHARE_MODE_LINK
           : m == SHARE_PW_E2E ? SHARE_MODE_E2E
                               : SHARE_MODE_PASSWORD;
}

int share_file_path(const char *data_dir, const char *transfer, const char *file, char *out,
                    size_t size)
{
    int n = file ? snprintf(out, size, "%s/shares/%s/%s", data_dir, transfer, file)
                 : snprintf(out, size, "%s/shares/%s", data_dir, transfer);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

void share_discard(const char *data_dir, struct share_store *st, const char *transfer)
{
    struct share_file *fs = calloc(SHARE_FILES_MAX, sizeof(*fs));
    int n = fs ? share_files(st, transfer, fs, SHARE_FILES_MAX) : 0;
    char p[4200];
    for (int k = 0; k < n; k++) {
        if (share_file_path(data_dir, transfer, fs[k].id, p, sizeof(p)) == 0)
            unlink(p);
        share_file_free(&fs[k]);
    }
    free(fs);
    if (share_file_path(data_dir, transfer, NULL, p, sizeof(p)) == 0)
        rmdir(p);
    share_transfer_delete(st, transfer);
}

static int fail(int *status_r, int status, char *why, size_t why_size, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(int *status_r, int status, char *why, size_t why_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(why, why_size, fmt, ap) < 0 && why_size)
        why[0] = '\0';
    va_end(ap);
    *status_r = status;
    return -1;
}

/* The days a transfer stays: asked for, or the default within the limit. */
static long share_days(const struct config *cfg, const struct share_new *n,
                       const struct share_limits *lim)
{
    if (n->expires_days)
        return n->expires_days;
    long d = (long)cfg->share_expires_default;
    return d > lim->expires_max ? lim->expires_max : d;
}

/* The sender against share_domain_policy (a reply is always allowed, in
 * the global limits): 0 and *lim, or -1 with the status and why. */
static int sender_limits(const struct config *cfg, const struct share_new *n,
                         struct share_limits *lim, int *status_r, char *why, size_t why_size)
{
    struct share_policy pol;
    char *err = NULL;
    const char *text = cfg->share_domain_policy ? cfg->share_domain_policy : "";
    if (share_policy_parse(text, strlen(text), &pol, &err) < 0) {
        fail(status_r, 500, why, why_size, "%s", err);
        free(err);
        return -1;
    }
    share_policy_limits(&pol, cfg, n->sender, n->external || n->parent, lim);
    int rc = 0;
    if (!lim->may_send) {
        rc = fail(status_r, 403, why, why_size,
                  "the policy of your domain does not let you send transfers");
    } else if (!(lim->modes & (1u << n->mode))) {
        rc = fail(status_r, 400, why, why_size, "the policy of your domain does not allow %s mode",
                  share_password_mode_name(n->mode));
    } else if (n->external && !n->parent) {
        for (size_t i = 0; i < n->n_rcpts && rc == 0; i++) {
            const char *at = strrchr(n->rcpts[i], '@');
            if (!at || !share_policy_external_ok(&pol, cfg, at + 1))
                rc = fail(status_r, 403, why, why_size,
                          "%s does not take transfers from outside senders", n->rcpts[i]);
        }
    }
    share_policy_free(&pol);
    return rc;
}

/* The request against the policy: 0, or -1 with the status and why. */
static int check(const struct config *cfg, struct share_store *st, const struct share_new *n,
                 long *days_r, int *status_r, char *why, size_t why_size)
{
    struct share_limits lim;
    if (sender_limits(cfg, n, &lim, status_r, why, why_size) < 0)
        return -1;
    if (n->n_rcpts == 0 || n->n_rcpts > SHARE_RCPTS_MAX)
        return fail(status_r, 400, why, why_size, "between 1 and %d recipients, please",
                    SHARE_RCPTS_MAX);
    for (size_t i = 0; i < n->n_rcpts; i++) {
        struct smtp_path p;
        const char *a = n->rcpts[i];
        if (!a || smtp_mailbox_parse(a, strlen(a), &p) != SMTP_PATH_OK || !p.domain[0] ||
            strlen(a) > SHARE_ADDRESS_MAX) {
            char shown[120];
            str_printable(shown, sizeof(shown), a ? a : "", a ? strlen(a) : 0);
            return fail(status_r, 400, why, why_size, "%s is not a valid address", shown);
        }
    }
    if (n->n_files > SHARE_FILES_MAX || (n->n_files == 0 && !n->parent))
        return fail(status_r, 400, why, why_size, "between 1 and %d files, please",
                    SHARE_FILES_MAX);
    if (n->message_len > (n->mode == SHARE_PW_E2E ? SHARE_BLOB_MAX : SHARE_MESSAGE_MAX))
        return fail(status_r, 413, why, why_size, "the message is too long (at most %d octets)",
                    SHARE_MESSAGE_MAX);
    unsigned long long total = 0;
    for (size_t i = 0; i < n->n_files; i++) {
        const struct share_new_file *f = &n->files[i];
        if (n->mode == SHARE_PW_E2E) {
            uint64_t plain;
            if (!f->meta || f->meta_len == 0 || f->meta_len > SHARE_BLOB_MAX ||
                share_crypt_plaintext_len(f->size, SHARE_FILE_CHUNK, &plain) < 0)
                return fail(status_r, 400, why, why_size,
                            "file %zu: an end-to-end file needs its sealed description and a "
                            "ciphertext size the format allows (chunks of %u octets)",
                            i + 1, SHARE_FILE_CHUNK);
        } else if (!f->name || !f->name[0] || strlen(f->name) > SHARE_NAME_MAX ||
                   strchr(f->name, '/') || (f->type && strlen(f->type) > SHARE_TYPE_MAX)) {
            return fail(status_r, 400, why, why_size,
                        "file %zu: a name of 1 to %d octets without '/', please", i + 1,
                        SHARE_NAME_MAX);
        }
        if (f->size > lim.max_size - total)
            return fail(status_r, 413, why, why_size,
                        "the files together may hold at most %llu octets", lim.max_size);
        total += f->size;
    }
    long days = *days_r = share_days(cfg, n, &lim);
    if (days < 1 || days > lim.expires_max)
        return fail(status_r, 400, why, why_size,
                    "a transfer stays at least 1 day and at most %ld days (share_expires_max)",
                    lim.expires_max);
    if (n->mode == SHARE_PW_MANUAL && !n->parent &&
        (!n->password || strlen(n->password) < SHARE_PASSWORD_MIN ||
         strlen(n->password) > SHARE_PASSWORD_MAX))
        return fail(status_r, 400, why, why_size,
                    "the password needs at least %d characters (at most %d)", SHARE_PASSWORD_MIN,
                    SHARE_PASSWORD_MAX);
    /* room: the quota, and the disk itself */
    unsigned long long used = 0, transfers = 0;
    if (share_store_usage(st, &used, NULL, &transfers) < 0)
        return fail(status_r, 500, why, why_size, "the store cannot be read");
    if (total > (unsigned long long)cfg->share_quota ||
        used > (unsigned long long)cfg->share_quota - total)
        return fail(status_r, 413, why, why_size,
                    "the portal's storage is full (share_quota: %llu of %lld octets used); try "
                    "again later or send less",
                    used, cfg->share_quota);
    struct statvfs vfs;
    char top[4096];
    config_data_path(cfg, "shares", top, sizeof(top));
    if (statvfs(top, &vfs) == 0 &&
        (unsigned long long)vfs.f_bavail * vfs.f_frsize < total + SHARE_DISK_RESERVE)
        return fail(status_r, 413, why, why_size, "the server's disk has no room for this");
    return 0;
}

int share_create_describe(struct share_store *st, enum share_password_mode mode,
                          const unsigned char key[SHARE_KEY_LEN], const char *transfer,
                          const char *file, const char *name, const char *type,
                          unsigned long long size, const char *sha256_hex)
{
    struct buf json, meta;
    buf_init(&json, SHARE_BLOB_MAX / 2);
    buf_init(&meta, SHARE_BLOB_MAX);
    char shown[SHARE_NAME_MAX * 4 + 1];
    str_printable(shown, sizeof(shown), name, strlen(name));
    buf_append_str(&json, "{\"name\": ");
    json_append_string(&json, shown);
    buf_append_str(&json, ", \"type\": ");
    json_append_string(&json, type && type[0] ? type : "application/octet-stream");
    buf_printf(&json, ", \"size\": %llu, \"sha256\": \"%s\"}", size, sha256_hex);
    int rc = share_blob_seal(share_file_mode(mode), key, json.data, json.len, &meta) == 0 &&
                     share_file_set_meta(st, transfer, file, (const unsigned char *)meta.data,
                                         meta.len) == 0
                 ? 0
                 : -1;
    buf_free(&json);
    buf_free(&meta);
    return rc;
}

int share_create(const struct config *cfg, struct share_store *st, const struct share_new *n,
                 struct share_created *c, int *status_r, char *why, size_t why_size)
{
    memset(c, 0, sizeof(*c));
    long days = 0;
    if (check(cfg, st, n, &days, status_r, why, why_size) < 0)
        return -1;
    const char *err = NULL;
    char *serr = NULL;
    struct share_transfer *t = &c->t;
    t->mode = n->mode;
    t->created = (long long)time(NULL);
    t->expires = t->created + days * 86400LL;
    t->max_failures = (unsigned)cfg->share_max_failures;
    t->sender_verified_external = n->external;
    str_copy(t->sender, sizeof(t->sender), n->sender);
    if (n->parent)
        str_copy(t->parent, sizeof(t->parent), n->parent);
    share_new_id(t->id);
    struct buf msg, wk_text;
    buf_init(&msg, SHARE_BLOB_MAX);
    buf_init(&wk_text, SHARE_BLOB_MAX);
    /* the key, and how it is kept */
    if (n->mode == SHARE_PW_E2E) {
        /* the browser has it; the server never does */
    } else if (n->parent) {
        memcpy(c->key, n->parent_key, SHARE_KEY_LEN);
        if (n->parent_wrapped_len)
            buf_append(&wk_text, n->parent_wrapped, n->parent_wrapped_len);
    } else if (share_key_generate(c->key, &err) < 0) {
        fail(status_r, 500, why, why_size, "no key can be made: %s", err);
        goto bad;
    }
    if (n->mode == SHARE_PW_GENERATED)
        share_password_generate(c->password);
    if (!n->parent && (n->mode == SHARE_PW_GENERATED || n->mode == SHARE_PW_MANUAL)) {
        const char *pw = n->mode == SHARE_PW_GENERATED ? c->password : n->password;
        struct share_kdf_params kdf = {.time = (unsigned)cfg->password_argon2_time,
                                       .memory_kib = (unsigned)(cfg->password_argon2_memory / 1024),
                                       .parallelism = (unsigned)cfg->password_argon2_parallelism};
        struct share_wrapped_key wk;
        char text[SHARE_WRAPPED_KEY_TEXT_MAX];
        if (share_key_wrap(c->key, pw, strlen(pw), t->id, &kdf, &wk, &err) < 0) {
            fail(status_r, 500, why, why_size, "the key cannot be protected: %s", err);
            goto bad;
        }
        buf_append(&wk_text, text, share_wrapped_key_format(&wk, text));
    }
    if (wk_text.len) {
        t->wrapped_key = (unsigned char *)wk_text.data;
        t->wrapped_key_len = wk_text.len;
    }
    if (n->mode != SHARE_PW_E2E)
        share_key_to_link(c->key, c->link_key);
    /* the message: sealed here, or by the browser */
    if (n->message && n->message_len) {
        if (n->mode == SHARE_PW_E2E)
            buf_append(&msg, n->message, n->message_len);
        else if (share_blob_seal(share_file_mode(n->mode), c->key, n->message, n->message_len,
                                 &msg) < 0) {
            fail(status_r, 500, why, why_size, "the message cannot be encrypted");
            goto bad;
        }
        t->message = (unsigned char *)msg.data;
        t->message_len = msg.len;
    }
    c->n_rcpts = n->n_rcpts;
    for (size_t i = 0; i < n->n_rcpts; i++)
        str_copy(c->rcpts[i].address, sizeof(c->rcpts[i].address), n->rcpts[i]);
    if (share_transfer_add(st, t, c->rcpts, n->n_rcpts, &serr) < 0) {
        fail(status_r, 500, why, why_size, "the transfer cannot be recorded: %s",
             serr ? serr : "?");
        goto bad;
    }
    /* its directory, and a row per file */
    char top[4096];
    config_data_path(cfg, "shares", top, sizeof(top));
    if ((mkdir(top, 0750) < 0 && errno != EEXIST) ||
        share_file_path(cfg->data_dir, t->id, NULL, c->dir, sizeof(c->dir)) < 0 ||
        mkdir(c->dir, 0750) < 0) {
        fail(status_r, 500, why, why_size, "the transfer's directory cannot be made: %s",
             strerror(errno));
        share_transfer_delete(st, t->id);
        goto bad;
    }
    for (size_t i = 0; i < n->n_files; i++) {
        struct share_file *f = &c->files[i];
        f->size = n->files[i].size;
        uint64_t expected = f->size;
        if (n->mode != SHARE_PW_E2E)
            share_crypt_ciphertext_len(f->size, SHARE_FILE_CHUNK, &expected);
        f->expected = expected;
        f->scan = n->mode == SHARE_PW_E2E ? SHARE_SCAN_NONE : SHARE_SCAN_PENDING;
        str_copy(f->transfer, sizeof(f->transfer), t->id);
        if (share_file_add(st, f, &serr) < 0 ||
            (n->mode == SHARE_PW_E2E &&
             (share_file_set_meta(st, t->id, f->id, n->files[i].meta, n->files[i].meta_len) < 0 ||
              share_file_scanned(st, t->id, f->id, SHARE_SCAN_NONE,
                                 "not scanned: end-to-end encrypted") < 0))) {
            fail(status_r, 500, why, why_size, "file %zu cannot be recorded: %s", i + 1,
                 serr ? serr : share_store_error(st));
            c->n_files = i + 1;
            share_discard(cfg->data_dir, st, t->id);
            goto bad;
        }
        c->n_files = i + 1;
    }
    /* the rows own nothing of ours: no blob pointers leave */
    t->wrapped_key = NULL;
    t->wrapped_key_len = 0;
    t->message = NULL;
    t->message_len = 0;
    buf_free(&msg);
    buf_free(&wk_text);
    return 0;
bad:
    free(serr);
    buf_free(&msg);
    buf_free(&wk_text);
    share_created_wipe(c);
    return -1;
}

void share_created_wipe(struct share_created *c)
{
    OPENSSL_cleanse(c->key, sizeof(c->key));
    OPENSSL_cleanse(c->link_key, sizeof(c->link_key));
    OPENSSL_cleanse(c->password, sizeof(c->password));
}

void share_portal_url(const struct config *cfg, char *out, size_t size)
{
    if (cfg->share_url && cfg->share_url[0])
        str_copy(out, size, cfg->share_url);
    else if (snprintf(out, size, "https://%s", cfg->hostname) >= (int)size)
        out[0] = '\0';
    size_t n = strlen(out);
    if (n && out[n - 1] == '/')
        out[n - 1] = '\0';
}

void share_notification(const struct config *cfg, const struct share_transfer *t,
                        const struct share_recipient *r, const char *link_key, size_t n_files,
                        struct buf *m)
{
    char url[1024], until[64];
    share_portal_url(cfg, url, sizeof(url));
    time_t ex = (time_t)t->expires;
    struct tm tm;
    gmtime_r(&ex, &tm);
    strftime(until, sizeof(until), "%Y-%m-%d %H:%M UTC", &tm);
    bool reply = t->parent[0] != '\0';
    buf_printf(m, "From: <%s>\r\nTo: <%s>\r\n", t->sender, r->address);
    if (reply)
        buf_printf(m, "Subject: A secure reply from %s\r\n", t->sender);
    else
        buf_printf(m, "Subject: Files shared with you by %s\r\n", t->sender);
    buf_printf(m, "Auto-Submitted: auto-generated\r\nX-Postino-Share: %s\r\n", t->id);
    buf_printf(m, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    if (reply)
        buf_printf(m,
                   "%s has answered your transfer %s with a message and %zu file%s through "
                   "%s's secure file transfer.\r\n\r\n",
                   t->sender, t->parent, n_files, n_files == 1 ? "" : "s", cfg->hostname);
    else
        buf_printf(m,
                   "%s has shared %zu file%s with you through %s's secure file "
                   "transfer.\r\n\r\n",
                   t->sender, n_files, n_files == 1 ? "" : "s", cfg->hostname);
    buf_printf(m, "Open %s here (the link is yours alone):\r\n\r\n  %s/t/%s%s%s\r\n\r\n",
               reply ? "the reply" : "them", url, r->token, link_key ? "#k=" : "",
               link_key ? link_key : "");
    if (t->mode == SHARE_PW_GENERATED || t->mode == SHARE_PW_MANUAL) {
        if (reply)
            buf_printf(m, "It opens with the password of your transfer %s.", t->parent);
        else
            buf_printf(m,
                       "You need the password, which %s gives you by another channel (phone,\r\n"
                       "text message).",
                       t->sender);
        buf_printf(m, " After %u wrong passwords the transfer is locked.\r\n\r\n", t->max_failures);
    } else if (t->mode == SHARE_PW_E2E) {
        buf_printf(m,
                   "The files are encrypted end to end: you need the key, which %s gives you\r\n"
                   "by another channel (this server has never had it).\r\n\r\n",
                   t->sender);
    }
    buf_printf(m, "The files can be downloaded until %s.\r\n", until);
}
