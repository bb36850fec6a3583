#include "dkim-verify.h"

#include <stdio.h>
#include <string.h>

#include "auth/dkim-key-cache.h"
#include "auth/dkim-key.h"
#include "auth/dkim-message.h"
#include "auth/dkim-signature.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* One signature on its way to a result. */
struct sig_state {
    struct dkim_signature sig;
    const struct dkim_field *field; /* into the message's field array */
    size_t field_index;
    bool decided; /* res.status is final already (malformed, policy...) */
    struct dkim_result res;
    struct dkim_body_hash body;
    bool body_active;
    unsigned char body_digest[32];
    uint64_t body_total;
    bool body_failed;
    size_t key; /* index into keys */
};

/* One key record name and its answer. */
struct key_answer {
    char *name;
    bool answered;
    enum dkim_key_status status;
    char *txt;
    size_t len;
};

struct dkim_verify {
    struct dkim_verify_params params;
    struct dkim_message msg;
    bool started; /* signatures parsed (header complete) */
    bool ended;
    bool broken; /* the header section could not be kept */
    bool computed;
    struct sig_state *sigs;
    size_t sig_count;
    struct key_answer *keys;
    const char **key_names;
    size_t key_count;
    struct dkim_result *results;
};

const char *dkim_status_name(enum dkim_status s)
{
    switch (s) {
    case DKIM_NONE:
        return "none";
    case DKIM_PASS:
        return "pass";
    case DKIM_FAIL:
        return "fail";
    case DKIM_NEUTRAL:
        return "neutral";
    case DKIM_POLICY:
        return "policy";
    case DKIM_TEMPERROR:
        return "temperror";
    case DKIM_PERMERROR:
        return "permerror";
    }
    return "permerror";
}

struct dkim_verify *dkim_verify_new(const struct dkim_verify_params *params)
{
    struct dkim_verify *v = xcalloc(1, sizeof(*v));
    v->params = *params;
    if (v->params.min_rsa_bits == 0)
        v->params.min_rsa_bits = DKIM_RSA_MIN_BITS;
    dkim_message_init(&v->msg);
    return v;
}

void dkim_verify_free(struct dkim_verify **vp)
{
    struct dkim_verify *v = *vp;
    if (!v)
        return;
    for (size_t i = 0; i < v->sig_count; i++) {
        if (v->sigs[i].body_active)
            dkim_body_hash_free(&v->sigs[i].body);
    }
    for (size_t i = 0; i < v->key_count; i++) {
        free(v->keys[i].name);
        free(v->keys[i].txt);
    }
    free(v->sigs);
    free(v->keys);
    free(v->key_names);
    free(v->results);
    dkim_message_free(&v->msg);
    free(v);
    *vp = NULL;
}

/* Settle a signature's result before any cryptography. */
static void decide(struct sig_state *s, enum dkim_status status, const char *reason)
{
    s->decided = true;
    s->res.status = status;
    s->res.reason = reason;
}

/* The index of the key record name for a signature, added if new. */
static size_t key_index(struct dkim_verify *v, const char *name)
{
    for (size_t i = 0; i < v->key_count; i++) {
        if (strcmp(v->keys[i].name, name) == 0)
            return i;
    }
    v->keys = xrealloc(v->keys, (v->key_count + 1) * sizeof(*v->keys));
    v->key_names = xrealloc(v->key_names, (v->key_count + 1) * sizeof(*v->key_names));
    struct key_answer *k = &v->keys[v->key_count];
    memset(k, 0, sizeof(*k));
    k->name = xstrdup(name);
    v->key_names[v->key_count] = k->name;
    return v->key_count++;
}

/* The header section is complete: find and parse the signatures, start
 * their body hashes, list the keys they need. */
