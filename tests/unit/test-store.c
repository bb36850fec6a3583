/* Unit tests: the mailbox store (store/store.h, store/store-quota.h) on
 * scratch directories: delivery with maildir.c, UIDs, flags in file names,
 * views and their sync, two handles on one account, append, copy, move,
 * expunge, folders, index rebuild, quota, cache, expiry, a large folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/str.h"
#include "lib/syncer.h"
#include "store/maildir.h"
#include "store/store-quota.h"
#include "store/store.h"

static char base[] = "/tmp/postino-test-store-XXXXXX";
static int n_accounts;

static int setup(void **state)
{
    (void)state;
    return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    return system(cmd) == 0 ? 0 : -1;
}

/* A fresh account directory name. */
static void new_root(char *root, size_t size)
{
    snprintf(root, size, "%s/acct%d", base, ++n_accounts);
}

static struct store_account *open_acc(const char *root)
{
    char *err = NULL;
    struct store_account *acc = store_account_open(root, &err);
    if (!acc)
        fprintf(stderr, "open: %s\n", err);
    free(err);
    assert_non_null(acc);
    return acc;
}

/* Deliver text (LF) into dir's new/ the way deliver-local does. */
static void deliver(const char *dir, const char *text)
{
    struct maildir_delivery md;
    assert_int_equal(maildir_delivery_begin(&md, dir), 0);
    assert_int_equal(maildir_delivery_write(&md, text, strlen(text)), 0);
    struct sync_op op;
    assert_int_equal(maildir_delivery_finish(&md, &op), 0);
    sync_op_run_now(&op, SYNCER_FSYNC);
    assert_int_equal(op.error, 0);
    maildir_delivery_close(&md, true);
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

static const char msg1[] = "Subject: one\n\nbody one\n";
static const char msg2[] = "Subject: two\n\nbody two\n";

static void test_open_creates(void **state)
{
    (void)state;
    char root[512], p[600];
    new_root(root, sizeof(root));
    struct store_account *acc = open_acc(root);
    const char *names[] = {"Sent", "Drafts", "Trash", "Junk", "Archive"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(p, sizeof(p), "%s/.%s/cur", root, names[i]);
        struct stat sb;
        assert_int_equal(stat(p, &sb), 0);
    }
    snprintf(p, sizeof(p), "%s/index.db", root);
    assert_int_equal(access(p, F_OK), 0);
    struct store_folder_info *l;
    size_t n;
    assert_int_equal(store_folder_list(acc, &l, &n), 0);
    assert_int_equal(n, 6);
    assert_string_equal(l[0].name, "INBOX");
    bool saw_sent = false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i].name, "Sent") == 0) {
            saw_sent = true;
            assert_true(l[i].attrs & STORE_ATTR_SENT);
            assert_true(l[i].attrs & STORE_ATTR_SUBSCRIBED);
            assert_true(l[i].attrs & STORE_ATTR_HASNOCHILD);
        }
    assert_true(saw_sent);
    free(l);
    /* a second reference, then both dropped */
    struct store_account *again = store_account_ref(acc);
    store_account_unref(&again);
    assert_null(again);
    store_account_unref(&acc);
}

static void test_deliver_sync(void **state)
{
    (void)state;
    char root[512], p[600];
    new_root(root, sizeof(root));
    struct store_account *acc = open_acc(root);
    deliver(root, msg1);
    deliver(root, msg2);
    struct store_view *v = store_view_open(acc, "INBOX", 0);
    assert_non_null(v);
    assert_int_equal(store_view_count(v), 2);
    assert_int_equal(store_view_msg(v, 0)->uid, 1);
    assert_int_equal(store_view_msg(v, 1)->uid, 2);
    assert_true(store_view_msg(v, 0)->recent);
    assert_int_equal(store_view_msg(v, 0)->size, strlen(msg1) + 3);
    assert_int_equal(store_view_recent_count(v), 2);
    assert_non_null(strstr(store_view_msg(v, 0)->filename, ":2,"));
    snprintf(p, sizeof(p), "%s/new", root);
    assert_int_equal(count_files(p), 0);
    snprintf(p, sizeof(p), "%s/cur", root);
    assert_int_equal(count_files(p), 2);

    const struct store_sync_result *r;
    assert_int_equal(store_view_sync(v, 0, &r), 0);
    assert_int_equal(r->n_new, 0);
    assert_int_equal(r->n_expunged, 0);
    deliver(root, msg1);
    assert_int_equal(store_view_sync(v, 0, &r), 0);
    assert_int_equal(r->n_new, 1);
    assert_int_equal(r->exists, 3);
    assert_int_equal(store_view_msg(v, 2)->uid, 3);
    assert_true(store_view_msg(v, 2)->recent);

    /* a second view does not see \Recent any more; STATUS counts */
    struct store_view *w = store_view_open(acc, "INBOX", 0);
    assert_int_equal(store_view_recent_count(w), 0);
    struct store_status st;
    assert_int_equal(store_folder_status(acc, "INBOX", &st), 0);
    assert_int_equal(st.messages, 3);
    assert_int_equal(st.uidnext, 4);
    assert_int_equal(st.unseen, 3);
    assert_int_equal(st.recent, 0);
    assert_int_equal(st.uidvalidity, store_view_uidvalidity(v));

    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(store_view_msg_read(v, 1, true, &b), 0);
    assert_string_equal(buf_cstr(&b), "Subject: one\r\n\r\nbody one\r\n");
    assert_int_equal(b.len, store_view_msg(v, 0)->size);
    buf_reset(&b);
    assert_int_equal(store_view_msg_read(v, 1, false, &b), 0);
    assert_string_equal(buf_cstr(&b), msg1);
    buf_free(&b);
    buf_init(&b, 10);
    assert_int_equal(store_view_msg_read(v, 1, true, &b), -1);
    assert_int_equal(store_account_error(acc, NULL), STORE_ERR_LIMIT);
    assert_int_equal(b.len, 0);
    buf_free(&b);
    store_view_close(&w);
    store_view_close(&v);
    store_account_unref(&acc);
}

