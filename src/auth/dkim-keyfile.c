#include "dkim-keyfile.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/dkim-signature.h"
#include "lib/fd-write.h"
#include "lib/str.h"

/* The largest key file read back (a PEM 8192-bit RSA key is ~6.5 kB). */
#define KEYFILE_MAX (64 * 1024)

static int fail(char **error_r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Set *error_r to a formatted message (caller frees); returns -1. */
static int fail(char **error_r, const char *fmt, ...)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    *error_r = buf_steal(&b);
    return -1;
}

bool dkim_selector_valid(const char *s)
{
    return strlen(s) <= DKIM_SELECTOR_MAX && dkim_name_ok(s);
}

EVP_PKEY *dkim_keyfile_generate(enum dkim_key_type type, unsigned bits, const char **error_r)
{
    EVP_PKEY *key = NULL;
    if (type == DKIM_KEY_ED25519) {
        key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    } else {
        if (bits != 2048 && bits != 3072 && bits != 4096) {
            *error_r = "RSA keys are 2048, 3072 or 4096 bits";
            return NULL;
        }
        key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    }
    if (!key)
        *error_r = "OpenSSL could not generate the key";
    ERR_clear_error();
    return key;
}

int dkim_keyfile_describe(EVP_PKEY *key, enum dkim_key_type *type_r, unsigned *bits_r,
                          const char **error_r)
{
    int id = EVP_PKEY_get_base_id(key);
    if (id == EVP_PKEY_ED25519) {
        *type_r = DKIM_KEY_ED25519;
        *bits_r = 256;
        return 0;
    }
    int bits = EVP_PKEY_get_bits(key);
    if (id == EVP_PKEY_RSA && bits >= 1024) {
        *type_r = DKIM_KEY_RSA;
        *bits_r = (unsigned)bits;
        return 0;
    }
    *error_r =
        id == EVP_PKEY_RSA ? "RSA key shorter than 1024 bits" : "neither an RSA nor an Ed25519 key";
    return -1;
}

int dkim_keyfile_record(EVP_PKEY *key, struct buf *out, const char **error_r)
{
    enum dkim_key_type type;
    unsigned bits;
    if (dkim_keyfile_describe(key, &type, &bits, error_r) < 0)
        return -1;
    unsigned char *der = NULL;
    size_t len = 0;
    unsigned char raw[32];
    if (type == DKIM_KEY_ED25519) {
        len = sizeof(raw);
        if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1 || len != sizeof(raw)) {
            *error_r = "cannot read the Ed25519 public key";
            ERR_clear_error();
            return -1;
        }
    } else {
        int n = i2d_PUBKEY(key, &der);
        if (n <= 0 || n > DKIM_KEY_DATA_MAX) {
            OPENSSL_free(der);
            *error_r = "cannot encode the RSA public key";
            ERR_clear_error();
            return -1;
        }
        len = (size_t)n;
    }
    /* EVP_EncodeBlock writes 4 characters per 3 bytes and a NUL */
    char b64[(DKIM_KEY_DATA_MAX + 2) / 3 * 4 + 1];
    int n = EVP_EncodeBlock((unsigned char *)b64, der ? der : raw, (int)len);
    OPENSSL_free(der);
    size_t before = out->len;
    if (n <= 0 ||
        buf_printf(out, "v=DKIM1; k=%s; p=%s", type == DKIM_KEY_RSA ? "rsa" : "ed25519", b64) < 0) {
        buf_truncate(out, before);
        *error_r = "the key record does not fit";
        return -1;
    }
    return 0;
}

void dkim_keyfile_zone_strings(const char *value, struct buf *out)
{
    size_t in_string = 0; /* octets of data in the current string */
    buf_append_char(out, '"');
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (in_string == DKIM_TXT_STRING_MAX) {
            buf_append_str(out, "\" \"");
            in_string = 0;
        }
        if (*p == '"' || *p == '\\')
            buf_printf(out, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            buf_printf(out, "\\%03u", *p);
        else
            buf_append_char(out, (char)*p);
        in_string++;
    }
    buf_append_char(out, '"');
}

