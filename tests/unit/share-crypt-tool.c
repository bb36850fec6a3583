/* share-crypt-tool: postino's share file format on the command line, for
 * the interoperability tests with the browser's code
 * (tests/integration/test_share_crypt_js.py). Built only with the tests;
 * not installed.
 *
 *   share-crypt-tool encrypt [-m MODE] [-c CHUNK] [-s SALTHEX -n PREFIXHEX] KEYHEX
 *       encrypts standard input to standard output (MODE 1 password,
 *       2 link, 3 end-to-end; default 3 and 65536); a fixed salt and nonce
 *       prefix give known-answer files
 *   share-crypt-tool decrypt KEYHEX
 *       decrypts standard input to standard output; on failure writes
 *       "CODE CHUNK: message" to standard error and exits 1 (the verified
 *       chunks before the failure are still written)
 *   share-crypt-tool length CHUNK PLAINLEN... | plain-length CHUNK CIPHERLEN...
 *       prints the other length of each, or "invalid", one a line
 *   share-crypt-tool link KEYHEX | unlink LINKKEY
 *       prints the key as in a link, or back in hex
 *
 * Input is read in pieces of a few odd sizes, so the streaming code sees
 * splits everywhere. Exit status 2 on a usage error. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "share/share-crypt.h"
#include "share/share-key.h"

__attribute__((noreturn)) static void usage(void)
{
    fprintf(stderr, "usage: share-crypt-tool encrypt [-m MODE] [-c CHUNK] [-s SALTHEX -n "
                    "PREFIXHEX] KEYHEX\n"
                    "       share-crypt-tool decrypt KEYHEX\n"
                    "       share-crypt-tool length|plain-length CHUNK LEN...\n"
                    "       share-crypt-tool link KEYHEX | unlink LINKKEY\n");
    exit(2);
}

/* Decode exactly n bytes of hex, or exit with a usage error. */
static void hex_arg(const char *s, unsigned char *out, size_t n)
{
    if (strlen(s) != 2 * n)
        usage();
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + (size_t)k];
            unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                                : 16;
            if (d > 15)
                usage();
            v = v * 16 + d;
        }
        out[i] = (unsigned char)v;
    }
}

static unsigned long long num_arg(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end)
        usage();
    return v;
}

static int write_out(void *ctx, const unsigned char *data, size_t len)
{
    (void)ctx;
    return fwrite(data, 1, len, stdout) == len ? 0 : -1;
}

/* The error's code as the JavaScript module names it. */
static const char *error_code(enum share_crypt_error e)
{
    switch (e) {
    case SHARE_CRYPT_OK:
        return "ok";
    case SHARE_CRYPT_BAD_HEADER:
        return "bad-header";
    case SHARE_CRYPT_WRONG_KEY:
        return "wrong-key";
    case SHARE_CRYPT_AUTH:
        return "auth";
    case SHARE_CRYPT_TRUNCATED:
        return "truncated";
    case SHARE_CRYPT_TRAILING:
        return "trailing";
    case SHARE_CRYPT_FORMAT:
        return "format";
    case SHARE_CRYPT_TOO_LONG:
        return "too-long";
    case SHARE_CRYPT_OUTPUT:
        return "output";
    case SHARE_CRYPT_INTERNAL:
        break;
    }
    return "internal";
}

/* Feed standard input to fn(obj, ...) in pieces of 1, 7, 4093 and 65537
 * bytes in turn. Returns 0, -1 if fn failed, or exits on a read error. */
static int feed_stdin(int (*fn)(void *, const void *, size_t), void *obj)
{
    static const size_t pieces[] = {1, 7, 4093, 65537};
    static unsigned char buf[65537];
    for (size_t turn = 0;; turn++) {
        size_t want = pieces[turn % 4];
        ssize_t n = read(0, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            perror("share-crypt-tool: read");
            exit(2);
        }
        if (n == 0)
            return 0;
        if (fn(obj, buf, (size_t)n) < 0)
            return -1;
    }
}

static int enc_update(void *e, const void *p, size_t n)
{
    return share_encrypt_update(e, p, n);
}

static int dec_update(void *d, const void *p, size_t n)
{
    return share_decrypt_update(d, p, n);
}