static void test_flags(void **state)
{
    (void)state;
    char root[512], p[700];
    new_root(root, sizeof(root));
    struct store_account *acc = open_acc(root);
    deliver(root, msg1);
    deliver(root, msg2);
    struct store_view *v = store_view_open(acc, "INBOX", 0);
    uint64_t ms0 = store_view_highestmodseq(v);
    int kw = store_view_keyword_index(v, "$Forwarded", true);
    assert_int_equal(kw, 0);
    assert_int_equal(store_view_keyword_index(v, "Other", false), -1);
    assert_int_equal(store_view_keyword_index(v, "bad word", true), -1);
    assert_int_equal(store_account_error(acc, NULL), STORE_ERR_INVALID);
    uint32_t uids[] = {1};
    const struct store_store_result *sr;
    assert_int_equal(store_view_store(v, uids, 1, STORE_FLAGS_ADD,
                                      STORE_FLAG_SEEN | STORE_FLAG_FLAGGED, 1u << kw, 0, &sr),
                     0);
    assert_int_equal(sr->n_changed, 1);
    const struct store_msg *m = store_view_msg(v, 0);
    assert_non_null(strstr(m->filename, ":2,FSa"));
    assert_true(m->modseq > ms0);
    snprintf(p, sizeof(p), "%s/cur/%s", root, m->filename);
    assert_int_equal(access(p, F_OK), 0);
    /* nothing changes: nothing reported */
    assert_int_equal(store_view_store(v, uids, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, 0, 0, &sr), 0);
    assert_int_equal(sr->n_changed, 0);
    /* the view's own change is not reported by its sync */
    const struct store_sync_result *r;
    assert_int_equal(store_view_sync(v, 0, &r), 0);
    assert_int_equal(r->n_flags, 0);
    /* UNCHANGEDSINCE older than the message: refused */
    uint32_t both[] = {1, 2};
    assert_int_equal(
        store_view_store(v, both, 2, STORE_FLAGS_ADD, STORE_FLAG_ANSWERED, 0, ms0, &sr), 0);
    assert_int_equal(sr->n_modified, 1);
    assert_int_equal(sr->modified_uids[0], 1);
    assert_int_equal(sr->n_changed, 1);
    assert_int_equal(sr->changed_uids[0], 2);
    store_view_close(&v);
    store_account_unref(&acc);

    /* a new handle (another process) reads the flags from the names */
    snprintf(p, sizeof(p), "%s/index.db", root);
    unlink(p);
    acc = open_acc(root);
    v = store_view_open(acc, "INBOX", 0);
    assert_int_equal(store_view_count(v), 2);
    assert_int_equal(store_view_msg(v, 0)->flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
    assert_int_equal(store_view_msg(v, 0)->keywords, 1u);
    assert_string_equal(store_view_keyword_name(v, 0), "$Forwarded");
    assert_int_equal(store_view_msg(v, 1)->flags, STORE_FLAG_ANSWERED);
    /* a tool renaming a file (mutt marking it read) is a flag change */
    char from[800], to[810];
    snprintf(from, sizeof(from), "%s/cur/%s", root, store_view_msg(v, 1)->filename);
    snprintf(to, sizeof(to), "%sS", from);
    assert_int_equal(rename(from, to), 0);
    struct stat sb;
    snprintf(p, sizeof(p), "%s/cur", root);
    stat(p, &sb);
    /* make sure the directory's mtime differs from the one indexed */
    struct timespec ts[2] = {{.tv_sec = sb.st_mtim.tv_sec + 5}, {.tv_sec = sb.st_mtim.tv_sec + 5}};
    utimensat(AT_FDCWD, p, ts, 0);
    assert_int_equal(store_view_sync(v, 0, &r), 0);
    assert_int_equal(r->n_flags, 1);
    assert_int_equal(r->flag_uids[0], 2);
    assert_int_equal(store_view_msg(v, 1)->flags, STORE_FLAG_ANSWERED | STORE_FLAG_SEEN);
    store_view_close(&v);
    store_account_unref(&acc);
}

/* Bump cur/'s mtime so a change within the same timestamp is seen. */
static void touch_cur(const char *dir)
{
    char p[700];
    snprintf(p, sizeof(p), "%s/cur", dir);
    struct stat sb;
    stat(p, &sb);
    struct timespec ts[2] = {{.tv_sec = sb.st_mtim.tv_sec + 7}, {.tv_sec = sb.st_mtim.tv_sec + 7}};
    utimensat(AT_FDCWD, p, ts, 0);
}

static void test_external_removal(void **state)
{
    (void)state;
    char root[512], p[800];
    new_root(root, sizeof(root));
    struct store_account *acc = open_acc(root);
    for (int i = 0; i < 5; i++)
        deliver(root, msg1);
    struct store_view *v = store_view_open(acc, "INBOX", 0);
    assert_int_equal(store_view_count(v), 5);
    snprintf(p, sizeof(p), "%s/cur/%s", root, store_view_msg(v, 1)->filename);
    assert_int_equal(unlink(p), 0);
    snprintf(p, sizeof(p), "%s/cur/%s", root, store_view_msg(v, 3)->filename);
    assert_int_equal(unlink(p), 0);
    touch_cur(root);
    const struct store_sync_result *r;
    /* during a command that forbids EXPUNGE, they stay, marked */
    assert_int_equal(store_view_sync(v, STORE_SYNC_NO_EXPUNGE, &r), 0);
    assert_int_equal(r->n_expunged, 0);
    assert_int_equal(store_view_count(v), 5);
    assert_true(store_view_msg(v, 1)->expunged);
    assert_int_equal(store_view_msg_open(v, 2, NULL), -1);
    assert_int_equal(store_account_error(acc, NULL), STORE_ERR_EXPUNGED);
    assert_int_equal(store_view_sync(v, 0, &r), 0);
    assert_int_equal(r->n_expunged, 2);
    assert_int_equal(r->expunged_uids[0], 2);
    assert_int_equal(r->expunged_seqs[0], 2);
    assert_int_equal(r->expunged_uids[1], 4);
    assert_int_equal(r->expunged_seqs[1], 3);
    assert_int_equal(r->exists, 3);
    assert_int_equal(store_view_msg(v, 2)->uid, 5);
    store_view_close(&v);
    store_account_unref(&acc);
}

static void test_two_views(void **state)
{
    (void)state;
    char root[512];
    new_root(root, sizeof(root));
    struct store_account *acc = open_acc(root);
    for (int i = 0; i < 3; i++)
        deliver(root, msg1);
    struct store_view *a = store_view_open(acc, "INBOX", 0);
    struct store_view *b = store_view_open(acc, "INBOX", 0);
    uint32_t u2[] = {2};
    assert_int_equal(store_view_store(a, u2, 1, STORE_FLAGS_ADD, STORE_FLAG_DELETED, 0, 0, NULL),
                     0);
    const struct store_sync_result *r;
    assert_int_equal(store_view_sync(b, 0, &r), 0);
    assert_int_equal(r->n_flags, 1);
    assert_int_equal(r->flag_uids[0], 2);
    assert_int_equal(store_view_msg(b, 1)->flags, STORE_FLAG_DELETED);
    assert_int_equal(store_view_msg(b, 1)->modseq, store_view_msg(a, 1)->modseq);
    size_t n;
    assert_int_equal(store_view_expunge(a, NULL, 0, &n), 0);
    assert_int_equal(n, 1);
    /* the expunging view learns its own expunges at its sync too */
    assert_int_equal(store_view_sync(a, 0, &r), 0);
    assert_int_equal(r->n_expunged, 1);
    assert_int_equal(r->expunged_seqs[0], 2);
    assert_int_equal(store_view_sync(b, 0, &r), 0);
    assert_int_equal(r->n_expunged, 1);
    assert_int_equal(r->expunged_uids[0], 2);
    assert_int_equal(store_view_count(b), 2);
    /* an append is seen by both */
    uint32_t uid, uidv;
    const char m[] = "Subject: x\r\n\r\nhi\r\n";
    assert_int_equal(store_append(acc, "INBOX", m, strlen(m), 0, NULL, 0, 0, &uid, &uidv), 0);
    assert_int_equal(uid, 4);
    assert_int_equal(uidv, store_view_uidvalidity(a));
    assert_int_equal(store_view_sync(a, 0, &r), 0);
    assert_int_equal(r->n_new, 1);
    assert_int_equal(r->recent, 3); /* the two delivered and the new one */
    assert_int_equal(store_view_sync(b, 0, &r), 0);
    assert_int_equal(r->n_new, 1);
    assert_int_equal(r->recent, 0); /* claimed by a */
    store_view_close(&a);
    store_view_close(&b);
    store_account_unref(&acc);
}

static void test_two_handles(void **state)
{
    (void)state;
    char root[512];
    new_root(root, sizeof(root));
    struct store_account *a = open_acc(root);
    struct store_account *b = open_acc(root);
    const char m[] = "Subject: x\r\n\r\nhi\r\n";
    uint32_t seen[40] = {0};
    for (int i = 0; i < 20; i++) {
        uint32_t ua, ub;
        assert_int_equal(store_append(a, "Archive", m, strlen(m), 0, NULL, 0, 0, &ua, NULL), 0);
        deliver(root, msg1);
        assert_int_equal(store_append(b, "Archive", m, strlen(m), 0, NULL, 0, 0, &ub, NULL), 0);
        seen[2 * i] = ua;
        seen[2 * i + 1] = ub;
    }
    for (int i = 0; i < 40; i++)
        assert_int_equal(seen[i], (uint32_t)i + 1);
    /* both see the same UIDs for the delivered files */
    struct store_view *va = store_view_open(a, "INBOX", 0);
    struct store_view *vb = store_view_open(b, "INBOX", STORE_VIEW_READONLY);
    assert_int_equal(store_view_count(va), 20);
    assert_int_equal(store_view_count(vb), 20);
    for (size_t i = 0; i < 20; i++) {
        assert_int_equal(store_view_msg(va, i)->uid, store_view_msg(vb, i)->uid);
        assert_string_equal(store_view_msg(va, i)->filename, store_view_msg(vb, i)->filename);
    }
    /* a read-only view changes nothing */
    uint32_t u1[] = {1};
    assert_int_equal(store_view_store(vb, u1, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, 0, 0, NULL), -1);
    assert_int_equal(store_account_error(b, NULL), STORE_ERR_NOTALLOWED);
    /* a change through one handle reaches the other's view */
    assert_int_equal(store_view_store(va, u1, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, 0, 0, NULL), 0);
    const struct store_sync_result *r;
    assert_int_equal(store_view_sync(vb, 0, &r), 0);
    assert_int_equal(r->n_flags, 1);
    store_view_close(&va);
    store_view_close(&vb);
    store_account_unref(&a);
    store_account_unref(&b);
}

static void test_append_copy_move(void **state)
{
    (void)state;
    char root[512];
    new_root(root, sizeof(root));
    struct store_account *acc = open_acc(root);
    const char m[] = "Subject: a\r\n\r\nline\r\nlone\rcr\r\n";
    const char *kws[] = {"Work"};
    uint32_t uid;
    time_t when = 1700000000;
    assert_int_equal(
        store_append(acc, "INBOX", m, strlen(m), STORE_FLAG_SEEN, kws, 1, when, &uid, NULL), 0);
    assert_int_equal(
        store_append(acc, "INBOX", m, strlen(m), STORE_FLAG_DELETED, NULL, 0, 0, &uid, NULL), 0);
    assert_int_equal(store_append(acc, "Nope", m, strlen(m), 0, NULL, 0, 0, &uid, NULL), -1);
    assert_int_equal(store_account_error(acc, NULL), STORE_ERR_NOTFOUND);
    struct store_view *v = store_view_open(acc, "INBOX", 0);
    assert_int_equal(store_view_count(v), 2);
    const struct store_msg *msg = store_view_msg(v, 0);
    assert_int_equal(msg->internal_date, when);
    assert_int_equal(msg->size, strlen(m));
    assert_int_equal(msg->flags, STORE_FLAG_SEEN);
    assert_string_equal(store_view_keyword_name(v, 0), "Work");
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(store_view_msg_read(v, 1, true, &b), 0);
    assert_memory_equal(b.data, m, strlen(m));
    buf_free(&b);

    uint32_t uids[] = {1, 2};
    uint32_t uidv, *src, *dst;
    size_t n;
    assert_int_equal(store_view_copy(v, uids, 2, "Archive", &uidv, &src, &dst, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(src[0], 1);
    assert_int_equal(dst[0], 1);
    assert_int_equal(dst[1], 2);
    free(src);
    free(dst);
    assert_int_equal(store_view_copy(v, uids, 2, "Missing", &uidv, &src, &dst, &n), -1);
    assert_int_equal(store_account_error(acc, NULL), STORE_ERR_NOTFOUND);
    struct store_view *arch = store_view_open(acc, "Archive", 0);
    assert_int_equal(store_view_count(arch), 2);
    assert_int_equal(store_view_msg(arch, 0)->flags, STORE_FLAG_SEEN);
    assert_int_equal(store_view_msg(arch, 0)->internal_date, when);
    assert_int_equal(store_view_msg(arch, 0)->keywords, 1u);
    assert_string_equal(store_view_keyword_name(arch, 0), "Work");
    store_view_close(&arch);

    /* UID EXPUNGE of a message without \Deleted does nothing */
    uint32_t one[] = {1};
    assert_int_equal(store_view_expunge(v, one, 1, &n), 0);
    assert_int_equal(n, 0);
    uint32_t two[] = {2};
    assert_int_equal(store_view_move(v, two, 1, "Trash", &uidv, &src, &dst, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(dst[0], 1);
    free(src);
    free(dst);
    const struct store_sync_result *r;
    assert_int_equal(store_view_sync(v, 0, &r), 0);
    assert_int_equal(r->n_expunged, 1);
    assert_int_equal(r->expunged_uids[0], 2);
    struct store_status st;
    assert_int_equal(store_folder_status(acc, "Trash", &st), 0);
    assert_int_equal(st.messages, 1);
    assert_int_equal(st.deleted, 1);

    /* the cache, dropped with the message */
    assert_int_equal(store_view_cache_put(v, 1, "envelope", "(NIL)", 5), 0);
    buf_init(&b, 100);
    assert_int_equal(store_view_cache_get(v, 1, "envelope", &b), 1);
    assert_string_equal(buf_cstr(&b), "(NIL)");
    assert_int_equal(store_view_cache_get(v, 1, "body", &b), 0);
    assert_int_equal(store_view_store(v, one, 1, STORE_FLAGS_SET, STORE_FLAG_DELETED, 0, 0, NULL),
                     0);
    assert_int_equal(store_view_expunge(v, NULL, 0, &n), 0);
    assert_int_equal(n, 1);
    buf_reset(&b);
    assert_int_equal(store_view_cache_get(v, 1, "envelope", &b), 0);
    assert_int_equal(store_view_cache_put(v, 1, "envelope", "x", 1), -1);
    buf_free(&b);

    /* streaming append, split at every byte */
    struct store_append *ap = store_append_begin(acc, "Drafts");
    assert_non_null(ap);
    for (size_t i = 0; i < strlen(m); i++)
        assert_int_equal(store_append_write(ap, m + i, 1), 0);
    assert_int_equal(store_append_finish(&ap, STORE_FLAG_DRAFT, NULL, 0, 0, &uid, NULL), 0);
    assert_null(ap);
    struct store_view *d = store_view_open(acc, "Drafts", STORE_VIEW_READONLY);
    assert_int_equal(store_view_msg(d, 0)->size, strlen(m));
    buf_init(&b, 1000);
    assert_int_equal(store_view_msg_read(d, uid, true, &b), 0);
    assert_memory_equal(b.data, m, strlen(m));
    buf_free(&b);
    store_view_close(&d);
    store_view_close(&v);
    store_account_unref(&acc);
}

static bool listed(struct store_account *acc, const char *name, unsigned *attrs)
{
    struct store_folder_info *l;
    size_t n;
    assert_int_equal(store_folder_list(acc, &l, &n), 0);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i].name, name) == 0) {
            found = true;
            *attrs = l[i].attrs;
        }
    free(l);
    return found;
}

static void test_folders(void **state)
{
    (void)state;
    char root[512];
    new_root(root, sizeof(root));
    struct store_account *acc = open_acc(root);
    unsigned attrs = 0;
    assert_false(store_folder_name_valid(""));
    assert_false(store_folder_name_valid(".a"));
    assert_false(store_folder_name_valid("a."));
    assert_false(store_folder_name_valid("a..b"));
    assert_false(store_folder_name_valid("a/b"));
    assert_false(store_folder_name_valid("a*"));
    assert_true(store_folder_name_valid("&AOk-t&AOk-"));
    char longname[STORE_FOLDER_NAME_MAX + 2];
    memset(longname, 'x', sizeof(longname));
    longname[STORE_FOLDER_NAME_MAX] = '\0';
    assert_true(store_folder_name_valid(longname));
    longname[STORE_FOLDER_NAME_MAX] = 'x';
    longname[STORE_FOLDER_NAME_MAX + 1] = '\0';
    assert_false(store_folder_name_valid(longname));

    assert_int_equal(store_folder_create(acc, "a.b.c"), 0);
    assert_true(listed(acc, "a", &attrs));
    assert_true(attrs & STORE_ATTR_HASCHILDREN);
    assert_false(attrs & STORE_ATTR_NOSELECT);
    assert_int_equal(store_folder_create(acc, "a.b"), -1);
    assert_int_equal(store_account_error(acc, NULL), STORE_ERR_EXISTS);
    assert_int_equal(store_folder_create(acc, "inbox"), -1);
    assert_int_equal(store_account_error(acc, NULL), STORE_ERR_EXISTS);
    assert_int_equal(store_folder_delete(acc, "INBOX"), -1);
    assert_int_equal(store_account_error(acc, NULL), STORE_ERR_NOTALLOWED);
    assert_int_equal(store_folder_delete(acc, "nothing"), -1);
    assert_int_equal(store_account_error(acc, NULL), STORE_ERR_NOTFOUND);

    /* deleting a folder with children leaves a \Noselect name */
    const char m[] = "Subject: x\r\n\r\nhi\r\n";
    uint32_t uid;
    assert_int_equal(store_append(acc, "a", m, strlen(m), 0, NULL, 0, 0, &uid, NULL), 0);
    assert_int_equal(store_folder_delete(acc, "a"), 0);
    assert_true(listed(acc, "a", &attrs));
    assert_true(attrs & STORE_ATTR_NOSELECT);
    assert_true(attrs & STORE_ATTR_HASCHILDREN);
    assert_null(store_view_open(acc, "a", 0));
    assert_int_equal(store_account_error(acc, NULL), STORE_ERR_NOTALLOWED);
    assert_int_equal(store_folder_delete(acc, "a"), -1);
    assert_int_equal(store_account_error(acc, NULL), STORE_ERR_NOTALLOWED);
    /* created again: a new UIDVALIDITY, empty */
    assert_int_equal(store_folder_create(acc, "a"), 0);
    struct store_status st;
    assert_int_equal(store_folder_status(acc, "a", &st), 0);
    assert_int_equal(st.messages, 0);
    assert_int_equal(st.uidnext, 1);

    /* rename with children, subscriptions follow */
    assert_int_equal(store_folder_subscribe(acc, "a.b.c", true), 0);
    assert_int_equal(store_append(acc, "a.b", m, strlen(m), 0, NULL, 0, 0, &uid, NULL), 0);
    assert_int_equal(store_folder_status(acc, "a.b", &st), 0);
    uint32_t uidv = st.uidvalidity;
    struct store_view *v = store_view_open(acc, "a.b", 0);
    assert_int_equal(store_folder_rename(acc, "a.b", "x.y"), 0);
    assert_false(listed(acc, "a.b", &attrs));
    assert_true(listed(acc, "x.y.c", &attrs));
    assert_true(attrs & STORE_ATTR_SUBSCRIBED);
    assert_int_equal(store_folder_status(acc, "x.y", &st), 0);
    assert_int_equal(st.uidvalidity, uidv);
    assert_int_equal(st.messages, 1);
    /* an open view follows the rename */
    const struct store_sync_result *r;
    assert_int_equal(store_view_sync(v, 0, &r), 0);
    assert_false(r->uidvalidity_changed);
    assert_string_equal(store_view_name(v), "x.y");
    assert_int_equal(store_view_msg_open(v, uid, NULL) >= 0, 1);
    store_view_close(&v);
    assert_int_equal(store_folder_rename(acc, "x.y", "Sent"), -1);
    assert_int_equal(store_account_error(acc, NULL), STORE_ERR_EXISTS);
    assert_int_equal(store_folder_rename(acc, "x", "x.z"), -1);

    /* renaming INBOX moves its messages and leaves it empty */
    deliver(root, msg1);
    assert_int_equal(store_append(acc, "INBOX", m, strlen(m), 0, NULL, 0, 0, &uid, NULL), 0);
    v = store_view_open(acc, "INBOX", 0);
    assert_int_equal(store_view_count(v), 2);
    assert_int_equal(store_folder_rename(acc, "INBOX", "Old.Inbox"), 0);
    assert_int_equal(store_view_sync(v, 0, &r), 0);
    assert_int_equal(r->n_expunged, 2);
    assert_int_equal(store_view_count(v), 0);
    store_view_close(&v);
    assert_int_equal(store_folder_status(acc, "Old.Inbox", &st), 0);
    assert_int_equal(st.messages, 2);
    assert_int_equal(store_folder_status(acc, "INBOX", &st), 0);
    assert_int_equal(st.messages, 0);
    assert_int_equal(st.uidnext, 3);

    /* unsubscribe; a subscribed name that does not exist is listed so */
    assert_int_equal(store_folder_subscribe(acc, "Sent", false), 0);
    assert_true(listed(acc, "Sent", &attrs));
    assert_false(attrs & STORE_ATTR_SUBSCRIBED);
    assert_int_equal(store_folder_subscribe(acc, "Ghost", true), 0);
    assert_true(listed(acc, "Ghost", &attrs));
    assert_true(attrs & STORE_ATTR_NONEXISTENT);

    /* usage report */
    struct store_usage *u;
    size_t n;
    assert_int_equal(store_account_usage(acc, &u, &n), 0);
    bool saw = false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(u[i].name, "Old.Inbox") == 0) {
            saw = true;
            assert_int_equal(u[i].messages, 2);
        }
    assert_true(saw);
    free(u);
    store_account_unref(&acc);
}

static void test_rebuild(void **state)
{
    (void)state;
    char root[512], p[700];
    new_root(root, sizeof(root));
    struct store_account *acc = open_acc(root);
    deliver(root, msg1);
    deliver(root, msg2);
    struct store_view *v = store_view_open(acc, "INBOX", 0);
    uint32_t uidv = store_view_uidvalidity(v);
    store_view_close(&v);
    store_account_unref(&acc);

    /* index deleted: rebuilt, new UIDVALIDITY */
    const char *sfx[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/index.db%s", root, sfx[i]);
        unlink(p);
    }
    acc = open_acc(root);
    v = store_view_open(acc, "INBOX", 0);
    assert_int_equal(store_view_count(v), 2);
    assert_true(store_view_uidvalidity(v) != uidv);
    uidv = store_view_uidvalidity(v);
    store_view_close(&v);
    store_account_unref(&acc);

    /* index corrupt: set aside, rebuilt */
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/index.db%s", root, sfx[i]);
        unlink(p);
    }
    snprintf(p, sizeof(p), "%s/index.db", root);
    FILE *fp = fopen(p, "w");
    for (int i = 0; i < 200; i++)
        fputs("this is not a database at all ", fp);
    fclose(fp);
    acc = open_acc(root);
    v = store_view_open(acc, "INBOX", 0);
    assert_non_null(v);
    assert_int_equal(store_view_count(v), 2);
    assert_true(store_view_uidvalidity(v) != uidv);
    store_view_close(&v);
    store_account_unref(&acc);
}

