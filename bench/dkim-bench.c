/* dkim-bench: DKIM verifications per second of one message with postino's
 * verifier (src/auth/dkim-verify.h), for an RSA-2048 and an Ed25519
 * signature, next to what the signature check alone costs in OpenSSL.
 * Built only when asked for (`ninja -C build bench/dkim-bench`); run by
 * bench/dkim, see bench/README.md.
 *
 *   dkim-bench [--seconds S] [--size BYTES] [--only rsa2048|ed25519]
 *              [--rsa-key PEM] [--ed25519-key PEM] [--measure NAME] [--json]
 *
 * For each key it builds a message of --size bytes (typical header
 * fields, a body of text lines, CRLF), signs it once with postino's
 * signer (relaxed/relaxed), adds two Received fields above the signature
 * as relays would, and then times, each for S seconds of wall-clock time:
 *
 *   dkim_verify       the full verification: new verifier, the whole
 *                     message fed at once, the key record given from an
 *                     in-memory cache (its TXT text), end, results (which
 *                     must be one pass, or the program aborts), free; the
 *                     verifier keeps parsed keys across messages in a
 *                     dkim_key_cache, as smtpd does
 *   raw_verify        OpenSSL's check of one signature over a 32-byte
 *                     SHA-256 digest, done as the verifier does it (a new
 *                     context per check): RSA PKCS#1 v1.5 with SHA-256
 *                     (EVP_PKEY_verify), Ed25519 over the digest (RFC 8463,
 *                     EVP_DigestVerify)
 *   raw_verify_reused the same check on a context made once, as `openssl
 *                     speed` does
 *   feed_end          the verifier without results: new, feed, key given,
 *                     end, free (header split, signature parse, body
 *                     canonicalization and hash; no key parse, no header
 *                     hash, no signature check)
 *   body_hash         the relaxed body canonicalization and SHA-256 of the
 *                     body alone (dkim_body_hash_*)
 *   key_parse         dkim_key_parse of the key record (base64 and DER
 *                     decoding into an EVP_PKEY) and dkim_key_free
 *
 * --measure NAME runs only that measurement (to profile it with perf).
 *
 * Rates are operations per second of the process's CPU time (user and
 * system), as `openssl speed` counts per second of user time; the
 * wall-clock rate is printed too. Exits 0, 1 on a failure (a verification
 * that does not pass, an OpenSSL error), 2 on a usage error. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "auth/dkim-canon.h"
#include "auth/dkim-key-cache.h"
#include "auth/dkim-key.h"
#include "auth/dkim-sign.h"
#include "auth/dkim-verify.h"
#include "lib/buf.h"

#define BENCH_DOMAIN     "bench.test"
#define DEFAULT_SECONDS  3.0
#define DEFAULT_SIZE     20480
#define WARMUP_SECONDS   0.2
#define BODY_LINE_MAX    72
#define KEY_RECORD_MAX   4096
#define MEASUREMENTS     6
#define MIN_MESSAGE_SIZE 1024
#define MAX_MESSAGE_SIZE (64 * 1024 * 1024)

/* One key type under test, with what the timed loops need. */
struct bench_key {
    const char *name;            /* "rsa2048", "ed25519": also the selector */
    const char *alg;             /* a= of the signature */
    EVP_PKEY *pkey;              /* the private key (its public half verifies) */
    char record[KEY_RECORD_MAX]; /* the TXT record: "v=DKIM1; k=...; p=..." */
    char record_name[256];       /* "selector._domainkey.bench.test" */
    struct buf message;          /* the signed message, as received */
    const char *body;            /* into message: after the empty line */
    size_t body_len;
    unsigned char digest[32]; /* what the raw checks verify */
    unsigned char sig[512];   /* the signature of digest */
    size_t sig_len;
    EVP_PKEY_CTX *reused_pctx; /* RSA: made and initialised once */
    EVP_MD_CTX *reused_mctx;   /* Ed25519: made and initialised once */
};

/* The in-memory key cache: key record names and their TXT text. */
struct key_cache {
    const char *name[2];
    const char *txt[2];
    size_t count;
};

