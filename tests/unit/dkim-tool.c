/* dkim-tool: sign or verify a message file with postino's DKIM code, for
 * the interoperability tests (tests/integration/test_dkim_interop.py).
 * Built only with the tests; not installed.
 *
 *   dkim-tool sign -d DOMAIN -s SELECTOR -k KEY.pem [-t TIME] [-i IDENTITY] [FILE]
 *       writes the signed message (the new DKIM-Signature field, then the
 *       message) to standard output
 *   dkim-tool verify [-t TIME] [-l] [-D DNSFILE] [-T NAME=TXT]... [FILE]
 *       prints one line per signature: "STATUS d=... s=... a=... b=...
 *       (reason)", "none" if there is none; exits 0 if there is at least
 *       one signature and all pass, 1 otherwise, 2 on a usage error
 *
 * A DNSFILE has lines "selector._domainkey.domain TXT..."; a name without
 * a record is answered as NXDOMAIN. A message without any CR has its LF
 * line ends turned into CRLF. FILE defaults to standard input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "auth/dkim-sign.h"
#include "auth/dkim-verify.h"
#include "lib/buf.h"
#include "lib/xalloc.h"

#define MAX_RECORDS 64

__attribute__((noreturn)) static void usage(void)
{
    fprintf(stderr, "usage: dkim-tool sign -d DOMAIN -s SELECTOR -k KEY.pem [-t TIME] "
                    "[-i IDENTITY] [FILE]\n"
                    "       dkim-tool verify [-t TIME] [-l] [-D DNSFILE] [-T NAME=TXT]... "
                    "[FILE]\n");
    exit(2);
}

/* Read all of a file (or stdin for NULL / "-") into b. */
static int read_all(const char *path, struct buf *b)
{
    FILE *f = (!path || strcmp(path, "-") == 0) ? stdin : fopen(path, "rb");
    if (!f)
        return -1;
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        buf_append(b, tmp, n);
    if (f != stdin)
        fclose(f);
    return 0;
}

/* The message as CRLF text: LF becomes CRLF when there is no CR at all. */
static void to_crlf(struct buf *in, struct buf *out)
{
    bool has_cr = in->len && memchr(in->data, '\r', in->len);
    for (size_t i = 0; i < in->len; i++) {
        if (!has_cr && in->data[i] == '\n')
            buf_append_char(out, '\r');
        buf_append_char(out, in->data[i]);
    }
}

static int cmd_sign(int argc, char **argv)
{
    struct dkim_sign_params p = {.now = time(NULL)};
    const char *keyfile = NULL;
    int c;
    while ((c = getopt(argc, argv, "d:s:k:t:i:")) != -1) {
        switch (c) {
        case 'd':
            p.domain = optarg;
            break;
        case 's':
            p.selector = optarg;
            break;
        case 'k':
            keyfile = optarg;
            break;
        case 't':
            p.now = (time_t)strtoll(optarg, NULL, 10);
            break;
        case 'i':
            p.identity = optarg;
            break;
        default:
            usage();
        }
    }
    if (!p.domain || !p.selector || !keyfile || argc - optind > 1)
        usage();
    FILE *kf = fopen(keyfile, "r");
    if (!kf) {
        perror(keyfile);
        return 2;
    }
    p.key = PEM_read_PrivateKey(kf, NULL, NULL, NULL);
    fclose(kf);
    if (!p.key) {
        fprintf(stderr, "dkim-tool: %s: not a PEM private key\n", keyfile);
        return 2;
    }
    struct buf raw, msg, out;
    buf_init(&raw, BUF_UNLIMITED);
    buf_init(&msg, BUF_UNLIMITED);
    buf_init(&out, BUF_UNLIMITED);
    if (read_all(argv[optind], &raw) < 0) {
        perror(argv[optind]);
        return 2;
    }
    to_crlf(&raw, &msg);
    const char *err = NULL;
    struct dkim_sign *s = dkim_sign_new(&p, &err);
    int r = 1;
    if (s) {
        /* in pieces, as a server would */
        for (size_t i = 0; i < msg.len; i += 1000)
            dkim_sign_feed(s, msg.data + i, msg.len - i < 1000 ? msg.len - i : 1000);
        if (dkim_sign_finish(s, &out, &err) == 0)
            r = 0;
        dkim_sign_free(&s);
    }
    if (r == 0) {
        fwrite(out.data, 1, out.len, stdout);
        fwrite(msg.data, 1, msg.len, stdout);
    } else {
        fprintf(stderr, "dkim-tool: sign: %s\n", err);
    }
    EVP_PKEY_free(p.key);
    buf_free(&raw);
    buf_free(&msg);
    buf_free(&out);
    return r;
}

