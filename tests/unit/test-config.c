/* Unit tests of src/lib/config.c. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "lib/log.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Every key of the configuration, as documented. */
static const char *const all_keys[] = {
    "hostname",
    "data_dir",
    "log_target",
    "log_level",
    "service_user",
    "mail_user",
    "smtp_listen",
    "smtpd_processes",
    "listen_backlog",
    "message_size_limit",
    "smtpd_recipient_limit",
    "smtpd_max_connections",
    "smtpd_max_connections_per_ip",
    "smtpd_error_limit",
    "smtpd_timeout",
    "max_received_headers",
    "relay_networks",
    "queue_retry_min",
    "queue_retry_max",
    "max_queue_lifetime",
    "queue_scan_interval",
    "spool_sync",
    "password_argon2_memory",
    "password_argon2_time",
    "password_argon2_parallelism",
};

/* The text form of key in cfg must be want. */
static void check_value(const struct config *cfg, const char *key, const char *want)
{
    char *v = config_value_text(cfg, key);
    if (v == NULL)
        fail_msg("no value for %s", key);
    if (strcmp(v, want) != 0) {
        /* fail() does not return; v is not freed here since gcc does not
         * know that and would see a use after free below. */
        print_error("%s = '%s', want '%s'\n", key, v, want);
        fail();
    }
    free(v);
}

/* Parse text into a fresh default config; returns the result and the
 * error (caller frees), leaving the config in *out (caller frees). */
static int parse(const char *text, size_t len, struct config **out, char **err)
{
    *out = config_new_default();
    *err = NULL;
    int r = config_parse_text(*out, "t.conf", text, len, err);
    if (r == 0 && *err != NULL)
        fail_msg("error set on success");
    if (r < 0 && *err == NULL)
        fail_msg("no error on failure");
    return r;
}

static void test_config_defaults(void **state)
{
    (void)state;
    struct config *cfg = config_new_default();
    assert_string_equal(cfg->hostname, "");
    assert_string_equal(cfg->data_dir, ".");
    assert_int_equal(cfg->log_target, LOG_TARGET_STDERR);
    assert_int_equal(cfg->log_level, LOG_INFO);
    assert_string_equal(cfg->service_user, "postino");
    assert_string_equal(cfg->mail_user, "vmail");
    assert_int_equal(cfg->smtp_listen.n, 1);
    assert_string_equal(cfg->smtp_listen.items[0], "*:25");
    assert_int_equal(cfg->smtpd_processes, 1);
    assert_int_equal(cfg->listen_backlog, 4096);
    assert_int_equal(cfg->message_size_limit, 50LL * 1024 * 1024);
    assert_int_equal(cfg->smtpd_recipient_limit, 1000);
    assert_int_equal(cfg->smtpd_max_connections, 1000);
    assert_int_equal(cfg->smtpd_max_connections_per_ip, 50);
    assert_int_equal(cfg->smtpd_error_limit, 10);
    assert_int_equal(cfg->smtpd_timeout, 300);
    assert_int_equal(cfg->max_received_headers, 100);
    assert_int_equal(cfg->relay_networks.n, 0);
    assert_int_equal(cfg->queue_retry_min, 300);
    assert_int_equal(cfg->queue_retry_max, 3600);
    assert_int_equal(cfg->max_queue_lifetime, 5 * 86400);
    assert_int_equal(cfg->queue_scan_interval, 300);
    assert_int_equal(cfg->spool_sync, SPOOL_SYNC_FSYNC);
    assert_int_equal(cfg->password_argon2_memory, 64LL * 1024 * 1024);
    assert_int_equal(cfg->password_argon2_time, 3);
    assert_int_equal(cfg->password_argon2_parallelism, 1);
    for (size_t i = 0; i < N_ELEMS(all_keys); i++)
        assert_true(config_key_exists(all_keys[i]));
    assert_false(config_key_exists("nonexistent"));
    assert_false(config_key_exists("HOSTNAME"));
    assert_false(config_key_exists(""));
    config_free(&cfg);
    assert_null(cfg);
    config_free(&cfg); /* freeing NULL is harmless */
}

