/* Unit tests of src/certify/certify-log.c: the evidence log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "certify/certify-log.h"
#include "lib/buf.h"
#include "lib/str.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    str_copy(f->dir, sizeof(f->dir), "/tmp/test-certify-log-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/certify/evidence.log", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Append an event at time t. */
static void append(const char *path, time_t t, const char *event, const char *msgid,
                   const char *detail)
{
    struct certify_log_record r = {0};
    r.time = t;
    str_copy(r.event, sizeof(r.event), event);
    str_copy(r.queue_id, sizeof(r.queue_id), "Q1");
    str_copy(r.msgid, sizeof(r.msgid), msgid);
    str_copy(r.id, sizeof(r.id), "abc.cert@a.example");
    str_copy(r.sender, sizeof(r.sender), "alice@a.example");
    str_copy(r.rcpt, sizeof(r.rcpt), "bob@b.example,carol@c.example");
    str_copy(r.detail, sizeof(r.detail), detail);
    char *err = NULL;
    if (certify_log_append(path, &r, &err) < 0)
        fail_msg("append: %s", err);
}

static void check(const char *path, bool ok, size_t records)
{
    struct certify_log_check c;
    char *err = NULL;
    assert_int_equal(certify_log_verify(path, &c, &err), 0);
    if (c.ok != ok)
        fail_msg("verify: ok %d, want %d (%s at %llu)", c.ok, ok, c.reason, c.bad_seq);
    if (ok)
        assert_int_equal(c.records, records);
}

/* The whole file as a string (caller frees). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    return buf_steal(&b);
}

static void spit(const char *path, const char *s)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(s, f);
    fclose(f);
}

struct collect {
    size_t n;
    char msgids[8][64];
};

static bool collect_fn(void *arg, const struct certify_log_record *rec)
{
    struct collect *c = arg;
    if (c->n < 8)
        str_copy(c->msgids[c->n], sizeof(c->msgids[0]), rec->msgid);
    c->n++;
    return true;
}

/* Records chain, read back with their odd characters, and verify. */
static void test_append_read_verify(void **state)
{
    struct fixture *f = *state;
    check(f->path, true, 0); /* no file: an empty, valid log */
    append(f->path, 1700000000, "acceptance", "<m1@a.example>", "");
    append(f->path, 1700000001, "delivery", "<m 2=%\xc3\xa8@a>", "250 2.0.0 ok\nnext");
    append(f->path, 0, "delivery-failure", "<m3@a>", "550 5.1.1 unknown");
    check(f->path, true, 3);
    struct collect c = {0};
    char *err = NULL;
    assert_int_equal(certify_log_read(f->path, collect_fn, &c, &err), 0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.msgids[1], "<m 2=%\xc3\xa8@a>");
    char *text = slurp(f->path);
    assert_non_null(strstr(text, "msgid=<m%202%3D%25%C3%A8@a>"));
    assert_non_null(strstr(text, "seq=1 "));
    assert_non_null(strstr(text, "seq=3 "));
    free(text);
}

/* Any hand edit is detected: a changed field, a removed record, two
 * swapped, an inserted one, a recomputed hash without the next prev. */
static void test_tamper(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 4; i++)
        append(f->path, 1700000000 + i, "delivery", "<m@a>", "ok");
    char *orig = slurp(f->path);
    static const struct {
        const char *from, *to;
    } edits[] = {
        {"rcpt=bob@b.example", "rcpt=eve@b.example"},
        {"time=2023-11-14T22:13:21Z", "time=2023-11-14T22:13:22Z"},
        {"seq=2 ", "seq=02 "},
        {"detail=ok prev", "detail=ok  prev"},
        {"event=delivery", "event=Delivery"},
    };
    for (size_t i = 0; i < N_ELEMS(edits); i++) {
        char *at = strstr(orig, edits[i].from);
        assert_non_null(at);
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        buf_append(&b, orig, (size_t)(at - orig));
        buf_append_str(&b, edits[i].to);
        buf_append_str(&b, at + strlen(edits[i].from));
        spit(f->path, buf_cstr(&b));
        check(f->path, false, 0);
        buf_free(&b);
    }
    /* Remove the second line. */
    char *l2 = strchr(orig, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_append(&b, orig, (size_t)(l2 - orig));
    buf_append_str(&b, l3);
    spit(f->path, buf_cstr(&b));
    check(f->path, false, 0);
    /* Remove the first line. */
    spit(f->path, l2);
    check(f->path, false, 0);
    /* The last line cut short: appending refuses. */
    buf_reset(&b);
    buf_append(&b, orig, strlen(orig) - 5);
    buf_append_char(&b, '\n');
    spit(f->path, buf_cstr(&b));
    check(f->path, false, 0);
    struct certify_log_record r = {0};
    char *err = NULL;
    assert_int_equal(certify_log_append(f->path, &r, &err), -1);
    free(err);
    /* Intact again: it verifies. */
    spit(f->path, orig);
    check(f->path, true, 4);
    buf_free(&b);
    free(orig);
}

