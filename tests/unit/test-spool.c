/* Unit tests: spool files, the syncer, Maildir delivery and local delivery
 * of a spooled message, on a real file system in a scratch directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver/deliver-local.h"
#include "lib/syncer.h"
#include "queue/spool.h"
#include "store/maildir.h"

static char base[] = "/tmp/postino-test-spool-XXXXXX";

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(base) || spool_create_dirs(base) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    return system(cmd) == 0 ? 0 : -1;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    buf[*len] = '\0';
    return buf;
}

static const char message[] = "Subject: test\r\n\r\nline one\r\nline two\r\n";

/* Spool one message and commit it synchronously; returns its ID. */
static void spool_one(struct spool *sp, char id[QUEUE_ID_LEN + 1], const char *rcpt)
{
    struct spool_file *f = spool_file_create(sp, id);
    assert_non_null(f);
    assert_int_equal(spool_file_write(f, message, strlen(message)), 0);
    assert_int_equal(spool_file_size(f), strlen(message));
    struct envelope env;
    envelope_init(&env);
    memcpy(env.id, id, QUEUE_ID_LEN + 1);
    env.size = spool_file_size(f);
    env.sender = strdup("alice@example.org");
    envelope_add_rcpt(&env, rcpt, NULL, NULL, 0, ROUTE_LOCAL);
    struct sync_op op;
    assert_int_equal(spool_file_finish(f, &env, &op), 0);
    sync_op_run_now(&op, SYNCER_FSYNC);
    assert_int_equal(op.error, 0);
    spool_file_done(&f, true);
    envelope_free(&env);
}

/* Room reserved in front of the message, partly filled at the end: the
 * new trailer says where the message starts, readers find exactly it. */
static void test_spool_reserve_prepend(void **state)
{
    (void)state;
    struct spool sp;
    const char *err;
    assert_int_equal(spool_open(&sp, base, &err), 0);
    char id[QUEUE_ID_LEN + 1];
    struct spool_file *f = spool_file_create(&sp, id);
    assert_non_null(f);
    assert_int_equal(spool_file_prepend(f, "X", 1), -1); /* nothing reserved */
    assert_int_equal(spool_file_reserve(f, 100), 0);
    assert_int_equal(spool_file_reserve(f, 100), -1); /* once */
    assert_int_equal(spool_file_write(f, message, strlen(message)), 0);
    const char *added = "Authentication-Results: mx.example.test; none\r\n";
    assert_int_equal(spool_file_prepend(f, added, strlen(added)), 0);
    char big[80];
    memset(big, 'x', sizeof(big));
    assert_int_equal(spool_file_prepend(f, big, sizeof(big)), -1); /* no room left */
    assert_int_equal(errno, EFBIG);
    unsigned long long size = strlen(added) + strlen(message);
    assert_int_equal(spool_file_size(f), size);
    struct envelope env;
    envelope_init(&env);
    memcpy(env.id, id, QUEUE_ID_LEN + 1);
    env.size = size;
    env.sender = strdup("alice@example.org");
    envelope_add_rcpt(&env, "bob@example.test", NULL, NULL, 0, ROUTE_LOCAL);
    struct sync_op op;
    assert_int_equal(spool_file_finish(f, &env, &op), 0);
    sync_op_run_now(&op, SYNCER_FSYNC);
    assert_int_equal(op.error, 0);
    spool_file_done(&f, true);
    envelope_free(&env);

    unsigned long long start, len;
    int fd = spool_open_message(&sp, id, &start, &len);
    assert_true(fd >= 0);
    assert_int_equal(start, 100 - strlen(added));
    assert_int_equal(len, size);
    char *got = malloc(len);
    assert_int_equal(pread(fd, got, len, (off_t)start), (ssize_t)len);
    assert_memory_equal(got, added, strlen(added));
    assert_memory_equal(got + strlen(added), message, strlen(message));
    free(got);
    close(fd);
    bool missing;
    assert_int_equal(spool_read_envelope(&sp, id, &env, &err, &missing), 0);
    assert_int_equal(env.size, size);
    envelope_free(&env);
    assert_int_equal(spool_delete(&sp, id), 0); /* leave the spool as it was */
    spool_close(&sp);
}

