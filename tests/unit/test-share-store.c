/* Unit tests: the transfers, recipients, files and evidence of
 * state/shares.db (share-store.h), on a scratch directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "share/share-store.h"

static char base[] = "/tmp/postino-test-share-store-XXXXXX";

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(base))
        return -1;
    char p[600];
    snprintf(p, sizeof(p), "%s/state", base);
    return mkdir(p, 0700);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    return system(cmd) == 0 ? 0 : -1;
}

static struct share_store *open_store(void)
{
    char *err = NULL;
    struct share_store *s = share_store_open(base, &err);
    if (!s)
        fail_msg("open: %s", err);
    return s;
}

static void test_ids(void **state)
{
    (void)state;
    char a[SHARE_ID_LEN + 1], b[SHARE_ID_LEN + 1];
    share_new_id(a);
    share_new_id(b);
    assert_int_equal(strlen(a), SHARE_ID_LEN);
    assert_string_not_equal(a, b);
    for (const char *p = a; *p; p++)
        assert_non_null(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
    /* never read as an option: in 4000 ids (about 125 would start so) none
     * starts with "-" or "_", and every other first character is seen */
    char firsts[128] = {0};
    for (int i = 0; i < 4000; i++) {
        share_new_id(a);
        assert_true(a[0] != '-' && a[0] != '_');
        firsts[(unsigned char)a[0]] = 1;
    }
    int kinds = 0;
    for (int i = 0; i < 128; i++)
        kinds += firsts[i];
    assert_int_equal(kinds, 62);
}

struct seen {
    int n;
    char last_event[32];
    char ids[4][SHARE_ID_LEN + 1];
};

static void count_transfer(const struct share_transfer *t, void *arg)
{
    struct seen *s = arg;
    if (s->n < 4)
        memcpy(s->ids[s->n], t->id, sizeof(s->ids[0]));
    s->n++;
}

static void count_access(const struct share_access *a, void *arg)
{
    struct seen *s = arg;
    s->n++;
    memcpy(s->last_event, a->event, sizeof(s->last_event));
}

