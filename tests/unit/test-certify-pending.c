/* Unit tests of src/certify/certify-pending.c: the delivery receipts that
 * handed-over certified messages wait for, in a database in a temporary
 * directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "certify/certify-pending.h"
#include "lib/str.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct fixture {
    char dir[64];
    struct certify_pending *p;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    str_copy(f->dir, sizeof(f->dir), "/tmp/test-certify-pending-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    char path[128];
    snprintf(path, sizeof(path), "%s/state", f->dir);
    if (mkdir(path, 0750) < 0)
        return -1;
    char *err = NULL;
    f->p = certify_pending_open(f->dir, &err);
    if (!f->p) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    certify_pending_close(&f->p);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* What certify_pending_due handed out, and what the callback answers. */
struct seen {
    size_t n;
    char rcpt[8][CERTIFY_ADDR_MAX];
    enum certify_pending_step step[8];
    char xml[8][64];
    bool answer; /* returned by the callback */
};

static bool collect(const struct certify_pending_entry *e, void *arg)
{
    struct seen *s = arg;
    if (s->n < N_ELEMS(s->rcpt)) {
        str_copy(s->rcpt[s->n], sizeof(s->rcpt[0]), e->rcpt);
        s->step[s->n] = e->step;
        str_copyn(s->xml[s->n], sizeof(s->xml[0]), e->xml, e->xml_len);
    }
    s->n++;
    return s->answer;
}

static int due(struct fixture *f, time_t now, struct seen *s, bool answer)
{
    memset(s, 0, sizeof(*s));
    s->answer = answer;
    const char *why = NULL;
    int n = certify_pending_due(f->p, now, collect, s, &why);
    assert_int_not_equal(n, -1);
    return n;
}

static int add(struct fixture *f, const char *msgid, const char *rcpt, time_t handed)
{
    const char *why = NULL;
    static const char xml[] = "<certdata/>";
    return certify_pending_add(f->p, "Q1", msgid, rcpt, handed, handed + 10, handed + 20, xml,
                               sizeof(xml) - 1, &why);
}

static int answer(struct fixture *f, const char *msgid, const char *rcpt, time_t now)
{
    const char *why = NULL;
    return certify_pending_answer(f->p, msgid, rcpt, now, &why);
}

/* A wait: nothing due before the warning, the warning once, the final
 * notice once, then nothing. */
static void test_warning_then_final(void **state)
{
    struct fixture *f = *state;
    struct seen s;
    assert_int_equal(certify_pending_next(f->p), 0);
    assert_int_equal(add(f, "<m1@a>", "Bob@B.example", 1000), 1);
    assert_int_equal(add(f, "<m1@a>", "bob@b.example", 1000), 0); /* the same, twice */
    assert_int_equal(certify_pending_next(f->p), 1010);
    assert_int_equal(due(f, 1009, &s, true), 0);
    assert_int_equal(due(f, 1010, &s, true), 1);
    assert_string_equal(s.rcpt[0], "bob@b.example");
    assert_int_equal(s.step[0], CERTIFY_PENDING_WARN);
    assert_string_equal(s.xml[0], "<certdata/>");
    assert_int_equal(due(f, 1015, &s, true), 0); /* warned once */
    assert_int_equal(certify_pending_next(f->p), 1020);
    assert_int_equal(due(f, 1020, &s, true), 1);
    assert_int_equal(s.step[0], CERTIFY_PENDING_FINAL);
    assert_int_equal(due(f, 5000, &s, true), 0);
    assert_int_equal(certify_pending_next(f->p), 0);
}

/* Past both times at once (the queue manager was down): only the final
 * notice. A callback that fails leaves the row due. */
static void test_late_and_failing(void **state)
{
    struct fixture *f = *state;
    struct seen s;
    assert_int_equal(add(f, "<m2@a>", "bob@b.example", 1000), 1);
    assert_int_equal(due(f, 1030, &s, false), 1);
    assert_int_equal(s.step[0], CERTIFY_PENDING_FINAL);
    assert_int_equal(due(f, 1031, &s, true), 1);
    assert_int_equal(due(f, 1032, &s, true), 0);
}

/* Answers: one ends a wait (no warning); one before the handover means the
 * handover is not waited on; one after the final notice ends nothing. */
static void test_answers(void **state)
{
    struct fixture *f = *state;
    struct seen s;
    assert_int_equal(add(f, "<m3@a>", "bob@b.example", 1000), 1);
    assert_int_equal(add(f, "<m3@a>", "carol@b.example", 1000), 1);
    assert_int_equal(answer(f, "<m3@a>", "BOB@b.example", 1005), 1);
    assert_int_equal(answer(f, "<m3@a>", "bob@b.example", 1006), 0); /* again */
    assert_int_equal(due(f, 1010, &s, true), 1);
    assert_string_equal(s.rcpt[0], "carol@b.example");
    assert_int_equal(answer(f, "<m3@a>", "carol@b.example", 1012), 1); /* after the warning */
    assert_int_equal(due(f, 1030, &s, true), 0);

    assert_int_equal(answer(f, "<m4@a>", "bob@b.example", 1000), 0);
    assert_int_equal(add(f, "<m4@a>", "bob@b.example", 1001), 0);
    assert_int_equal(due(f, 9999, &s, true), 0);

    assert_int_equal(add(f, "<m5@a>", "bob@b.example", 1000), 1);
    assert_int_equal(due(f, 1020, &s, true), 1);
    assert_int_equal(answer(f, "<m5@a>", "bob@b.example", 1040), 0);
    /* another message, same recipient: its own wait */
    assert_int_equal(add(f, "<m6@a>", "bob@b.example", 1000), 1);
    assert_int_equal(certify_pending_next(f->p), 1010);
}

/* Pruning removes only concluded rows older than the cut. */
static void test_prune(void **state)
{
    struct fixture *f = *state;
    struct seen s;
    assert_int_equal(add(f, "<m7@a>", "bob@b.example", 1000), 1);
    assert_int_equal(add(f, "<m8@a>", "bob@b.example", 1000), 1);
    assert_int_equal(add(f, "<m9@a>", "bob@b.example", 5000), 1);
    assert_int_equal(answer(f, "<m7@a>", "bob@b.example", 1001), 1);
    assert_int_equal(due(f, 1020, &s, true), 1); /* m8 given up */
    assert_int_equal(answer(f, "<m10@a>", "bob@b.example", 3000), 0);
    assert_int_equal(certify_pending_prune(f->p, 2000), 2); /* m7, m8 */
    assert_int_equal(certify_pending_prune(f->p, 2000), 0);
    /* m10's answer is kept: its handover still finds it */
    assert_int_equal(add(f, "<m10@a>", "bob@b.example", 3001), 0);
    assert_int_equal(certify_pending_next(f->p), 5010);
}

/* More due than one batch: the rest on the next call. */
static void test_batch(void **state)
{
    struct fixture *f = *state;
    struct seen s;
    for (int i = 0; i < CERTIFY_PENDING_BATCH + 1; i++) {
        char id[32];
        snprintf(id, sizeof(id), "<b%d@a>", i);
        assert_int_equal(add(f, id, "bob@b.example", 1000), 1);
    }
    assert_int_equal(due(f, 1010, &s, true), CERTIFY_PENDING_BATCH);
    assert_int_equal(due(f, 1010, &s, true), 1);
    assert_int_equal(due(f, 1010, &s, true), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_warning_then_final, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_and_failing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
