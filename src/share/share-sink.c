/* share-sink: a file of the share portal written on a thread of its own
 * (see the header).
 *
 * Blocks cycle between three places: the one the caller fills (cur), the
 * queue the thread takes from (FIFO), and the free pool. The mutex guards
 * the queue, the pool and the flags; the encryptor, the hash and the file
 * belong to the thread until it has ended (joined). */
#include "share/share-sink.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/fd-write.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define WRITE_BEHIND (8u << 20) /* octets written before their write-back is started */

struct share_sink {
    pthread_t th;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t work, room;
    /* guarded by mu */
    unsigned char *queue[SHARE_SINK_BLOCKS];
    size_t queue_len[SHARE_SINK_BLOCKS];
    size_t head, count;
    unsigned char *pool[SHARE_SINK_BLOCKS];
    size_t n_pool;
    bool finishing, stop, failed, ended;
    unsigned long long written; /* octets on disk, the thread's count */
    char why[160];
    /* the caller's */
    unsigned char *cur;
    size_t cur_len;
    /* the thread's */
    int fd;
    bool raw;
    struct share_encrypt *enc;
    EVP_MD_CTX *md;
    unsigned long long flushing;
    char sha256[65];
};

static void fail(struct share_sink *k, const char *why)
{
    pthread_mutex_lock(&k->mu);
    if (!k->failed) {
        k->failed = true;
        str_copy(k->why, sizeof(k->why), why);
    }
    pthread_cond_broadcast(&k->room);
    pthread_mutex_unlock(&k->mu);
}

static int write_out(void *ctx, const unsigned char *data, size_t len)
{
    struct share_sink *k = ctx;
    if (fd_write_all(k->fd, data, len) < 0)
        return -1;
    pthread_mutex_lock(&k->mu);
    k->written += len;
    unsigned long long written = k->written;
    pthread_mutex_unlock(&k->mu);
    if (written - k->flushing >= WRITE_BEHIND) {
        /* start writing back what is there: the fsync at the end then
         * finds little left to do */
        sync_file_range(k->fd, (off_t)k->flushing, (off_t)(written - k->flushing),
                        SYNC_FILE_RANGE_WRITE);
        k->flushing = written;
    }
    return 0;
}

/* One block through the hash, the encryptor, the file. 0 or -1. */
static int process(struct share_sink *k, const unsigned char *data, size_t len)
{
    if (k->raw)
        return write_out(k, data, len);
    if (EVP_DigestUpdate(k->md, data, len) != 1)
        return -1;
    return share_encrypt_update(k->enc, data, len);
}

/* The end: final chunk, checksum, fsync. 0 or -1 (failed set). */
static int end_file(struct share_sink *k)
{
    if (!k->raw) {
        unsigned char d[32];
        unsigned int dl = 0;
        if (share_encrypt_finish(k->enc) < 0) {
            fail(k, share_encrypt_error(k->enc));
            return -1;
        }
        if (EVP_DigestFinal_ex(k->md, d, &dl) != 1 || dl != 32) {
            fail(k, "SHA-256 failed");
            return -1;
        }
        for (unsigned i = 0; i < 32; i++)
            snprintf(k->sha256 + 2 * i, 3, "%02x", d[i]);
    }
    if (fsync(k->fd) < 0) {
        fail(k, strerror(errno));
        return -1;
    }
    return 0;
}

static void *run(void *arg)
{
    struct share_sink *k = arg;
    pthread_mutex_lock(&k->mu);
    for (;;) {
        while (k->count == 0 && !k->finishing && !k->stop)
            pthread_cond_wait(&k->work, &k->mu);
        if (k->stop || (k->count == 0 && k->finishing))
            break;
        unsigned char *b = k->queue[k->head];
        size_t n = k->queue_len[k->head];
        bool failed = k->failed;
        pthread_mutex_unlock(&k->mu);
        int rc = failed ? 0 : process(k, b, n);
        pthread_mutex_lock(&k->mu);
        if (rc < 0 && !k->failed) {
            k->failed = true;
            str_copy(k->why, sizeof(k->why),
                     k->raw || share_encrypt_status(k->enc) == SHARE_CRYPT_OUTPUT
                         ? "the file cannot be written (disk full?)"
                         : share_encrypt_error(k->enc));
        }
        k->head = (k->head + 1) % SHARE_SINK_BLOCKS;
        k->count--;
        k->pool[k->n_pool++] = b;
        pthread_cond_broadcast(&k->room);
    }
    bool finish = k->finishing && !k->stop && !k->failed;
    pthread_mutex_unlock(&k->mu);
    if (finish)
        end_file(k);
    pthread_mutex_lock(&k->mu);
    k->ended = true;
    pthread_cond_broadcast(&k->room);
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

struct share_sink *share_sink_new(int fd, const struct share_header *h,
                                  const unsigned char key[SHARE_KEY_LEN], const char **error_r)
{
    struct share_sink *k = xcalloc(1, sizeof(*k));
    k->fd = fd;
    k->raw = h == NULL;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->work, NULL);
    pthread_cond_init(&k->room, NULL);
    if (!k->raw) {
        k->md = EVP_MD_CTX_new();
        k->enc = share_encrypt_new(h, key, write_out, k, error_r);
        if (!k->md || !k->enc || EVP_DigestInit_ex(k->md, EVP_sha256(), NULL) != 1) {
            if (k->enc && error_r)
                *error_r = "SHA-256 cannot start";
            share_sink_free(&k);
            return NULL;
        }
    }
    for (size_t i = 0; i < SHARE_SINK_BLOCKS; i++)
        k->pool[k->n_pool++] = xmalloc(SHARE_SINK_BLOCK);
    if (pthread_create(&k->th, NULL, run, k) != 0) {
        if (error_r)
            *error_r = "no thread can be started";
        share_sink_free(&k);
        return NULL;
    }
    k->started = true;
    return k;
}

