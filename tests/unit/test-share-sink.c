/* share-sink: a file hashed, encrypted and written on a thread of its own. */
#include <fcntl.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "share/share-crypt.h"
#include "share/share-sink.h"

static const unsigned char key[SHARE_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static int temp_file(char *path)
{
    memcpy(path, "/tmp/test-share-sink-XXXXXX", sizeof("/tmp/test-share-sink-XXXXXX"));
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    return fd;
}

static void sha_hex(const unsigned char *d, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int l = 0;
    EVP_Digest(d, n, md, &l, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static struct buf read_all(int fd)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    char piece[65536];
    ssize_t n;
    lseek(fd, 0, SEEK_SET);
    while ((n = read(fd, piece, sizeof(piece))) > 0)
        buf_append(&b, piece, (size_t)n);
    return b;
}

/* Sizes around the block size, given in pieces of odd sizes. */
static void test_encrypted_roundtrip(void **state)
{
    (void)state;
    static const size_t sizes[] = {
        0, 1, 65535, 65536, SHARE_SINK_BLOCK - 1, SHARE_SINK_BLOCK, SHARE_SINK_BLOCK * 7 + 12345};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t n = sizes[s];
        unsigned char *data = malloc(n + 1);
        for (size_t i = 0; i < n; i++)
            data[i] = (unsigned char)(i * 7 + i / 251);
        char path[64];
        int fd = temp_file(path);
        struct share_header h;
        const char *why = NULL;
        assert_int_equal(share_header_init(&h, SHARE_MODE_PASSWORD, 65536, &why), 0);
        struct share_sink *k = share_sink_new(fd, &h, key, &why);
        assert_non_null(k);
        for (size_t off = 0, step = 1; off < n; step = step * 3 + 1) {
            size_t take = step % 300007 < n - off ? step % 300007 + 1 : n - off;
            assert_int_equal(share_sink_write(k, data + off, take), 0);
            off += take;
        }
        char sha[65], want[65];
        unsigned long long written = 0;
        assert_int_equal(share_sink_finish(k, sha, &written), 0);
        sha_hex(data, n, want);
        assert_string_equal(sha, want);
        uint64_t clen;
        assert_int_equal(share_crypt_ciphertext_len(n, 65536, &clen), 0);
        assert_int_equal(written, clen);
        assert_string_equal(share_sink_error(k), "");
        share_sink_free(&k);
        assert_null(k);
        struct buf c = read_all(fd), p;
        assert_int_equal(c.len, clen);
        buf_init(&p, BUF_UNLIMITED);
        struct share_decrypt *d = share_decrypt_new(key, share_crypt_output_buf, &p, &why);
        assert_int_equal(share_decrypt_update(d, c.data, c.len), 0);
        assert_int_equal(share_decrypt_finish(d), 0);
        assert_int_equal(p.len, n);
        assert_true(n == 0 || memcmp(p.data, data, n) == 0);
        share_decrypt_free(&d);
        buf_free(&c);
        buf_free(&p);
        close(fd);
        free(data);
    }
}

static void test_raw(void **state)
{
    (void)state;
    char path[64];
    int fd = temp_file(path);
    const char *why = NULL;
    struct share_sink *k = share_sink_new(fd, NULL, key, &why);
    size_t n = SHARE_SINK_BLOCK * 3 + 5;
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i % 253);
    assert_int_equal(share_sink_write(k, data, n), 0);
    char sha[65];
    unsigned long long written;
    assert_int_equal(share_sink_finish(k, sha, &written), 0);
    assert_string_equal(sha, "");
    assert_int_equal(written, n);
    share_sink_free(&k);
    struct buf c = read_all(fd);
    assert_int_equal(c.len, n);
    assert_memory_equal(c.data, data, n);
    buf_free(&c);
    free(data);
    close(fd);
}

/* A disk that is full: the failure comes back, and nothing hangs. */
static void test_failure_and_abandon(void **state)
{
    (void)state;
    int fd = open("/dev/full", O_WRONLY);
    assert_true(fd >= 0);
    const char *why = NULL;
    struct share_sink *k = share_sink_new(fd, NULL, key, &why);
    unsigned char *data = calloc(1, SHARE_SINK_BLOCK);
    int rc = 0;
    for (int i = 0; i < 4 * SHARE_SINK_BLOCKS && rc == 0; i++)
        rc = share_sink_write(k, data, SHARE_SINK_BLOCK);
    char sha[65];
    unsigned long long written;
    if (rc == 0) /* the thread may not have met the error yet */
        rc = share_sink_finish(k, sha, &written);
    assert_int_equal(rc, -1);
    assert_string_not_equal(share_sink_error(k), "");
    share_sink_free(&k);
    close(fd);
    /* abandoned while data waits: freed without writing it all, no hang */
    char path[64];
    fd = temp_file(path);
    k = share_sink_new(fd, NULL, key, &why);
    for (int i = 0; i < SHARE_SINK_BLOCKS - 1; i++)
        assert_int_equal(share_sink_write(k, data, SHARE_SINK_BLOCK), 0);
    share_sink_free(&k);
    assert_null(k);
    close(fd);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encrypted_roundtrip),
        cmocka_unit_test(test_raw),
        cmocka_unit_test(test_failure_and_abandon),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