/* Whole files: syntax, comments, whitespace, and the error messages that
 * name the file and line. */
static void test_config_parse_text(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *err; /* NULL: must succeed */
        const char *key; /* then key must read back as value */
        const char *value;
    } cases[] = {
        {"", NULL, "hostname", ""},
        {"\n\n# only comments\n   # indented comment\n\t\n", NULL, "hostname", ""},
        {"hostname = mx.example.org\n", NULL, "hostname", "mx.example.org"},
        {"hostname=mx.example.org", NULL, "hostname", "mx.example.org"}, /* no final LF */
        {"  hostname\t=\t mx.example.org \t\n", NULL, "hostname", "mx.example.org"},
        {"hostname = mx.example.org\r\n", NULL, "hostname", "mx.example.org"}, /* CRLF */
        {"hostname =\n", NULL, "hostname", ""},
        {"smtpd_processes = 4\n# hostname = ignored\n", NULL, "smtpd_processes", "4"},
        {"log_level = debug\n", NULL, "log_level", "debug"},
        {"log_target = syslog\n", NULL, "log_target", "syslog"},
        {"spool_sync = syncfs\n", NULL, "spool_sync", "syncfs"},
        {"smtp_listen = 127.0.0.1:25, [::1]:25\n", NULL, "smtp_listen", "127.0.0.1:25, [::1]:25"},
        {"smtp_listen = ,127.0.0.1:2525,,\n", NULL, "smtp_listen", "127.0.0.1:2525"},
        {"smtp_listen =\n", NULL, "smtp_listen", ""}, /* empty disables the service */
        {"relay_networks = 192.0.2.0/24,2001:db8::/32\n", NULL, "relay_networks",
         "192.0.2.0/24, 2001:db8::/32"},
        {"message_size_limit = 10M\n", NULL, "message_size_limit", "10M"},
        {"message_size_limit = 1536\n", NULL, "message_size_limit", "1536"},
        {"message_size_limit = 2048\n", NULL, "message_size_limit", "2K"},
        {"smtpd_timeout = 90\n", NULL, "smtpd_timeout", "90s"},
        {"smtpd_timeout = 120s\n", NULL, "smtpd_timeout", "2m"},
        {"max_queue_lifetime = 48h\n", NULL, "max_queue_lifetime", "2d"},
        {"queue_retry_max = 7200\n", NULL, "queue_retry_max", "2h"},
        {"data_dir = /var/spool/postino\n", NULL, "data_dir", "/var/spool/postino"},

        {"hostname\n", "t.conf:1: expected 'key = value'", NULL, NULL},
        {"# c\n\nbogus = 1\n", "t.conf:3: unknown key 'bogus'", NULL, NULL},
        {"= 1\n", "t.conf:1: unknown key ''", NULL, NULL},
        {"HOSTNAME = x\n", "t.conf:1: unknown key 'HOSTNAME'", NULL, NULL},
        {"b\x01"
         "d = 1\n",
         "t.conf:1: unknown key 'b\\x01d'", NULL, NULL},
        {"hostname = a\nhostname = b\n", "t.conf:2: hostname is set twice", NULL, NULL},
        {"hostname = a\r\n# x\r\nhostname = a\r\n", "t.conf:3: hostname is set twice", NULL, NULL},
        {"hostname = a\x01z\n", "t.conf:1: hostname contains a control character", NULL, NULL},
        {"hostname = a\rz\n", "t.conf:1: hostname contains a control character", NULL, NULL},
        {"hostname = a\x7fz\n", "t.conf:1: hostname contains a control character", NULL, NULL},
        {"service_user =\n", "t.conf:1: service_user must be 1 to 32 characters long", NULL, NULL},
        {"smtpd_processes = x\n", "t.conf:1: smtpd_processes needs a whole number, not 'x'", NULL,
         NULL},
        {"smtpd_processes = -1\n", "t.conf:1: smtpd_processes needs a whole number, not '-1'", NULL,
         NULL},
        {"smtpd_processes = 4 4\n", "t.conf:1: smtpd_processes needs a whole number, not '4 4'",
         NULL, NULL},
        {"smtpd_processes =\n", "t.conf:1: smtpd_processes needs a whole number, not ''", NULL,
         NULL},
        {"smtpd_processes = 99999999999999999999\n",
         "t.conf:1: smtpd_processes needs a whole number, not '99999999999999999999'", NULL, NULL},
        {"message_size_limit = 1T\n",
         "t.conf:1: message_size_limit needs a size like 10M (K, M, G suffixes), not '1T'", NULL,
         NULL},
        {"smtpd_timeout = 5x\n",
         "t.conf:1: smtpd_timeout needs a duration like 30s, 5m, 1h or 5d, not '5x'", NULL, NULL},
        {"log_level = verbose\n",
         "t.conf:1: log_level must be one of debug info notice warning error, not 'verbose'", NULL,
         NULL},
        {"log_level = DEBUG\n",
         "t.conf:1: log_level must be one of debug info notice warning error, not 'DEBUG'", NULL,
         NULL},
        {"smtp_listen = localhost:25\n",
         "t.conf:1: smtp_listen: 'localhost:25': bad IPv4 address (host names are not allowed "
         "here)",
         NULL, NULL},
        {"smtp_listen = 127.0.0.1:25, 127.0.0.1:0\n",
         "t.conf:1: smtp_listen: '127.0.0.1:0': bad port number", NULL, NULL},
        {"relay_networks = 192.0.2.0/24, bogus\n",
         "t.conf:1: relay_networks: 'bogus' is not an IP network like 192.0.2.0/24", NULL, NULL},
        {"relay_networks = 192.0.2.0/33\n",
         "t.conf:1: relay_networks: '192.0.2.0/33' is not an IP network like 192.0.2.0/24", NULL,
         NULL},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct config *cfg;
        char *err;
        int r = parse(cases[i].text, strlen(cases[i].text), &cfg, &err);
        if (cases[i].err == NULL && r != 0)
            fail_msg("case %zu: unexpected error %s", i, err);
        if (cases[i].err != NULL && (r == 0 || strcmp(err, cases[i].err) != 0))
            fail_msg("case %zu: got %d \"%s\"\n  want \"%s\"", i, r, err ? err : "", cases[i].err);
        if (cases[i].key)
            check_value(cfg, cases[i].key, cases[i].value);
        free(err);
        config_free(&cfg);
    }
}

