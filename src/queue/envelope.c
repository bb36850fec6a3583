#include "envelope.h"

#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"

#define ENVELOPE_LINE_MAX 8192
#define ENVELOPE_RCPT_MAX 100000

static const char *const status_names[] = {"pending", "deferred", "delivered", "bounced",
                                           "expired"};

const char *rcpt_status_name(enum rcpt_status s)
{
    return (unsigned)s < sizeof(status_names) / sizeof(status_names[0]) ? status_names[s] : "?";
}

void envelope_init(struct envelope *env)
{
    memset(env, 0, sizeof(*env));
}

static void rcpt_free(struct envelope_rcpt *r)
{
    free(r->addr);
    free(r->orig);
    free(r->orcpt);
    free(r->last);
    free(r->relay);
}

void envelope_remove_rcpt(struct envelope *env, size_t i)
{
    if (i >= env->nrcpts)
        return;
    rcpt_free(&env->rcpts[i]);
    memmove(env->rcpts + i, env->rcpts + i + 1, (env->nrcpts - i - 1) * sizeof(*env->rcpts));
    env->nrcpts--;
}

void envelope_clear_rcpts(struct envelope *env)
{
    for (size_t i = 0; i < env->nrcpts; i++)
        rcpt_free(&env->rcpts[i]);
    free(env->rcpts);
    env->rcpts = NULL;
    env->nrcpts = 0;
}

void envelope_free(struct envelope *env)
{
    envelope_clear_rcpts(env);
    free(env->sender);
    free(env->envid);
    free(env->client);
    free(env->helo);
    free(env->proto);
    free(env->filter);
    envelope_init(env);
}

struct envelope_rcpt *envelope_add_rcpt(struct envelope *env, const char *addr, const char *orig,
                                        const char *orcpt, unsigned notify, enum rcpt_route route)
{
    env->rcpts = xrealloc(env->rcpts, (env->nrcpts + 1) * sizeof(*env->rcpts));
    struct envelope_rcpt *r = &env->rcpts[env->nrcpts++];
    memset(r, 0, sizeof(*r));
    r->addr = xstrdup(addr);
    r->orig = orig ? xstrdup(orig) : NULL;
    r->orcpt = orcpt ? xstrdup(orcpt) : NULL;
    r->notify = notify;
    r->route = route;
    r->status = RCPT_PENDING;
    return r;
}

void envelope_rcpt_set_last(struct envelope_rcpt *r, const char *text)
{
    free(r->last);
    r->last = text ? xstrdup(text) : NULL;
}

bool envelope_done(const struct envelope *env)
{
    for (size_t i = 0; i < env->nrcpts; i++)
        if (env->rcpts[i].status == RCPT_PENDING || env->rcpts[i].status == RCPT_DEFERRED)
            return false;
    return true;
}

/* Append s %-escaped. */
static void put_escaped(struct buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p <= 0x20 || *p == '%' || *p == '=' || *p == 0x7f) {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            buf_append(out, e, 3);
        } else {
            buf_append_char(out, (char)*p);
        }
    }
}

static void put_field(struct buf *out, const char *key, const char *value)
{
    buf_append_str(out, key);
    buf_append_char(out, ' ');
    put_escaped(out, value);
    buf_append_char(out, '\n');
}

static void put_attr(struct buf *out, const char *key, const char *value)
{
    buf_printf(out, " %s=", key);
    put_escaped(out, value);
}