static void test_quota(void **state)
{
    (void)state;
    char root[512], p[700];
    new_root(root, sizeof(root));
    struct store_account *acc = open_acc(root);
    deliver(root, msg1);
    struct store_quota q = {.bytes_limit = strlen(msg1) + 100, .messages_limit = 3};
    struct store_quota_usage u;
    assert_int_equal(store_quota_get(root, &q, &u), 0);
    assert_int_equal(u.bytes, (int64_t)strlen(msg1));
    assert_int_equal(u.messages, 1);
    snprintf(p, sizeof(p), "%s/maildirsize", root);
    assert_int_equal(access(p, F_OK), 0);
    assert_int_equal(store_quota_check(root, &q, 100, 1), 1);
    assert_int_equal(store_quota_check(root, &q, 101, 1), 0);
    assert_int_equal(store_quota_check(root, &q, 0, 2), 1);
    assert_int_equal(store_quota_check(root, &q, 0, 3), 0);
    assert_int_equal(store_quota_update(root, &q, 50, 1), 0);
    assert_int_equal(store_quota_get(root, &q, &u), 0);
    assert_int_equal(u.bytes, (int64_t)strlen(msg1) + 50);
    assert_int_equal(u.messages, 2);
    assert_int_equal(store_quota_check(root, &q, 50, 1), 1);
    assert_int_equal(store_quota_check(root, &q, 51, 1), 0);
    /* no limits: always fits */
    struct store_quota none = {0};
    assert_int_equal(store_quota_check(root, &none, 1ULL << 40, 1000000), 1);
    /* other limits: recalculated from the files */
    struct store_quota q2 = {.bytes_limit = 1000};
    assert_int_equal(store_quota_get(root, &q2, &u), 0);
    assert_int_equal(u.bytes, (int64_t)strlen(msg1));
    /* appends through the account respect it */
    store_account_set_quota(acc, strlen(msg1) + 10, 0);
    const char small[] = "a\r\nb\r\n"; /* 4 octets stored */
    uint32_t uid;
    assert_int_equal(store_append(acc, "INBOX", small, strlen(small), 0, NULL, 0, 0, &uid, NULL),
                     0);
    assert_int_equal(store_append(acc, "INBOX", small, strlen(small), 0, NULL, 0, 0, &uid, NULL),
                     0);
    assert_int_equal(store_append(acc, "INBOX", small, strlen(small), 0, NULL, 0, 0, &uid, NULL),
                     -1);
    assert_int_equal(store_account_error(acc, NULL), STORE_ERR_QUOTA);
    /* expunge gives room back */
    struct store_view *v = store_view_open(acc, "INBOX", 0);
    uint32_t u2[] = {2};
    store_view_store(v, u2, 1, STORE_FLAGS_ADD, STORE_FLAG_DELETED, 0, 0, NULL);
    size_t n;
    assert_int_equal(store_view_expunge(v, NULL, 0, &n), 0);
    assert_int_equal(n, 1);
    store_view_close(&v);
    assert_int_equal(store_append(acc, "INBOX", small, strlen(small), 0, NULL, 0, 0, &uid, NULL),
                     0);
    store_account_unref(&acc);
}

