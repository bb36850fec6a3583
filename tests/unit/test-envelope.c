/* Unit tests: envelope encoding and decoding, queue IDs, retry schedule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "queue/envelope.h"
#include "queue/queue-id.h"
#include "queue/schedule.h"

static void fill(struct envelope *env)
{
    envelope_init(env);
    queue_id_new(env->id);
    env->arrival = 1764294339;
    env->size = 4212;
    env->sender = strdup("alice with space%=@example.org");
    env->body_8bit = true;
    env->smtputf8 = true;
    env->junk = true;
    env->ret = 2;
    env->envid = strdup("QQ+2B314159");
    env->client = strdup("192.0.2.7");
    env->helo = strdup("mail.example.org");
    env->proto = strdup("ESMTP");
    env->filter = strdup("smtp:[127.0.0.1]:10025");
    struct envelope_rcpt *r = envelope_add_rcpt(env, "bob@example.com", "bob+x@example.com",
                                                "rfc822;bob+2Bx@example.com", 6, ROUTE_LOCAL);
    r->status = RCPT_DEFERRED;
    r->attempts = 3;
    r->next_try = 1764300000;
    envelope_rcpt_set_last(r, "4.3.0 disk full: try later");
    envelope_add_rcpt(env, "jörg@例え.jp", NULL, NULL, 0, ROUTE_REMOTE);
}

static void test_roundtrip(void **state)
{
    (void)state;
    struct envelope env, back;
    fill(&env);
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(envelope_encode(&env, &b), 0);
    const char *err = NULL;
    assert_int_equal(envelope_decode(b.data, b.len, &back, &err), 0);
    assert_string_equal(back.id, env.id);
    assert_int_equal(back.arrival, env.arrival);
    assert_int_equal(back.size, env.size);
    assert_string_equal(back.sender, env.sender);
    assert_true(back.body_8bit);
    assert_true(back.smtputf8);
    assert_true(back.junk);
    assert_int_equal(back.ret, 2);
    assert_string_equal(back.envid, env.envid);
    assert_string_equal(back.client, "192.0.2.7");
    assert_string_equal(back.helo, "mail.example.org");
    assert_string_equal(back.proto, "ESMTP");
    assert_string_equal(back.filter, "smtp:[127.0.0.1]:10025");
    assert_int_equal(back.nrcpts, 2);
    assert_string_equal(back.rcpts[0].addr, "bob@example.com");
    assert_string_equal(back.rcpts[0].orig, "bob+x@example.com");
    assert_string_equal(back.rcpts[0].orcpt, "rfc822;bob+2Bx@example.com");
    assert_int_equal(back.rcpts[0].notify, 6);
    assert_int_equal(back.rcpts[0].route, ROUTE_LOCAL);
    assert_int_equal(back.rcpts[0].status, RCPT_DEFERRED);
    assert_int_equal(back.rcpts[0].attempts, 3);
    assert_int_equal(back.rcpts[0].next_try, 1764300000);
    assert_string_equal(back.rcpts[0].last, "4.3.0 disk full: try later");
    assert_string_equal(back.rcpts[1].addr, "jörg@例え.jp");
    assert_null(back.rcpts[1].orig);
    assert_int_equal(back.rcpts[1].route, ROUTE_REMOTE);
    assert_int_equal(back.rcpts[1].status, RCPT_PENDING);
    assert_false(envelope_done(&back));
    back.rcpts[0].status = RCPT_DELIVERED;
    back.rcpts[1].status = RCPT_BOUNCED;
    assert_true(envelope_done(&back));

    /* Encoding the decoded envelope gives the same text. */
    back.rcpts[0].status = RCPT_DEFERRED;
    back.rcpts[1].status = RCPT_PENDING;
    struct buf b2;
    buf_init(&b2, BUF_UNLIMITED);
    assert_int_equal(envelope_encode(&back, &b2), 0);
    assert_int_equal(b.len, b2.len);
    assert_memory_equal(b.data, b2.data, b.len);
    buf_free(&b2);
    envelope_free(&back);
    envelope_free(&env);
    buf_free(&b);
}