/* A message replaced as a milter rewrote it: the room in front stays for
 * fields prepended afterwards, a longer and then a shorter replacement
 * leave nothing of the old octets, and the map shows the new message. */
static void test_spool_replace(void **state)
{
    (void)state;
    struct spool sp;
    const char *err;
    assert_int_equal(spool_open(&sp, base, &err), 0);
    char id[QUEUE_ID_LEN + 1];
    struct spool_file *f = spool_file_create(&sp, id);
    assert_non_null(f);
    assert_int_equal(spool_file_reserve(f, 200), 0);
    assert_int_equal(spool_file_write(f, message, strlen(message)), 0);
    const char *first = "X-Added: 1\r\n";
    assert_int_equal(spool_file_prepend(f, first, strlen(first)), 0);
    char longer[8192];
    memset(longer, 'y', sizeof(longer));
    memcpy(longer, "Subject: long\r\n\r\n", 18);
    assert_int_equal(spool_file_replace(f, longer, sizeof(longer)), 0);
    assert_int_equal(spool_file_size(f), sizeof(longer));
    const char *shorter = "Subject: short\r\n\r\nbody\r\n";
    assert_int_equal(spool_file_replace(f, shorter, strlen(shorter)), 0);
    const char *data;
    size_t len;
    assert_int_equal(spool_file_map(f, &data, &len), 0);
    assert_int_equal(len, strlen(shorter));
    assert_memory_equal(data, shorter, len);
    spool_file_unmap(f);
    const char *after = "Authentication-Results: x; none\r\n";
    assert_int_equal(spool_file_prepend(f, after, strlen(after)), 0);
    assert_int_equal(spool_file_write(f, "more\r\n", 6), 0);
    struct envelope env;
    envelope_init(&env);
    memcpy(env.id, id, QUEUE_ID_LEN + 1);
    env.size = strlen(after) + strlen(shorter) + 6;
    env.sender = strdup("alice@example.org");
    envelope_add_rcpt(&env, "bob@example.test", NULL, NULL, 0, ROUTE_LOCAL);
    struct sync_op op;
    assert_int_equal(spool_file_finish(f, &env, &op), 0);
    sync_op_run_now(&op, SYNCER_FSYNC);
    assert_int_equal(op.error, 0);
    spool_file_done(&f, true);
    envelope_free(&env);
    unsigned long long start, mlen;
    int fd = spool_open_message(&sp, id, &start, &mlen);
    assert_true(fd >= 0);
    assert_int_equal(mlen, strlen(after) + strlen(shorter) + 6);
    char got[256];
    assert_int_equal(pread(fd, got, mlen, (off_t)start), (ssize_t)mlen);
    assert_memory_equal(got, after, strlen(after));
    assert_memory_equal(got + strlen(after), shorter, strlen(shorter));
    assert_memory_equal(got + strlen(after) + strlen(shorter), "more\r\n", 6);
    close(fd);
    assert_int_equal(spool_delete(&sp, id), 0);
    spool_close(&sp);
}

/* The message being received, mapped whole for the content checks (with
 * reserved room in front and the write buffer not yet flushed), then
 * finished into hold/ and quarantine/ instead of queue/. */