/* Every bounded key, crossed by one on each side. */
static void test_config_bounds(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        const char *ok[3];
        const char *bad[3];
    } cases[] = {
        {"smtpd_processes", {"1", "64"}, {"0", "65"}},
        {"listen_backlog", {"16", "65535"}, {"15", "65536"}},
        {"smtpd_recipient_limit", {"100", "100000"}, {"99", "100001"}},
        {"smtpd_max_connections", {"1", "1000000"}, {"0", "1000001"}},
        {"smtpd_max_connections_per_ip", {"1", "1000000"}, {"0", "1000001"}},
        {"smtpd_error_limit", {"1", "1000"}, {"0", "1001"}},
        {"max_received_headers", {"10", "1000"}, {"9", "1001"}},
        {"password_argon2_time", {"1", "100"}, {"0", "101"}},
        {"password_argon2_parallelism", {"1", "16"}, {"0", "17"}},
        {"message_size_limit", {"1024", "1K", "2G"}, {"1023", "2147483649", "0"}},
        {"password_argon2_memory", {"8K", "8192", "4G"}, {"8191", "4294967297", "0"}},
        {"smtpd_timeout", {"1", "1s", "1h"}, {"0", "3601", "61m"}},
        {"queue_retry_min", {"1", "1d", "86400"}, {"0s", "86401", "1441m"}},
        {"queue_retry_max", {"1s", "1d"}, {"0", "86401"}},
        {"max_queue_lifetime", {"1", "100d"}, {"0", "8640001"}},
        {"queue_scan_interval", {"1", "24h"}, {"0", "25h"}},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        for (size_t k = 0; k < 3; k++) {
            for (int good = 0; good < 2; good++) {
                const char *v = good ? cases[i].ok[k] : cases[i].bad[k];
                if (!v)
                    continue;
                struct config *cfg = config_new_default();
                char *err = NULL;
                int r = config_set(cfg, cases[i].key, v, &err);
                if ((r == 0) != good)
                    fail_msg("%s = '%s': got %d (%s)", cases[i].key, v, r, err ? err : "");
                if (r < 0 && strncmp(err, cases[i].key, strlen(cases[i].key)) != 0)
                    fail_msg("%s: error does not name the key: %s", cases[i].key, err);
                free(err);
                config_free(&cfg);
            }
        }
    }
    /* Text lengths: hostname 0..255, the user names 1..32. */
    static const struct {
        const char *key;
        size_t min, max;
    } lengths[] = {
        {"hostname", 0, 255},
        {"service_user", 1, 32},
        {"mail_user", 1, 32},
    };
    for (size_t i = 0; i < N_ELEMS(lengths); i++) {
        for (size_t len = lengths[i].min ? lengths[i].min - 1 : 0; len <= lengths[i].max + 1;
             len++) {
            if (len > lengths[i].min + 1 && len + 1 < lengths[i].max)
                continue; /* only around the limits */
            char v[300];
            memset(v, 'a', len);
            v[len] = '\0';
            struct config *cfg = config_new_default();
            char *err = NULL;
            int r = config_set(cfg, lengths[i].key, v, &err);
            bool good = len >= lengths[i].min && len <= lengths[i].max;
            if ((r == 0) != good)
                fail_msg("%s of %zu characters: got %d", lengths[i].key, len, r);
            if (r == 0)
                check_value(cfg, lengths[i].key, v);
            free(err);
            config_free(&cfg);
        }
    }

    /* The exact values at the limits of two keys. */
    struct config *cfg = config_new_default();
    char *err = NULL;
    assert_int_equal(config_set(cfg, "message_size_limit", "2G", &err), 0);
    assert_int_equal(cfg->message_size_limit, 2LL * 1024 * 1024 * 1024);
    assert_int_equal(config_set(cfg, "smtpd_timeout", "1h", &err), 0);
    assert_int_equal(cfg->smtpd_timeout, 3600);
    assert_int_equal(config_set(cfg, "smtpd_timeout", "3601", &err), -1);
    assert_string_equal(err, "smtpd_timeout must be between 1 and 3600, not 3601");
    free(err);
    assert_int_equal(cfg->smtpd_timeout, 3600); /* unchanged by the failure */
    assert_int_equal(config_set(cfg, "no_such_key", "1", &err), -1);
    assert_string_equal(err, "unknown key 'no_such_key'");
    free(err);
    config_free(&cfg);
}