static struct key_cache cache;
static struct dkim_verify_params verify_params;

__attribute__((noreturn)) static void usage(void)
{
    fprintf(stderr, "usage: dkim-bench [--seconds S] [--size BYTES] [--only rsa2048|ed25519]\n"
                    "                  [--rsa-key PEM] [--ed25519-key PEM] [--measure NAME] "
                    "[--json]\n");
    exit(2);
}

/* Print the reason and OpenSSL's error queue, and exit 1. */
__attribute__((noreturn)) static void die(const char *what)
{
    fprintf(stderr, "dkim-bench: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A measurement: how many operations in how much time. */
struct rate {
    const char *what;
    unsigned long long ops;
    double wall_s;
    double cpu_s;
};

/* Run op(key) over and over for `seconds` of wall-clock time (after an
 * untimed warm-up) and count. The clock is read between operations: the
 * wall clock is a vDSO call, tens of nanoseconds. */
static struct rate bench_loop(const char *what, double seconds, void (*op)(struct bench_key *),
                              struct bench_key *k)
{
    double warm_end = clock_s(CLOCK_MONOTONIC) + WARMUP_SECONDS;
    while (clock_s(CLOCK_MONOTONIC) < warm_end)
        op(k);
    struct rate r = {.what = what};
    double cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    double wall0 = clock_s(CLOCK_MONOTONIC);
    double end = wall0 + seconds, wall;
    do {
        op(k);
        r.ops++;
        wall = clock_s(CLOCK_MONOTONIC);
    } while (wall < end);
    r.cpu_s = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    r.wall_s = wall - wall0;
    return r;
}

static double per_cpu_s(const struct rate *r)
{
    return r->cpu_s > 0 ? (double)r->ops / r->cpu_s : 0;
}

static double per_wall_s(const struct rate *r)
{
    return r->wall_s > 0 ? (double)r->ops / r->wall_s : 0;
}

/* ---------------------------------------------------------------------
 * the message */

/* A small deterministic generator, so every run has the same text. */
static unsigned long long rng_state = 0x2545f4914f6cdd1dULL;

static unsigned rng_next(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static const char *const words[] = {
    "the",       "mail",     "server",   "queue",    "message", "delivery", "report", "quarter",
    "figures",   "and",      "of",       "to",       "in",      "we",       "will",   "a",
    "customer",  "support",  "network",  "latency",  "results", "meeting",  "agenda", "draft",
    "please",    "review",   "attached", "notes",    "before",  "Friday",   "team",   "budget",
    "increase",  "by",       "percent",  "compared", "with",    "last",     "year",   "is",
    "expected",  "schedule", "release",  "version",  "update",  "changes",  "list",   "for",
    "questions", "thanks",   "regards",  "project",  "plan",    "status",   "on",     "track",
};

/* Append one line of exactly len bytes of words (len >= 1) and a CRLF. */
static void add_text_line(struct buf *b, size_t len)
{
    size_t start = b->len;
    while (b->len - start < len) {
        const char *w = words[rng_next(sizeof(words) / sizeof(words[0]))];
        if (b->len > start)
            buf_append_char(b, ' ');
        buf_append_str(b, w);
    }
    buf_truncate(b, start + len);
    if (b->data[b->len - 1] == ' ')
        b->data[b->len - 1] = '.';
    buf_append(b, "\r\n", 2);
}

/* The unsigned message of exactly size bytes: header fields, the empty
 * line, then paragraphs of text lines. Returns -1 if size is too small. */
static int build_message(struct buf *m, size_t size)
{
    buf_printf(m, "From: Alice Example <alice@" BENCH_DOMAIN ">\r\n"
                  "To: Bob Example <bob@example.org>, Carol Example <carol@example.org>\r\n"
                  "Subject: Quarterly report: figures, notes and the plan for the next\r\n"
                  " quarter\r\n"
                  "Date: Sat, 28 Nov 2026 06:00:00 +0000\r\n"
                  "Message-ID: <20261128060000.4f2a9c1e@mail." BENCH_DOMAIN ">\r\n"
                  "MIME-Version: 1.0\r\n"
                  "Content-Type: text/plain; charset=utf-8; format=flowed\r\n"
                  "Content-Transfer-Encoding: 8bit\r\n"
                  "\r\n");
    if (m->len + 8 > size)
        return -1;
    size_t left = size - m->len, in_paragraph = 0;
    while (left > 0) {
        if (in_paragraph >= 6 + rng_next(6) && left > 2 + 3) {
            buf_append(m, "\r\n", 2);
            left -= 2;
            in_paragraph = 0;
            continue;
        }
        size_t len = 40 + rng_next(BODY_LINE_MAX - 40 + 1);
        /* the last line takes what is left; never leave less than a line */
        if (len + 2 > left || left - (len + 2) < 3 + 2)
            len = left - 2;
        add_text_line(m, len);
        left -= len + 2;
        in_paragraph++;
    }
    return 0;
}

/* ---------------------------------------------------------------------
 * keys */

static EVP_PKEY *load_key(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!k)
        die("cannot read the private key");
    return k;
}

/* The key record (TXT text) that publishes k's public key. */
static void make_record(struct bench_key *k)
{
    unsigned char der[DKIM_KEY_DATA_MAX];
    size_t n = sizeof(der);
    const char *type;
    if (EVP_PKEY_get_base_id(k->pkey) == EVP_PKEY_ED25519) {
        type = "ed25519";
        if (EVP_PKEY_get_raw_public_key(k->pkey, der, &n) != 1)
            die("Ed25519 public key");
    } else {
        type = "rsa";
        int len = i2d_PUBKEY(k->pkey, NULL);
        if (len <= 0 || (size_t)len > sizeof(der))
            die("RSA public key");
        unsigned char *p = der;
        n = (size_t)i2d_PUBKEY(k->pkey, &p);
    }
    unsigned char b64[DKIM_KEY_DATA_MAX * 4 / 3 + 4];
    EVP_EncodeBlock(b64, der, (int)n);
    int len = snprintf(k->record, sizeof(k->record), "v=DKIM1; k=%s; p=%s", type, b64);
    if (len < 0 || (size_t)len >= sizeof(k->record))
        die("key record too long");
    len = snprintf(k->record_name, sizeof(k->record_name), "%s._domainkey." BENCH_DOMAIN, k->name);
    if (len < 0 || (size_t)len >= sizeof(k->record_name))
        die("key record name too long");
}

/* Sign the message with postino's signer and keep it as a verifier would
 * receive it: two Received fields, the DKIM-Signature field, the message. */
static void sign_message(struct bench_key *k, const struct buf *msg)
{
    struct dkim_sign_params p = {
        .domain = BENCH_DOMAIN, .selector = k->name, .key = k->pkey, .now = time(NULL)};
    struct buf field;
    buf_init(&field, BUF_UNLIMITED);
    const char *err = NULL;
    if (dkim_sign_message(&p, msg->data, msg->len, &field, &err) < 0) {
        fprintf(stderr, "dkim-bench: signing with %s: %s\n", k->name, err);
        exit(1);
    }
    buf_init(&k->message, BUF_UNLIMITED);
    buf_printf(&k->message,
               "Received: from mail." BENCH_DOMAIN " (mail." BENCH_DOMAIN " [192.0.2.25])\r\n"
               "\tby mx.example.org (postino) with ESMTPS id 4Q2v7W1xKzz9sRk\r\n"
               "\tfor <bob@example.org>; Sat, 28 Nov 2026 06:00:02 +0000\r\n"
               "Received: from [198.51.100.7] (client.example.net [198.51.100.7])\r\n"
               "\tby mail." BENCH_DOMAIN " (postino) with ESMTPSA id 4Q2v7V6hSbz1xyz\r\n"
               "\tfor <bob@example.org>; Sat, 28 Nov 2026 06:00:01 +0000\r\n");
    buf_append(&k->message, field.data, field.len);
    buf_append(&k->message, msg->data, msg->len);
    buf_free(&field);
    const char *m = k->message.data;
    const char *eoh = memmem(m, k->message.len, "\r\n\r\n", 4);
    if (!eoh)
        die("no end of header");
    k->body = eoh + 4;
    k->body_len = k->message.len - (size_t)(k->body - m);
}

/* A signature of a fixed digest, made as the signer makes DKIM's. */
static void sign_digest(struct bench_key *k)
{
    EVP_Digest("dkim-bench", 10, k->digest, NULL, EVP_sha256(), NULL);
    k->sig_len = sizeof(k->sig);
    int ok;
    if (EVP_PKEY_get_base_id(k->pkey) == EVP_PKEY_ED25519) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestSign(md, k->sig, &k->sig_len, k->digest, 32) == 1;
        EVP_MD_CTX_free(md);
    } else {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pkey, NULL);
        ok = ctx && EVP_PKEY_sign_init(ctx) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
             EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
             EVP_PKEY_sign(ctx, k->sig, &k->sig_len, k->digest, 32) == 1;
        EVP_PKEY_CTX_free(ctx);
    }
    if (!ok)
        die("signing the digest");
}

