/* postino report usage: the mailbox space each user and each domain
 * takes, largest first.
 *
 * Two kinds of files are read, owned by two users: the state database
 * (the state owner, as every command works on it) and the mailboxes
 * (mail_user, who alone may read them). Run as root, the command reads
 * the list of users in a child that becomes the state owner
 * (cmd_open_state()) and hands the addresses back through a pipe; the
 * command then becomes mail_user for good and reads the mailboxes. Run
 * as anyone else, both happen as that user. No file is read as root. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"
#include "lib/buf.h"
#include "lib/privs.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "share/share-store.h"
#include "state/state-user.h"
#include "store/store.h"

#define REPORT_LIST_MAX (64u * 1024 * 1024) /* octets of the address list from the child */

static const char usage[] =
    "usage: postino report usage [--domain DOMAIN] [--json]\n"
    "Options: --config FILE\n"
    "The mailbox space of every user (or of one domain's): per domain and per user the\n"
    "messages and octets stored, and how much of it is in Trash, Junk and Sent; largest\n"
    "first. Mailboxes not yet made count as empty. Then the share portal's storage:\n"
    "its transfers, the octets they reserve (what share_quota counts) and have stored.\n";

struct account_usage {
    char address[320];
    char domain[256];
    uint64_t messages, bytes, trash, junk, sent;
    struct store_usage *folders; /* malloc'ed */
    size_t n_folders;
    bool failed;
};

struct domain_usage {
    char domain[256];
    uint64_t messages, bytes, trash, junk, sent;
    size_t first, count; /* its accounts in the sorted array */
};

/* state_user_list() callback: one address a line into the pipe. */
static void put_user(const struct state_user *u, void *arg)
{
    fprintf(arg, "%s\n", u->address);
}

/* The share portal's storage, as a last line "#shares TRANSFERS
 * RESERVED STORED" (nothing when the portal has no store yet). */
static void put_shares(const struct config *cfg, FILE *f)
{
    char path[4096];
    struct stat st;
    if (!f || config_data_path(cfg, "state/shares.db", path, sizeof(path)) < 0 ||
        stat(path, &st) < 0)
        return;
    char *err = NULL;
    struct share_store *ss = share_store_open(cfg->data_dir, &err);
    unsigned long long reserved = 0, stored = 0, transfers = 0;
    if (ss && share_store_usage(ss, &reserved, &stored, &transfers) == 0)
        fprintf(f, "#shares %llu %llu %llu\n", transfers, reserved, stored);
    else
        cmd_error("the share store cannot be read: %s", err ? err : share_store_error(ss));
    free(err);
    share_store_close(&ss);
}

/* The addresses of the users (of domain, or all), read in a child that
 * works as the state owner. 0 with the list in *out (one a line), or -1
 * after printing why. */
static int read_users(const struct config *cfg, const char *domain, struct buf *out)
{
    int fds[2];
    if (pipe(fds) < 0) {
        cmd_error("pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        cmd_error("fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        FILE *f = fdopen(fds[1], "w");
        struct state_db *db = f ? cmd_open_state(cfg) : NULL;
        int n = db ? state_user_list(db, domain, put_user, f) : -1;
        if (n < 0 && db)
            cmd_error("cannot list the users");
        put_shares(cfg, f);
        state_db_close(&db);
        int rc = (f && fclose(f) == 0 && n >= 0) ? 0 : 1;
        struct config *c = (struct config *)cfg;
        config_free(&c);
        exit(rc);
    }
    close(fds[1]);
    int rc = 0;
    for (;;) {
        char *space = buf_reserve(out, 4096);
        if (!space) {
            cmd_error("the list of users is larger than %u octets", REPORT_LIST_MAX);
            rc = -1;
            break;
        }
        ssize_t n = read(fds[0], space, 4096);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -1 : 0;
            break;
        }
        buf_commit(out, (size_t)n);
    }
    close(fds[0]);
    int status = -1; /* not an exit: a failed wait counts as a failure */
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        rc = -1; /* the child said why */
    return rc;
}

/* Become mail_user when root: the mailboxes are theirs. */
static int become_mail_user(const struct config *cfg)
{
    if (!privs_is_root())
        return 0;
    struct privs_user u;
    const char *why;
    if (privs_lookup(cfg->mail_user, &u, &why) < 0) {
        cmd_error("mail_user %s: %s", cfg->mail_user, why);
        return -1;
    }
    u.extra_gid = 0;
    if (privs_drop(&u, &why) < 0) {
        cmd_error("cannot become %s: %s", cfg->mail_user, why);
        return -1;
    }
    return 0;
}

/* Measure one account; a mailbox not made yet is left empty (and not
 * made: opening would create it). */