static void test_transfer_life(void **state)
{
    (void)state;
    struct share_store *s = open_store();
    struct share_transfer t = {
        .mode = SHARE_PW_GENERATED, .created = 1000, .expires = 2000, .max_failures = 3};
    strcpy(t.sender, "alice@example.org");
    unsigned char key[40], msg[10];
    memset(key, 7, sizeof(key));
    memset(msg, 9, sizeof(msg));
    t.wrapped_key = key;
    t.wrapped_key_len = sizeof(key);
    t.message = msg;
    t.message_len = sizeof(msg);
    struct share_recipient r[2] = {0};
    strcpy(r[0].address, "bob@example.net");
    strcpy(r[1].address, "carol@example.net");
    char *err = NULL;
    assert_int_equal(share_transfer_add(s, &t, r, 2, &err), 0);
    assert_int_equal(strlen(t.id), SHARE_ID_LEN);
    assert_string_not_equal(r[0].token, r[1].token);
    assert_string_equal(r[0].transfer, t.id);

    struct share_transfer got;
    assert_int_equal(share_transfer_get(s, t.id, &got), 1);
    assert_string_equal(got.sender, "alice@example.org");
    assert_int_equal(got.mode, SHARE_PW_GENERATED);
    assert_int_equal(got.expires, 2000);
    assert_int_equal(got.wrapped_key_len, sizeof(key));
    assert_memory_equal(got.wrapped_key, key, sizeof(key));
    assert_int_equal(got.message_len, sizeof(msg));
    assert_false(got.sent);
    share_transfer_free(&got);
    assert_int_equal(share_transfer_get(s, "nosuchid", &got), 0);

    /* wrong passwords lock at the maximum; a right one resets before */
    bool locked;
    assert_int_equal(share_recipient_fail(s, r[0].token, 3, &locked), 1);
    assert_int_equal(share_recipient_reset(s, r[0].token), 0);
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(share_recipient_fail(s, r[0].token, 3, &locked), i);
        assert_int_equal(locked, i == 3);
    }
    struct share_recipient rr;
    assert_int_equal(share_recipient_by_token(s, r[0].token, &rr), 1);
    assert_true(rr.locked);
    assert_int_equal(share_recipient_reset(s, r[0].token), 0); /* no effect when locked */
    assert_int_equal(share_recipient_by_token(s, r[0].token, &rr), 1);
    assert_true(rr.locked);
    assert_int_equal(rr.failures, 3);
    assert_int_equal(share_recipient_unlock(s, r[0].token), 0);
    assert_int_equal(share_recipient_by_token(s, r[0].token, &rr), 1);
    assert_false(rr.locked);
    assert_int_equal(rr.failures, 0);
    /* the first download is kept once */
    assert_int_equal(share_recipient_downloaded(s, r[1].token, 1500), 1);
    assert_int_equal(share_recipient_downloaded(s, r[1].token, 1600), 0);
    struct share_recipient list[5];
    assert_int_equal(share_recipients(s, t.id, list, 5), 2);
    assert_string_equal(list[0].address, "bob@example.net");
    assert_int_equal(list[1].first_download, 1500);

    /* files: upload progress, completion, the scan */
    struct share_file f = {.size = 100, .expected = 150, .scan = SHARE_SCAN_PENDING};
    strcpy(f.transfer, t.id);
    assert_int_equal(share_file_add(s, &f, &err), 0);
    assert_int_equal(share_file_stored(s, t.id, f.id, 60), 0);
    struct share_file gf;
    assert_int_equal(share_file_get(s, t.id, f.id, &gf), 1);
    assert_int_equal(gf.stored, 60);
    assert_false(gf.complete);
    share_file_free(&gf);
    assert_int_equal(share_file_stored(s, t.id, f.id, 150), 0);
    assert_int_equal(share_file_scanned(s, t.id, f.id, SHARE_SCAN_INFECTED, "Eicar-Test"), 0);
    struct share_file files[3];
    assert_int_equal(share_files(s, t.id, files, 3), 1);
    assert_true(files[0].complete);
    assert_int_equal(files[0].scan, SHARE_SCAN_INFECTED);
    assert_string_equal(files[0].scan_detail, "Eicar-Test");
    share_file_free(&files[0]);
    assert_int_equal(share_file_stored(s, t.id, "nosuch", 1), -1);

    /* the evidence */
    struct share_access a = {.time = 1500, .bytes = 100, .completed = true};
    strcpy(a.transfer, t.id);
    strcpy(a.recipient, "carol@example.net");
    strcpy(a.client, "192.0.2.7");
    strcpy(a.file, f.id);
    strcpy(a.event, "download");
    assert_int_equal(share_access_add(s, &a), 0);
    strcpy(a.event, "revoke");
    a.time = 1700;
    assert_int_equal(share_access_add(s, &a), 0);
    struct seen seen = {0};
    assert_int_equal(share_access_list(s, t.id, count_access, &seen), 2);
    assert_string_equal(seen.last_event, "revoke");

    /* sent, revoked once, listed, expired, deleted (the evidence stays) */
    assert_int_equal(share_transfer_set_sent(s, t.id), 0);
    assert_int_equal(share_transfer_revoke(s, t.id, 1700), 0);
    assert_int_equal(share_transfer_revoke(s, t.id, 1800), -1);
    assert_int_equal(share_transfer_get(s, t.id, &got), 1);
    assert_true(got.sent);
    assert_int_equal(got.revoked, 1700);
    share_transfer_free(&got);
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(share_transfer_list(s, "alice@example.org", count_transfer, &seen), 1);
    assert_int_equal(share_transfer_list(s, "nobody@example.org", count_transfer, &seen), 0);
    char ids[4][SHARE_ID_LEN + 1];
    assert_int_equal(share_transfer_expired(s, 1999, ids, 4), 0);
    assert_int_equal(share_transfer_expired(s, 2001, ids, 4), 1);
    assert_string_equal(ids[0], t.id);
    assert_int_equal(share_transfer_delete(s, t.id), 0);
    assert_int_equal(share_transfer_get(s, t.id, &got), 0);
    assert_int_equal(share_recipient_by_token(s, r[0].token, &rr), 0);
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(share_access_list(s, t.id, count_access, &seen), 2);
    share_store_close(&s);
    assert_null(s);
}

static void test_limits_and_names(void **state)
{
    (void)state;
    struct share_store *s = open_store();
    struct share_transfer t = {.mode = SHARE_PW_E2E, .created = 1, .expires = 2};
    strcpy(t.sender, "a@example.org");
    struct share_recipient *many = calloc(SHARE_RCPTS_MAX + 1, sizeof(*many));
    char *err = NULL;
    assert_int_equal(share_transfer_add(s, &t, many, SHARE_RCPTS_MAX + 1, &err), -1);
    assert_non_null(err);
    free(err);
    free(many);
    for (int m = 0; m < 4; m++)
        assert_int_equal(
            share_password_mode_parse(share_password_mode_name((enum share_password_mode)m)), m);
    assert_int_equal(share_password_mode_parse("plain"), -1);
    assert_string_equal(share_scan_name(SHARE_SCAN_NONE), "none");
    share_store_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_transfer_life),
        cmocka_unit_test(test_limits_and_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