/* A torn write (any prefix of the file) is never taken for an envelope. */
static void test_every_prefix_rejected(void **state)
{
    (void)state;
    struct envelope env, back;
    fill(&env);
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(envelope_encode(&env, &b), 0);
    for (size_t n = 0; n < b.len; n++) {
        const char *err = NULL;
        char *copy = malloc(n + 1);
        memcpy(copy, b.data, n);
        assert_int_equal(envelope_decode(copy, n, &back, &err), -1);
        assert_non_null(err);
        free(copy);
    }
    envelope_free(&env);
    buf_free(&b);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    static const char *const bad[] = {
        /* wrong version */
        "postino-envelope 2\nid 0CJQ4VS7H8M2G\nsize 1\nsender \nrcpt addr=a@b route=local "
        "status=pending\nend\n",
        /* unknown field */
        "postino-envelope 1\nid 0CJQ4VS7H8M2G\nsize 1\nsender \nfoo bar\nrcpt addr=a@b "
        "route=local status=pending\nend\n",
        /* no recipient */
        "postino-envelope 1\nid 0CJQ4VS7H8M2G\nsize 1\nsender \nend\n",
        /* bad id */
        "postino-envelope 1\nid 0cjq4vs7h8m2g\nsize 1\nsender \nrcpt addr=a@b route=local "
        "status=pending\nend\n",
        /* bad status */
        "postino-envelope 1\nid 0CJQ4VS7H8M2G\nsize 1\nsender \nrcpt addr=a@b route=local "
        "status=lost\nend\n",
        /* escape of NUL */
        "postino-envelope 1\nid 0CJQ4VS7H8M2G\nsize 1\nsender a%00b\nrcpt addr=a@b route=local "
        "status=pending\nend\n",
        /* truncated escape */
        "postino-envelope 1\nid 0CJQ4VS7H8M2G\nsize 1\nsender a%4\nrcpt addr=a@b route=local "
        "status=pending\nend\n",
        /* sender twice */
        "postino-envelope 1\nid 0CJQ4VS7H8M2G\nsize 1\nsender \nsender x\nrcpt addr=a@b "
        "route=local status=pending\nend\n",
        /* data after end */
        "postino-envelope 1\nid 0CJQ4VS7H8M2G\nsize 1\nsender \nrcpt addr=a@b route=local "
        "status=pending\nend\nx\n",
        /* rcpt attribute without '=' */
        "postino-envelope 1\nid 0CJQ4VS7H8M2G\nsize 1\nsender \nrcpt addr=a@b route=local "
        "status=pending last\nend\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct envelope env;
        const char *err = NULL;
        if (envelope_decode(bad[i], strlen(bad[i]), &env, &err) != -1)
            fail_msg("case %zu decoded", i);
        assert_non_null(err);
    }
    const char *good = "postino-envelope 1\nid 0CJQ4VS7H8M2G\nsize 1\nsender \nrcpt addr=a@b "
                       "route=local status=pending\nend\n";
    struct envelope env;
    const char *err = NULL;
    assert_int_equal(envelope_decode(good, strlen(good), &env, &err), 0);
    assert_string_equal(env.sender, "");
    envelope_free(&env);
}

/* The FILTER record: written only when set, %-escaped like the others,
 * and optional when read (envelopes written before it still decode). */
