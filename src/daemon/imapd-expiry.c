/* imapd-expiry: the daily expiry of Trash and Junk in every account (see
 * imapd-expiry.h). */
#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "imapd-expiry.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "store/store.h"

struct imapd_expiry {
    char mail_dir[4096];
    struct imapd_expiry_hooks hooks;
    long long interval;
    struct event *timer;
    /* the run in progress: the accounts' roots, the next one */
    char **roots;
    size_t n, next;
    unsigned days;
    time_t now;
};

long long imapd_expiry_interval(const char *value)
{
    if (!value || !*value)
        return IMAPD_EXPIRY_INTERVAL;
    unsigned long long v;
    if (str_to_u64(value, strlen(value), IMAPD_EXPIRY_INTERVAL_MAX, &v) < 0 || v == 0)
        return -1;
    return (long long)v;
}

static void arm(struct imapd_expiry *e, long long seconds)
{
    struct timeval tv = {(time_t)seconds, 0};
    evtimer_add(e->timer, &tv);
}

static void run_free(struct imapd_expiry *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->roots[i]);
    free(e->roots);
    e->roots = NULL;
    e->n = e->next = 0;
}

/* Is dir/name a directory with a cur/ (a Maildir)? */
static bool is_maildir(int dfd, const char *name)
{
    struct stat st;
    if (name[0] == '.' || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
        return false;
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = fstatat(fd, "cur", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    close(fd);
    return ok;
}

/* List mail_dir/DOMAIN/USER for the run. */
static void list_accounts(struct imapd_expiry *e)
{
    DIR *top = opendir(e->mail_dir);
    if (!top) {
        log_warn("imap: expire: cannot read %s", e->mail_dir);
        return;
    }
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(top)) != NULL && e->n < IMAPD_EXPIRY_ACCOUNTS_MAX) {
        struct stat st;
        if (de->d_name[0] == '.' || fstatat(dirfd(top), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISDIR(st.st_mode))
            continue;
        int dfd = openat(dirfd(top), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *dom = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!dom) {
            if (dfd >= 0)
                close(dfd);
            continue;
        }
        struct dirent *ue;
        while ((ue = readdir(dom)) != NULL && e->n < IMAPD_EXPIRY_ACCOUNTS_MAX) {
            if (!is_maildir(dirfd(dom), ue->d_name))
                continue;
            struct buf b;
            buf_init(&b, sizeof(e->mail_dir));
            if (buf_printf(&b, "%s/%s/%s", e->mail_dir, de->d_name, ue->d_name) < 0) {
                buf_free(&b);
                continue;
            }
            if (e->n == cap) {
                cap = cap ? cap * 2 : 64;
                e->roots = xrealloc(e->roots, cap * sizeof(*e->roots));
            }
            e->roots[e->n++] = buf_steal(&b);
        }
        closedir(dom);
    }
    closedir(top);
}

/* "local@domain" of an account's root "MAIL_DIR/domain/local". */
static void account_name(const char *root, char *out, size_t outsize)
{
    const char *local = strrchr(root, '/');
    const char *dom = local;
    while (dom > root && dom[-1] != '/')
        dom--;
    struct buf b;
    buf_init(&b, outsize);
    if (local && dom > root && buf_printf(&b, "%s@%.*s", local + 1, (int)(local - dom), dom) == 0)
        str_copy(out, outsize, buf_cstr(&b));
    else
        str_copy(out, outsize, root);
    buf_free(&b);
}

static void expire_one(struct imapd_expiry *e, const char *root)
{
    char name[512], safe[512];
    account_name(root, name, sizeof(name));
    str_printable(safe, sizeof(safe), name, strlen(name));
    char *err = NULL;
    struct store_account *acc = store_account_open(root, &err);
    if (!acc) {
        log_warn("imap: expire: account=<%s> cannot be opened: %s", safe, err);
        free(err);
        return;
    }
    size_t n = 0;
    if (store_account_expire(acc, e->days, e->now, &n) < 0) {
        const char *text;
        store_account_error(acc, &text);
        log_warn("imap: expire: account=<%s> failed: %s", safe, text);
    }
    store_account_unref(&acc);
    if (n > 0) {
        log_info("imap: expire: account=<%s> expunged=%zu days=%u", safe, n, e->days);
        if (e->hooks.expunged)
            e->hooks.expunged(root, e->hooks.arg);
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct imapd_expiry *e = arg;
    if (!e->roots) {
        /* a new run */
        e->days = e->hooks.retention_days ? e->hooks.retention_days(e->hooks.arg) : 0;
        if (e->days == 0) {
            arm(e, e->interval);
            return;
        }
        e->now = time(NULL);
        list_accounts(e);
        if (!e->roots) {
            arm(e, e->interval);
            return;
        }
    }
    if (e->next < e->n)
        expire_one(e, e->roots[e->next++]);
    if (e->next < e->n) {
        arm(e, 0); /* the next account after the loop has served the rest */
        return;
    }
    run_free(e);
    arm(e, e->interval);
}

struct imapd_expiry *imapd_expiry_start(struct event_base *base, const char *mail_dir,
                                        const struct imapd_expiry_hooks *hooks)
{
    struct imapd_expiry *e = xcalloc(1, sizeof(*e));
    str_copy(e->mail_dir, sizeof(e->mail_dir), mail_dir);
    e->hooks = *hooks;
    const char *v = getenv(IMAPD_EXPIRY_ENV);
    e->interval = imapd_expiry_interval(v);
    if (e->interval < 0) {
        log_warn("imap: expire: %s must be a number of seconds from 1 to %d: using %d",
                 IMAPD_EXPIRY_ENV, IMAPD_EXPIRY_INTERVAL_MAX, IMAPD_EXPIRY_INTERVAL);
        e->interval = IMAPD_EXPIRY_INTERVAL;
    }
    e->timer = evtimer_new(base, on_timer, e);
    arm(e, e->interval < IMAPD_EXPIRY_FIRST_DELAY ? e->interval : IMAPD_EXPIRY_FIRST_DELAY);
    return e;
}

void imapd_expiry_stop(struct imapd_expiry **ep)
{
    struct imapd_expiry *e = *ep;
    if (!e)
        return;
    if (e->timer)
        event_free(e->timer);
    run_free(e);
    free(e);
    *ep = NULL;
}
