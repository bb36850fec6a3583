/* config: the one configuration file of postino.
 *
 * Every key is declared once, in the table in config.c, with its type,
 * default, bounds and one line of documentation; the file parser, `init
 * --set`, check-config and docs/configuration.md all come from that table.
 * The file holds "key = value" lines and full-line "#" comments; unknown
 * keys, repeated keys and bad values are errors naming the file and line. */
#ifndef POSTINO_CONFIG_H
#define POSTINO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "buf.h"

/* A comma-separated list value. */
struct config_list {
    size_t n;
    char **items;
};

struct config {
    char *path;       /* the file this came from (absolute) */
    char *config_dir; /* its directory: relative paths start here */

    char *hostname;
    char *data_dir; /* absolute after config_load() */
    int log_target; /* enum log_target */
    int log_level;  /* syslog priority */
    char *service_user;
    char *mail_user;

    struct config_list smtp_listen;
    struct config_list https_listen;
    char *share_web_dir;
    char *share_url;
    long long share_expiry_interval;
    long long share_max_failures;
    long long share_expires_default;
    long long share_expires_max;
    long long share_max_size;
    long long share_quota;
    char *share_domain_policy;
    bool share_external_senders;
    long long http_timeout;
    struct config_list submission_listen;
    struct config_list submissions_listen;
    struct config_list tls_certificates;
    bool smtp_starttls;
    bool smtp_auth;
    long long smtpd_processes;
    long long listen_backlog;
    long long message_size_limit;
    long long smtpd_recipient_limit;
    long long smtpd_max_connections;
    long long smtpd_max_connections_per_ip;
    long long smtpd_error_limit;
    long long smtpd_timeout;
    long long max_received_headers;
    long long max_subject_length;
    long long max_header_fields;
    long long max_header_size;
    long long mime_max_depth;
    long long mime_max_parts;
    long long quarantine_retention;
    long long rate_limit_messages;
    long long rate_limit_recipients;
    bool greylisting;
    long long greylist_delay;
    long long greylist_allow_time;
    char *clamd_socket;
    long long clamd_timeout;
    long long clamd_max_size;
    int clamd_unavailable; /* 0 tempfail, 1 accept */
    char *milters;
    int milter_default_action; /* 0 tempfail, 1 accept */
    long long milter_connect_timeout;
    long long milter_command_timeout;
    char *dnsbl_sites;
    long long dnsbl_threshold;
    long long dnsbl_cache_time;
    struct config_list dnsbl_allow_networks;
    char *dnsbl_allow_sender_domains;
    char *header_checks;
    char *mime_header_checks;
    char *body_checks;
    bool attachment_checks;
    char *attachment_extra_extensions;
    long long attachment_archive_depth;
    int attachment_encrypted;     /* enum attachment_action */
    int attachment_uninspectable; /* enum attachment_action */
    struct config_list relay_networks;
    struct config_list filter_return_networks;
    bool spf_check;
    bool spf_reject_fail;
    long long spf_timeout;
    bool dkim_verify;
    bool dmarc_reject;

    char *dns_resolver;
    char *relayhost;
    char *relayhost_auth_file;
    bool relayhost_require_tls;
    bool smtp_client_starttls;
    long long smtp_connect_timeout;
    long long smtp_greeting_timeout;
    long long smtp_mail_timeout;
    long long smtp_rcpt_timeout;
    long long smtp_data_init_timeout;
    long long smtp_data_block_timeout;
    long long smtp_data_done_timeout;
    long long smtp_max_connections;
    long long smtp_destination_concurrency;
    long long smtp_connection_reuse_time;
    bool soft_bounce;
    long long delay_warning_time;

    long long queue_retry_min;
    long long queue_retry_max;
    long long max_queue_lifetime;
    long long queue_scan_interval;
    int spool_sync; /* enum spool_sync_method */

    long long lockout_max_failures;
    long long lockout_failure_window;
    long long lockout_duration;
    long long auth_failure_delay;
    long long auth_failure_delay_max;
    long long auth_max_failures_per_connection;
    long long auth_ip_max_failures;

    struct config_list imap_listen;
    struct config_list imaps_listen;
    struct config_list pop3_listen;
    struct config_list pop3s_listen;
    struct config_list plaintext_login_networks;
    long long mail_max_connections;
    long long mail_max_connections_per_ip;
    long long imap_timeout;
    long long pop3_timeout;
    long long trash_retention_days;
    long long mail_quota;
    long long mail_quota_messages;

    struct config_list certified_domains;
    char *certified_dir;
    char *certified_trusted;
    long long certified_log_retention; /* months */
    long long certified_warning_after;
    long long certified_failure_after;

    long long password_argon2_memory;
    long long password_argon2_time;
    long long password_argon2_parallelism;
};

enum spool_sync_method {
    SPOOL_SYNC_FSYNC,
    SPOOL_SYNC_SYNCFS,
};

/* A config with every key at its default. Free with config_free(). */
struct config *config_new_default(void);
void config_free(struct config **cfg);

/* Read FILE into a fresh config. Returns NULL and a message naming file and
 * line in *error_r (caller frees) on any problem. */
struct config *config_load(const char *path, char **error_r);
/* Parse config text (for tests and the fuzzer); name is used in messages. */
int config_parse_text(struct config *cfg, const char *name, const char *text, size_t len,
                      char **error_r);

/* Set one key from its text form, checked like the file. Returns 0, or -1
 * with a message in *error_r (caller frees). */
int config_set(struct config *cfg, const char *key, const char *value, char **error_r);
/* True if key names a configuration key. */
bool config_key_exists(const char *key);

/* Write a complete, commented configuration file: keys named in set_keys
 * (n_set of them) with the values of cfg, every other key commented out
 * with its default. */
void config_write_file(const struct config *cfg, const char *const *set_keys, size_t n_set,
                       struct buf *out);
/* The text form of key's current value in cfg (caller frees). */
char *config_value_text(const struct config *cfg, const char *key);
/* The reference documentation (markdown) of every key. */
void config_write_reference(struct buf *out);

/* Join cfg->data_dir and rel into out. */
int config_data_path(const struct config *cfg, const char *rel, char *out, size_t outsize);

/* Value parsers shared with other modules. Each returns 0 or -1. */
int config_parse_size(const char *s, long long *out);     /* 10, 10K, 10M, 10G */
int config_parse_duration(const char *s, long long *out); /* 30s, 5m, 1h, 5d */

#endif