/* ---------------------------------------------------------------------
 * the timed operations */

static void op_dkim_verify(struct bench_key *k)
{
    struct dkim_verify *v = dkim_verify_new(&verify_params);
    if (dkim_verify_feed(v, k->message.data, k->message.len) < 0)
        die("dkim_verify_feed refused the message");
    const char *const *names;
    size_t n = dkim_verify_key_names(v, &names);
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < cache.count && strcasecmp(cache.name[j], names[i]) != 0)
            j++;
        if (j < cache.count)
            dkim_verify_set_key(v, names[i], DKIM_KEY_FOUND, cache.txt[j], strlen(cache.txt[j]));
        else
            dkim_verify_set_key(v, names[i], DKIM_KEY_NONE, NULL, 0);
    }
    dkim_verify_end(v);
    const struct dkim_result *r;
    size_t count = dkim_verify_results(v, &r);
    if (count != 1 || r[0].status != DKIM_PASS) {
        fprintf(stderr, "dkim-bench: %s: %s (%s)\n", k->name,
                count ? dkim_status_name(r[0].status) : "no result",
                count ? r[0].reason : "no signature");
        exit(1);
    }
    dkim_verify_free(&v);
}

static void op_feed_end(struct bench_key *k)
{
    struct dkim_verify *v = dkim_verify_new(&verify_params);
    if (dkim_verify_feed(v, k->message.data, k->message.len) < 0)
        die("dkim_verify_feed refused the message");
    dkim_verify_set_key(v, k->record_name, DKIM_KEY_FOUND, k->record, strlen(k->record));
    dkim_verify_end(v);
    dkim_verify_free(&v);
}