static void measure(const char *mail_dir, struct account_usage *a)
{
    char root[4096];
    if (store_account_root(mail_dir, a->address, root, sizeof(root)) < 0) {
        cmd_error("%s: no mailbox path for this address", a->address);
        a->failed = true;
        return;
    }
    struct stat st;
    if (stat(root, &st) < 0 && errno == ENOENT)
        return;
    char *err = NULL;
    struct store_account *acc = store_account_open(root, &err);
    if (!acc) {
        cmd_error("%s: %s", a->address, err);
        free(err);
        a->failed = true;
        return;
    }
    struct store_folder_info *info = NULL;
    size_t ni = 0;
    if (store_account_usage(acc, &a->folders, &a->n_folders) < 0 ||
        store_folder_list(acc, &info, &ni) < 0) {
        const char *text;
        store_account_error(acc, &text);
        cmd_error("%s: %s", a->address, text);
        a->failed = true;
    }
    for (size_t i = 0; i < a->n_folders; i++) {
        const struct store_usage *f = &a->folders[i];
        a->messages += f->messages;
        a->bytes += f->bytes;
        unsigned attrs = 0;
        for (size_t k = 0; k < ni; k++)
            if (strcmp(info[k].name, f->name) == 0)
                attrs = info[k].attrs;
        if (attrs & STORE_ATTR_TRASH)
            a->trash += f->bytes;
        if (attrs & STORE_ATTR_JUNK)
            a->junk += f->bytes;
        if (attrs & STORE_ATTR_SENT)
            a->sent += f->bytes;
    }
    free(info);
    store_account_unref(&acc);
}

static int by_domain_then_size(const void *x, const void *y)
{
    const struct account_usage *a = x, *b = y;
    int c = strcmp(a->domain, b->domain);
    if (c)
        return c;
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes ? -1 : 1;
    return strcmp(a->address, b->address);
}

static int domain_by_size(const void *x, const void *y)
{
    const struct domain_usage *a = x, *b = y;
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes ? -1 : 1;
    return strcmp(a->domain, b->domain);
}

static void print_sizes_json(uint64_t messages, uint64_t bytes, uint64_t trash, uint64_t junk,
                             uint64_t sent)
{
    printf("\"messages\":%llu,\"bytes\":%llu,\"trash_bytes\":%llu,\"junk_bytes\":%llu,"
           "\"sent_bytes\":%llu",
           (unsigned long long)messages, (unsigned long long)bytes, (unsigned long long)trash,
           (unsigned long long)junk, (unsigned long long)sent);
}

static void print_sizes_text(uint64_t messages, uint64_t bytes, uint64_t trash, uint64_t junk,
                             uint64_t sent)
{
    printf("messages=%llu bytes=%llu trash=%llu junk=%llu sent=%llu", (unsigned long long)messages,
           (unsigned long long)bytes, (unsigned long long)trash, (unsigned long long)junk,
           (unsigned long long)sent);
}

struct share_usage {
    bool known;
    unsigned long long transfers, reserved, stored, quota;
};

static void print_report(const struct domain_usage *d, size_t nd, const struct account_usage *a,
                         const struct share_usage *sh, bool json)
{
    if (json)
        printf("{\"domains\":[");
    for (size_t i = 0; i < nd; i++) {
        if (json) {
            printf("%s{\"domain\":", i ? "," : "");
            cmd_json_string(stdout, d[i].domain);
            printf(",\"users\":%zu,", d[i].count);
            print_sizes_json(d[i].messages, d[i].bytes, d[i].trash, d[i].junk, d[i].sent);
            printf(",\"accounts\":[");
        } else {
            printf("%s users=%zu ", d[i].domain, d[i].count);
            print_sizes_text(d[i].messages, d[i].bytes, d[i].trash, d[i].junk, d[i].sent);
            printf("\n");
        }
        for (size_t k = d[i].first; k < d[i].first + d[i].count; k++) {
            const struct account_usage *u = &a[k];
            if (!json) {
                printf("  %s ", u->address);
                print_sizes_text(u->messages, u->bytes, u->trash, u->junk, u->sent);
                printf("%s\n", u->failed ? " (unreadable)" : "");
                continue;
            }
            printf("%s{\"address\":", k > d[i].first ? "," : "");
            cmd_json_string(stdout, u->address);
            printf(",");
            print_sizes_json(u->messages, u->bytes, u->trash, u->junk, u->sent);
            printf(",\"error\":%s,\"folders\":[", u->failed ? "true" : "false");
            for (size_t f = 0; f < u->n_folders; f++) {
                printf("%s{\"name\":", f ? "," : "");
                cmd_json_string(stdout, u->folders[f].name);
                printf(",\"messages\":%llu,\"bytes\":%llu}",
                       (unsigned long long)u->folders[f].messages,
                       (unsigned long long)u->folders[f].bytes);
            }
            printf("]}");
        }
        if (json)
            printf("]}");
    }
    if (json) {
        printf("]");
        if (sh->known)
            printf(",\"shares\":{\"transfers\":%llu,\"reserved_bytes\":%llu,"
                   "\"stored_bytes\":%llu,\"quota_bytes\":%llu}",
                   sh->transfers, sh->reserved, sh->stored, sh->quota);
        printf("}\n");
    } else if (sh->known) {
        printf("share portal transfers=%llu reserved=%llu stored=%llu quota=%llu\n", sh->transfers,
               sh->reserved, sh->stored, sh->quota);
    }
}