static void test_config_parse_size_duration(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int want_ret;
        long long want;
    } sizes[] = {
        {"0", 0, 0},
        {"10", 0, 10},
        {"10K", 0, 10240},
        {"10k", 0, 10240},
        {"3M", 0, 3145728},
        {"3m", 0, 3145728},
        {"2G", 0, 2147483648LL},
        {"9223372036854775807", 0, LLONG_MAX},
        {"9223372036854775808", -1, 0},
        {"9007199254740991K", 0, 9007199254740991LL * 1024},
        {"9007199254740992K", -1, 0},
        {"8589934591G", 0, 8589934591LL * 1024 * 1024 * 1024},
        {"8589934592G", -1, 0},
        {"", -1, 0},
        {"K", -1, 0},
        {"10KB", -1, 0},
        {"10 K", -1, 0},
        {" 10", -1, 0},
        {"-1", -1, 0},
        {"1.5M", -1, 0},
        {"10T", -1, 0},
    };
    for (size_t i = 0; i < N_ELEMS(sizes); i++) {
        long long v = -7;
        int r = config_parse_size(sizes[i].s, &v);
        if (r != sizes[i].want_ret || (r == 0 && v != sizes[i].want))
            fail_msg("size case %zu \"%s\": got %d %lld", i, sizes[i].s, r, v);
    }
    static const struct {
        const char *s;
        int want_ret;
        long long want;
    } durations[] = {
        {"0", 0, 0},
        {"30", 0, 30},
        {"30s", 0, 30},
        {"5m", 0, 300},
        {"2h", 0, 7200},
        {"5d", 0, 432000},
        {"106751991167300d", 0, 106751991167300LL * 86400},
        {"106751991167301d", -1, 0},
        {"9223372036854775807s", 0, LLONG_MAX},
        {"9223372036854775808", -1, 0},
        {"", -1, 0},
        {"s", -1, 0},
        {"5M", -1, 0}, /* suffixes are lowercase: M is not minutes */
        {"5S", -1, 0},
        {"5w", -1, 0},
        {"1h30m", -1, 0},
        {"-5m", -1, 0},
    };
    for (size_t i = 0; i < N_ELEMS(durations); i++) {
        long long v = -7;
        int r = config_parse_duration(durations[i].s, &v);
        if (r != durations[i].want_ret || (r == 0 && v != durations[i].want))
            fail_msg("duration case %zu \"%s\": got %d %lld", i, durations[i].s, r, v);
    }
}