static void op_raw_verify(struct bench_key *k)
{
    int vr = -1;
    if (EVP_PKEY_get_base_id(k->pkey) == EVP_PKEY_ED25519) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, k->pkey) == 1)
            vr = EVP_DigestVerify(md, k->sig, k->sig_len, k->digest, 32);
        EVP_MD_CTX_free(md);
    } else {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pkey, NULL);
        if (ctx && EVP_PKEY_verify_init(ctx) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
            EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1)
            vr = EVP_PKEY_verify(ctx, k->sig, k->sig_len, k->digest, 32);
        EVP_PKEY_CTX_free(ctx);
    }
    if (vr != 1)
        die("raw signature check failed");
}

static void op_raw_verify_reused(struct bench_key *k)
{
    int vr;
    if (k->reused_mctx)
        vr = EVP_DigestVerify(k->reused_mctx, k->sig, k->sig_len, k->digest, 32);
    else
        vr = EVP_PKEY_verify(k->reused_pctx, k->sig, k->sig_len, k->digest, 32);
    if (vr != 1)
        die("raw signature check (reused context) failed");
}

static void op_body_hash(struct bench_key *k)
{
    struct dkim_body_hash h;
    unsigned char digest[32];
    uint64_t total;
    if (dkim_body_hash_init(&h, DKIM_CANON_RELAXED, DKIM_BODY_UNLIMITED) < 0)
        die("dkim_body_hash_init");
    dkim_body_hash_update(&h, k->body, k->body_len);
    if (dkim_body_hash_final(&h, digest, &total) < 0)
        die("dkim_body_hash_final");
}