static void test_spool_map_and_finish_into(void **state)
{
    (void)state;
    struct spool sp;
    const char *err;
    assert_int_equal(spool_open(&sp, base, &err), 0);
    const enum spool_dest dests[] = {SPOOL_DEST_HOLD, SPOOL_DEST_QUARANTINE};
    const char *const dirs[] = {"hold", "quarantine"};
    for (size_t k = 0; k < 2; k++) {
        char id[QUEUE_ID_LEN + 1];
        struct spool_file *f = spool_file_create(&sp, id);
        assert_non_null(f);
        const char *data;
        size_t len;
        assert_int_equal(spool_file_map(f, &data, &len), 0);
        assert_null(data);
        assert_int_equal(len, 0);
        assert_int_equal(spool_file_reserve(f, 5000), 0); /* the start is not page-aligned */
        assert_int_equal(spool_file_write(f, message, strlen(message)), 0);
        assert_int_equal(spool_file_map(f, &data, &len), 0);
        assert_int_equal(len, strlen(message));
        assert_memory_equal(data, message, len);
        assert_int_equal(spool_file_write(f, "more\r\n", 6), 0);
        assert_int_equal(spool_file_map(f, &data, &len), 0); /* again: a new map */
        assert_int_equal(len, strlen(message) + 6);
        assert_memory_equal(data + strlen(message), "more\r\n", 6);
        struct envelope env;
        envelope_init(&env);
        memcpy(env.id, id, QUEUE_ID_LEN + 1);
        env.size = spool_file_size(f);
        env.sender = strdup("alice@example.org");
        envelope_add_rcpt(&env, "bob@example.test", NULL, NULL, 0, ROUTE_LOCAL);
        struct sync_op op;
        assert_int_equal(spool_file_finish_into(f, &env, &op, dests[k]), 0);
        sync_op_run_now(&op, SYNCER_FSYNC);
        assert_int_equal(op.error, 0);
        spool_file_done(&f, true);
        envelope_free(&env);
        char path[600];
        snprintf(path, sizeof(path), "%s/spool/%s/%s.msg", base, dirs[k], id);
        assert_int_equal(access(path, F_OK), 0);
        snprintf(path, sizeof(path), "%s/spool/queue/%s.msg", base, id);
        assert_int_equal(access(path, F_OK), -1);
        snprintf(path, sizeof(path), "%s/spool/%s/%s.msg", base, dirs[k], id);
        assert_int_equal(unlink(path), 0);
    }
    spool_close(&sp);
}

static void count_id(const char *id, void *arg)
{
    (void)id;
    (*(int *)arg)++;
}

static void test_spool_commit_read_remove(void **state)
{
    (void)state;
    struct spool sp;
    const char *err;
    assert_int_equal(spool_open(&sp, base, &err), 0);
    char id[QUEUE_ID_LEN + 1];
    spool_one(&sp, id, "bob@example.test");
    char path[512];
    snprintf(path, sizeof(path), "%s/spool/incoming", base);
    assert_int_equal(count_files(path), 0);
    snprintf(path, sizeof(path), "%s/spool/queue", base);
    assert_int_equal(count_files(path), 1); /* one file per message */
    snprintf(path, sizeof(path), "%s/spool/queue/%s.msg", base, id);
    size_t len;
    char *data = read_file(path, &len);
    assert_non_null(data);
    /* the message as received, its envelope, the trailer */
    assert_true(len > strlen(message) + 30);
    assert_memory_equal(data, message, strlen(message));
    assert_memory_equal(data + strlen(message), "postino-envelope 1\n", 19);
    char trailer[40];
    snprintf(trailer, sizeof(trailer), "\npostino-env %016zx\n", strlen(message));
    assert_memory_equal(data + len - 30, trailer, 30);
    free(data);
    unsigned long long mlen = 0, mstart = 99;
    int mfd = spool_open_message(&sp, id, &mstart, &mlen);
    assert_true(mfd >= 0);
    assert_int_equal(mstart, 0);
    assert_int_equal(mlen, strlen(message));
    close(mfd);

    struct envelope env;
    bool missing;
    assert_int_equal(spool_read_envelope(&sp, id, &env, &err, &missing), 0);
    assert_string_equal(env.sender, "alice@example.org");
    int n = 0;
    assert_int_equal(spool_scan(&sp, count_id, &n), 1);
    assert_int_equal(n, 1);

    /* rewrite the envelope */
    env.rcpts[0].status = RCPT_DEFERRED;
    struct sync_op op;
    int fd;
    assert_int_equal(spool_write_envelope(&sp, &env, &op, &fd), 0);
    sync_op_run_now(&op, SYNCER_FSYNC);
    close(fd);
    assert_int_equal(op.error, 0);
    envelope_free(&env);
    assert_int_equal(spool_read_envelope(&sp, id, &env, &err, &missing), 0);
    assert_int_equal(env.rcpts[0].status, RCPT_DEFERRED);
    envelope_free(&env);
    snprintf(path, sizeof(path), "%s/spool/queue", base);
    assert_int_equal(count_files(path), 2); /* .msg and .env, no .tmp left */

    spool_remove(&sp, id, false, &op);
    sync_op_run_now(&op, SYNCER_FSYNC);
    assert_int_equal(op.error, 0);
    assert_int_equal(count_files(path), 0);
    spool_close(&sp);
}

