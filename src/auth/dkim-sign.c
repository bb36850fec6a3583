#include "dkim-sign.h"

#include <inttypes.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "auth/dkim-canon.h"
#include "auth/dkim-message.h"
#include "auth/dkim-signature.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* The longest line of the field produced (RFC 5322 recommends 78). */
#define SIGN_LINE_MAX 78

/* The header fields signed when present: RFC 6376 5.4.1, plus Message-ID,
 * MIME-Version and the Content-* fields. From comes first and is
 * oversigned. */
static const char *const sign_names[] = {
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "To",
    "Cc",
    "Resent-Date",
    "Resent-From",
    "Resent-To",
    "Resent-Cc",
    "In-Reply-To",
    "References",
    "List-Id",
    "List-Help",
    "List-Unsubscribe",
    "List-Subscribe",
    "List-Post",
    "List-Owner",
    "List-Archive",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
};

struct dkim_sign {
    char *domain, *selector, *identity;
    EVP_PKEY *key;
    bool ed25519;
    time_t now;
    uint64_t expire;
    struct dkim_message msg;
    struct dkim_body_hash body;
    bool body_active;
    bool broken;
};

struct dkim_sign *dkim_sign_new(const struct dkim_sign_params *p, const char **error_r)
{
    int id = p->key ? EVP_PKEY_get_base_id(p->key) : 0;
    bool ed = id == EVP_PKEY_ED25519;
    if (!ed && !(id == EVP_PKEY_RSA && EVP_PKEY_get_bits(p->key) >= 1024)) {
        *error_r = "the key is neither RSA of 1024 bits or more nor Ed25519";
        return NULL;
    }
    if (!p->domain || !p->selector || !dkim_name_ok(p->domain) || !dkim_name_ok(p->selector) ||
        strlen(p->domain) > 253 || strlen(p->selector) > 253) {
        *error_r = "bad signing domain or selector";
        return NULL;
    }
    if (p->identity) {
        size_t n = strlen(p->identity);
        if (n == 0 || n > 255) {
            *error_r = "bad signing identity";
            return NULL;
        }
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)p->identity[i];
            if (c <= 0x20 || c >= 0x7f || c == ';') {
                *error_r = "bad signing identity";
                return NULL;
            }
        }
        /* its domain must be d= or below it (RFC 6376 3.5, i=) */
        const char *at = strrchr(p->identity, '@');
        size_t il = at ? strlen(at + 1) : 0, dl = strlen(p->domain);
        if (!at || il < dl || !str_eq_ci(at + 1 + il - dl, p->domain) ||
            (il > dl && at[il - dl] != '.')) {
            *error_r = "the signing identity is not within the domain";
            return NULL;
        }
    }
    struct dkim_sign *s = xcalloc(1, sizeof(*s));
    if (dkim_body_hash_init(&s->body, DKIM_CANON_RELAXED, DKIM_BODY_UNLIMITED) < 0) {
        free(s);
        *error_r = "OpenSSL failure";
        return NULL;
    }
    s->body_active = true;
    s->domain = xstrdup(p->domain);
    str_lower(s->domain);
    s->selector = xstrdup(p->selector);
    s->identity = p->identity ? xstrdup(p->identity) : NULL;
    s->key = p->key;
    s->ed25519 = ed;
    s->now = p->now;
    s->expire = p->expire;
    dkim_message_init(&s->msg);
    return s;
}

void dkim_sign_free(struct dkim_sign **sp)
{
    struct dkim_sign *s = *sp;
    if (!s)
        return;
    if (s->body_active)
        dkim_body_hash_free(&s->body);
    dkim_message_free(&s->msg);
    free(s->domain);
    free(s->selector);
    free(s->identity);
    free(s);
    *sp = NULL;
}

int dkim_sign_feed(struct dkim_sign *s, const void *data, size_t n)
{
    if (s->broken)
        return -1;
    const char *body;
    size_t body_len;
    if (dkim_message_feed(&s->msg, data, n, &body, &body_len) < 0) {
        s->broken = true;
        return -1;
    }
    if (body_len > 0)
        dkim_body_hash_update(&s->body, body, body_len);
    return 0;
}

/* The field being written, and the length of its current line. */
struct folder {
    struct buf *b;
    size_t line;
};

/* Append a word, folding first if it would not fit on the line; sep is
 * put before the word when it stays on the same line. */
static void fold_word(struct folder *f, const char *word, size_t n, const char *sep)
{
    size_t seplen = strlen(sep);
    if (f->line + seplen + n > SIGN_LINE_MAX && f->line > 1) {
        buf_append(f->b, "\r\n ", 3);
        f->line = 1;
    } else {
        buf_append(f->b, sep, seplen);
        f->line += seplen;
    }
    buf_append(f->b, word, n);
    f->line += n;
}

/* The tag "name=value;" as one word. */
static void fold_tag(struct folder *f, const char *name, const char *value)
{
    struct buf w;
    buf_init(&w, BUF_UNLIMITED);
    buf_printf(&w, "%s=%s;", name, value);
    fold_word(f, w.data, w.len, " ");
    buf_free(&w);
}

/* Sign the 32-byte header hash with the key. Returns the signature length
 * written to sig (room for siglen), or 0 on failure. */
