/* store-keywords: a folder's keywords, in Dovecot's dovecot-keywords file
 * ("N name" a line; keyword N is the letter 'a' + N in file names). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "store-private.h"

#define KEYWORDS_FILE     "dovecot-keywords"
#define KEYWORDS_FILE_MAX 8192

bool store_keyword_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > STORE_KEYWORD_MAX || name[0] == '\\')
        return false;
    for (const char *c = name; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u <= ' ' || u >= 0x7f || strchr("(){%*\"\\]", u))
            return false;
    }
    return true;
}

void store_keywords_free(struct store_keywords *kw)
{
    for (size_t i = 0; i < STORE_KEYWORDS_MAX; i++)
        x_free(&kw->names[i]);
    kw->count = 0;
    kw->mtime = -1;
}

int store_keywords_load(const char *dir, struct store_keywords *kw)
{
    char path[STORE_PATH_MAX];
    snprintf(path, sizeof(path), "%s/" KEYWORDS_FILE, dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0) {
        if (fd >= 0)
            close(fd);
        store_keywords_free(kw);
        return errno == ENOENT ? 0 : -1;
    }
    int64_t mtime = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    if (mtime == kw->mtime && kw->mtime >= 0) {
        close(fd);
        return 0;
    }
    char data[KEYWORDS_FILE_MAX + 1];
    ssize_t n = read(fd, data, KEYWORDS_FILE_MAX);
    close(fd);
    if (n < 0)
        return -1;
    data[n] = '\0';
    store_keywords_free(kw);
    kw->mtime = mtime;
    char *save = NULL;
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *sp = strchr(line, ' ');
        if (!sp)
            continue;
        unsigned long long idx;
        if (str_to_u64(line, (size_t)(sp - line), STORE_KEYWORDS_MAX - 1, &idx) < 0)
            continue;
        if (!store_keyword_valid(sp + 1) || kw->names[idx])
            continue;
        kw->names[idx] = xstrdup(sp + 1);
        if (idx + 1 > kw->count)
            kw->count = (size_t)idx + 1;
    }
    return 0;
}

/* Write the keywords to the file (a new file renamed over the old). */
static int keywords_save(const char *dir, const struct store_keywords *kw)
{
    struct buf b;
    buf_init(&b, KEYWORDS_FILE_MAX);
    for (size_t i = 0; i < kw->count; i++)
        if (kw->names[i] && buf_printf(&b, "%zu %s\n", i, kw->names[i]) < 0) {
            buf_free(&b);
            errno = EFBIG;
            return -1;
        }
    char path[STORE_PATH_MAX], tmp[STORE_PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/" KEYWORDS_FILE, dir);
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        buf_free(&b);
        return -1;
    }
    ssize_t w = write(fd, b.data ? b.data : "", b.len);
    int rc = (w == (ssize_t)b.len && fsync(fd) == 0) ? 0 : -1;
    close(fd);
    buf_free(&b);
    if (rc == 0)
        rc = rename(tmp, path);
    if (rc < 0)
        unlink(tmp);
    return rc;
}

int store_keywords_lookup(struct store_account *acc, const char *dir, struct store_keywords *kw,
                          const char *name, bool create)
{
    if (!store_keyword_valid(name)) {
        store_fail(acc, STORE_ERR_INVALID, "invalid keyword");
        return -1;
    }
    for (size_t i = 0; i < kw->count; i++)
        if (kw->names[i] && strcmp(kw->names[i], name) == 0)
            return (int)i;
    if (!create) {
        store_fail(acc, STORE_ERR_NOTFOUND, "no such keyword");
        return -1;
    }
    /* under the write lock, so two processes do not give one letter twice */
    bool own_tx = acc->tx_depth == 0;
    if (own_tx && store_tx_begin(acc, true) < 0)
        return -1;
    int result = -1;
    kw->mtime = -1;
    if (store_keywords_load(dir, kw) < 0) {
        store_fail(acc, STORE_ERR_TEMP, "%s: cannot read the keywords: %s", dir, strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < kw->count; i++)
        if (kw->names[i] && strcmp(kw->names[i], name) == 0) {
            result = (int)i;
            goto out;
        }
    size_t slot = kw->count;
    for (size_t i = 0; i < kw->count; i++)
        if (!kw->names[i]) {
            slot = i;
            break;
        }
    if (slot >= STORE_KEYWORDS_MAX) {
        store_fail(acc, STORE_ERR_LIMIT, "too many keywords in this folder");
        goto out;
    }
    kw->names[slot] = xstrdup(name);
    if (slot + 1 > kw->count)
        kw->count = slot + 1;
    if (keywords_save(dir, kw) < 0) {
        store_fail(acc, STORE_ERR_TEMP, "%s: cannot write the keywords: %s", dir, strerror(errno));
        x_free(&kw->names[slot]);
        kw->mtime = -1;
        goto out;
    }
    kw->mtime = -1; /* reload to learn the file's mtime */
    store_keywords_load(dir, kw);
    result = (int)slot;
    acc->tx_changed = true;
out:
    if (own_tx) {
        if (result >= 0) {
            if (store_tx_commit(acc) < 0)
                return -1;
        } else {
            store_tx_rollback(acc);
        }
    }
    return result;
}