/* A queue file cut short (no trailer) or with a lying trailer is refused. */
static void test_spool_torn_file(void **state)
{
    (void)state;
    struct spool sp;
    const char *err;
    assert_int_equal(spool_open(&sp, base, &err), 0);
    char id[QUEUE_ID_LEN + 1];
    queue_id_new(id);
    char path[600];
    snprintf(path, sizeof(path), "%s/spool/queue/%s.msg", base, id);
    const char *bodies[] = {"", "Subject: x\r\n", "Subject: x\r\n\npostino-env 00000000000000ff\n",
                            "Subject: x\r\n\npostino-env 000000000000000c\n"};
    for (size_t i = 0; i < 4; i++) {
        FILE *f = fopen(path, "wb");
        fputs(bodies[i], f);
        fclose(f);
        struct envelope env;
        bool missing = true;
        assert_int_equal(spool_read_envelope(&sp, id, &env, &err, &missing), -1);
        assert_false(missing);
        unsigned long long start, len;
        if (i < 3)
            assert_int_equal(spool_open_message(&sp, id, &start, &len), -1);
    }
    unlink(path);
    struct envelope env;
    bool missing = false;
    assert_int_equal(spool_read_envelope(&sp, id, &env, &err, &missing), -1);
    assert_true(missing);
    spool_close(&sp);
}

/* A finished message's file is emptied into free/ and the next message
 * takes it over: same inode, no stale content. */
static void test_spool_recycle(void **state)
{
    (void)state;
    struct spool sp;
    const char *err;
    assert_int_equal(spool_open(&sp, base, &err), 0);
    char id[QUEUE_ID_LEN + 1];
    spool_one(&sp, id, "bob@example.test");
    char path[600];
    snprintf(path, sizeof(path), "%s/spool/queue/%s.msg", base, id);
    struct stat st1;
    assert_int_equal(stat(path, &st1), 0);
    struct sync_op op;
    spool_remove(&sp, id, true, &op);
    sync_op_run_now(&op, SYNCER_FSYNC);
    assert_int_equal(op.error, 0);
    assert_int_equal(spool_free_count(&sp), 1);
    snprintf(path, sizeof(path), "%s/spool/free/%s", base, id);
    struct stat st2;
    assert_int_equal(stat(path, &st2), 0);
    assert_int_equal(st2.st_size, 0);

    char id2[QUEUE_ID_LEN + 1];
    sp.free_retry_at = 0; /* free/ was empty a moment ago: look again now */
    spool_one(&sp, id2, "ann@example.test");
    assert_int_equal(spool_free_count(&sp), 0);
    snprintf(path, sizeof(path), "%s/spool/queue/%s.msg", base, id2);
    struct stat st3;
    assert_int_equal(stat(path, &st3), 0);
    assert_int_equal(st3.st_ino, st1.st_ino);
    struct envelope env;
    bool missing;
    assert_int_equal(spool_read_envelope(&sp, id2, &env, &err, &missing), 0);
    assert_string_equal(env.rcpts[0].addr, "ann@example.test");
    envelope_free(&env);
    spool_remove(&sp, id2, false, &op);
    sync_op_run_now(&op, SYNCER_FSYNC);
    assert_int_equal(spool_free_count(&sp), 0);
    spool_close(&sp);
}