static void test_config_file_limits(void **state)
{
    (void)state;
    /* Lines of 4096 octets are read, 4097 are refused. */
    for (size_t len = 4095; len <= 4097; len++) {
        char *text = malloc(len + 1);
        assert_non_null(text);
        memset(text, 'x', len);
        text[0] = '#';
        text[len] = '\n';
        struct config *cfg;
        char *err;
        int r = parse(text, len + 1, &cfg, &err);
        if (len <= 4096)
            assert_int_equal(r, 0);
        else
            assert_string_equal(err, "t.conf:1: line too long");
        free(err);
        config_free(&cfg);
        free(text);
    }
    /* A NUL byte anywhere, even in a comment, is an error on its line. */
    static const char nul_text[] = "hostname = a\n# ok\n#\0\n";
    struct config *cfg;
    char *err;
    assert_int_equal(parse(nul_text, sizeof(nul_text) - 1, &cfg, &err), -1);
    assert_string_equal(err, "t.conf:3: NUL byte in the file");
    free(err);
    config_free(&cfg);
    /* The length given is what counts, not a terminator. */
    assert_int_equal(parse("hostname = a\nbogus = 1\n", 13, &cfg, &err), 0);
    check_value(cfg, "hostname", "a");
    config_free(&cfg);
}

static void test_config_value_text_and_set(void **state)
{
    (void)state;
    struct config *cfg = config_new_default();
    static const struct {
        const char *key, *value;
    } defaults[] = {
        {"hostname", ""},
        {"data_dir", "."},
        {"log_target", "stderr"},
        {"log_level", "info"},
        {"smtp_listen", "*:25"},
        {"message_size_limit", "50M"},
        {"smtpd_timeout", "5m"},
        {"queue_retry_max", "1h"},
        {"max_queue_lifetime", "5d"},
        {"relay_networks", ""},
        {"spool_sync", "fsync"},
        {"password_argon2_memory", "64M"},
        {"password_argon2_time", "3"},
    };
    for (size_t i = 0; i < N_ELEMS(defaults); i++)
        check_value(cfg, defaults[i].key, defaults[i].value);
    assert_null(config_value_text(cfg, "nonexistent"));
    char *err = NULL;
    assert_int_equal(config_set(cfg, "password_argon2_memory", "4G", &err), 0);
    check_value(cfg, "password_argon2_memory", "4G");
    assert_int_equal(config_set(cfg, "log_level", "warning", &err), 0);
    assert_int_equal(cfg->log_level, LOG_WARNING);
    check_value(cfg, "log_level", "warning");
    assert_int_equal(config_set(cfg, "log_level", "error", &err), 0);
    assert_int_equal(cfg->log_level, LOG_ERR);
    /* A failed list leaves the old list in place. */
    assert_int_equal(config_set(cfg, "smtp_listen", "127.0.0.1:25,bad", &err), -1);
    free(err);
    check_value(cfg, "smtp_listen", "*:25");
    config_free(&cfg);
}

