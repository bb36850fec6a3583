/* Fuzz target: the configuration file parser.
 *
 * The input is a configuration file parsed into a fresh default config.
 * Failures must come with a message naming the file and line. When it
 * parses, the configuration written back as a file (every key set) must
 * parse again to the same values: what postino writes, postino reads. */
#include <stdbool.h>

#include "fuzz-util.h"
#include "lib/buf.h"
#include "lib/config.h"

static const char *const keys[] = {
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
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy(data, size);
    struct config *cfg = config_new_default();
    char *err = NULL;
    int r = config_parse_text(cfg, "fuzz.conf", text, size, &err);
    free(text);
    if (r < 0) {
        CHECK(err != NULL);
        CHECK(strncmp(err, "fuzz.conf:", 10) == 0);
        free(err);
        config_free(&cfg);
        return 0;
    }
    CHECK(err == NULL);

    struct buf file;
    buf_init(&file, BUF_UNLIMITED);
    config_write_file(cfg, keys, N_KEYS, &file);
    struct config *again = config_new_default();
    if (config_parse_text(again, "written.conf", buf_cstr(&file), file.len, &err) < 0) {
        fprintf(stderr, "the written configuration does not parse: %s\n", err);
        abort();
    }
    for (size_t i = 0; i < N_KEYS; i++) {
        CHECK(config_key_exists(keys[i]));
        char *a = config_value_text(cfg, keys[i]);
        char *b = config_value_text(again, keys[i]);
        CHECK(a != NULL && b != NULL);
        if (strcmp(a, b) != 0) {
            fprintf(stderr, "%s: '%s' was written and read back as '%s'\n", keys[i], a, b);
            abort();
        }
        /* Setting a value from its own text form is accepted. */
        CHECK(config_set(again, keys[i], a, &err) == 0);
        free(a);
        free(b);
    }
    buf_free(&file);
    config_free(&again);
    config_free(&cfg);
    return 0;
}
