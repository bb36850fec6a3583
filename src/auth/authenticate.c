#include "authenticate.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "state/state-auth.h"

struct auth_context {
    struct state_db *db;
    struct auth_settings set;
    char dummy_hash[PASSWORD_HASH_MAX]; /* checked for unknown users: same cost, same time */
    unsigned char fp_key[32];
    bool have_key;
    unsigned calls;
};

void auth_settings_from_config(struct auth_settings *set, const struct config *cfg)
{
    set->max_failures = cfg->lockout_max_failures;
    set->window = cfg->lockout_failure_window;
    set->lockout = cfg->lockout_duration;
    set->delay_ms = cfg->auth_failure_delay * 1000;
    set->delay_max_ms = cfg->auth_failure_delay_max * 1000;
    set->client_max_failures = cfg->auth_ip_max_failures;
    set->cost.memory_kib = (unsigned)(cfg->password_argon2_memory / 1024);
    set->cost.time = (unsigned)cfg->password_argon2_time;
    set->cost.parallelism = (unsigned)cfg->password_argon2_parallelism;
}

const char *auth_result_name(enum auth_result r)
{
    switch (r) {
    case AUTH_OK:
        return "ok";
    case AUTH_UNKNOWN_USER:
        return "unknown-user";
    case AUTH_WRONG_PASSWORD:
        return "wrong-password";
    case AUTH_ACCOUNT_LOCKED:
        return "account-locked";
    case AUTH_CLIENT_BLOCKED:
        return "client-blocked";
    case AUTH_TEMPFAIL:
        return "tempfail";
    }
    return "?";
}

void auth_client_key(const char *ip, char *out, size_t outsize)
{
    struct in6_addr a6;
    if (inet_pton(AF_INET6, ip, &a6) == 1) {
        memset(a6.s6_addr + 8, 0, 8);
        char text[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &a6, text, sizeof(text));
        snprintf(out, outsize, "%s/64", text);
        return;
    }
    str_copy(out, outsize, ip);
}

struct auth_context *auth_context_new(const char *db_path, const struct auth_settings *set,
                                      char **error_r)
{
    struct auth_context *ac = xcalloc(1, sizeof(*ac));
    ac->set = *set;
    ac->db = state_db_open(db_path, false, error_r);
    if (!ac->db) {
        free(ac);
        return NULL;
    }
    const char *why;
    if (password_hash("postino-dummy", 13, &set->cost, ac->dummy_hash, &why) < 0) {
        *error_r = xstrdup(why);
        auth_context_free(&ac);
        return NULL;
    }
    return ac;
}

void auth_context_free(struct auth_context **acp)
{
    struct auth_context *ac = *acp;
    if (!ac)
        return;
    state_db_close(&ac->db);
    x_free(acp);
}

/* The delay of a client's n-th failure: base, doubling, capped. */
static long long delay_for(const struct auth_settings *set, long long n)
{
    long long d = set->delay_ms;
    for (long long i = 1; i < n && d < set->delay_max_ms; i++)
        d *= 2;
    return d > set->delay_max_ms ? set->delay_max_ms : d;
}

/* Count a failure against the client's network; sets the delay. */
static int count_client_failure(struct auth_context *ac, const char *key, long long now,
                                struct auth_outcome *out)
{
    struct state_auth_client c = {0, now, now};
    int r = state_auth_client_get(ac->db, key, &c);
    if (r < 0)
        return -1;
    if (r == 0 || c.window_start + ac->set.window <= now) {
        c.failures = 0;
        c.window_start = now;
    }
    c.failures++;
    c.last = now;
    if (state_auth_client_put(ac->db, key, &c) < 0)
        return -1;
    out->client_failures = c.failures;
    out->delay_ms = delay_for(&ac->set, c.failures);
    return 0;
}

/* Fingerprint of a wrong password, to notice the same one again without
 * keeping anything that would help guess it. */