static size_t sign_digest(struct dkim_sign *s, const unsigned char digest[32], unsigned char *sig,
                          size_t siglen)
{
    size_t len = siglen;
    int ok = 0;
    if (s->ed25519) {
        /* RFC 8463: Ed25519 (pure) over the SHA-256 of the data. */
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, s->key) == 1 &&
             EVP_DigestSign(md, sig, &len, digest, 32) == 1;
        EVP_MD_CTX_free(md);
    } else {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(s->key, NULL);
        ok = ctx && EVP_PKEY_sign_init(ctx) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
             EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
             EVP_PKEY_sign(ctx, sig, &len, digest, 32) == 1;
        EVP_PKEY_CTX_free(ctx);
    }
    ERR_clear_error();
    return ok ? len : 0;
}

int dkim_sign_finish(struct dkim_sign *s, struct buf *out, const char **error_r)
{
    if (s->broken || !s->body_active || dkim_message_end_header(&s->msg) < 0) {
        *error_r = s->body_active ? "header section too big" : "signer already finished";
        return -1;
    }
    unsigned char bh[32];
    uint64_t total;
    s->body_active = false;
    if (dkim_body_hash_final(&s->body, bh, &total) < 0) {
        *error_r = "OpenSSL failure";
        return -1;
    }
    /* h=: each recommended field as often as it occurs, From once more. */
    size_t nsign = sizeof(sign_names) / sizeof(sign_names[0]);
    struct dkim_name *names = xcalloc(s->msg.field_count + 2, sizeof(*names));
    size_t count = 0;
    for (size_t k = 0; k < nsign; k++) {
        size_t len = strlen(sign_names[k]), occurs = 0;
        for (size_t i = 0; i < s->msg.field_count; i++) {
            if (dkim_field_is(&s->msg.fields[i], sign_names[k], len))
                occurs++;
        }
        if (k == 0 && occurs == 0) {
            free(names);
            *error_r = "the message has no From field";
            return -1;
        }
        for (size_t j = 0; j < occurs + (k == 0 ? 1 : 0); j++) {
            names[count].p = sign_names[k];
            names[count].n = len;
            count++;
        }
    }

    struct buf field;
    buf_init(&field, BUF_UNLIMITED);
    struct folder f = {&field, 0};
    buf_append_str(&field, "DKIM-Signature:");
    f.line = field.len;
    fold_tag(&f, "v", "1");
    fold_tag(&f, "a", s->ed25519 ? "ed25519-sha256" : "rsa-sha256");
    fold_tag(&f, "c", "relaxed/relaxed");
    fold_tag(&f, "d", s->domain);
    fold_tag(&f, "s", s->selector);
    if (s->identity)
        fold_tag(&f, "i", s->identity);
    char num[32];
    if (s->now >= 0) {
        snprintf(num, sizeof(num), "%" PRIu64, (uint64_t)s->now);
        fold_tag(&f, "t", num);
        if (s->expire > 0) {
            snprintf(num, sizeof(num), "%" PRIu64, (uint64_t)s->now + s->expire);
            fold_tag(&f, "x", num);
        }
    }
    /* h= folded between names */
    for (size_t k = 0; k < count; k++) {
        struct buf w;
        buf_init(&w, BUF_UNLIMITED);
        buf_printf(&w, "%s%.*s%s", k == 0 ? "h=" : "", (int)names[k].n, names[k].p,
                   k + 1 == count ? ";" : ":");
        fold_word(&f, w.data, w.len, k == 0 ? " " : "");
        buf_free(&w);
    }
    char b64[4 * (DKIM_SIG_B_MAX / 3 + 2) + 1];
    EVP_EncodeBlock((unsigned char *)b64, bh, 32);
    fold_tag(&f, "bh", b64);
    fold_word(&f, "b=", 2, " ");

    unsigned char digest[32], sig[DKIM_SIG_B_MAX];
    size_t siglen = 0;
    if (dkim_message_header_hash(&s->msg, DKIM_CANON_RELAXED, names, count, field.data, field.len,
                                 digest) == 0)
        siglen = sign_digest(s, digest, sig, sizeof(sig));
    free(names);
    if (siglen == 0) {
        buf_free(&field);
        *error_r = "signing failed (OpenSSL)";
        return -1;
    }
    int n = EVP_EncodeBlock((unsigned char *)b64, sig, (int)siglen);
    /* b= folded anywhere: fill each line */
    for (size_t i = 0; i < (size_t)n;) {
        size_t room = f.line < SIGN_LINE_MAX ? SIGN_LINE_MAX - f.line : 0;
        if (room == 0) {
            buf_append(&field, "\r\n ", 3);
            f.line = 1;
            continue;
        }
        size_t take = (size_t)n - i < room ? (size_t)n - i : room;
        buf_append(&field, b64 + i, take);
        f.line += take;
        i += take;
    }
    buf_append(&field, "\r\n", 2);
    int r = buf_append(out, field.data, field.len);
    buf_free(&field);
    if (r < 0) {
        *error_r = "output buffer full";
        return -1;
    }
    return 0;
}

int dkim_sign_message(const struct dkim_sign_params *params, const void *msg, size_t len,
                      struct buf *out, const char **error_r)
{
    struct dkim_sign *s = dkim_sign_new(params, error_r);
    if (!s)
        return -1;
    int r = -1;
    if (dkim_sign_feed(s, msg, len) < 0)
        *error_r = "header section too big";
    else
        r = dkim_sign_finish(s, out, error_r);
    dkim_sign_free(&s);
    return r;
}