static void test_expire(void **state)
{
    (void)state;
    char root[512];
    new_root(root, sizeof(root));
    struct store_account *acc = open_acc(root);
    const char m[] = "Subject: x\r\n\r\nhi\r\n";
    uint32_t uid;
    /* an old message just put in Trash is kept */
    assert_int_equal(store_append(acc, "Trash", m, strlen(m), 0, NULL, 0, 1000000, &uid, NULL), 0);
    assert_int_equal(store_append(acc, "Junk", m, strlen(m), 0, NULL, 0, 0, &uid, NULL), 0);
    assert_int_equal(store_append(acc, "Archive", m, strlen(m), 0, NULL, 0, 0, &uid, NULL), 0);
    size_t n;
    time_t now = time(NULL);
    assert_int_equal(store_account_expire(acc, 30, now, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_account_expire(acc, 30, now + 31 * 86400, &n), 0);
    assert_int_equal(n, 2);
    struct store_status st;
    assert_int_equal(store_folder_status(acc, "Archive", &st), 0);
    assert_int_equal(st.messages, 1);
    store_account_unref(&acc);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The rows of a view opened while nothing changed come from the account's
 * snapshot of the folder (the views share its file names); a change by
 * this handle, by another handle (another process) or a delivery into
 * new/ makes the next view read the index again, and see the change. */
static void test_snapshot(void **state)
{
    (void)state;
    char root[512];
    new_root(root, sizeof(root));
    struct store_account *a = open_acc(root);
    struct store_account *b = open_acc(root);
    for (int i = 0; i < 5; i++)
        deliver(root, msg1);
    struct store_view *v1 = store_view_open(a, "INBOX", 0);
    assert_non_null(v1);
    assert_int_equal(store_view_count(v1), 5);
    assert_int_equal(store_view_recent_count(v1), 5);
    /* reused: same names, no \Recent claimed twice */
    struct store_view *v2 = store_view_open(a, "INBOX", 0);
    assert_int_equal(store_view_count(v2), 5);
    assert_int_equal(store_view_recent_count(v2), 0);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(store_view_msg(v2, i)->uid, store_view_msg(v1, i)->uid);
        assert_ptr_equal(store_view_msg(v2, i)->filename, store_view_msg(v1, i)->filename);
    }
    store_view_close(&v2);

    /* a change by this handle */
    uint32_t u2[] = {2};
    assert_int_equal(store_view_store(v1, u2, 1, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, 0, 0, NULL),
                     0);
    v2 = store_view_open(a, "INBOX", STORE_VIEW_READONLY);
    assert_true(store_view_msg(v2, 1)->flags & STORE_FLAG_FLAGGED);
    assert_string_equal(store_view_msg(v2, 1)->filename, store_view_msg(v1, 1)->filename);
    store_view_close(&v2);
    /* the snapshot made by that open is reused by the next */
    v2 = store_view_open(a, "INBOX", STORE_VIEW_READONLY);
    struct store_view *v3 = store_view_open(a, "INBOX", STORE_VIEW_READONLY);
    assert_ptr_equal(store_view_msg(v2, 0)->filename, store_view_msg(v3, 0)->filename);
    store_view_close(&v3);

    /* a change by another handle: only the index tells */
    struct store_view *vb = store_view_open(b, "INBOX", 0);
    uint32_t u3[] = {3};
    assert_int_equal(store_view_store(vb, u3, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, 0, 0, NULL), 0);
    v3 = store_view_open(a, "INBOX", STORE_VIEW_READONLY);
    assert_true(store_view_msg(v3, 2)->flags & STORE_FLAG_SEEN);
    assert_false(store_view_msg(v2, 2)->flags & STORE_FLAG_SEEN);
    assert_ptr_not_equal(store_view_msg(v3, 0)->filename, store_view_msg(v2, 0)->filename);
    store_view_close(&v3);
    /* an expunge by the other handle */
    assert_int_equal(store_view_store(vb, u3, 1, STORE_FLAGS_ADD, STORE_FLAG_DELETED, 0, 0, NULL),
                     0);
    assert_int_equal(store_view_expunge(vb, NULL, 0, NULL), 0);
    v3 = store_view_open(a, "INBOX", STORE_VIEW_READONLY);
    assert_int_equal(store_view_count(v3), 4);
    assert_int_equal(store_view_find_uid(v3, 3), -1);
    store_view_close(&v3);

    /* a delivery into new/ */
    deliver(root, msg1);
    v3 = store_view_open(a, "INBOX", 0);
    assert_int_equal(store_view_count(v3), 5);
    assert_int_equal(store_view_msg(v3, 4)->uid, 6);
    assert_int_equal(store_view_recent_count(v3), 1);
    /* and the older view learns of it all at its sync */
    const struct store_sync_result *r;
    assert_int_equal(store_view_sync(v2, 0, &r), 0);
    assert_int_equal(r->n_expunged, 1);
    assert_int_equal(store_view_count(v2), 5);
    store_view_close(&v3);
    store_view_close(&v2);
    store_view_close(&vb);
    store_view_close(&v1);
    store_account_unref(&b);
    store_account_unref(&a);
}

static void test_large_folder(void **state)
{
    (void)state;
    const char *env = getenv("STORE_TEST_MESSAGES");
    int count = env ? atoi(env) : 2000;
    char root[512], p[800];
    new_root(root, sizeof(root));
    struct store_account *acc = open_acc(root);
    store_account_unref(&acc);
    /* files as delivered, straight into cur/ (as another server left them) */
    for (int i = 0; i < count; i++) {
        snprintf(p, sizeof(p), "%s/cur/%d.M%dP1Q%d.host,S=20,W=21:2,S", root, 1600000000 + i, i, i);
        int fd = open(p, O_WRONLY | O_CREAT, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "Subject: x\n\n4567890\n", 20), 20);
        close(fd);
    }
    /* a folder at rest: its directory last changed a while ago */
    snprintf(p, sizeof(p), "%s/cur", root);
    struct timespec past[2] = {{.tv_sec = time(NULL) - 60}, {.tv_sec = time(NULL) - 60}};
    utimensat(AT_FDCWD, p, past, 0);
    double t0 = now_s();
    acc = open_acc(root);
    struct store_view *v = store_view_open(acc, "INBOX", 0);
    double t1 = now_s();
    assert_int_equal(store_view_count(v), (size_t)count);
    assert_int_equal(store_view_msg(v, (size_t)count - 1)->uid, (uint32_t)count);
    assert_int_equal(store_view_msg(v, 0)->internal_date, 1600000000);
    const struct store_sync_result *r;
    double t2 = now_s();
    for (int i = 0; i < 100; i++)
        assert_int_equal(store_view_sync(v, 0, &r), 0);
    double t3 = now_s();
    store_view_close(&v);
    store_account_unref(&acc);
    double t4 = now_s();
    acc = open_acc(root);
    v = store_view_open(acc, "INBOX", 0);
    double t5 = now_s();
    assert_int_equal(store_view_count(v), (size_t)count);
    store_view_close(&v);
    store_account_unref(&acc);
    printf("store: %d messages: first open %.3f s, 100 idle syncs %.4f s, warm reopen %.3f s\n",
           count, t1 - t0, t3 - t2, t5 - t4);
}