int envelope_encode(const struct envelope *env, struct buf *out)
{
    size_t start = out->len;
    buf_append_str(out, "postino-envelope 1\n");
    put_field(out, "id", env->id);
    buf_printf(out, "arrival %lld\nsize %llu\n", env->arrival, env->size);
    put_field(out, "sender", env->sender ? env->sender : "");
    buf_printf(out, "body %s\n", env->body_8bit ? "8BITMIME" : "7BIT");
    if (env->has_8bit)
        buf_append_str(out, "8bit 1\n");
    if (env->smtputf8)
        buf_append_str(out, "smtputf8 1\n");
    if (env->junk)
        buf_append_str(out, "junk 1\n");
    if (env->ret)
        buf_printf(out, "ret %s\n", env->ret == 1 ? "FULL" : "HDRS");
    if (env->envid)
        put_field(out, "envid", env->envid);
    if (env->client)
        put_field(out, "client", env->client);
    if (env->helo)
        put_field(out, "helo", env->helo);
    if (env->proto)
        put_field(out, "proto", env->proto);
    if (env->filter)
        put_field(out, "filter", env->filter);
    for (size_t i = 0; i < env->nrcpts; i++) {
        const struct envelope_rcpt *r = &env->rcpts[i];
        buf_append_str(out, "rcpt");
        put_attr(out, "addr", r->addr);
        if (r->orig)
            put_attr(out, "orig", r->orig);
        if (r->orcpt)
            put_attr(out, "orcpt", r->orcpt);
        if (r->notify)
            buf_printf(out, " notify=%u", r->notify);
        buf_printf(out, " route=%s status=%s attempts=%u next=%lld",
                   r->route == ROUTE_LOCAL ? "local" : "remote", rcpt_status_name(r->status),
                   r->attempts, r->next_try);
        if (r->last_try)
            buf_printf(out, " tried=%lld", r->last_try);
        if (r->warned)
            buf_append_str(out, " warned=1");
        if (r->notified)
            buf_append_str(out, " notified=1");
        if (r->relay)
            put_attr(out, "relay", r->relay);
        if (r->last)
            put_attr(out, "last", r->last);
        buf_append_char(out, '\n');
    }
    buf_append_str(out, "end\n");
    /* Appends past the buffer's limit fail one by one: check the end line. */
    if (out->len < start + 4 || memcmp(out->data + out->len - 4, "end\n", 4) != 0) {
        buf_truncate(out, start);
        return -1;
    }
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decode a %-escaped value of n octets into a new string; NULL if bad. */
static char *unescape(const char *s, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else if ((unsigned char)s[i] <= 0x20 || s[i] == '=' || s[i] == 0x7f) {
            free(out);
            return NULL;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

static int parse_ll(const char *s, size_t n, long long *out)
{
    unsigned long long v;
    if (str_to_u64(s, n, 0x7fffffffffffffffULL, &v) < 0)
        return -1;
    *out = (long long)v;
    return 0;
}

/* Parse the attributes of a "rcpt" line. */
static int parse_rcpt(struct envelope *env, const char *s, size_t n)
{
    struct envelope_rcpt r;
    memset(&r, 0, sizeof(r));
    bool have_route = false, have_status = false;
    int rc = -1;
    size_t i = 0;
    while (i < n) {
        if (s[i] != ' ')
            goto out;
        i++;
        size_t ks = i;
        while (i < n && s[i] != '=' && s[i] != ' ')
            i++;
        if (i >= n || s[i] != '=')
            goto out;
        size_t klen = i - ks;
        const char *key = s + ks;
        size_t vs = ++i;
        while (i < n && s[i] != ' ')
            i++;
        const char *val = s + vs;
        size_t vlen = i - vs;
#define KEY(name) (klen == strlen(name) && memcmp(key, name, klen) == 0)
        char **strp = KEY("addr")    ? &r.addr
                      : KEY("orig")  ? &r.orig
                      : KEY("orcpt") ? &r.orcpt
                      : KEY("last")  ? &r.last
                      : KEY("relay") ? &r.relay
                                     : NULL;
        if (strp) {
            if (*strp)
                goto out;
            *strp = unescape(val, vlen);
            if (!*strp)
                goto out;
        } else if (KEY("notify")) {
            long long v;
            if (parse_ll(val, vlen, &v) < 0 || v > 15)
                goto out;
            r.notify = (unsigned)v;
        } else if (KEY("route")) {
            if (vlen == 5 && memcmp(val, "local", 5) == 0)
                r.route = ROUTE_LOCAL;
            else if (vlen == 6 && memcmp(val, "remote", 6) == 0)
                r.route = ROUTE_REMOTE;
            else
                goto out;
            have_route = true;
        } else if (KEY("status")) {
            size_t k;
            for (k = 0; k < sizeof(status_names) / sizeof(status_names[0]); k++)
                if (vlen == strlen(status_names[k]) && memcmp(val, status_names[k], vlen) == 0)
                    break;
            if (k == sizeof(status_names) / sizeof(status_names[0]))
                goto out;
            r.status = (enum rcpt_status)k;
            have_status = true;
        } else if (KEY("attempts")) {
            long long v;
            if (parse_ll(val, vlen, &v) < 0 || v > 1000000)
                goto out;
            r.attempts = (unsigned)v;
        } else if (KEY("next")) {
            if (parse_ll(val, vlen, &r.next_try) < 0)
                goto out;
        } else if (KEY("tried")) {
            if (parse_ll(val, vlen, &r.last_try) < 0)
                goto out;
        } else if (KEY("warned") || KEY("notified")) {
            if (vlen != 1 || val[0] != '1')
                goto out;
            if (KEY("warned"))
                r.warned = true;
            else
                r.notified = true;
        } else {
            goto out;
        }
#undef KEY
    }
    if (!r.addr || r.addr[0] == '\0' || !have_route || !have_status ||
        env->nrcpts >= ENVELOPE_RCPT_MAX)
        goto out;
    env->rcpts = xrealloc(env->rcpts, (env->nrcpts + 1) * sizeof(*env->rcpts));
    env->rcpts[env->nrcpts++] = r;
    return 0;
out:
    free(r.addr);
    free(r.orig);
    free(r.orcpt);
    free(r.last);
    free(r.relay);
    return rc;
}

int envelope_decode(const char *data, size_t len, struct envelope *env, const char **error_r)
{
    envelope_init(env);
    size_t pos = 0, lineno = 0;
    bool ended = false, have_id = false, have_size = false, have_sender = false;
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        if (!nl) {
            *error_r = "unterminated line";
            goto fail;
        }
        const char *line = data + pos;
        size_t n = (size_t)(nl - line);
        pos += n + 1;
        lineno++;
        if (ended) {
            *error_r = "data after end";
            goto fail;
        }
        if (n > ENVELOPE_LINE_MAX || memchr(line, '\0', n)) {
            *error_r = "bad line";
            goto fail;
        }
        if (lineno == 1) {
            if (n != 18 || memcmp(line, "postino-envelope 1", 18) != 0) {
                *error_r = "not a version 1 envelope";
                goto fail;
            }
            continue;
        }
        if (n == 3 && memcmp(line, "end", 3) == 0) {
            ended = true;
            continue;
        }
        const char *sp = memchr(line, ' ', n);
        if (!sp) {
            *error_r = "line without a value";
            goto fail;
        }
        size_t klen = (size_t)(sp - line);
        const char *val = sp + 1;
        size_t vlen = n - klen - 1;
#define IS(name) (klen == strlen(name) && memcmp(line, name, klen) == 0)
        char **strp = IS("sender")   ? &env->sender
                      : IS("envid")  ? &env->envid
                      : IS("client") ? &env->client
                      : IS("helo")   ? &env->helo
                      : IS("proto")  ? &env->proto
                      : IS("filter") ? &env->filter
                                     : NULL;
        if (strp) {
            if (*strp) {
                *error_r = "field given twice";
                goto fail;
            }
            *strp = unescape(val, vlen);
            if (!*strp) {
                *error_r = "bad escape";
                goto fail;
            }
            if (IS("sender"))
                have_sender = true;
        } else if (IS("id")) {
            if (!queue_id_valid(val, vlen) || have_id) {
                *error_r = "bad id";
                goto fail;
            }
            memcpy(env->id, val, vlen);
            env->id[vlen] = '\0';
            have_id = true;
        } else if (IS("arrival")) {
            if (parse_ll(val, vlen, &env->arrival) < 0) {
                *error_r = "bad arrival";
                goto fail;
            }
        } else if (IS("size")) {
            long long v;
            if (parse_ll(val, vlen, &v) < 0) {
                *error_r = "bad size";
                goto fail;
            }
            env->size = (unsigned long long)v;
            have_size = true;
        } else if (IS("body")) {
            if (vlen == 8 && memcmp(val, "8BITMIME", 8) == 0)
                env->body_8bit = true;
            else if (!(vlen == 4 && memcmp(val, "7BIT", 4) == 0)) {
                *error_r = "bad body";
                goto fail;
            }
        } else if (IS("8bit")) {
            env->has_8bit = vlen == 1 && val[0] == '1';
        } else if (IS("smtputf8")) {
            env->smtputf8 = vlen == 1 && val[0] == '1';
        } else if (IS("junk")) {
            env->junk = vlen == 1 && val[0] == '1';
        } else if (IS("ret")) {
            if (vlen == 4 && memcmp(val, "FULL", 4) == 0)
                env->ret = 1;
            else if (vlen == 4 && memcmp(val, "HDRS", 4) == 0)
                env->ret = 2;
            else {
                *error_r = "bad ret";
                goto fail;
            }
        } else if (IS("rcpt")) {
            if (parse_rcpt(env, sp, vlen + 1) < 0) {
                *error_r = "bad rcpt";
                goto fail;
            }
        } else {
            *error_r = "unknown field";
            goto fail;
        }
#undef IS
    }
    if (!ended) {
        *error_r = "no end line (torn write)";
        goto fail;
    }
    if (!have_id || !have_size || !have_sender || env->nrcpts == 0) {
        *error_r = "missing field";
        goto fail;
    }
    return 0;
fail:
    envelope_free(env);
    return -1;
}
