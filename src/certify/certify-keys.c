#include "certify-keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "auth/dkim-keyfile.h"
#include "certify/certify-error.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"

int certify_keys_dir(const struct config *cfg, char *out, size_t outsize)
{
    int n;
    if (cfg->certified_dir[0] == '/')
        n = snprintf(out, outsize, "%s", cfg->certified_dir);
    else
        n = snprintf(out, outsize, "%s/%s", cfg->data_dir, cfg->certified_dir);
    return (n < 0 || (size_t)n >= outsize) ? -1 : 0;
}

int certify_key_paths(const struct config *cfg, const char *domain, char *crt, size_t crtsize,
                      char *key, size_t keysize)
{
    if (domain[0] == '\0' || domain[0] == '.' || strchr(domain, '/') || strlen(domain) > 253)
        return -1;
    char dir[CERTIFY_PATH_MAX];
    if (certify_keys_dir(cfg, dir, sizeof(dir)) < 0)
        return -1;
    int n1 = snprintf(crt, crtsize, "%s/%s.crt", dir, domain);
    int n2 = snprintf(key, keysize, "%s/%s.key", dir, domain);
    if (n1 < 0 || (size_t)n1 >= crtsize || n2 < 0 || (size_t)n2 >= keysize)
        return -1;
    return 0;
}

void certify_fingerprint(X509 *x, char fpr[CERTIFY_FINGERPRINT_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    static const char hex[] = "0123456789ABCDEF";
    fpr[0] = '\0';
    if (!X509_digest(x, EVP_sha256(), md, &n) || n != 32)
        return;
    for (unsigned i = 0; i < n; i++) {
        fpr[i * 3] = hex[md[i] >> 4];
        fpr[i * 3 + 1] = hex[md[i] & 15];
        fpr[i * 3 + 2] = i + 1 < n ? ':' : '\0';
    }
}

/* A self-signed certificate for domain's service over key. */
static X509 *make_cert(EVP_PKEY *key, const char *domain, char **error_r)
{
    X509 *x = X509_new();
    unsigned char serial[16];
    if (!x || RAND_bytes(serial, sizeof(serial)) != 1) {
        X509_free(x);
        certify_fail(error_r, "cannot make a certificate");
        return NULL;
    }
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_set_version(x, 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), (long)CERTIFY_CERT_DAYS * 24 * 3600);
    X509_set_pubkey(x, key);
    char cn[300], san[600];
    int n1 = snprintf(cn, sizeof(cn), "Certified mail service %s", domain);
    int n2 = snprintf(san, sizeof(san), "DNS:%s, email:certified-mail@%s", domain, domain);
    if (n1 < 0 || (size_t)n1 >= sizeof(cn) || n2 < 0 || (size_t)n2 >= sizeof(san)) {
        X509_free(x);
        certify_fail(error_r, "domain name too long");
        return NULL;
    }
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)domain, -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    const char *exts[][2] = {{"subjectAltName", san},
                             {"basicConstraints", "critical,CA:FALSE"},
                             {"keyUsage", "critical,digitalSignature,nonRepudiation"},
                             {"extendedKeyUsage", "emailProtection"},
                             {"subjectKeyIdentifier", "hash"}};
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        X509_EXTENSION *e = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
        if (!e) {
            X509_free(x);
            certify_fail(error_r, "cannot add %s", exts[i][0]);
            return NULL;
        }
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    if (!X509_sign(x, key, EVP_sha256())) {
        X509_free(x);
        certify_fail(error_r, "cannot sign the certificate");
        return NULL;
    }
    return x;
}

/* Write x to path (mode 0644), refusing to replace a file. */
static int write_cert(const char *path, X509 *x, char **error_r)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return certify_fail(error_r, "cannot create %s: %s", path, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(path);
        return certify_fail(error_r, "cannot write %s: %s", path, strerror(errno));
    }
    bool ok = PEM_write_X509(f, x) == 1 && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0 || !ok) {
        unlink(path);
        return certify_fail(error_r, "cannot write %s", path);
    }
    return 0;
}

