/* Unit tests of src/certify/certify-flow.c: what happens to a message at
 * the end of DATA and on its delivery outcomes, against a real spool in a
 * temporary directory (the receipts and envelopes made are queued there). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "certify/certify-flow.h"
#include "certify/certify-keys.h"
#include "certify/certify-log.h"
#include "certify/certify-receipt.h"
#include "certify/certify-verify.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "queue/spool.h"

#define DOMAIN "a.example"

static const char original[] = "From: Alice <alice@a.example>\r\n"
                               "To: bob@b.example\r\n"
                               "Subject: contract\r\n"
                               "Message-ID: <m1@a.example>\r\n"
                               "\r\n"
                               "Please sign.\r\n";

struct fixture {
    char dir[64];
    struct config *cfg;
    struct certify_flow *flow;
    size_t resolved;
};

/* The resolver of the tests: our domain is local, the rest remote. */
static bool resolve(void *arg, const char *addr, struct envelope *env)
{
    struct fixture *f = arg;
    f->resolved++;
    const char *at = strrchr(addr, '@');
    envelope_add_rcpt(env, addr, NULL, NULL, 0,
                      at && strcmp(at + 1, DOMAIN) == 0 ? ROUTE_LOCAL : ROUTE_REMOTE);
    return true;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    str_copy(f->dir, sizeof(f->dir), "/tmp/test-certify-flow-XXXXXX");
    if (!mkdtemp(f->dir) || spool_create_dirs(f->dir) < 0)
        return -1;
    char path[CERTIFY_PATH_MAX], key[CERTIFY_PATH_MAX];
    snprintf(path, sizeof(path), "%s/state", f->dir);
    mkdir(path, 0750);
    snprintf(path, sizeof(path), "%s/keys", f->dir);
    mkdir(path, 0750);
    snprintf(path, sizeof(path), "%s/keys/certify", f->dir);
    mkdir(path, 0750);
    f->cfg = config_new_default();
    free(f->cfg->data_dir);
    f->cfg->data_dir = xstrdup(f->dir);
    char *err = NULL;
    if (config_set(f->cfg, "certified_domains", DOMAIN, &err) < 0 ||
        config_set(f->cfg, "hostname", "mx.a.example", &err) < 0)
        return -1;
    char fpr[CERTIFY_FINGERPRINT_LEN];
    if (certify_key_paths(f->cfg, DOMAIN, path, sizeof(path), key, sizeof(key)) < 0 ||
        certify_keygen(path, key, DOMAIN, fpr, &err) < 0)
        return -1;
    f->flow = certify_flow_new(f->cfg, resolve, f);
    *state = f;
    return f->flow ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    certify_flow_free(&f->flow);
    config_free(&f->cfg);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* The messages queued so far (their contents), oldest first unknown:
 * returned in directory order; the count in *n. */
static char **queued(struct fixture *f, size_t *n)
{
    struct spool sp;
    const char *err;
    assert_int_equal(spool_open(&sp, f->dir, &err), 0);
    char qdir[200];
    snprintf(qdir, sizeof(qdir), "%s/spool/queue", f->dir);
    DIR *d = opendir(qdir);
    assert_non_null(d);
    char **out = NULL;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".msg") != 0)
            continue;
        char id[QUEUE_ID_LEN + 1];
        str_copyn(id, sizeof(id), e->d_name, l - 4);
        unsigned long long start, len;
        int fd = spool_open_message(&sp, id, &start, &len);
        assert_true(fd >= 0);
        char *buf = calloc(1, (size_t)len + 1);
        assert_int_equal(pread(fd, buf, (size_t)len, (off_t)start), (ssize_t)len);
        close(fd);
        out = realloc(out, (*n + 1) * sizeof(char *));
        out[(*n)++] = buf;
    }
    closedir(d);
    spool_close(&sp);
    return out;
}

static void free_all(char **msgs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(msgs[i]);
    free(msgs);
}

/* The one queued message of certified type t (the header field), or NULL. */
static const char *find_type(char **msgs, size_t n, const char *t)
{
    char want[64];
    snprintf(want, sizeof(want), "X-Certified-Type: %s\r\n", t);
    for (size_t i = 0; i < n; i++)
        if (strstr(msgs[i], want))
            return msgs[i];
    return NULL;
}