/* The generated configuration file parses back to the same values. */
/* certified_domains: domain names, lowercased; anything else refused. The
 * timers and the retention have their documented defaults. */
static void test_config_certified(void **state)
{
    (void)state;
    struct config *cfg = config_new_default();
    char *err = NULL;
    assert_int_equal(cfg->certified_domains.n, 0);
    check_value(cfg, "certified_warning_after", "12h");
    check_value(cfg, "certified_failure_after", "1d");
    check_value(cfg, "certified_log_retention", "30");
    check_value(cfg, "certified_dir", "keys/certify");
    assert_int_equal(config_set(cfg, "certified_domains", "A.Example, b-2.example", &err), 0);
    assert_int_equal(cfg->certified_domains.n, 2);
    assert_string_equal(cfg->certified_domains.items[0], "a.example");
    check_value(cfg, "certified_domains", "a.example, b-2.example");
    static const char *const bad[] = {"a..example", "a_b.example", ".example",
                                      "example.",   "a@example",   "a b.example"};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        assert_int_equal(config_set(cfg, "certified_domains", bad[i], &err), -1);
        free(err);
        err = NULL;
    }
    char label[70];
    memset(label, 'a', 64);
    label[64] = '\0';
    assert_int_equal(config_set(cfg, "certified_domains", label, &err), -1);
    free(err);
    err = NULL;
    label[63] = '\0';
    assert_int_equal(config_set(cfg, "certified_domains", label, &err), 0);
    assert_int_equal(config_set(cfg, "certified_log_retention", "0", &err), -1);
    free(err);
    err = NULL;
    assert_int_equal(config_set(cfg, "certified_warning_after", "5s", &err), 0);
    assert_int_equal(cfg->certified_warning_after, 5);
    config_free(&cfg);
}

static void test_config_write_file_round_trip(void **state)
{
    (void)state;
    struct config *cfg = config_new_default();
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    config_write_file(cfg, NULL, 0, &out);
    /* Every key appears, commented out with its default. */
    for (size_t i = 0; i < N_ELEMS(all_keys); i++) {
        char want[128];
        int n = snprintf(want, sizeof(want), "\n#%s = ", all_keys[i]);
        assert_true(n > 0 && (size_t)n < sizeof(want));
        if (!strstr(buf_cstr(&out), want))
            fail_msg("%s not in the file", all_keys[i]);
    }
    /* Doc comments are wrapped. */
    const char *line = buf_cstr(&out);
    while (*line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len > 80)
            fail_msg("line of %zu columns: %.*s", len, (int)len, line);
        line += len + (nl ? 1 : 0);
    }
    struct config *back;
    char *err;
    assert_int_equal(parse(buf_cstr(&out), out.len, &back, &err), 0);
    for (size_t i = 0; i < N_ELEMS(all_keys); i++) {
        char *a = config_value_text(cfg, all_keys[i]);
        check_value(back, all_keys[i], a);
        free(a);
    }
    config_free(&back);

    /* Set keys are written uncommented with their values. */
    static const struct {
        const char *key, *value;
    } set[] = {
        {"hostname", "mx.example.org"},     {"smtp_listen", "127.0.0.1:2525, [::1]:2525"},
        {"message_size_limit", "1536"},     {"smtpd_timeout", "90s"},
        {"relay_networks", "192.0.2.0/24"}, {"log_level", "debug"},
    };
    const char *keys[N_ELEMS(set)];
    for (size_t i = 0; i < N_ELEMS(set); i++) {
        assert_int_equal(config_set(cfg, set[i].key, set[i].value, &err), 0);
        keys[i] = set[i].key;
    }
    buf_reset(&out);
    config_write_file(cfg, keys, N_ELEMS(keys), &out);
    assert_non_null(strstr(buf_cstr(&out), "\nhostname = mx.example.org\n"));
    assert_non_null(strstr(buf_cstr(&out), "\n#smtpd_processes = 1\n"));
    assert_int_equal(parse(buf_cstr(&out), out.len, &back, &err), 0);
    for (size_t i = 0; i < N_ELEMS(set); i++)
        check_value(back, set[i].key, set[i].value);
    check_value(back, "smtpd_processes", "1");
    config_free(&back);
    buf_free(&out);
    config_free(&cfg);
}