static void test_account_root(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(store_account_root("/m", "Joe@Example.org", out, sizeof(out)), 0);
    assert_string_equal(out, "/m/Example.org/joe");
    assert_int_equal(store_account_root("/m", "joe", out, sizeof(out)), -1);
    assert_int_equal(store_account_root("/m", "../x@y", out, sizeof(out)), -1);
    assert_int_equal(store_account_root("/m", "a@b", out, 6), -1);
}

/* Cache puts grouped in batches: every value is kept (more than one batch
 * of STORE_CACHE_BATCH_MAX), another handle sees them once the batch
 * ends, and a second batch cannot start inside the first. */
static void test_cache_batch(void **state)
{
    (void)state;
    char root[512];
    new_root(root, sizeof(root));
    struct store_account *a = open_acc(root);
    const char m[] = "Subject: x\r\n\r\nhi\r\n";
    const uint32_t n = STORE_CACHE_BATCH_MAX + 10;
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(store_append(a, "Archive", m, strlen(m), 0, NULL, 0, 0, NULL, NULL), 0);
    struct store_view *v = store_view_open(a, "Archive", 0);
    assert_non_null(v);
    assert_int_equal(store_view_cache_batch(v, true), 0);
    assert_int_equal(store_view_cache_batch(v, true), -1);
    char val[32];
    for (uint32_t uid = 1; uid <= n; uid++) {
        int len = snprintf(val, sizeof(val), "v%u", uid);
        assert_int_equal(store_view_cache_put(v, uid, "k", val, (size_t)len), 0);
    }
    assert_int_equal(store_view_cache_batch(v, false), 0);
    struct store_account *b = open_acc(root);
    struct store_view *w = store_view_open(b, "Archive", STORE_VIEW_READONLY);
    assert_non_null(w);
    struct buf out;
    buf_init(&out, 100);
    for (uint32_t uid = 1; uid <= n; uid += 997) {
        buf_reset(&out);
        assert_int_equal(store_view_cache_get(w, uid, "k", &out), 1);
        snprintf(val, sizeof(val), "v%u", uid);
        assert_string_equal(buf_cstr(&out), val);
    }
    buf_free(&out);
    /* Without a batch, puts still work one by one. */
    assert_int_equal(store_view_cache_put(v, 1, "k2", "y", 1), 0);
    store_view_close(&w);
    store_view_close(&v);
    store_account_unref(&b);
    store_account_unref(&a);
}