static void test_spool_abort_and_clean(void **state)
{
    (void)state;
    struct spool sp;
    const char *err;
    assert_int_equal(spool_open(&sp, base, &err), 0);
    char id[QUEUE_ID_LEN + 1];
    struct spool_file *f = spool_file_create(&sp, id);
    assert_non_null(f);
    spool_file_write(f, "x", 1);
    spool_file_abort(&f);
    assert_null(f);
    char path[512];
    snprintf(path, sizeof(path), "%s/spool/incoming", base);
    assert_int_equal(count_files(path), 0);
    /* what a crash leaves behind is cleaned at start */
    struct spool_file *g = spool_file_create(&sp, id);
    spool_file_write(g, "half", 4);
    assert_int_equal(spool_clean_incoming(&sp), 1);
    assert_int_equal(count_files(path), 0);
    spool_file_done(&g, true); /* closes the (unlinked) file */

    /* An .env without its .msg and a stray .env.tmp are leftovers of an
     * interrupted removal or rewrite; a complete message stays. */
    char keep[QUEUE_ID_LEN + 1];
    spool_one(&sp, keep, "bob@example.test");
    char orphan[QUEUE_ID_LEN + 1];
    queue_id_new(orphan);
    char p2[600];
    snprintf(p2, sizeof(p2), "%s/spool/queue/%s.env", base, orphan);
    close(open(p2, O_WRONLY | O_CREAT, 0600));
    snprintf(p2, sizeof(p2), "%s/spool/queue/%s.env.tmp", base, keep);
    close(open(p2, O_WRONLY | O_CREAT, 0600));
    snprintf(path, sizeof(path), "%s/spool/queue", base);
    assert_int_equal(count_files(path), 3);
    assert_int_equal(spool_clean_queue(&sp), 2);
    assert_int_equal(count_files(path), 1);
    struct envelope env;
    bool missing;
    assert_int_equal(spool_read_envelope(&sp, keep, &env, &err, &missing), 0);
    envelope_free(&env);
    struct sync_op op;
    spool_remove(&sp, keep, false, &op);
    sync_op_run_now(&op, SYNCER_FSYNC);
    assert_int_equal(count_files(path), 0);
    spool_close(&sp);
}

struct batch_state {
    int done;
    int errors;
    struct event_base *base;
    int expected;
};

static void batch_done(struct sync_op *op)
{
    struct batch_state *st = op->arg;
    st->done++;
    if (op->error)
        st->errors++;
    if (st->done == st->expected)
        event_base_loopexit(st->base, NULL);
}