static void test_config_reference(void **state)
{
    (void)state;
    struct buf ref;
    buf_init(&ref, BUF_UNLIMITED);
    config_write_reference(&ref);
    for (size_t i = 0; i < N_ELEMS(all_keys); i++) {
        char want[128];
        int n = snprintf(want, sizeof(want), "## `%s`\n", all_keys[i]);
        assert_true(n > 0 && (size_t)n < sizeof(want));
        if (!strstr(buf_cstr(&ref), want))
            fail_msg("%s not documented", all_keys[i]);
    }
    assert_non_null(strstr(buf_cstr(&ref), "## `message_size_limit`\n\n- type: size\n"
                                           "- default: `50M`\n"));
    assert_non_null(strstr(buf_cstr(&ref), "## `smtpd_processes`\n\n- type: number, 1 to 64\n"));
    assert_non_null(strstr(buf_cstr(&ref), "## `hostname`\n\n- type: text\n"
                                           "- default: `(empty)`\n"));
    /* The committed reference, once it exists, must match the table. */
    FILE *f = fopen("docs/configuration.md", "r");
    if (f) {
        struct buf file;
        buf_init(&file, BUF_UNLIMITED);
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
            assert_int_equal(buf_append(&file, chunk, n), 0);
        fclose(f);
        if (strcmp(buf_cstr(&file), buf_cstr(&ref)) != 0)
            fail_msg("docs/configuration.md differs from `postino config-reference`");
        buf_free(&file);
    }
    buf_free(&ref);
}

/* A scratch directory under /tmp for config_load. */
static char tmpdir[64];