/* Pruning leaves a checkpoint and a chain that verifies, appending goes
 * on, and a second pruning replaces the checkpoint. A broken chain is not
 * pruned. */
static void test_prune(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 5; i++)
        append(f->path, 1000000000 + i * 1000, "acceptance", "<old@a>", "");
    for (int i = 0; i < 3; i++)
        append(f->path, 1700000000 + i, "delivery", "<new@a>", "");
    size_t pruned;
    char *err = NULL;
    assert_int_equal(certify_log_prune(f->path, 1500000000, &pruned, &err), 0);
    assert_int_equal(pruned, 5);
    check(f->path, true, 4);
    char *text = slurp(f->path);
    assert_non_null(strstr(text, "seq=5 "));
    assert_non_null(strstr(text, "event=checkpoint"));
    assert_null(strstr(text, "old@a"));
    free(text);
    append(f->path, 0, "delivery", "<newer@a>", "");
    check(f->path, true, 5);
    /* Nothing older: nothing changes. */
    assert_int_equal(certify_log_prune(f->path, 1500000000, &pruned, &err), 0);
    assert_int_equal(pruned, 0);
    assert_int_equal(certify_log_prune(f->path, 1700000001, &pruned, &err), 0);
    assert_int_equal(pruned, 1);
    check(f->path, true, 4);
    /* A hand-edited log is not pruned (the evidence of the edit stays). */
    text = slurp(f->path);
    char *at = strstr(text, "newer@a");
    at[0] = 'N';
    spit(f->path, text);
    assert_int_equal(certify_log_prune(f->path, 2000000000, &pruned, &err), -1);
    free(err);
    free(text);
    /* The cutoff: months back. */
    assert_int_equal(certify_log_cutoff(1798761600 /* 2027-01-01 */, 30),
                     1719792000 /* 2024-07-01 */);
}

/* A record too long for one line has its free text cut, and parsing is
 * strict about the layout. */
static void test_limits(void **state)
{
    struct fixture *f = *state;
    struct certify_log_record r = {0};
    str_copy(r.event, sizeof(r.event), "delivery");
    memset(r.detail, '%', sizeof(r.detail) - 1);
    memset(r.rcpt, 'r', sizeof(r.rcpt) - 1);
    char *err = NULL;
    assert_int_equal(certify_log_append(f->path, &r, &err), 0);
    assert_true(strlen(r.detail) < sizeof(r.detail) - 1);
    check(f->path, true, 1);
    static const char *const bad[] = {
        "",
        "seq=1",
        "seq=1 time=2023-11-14T22:13:20Z event=a queue= msgid= id= sender= rcpt= detail= "
        "prev=0000000000000000000000000000000000000000000000000000000000000000 hash=00",
        "seq=1 time=2023-11-14T22:13:20Z event=a queue= msgid= id= sender= rcpt= detail=%41 "
        "prev=0000000000000000000000000000000000000000000000000000000000000000 "
        "hash=0000000000000000000000000000000000000000000000000000000000000000",
        "seq=1 time=2023-11-14T22:13:20Z event=a queue= msgid= id= sender= rcpt= detail=%4 "
        "prev=0000000000000000000000000000000000000000000000000000000000000000 "
        "hash=0000000000000000000000000000000000000000000000000000000000000000",
    };
    struct certify_log_record rec;
    for (size_t i = 0; i < N_ELEMS(bad); i++)
        assert_int_equal(certify_log_parse(bad[i], strlen(bad[i]), &rec), -1);
    const char *good =
        "seq=1 time=2023-11-14T22:13:20Z event=a queue= msgid= id= sender= rcpt= detail=%25 "
        "prev=0000000000000000000000000000000000000000000000000000000000000000 "
        "hash=0000000000000000000000000000000000000000000000000000000000000000";
    assert_int_equal(certify_log_parse(good, strlen(good), &rec), 0);
    assert_string_equal(rec.detail, "%");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_read_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