static void op_key_parse(struct bench_key *k)
{
    struct dkim_key key;
    const char *err;
    if (dkim_key_parse(k->record, strlen(k->record), &key, &err) < 0)
        die(err);
    dkim_key_free(&key);
}

/* The measurements, in the order they run and are printed (dkim_verify
 * first, raw_verify_reused third: print_text compares them). */
static const struct {
    const char *name;
    void (*op)(struct bench_key *);
} measures[MEASUREMENTS] = {
    {"dkim_verify", op_dkim_verify},
    {"raw_verify", op_raw_verify},
    {"raw_verify_reused", op_raw_verify_reused},
    {"feed_end", op_feed_end},
    {"body_hash", op_body_hash},
    {"key_parse", op_key_parse},
};

/* Make the contexts that raw_verify_reused uses, as openssl speed does. */
static void make_reused(struct bench_key *k)
{
    if (EVP_PKEY_get_base_id(k->pkey) == EVP_PKEY_ED25519) {
        k->reused_mctx = EVP_MD_CTX_new();
        if (!k->reused_mctx || EVP_DigestVerifyInit(k->reused_mctx, NULL, NULL, NULL, k->pkey) != 1)
            die("Ed25519 verify context");
    } else {
        k->reused_pctx = EVP_PKEY_CTX_new(k->pkey, NULL);
        if (!k->reused_pctx || EVP_PKEY_verify_init(k->reused_pctx) != 1 ||
            EVP_PKEY_CTX_set_rsa_padding(k->reused_pctx, RSA_PKCS1_PADDING) != 1 ||
            EVP_PKEY_CTX_set_signature_md(k->reused_pctx, EVP_sha256()) != 1)
            die("RSA verify context");
    }
}

static void free_key(struct bench_key *k)
{
    EVP_PKEY_CTX_free(k->reused_pctx);
    EVP_MD_CTX_free(k->reused_mctx);
    EVP_PKEY_free(k->pkey);
    buf_free(&k->message);
}

/* ---------------------------------------------------------------------
 * output */

static void print_json_rate(const struct rate *r, const char *sep)
{
    printf("        \"%s\": {\"ops\": %llu, \"cpu_s\": %.6f, \"wall_s\": %.6f, "
           "\"per_s\": %.1f, \"per_s_wall\": %.1f, \"us_each\": %.3f}%s\n",
           r->what, r->ops, r->cpu_s, r->wall_s, per_cpu_s(r), per_wall_s(r),
           r->ops ? r->cpu_s * 1e6 / (double)r->ops : 0.0, sep);
}