static int setup_tmpdir(void **state)
{
    (void)state;
    int n = snprintf(tmpdir, sizeof(tmpdir), "/tmp/postino-test-config-XXXXXX");
    assert_true(n > 0 && (size_t)n < sizeof(tmpdir));
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmpdir(void **state)
{
    (void)state;
    char cmd[128];
    int n = snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (n < 0 || (size_t)n >= sizeof(cmd))
        return -1;
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_config_load(void **state)
{
    (void)state;
    char path[128], datadir[128];
    int n = snprintf(path, sizeof(path), "%s/postino.conf", tmpdir);
    assert_true(n > 0 && (size_t)n < sizeof(path));
    n = snprintf(datadir, sizeof(datadir), "%s/data", tmpdir);
    assert_true(n > 0 && (size_t)n < sizeof(datadir));
    assert_int_equal(mkdir(datadir, 0700), 0);

    /* A relative data_dir starts at the configuration file's directory. */
    const char *text = "# test\ndata_dir = data\nhostname = mx.example.org\n";
    write_file(path, text, strlen(text));
    char *err = NULL;
    struct config *cfg = config_load(path, &err);
    assert_non_null(cfg);
    assert_null(err);
    char *real = realpath(datadir, NULL);
    assert_non_null(real);
    assert_string_equal(cfg->data_dir, real);
    char *realconf = realpath(path, NULL);
    assert_string_equal(cfg->path, realconf);
    char *realtmp = realpath(tmpdir, NULL);
    assert_string_equal(cfg->config_dir, realtmp);
    assert_string_equal(cfg->hostname, "mx.example.org");
    char joined[256];
    assert_int_equal(config_data_path(cfg, "spool", joined, sizeof(joined)), 0);
    char want[256];
    n = snprintf(want, sizeof(want), "%s/spool", real);
    assert_true(n > 0 && (size_t)n < sizeof(want));
    assert_string_equal(joined, want);
    /* config_data_path fits exactly, or fails one octet short. */
    assert_int_equal(config_data_path(cfg, "spool", joined, strlen(want) + 1), 0);
    assert_string_equal(joined, want);
    assert_int_equal(config_data_path(cfg, "spool", joined, strlen(want)), -1);
    free(real);
    free(realconf);
    free(realtmp);
    config_free(&cfg);

    /* An empty hostname becomes the machine's name. */
    text = "data_dir = /srv/mail\n";
    write_file(path, text, strlen(text));
    cfg = config_load(path, &err);
    assert_non_null(cfg);
    char host[256];
    assert_int_equal(gethostname(host, sizeof(host)), 0);
    assert_string_equal(cfg->hostname, host);
    assert_string_equal(cfg->data_dir, "/srv/mail");
    config_free(&cfg);

    /* Errors name the file (and line). */
    text = "queue_retry_min = 2h\n";
    write_file(path, text, strlen(text));
    assert_null(config_load(path, &err));
    n = snprintf(want, sizeof(want), "%s: queue_retry_min is longer than queue_retry_max", path);
    assert_true(n > 0 && (size_t)n < sizeof(want));
    assert_string_equal(err, want);
    free(err);

    text = "hostname = a\nsmtpd_processes = 0\n";
    write_file(path, text, strlen(text));
    assert_null(config_load(path, &err));
    n = snprintf(want, sizeof(want), "%s:2: smtpd_processes must be between 1 and 64, not 0", path);
    assert_true(n > 0 && (size_t)n < sizeof(want));
    assert_string_equal(err, want);
    free(err);

    char missing[160];
    n = snprintf(missing, sizeof(missing), "%s/missing.conf", tmpdir);
    assert_true(n > 0 && (size_t)n < sizeof(missing));
    assert_null(config_load(missing, &err));
    n = snprintf(want, sizeof(want), "%s: %s", missing, strerror(ENOENT));
    assert_true(n > 0 && (size_t)n < sizeof(want));
    assert_string_equal(err, want);
    free(err);

    /* Files of up to 1 MiB are read; one octet more is refused. */
    for (size_t size = 1024 * 1024; size <= 1024 * 1024 + 1; size++) {
        char *big = malloc(size);
        assert_non_null(big);
        memset(big, '#', size);
        for (size_t k = 1000; k < size; k += 1000)
            big[k] = '\n';
        big[size - 1] = '\n';
        write_file(path, big, size);
        free(big);
        cfg = config_load(path, &err);
        if (size == 1024 * 1024) {
            assert_non_null(cfg);
            config_free(&cfg);
        } else {
            assert_null(cfg);
            n = snprintf(want, sizeof(want), "%s: file too large", path);
            assert_true(n > 0 && (size_t)n < sizeof(want));
            assert_string_equal(err, want);
            free(err);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_parse_text),
        cmocka_unit_test(test_config_bounds),
        cmocka_unit_test(test_config_parse_size_duration),
        cmocka_unit_test(test_config_file_limits),
        cmocka_unit_test(test_config_value_text_and_set),
        cmocka_unit_test(test_config_certified),
        cmocka_unit_test(test_config_write_file_round_trip),
        cmocka_unit_test(test_config_reference),
        cmocka_unit_test_setup_teardown(test_config_load, setup_tmpdir, teardown_tmpdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