static int report_usage(struct config *cfg, const char *domain, bool json)
{
    struct buf list;
    buf_init(&list, REPORT_LIST_MAX);
    if (read_users(cfg, domain, &list) < 0 || become_mail_user(cfg) < 0) {
        buf_free(&list);
        return 1;
    }
    char mail_dir[4096];
    if (config_data_path(cfg, "mail", mail_dir, sizeof(mail_dir)) < 0) {
        cmd_error("path too long");
        buf_free(&list);
        return 1;
    }
    /* one account per line of the list */
    size_t n = 0, cap = 0;
    struct account_usage *a = NULL;
    const char *p = buf_cstr(&list);
    int rc = 0;
    struct share_usage shares = {0};
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (*p == '#') {
            shares.known = sscanf(p, "#shares %llu %llu %llu", &shares.transfers, &shares.reserved,
                                  &shares.stored) == 3;
            p += len + (nl ? 1 : 0);
            continue;
        }
        const char *at = memchr(p, '@', len);
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            a = xrealloc(a, cap * sizeof(*a));
        }
        memset(&a[n], 0, sizeof(a[n]));
        if (!at || str_copyn(a[n].address, sizeof(a[n].address), p, len) < 0 ||
            str_copyn(a[n].domain, sizeof(a[n].domain), at + 1, len - (size_t)(at + 1 - p)) < 0) {
            cmd_error("unusable address in the users table");
            rc = 1;
        } else {
            str_lower(a[n].domain);
            measure(mail_dir, &a[n]);
            rc |= a[n].failed;
            n++;
        }
        p += len + (nl ? 1 : 0);
    }
    buf_free(&list);
    if (n)
        qsort(a, n, sizeof(*a), by_domain_then_size);
    struct domain_usage *d = xcalloc(n ? n : 1, sizeof(*d));
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        if (nd == 0 || strcmp(d[nd - 1].domain, a[i].domain) != 0) {
            str_copy(d[nd].domain, sizeof(d[nd].domain), a[i].domain);
            d[nd++].first = i;
        }
        struct domain_usage *x = &d[nd - 1];
        x->count++;
        x->messages += a[i].messages;
        x->bytes += a[i].bytes;
        x->trash += a[i].trash;
        x->junk += a[i].junk;
        x->sent += a[i].sent;
    }
    if (nd)
        qsort(d, nd, sizeof(*d), domain_by_size);
    shares.quota = (unsigned long long)cfg->share_quota;
    print_report(d, nd, a, &shares, json);
    for (size_t i = 0; i < n; i++)
        free(a[i].folders);
    free(a);
    free(d);
    return rc ? 1 : 0;
}

/* Take "--domain D" (or --domain=D) out of argv. Returns the new argc, or
 * -1 after printing why. */
static int take_domain(int argc, char **argv, const char **domain_r)
{
    int out = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--domain") == 0) {
            if (i + 1 >= argc) {
                cmd_error("--domain needs a domain");
                return -1;
            }
            *domain_r = argv[++i];
        } else if (strncmp(argv[i], "--domain=", 9) == 0) {
            *domain_r = argv[i] + 9;
        } else {
            argv[out++] = argv[i];
        }
    }
    argv[out] = NULL;
    return out;
}

int cmd_report(int argc, char **argv)
{
    const char *domain = NULL;
    argc = take_domain(argc, argv, &domain);
    if (argc < 0) {
        fputs(usage, stderr);
        return 2;
    }
    struct cmd_common c;
    argc = cmd_parse_common(argc, argv, &c, usage);
    if (argc <= 0)
        return argc < 0 ? 2 : 0;
    if (argc != 2 || strcmp(argv[1], "usage") != 0 || (domain && !*domain)) {
        fputs(usage, stderr);
        return 2;
    }
    char lower[256];
    if (domain) {
        if (str_copy(lower, sizeof(lower), domain) < 0) {
            cmd_error("domain name too long");
            return 2;
        }
        str_lower(lower);
        domain = lower;
    }
    struct config *cfg = cmd_load_config(&c);
    if (!cfg)
        return 1;
    int rc = report_usage(cfg, domain, c.json);
    config_free(&cfg);
    return rc;
}