static enum certify_verdict verify(struct fixture *f, const char *msg)
{
    char *err = NULL;
    X509_STORE *store = certify_trust_load(f->cfg, &err);
    assert_non_null(store);
    struct certify_verify_result r;
    certify_verify(msg, strlen(msg), store, &r);
    certify_data_free(&r.data);
    X509_STORE_free(store);
    return r.verdict;
}

/* Submit msg from sender to rcpts (remote unless ours); the action, and
 * the replacement in out. */
static enum certify_submit_action submit(struct fixture *f, const char *msg, const char *sender,
                                         const char *const *rcpts, size_t n, bool submission,
                                         struct envelope *env, struct buf *out,
                                         struct certify_submit *cs)
{
    envelope_init(env);
    env->sender = xstrdup(sender);
    for (size_t i = 0; i < n; i++)
        resolve(f, rcpts[i], env);
    memset(cs, 0, sizeof(*cs));
    cs->qid = "TESTQID";
    cs->msg = msg;
    cs->len = strlen(msg);
    cs->env = env;
    cs->submission = submission;
    cs->replacement = out;
    return certify_flow_submit(f->flow, cs);
}

/* A certified user's message: replaced by its envelope, which verifies;
 * the acceptance receipt queued. Then the envelope arriving for one of
 * ours: kept, taking-in-charge queued; delivered: delivery receipt;
 * failed: failure notice. Every step in the evidence log. */
static void test_submission_and_outcomes(void **state)
{
    struct fixture *f = *state;
    static const char *const rcpts[] = {"bob@a.example", "carol@c.example"};
    struct envelope env;
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    struct certify_submit cs;
    assert_int_equal(submit(f, original, "alice@a.example", rcpts, 2, true, &env, &out, &cs),
                     CERTIFY_REPLACED);
    assert_int_equal(env.nrcpts, 2);
    assert_int_equal(verify(f, buf_cstr(&out)), CERTIFY_VALID);
    assert_non_null(strstr(buf_cstr(&out), "Subject: CERTIFIED: contract\r\n"));
    assert_non_null(strstr(buf_cstr(&out), original));
    envelope_free(&env);
    /* The acceptance waits for the commit of the envelope. */
    size_t n;
    char **msgs = queued(f, &n);
    assert_int_equal(n, 0);
    free_all(msgs, n);
    assert_non_null(cs.deferred);
    certify_flow_deferred_run(f->flow, &cs.deferred, true);
    assert_null(cs.deferred);
    msgs = queued(f, &n);
    assert_int_equal(n, 1);
    assert_non_null(find_type(msgs, n, "acceptance"));
    assert_int_equal(verify(f, strstr(msgs[0], "From: ")), CERTIFY_VALID);
    free_all(msgs, n);

    /* The envelope arrives for bob (local): kept as it is. */
    char *envelope = buf_steal(&out);
    static const char *const bob[] = {"bob@a.example"};
    struct buf out2;
    buf_init(&out2, BUF_UNLIMITED);
    assert_int_equal(submit(f, envelope, "alice@a.example", bob, 1, false, &env, &out2, &cs),
                     CERTIFY_STORE);
    assert_int_equal(env.nrcpts, 1);
    envelope_free(&env);
    certify_flow_deferred_run(f->flow, &cs.deferred, true);
    msgs = queued(f, &n);
    assert_int_equal(n, 2);
    assert_non_null(find_type(msgs, n, "taking-in-charge"));
    free_all(msgs, n);

    /* Delivered to bob: a delivery receipt; failed for carol: a notice.
     * What is not an envelope gives nothing. */
    assert_true(certify_flow_is_envelope(envelope, strlen(envelope)));
    assert_false(certify_flow_is_envelope(original, strlen(original)));
    assert_true(certify_flow_outcome(f->flow, "Q2", envelope, strlen(envelope), "bob@a.example",
                                     CERTIFY_OUT_DELIVERED, "2.0.0 ok"));
    assert_false(certify_flow_outcome(f->flow, "Q2", envelope, strlen(envelope), "carol@c.example",
                                      CERTIFY_OUT_DELIVERED, "2.0.0 ok"));
    assert_true(certify_flow_outcome(f->flow, "Q2", envelope, strlen(envelope), "carol@c.example",
                                     CERTIFY_OUT_FAILED, "550 5.1.1 no such user"));
    assert_false(certify_flow_outcome(f->flow, "Q3", original, strlen(original), "bob@a.example",
                                      CERTIFY_OUT_DELIVERED, "2.0.0 ok"));
    msgs = queued(f, &n);
    assert_int_equal(n, 4);
    const char *delivery = find_type(msgs, n, "delivery");
    const char *failure = find_type(msgs, n, "delivery-failure");
    assert_non_null(delivery);
    assert_non_null(failure);
    assert_non_null(strstr(delivery, "X-Certified-Receipt-Type: complete"));
    assert_non_null(strstr(delivery, "Please sign."));
    assert_int_equal(verify(f, strstr(failure, "From: ")), CERTIFY_VALID);
    assert_int_equal(verify(f, strstr(delivery, "From: ")), CERTIFY_VALID);
    free_all(msgs, n);
    free(envelope);
    buf_free(&out2);

    char log[CERTIFY_PATH_MAX];
    assert_int_equal(certify_log_path(f->cfg, log, sizeof(log)), 0);
    struct certify_log_check c;
    char *err = NULL;
    assert_int_equal(certify_log_verify(log, &c, &err), 0);
    assert_true(c.ok);
    assert_int_equal(c.records, 5); /* transport, acceptance, taking-in-charge, delivery, failure */
}