static void start(struct dkim_verify *v)
{
    v->started = true;
    if (dkim_message_end_header(&v->msg) < 0) {
        v->broken = true;
        return;
    }
    size_t count = 0;
    for (size_t i = 0; i < v->msg.field_count; i++) {
        if (dkim_field_is(&v->msg.fields[i], "DKIM-Signature", 14))
            count++;
    }
    if (count > DKIM_VERIFY_MAX_SIGS)
        count = DKIM_VERIFY_MAX_SIGS;
    v->sigs = xcalloc(count ? count : 1, sizeof(*v->sigs));
    for (size_t i = 0; i < v->msg.field_count && v->sig_count < count; i++) {
        const struct dkim_field *f = &v->msg.fields[i];
        if (!dkim_field_is(f, "DKIM-Signature", 14))
            continue;
        struct sig_state *s = &v->sigs[v->sig_count++];
        s->field = f;
        s->field_index = i;
        size_t vlen;
        const char *value = dkim_field_value(f, &vlen);
        const char *reason = NULL;
        enum dkim_status st = dkim_signature_parse(value, vlen, v->params.now,
                                                   v->params.allow_body_length, &s->sig, &reason);
        struct dkim_result *r = &s->res;
        str_copy(r->domain, sizeof(r->domain), s->sig.domain);
        str_copy(r->selector, sizeof(r->selector), s->sig.selector);
        str_copy(r->algorithm, sizeof(r->algorithm), s->sig.algorithm);
        str_copy(r->header_b, sizeof(r->header_b), s->sig.header_b);
        str_copy(r->identity, sizeof(r->identity), s->sig.identity);
        r->has_body_length = s->sig.has_l;
        r->body_length = s->sig.l;
        if (st != DKIM_PASS) {
            decide(s, st, reason);
            continue;
        }
        if (dkim_body_hash_init(&s->body, s->sig.body_canon,
                                s->sig.has_l ? s->sig.l : DKIM_BODY_UNLIMITED) < 0) {
            decide(s, DKIM_TEMPERROR, "internal error (hash)");
            continue;
        }
        s->body_active = true;
        char name[sizeof(s->sig.selector) + sizeof("._domainkey.") + sizeof(s->sig.domain)];
        int len = snprintf(name, sizeof(name), "%s._domainkey.%s", s->sig.selector, s->sig.domain);
        if (len < 0 || (size_t)len >= sizeof(name)) {
            dkim_body_hash_free(&s->body);
            s->body_active = false;
            decide(s, DKIM_TEMPERROR, "internal error (key name)");
            continue;
        }
        s->key = key_index(v, name);
    }
}

int dkim_verify_feed(struct dkim_verify *v, const void *data, size_t n)
{
    if (v->ended || v->broken)
        return v->broken ? -1 : 0;
    const char *body;
    size_t body_len;
    if (dkim_message_feed(&v->msg, data, n, &body, &body_len) < 0) {
        v->broken = true;
        return -1;
    }
    if (!v->msg.header_done)
        return 0;
    if (!v->started) {
        start(v);
        if (v->broken)
            return -1;
    }
    for (size_t i = 0; i < v->sig_count; i++) {
        if (v->sigs[i].body_active)
            dkim_body_hash_update(&v->sigs[i].body, body, body_len);
    }
    return 0;
}

bool dkim_verify_header_complete(const struct dkim_verify *v)
{
    return v->started;
}

void dkim_verify_end(struct dkim_verify *v)
{
    if (v->ended)
        return;
    v->ended = true;
    if (!v->started && !v->broken)
        start(v);
    for (size_t i = 0; i < v->sig_count; i++) {
        struct sig_state *s = &v->sigs[i];
        if (!s->body_active)
            continue;
        s->body_active = false;
        if (dkim_body_hash_final(&s->body, s->body_digest, &s->body_total) < 0)
            s->body_failed = true;
    }
}

size_t dkim_verify_key_names(const struct dkim_verify *v, const char *const **names_r)
{
    *names_r = v->key_names;
    return v->started ? v->key_count : 0;
}

int dkim_verify_set_key(struct dkim_verify *v, const char *name, enum dkim_key_status status,
                        const char *txt, size_t len)
{
    for (size_t i = 0; i < v->key_count; i++) {
        struct key_answer *k = &v->keys[i];
        if (!str_eq_ci(k->name, name))
            continue;
        if (k->answered)
            return -1;
        k->answered = true;
        k->status = status;
        if (status == DKIM_KEY_FOUND) {
            k->txt = xstrndup(txt, len);
            k->len = len;
        }
        return 0;
    }
    return -1;
}

/* Check the signature's header hash against its key. Returns 1 if it
 * verifies, 0 if not, -1 on an internal error. */
static int check_signature(struct dkim_verify *v, struct sig_state *s, struct dkim_key *key)
{
    /* The signature field itself, its b= value removed. */
    const struct dkim_field *f = s->field;
    size_t vlen;
    const char *value = dkim_field_value(f, &vlen);
    size_t value_off = (size_t)(value - f->text);
    struct buf sigfield;
    buf_init(&sigfield, BUF_UNLIMITED);
    buf_reserve(&sigfield, f->len + 1);
    buf_append(&sigfield, f->text, value_off + s->sig.b_tag->after_eq_off);
    buf_append(&sigfield, f->text + value_off + s->sig.b_tag->spec_end_off,
               f->len - value_off - s->sig.b_tag->spec_end_off);
    unsigned char digest[32];
    int r = dkim_message_header_hash(&v->msg, s->sig.header_canon, s->sig.names, s->sig.name_count,
                                     sigfield.data, sigfield.len, digest);
    buf_free(&sigfield);
    if (r < 0)
        return -1;
    return dkim_key_verify(key, s->sig.b, s->sig.b_len, digest);
}