/* count files straight into root's cur/, the first one at t0. */
static void fill_cur(const char *root, int count, int t0)
{
    char p[800];
    for (int i = 0; i < count; i++) {
        snprintf(p, sizeof(p), "%s/cur/%d.M%dP1Q%d.host,S=20,W=21:2,", root, t0 + i, i, i);
        int fd = open(p, O_WRONLY | O_CREAT, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "Subject: x\n\n4567890\n", 20), 20);
        close(fd);
    }
}

static bool marker_exists(const char *root)
{
    char p[800];
    snprintf(p, sizeof(p), "%s/index.db-bulk", root);
    return access(p, F_OK) == 0;
}

/* A first open of a big folder commits in the background: the view is
 * whole at once, a second connection (another process) sees the same
 * UIDs once the commit is in, and every use of the handle waits for it. */
static void test_background_commit(void **state)
{
    (void)state;
    enum { COUNT = 3000 };
    char root[512];
    new_root(root, sizeof(root));
    struct store_account *acc = open_acc(root);
    store_account_unref(&acc);
    fill_cur(root, COUNT, 1600000000);
    acc = open_acc(root);
    struct store_view *v = store_view_open(acc, "INBOX", 0);
    assert_non_null(v);
    assert_int_equal(store_view_count(v), COUNT);
    assert_int_equal(store_view_recent_count(v), COUNT);
    assert_int_equal(store_view_uidnext(v), COUNT + 1);
    uint32_t uidvalidity = store_view_uidvalidity(v);
    /* a second handle: its own connection, as in another process */
    struct store_account *other = open_acc(root);
    struct store_view *w = store_view_open(other, "INBOX", STORE_VIEW_READONLY);
    assert_non_null(w);
    assert_int_equal(store_view_count(w), COUNT);
    assert_int_equal(store_view_uidvalidity(w), uidvalidity);
    for (size_t i = 0; i < COUNT; i += 97) {
        assert_int_equal(store_view_msg(w, i)->uid, store_view_msg(v, i)->uid);
        assert_string_equal(store_view_msg(w, i)->filename, store_view_msg(v, i)->filename);
    }
    /* the \Recent claim went in with the rows */
    assert_int_equal(store_view_recent_count(w), 0);
    store_view_close(&w);
    /* a change through the first handle waits for its commit, then works */
    uint32_t uid = store_view_msg(v, 5)->uid;
    assert_int_equal(store_view_store(v, &uid, 1, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, 0, 0, NULL),
                     0);
    assert_false(marker_exists(root));
    const struct store_sync_result *r;
    assert_int_equal(store_view_sync(v, 0, &r), 0);
    assert_int_equal(store_view_count(v), COUNT);
    assert_true(store_view_msg(v, 5)->flags & STORE_FLAG_FLAGGED);
    w = store_view_open(other, "INBOX", STORE_VIEW_READONLY);
    assert_true(store_view_msg(w, 5)->flags & STORE_FLAG_FLAGGED);
    store_view_close(&w);
    store_account_unref(&other);
    store_view_close(&v);
    store_account_unref(&acc);
    /* reopened from the index alone */
    acc = open_acc(root);
    v = store_view_open(acc, "INBOX", 0);
    assert_int_equal(store_view_count(v), COUNT);
    assert_int_equal(store_view_uidvalidity(v), uidvalidity);
    assert_int_equal(store_view_recent_count(v), 0);
    store_view_close(&v);
    store_account_unref(&acc);
}