/* A message not committed after all: no acceptance, no taking in
 * charge, and nothing in the evidence log but the transport. */
static void test_not_committed(void **state)
{
    struct fixture *f = *state;
    static const char *const rcpts[] = {"bob@a.example"};
    struct envelope env;
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    struct certify_submit cs;
    assert_int_equal(submit(f, original, "alice@a.example", rcpts, 1, true, &env, &out, &cs),
                     CERTIFY_REPLACED);
    envelope_free(&env);
    certify_flow_deferred_run(f->flow, &cs.deferred, false);
    assert_null(cs.deferred);
    char *envelope = buf_steal(&out);
    buf_init(&out, BUF_UNLIMITED);
    assert_int_equal(submit(f, envelope, "alice@a.example", rcpts, 1, false, &env, &out, &cs),
                     CERTIFY_STORE);
    envelope_free(&env);
    certify_flow_deferred_run(f->flow, &cs.deferred, false);
    size_t n;
    char **msgs = queued(f, &n);
    assert_int_equal(n, 0);
    free_all(msgs, n);
    certify_flow_deferred_run(f->flow, &cs.deferred, true); /* empty: nothing */
    free(envelope);
    buf_free(&out);
    char log[CERTIFY_PATH_MAX];
    assert_int_equal(certify_log_path(f->cfg, log, sizeof(log)), 0);
    struct certify_log_check c;
    char *err = NULL;
    assert_int_equal(certify_log_verify(log, &c, &err), 0);
    assert_int_equal(c.records, 1);
}

/* The subject in the data part of the transport envelope of a message
 * whose Subject field value is `subject`, into got. */
static void transport_subject(struct fixture *f, const char *subject, char *got, size_t gotsize)
{
    struct buf msg;
    buf_init(&msg, BUF_UNLIMITED);
    assert_int_equal(buf_printf(&msg,
                                "From: alice@a.example\r\nTo: bob@b.example\r\nSubject: %s\r\n"
                                "Message-ID: <s@a.example>\r\n\r\nHello.\r\n",
                                subject),
                     0);
    static const char *const rcpts[] = {"bob@b.example"};
    struct envelope env;
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    struct certify_submit cs;
    assert_int_equal(submit(f, buf_cstr(&msg), "alice@a.example", rcpts, 1, true, &env, &out, &cs),
                     CERTIFY_REPLACED);
    certify_flow_deferred_run(f->flow, &cs.deferred, false);
    envelope_free(&env);
    char *err = NULL;
    X509_STORE *store = certify_trust_load(f->cfg, &err);
    assert_non_null(store);
    struct certify_verify_result r;
    certify_verify(out.data, out.len, store, &r);
    assert_int_equal(r.verdict, CERTIFY_VALID);
    str_copy(got, gotsize, r.data.subject);
    certify_data_free(&r.data);
    X509_STORE_free(store);
    buf_free(&out);
    buf_free(&msg);
}