static void test_syncer_batches(void **state)
{
    (void)state;
    for (int method = 0; method < 2; method++) {
        struct event_base *eb = event_base_new();
        struct syncer *s = syncer_new(eb, method ? SYNCER_SYNCFS : SYNCER_FSYNC, 4);
        enum { N = 64 };
        struct sync_op ops[N];
        int fds[N];
        char dir[512];
        snprintf(dir, sizeof(dir), "%s/sync%d", base, method);
        mkdir(dir, 0700);
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        struct batch_state st = {.base = eb, .expected = N};
        for (int i = 0; i < N; i++) {
            char name[32], final[32];
            snprintf(name, sizeof(name), "t%d", i);
            snprintf(final, sizeof(final), "f%d", i);
            fds[i] = openat(dfd, name, O_WRONLY | O_CREAT, 0600);
            assert_true(write(fds[i], "data", 4) == 4);
            sync_op_init(&ops[i]);
            sync_op_add_fd(&ops[i], fds[i]);
            sync_op_add_rename(&ops[i], dfd, name, dfd, final);
            sync_op_add_dir(&ops[i], dfd);
            ops[i].done = batch_done;
            ops[i].arg = &st;
            syncer_submit(s, &ops[i]);
        }
        event_base_dispatch(eb);
        assert_int_equal(st.done, N);
        assert_int_equal(st.errors, 0);
        assert_int_equal(syncer_busy(s), 0);
        for (int i = 0; i < N; i++) {
            char final[32];
            snprintf(final, sizeof(final), "f%d", i);
            assert_int_equal(faccessat(dfd, final, F_OK, 0), 0);
            close(fds[i]);
        }
        /* A failing op reports its errno and does not disturb others. */
        struct sync_op bad;
        sync_op_init(&bad);
        sync_op_add_rename(&bad, dfd, "does-not-exist", dfd, "x");
        st.done = 0;
        st.errors = 0;
        st.expected = 1;
        bad.done = batch_done;
        bad.arg = &st;
        syncer_submit(s, &bad);
        event_base_dispatch(eb);
        assert_int_equal(st.errors, 1);
        assert_non_null(bad.failed);
        close(dfd);
        syncer_free(&s);
        assert_null(s);
        event_base_free(eb);
    }
}

static void test_maildir_delivery(void **state)
{
    (void)state;
    char root[512];
    snprintf(root, sizeof(root), "%s/mail/ex.test/bob", base);
    struct maildir_delivery md;
    assert_int_equal(maildir_delivery_begin(&md, root), 0);
    assert_int_equal(maildir_delivery_write(&md, "a\nbc\n", 5), 0);
    struct sync_op op;
    assert_int_equal(maildir_delivery_finish(&md, &op), 0);
    sync_op_run_now(&op, SYNCER_FSYNC);
    assert_int_equal(op.error, 0);
    maildir_delivery_close(&md, true);
    char path[600];
    snprintf(path, sizeof(path), "%s/new", root);
    assert_int_equal(count_files(path), 1);
    snprintf(path, sizeof(path), "%s/tmp", root);
    assert_int_equal(count_files(path), 0);
    assert_non_null(strstr(op.renames[0].to, ",S=5,W=7"));

    assert_true(maildir_name_safe("bob"));
    assert_true(maildir_name_safe("jörg"));
    assert_false(maildir_name_safe(""));
    assert_false(maildir_name_safe(".."));
    assert_false(maildir_name_safe(".hidden"));
    assert_false(maildir_name_safe("a/b"));
    assert_false(maildir_name_safe("a\nb"));
}

static void test_deliver_local(void **state)
{
    (void)state;
    struct spool sp;
    const char *err;
    assert_int_equal(spool_open(&sp, base, &err), 0);
    char id[QUEUE_ID_LEN + 1];
    spool_one(&sp, id, "ann@ex.test");
    char maildir[512];
    snprintf(maildir, sizeof(maildir), "%s/mail", base);

    struct local_delivery ld;
    memset(&ld, 0, sizeof(ld));
    ld.job.qid = strdup(id);
    ld.job.sender = strdup("alice@example.org");
    deliver_job_add(&ld.job, 0, "ann@ex.test");
    deliver_job_add(&ld.job, 1, "carl@ex.test");
    deliver_job_add(&ld.job, 2, "../../etc@ex.test");
    deliver_local_prepare(&ld, maildir, &sp);
    assert_int_equal(ld.ops_left, 2);
    assert_true(ld.started[0]);
    assert_true(ld.started[1]);
    assert_false(ld.started[2]);
    assert_int_equal(ld.job.rcpts[2].outcome, DELIVER_PERMFAIL);
    for (size_t i = 0; i < 2; i++) {
        sync_op_run_now(&ld.ops[i], SYNCER_FSYNC);
        deliver_local_complete(&ld, i);
        assert_int_equal(ld.job.rcpts[i].outcome, DELIVER_OK);
    }
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/ex.test/ann/new", maildir);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    char path[1200] = "";
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
    closedir(d);
    size_t len;
    char *data = read_file(path, &len);
    assert_non_null(data);
    assert_string_equal(data, "Return-Path: <alice@example.org>\nDelivered-To: ann@ex.test\n"
                              "Subject: test\n\nline one\nline two\n");
    free(data);
    deliver_local_free(&ld);

    /* A missing message is a temporary failure for everyone. */
    memset(&ld, 0, sizeof(ld));
    ld.job.qid = strdup("0000000000000");
    ld.job.sender = strdup("");
    deliver_job_add(&ld.job, 0, "ann@ex.test");
    deliver_local_prepare(&ld, maildir, &sp);
    assert_int_equal(ld.ops_left, 0);
    assert_int_equal(ld.job.rcpts[0].outcome, DELIVER_TEMPFAIL);
    assert_non_null(strstr(ld.job.rcpts[0].text, "4.3.0"));
    deliver_local_free(&ld);
    spool_close(&sp);
}

