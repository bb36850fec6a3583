/* httpd-verify: outside senders (no account here) prove that they own an
 * address before sending a transfer to this server's users — Cryptshare's
 * "sender verification". Off unless share_external_senders (or a domain's
 * external=yes in share_domain_policy) turns it on.
 *
 *   POST /api/verify        {"address"}           a code is mailed to it
 *   POST /api/verify/code   {"address", "code"}   the code: a session
 *
 * A code has CODE_DIGITS digits, lives CODE_SECS, and dies after
 * CODE_TRIES wrong guesses; an address gets a new one at most every
 * RESEND_SECS. Codes live in this process's memory only, hashed. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
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
#include "share/share-policy.h"
#include "smtp/smtp-address.h"
#include "state/state-domain.h"

#define PENDING_MAX 256
#define CODE_DIGITS 8
#define CODE_SECS   (15 * 60)
#define CODE_TRIES  5
#define RESEND_SECS 60

struct pending {
    char address[SHARE_ADDRESS_MAX + 1];
    unsigned char hash[32]; /* SHA-256 of the code */
    long long sent, until;
    unsigned tries;
};

static struct pending pending[PENDING_MAX];

static void sha256(const char *s, unsigned char out[32])
{
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), out, &n, EVP_sha256(), NULL);
}

/* The address of the request: JSON or a form. 0, or -1 after answering. */
static int field(struct http_session *s, const char *name, char *out, size_t size)
{
    const char *body = s->body.data ? s->body.data : "";
    struct json_value *doc = body[0] == '{' ? json_parse(body, s->body.len, NULL) : NULL;
    const char *v = doc ? json_string(json_get(doc, name), NULL) : NULL;
    struct buf b;
    buf_init(&b, size);
    if (!v && !doc && http_query_get(body, s->body.len, name, &b) == 1)
        v = buf_cstr(&b);
    int rc = v && strlen(v) < size ? 0 : -1;
    if (rc == 0)
        str_copy(out, size, v);
    buf_free(&b);
    json_free(&doc);
    return rc;
}

static bool external_on(void)
{
    struct share_policy pol;
    const char *t = httpd_cfg->share_domain_policy ? httpd_cfg->share_domain_policy : "";
    if (share_policy_parse(t, strlen(t), &pol, NULL) < 0)
        return false;
    bool on = share_policy_external_any(&pol, httpd_cfg);
    share_policy_free(&pol);
    return on;
}

void httpd_verify_start(struct http_session *s)
{
    char address[SHARE_ADDRESS_MAX + 1];
    struct smtp_path p;
    if (!external_on()) {
        httpd_respond_error(s, 403, "this portal takes no transfers from outside senders");
        return;
    }
    if (field(s, "address", address, sizeof(address)) < 0 ||
        smtp_mailbox_parse(address, strlen(address), &p) != SMTP_PATH_OK || !p.domain[0]) {
        httpd_respond_error(s, 400, "address: your e-mail address");
        return;
    }
    if (httpd_state && state_domain_exists(httpd_state, p.domain) == 1) {
        httpd_respond_error(s, 403, "users of this server log in with their password");
        return;
    }
    long long now = (long long)time(NULL);
    struct pending *slot = NULL;
    for (size_t i = 0; i < PENDING_MAX; i++) {
        if (strcasecmp(pending[i].address, address) == 0) {
            if (pending[i].sent + RESEND_SECS > now) {
                httpd_respond_error(s, 429, "a code was sent a moment ago; look for it");
                return;
            }
            slot = &pending[i];
            break;
        }
        if (!slot && pending[i].until < now)
            slot = &pending[i];
    }
    if (!slot) {
        httpd_respond_error(s, 503, "too many codes waiting; try again in a few minutes");
        return;
    }
    unsigned char r[CODE_DIGITS];
    char code[CODE_DIGITS + 1];
    if (RAND_bytes(r, sizeof(r)) != 1) {
        httpd_respond_error(s, 500, "no code can be made");
        return;
    }
    for (size_t i = 0; i < CODE_DIGITS; i++)
        code[i] = (char)('0' + r[i] % 10); /* the bias of 256 % 10 is negligible here */
    code[CODE_DIGITS] = '\0';
    memset(slot, 0, sizeof(*slot));
    str_copy(slot->address, sizeof(slot->address), address);
    sha256(code, slot->hash);
    slot->sent = now;
    slot->until = now + CODE_SECS;
    struct buf m;
    buf_init(&m, 8192);
    buf_printf(&m, "From: postino share <postmaster@%s>\r\nTo: <%s>\r\n", httpd_cfg->hostname,
               address);
    buf_printf(&m, "Subject: Your verification code for %s\r\n", httpd_cfg->hostname);
    buf_printf(&m, "Auto-Submitted: auto-generated\r\n");
    buf_printf(&m, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    buf_printf(&m,
               "Someone, probably you, asked to send files to %s's users as %s.\r\n\r\n"
               "Your verification code: %s\r\n\r\n"
               "It is valid for %d minutes. If it was not you, ignore this mail.\r\n",
               httpd_cfg->hostname, address, code, CODE_SECS / 60);
    httpd_mail("", address, m.data, m.len, "verification code");
    OPENSSL_cleanse(m.data, m.len);
    OPENSSL_cleanse(code, sizeof(code));
    buf_free(&m);
    log_info("share: a verification code for <%s> asked from [%s]", address, access_conn_ip(s->c));
    httpd_respond(s, 202, "application/json", "{\"sent\": true}\n", 15);
}

void httpd_verify_code(struct http_session *s)
{
    char address[SHARE_ADDRESS_MAX + 1], code[64];
    if (!external_on()) {
        httpd_respond_error(s, 403, "this portal takes no transfers from outside senders");
        return;
    }
    if (field(s, "address", address, sizeof(address)) < 0 ||
        field(s, "code", code, sizeof(code)) < 0) {
        httpd_respond_error(s, 400, "address and code, please");
        return;
    }
    long long now = (long long)time(NULL);
    struct pending *p = NULL;
    for (size_t i = 0; i < PENDING_MAX && !p; i++)
        if (pending[i].until >= now && strcasecmp(pending[i].address, address) == 0)
            p = &pending[i];
    unsigned char h[32];
    sha256(code, h);
    if (!p || p->tries >= CODE_TRIES) {
        httpd_respond_error(s, 403, "no code is waiting for this address; ask for one");
        return;
    }
    if (CRYPTO_memcmp(h, p->hash, sizeof(h)) != 0) {
        p->tries++;
        log_info("share: a wrong verification code for <%s> from [%s] (%u of %d)", address,
                 access_conn_ip(s->c), p->tries, CODE_TRIES);
        if (p->tries >= CODE_TRIES)
            p->until = 0;
        httpd_respond_error(s, 403,
                            p->tries >= CODE_TRIES
                                ? "wrong code, and no tries left: ask for a new one"
                                : "wrong code");
        return;
    }
    memset(p, 0, sizeof(*p));
    log_info("share: <%s> verified from [%s]", address, access_conn_ip(s->c));
    httpd_session_start(s, address, true);
}