/* RFC 2047 encoded words in the Subject are decoded in the data part. */
static void test_encoded_subject(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *field, *want;
    } cases[] = {
        {"contract", "contract"},
        {"=?UTF-8?B?Q29udHJhdHRvIMOoIGZpcm1hdG8=?=", "Contratto \xc3\xa8 firmato"},
        {"=?ISO-8859-1?Q?caf=E9?= au lait", "caf\xc3\xa9 au lait"},
        {"=?UTF-8?Q?one_?=\r\n =?UTF-8?Q?two?=", "one two"},
        {"Re: =?utf-8?q?pr=C3=AAt?= ok", "Re: pr\xc3\xaat ok"},
        {"=?X-UNKNOWN?Q?kept?=", "=?X-UNKNOWN?Q?kept?="},
    };
    char got[CERTIFY_TEXT_MAX];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        transport_subject(f, cases[i].field, got, sizeof(got));
        assert_string_equal(got, cases[i].want);
    }
    /* Decoded longer than CERTIFY_TEXT_MAX: cut between characters, not
     * turned into '?'. 600 words of one 2-octet character each. */
    struct buf longer;
    buf_init(&longer, BUF_UNLIMITED);
    for (int i = 0; i < 600; i++)
        assert_int_equal(buf_printf(&longer, "%s=?UTF-8?B?w6g=?=", i ? "\r\n " : ""), 0);
    transport_subject(f, buf_cstr(&longer), got, sizeof(got));
    size_t n = strlen(got);
    assert_true(n >= CERTIFY_TEXT_MAX - 3 && n < CERTIFY_TEXT_MAX);
    assert_true(n % 2 == 0);
    for (size_t i = 0; i < n; i += 2)
        assert_memory_equal(got + i, "\xc3\xa8", 2);
    /* Up to SUBJECT_DECODED_MAX (64 KiB) octets decoded: decoded; one
     * character more: taken as written. */
    for (int i = 600; i < 32768; i++)
        assert_int_equal(buf_append_str(&longer, "\r\n =?UTF-8?B?w6g=?="), 0);
    transport_subject(f, buf_cstr(&longer), got, sizeof(got));
    assert_memory_equal(got, "\xc3\xa8\xc3\xa8", 4);
    assert_int_equal(buf_append_str(&longer, "\r\n =?UTF-8?B?w6g=?="), 0);
    transport_subject(f, buf_cstr(&longer), got, sizeof(got));
    assert_memory_equal(got, "=?UTF-8?B?w6g=?= =?UTF-8?B?w6g=?=", 33);
    buf_free(&longer);
}

/* A peer service b.example, trusted (its certificate is the trusted
 * bundle), with shortened waits; the flow made again to read them. */
static void add_peer(struct fixture *f)
{
    char crt[CERTIFY_PATH_MAX], key[CERTIFY_PATH_MAX], fpr[CERTIFY_FINGERPRINT_LEN];
    char *err = NULL;
    assert_int_equal(certify_key_paths(f->cfg, "b.example", crt, sizeof(crt), key, sizeof(key)), 0);
    assert_int_equal(certify_keygen(crt, key, "b.example", fpr, &err), 0);
    assert_int_equal(config_set(f->cfg, "certified_trusted", crt, &err), 0);
    assert_int_equal(config_set(f->cfg, "certified_warning_after", "100s", &err), 0);
    assert_int_equal(config_set(f->cfg, "certified_failure_after", "200s", &err), 0);
    certify_flow_free(&f->flow);
    f->flow = certify_flow_new(f->cfg, resolve, f);
}

/* A delivery receipt of b.example for rcpt of the message msgid. */
static void peer_receipt(struct fixture *f, const char *msgid, const char *rcpt, struct buf *out)
{
    char *err = NULL;
    struct certify_signer *s = certify_signer_load(f->cfg, "b.example", &err);
    assert_non_null(s);
    struct certify_data d;
    certify_data_init(&d);
    d.type = CERTIFY_DELIVERY;
    str_copy(d.sender, sizeof(d.sender), "alice@a.example");
    str_copy(d.subject, sizeof(d.subject), "contract");
    str_copy(d.msgid, sizeof(d.msgid), msgid);
    str_copy(d.service, sizeof(d.service), "b.example");
    str_copy(d.delivery, sizeof(d.delivery), rcpt);
    d.has_receipt_kind = true;
    d.receipt = CERTIFY_RECEIPT_SUMMARY;
    certify_new_id("b.example", d.id);
    d.time = time(NULL);
    const char *why;
    assert_int_equal(certify_data_add_recipient(&d, rcpt, true, &why), 0);
    struct certify_build b = {.data = &d, .to = "alice@a.example"};
    assert_int_equal(certify_receipt_build(s, &b, out, &err), 0);
    certify_data_free(&d);
    certify_signer_free(&s);
}