static void test_filter_record(void **state)
{
    (void)state;
    struct envelope env, back;
    fill(&env);
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(envelope_encode(&env, &b), 0);
    assert_non_null(strstr(buf_cstr(&b), "\nproto ESMTP\nfilter smtp:[127.0.0.1]:10025\nrcpt "));

    /* none: no line, and NULL when read back */
    free(env.filter);
    env.filter = NULL;
    buf_reset(&b);
    assert_int_equal(envelope_encode(&env, &b), 0);
    assert_null(strstr(buf_cstr(&b), "filter"));
    const char *err = NULL;
    assert_int_equal(envelope_decode(b.data, b.len, &back, &err), 0);
    assert_null(back.filter);
    envelope_free(&back);

    /* escaped: space, '%', '=' and a control character */
    env.filter = strdup("lmtp:unix:/run/a b%=\t");
    buf_reset(&b);
    assert_int_equal(envelope_encode(&env, &b), 0);
    assert_non_null(strstr(buf_cstr(&b), "\nfilter lmtp:unix:/run/a%20b%25%3D%09\n"));
    assert_int_equal(envelope_decode(b.data, b.len, &back, &err), 0);
    assert_string_equal(back.filter, "lmtp:unix:/run/a b%=\t");
    envelope_free(&back);
    envelope_free(&env);
    buf_free(&b);

    /* an envelope of before the record, one with it, and bad ones */
    static const char old[] = "postino-envelope 1\nid 0CJQ4VS7H8M2G\nsize 1\nsender \n"
                              "client 127.0.0.1\nproto ESMTP\n"
                              "rcpt addr=a@b route=local status=pending\nend\n";
    assert_int_equal(envelope_decode(old, strlen(old), &back, &err), 0);
    assert_null(back.filter);
    assert_string_equal(back.proto, "ESMTP");
    envelope_free(&back);
    static const char with[] = "postino-envelope 1\nid 0CJQ4VS7H8M2G\nsize 1\nsender \n"
                               "filter smtp:[::1]:10025\n"
                               "rcpt addr=a@b route=local status=pending\nend\n";
    assert_int_equal(envelope_decode(with, strlen(with), &back, &err), 0);
    assert_string_equal(back.filter, "smtp:[::1]:10025");
    envelope_free(&back);
    static const char *const bad[] = {
        "postino-envelope 1\nid 0CJQ4VS7H8M2G\nsize 1\nsender \nfilter smtp:a\nfilter smtp:b\n"
        "rcpt addr=a@b route=local status=pending\nend\n",
        "postino-envelope 1\nid 0CJQ4VS7H8M2G\nsize 1\nsender \nfilter smtp:%4\n"
        "rcpt addr=a@b route=local status=pending\nend\n",
        "postino-envelope 1\nid 0CJQ4VS7H8M2G\nsize 1\nsender \nfilter smtp:a=b\n"
        "rcpt addr=a@b route=local status=pending\nend\n",
        "postino-envelope 1\nid 0CJQ4VS7H8M2G\nsize 1\nsender \nfilter\n"
        "rcpt addr=a@b route=local status=pending\nend\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (envelope_decode(bad[i], strlen(bad[i]), &back, &err) != -1)
            fail_msg("bad case %zu decoded", i);
        assert_null(back.filter);
    }
}

static void test_queue_id(void **state)
{
    (void)state;
    char prev[QUEUE_ID_LEN + 1] = "";
    for (int i = 0; i < 5000; i++) {
        char id[QUEUE_ID_LEN + 1];
        queue_id_new(id);
        assert_int_equal(strlen(id), QUEUE_ID_LEN);
        assert_true(queue_id_valid(id, strlen(id)));
        /* strictly increasing: unique and sortable by time */
        assert_true(strcmp(prev, id) < 0);
        memcpy(prev, id, sizeof(id));
    }
    long long t = queue_id_time(prev);
    assert_true(t > 1700000000 && t < 20000000000LL);
    assert_false(queue_id_valid("0CJQ4VS7H8M2", 12));
    assert_false(queue_id_valid("0CJQ4VS7H8M2I", 13)); /* I is not Crockford */
    assert_false(queue_id_valid("ZCJQ4VS7H8M2G", 13)); /* top digit holds 4 bits */
}

static void test_schedule(void **state)
{
    (void)state;
    assert_int_equal(schedule_retry_delay(1, 300, 3600), 300);
    assert_int_equal(schedule_retry_delay(2, 300, 3600), 600);
    assert_int_equal(schedule_retry_delay(3, 300, 3600), 1200);
    assert_int_equal(schedule_retry_delay(4, 300, 3600), 2400);
    assert_int_equal(schedule_retry_delay(5, 300, 3600), 3600);
    assert_int_equal(schedule_retry_delay(500, 300, 3600), 3600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),  cmocka_unit_test(test_every_prefix_rejected),
        cmocka_unit_test(test_bad_inputs), cmocka_unit_test(test_queue_id),
        cmocka_unit_test(test_schedule),   cmocka_unit_test(test_filter_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