static void print_text(const struct bench_key *k, const struct rate *rates, size_t n)
{
    printf("%s (%s, record %zu bytes), message %zu bytes, body %zu bytes:\n", k->name, k->alg,
           strlen(k->record), k->message.len, k->body_len);
    for (size_t i = 0; i < n; i++)
        printf("  %-18s %10.1f /s  %9.2f us each  (%10.1f /s wall, %llu in %.2f s)\n",
               rates[i].what, per_cpu_s(&rates[i]),
               rates[i].ops ? rates[i].cpu_s * 1e6 / (double)rates[i].ops : 0.0,
               per_wall_s(&rates[i]), rates[i].ops, rates[i].wall_s);
    if (n == MEASUREMENTS)
        printf("  ratio dkim_verify / raw_verify_reused: %.3f\n",
               per_cpu_s(&rates[2]) > 0 ? per_cpu_s(&rates[0]) / per_cpu_s(&rates[2]) : 0.0);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"seconds", required_argument, NULL, 's'},
        {"size", required_argument, NULL, 'n'},
        {"only", required_argument, NULL, 'o'},
        {"rsa-key", required_argument, NULL, 'r'},
        {"ed25519-key", required_argument, NULL, 'e'},
        {"json", no_argument, NULL, 'j'},
        {"measure", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double seconds = DEFAULT_SECONDS;
    size_t size = DEFAULT_SIZE;
    const char *only = NULL, *rsa_path = NULL, *ed_path = NULL, *measure = NULL;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 's':
            seconds = strtod(optarg, &end);
            if (*end || !(seconds > 0 && seconds <= 3600))
                usage();
            break;
        case 'n': {
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || v < MIN_MESSAGE_SIZE || v > MAX_MESSAGE_SIZE)
                usage();
            size = (size_t)v;
            break;
        }
        case 'o':
            if (strcmp(optarg, "rsa2048") != 0 && strcmp(optarg, "ed25519") != 0)
                usage();
            only = optarg;
            break;
        case 'r':
            rsa_path = optarg;
            break;
        case 'e':
            ed_path = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'm':
            measure = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind != argc)
        usage();
    if (measure) {
        size_t j = 0;
        while (j < MEASUREMENTS && strcmp(measure, measures[j].name) != 0)
            j++;
        if (j == MEASUREMENTS)
            usage();
    }

    struct buf msg;
    buf_init(&msg, BUF_UNLIMITED);
    if (build_message(&msg, size) < 0)
        usage();
    verify_params.now = time(NULL);
    verify_params.key_cache = dkim_key_cache_new(DKIM_KEY_CACHE_ENTRIES);

    struct bench_key keys[2] = {
        {.name = "rsa2048", .alg = "rsa-sha256"},
        {.name = "ed25519", .alg = "ed25519-sha256"},
    };
    keys[0].pkey = rsa_path ? load_key(rsa_path) : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", 2048);
    keys[1].pkey = ed_path ? load_key(ed_path) : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!keys[0].pkey || !keys[1].pkey)
        die("key generation");
    if (EVP_PKEY_get_base_id(keys[0].pkey) != EVP_PKEY_RSA ||
        EVP_PKEY_get_bits(keys[0].pkey) != 2048 ||
        EVP_PKEY_get_base_id(keys[1].pkey) != EVP_PKEY_ED25519)
        die("--rsa-key must be RSA-2048 and --ed25519-key Ed25519");
    for (size_t i = 0; i < 2; i++) {
        make_record(&keys[i]);
        sign_message(&keys[i], &msg);
        sign_digest(&keys[i]);
        make_reused(&keys[i]);
        cache.name[cache.count] = keys[i].record_name;
        cache.txt[cache.count] = keys[i].record;
        cache.count++;
    }

    if (json)
        printf("{\n  \"openssl\": \"%s\",\n  \"size\": %zu,\n  \"seconds\": %.3f,\n"
               "  \"rate_basis\": \"process CPU time\",\n  \"keys\": [\n",
               OpenSSL_version(OPENSSL_VERSION), size, seconds);
    else
        printf("dkim-bench: %s; message of %zu bytes before signing; %.1f s per "
               "measurement; rates per CPU second\n",
               OpenSSL_version(OPENSSL_VERSION), size, seconds);
    int first = 1;
    for (size_t i = 0; i < 2; i++) {
        struct bench_key *k = &keys[i];
        if (only && strcmp(only, k->name) != 0)
            continue;
        struct rate rates[MEASUREMENTS];
        size_t n = 0;
        for (size_t j = 0; j < MEASUREMENTS; j++) {
            if (!measure || strcmp(measure, measures[j].name) == 0)
                rates[n++] = bench_loop(measures[j].name, seconds, measures[j].op, k);
        }
        if (!json) {
            print_text(k, rates, n);
            fflush(stdout);
            continue;
        }
        printf("%s    {\n      \"key\": \"%s\",\n      \"algorithm\": \"%s\",\n"
               "      \"record_bytes\": %zu,\n      \"message_bytes\": %zu,\n"
               "      \"body_bytes\": %zu,\n      \"rates\": {\n",
               first ? "" : ",\n", k->name, k->alg, strlen(k->record), k->message.len, k->body_len);
        for (size_t j = 0; j < n; j++)
            print_json_rate(&rates[j], j + 1 < n ? "," : "");
        printf("      }\n    }");
        first = 0;
        fflush(stdout);
    }
    if (json)
        printf("\n  ]\n}\n");
    for (size_t i = 0; i < 2; i++)
        free_key(&keys[i]);
    dkim_key_cache_free(&verify_params.key_cache);
    buf_free(&msg);
    return 0;
}