/* The result of a signature whose key record parsed. */
static void evaluate_with_key(struct dkim_verify *v, struct sig_state *s, struct dkim_key *key)
{
    struct dkim_result *r = &s->res;
    r->testing = key->testing;
    r->key_bits = key->bits;
    enum dkim_key_type want =
        s->sig.alg == DKIM_ALG_ED25519_SHA256 ? DKIM_KEY_ED25519 : DKIM_KEY_RSA;
    if (key->revoked)
        decide(s, DKIM_FAIL, "key revoked");
    else if (key->type != want)
        decide(s, DKIM_PERMERROR, "key type does not match the algorithm");
    else if (!key->sha256)
        decide(s, DKIM_PERMERROR, "key does not allow sha256");
    else if (!key->email)
        decide(s, DKIM_PERMERROR, "key is not for email");
    else if (key->strict && strcmp(s->sig.i_domain, s->sig.domain) != 0)
        decide(s, DKIM_PERMERROR, "key requires i= domain equal to d= (t=s)");
    else if (key->type == DKIM_KEY_RSA && key->bits < v->params.min_rsa_bits)
        decide(s, DKIM_FAIL, "RSA key shorter than 1024 bits");
    else if (s->body_failed)
        decide(s, DKIM_TEMPERROR, "internal error (hash)");
    else if (s->sig.has_l && s->body_total < s->sig.l)
        decide(s, DKIM_FAIL, "l= is longer than the body");
    else if (memcmp(s->body_digest, s->sig.bh, 32) != 0)
        decide(s, DKIM_FAIL, "body hash did not verify");
    if (!s->decided) {
        int ok = check_signature(v, s, key);
        if (ok < 0)
            decide(s, DKIM_TEMPERROR, "internal error (signature check)");
        else if (ok == 0)
            decide(s, DKIM_FAIL, "signature did not verify");
        else
            decide(s, DKIM_PASS, s->sig.has_l ? "verified (body only up to l=)" : "verified");
    }
}

/* The result of one signature that passed the syntax checks. */
static void evaluate(struct dkim_verify *v, struct sig_state *s)
{
    struct key_answer *ka = &v->keys[s->key];
    if (!ka->answered) {
        decide(s, DKIM_TEMPERROR, "key not looked up");
        return;
    }
    switch (ka->status) {
    case DKIM_KEY_FOUND:
        break;
    case DKIM_KEY_NONE:
        decide(s, DKIM_PERMERROR, "no key for signature");
        return;
    case DKIM_KEY_TEMPERROR:
        decide(s, DKIM_TEMPERROR, "key lookup failed temporarily");
        return;
    case DKIM_KEY_PERMERROR:
    default:
        decide(s, DKIM_PERMERROR, "key lookup failed");
        return;
    }
    /* From the cache (owned by it), or parsed into local for this check. */
    struct dkim_key local, *key = NULL;
    const char *err = "bad key data";
    if (v->params.key_cache)
        key = dkim_key_cache_get(v->params.key_cache, ka->txt, ka->len, &err);
    else if (dkim_key_parse(ka->txt, ka->len, &local, &err) == 0)
        key = &local;
    if (!key) {
        decide(s, DKIM_PERMERROR, err);
        return;
    }
    evaluate_with_key(v, s, key);
    if (key == &local)
        dkim_key_free(&local);
}

size_t dkim_verify_results(struct dkim_verify *v, const struct dkim_result **results_r)
{
    dkim_verify_end(v);
    if (!v->computed) {
        v->computed = true;
        v->results = xcalloc(v->sig_count ? v->sig_count : 1, sizeof(*v->results));
        for (size_t i = 0; i < v->sig_count; i++) {
            struct sig_state *s = &v->sigs[i];
            if (!s->decided)
                evaluate(v, s);
            v->results[i] = s->res;
        }
    }
    *results_r = v->results;
    return v->sig_count;
}

/* True if s is non-empty and only has characters that an
 * Authentication-Results value may carry unquoted. */
static bool ar_safe(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("!#$%&'*+-/=?^_`{|}~.@", c)))
            return false;
    }
    return true;
}

int dkim_result_format(const struct dkim_result *r, struct buf *out)
{
    size_t start = out->len;
    int rc = buf_printf(out, "dkim=%s (%s)", dkim_status_name(r->status), r->reason);
    const char *names[] = {"d", "i", "s", "a", "b"};
    const char *values[] = {r->domain, r->identity, r->selector, r->algorithm, r->header_b};
    for (size_t i = 0; i < 5 && rc == 0; i++) {
        if (ar_safe(values[i]))
            rc = buf_printf(out, " header.%s=%s", names[i], values[i]);
    }
    if (rc < 0)
        buf_truncate(out, start);
    return rc;
}