int dkim_keyfile_path(const char *data_dir, const char *domain, const char *selector, char *out,
                      size_t outsize)
{
    if (!dkim_name_ok(domain) || !dkim_selector_valid(selector))
        return -1;
    int n = snprintf(out, outsize, "%s/dkim/%s/%s.pem", data_dir, domain, selector);
    return n < 0 || (size_t)n >= outsize ? -1 : 0;
}

/* fsync the directory holding path, so that a new name in it is durable. */
static int sync_parent(const char *path)
{
    char copy[4096];
    if (str_copy(copy, sizeof(copy), path) < 0)
        return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int dkim_keyfile_write(const char *path, EVP_PKEY *key, char **error_r)
{
    /* The PEM text goes through secure memory, cleared when freed. */
    BIO *mem = BIO_new(BIO_s_secmem());
    if (!mem || !PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL)) {
        BIO_free(mem);
        ERR_clear_error();
        return fail(error_r, "%s: cannot encode the key", path);
    }
    char *pem;
    long pem_len = BIO_get_mem_data(mem, &pem);
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        BIO_free(mem);
        return fail(error_r, "%s: path too long", path);
    }
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        BIO_free(mem);
        return fail(error_r, "cannot create a file next to %s: %s", path, strerror(e));
    }
    int rc = -1;
    if (fchmod(fd, 0640) < 0 || fd_write_all(fd, pem, (size_t)pem_len) < 0 || fsync(fd) < 0) {
        fail(error_r, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        goto out;
    }
    if (close(fd) < 0) {
        fail(error_r, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    /* link() refuses to replace an existing key, unlike rename() */
    if (link(tmp, path) < 0) {
        if (errno == EEXIST)
            fail(error_r, "%s already exists", path);
        else
            fail(error_r, "cannot create %s: %s", path, strerror(errno));
        goto out;
    }
    if (sync_parent(path) < 0) {
        fail(error_r, "cannot sync the directory of %s: %s", path, strerror(errno));
        unlink(path);
        goto out;
    }
    rc = 0;
out:
    unlink(tmp);
    BIO_free(mem);
    return rc;
}

/* A passphrase callback that has none: an encrypted key fails to load
 * instead of OpenSSL asking on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *arg)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)arg;
    return -1;
}

EVP_PKEY *dkim_keyfile_load(const char *path, char **error_r)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        fail(error_r, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > KEYFILE_MAX) {
        close(fd);
        fail(error_r, "%s: not a key file", path);
        return NULL;
    }
    BIO *mem = BIO_new(BIO_s_secmem());
    char chunk[4096];
    ssize_t r;
    size_t total = 0;
    while (mem && (r = read(fd, chunk, sizeof(chunk))) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || (total += (size_t)r) > KEYFILE_MAX || BIO_write(mem, chunk, (int)r) != r) {
            int e = errno;
            OPENSSL_cleanse(chunk, sizeof(chunk));
            close(fd);
            BIO_free(mem);
            fail(error_r, "%s: %s", path, r < 0 ? strerror(e) : "not a key file");
            return NULL;
        }
    }
    OPENSSL_cleanse(chunk, sizeof(chunk));
    close(fd);
    EVP_PKEY *key = mem ? PEM_read_bio_PrivateKey(mem, NULL, no_passphrase, NULL) : NULL;
    BIO_free(mem);
    ERR_clear_error();
    if (!key) {
        fail(error_r, "%s: no private key in PEM form in it", path);
        return NULL;
    }
    enum dkim_key_type type;
    unsigned bits;
    const char *why;
    if (dkim_keyfile_describe(key, &type, &bits, &why) < 0) {
        EVP_PKEY_free(key);
        fail(error_r, "%s: %s", path, why);
        return NULL;
    }
    return key;
}
