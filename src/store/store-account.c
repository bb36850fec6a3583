/* store-account: opening an account (its Maildir++ root, special-use
 * folders, index), references and the record of the last error. */
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
#include "maildir.h"
#include "store-private.h"

/* The special-use folders every account has (RFC 6154). */
static const char *const special_names[] = {"Sent", "Drafts", "Trash", "Junk", "Archive"};

int store_fail(struct store_account *acc, enum store_err e, const char *fmt, ...)
{
    if (store_in_bg)
        return -1; /* the background commit keeps its own error */
    acc->err = e;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(acc->errtext, sizeof(acc->errtext), fmt, ap);
    va_end(ap);
    if (n < 0)
        str_copy(acc->errtext, sizeof(acc->errtext), "error");
    return -1;
}

int store_fail_db(struct store_account *acc, const char *what)
{
    return store_fail(acc, STORE_ERR_TEMP, "index: %s: %s", what, sqlite3_errmsg(acc->db));
}

bool store_is_inbox(const char *name)
{
    return str_eq_ci(name, "INBOX");
}

int store_folder_path(const struct store_account *acc, const char *name, char *out, size_t size)
{
    int n = store_is_inbox(name) ? snprintf(out, size, "%s", acc->root)
                                 : snprintf(out, size, "%s/.%s", acc->root, name);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int store_account_root(const char *mail_dir, const char *address, char *out, size_t outsize)
{
    const char *at = strrchr(address, '@');
    if (!at || at == address || !at[1])
        return -1;
    char local[256], domain[256];
    if (str_copyn(local, sizeof(local), address, (size_t)(at - address)) < 0 ||
        str_copy(domain, sizeof(domain), at + 1) < 0)
        return -1;
    str_lower(local);
    if (!maildir_name_safe(local) || !maildir_name_safe(domain))
        return -1;
    int n = snprintf(out, outsize, "%s/%s/%s", mail_dir, domain, local);
    return n < 0 || (size_t)n >= outsize ? -1 : 0;
}

/* Create a Maildir++ sub-folder directory with its maildirfolder marker
 * (Courier and Dovecot look for it). Subscribes it when new. */
static int create_special(struct store_account *acc, const char *name)
{
    char dir[STORE_PATH_MAX];
    if (store_folder_path(acc, name, dir, sizeof(dir)) < 0)
        return -1;
    struct stat sb;
    if (stat(dir, &sb) == 0)
        return 0;
    if (maildir_create(dir, 0700) < 0)
        return -1;
    char marker[STORE_PATH_MAX + 16];
    snprintf(marker, sizeof(marker), "%s/maildirfolder", dir);
    int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    return store_folder_subscribe(acc, name, true);
}

struct store_account *store_account_open(const char *root, char **error_r)
{
    *error_r = NULL;
    if (strlen(root) > STORE_PATH_MAX - STORE_FOLDER_NAME_MAX - 64) {
        *error_r = xstrdup("account path too long");
        return NULL;
    }
    if (maildir_create(root, 0700) < 0) {
        struct buf b;
        buf_init(&b, 1024);
        buf_printf(&b, "%s: cannot create the Maildir: %s", root, strerror(errno));
        *error_r = buf_steal(&b);
        return NULL;
    }
    struct store_account *acc = xcalloc(1, sizeof(*acc));
    acc->refs = 1;
    acc->root = xstrdup(root);
    size_t rl = strlen(acc->root);
    while (rl > 1 && acc->root[rl - 1] == '/')
        acc->root[--rl] = '\0';
    for (size_t i = 0; i < sizeof(special_names) / sizeof(special_names[0]); i++) {
        if (create_special(acc, special_names[i]) < 0) {
            struct buf b;
            buf_init(&b, 1024);
            buf_printf(&b, "%s: cannot create the folder %s: %s", root, special_names[i],
                       strerror(errno));
            *error_r = buf_steal(&b);
            free(acc->root);
            free(acc);
            return NULL;
        }
    }
    if (store_index_open(acc, error_r) < 0) {
        free(acc->root);
        free(acc);
        return NULL;
    }
    return acc;
}

struct store_account *store_account_ref(struct store_account *acc)
{
    acc->refs++;
    return acc;
}

void store_account_unref(struct store_account **accp)
{
    struct store_account *acc = *accp;
    if (!acc)
        return;
    *accp = NULL;
    if (--acc->refs > 0)
        return;
    store_tx_rollback(acc);
    store_snap_forget_all(acc);
    store_index_close(acc);
    free(acc->root);
    free(acc);
}

enum store_err store_account_error(const struct store_account *acc, const char **text_r)
{
    if (text_r)
        *text_r = acc->err == STORE_OK ? "no error" : acc->errtext;
    return acc->err;
}

const char *store_account_path(const struct store_account *acc)
{
    return acc->root;
}

void store_account_set_quota(struct store_account *acc, uint64_t bytes_limit,
                             uint64_t messages_limit)
{
    acc->quota.bytes_limit = bytes_limit;
    acc->quota.messages_limit = messages_limit;
}

unsigned store_special_use(const char *name)
{
    static const unsigned attrs[] = {STORE_ATTR_SENT, STORE_ATTR_DRAFTS, STORE_ATTR_TRASH,
                                     STORE_ATTR_JUNK, STORE_ATTR_ARCHIVE};
    for (size_t i = 0; i < sizeof(special_names) / sizeof(special_names[0]); i++)
        if (strcmp(name, special_names[i]) == 0)
            return attrs[i];
    return 0;
}