/* Handed over to a peer: the delivery receipt is awaited. None: the
 * warning, then the final notice, once each. One that comes back (also
 * before the handover is recorded) ends the wait. Recipients of ours, of
 * uncertified domains, and messages that are not envelopes are not
 * followed. */
static void test_handover(void **state)
{
    struct fixture *f = *state;
    add_peer(f);
    static const char *const rcpts[] = {"bob@b.example", "carol@b.example", "dan@b.example",
                                        "eve@c.example"};
    struct envelope env;
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    struct certify_submit cs;
    assert_int_equal(submit(f, original, "alice@a.example", rcpts, 4, true, &env, &out, &cs),
                     CERTIFY_REPLACED);
    certify_flow_deferred_run(f->flow, &cs.deferred, false);
    envelope_free(&env);
    const char *e = buf_cstr(&out);
    size_t elen = out.len;
    time_t now = time(NULL);

    /* dan's receipt comes before his handover is recorded */
    struct buf r;
    buf_init(&r, BUF_UNLIMITED);
    peer_receipt(f, "<m1@a.example>", "dan@b.example", &r);
    static const char *const alice[] = {"alice@a.example"};
    struct buf ignored;
    buf_init(&ignored, BUF_UNLIMITED);
    assert_int_equal(submit(f, buf_cstr(&r), "", alice, 1, false, &env, &ignored, &cs),
                     CERTIFY_STORE);
    envelope_free(&env);

    assert_true(certify_flow_handed_over(f->flow, "Q1", e, elen, "bob@b.example", "mx.b.example"));
    assert_true(certify_flow_handed_over(f->flow, "Q1", e, elen, "carol@b.example", NULL));
    assert_false(certify_flow_handed_over(f->flow, "Q1", e, elen, "dan@b.example", NULL));
    assert_false(certify_flow_handed_over(f->flow, "Q1", e, elen, "eve@c.example", NULL));
    assert_false(certify_flow_handed_over(f->flow, "Q1", e, elen, "bob@a.example", NULL));
    assert_false(
        certify_flow_handed_over(f->flow, "Q2", original, strlen(original), "bob@b.example", NULL));

    /* carol's receipt comes back */
    buf_reset(&r);
    peer_receipt(f, "<m1@a.example>", "carol@b.example", &r);
    assert_int_equal(submit(f, buf_cstr(&r), "", alice, 1, false, &env, &ignored, &cs),
                     CERTIFY_STORE);
    envelope_free(&env);

    size_t n;
    char **msgs;
    certify_flow_chase(f->flow, now + 50);
    msgs = queued(f, &n);
    assert_int_equal(n, 0);
    free_all(msgs, n);
    certify_flow_chase(f->flow, now + 150);
    certify_flow_chase(f->flow, now + 151);
    msgs = queued(f, &n);
    assert_int_equal(n, 1);
    const char *w = find_type(msgs, n, "warning");
    assert_non_null(w);
    char *err = NULL;
    X509_STORE *store = certify_trust_load(f->cfg, &err);
    assert_non_null(store);
    struct certify_verify_result vr;
    certify_verify(strstr(w, "From: "), strlen(strstr(w, "From: ")), store, &vr);
    assert_int_equal(vr.verdict, CERTIFY_VALID);
    assert_int_equal(vr.data.type, CERTIFY_WARNING);
    assert_int_equal(vr.data.error, CERTIFY_ERR_TIMEOUT);
    assert_string_equal(vr.data.delivery, "bob@b.example");
    assert_string_equal(vr.data.msgid, "<m1@a.example>");
    certify_data_free(&vr.data);
    X509_STORE_free(store);
    free_all(msgs, n);
    certify_flow_chase(f->flow, now + 250);
    certify_flow_chase(f->flow, now + 9999);
    msgs = queued(f, &n);
    assert_int_equal(n, 2);
    assert_non_null(find_type(msgs, n, "final-failure"));
    free_all(msgs, n);
    buf_free(&r);
    buf_free(&ignored);
    buf_free(&out);
}

/* Refusals: a From that is not the sender, a bad receipt type, a
 * certified message sent again; each with a non-acceptance notice. */