static int cmd_encrypt(int argc, char **argv)
{
    unsigned long long mode = SHARE_MODE_E2E, chunk = SHARE_CHUNK_DEFAULT;
    const char *salt = NULL, *prefix = NULL;
    int c;
    while ((c = getopt(argc, argv, "m:c:s:n:")) != -1) {
        switch (c) {
        case 'm':
            mode = num_arg(optarg);
            break;
        case 'c':
            chunk = num_arg(optarg);
            break;
        case 's':
            salt = optarg;
            break;
        case 'n':
            prefix = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind + 1 != argc || !salt != !prefix || mode > 255 || chunk > UINT32_MAX)
        usage();
    unsigned char key[SHARE_KEY_LEN];
    hex_arg(argv[optind], key, sizeof(key));
    struct share_header h;
    const char *err;
    if (share_header_init(&h, (enum share_mode)mode, (uint32_t)chunk, &err) < 0) {
        fprintf(stderr, "share-crypt-tool: %s\n", err);
        return 2;
    }
    if (salt) {
        hex_arg(salt, h.salt, sizeof(h.salt));
        hex_arg(prefix, h.nonce_prefix, sizeof(h.nonce_prefix));
    }
    struct share_encrypt *e = share_encrypt_new(&h, key, write_out, NULL, &err);
    if (!e) {
        fprintf(stderr, "share-crypt-tool: %s\n", err);
        return 2;
    }
    int rc = feed_stdin(enc_update, e);
    if (rc == 0)
        rc = share_encrypt_finish(e);
    if (rc < 0)
        fprintf(stderr, "share-crypt-tool: %s\n", share_encrypt_error(e));
    share_encrypt_free(&e);
    return rc < 0 || fflush(stdout) != 0 ? 1 : 0;
}

static int cmd_decrypt(int argc, char **argv)
{
    if (argc != 2)
        usage();
    unsigned char key[SHARE_KEY_LEN];
    hex_arg(argv[1], key, sizeof(key));
    const char *err;
    struct share_decrypt *d = share_decrypt_new(key, write_out, NULL, &err);
    if (!d) {
        fprintf(stderr, "share-crypt-tool: %s\n", err);
        return 2;
    }
    int rc = feed_stdin(dec_update, d);
    if (rc == 0)
        rc = share_decrypt_finish(d);
    fflush(stdout);
    if (rc < 0) {
        uint64_t chunk;
        enum share_crypt_error e = share_decrypt_status(d, &chunk);
        fprintf(stderr, "%s %llu: %s\n", error_code(e), (unsigned long long)chunk,
                share_decrypt_error(d));
    }
    share_decrypt_free(&d);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    const char *cmd = argv[1];
    if (strcmp(cmd, "encrypt") == 0)
        return cmd_encrypt(argc - 1, argv + 1);
    if (strcmp(cmd, "decrypt") == 0)
        return cmd_decrypt(argc - 1, argv + 1);
    if ((strcmp(cmd, "length") == 0 || strcmp(cmd, "plain-length") == 0) && argc >= 4) {
        unsigned long long chunk = num_arg(argv[2]);
        for (int i = 3; i < argc; i++) {
            uint64_t out;
            unsigned long long len = num_arg(argv[i]);
            int rc = chunk > UINT32_MAX ? -1
                     : cmd[0] == 'l'    ? share_crypt_ciphertext_len(len, (uint32_t)chunk, &out)
                                        : share_crypt_plaintext_len(len, (uint32_t)chunk, &out);
            if (rc < 0)
                printf("invalid\n");
            else
                printf("%llu\n", (unsigned long long)out);
        }
        return 0;
    }
    if (strcmp(cmd, "link") == 0 && argc == 3) {
        unsigned char key[SHARE_KEY_LEN];
        char link[SHARE_LINK_KEY_LEN + 1];
        hex_arg(argv[2], key, sizeof(key));
        share_key_to_link(key, link);
        printf("%s\n", link);
        return 0;
    }
    if (strcmp(cmd, "unlink") == 0 && argc == 3) {
        unsigned char key[SHARE_KEY_LEN];
        if (share_key_from_link(argv[2], strlen(argv[2]), key) < 0) {
            printf("invalid\n");
            return 1;
        }
        for (size_t i = 0; i < sizeof(key); i++)
            printf("%02x", key[i]);
        printf("\n");
        return 0;
    }
    usage();
}