/* The quota of the test: ann has room for one more small message. */
static int quota_of(void *arg, const char *address, struct store_quota *q)
{
    (void)arg;
    memset(q, 0, sizeof(*q));
    if (strcmp(address, "ann@ex.test") == 0)
        q->messages_limit = 1;
    return 0;
}

static void test_deliver_local_quota(void **state)
{
    (void)state;
    struct spool sp;
    const char *err;
    assert_int_equal(spool_open(&sp, base, &err), 0);
    char id[QUEUE_ID_LEN + 1];
    spool_one(&sp, id, "ann@ex.test");
    char maildir[512];
    snprintf(maildir, sizeof(maildir), "%s/mail-quota", base);
    for (int round = 0; round < 2; round++) {
        struct local_delivery ld;
        memset(&ld, 0, sizeof(ld));
        ld.quota_lookup = quota_of;
        ld.job.qid = strdup(id);
        ld.job.sender = strdup("alice@example.org");
        deliver_job_add(&ld.job, 0, "ann@ex.test");
        deliver_job_add(&ld.job, 1, "carl@ex.test");
        deliver_local_prepare(&ld, maildir, &sp);
        /* carl has no quota; ann has room for the first copy only */
        assert_true(ld.started[1]);
        assert_int_equal(ld.started[0], round == 0);
        for (size_t i = 0; i < 2; i++) {
            if (!ld.started[i])
                continue;
            sync_op_run_now(&ld.ops[i], SYNCER_FSYNC);
            deliver_local_complete(&ld, i);
            assert_int_equal(ld.job.rcpts[i].outcome, DELIVER_OK);
        }
        if (round == 1) {
            assert_int_equal(ld.job.rcpts[0].outcome, DELIVER_TEMPFAIL);
            assert_non_null(strstr(ld.job.rcpts[0].text, "4.2.2"));
        }
        deliver_local_free(&ld);
    }
    char path[700];
    snprintf(path, sizeof(path), "%s/ex.test/ann/maildirsize", maildir);
    size_t len;
    char *data = read_file(path, &len);
    assert_non_null(data);
    assert_non_null(strstr(data, "1C\n"));
    free(data);
    snprintf(path, sizeof(path), "%s/ex.test/carl/maildirsize", maildir);
    assert_int_equal(access(path, F_OK), -1);
    spool_close(&sp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spool_commit_read_remove),
        cmocka_unit_test(test_spool_reserve_prepend),
        cmocka_unit_test(test_spool_replace),
        cmocka_unit_test(test_spool_map_and_finish_into),
        cmocka_unit_test(test_spool_abort_and_clean),
        cmocka_unit_test(test_spool_torn_file),
        cmocka_unit_test(test_spool_recycle),
        cmocka_unit_test(test_syncer_batches),
        cmocka_unit_test(test_maildir_delivery),
        cmocka_unit_test(test_deliver_local),
        cmocka_unit_test(test_deliver_local_quota),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