int certify_keygen(const char *crt_path, const char *key_path, const char *domain,
                   char fpr[CERTIFY_FINGERPRINT_LEN], char **error_r)
{
    if (access(crt_path, F_OK) == 0)
        return certify_fail(error_r, "%s already exists", crt_path);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (!key)
        return certify_fail(error_r, "cannot make a key");
    X509 *x = make_cert(key, domain, error_r);
    if (!x) {
        EVP_PKEY_free(key);
        return -1;
    }
    int rc = -1;
    if (dkim_keyfile_write(key_path, key, error_r) < 0)
        goto out;
    if (write_cert(crt_path, x, error_r) < 0) {
        unlink(key_path);
        goto out;
    }
    certify_fingerprint(x, fpr);
    rc = 0;
out:
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

/* Read the first certificate of a PEM file. */
static X509 *read_cert(const char *path, char **error_r)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        certify_fail(error_r, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!x)
        certify_fail(error_r, "%s holds no certificate", path);
    return x;
}

struct certify_signer *certify_signer_load(const struct config *cfg, const char *domain,
                                           char **error_r)
{
    char crt[CERTIFY_PATH_MAX], keyp[CERTIFY_PATH_MAX];
    if (certify_key_paths(cfg, domain, crt, sizeof(crt), keyp, sizeof(keyp)) < 0) {
        certify_fail(error_r, "bad certified domain '%s'", domain);
        return NULL;
    }
    X509 *x = read_cert(crt, error_r);
    if (!x)
        return NULL;
    FILE *f = fopen(keyp, "r");
    if (!f) {
        certify_fail(error_r, "cannot open %s: %s", keyp, strerror(errno));
        X509_free(x);
        return NULL;
    }
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!key || X509_check_private_key(x, key) != 1) {
        certify_fail(error_r, "%s holds no key, or not the key of %s", keyp, crt);
        EVP_PKEY_free(key);
        X509_free(x);
        return NULL;
    }
    struct certify_signer *s = xcalloc(1, sizeof(*s));
    s->cert = x;
    s->key = key;
    return s;
}

void certify_signer_free(struct certify_signer **sp)
{
    struct certify_signer *s = *sp;
    if (!s)
        return;
    X509_free(s->cert);
    EVP_PKEY_free(s->key);
    x_free(sp);
}

X509_STORE *certify_trust_load(const struct config *cfg, char **error_r)
{
    X509_STORE *store = X509_STORE_new();
    if (!store) {
        certify_fail(error_r, "cannot make a certificate store");
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < cfg->certified_domains.n; i++) {
        char crt[CERTIFY_PATH_MAX], key[CERTIFY_PATH_MAX];
        if (certify_key_paths(cfg, cfg->certified_domains.items[i], crt, sizeof(crt), key,
                              sizeof(key)) < 0)
            continue;
        char *why = NULL;
        X509 *x = read_cert(crt, &why);
        free(why);
        if (x && X509_STORE_add_cert(store, x) == 1)
            n++;
        X509_free(x);
        ERR_clear_error();
    }
    if (cfg->certified_trusted[0]) {
        char path[CERTIFY_PATH_MAX];
        int len =
            cfg->certified_trusted[0] == '/'
                ? snprintf(path, sizeof(path), "%s", cfg->certified_trusted)
                : snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, cfg->certified_trusted);
        if (len < 0 || (size_t)len >= sizeof(path)) {
            X509_STORE_free(store);
            certify_fail(error_r, "certified_trusted: path too long");
            return NULL;
        }
        FILE *f = fopen(path, "r");
        if (!f) {
            X509_STORE_free(store);
            certify_fail(error_r, "cannot open %s: %s", path, strerror(errno));
            return NULL;
        }
        X509 *x;
        while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
            if (X509_STORE_add_cert(store, x) == 1)
                n++;
            X509_free(x);
        }
        fclose(f);
        ERR_clear_error();
    }
    if (n == 0) {
        X509_STORE_free(store);
        certify_fail(error_r, "no trusted certificate (certified_domains, certified_trusted)");
        return NULL;
    }
    return store;
}