static void test_refusals(void **state)
{
    struct fixture *f = *state;
    static const char *const rcpts[] = {"carol@c.example"};
    static const struct {
        const char *from, *to;
    } edits[] = {
        {"From: Alice <alice@a.example>", "From: Boss <boss@a.example>"},
        {"Subject: contract\r\n", "Subject: contract\r\nX-Certified-Receipt-Type: long\r\n"},
        {"Subject: contract\r\n", "Subject: contract\r\nX-Certified-Type: delivery\r\n"},
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        struct buf msg;
        buf_init(&msg, BUF_UNLIMITED);
        const char *at = strstr(original, edits[i].from);
        buf_append(&msg, original, (size_t)(at - original));
        buf_append_str(&msg, edits[i].to);
        buf_append_str(&msg, at + strlen(edits[i].from));
        struct envelope env;
        struct buf out;
        buf_init(&out, BUF_UNLIMITED);
        struct certify_submit cs;
        assert_int_equal(
            submit(f, buf_cstr(&msg), "alice@a.example", rcpts, 1, true, &env, &out, &cs),
            CERTIFY_REFUSE);
        assert_string_equal(cs.enh, "5.7.1");
        assert_non_null(strstr(cs.reply, "not accepted"));
        assert_int_equal(out.len, 0);
        envelope_free(&env);
        buf_free(&out);
        buf_free(&msg);
    }
    size_t n;
    char **msgs = queued(f, &n);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        assert_non_null(strstr(msgs[i], "X-Certified-Type: non-acceptance\r\n"));
    free_all(msgs, n);
    /* Not by submission, or not a certified sender: nothing. */
    certify_flow_refused(f->flow, "Q", "alice@a.example", false, original, strlen(original),
                         CERTIFY_ERR_VIRUS, "virus");
    certify_flow_refused(f->flow, "Q", "carol@c.example", true, original, strlen(original),
                         CERTIFY_ERR_VIRUS, "virus");
    certify_flow_refused(f->flow, "Q", "alice@a.example", true, NULL, 0, CERTIFY_ERR_VIRUS,
                         "virus found");
    msgs = queued(f, &n);
    assert_int_equal(n, 4);
    free_all(msgs, n);
}

/* Plain mail for a certified mailbox and another: the certified one gets
 * an anomaly envelope (and leaves the original's recipients). */
static void test_anomaly(void **state)
{
    struct fixture *f = *state;
    static const char *const rcpts[] = {"bob@a.example", "carol@c.example"};
    struct envelope env;
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    struct certify_submit cs;
    assert_int_equal(submit(f, original, "x@c.example", rcpts, 2, false, &env, &out, &cs),
                     CERTIFY_STORE);
    assert_int_equal(env.nrcpts, 1);
    assert_string_equal(env.rcpts[0].addr, "carol@c.example");
    envelope_free(&env);
    size_t n;
    char **msgs = queued(f, &n);
    assert_int_equal(n, 1);
    const char *a = find_type(msgs, n, "anomaly");
    assert_non_null(a);
    assert_non_null(strstr(a, "X-Certified-Transport: anomaly\r\n"));
    assert_int_equal(verify(f, strstr(a, "From: ")), CERTIFY_VALID);
    free_all(msgs, n);
    /* A tampered certified message is an anomaly too. */
    struct buf fake;
    buf_init(&fake, BUF_UNLIMITED);
    buf_append_str(&fake, "X-Certified-Type: delivery\r\n");
    buf_append_str(&fake, original);
    static const char *const bob[] = {"bob@a.example"};
    assert_int_equal(submit(f, buf_cstr(&fake), "x@c.example", bob, 1, false, &env, &out, &cs),
                     CERTIFY_STORE);
    assert_int_equal(env.nrcpts, 0);
    envelope_free(&env);
    buf_free(&fake);
    buf_free(&out);
    /* Nothing certified for anyone else: not touched. */
    static const char *const carol[] = {"carol@c.example"};
    assert_int_equal(submit(f, original, "x@c.example", carol, 1, false, &env, &out, &cs),
                     CERTIFY_STORE);
    assert_int_equal(env.nrcpts, 1);
    envelope_free(&env);
    msgs = queued(f, &n);
    assert_int_equal(n, 2);
    free_all(msgs, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_submission_and_outcomes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_committed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encoded_subject, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_anomaly, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