static void failure_fp(struct auth_context *ac, const char *user, const char *pw, size_t len,
                       char out[65])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mlen = 0;
    unsigned char msg[320 + 1 + PASSWORD_MAX];
    size_t ulen = strlen(user);
    if (ulen > 320)
        ulen = 320;
    if (len > PASSWORD_MAX)
        len = PASSWORD_MAX;
    memcpy(msg, user, ulen);
    msg[ulen] = 0;
    memcpy(msg + ulen + 1, pw, len);
    HMAC(EVP_sha256(), ac->fp_key, sizeof(ac->fp_key), msg, ulen + 1 + len, mac, &mlen);
    memset(msg, 0, sizeof(msg));
    for (unsigned i = 0; i < 16 && i < mlen; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* A database step failed: the login is a temporary failure, and the log
 * says which step and why (busy, locked, permissions...). */
static void tempfail(struct auth_context *ac, struct auth_outcome *out, const char *step)
{
    log_error("authentication: %s failed: %s", step, state_db_error(ac->db));
    out->result = AUTH_TEMPFAIL;
}

void authenticate(struct auth_context *ac, const char *user_in, const char *password, size_t len,
                  const char *client_ip, struct auth_outcome *out)
{
    memset(out, 0, sizeof(*out));
    long long now = (long long)time(NULL);
    char key[INET6_ADDRSTRLEN + 4];
    auth_client_key(client_ip, key, sizeof(key));
    str_copy(out->user, sizeof(out->user), user_in);
    str_lower(out->user);
    if (!ac->have_key) {
        if (state_meta_secret(ac->db, "login-failure-key", ac->fp_key) < 0) {
            tempfail(ac, out, "reading the failure key");
            return;
        }
        ac->have_key = true;
    }
    if (++ac->calls % 256 == 0)
        state_auth_client_expire(ac->db, now - ac->set.window);

    /* The client first: one that failed too often is not even checked. */
    struct state_auth_client c;
    int cr = state_auth_client_get(ac->db, key, &c);
    if (cr < 0) {
        tempfail(ac, out, "reading the client's failures");
        return;
    }
    bool blocked = cr == 1 && c.window_start + ac->set.window > now &&
                   c.failures >= ac->set.client_max_failures;

    struct state_auth_user u;
    int ur = blocked ? 0 : state_auth_user_get(ac->db, out->user, &u);
    if (ur < 0) {
        tempfail(ac, out, "reading the account");
        return;
    }
    bool locked = ur == 1 && (u.admin_locked || u.locked_until == -1 || u.locked_until > now);
    const char *hash = (ur == 1 && !locked) ? u.password : ac->dummy_hash;
    int ok = password_verify(hash, password, len);
    if (ok < 0 && ur == 1 && !locked)
        log_error("user %s has a password hash of an unknown kind", u.address);

    if (ur == 1 && !locked && ok == 1) {
        out->result = AUTH_OK;
        str_copy(out->user, sizeof(out->user), u.address);
        if (u.failures || u.locked_until || u.last_fp[0]) {
            u.failures = 0;
            u.locked_until = 0;
            u.window_start = 0;
            u.last_fp[0] = '\0';
            state_auth_user_put(ac->db, &u);
        }
        if (password_needs_upgrade(u.password, &ac->set.cost)) {
            char fresh[PASSWORD_HASH_MAX];
            const char *why;
            if (password_hash(password, len, &ac->set.cost, fresh, &why) == 0 &&
                state_auth_user_set_password(ac->db, u.address, fresh) == 0)
                out->upgraded = true;
        }
        return;
    }

    /* A failure: count it, for the account (unless locked or repeated)
     * and for the client, in one transaction (other processes count too). */
    out->result = blocked   ? AUTH_CLIENT_BLOCKED
                  : ur == 0 ? AUTH_UNKNOWN_USER
                  : locked  ? AUTH_ACCOUNT_LOCKED
                            : AUTH_WRONG_PASSWORD;
    if (state_auth_begin(ac->db) < 0) {
        tempfail(ac, out, "starting the failure count");
        return;
    }
    if (out->result == AUTH_ACCOUNT_LOCKED)
        out->account_failures = u.failures;
    if (out->result == AUTH_WRONG_PASSWORD) {
        char fp[65] = "";
        failure_fp(ac, u.address, password, len, fp);
        if (state_auth_user_get(ac->db, u.address, &u) == 1) {
            if (u.window_start + ac->set.window <= now ||
                (u.locked_until > 0 && u.locked_until <= now)) {
                u.failures = 0;
                u.window_start = now;
                u.locked_until = 0;
                u.last_fp[0] = '\0';
            }
            if (strcmp(u.last_fp, fp) == 0) {
                out->repeated = true;
            } else {
                u.failures++;
                str_copy(u.last_fp, sizeof(u.last_fp), fp);
                if (u.failures >= ac->set.max_failures) {
                    u.locked_until = ac->set.lockout ? now + ac->set.lockout : -1;
                    out->locked_now = true;
                }
            }
            out->account_failures = u.failures;
            if (state_auth_user_put(ac->db, &u) < 0)
                goto fail;
        }
    }
    if (count_client_failure(ac, key, now, out) < 0)
        goto fail;
    if (state_auth_commit(ac->db) < 0)
        goto fail;
    return;
fail:
    tempfail(ac, out, "counting the failure");
    state_auth_rollback(ac->db);
    out->delay_ms = ac->set.delay_max_ms;
}