/* Queue the filled block (caller's cur). */
static void enqueue(struct share_sink *k)
{
    pthread_mutex_lock(&k->mu);
    k->queue[(k->head + k->count) % SHARE_SINK_BLOCKS] = k->cur;
    k->queue_len[(k->head + k->count) % SHARE_SINK_BLOCKS] = k->cur_len;
    k->count++;
    pthread_cond_signal(&k->work);
    pthread_mutex_unlock(&k->mu);
    k->cur = NULL;
    k->cur_len = 0;
}

int share_sink_write(struct share_sink *k, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len) {
        if (!k->cur) {
            pthread_mutex_lock(&k->mu);
            while (k->n_pool == 0 && !k->failed)
                pthread_cond_wait(&k->room, &k->mu);
            bool failed = k->failed;
            if (!failed)
                k->cur = k->pool[--k->n_pool];
            pthread_mutex_unlock(&k->mu);
            if (failed)
                return -1;
        }
        size_t n = SHARE_SINK_BLOCK - k->cur_len < len ? SHARE_SINK_BLOCK - k->cur_len : len;
        memcpy(k->cur + k->cur_len, p, n);
        k->cur_len += n;
        p += n;
        len -= n;
        if (k->cur_len == SHARE_SINK_BLOCK)
            enqueue(k);
    }
    pthread_mutex_lock(&k->mu);
    bool failed = k->failed;
    pthread_mutex_unlock(&k->mu);
    return failed ? -1 : 0;
}

int share_sink_finish(struct share_sink *k, char sha256_hex[65], unsigned long long *written_r)
{
    if (k->cur && k->cur_len)
        enqueue(k);
    pthread_mutex_lock(&k->mu);
    if (k->cur) { /* an empty block back to the pool */
        k->pool[k->n_pool++] = k->cur;
        k->cur = NULL;
    }
    k->finishing = true;
    pthread_cond_signal(&k->work);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->th, NULL);
    k->started = false;
    str_copy(sha256_hex, 65, k->sha256);
    *written_r = k->written;
    return k->failed ? -1 : 0;
}

unsigned long long share_sink_written(struct share_sink *k)
{
    pthread_mutex_lock(&k->mu);
    unsigned long long w = k->written;
    pthread_mutex_unlock(&k->mu);
    return w;
}

const char *share_sink_error(struct share_sink *k)
{
    pthread_mutex_lock(&k->mu);
    const char *why = k->failed ? k->why : "";
    pthread_mutex_unlock(&k->mu);
    return why;
}

void share_sink_free(struct share_sink **kp)
{
    struct share_sink *k = *kp;
    if (!k)
        return;
    if (k->started) {
        pthread_mutex_lock(&k->mu);
        k->stop = true;
        pthread_cond_signal(&k->work);
        pthread_mutex_unlock(&k->mu);
        pthread_join(k->th, NULL);
    }
    /* the blocks: in the pool, in the queue, the one being filled */
    for (size_t i = 0; i < k->n_pool; i++) {
        OPENSSL_cleanse(k->pool[i], SHARE_SINK_BLOCK);
        free(k->pool[i]);
    }
    for (size_t i = 0; i < k->count; i++) {
        unsigned char *b = k->queue[(k->head + i) % SHARE_SINK_BLOCKS];
        OPENSSL_cleanse(b, SHARE_SINK_BLOCK);
        free(b);
    }
    if (k->cur) {
        OPENSSL_cleanse(k->cur, SHARE_SINK_BLOCK);
        free(k->cur);
    }
    share_encrypt_free(&k->enc);
    EVP_MD_CTX_free(k->md);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->work);
    pthread_cond_destroy(&k->room);
    OPENSSL_cleanse(k, sizeof(*k));
    free(k);
    *kp = NULL;
}
