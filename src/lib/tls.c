#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "str.h"
#include "xalloc.h"

/* TLS 1.2: ECDHE and AEAD only, strongest first. */
#define TLS12_CIPHERS                                                                              \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                                   \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
#define TLS13_SUITES "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
#define TLS_GROUPS   "X25519:P-256:P-384"

struct tls_server {
    int refs;
    SSL_CTX **ctxs; /* [0] is the default */
    size_t n;
};

static char *errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *errorf(const char *fmt, ...)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    unsigned long e = ERR_get_error();
    if (e) {
        char text[256];
        ERR_error_string_n(e, text, sizeof(text));
        buf_printf(&b, ": %s", text);
    }
    ERR_clear_error();
    return buf_steal(&b);
}

const char *tls_last_error(char *out, size_t outsize)
{
    unsigned long e = ERR_get_error();
    if (!e)
        str_copy(out, outsize, "no TLS error recorded");
    else
        ERR_error_string_n(e, out, outsize);
    ERR_clear_error();
    return out;
}

/* SNI: switch to the first context whose certificate covers the name. */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    struct tls_server *t = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name)
        return SSL_TLSEXT_ERR_NOACK;
    for (size_t i = 0; i < t->n; i++) {
        X509 *cert = SSL_CTX_get0_certificate(t->ctxs[i]);
        if (cert && X509_check_host(cert, name, 0, 0, NULL) == 1) {
            if (i > 0)
                SSL_set_SSL_CTX(ssl, t->ctxs[i]);
            return SSL_TLSEXT_ERR_OK;
        }
    }
    /* Unknown name: the default certificate, as most servers do. */
    return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *make_ctx(const char *cert, const char *key, char **error_r)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        *error_r = errorf("cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_NO_COMPRESSION | SSL_OP_SINGLE_ECDH_USE);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    /* One TLS 1.3 ticket per handshake is enough for a mail client to
     * resume; OpenSSL's default of two is work for nothing. */
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"postino", 7);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, TLS13_SUITES) != 1 ||
        SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1) {
        *error_r = errorf("cannot set the TLS ciphers");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        *error_r = errorf("cannot load the certificate %s", cert);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        *error_r = errorf("cannot load the private key %s (or it does not match %s)", key, cert);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

struct tls_server *tls_server_new(const struct config *cfg, char **error_r)
{
    if (cfg->tls_certificates.n == 0) {
        *error_r = xstrdup("tls_certificates is empty: TLS needs a certificate");
        return NULL;
    }
    struct tls_server *t = xcalloc(1, sizeof(*t));
    t->refs = 1;
    t->ctxs = xcalloc(cfg->tls_certificates.n, sizeof(SSL_CTX *));
    for (size_t i = 0; i < cfg->tls_certificates.n; i++) {
        const char *item = cfg->tls_certificates.items[i];
        const char *colon = strchr(item, ':');
        char cert[4096], key[4096], rel[4096];
        str_copyn(rel, sizeof(rel), item, (size_t)(colon - item));
        if (rel[0] == '/')
            str_copy(cert, sizeof(cert), rel);
        else
            config_data_path(cfg, rel, cert, sizeof(cert));
        if (colon[1] == '/')
            str_copy(key, sizeof(key), colon + 1);
        else
            config_data_path(cfg, colon + 1, key, sizeof(key));
        t->ctxs[i] = make_ctx(cert, key, error_r);
        if (!t->ctxs[i]) {
            tls_server_unref(&t);
            return NULL;
        }
        t->n++;
    }
    SSL_CTX_set_tlsext_servername_callback(t->ctxs[0], on_servername);
    SSL_CTX_set_tlsext_servername_arg(t->ctxs[0], t);
    return t;
}

struct tls_server *tls_server_ref(struct tls_server *t)
{
    t->refs++;
    return t;
}

void tls_server_unref(struct tls_server **tp)
{
    struct tls_server *t = *tp;
    if (!t)
        return;
    *tp = NULL;
    if (--t->refs > 0)
        return;
    for (size_t i = 0; i < t->n; i++)
        SSL_CTX_free(t->ctxs[i]);
    free(t->ctxs);
    free(t);
}

SSL *tls_server_session(struct tls_server *t)
{
    return SSL_new(t->ctxs[0]);
}

char *tls_describe(SSL *ssl, char *out, size_t outsize)
{
    int alg = 0;
    int bits = SSL_get_cipher_bits(ssl, &alg);
    snprintf(out, outsize, "%s with cipher %s (%d/%d bits)", SSL_get_version(ssl),
             SSL_get_cipher_name(ssl), bits, alg);
    return out;
}

int tls_make_self_signed(const char *cert_path, const char *key_path, const char *hostname,
                         char **error_r)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    int rc = -1;
    FILE *f = NULL;
    if (!pkey || !x) {
        *error_r = errorf("cannot make a key");
        goto out;
    }
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof(serial)) != 1) {
        *error_r = errorf("no random numbers");
        goto out;
    }
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_set_version(x, 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 825L * 24 * 3600);
    X509_set_pubkey(x, pkey);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)hostname, -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    char san[600];
    snprintf(san, sizeof(san), "DNS:%s", hostname);
    const char *exts[][2] = {{"subjectAltName", san},
                             {"basicConstraints", "critical,CA:FALSE"},
                             {"keyUsage", "critical,digitalSignature"},
                             {"extendedKeyUsage", "serverAuth"}};
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        X509_EXTENSION *e = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
        if (!e) {
            *error_r = errorf("cannot add %s", exts[i][0]);
            goto out;
        }
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    if (!X509_sign(x, pkey, EVP_sha256())) {
        *error_r = errorf("cannot sign the certificate");
        goto out;
    }
    int fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        *error_r = errorf("cannot create %s: %s", key_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto out;
    }
    if (!PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) || fclose(f) != 0) {
        f = NULL;
        *error_r = errorf("cannot write %s", key_path);
        goto out;
    }
    f = fopen(cert_path, "wx");
    if (!f || !PEM_write_X509(f, x) || fclose(f) != 0) {
        f = NULL;
        *error_r = errorf("cannot write %s", cert_path);
        goto out;
    }
    f = NULL;
    rc = 0;
out:
    if (f)
        fclose(f);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}
