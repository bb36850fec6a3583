/* Unit tests: the message history (state/events.db), written and read back,
 * and created by several processes at the same moment, as the daemons do
 * when postino starts on a fresh data directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "queue/events.h"

static char base[] = "/tmp/postino-test-events-XXXXXX";

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(base))
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

/* A fresh data directory under base: dir/state exists, events.db does not. */
static void fresh_dir(char *dir, size_t size, const char *name)
{
    snprintf(dir, size, "%s/%s", base, name);
    assert_int_equal(mkdir(dir, 0700), 0);
    char state[600];
    snprintf(state, sizeof(state), "%s/state", dir);
    assert_int_equal(mkdir(state, 0700), 0);
}

struct collected {
    int n;
    char kinds[8][24];
    char texts[8][2048];
};

static void collect(const struct event *ev, void *arg)
{
    struct collected *c = arg;
    if (c->n < 8) {
        snprintf(c->kinds[c->n], sizeof(c->kinds[0]), "%s", ev->kind);
        snprintf(c->texts[c->n], sizeof(c->texts[0]), "%s", ev->text);
    }
    c->n++;
}

static void test_round_trip(void **state)
{
    (void)state;
    char dir[512];
    fresh_dir(dir, sizeof(dir), "round-trip");
    char *err = NULL;
    struct events *e = events_open(dir, &err);
    assert_non_null(e);
    events_add(e, "1ABC", "received", NULL, "from <%s>", "a@example.org");
    events_add(e, "1ABC", "deferred", "b@example.net", "451 %d", 4);
    events_add(e, "2XYZ", "received", NULL, "other");
    const char *addrs[] = {"b@example.net"};
    events_index(e, "1ABC", "<id@example.org>", addrs, 1);
    assert_int_equal(events_pending(e), 5);
    events_flush(e);
    assert_int_equal(events_pending(e), 0);

    struct collected c = {0};
    assert_int_equal(events_of(e, "1ABC", 0, collect, &c), 2);
    assert_string_equal(c.kinds[0], "received");
    assert_string_equal(c.texts[0], "from <a@example.org>");
    assert_string_equal(c.kinds[1], "deferred");
    assert_string_equal(c.texts[1], "451 4");

    char found[4][16];
    assert_int_equal(events_find_by_message_id(e, "<id@example.org>", found, 4), 1);
    assert_string_equal(found[0], "1ABC");
    assert_int_equal(events_find_by_address(e, "B@EXAMPLE.NET", 0, found, 4), 1);
    assert_string_equal(found[0], "1ABC");
    events_close(&e);
    assert_null(e);
}

/* Each child opens the new database, records one event and exits 0 only if
 * all of it worked. Without the retry of a busy set-up, some of them were
 * refused ("database is locked") when they met on a new file. */
static void test_created_by_many_at_once(void **state)
{
    (void)state;
    enum { ROUNDS = 30, PROCS = 6 };
    for (int round = 0; round < ROUNDS; round++) {
        char dir[512], name[32];
        snprintf(name, sizeof(name), "race-%d", round);
        fresh_dir(dir, sizeof(dir), name);
        pid_t pids[PROCS];
        for (int i = 0; i < PROCS; i++) {
            pids[i] = fork();
            assert_true(pids[i] >= 0);
            if (pids[i] == 0) {
                char *err = NULL;
                struct events *e = events_open(dir, &err);
                if (!e) {
                    fprintf(stderr, "child %d: %s\n", i, err);
                    _exit(1);
                }
                char qid[16];
                snprintf(qid, sizeof(qid), "Q%d", i);
                events_add(e, qid, "received", NULL, "child %d", i);
                events_close(&e);
                _exit(0);
            }
        }
        for (int i = 0; i < PROCS; i++) {
            int status = 0;
            assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
            assert_true(WIFEXITED(status));
            assert_int_equal(WEXITSTATUS(status), 0);
        }
        char *err = NULL;
        struct events *e = events_open(dir, &err);
        assert_non_null(e);
        for (int i = 0; i < PROCS; i++) {
            char qid[16];
            snprintf(qid, sizeof(qid), "Q%d", i);
            struct collected c = {0};
            assert_int_equal(events_of(e, qid, 0, collect, &c), 1);
        }
        events_close(&e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_created_by_many_at_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
