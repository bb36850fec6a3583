#include "maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/str.h"

/* mkdir -p for the parents of a Maildir. */
static int mkdirs(const char *path, mode_t mode)
{
    char tmp[4096];
    if (str_copy(tmp, sizeof(tmp), path) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

int maildir_create(const char *root, mode_t mode)
{
    if (mkdirs(root, mode) < 0)
        return -1;
    const char *subs[] = {"tmp", "new", "cur"};
    for (size_t i = 0; i < 3; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", root, subs[i]);
        if (mkdir(path, mode) < 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

bool maildir_name_safe(const char *s)
{
    if (!s[0] || s[0] == '.')
        return false;
    for (; *s; s++)
        if (*s == '/' || (unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* This host's name as Maildir wants it: '/' and ':' escaped. */
static const char *host_part(void)
{
    static char host[128];
    if (host[0])
        return host;
    char raw[64];
    if (gethostname(raw, sizeof(raw)) < 0)
        str_copy(raw, sizeof(raw), "localhost");
    raw[sizeof(raw) - 1] = '\0';
    size_t o = 0;
    for (const char *p = raw; *p && o + 5 < sizeof(host); p++) {
        if (*p == '/' || *p == ':') {
            o += (size_t)snprintf(host + o, sizeof(host) - o, "\\%03o", (unsigned char)*p);
        } else {
            host[o++] = *p;
        }
    }
    host[o] = '\0';
    return host;
}

int maildir_delivery_begin(struct maildir_delivery *d, const char *root)
{
    static unsigned long counter;
    memset(d, 0, sizeof(*d));
    d->root_fd = d->tmp_fd = d->new_fd = d->fd = -1;
    d->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->root_fd < 0 && errno == ENOENT) {
        if (maildir_create(root, 0700) < 0)
            return -1;
        d->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (d->root_fd < 0)
        return -1;
    d->tmp_fd = openat(d->root_fd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    d->new_fd = openat(d->root_fd, "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if ((d->tmp_fd < 0 || d->new_fd < 0) && errno == ENOENT) {
        /* A Maildir missing a subdirectory: repair it. */
        if (d->tmp_fd >= 0)
            close(d->tmp_fd);
        if (d->new_fd >= 0)
            close(d->new_fd);
        if (maildir_create(root, 0700) < 0)
            goto fail;
        d->tmp_fd = openat(d->root_fd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        d->new_fd = openat(d->root_fd, "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (d->tmp_fd < 0 || d->new_fd < 0)
        goto fail;
    for (int attempt = 0; attempt < 10; attempt++) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        snprintf(d->name, sizeof(d->name), "%lld.M%ldP%ldQ%lu.%s", (long long)tv.tv_sec,
                 (long)tv.tv_usec, (long)getpid(), ++counter, host_part());
        d->fd = openat(d->tmp_fd, d->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (d->fd >= 0 || errno != EEXIST)
            break;
    }
    if (d->fd < 0)
        goto fail;
    return 0;
fail : {
    int e = errno;
    maildir_delivery_close(d, false);
    errno = e;
    return -1;
}
}

int maildir_delivery_write(struct maildir_delivery *d, const char *data, size_t len)
{
    if (d->error)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (data[i] == '\n')
            d->lines++;
    d->size += len;
    while (len > 0) {
        ssize_t w = write(d->fd, data, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            d->error = errno;
            return -1;
        }
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

int maildir_delivery_finish(struct maildir_delivery *d, struct sync_op *op)
{
    if (d->error) {
        errno = d->error;
        return -1;
    }
    char final[256];
    snprintf(final, sizeof(final), "%s,S=%llu,W=%llu", d->name, d->size, d->size + d->lines);
    sync_op_init(op);
    sync_op_add_fd(op, d->fd);
    if (sync_op_add_rename(op, d->tmp_fd, d->name, d->new_fd, final) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    sync_op_add_dir(op, d->new_fd);
    return 0;
}

void maildir_delivery_close(struct maildir_delivery *d, bool delivered)
{
    if (d->fd >= 0) {
        close(d->fd);
        if (!delivered && d->tmp_fd >= 0)
            unlinkat(d->tmp_fd, d->name, 0);
    }
    if (d->tmp_fd >= 0)
        close(d->tmp_fd);
    if (d->new_fd >= 0)
        close(d->new_fd);
    if (d->root_fd >= 0)
        close(d->root_fd);
    d->fd = d->tmp_fd = d->new_fd = d->root_fd = -1;
}