/* A process that showed UIDs and died before their commit: the next one
 * must not give those UIDs to other files under the same UIDVALIDITY. The
 * child shows (uidvalidity, the name of each UID) and exits at once; the
 * file of UID 1 is then removed, so indexing afresh under the old
 * UIDVALIDITY would give UID 1 to another file. */
static void test_background_commit_crash(void **state)
{
    (void)state;
    enum { COUNT = 4000 };
    int crashed = 0;
    for (int round = 0; round < 3; round++) {
        char root[512], list[800];
        new_root(root, sizeof(root));
        struct store_account *acc = open_acc(root);
        store_account_unref(&acc);
        fill_cur(root, COUNT, 1600000000);
        snprintf(list, sizeof(list), "%s.uids", root);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct store_account *a = store_account_open(root, &(char *){NULL});
            struct store_view *cv = a ? store_view_open(a, "INBOX", 0) : NULL;
            FILE *fp = cv ? fopen(list, "w") : NULL;
            if (!fp)
                _exit(1);
            fprintf(fp, "%u\n", store_view_uidvalidity(cv));
            for (size_t i = 0; i < store_view_count(cv); i++)
                fprintf(fp, "%u %s\n", store_view_msg(cv, i)->uid, store_view_msg(cv, i)->filename);
            fclose(fp);
            _exit(0); /* no close: as if killed */
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        FILE *fp = fopen(list, "r");
        assert_non_null(fp);
        unsigned seen_validity = 0;
        assert_int_equal(fscanf(fp, "%u", &seen_validity), 1);
        static char names[COUNT + 1][256];
        unsigned uid;
        char name[256];
        int n = 0;
        while (fscanf(fp, "%u %255s", &uid, name) == 2) {
            assert_true(uid >= 1 && uid <= COUNT);
            str_copy(names[uid], sizeof(names[uid]), name);
            n++;
        }
        fclose(fp);
        assert_int_equal(n, COUNT);
        char p[800];
        snprintf(p, sizeof(p), "%s/cur/%s", root, names[1]);
        assert_int_equal(unlink(p), 0);
        acc = open_acc(root);
        struct store_view *v = store_view_open(acc, "INBOX", 0);
        assert_non_null(v);
        assert_int_equal(store_view_count(v), COUNT - 1);
        if (store_view_uidvalidity(v) == seen_validity) {
            /* the commit made it: every UID is still its file */
            for (size_t i = 0; i < store_view_count(v); i++) {
                const struct store_msg *m = store_view_msg(v, i);
                assert_string_equal(m->filename, names[m->uid]);
            }
        } else {
            crashed++;
            assert_true(store_view_uidvalidity(v) > seen_validity);
        }
        assert_false(marker_exists(root));
        store_view_close(&v);
        store_account_unref(&acc);
    }
    fprintf(stderr, "# %d of 3 children died before their commit\n", crashed);
}