struct records {
    char *name[MAX_RECORDS];
    char *txt[MAX_RECORDS];
    size_t count;
};

/* Add "NAME TXT" or "NAME=TXT" (sep) to recs. */
static void add_record(struct records *recs, const char *line, char sep)
{
    const char *s = strchr(line, sep);
    if (!s || recs->count == MAX_RECORDS)
        usage();
    recs->name[recs->count] = xstrndup(line, (size_t)(s - line));
    size_t n = strlen(s + 1);
    while (n > 0 && (s[n] == '\n' || s[n] == '\r'))
        n--;
    recs->txt[recs->count] = xstrndup(s + 1, n);
    recs->count++;
}

static int cmd_verify(int argc, char **argv)
{
    struct dkim_verify_params p = {.now = time(NULL)};
    struct records recs = {0};
    int c;
    while ((c = getopt(argc, argv, "t:lD:T:")) != -1) {
        switch (c) {
        case 't':
            p.now = (time_t)strtoll(optarg, NULL, 10);
            break;
        case 'l':
            p.allow_body_length = true;
            break;
        case 'D': {
            FILE *f = fopen(optarg, "r");
            if (!f) {
                perror(optarg);
                return 2;
            }
            char line[8192];
            while (fgets(line, sizeof(line), f)) {
                if (line[0] != '\n' && line[0] != '#')
                    add_record(&recs, line, ' ');
            }
            fclose(f);
            break;
        }
        case 'T':
            add_record(&recs, optarg, '=');
            break;
        default:
            usage();
        }
    }
    if (argc - optind > 1)
        usage();
    struct buf raw, msg;
    buf_init(&raw, BUF_UNLIMITED);
    buf_init(&msg, BUF_UNLIMITED);
    if (read_all(argv[optind], &raw) < 0) {
        perror(argv[optind]);
        return 2;
    }
    to_crlf(&raw, &msg);
    struct dkim_verify *v = dkim_verify_new(&p);
    bool answered = false;
    for (size_t i = 0; i < msg.len; i += 1000) {
        dkim_verify_feed(v, msg.data + i, msg.len - i < 1000 ? msg.len - i : 1000);
        if (!answered && dkim_verify_header_complete(v)) {
            answered = true;
            const char *const *names;
            size_t n = dkim_verify_key_names(v, &names);
            for (size_t k = 0; k < n; k++) {
                size_t j;
                for (j = 0; j < recs.count; j++) {
                    if (strcasecmp(recs.name[j], names[k]) == 0)
                        break;
                }
                if (j < recs.count)
                    dkim_verify_set_key(v, names[k], DKIM_KEY_FOUND, recs.txt[j],
                                        strlen(recs.txt[j]));
                else
                    dkim_verify_set_key(v, names[k], DKIM_KEY_NONE, NULL, 0);
            }
        }
    }
    dkim_verify_end(v);
    const struct dkim_result *r;
    size_t n = dkim_verify_results(v, &r);
    int status = n > 0 ? 0 : 1;
    if (n == 0)
        printf("none\n");
    for (size_t i = 0; i < n; i++) {
        printf("%s d=%s s=%s a=%s b=%s (%s)\n", dkim_status_name(r[i].status), r[i].domain,
               r[i].selector, r[i].algorithm, r[i].header_b, r[i].reason);
        if (r[i].status != DKIM_PASS)
            status = 1;
    }
    dkim_verify_free(&v);
    for (size_t i = 0; i < recs.count; i++) {
        free(recs.name[i]);
        free(recs.txt[i]);
    }
    buf_free(&raw);
    buf_free(&msg);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    if (strcmp(argv[1], "sign") == 0)
        return cmd_sign(argc - 1, argv + 1);
    if (strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    usage();
}
