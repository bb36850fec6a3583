/* store-quota: the Maildir++ maildirsize file. */
#include "store-quota.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/str.h"
#include "store-private.h"

#define QUOTA_FILE "maildirsize"

bool store_quota_enabled(const struct store_quota *q)
{
    return q && (q->bytes_limit > 0 || q->messages_limit > 0);
}

/* The quota definition line for q, without its LF. */
static void def_line(const struct store_quota *q, char *out, size_t size)
{
    if (q->bytes_limit && q->messages_limit)
        snprintf(out, size, "%" PRIu64 "S,%" PRIu64 "C", q->bytes_limit, q->messages_limit);
    else if (q->bytes_limit)
        snprintf(out, size, "%" PRIu64 "S", q->bytes_limit);
    else if (q->messages_limit)
        snprintf(out, size, "%" PRIu64 "C", q->messages_limit);
    else
        out[0] = '\0';
}

/* Add the files of one Maildir directory (cur or new) to u. */
static void count_dir(const char *dir, struct store_quota_usage *u)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        struct store_name p;
        store_name_parse(de->d_name, &p);
        int64_t size = p.psize;
        if (size < 0) {
            struct stat sb;
            if (fstatat(dirfd(d), de->d_name, &sb, 0) < 0)
                continue;
            size = (int64_t)sb.st_size;
        }
        u->bytes += size;
        u->messages++;
    }
    closedir(d);
}

/* Count every folder of the account. */
static int count_all(const char *root, struct store_quota_usage *u)
{
    memset(u, 0, sizeof(*u));
    DIR *d = opendir(root);
    if (!d)
        return -1;
    char p[STORE_PATH_MAX + 300];
    snprintf(p, sizeof(p), "%s/cur", root);
    count_dir(p, u);
    snprintf(p, sizeof(p), "%s/new", root);
    count_dir(p, u);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.' || !store_folder_name_valid(de->d_name + 1))
            continue;
        snprintf(p, sizeof(p), "%s/%s/cur", root, de->d_name);
        count_dir(p, u);
        snprintf(p, sizeof(p), "%s/%s/new", root, de->d_name);
        count_dir(p, u);
    }
    closedir(d);
    return 0;
}

int store_quota_recalc(const char *root, const struct store_quota *q, struct store_quota_usage *u)
{
    if (count_all(root, u) < 0)
        return -1;
    if (!store_quota_enabled(q))
        return 0;
    char line[128], data[256];
    def_line(q, line, sizeof(line));
    int n =
        snprintf(data, sizeof(data), "%s\n%" PRId64 " %" PRId64 "\n", line, u->bytes, u->messages);
    if (n < 0 || (size_t)n >= sizeof(data)) {
        errno = EOVERFLOW;
        return -1;
    }
    char path[STORE_PATH_MAX], tmp[STORE_PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/" QUOTA_FILE, root);
    snprintf(tmp, sizeof(tmp), "%s/tmp/" QUOTA_FILE ".%ld.%ld", root, (long)getpid(),
             (long)time(NULL));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int rc = write(fd, data, (size_t)n) == n ? 0 : -1;
    if (close(fd) < 0)
        rc = -1;
    if (rc == 0)
        rc = rename(tmp, path);
    if (rc < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
    }
    return rc;
}

static bool over(const struct store_quota *q, const struct store_quota_usage *u)
{
    return (q->bytes_limit && u->bytes > (int64_t)q->bytes_limit) ||
           (q->messages_limit && u->messages > (int64_t)q->messages_limit);
}

int store_quota_get(const char *root, const struct store_quota *q, struct store_quota_usage *u)
{
    memset(u, 0, sizeof(*u));
    if (!store_quota_enabled(q))
        return count_all(root, u);
    char path[STORE_PATH_MAX];
    snprintf(path, sizeof(path), "%s/" QUOTA_FILE, root);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? store_quota_recalc(root, q, u) : -1;
    struct stat sb;
    char data[STORE_QUOTA_FILE_MAX + 1];
    ssize_t n = -1;
    if (fstat(fd, &sb) == 0 && sb.st_size <= STORE_QUOTA_FILE_MAX)
        n = read(fd, data, STORE_QUOTA_FILE_MAX);
    close(fd);
    if (n < 0)
        return store_quota_recalc(root, q, u);
    data[n] = '\0';
    char want[128];
    def_line(q, want, sizeof(want));
    char *nl = strchr(data, '\n');
    if (!nl || (size_t)(nl - data) != strlen(want) || memcmp(data, want, strlen(want)) != 0)
        return store_quota_recalc(root, q, u);
    for (char *line = nl + 1; *line;) {
        char *end = strchr(line, '\n');
        if (!end)
            break; /* a line being written */
        long long b, m;
        if (sscanf(line, "%lld %lld", &b, &m) == 2) {
            u->bytes += b;
            u->messages += m;
        }
        line = end + 1;
    }
    if (u->bytes < 0 || u->messages < 0 ||
        (over(q, u) && time(NULL) - sb.st_mtim.tv_sec > STORE_QUOTA_MAX_AGE))
        return store_quota_recalc(root, q, u);
    return 0;
}

int store_quota_check(const char *root, const struct store_quota *q, uint64_t bytes,
                      uint64_t messages)
{
    if (!store_quota_enabled(q))
        return 1;
    struct store_quota_usage u;
    if (store_quota_get(root, q, &u) < 0)
        return -1;
    if (q->bytes_limit && (uint64_t)u.bytes + bytes > q->bytes_limit)
        return 0;
    if (q->messages_limit && (uint64_t)u.messages + messages > q->messages_limit)
        return 0;
    return 1;
}

int store_quota_update(const char *root, const struct store_quota *q, int64_t bytes,
                       int64_t messages)
{
    if (!store_quota_enabled(q))
        return 0;
    char path[STORE_PATH_MAX];
    snprintf(path, sizeof(path), "%s/" QUOTA_FILE, root);
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1; /* counted at the next recalculation */
    char line[64];
    int n = snprintf(line, sizeof(line), "%" PRId64 " %" PRId64 "\n", bytes, messages);
    int rc = n > 0 && (size_t)n < sizeof(line) && write(fd, line, (size_t)n) == n ? 0 : -1;
    close(fd);
    return rc;
}