/* deliver-local, imapd and pop3d open an account at the same moment, often
 * when it is new: every one of them must get it (none refused as busy while
 * the others create index.db), and the UIDVALIDITY they see is one. */
static void test_open_by_many_at_once(void **state)
{
    (void)state;
    enum { ROUNDS = 20, PROCS = 5 };
    for (int round = 0; round < ROUNDS; round++) {
        char root[512];
        new_root(root, sizeof(root));
        int pipefd[2];
        assert_int_equal(pipe(pipefd), 0);
        pid_t pids[PROCS];
        for (int i = 0; i < PROCS; i++) {
            pids[i] = fork();
            assert_true(pids[i] >= 0);
            if (pids[i] == 0) {
                close(pipefd[0]);
                char *err = NULL;
                struct store_account *acc = store_account_open(root, &err);
                if (!acc) {
                    fprintf(stderr, "child %d: %s\n", i, err);
                    _exit(1);
                }
                struct store_status st;
                if (store_folder_status(acc, "INBOX", &st) < 0)
                    _exit(2);
                uint32_t v = st.uidvalidity;
                if (write(pipefd[1], &v, sizeof(v)) != (ssize_t)sizeof(v))
                    _exit(3);
                store_account_unref(&acc);
                _exit(0);
            }
        }
        close(pipefd[1]);
        uint32_t first = 0;
        for (int i = 0; i < PROCS; i++) {
            int status = 0;
            assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
            assert_true(WIFEXITED(status));
            assert_int_equal(WEXITSTATUS(status), 0);
            uint32_t v;
            assert_int_equal(read(pipefd[0], &v, sizeof(v)), sizeof(v));
            assert_true(v != 0);
            if (i == 0)
                first = v;
            assert_int_equal(v, first);
        }
        close(pipefd[0]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_account_root),
        cmocka_unit_test(test_open_creates),
        cmocka_unit_test(test_deliver_sync),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_external_removal),
        cmocka_unit_test(test_two_views),
        cmocka_unit_test(test_two_handles),
        cmocka_unit_test(test_snapshot),
        cmocka_unit_test(test_append_copy_move),
        cmocka_unit_test(test_folders),
        cmocka_unit_test(test_rebuild),
        cmocka_unit_test(test_quota),
        cmocka_unit_test(test_expire),
        cmocka_unit_test(test_large_folder),
        cmocka_unit_test(test_cache_batch),
        cmocka_unit_test(test_open_by_many_at_once),
        cmocka_unit_test(test_background_commit),
        cmocka_unit_test(test_background_commit_crash),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
