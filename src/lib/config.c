#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "str.h"
#include "xalloc.h"

enum config_type {
    CT_STRING,
    CT_PATH,
    CT_INT,
    CT_SIZE,
    CT_DURATION,
    CT_ENUM,
    CT_LISTEN_LIST,
    CT_CIDR_LIST,
    CT_CERT_LIST,
    CT_DOMAIN_LIST,
    CT_BOOL,
};

struct config_enum {
    const char *name;
    int value;
};

struct config_key_def {
    const char *name;
    enum config_type type;
    const char *def; /* text form of the default */
    long long min, max;
    size_t offset;
    const struct config_enum *enums; /* CT_ENUM: terminated by name NULL */
    const char *doc;
};

static const struct config_enum log_target_enum[] = {
    {"stderr", LOG_TARGET_STDERR}, {"syslog", LOG_TARGET_SYSLOG}, {NULL, 0}};
static const struct config_enum log_level_enum[] = {
    {"debug", LOG_DEBUG},     {"info", LOG_INFO}, {"notice", LOG_NOTICE},
    {"warning", LOG_WARNING}, {"error", LOG_ERR}, {NULL, 0}};
static const struct config_enum attachment_action_enum[] = {
    {"reject", 1}, {"quarantine", 2}, {"accept", 0}, {NULL, 0}};
static const struct config_enum clamd_unavailable_enum[] = {
    {"tempfail", 0}, {"accept", 1}, {NULL, 0}};
static const struct config_enum spool_sync_enum[] = {
    {"fsync", SPOOL_SYNC_FSYNC}, {"syncfs", SPOOL_SYNC_SYNCFS}, {NULL, 0}};

#define OFF(field) offsetof(struct config, field)
#define KIB        1024LL
#define MIB        (1024LL * 1024)
#define GIB        (1024LL * 1024 * 1024)
#define MINUTE     60LL
#define HOUR       3600LL
#define DAY        86400LL

/* Every configuration key. Keep the doc lines short and exact: they are
 * the reference documentation. */
static const struct config_key_def config_keys[] = {
    {"hostname", CT_STRING, "", 0, 255, OFF(hostname), NULL,
     "Name of this mail server in the SMTP greeting, EHLO reply and Received: headers. "
     "Empty means the machine's host name."},
    {"data_dir", CT_PATH, ".", 0, 0, OFF(data_dir), NULL,
     "Directory holding state/, spool/, mail/ and run/. A relative path starts at the "
     "directory of the configuration file."},
    {"log_target", CT_ENUM, "stderr", 0, 0, OFF(log_target), log_target_enum,
     "Where log lines go: `stderr` (foreground) or `syslog` (facility mail)."},
    {"log_level", CT_ENUM, "info", 0, 0, OFF(log_level), log_level_enum,
     "Least important lines that are logged: debug, info, notice, warning or error."},
    {"service_user", CT_STRING, "postino", 1, 32, OFF(service_user), NULL,
     "When started as root: the unprivileged user of smtpd and the queue manager. "
     "Ignored when started as another user."},
    {"mail_user", CT_STRING, "vmail", 1, 32, OFF(mail_user), NULL,
     "When started as root: the user that owns the mailboxes under mail/ (local "
     "delivery). Ignored when started as another user."},

    {"smtp_listen", CT_LISTEN_LIST, "*:25", 0, 0, OFF(smtp_listen), NULL,
     "Addresses of the SMTP service (port 25), comma-separated HOST:PORT; `*:25` means "
     "every address, `[::1]:25` an IPv6 one. Empty disables the service."},
    {"submission_listen", CT_LISTEN_LIST, "*:587", 0, 0, OFF(submission_listen), NULL,
     "Addresses of the submission service (port 587) where users send mail after STARTTLS "
     "and AUTH. Empty disables it."},
    {"submissions_listen", CT_LISTEN_LIST, "*:465", 0, 0, OFF(submissions_listen), NULL,
     "Addresses of the submission service with implicit TLS (port 465, RFC 8314). Empty "
     "disables it."},
    {"smtpd_processes", CT_INT, "1", 1, 64, OFF(smtpd_processes), NULL,
     "Number of smtpd processes sharing the SMTP ports (SO_REUSEPORT)."},
    {"listen_backlog", CT_INT, "4096", 16, 65535, OFF(listen_backlog), NULL,
     "Length of the kernel's queue of connections not yet accepted (capped by "
     "net.core.somaxconn). Clients that reconnect in bursts need a long one."},
    {"message_size_limit", CT_SIZE, "50M", 1 * KIB, 2 * GIB, OFF(message_size_limit), NULL,
     "Largest message accepted, in bytes (suffixes K, M, G); advertised with SIZE and "
     "enforced during DATA and BDAT with `552 5.3.4`."},
    {"smtpd_recipient_limit", CT_INT, "1000", 100, 100000, OFF(smtpd_recipient_limit), NULL,
     "Most recipients in one message (RFC 5321 requires at least 100); further RCPT "
     "commands get `452 4.5.3`."},
    {"smtpd_max_connections", CT_INT, "1000", 1, 1000000, OFF(smtpd_max_connections), NULL,
     "Most SMTP connections at once per smtpd process; more are told `421 4.7.0` and "
     "closed."},
    {"smtpd_max_connections_per_ip", CT_INT, "50", 1, 1000000, OFF(smtpd_max_connections_per_ip),
     NULL, "Most SMTP connections at once from one client IP address per smtpd process."},
    {"smtpd_error_limit", CT_INT, "10", 1, 1000, OFF(smtpd_error_limit), NULL,
     "Errors (4xx/5xx replies) a client may cause in one session before it is "
     "disconnected with `421 4.7.0`."},
    {"smtpd_timeout", CT_DURATION, "5m", 1, 1 * HOUR, OFF(smtpd_timeout), NULL,
     "How long the server waits for the next command or the next piece of data "
     "(RFC 5321 section 4.5.3.2 asks for 5 minutes); then `421 4.4.2`."},
    {"max_received_headers", CT_INT, "100", 10, 1000, OFF(max_received_headers), NULL,
     "A message with more Received: headers than this is looping and is refused with "
     "`554 5.4.6`."},
    {"max_subject_length", CT_INT, "998", 0, 1000000, OFF(max_subject_length), NULL,
     "Longest Subject a message may have, in octets of its value unfolded (the line breaks of "
     "its continuation lines removed); a longer one is refused at the end of DATA with "
     "`554 5.6.0`. 0: no limit. RFC 5322 lets no line exceed 998 octets; a Subject longer than "
     "that is, in practice, spam."},
    {"max_header_fields", CT_INT, "1000", 0, 1000000, OFF(max_header_fields), NULL,
     "Most header fields a message may have (Received: fields are also limited by "
     "max_received_headers); more are refused with `554 5.6.0`. 0: no limit."},
    {"max_header_size", CT_SIZE, "1M", 0, 1 * GIB, OFF(max_header_size), NULL,
     "Largest header section a message may have, in octets (suffixes K, M, G); a larger one is "
     "refused with `552 5.3.4`. 0: no limit."},
    {"mime_max_depth", CT_INT, "20", 0, 100, OFF(mime_max_depth), NULL,
     "Deepest nesting of MIME parts (multiparts and attached messages) a message may have; a "
     "deeper one is refused at the end of DATA with `554 5.6.0`. 0: no limit."},
    {"mime_max_parts", CT_INT, "1000", 0, 10000, OFF(mime_max_parts), NULL,
     "Most MIME parts a message may have, itself included; more are refused with "
     "`554 5.6.0`. 0: no limit."},
    {"header_checks", CT_PATH, "", 0, 4096, OFF(header_checks), NULL,
     "Rule file for the header fields of each message, in the format of Postfix's pcre tables: "
     "`/regex/flags ACTION text` per line (REJECT, DISCARD, HOLD, QUARANTINE, WARN, PREPEND, "
     "REDIRECT, IGNORE, DUNNO, OK; see docs/content-policy.md). A relative path starts at "
     "data_dir. Empty: none. A bad rule stops the server with the file and line."},
    {"mime_header_checks", CT_PATH, "", 0, 4096, OFF(mime_header_checks), NULL,
     "Rule file for the header fields of the MIME parts (attachments). Empty: header_checks "
     "applies to them too, as in Postfix."},
    {"body_checks", CT_PATH, "", 0, 4096, OFF(body_checks), NULL,
     "Rule file for each body line of each MIME part, as sent (no transfer decoding). Empty: "
     "none."},
    {"attachment_checks", CT_BOOL, "yes", 0, 0, OFF(attachment_checks), NULL,
     "Refuse messages with dangerous attachments with `554 5.7.1` naming the file: executables "
     "and scripts by name (exe, scr, com, pif, bat, cmd, js, jse, vbs, vbe, wsf, hta, jar, lnk, "
     "iso, img, macro-enabled Office files; double extensions such as invoice.pdf.exe) and by "
     "their content whatever their name, also inside zip, rar, 7z, tar and gzip archives."},
    {"attachment_extra_extensions", CT_STRING, "", 0, 2000, OFF(attachment_extra_extensions), NULL,
     "More file name extensions to refuse, comma-separated (`msi, ps1`)."},
    {"attachment_archive_depth", CT_INT, "3", 0, 8, OFF(attachment_archive_depth), NULL,
     "Archives inside archives are opened this deep; a deeper one is refused."},
    {"attachment_encrypted", CT_ENUM, "reject", 0, 0, OFF(attachment_encrypted),
     attachment_action_enum,
     "What becomes of a message with an encrypted archive, which cannot be looked into: "
     "`reject`, `quarantine` or `accept`."},
    {"attachment_uninspectable", CT_ENUM, "reject", 0, 0, OFF(attachment_uninspectable),
     attachment_action_enum,
     "What becomes of a message with an archive too large or too damaged to look into in full: "
     "`reject`, `quarantine` or `accept`."},
    {"dnsbl_sites", CT_STRING, "", 0, 8192, OFF(dnsbl_sites), NULL,
     "DNS block and allow lists asked about each client of the SMTP service (port 25, not "
     "logged in, not from relay_networks), in the syntax of Postfix's postscreen_dnsbl_sites: "
     "`domain[=filter][*weight]`, comma-separated (`zen.spamhaus.org*2, "
     "bl.example=127.0.0.[2..11], list.dnswl.org=127.0.[0..255].[1..3]*-2`; a negative weight is "
     "an allow list). The client's recipients are refused with `554 5.7.1` naming the list when "
     "the weights of the lists that name it add up to dnsbl_threshold. Answers in "
     "127.255.255.0/24 (the list refuses the query) are ignored; a DNS failure counts 0. Empty: "
     "none."},
    {"dnsbl_threshold", CT_INT, "1", -1000, 1000, OFF(dnsbl_threshold), NULL,
     "The score at which dnsbl_sites refuse a client."},
    {"dnsbl_cache_time", CT_DURATION, "5m", 0, 1 * DAY, OFF(dnsbl_cache_time), NULL,
     "Longest time an answer of a list is kept: each is kept for its DNS TTL, at most this (0: "
     "not kept)."},
    {"dnsbl_allow_networks", CT_CIDR_LIST, "", 0, 0, OFF(dnsbl_allow_networks), NULL,
     "Client networks never asked about (comma-separated CIDR)."},
    {"dnsbl_allow_sender_domains", CT_STRING, "", 0, 4096, OFF(dnsbl_allow_sender_domains), NULL,
     "Sender domains (MAIL FROM) whose mail is never refused by dnsbl_sites, comma-separated. The "
     "sender is not proven: list only domains that protect their name with SPF, which is "
     "checked."},
    {"clamd_socket", CT_STRING, "", 0, 256, OFF(clamd_socket), NULL,
     "clamd (ClamAV) to scan every message with before the final reply to DATA: the path of "
     "its Unix socket, or HOST:PORT (numeric). An infected message is refused with `554 5.7.1` "
     "naming the signature. Empty: no virus scan."},
    {"clamd_timeout", CT_DURATION, "30s", 1, 10 * MINUTE, OFF(clamd_timeout), NULL,
     "How long a scan may take, from connect to verdict."},
    {"clamd_max_size", CT_SIZE, "25M", 1 * KIB, 2 * GIB, OFF(clamd_max_size), NULL,
     "Larger messages are not sent to clamd (keep it at most clamd's StreamMaxLength); they are "
     "accepted with an `X-Postino-Virus-Scan: not scanned (too large)` field."},
    {"clamd_unavailable", CT_ENUM, "tempfail", 0, 0, OFF(clamd_unavailable), clamd_unavailable_enum,
     "When clamd cannot be reached or fails: `tempfail` (`451 4.7.1`, the client tries again) or "
     "`accept` (with an `X-Postino-Virus-Scan: not scanned (scanner unavailable)` field)."},
    {"milters", CT_STRING, "", 0, 4096, OFF(milters), NULL,
     "Mail filters (the Sendmail milter protocol, version 6: rspamd, OpenDKIM, OpenDMARC, "
     "...) every SMTP session talks to, in order, comma-separated: `ADDRESS [default=accept|"
     "tempfail] [connect_timeout=D] [command_timeout=D]`, where ADDRESS is a Unix socket path "
     "or a numeric `HOST:PORT` (`/run/rspamd/milter.sock, 127.0.0.1:8891 default=accept`). "
     "They see the client, HELO, MAIL, each RCPT and the message, and may refuse any of them, "
     "discard or quarantine the message, change its header fields, body and recipients; all "
     "before the final reply to DATA. Empty: none."},
    {"milter_default_action", CT_ENUM, "tempfail", 0, 0, OFF(milter_default_action),
     clamd_unavailable_enum,
     "What a session does when a milter cannot be reached, times out or breaks the protocol, "
     "unless its entry in `milters` says: `tempfail` (`451 4.7.1` to the step and to every "
     "later MAIL of the session) or `accept` (go on without it)."},
    {"milter_connect_timeout", CT_DURATION, "10s", 1, 10 * MINUTE, OFF(milter_connect_timeout),
     NULL, "How long a milter may take to accept the connection and negotiate."},
    {"milter_command_timeout", CT_DURATION, "30s", 1, 10 * MINUTE, OFF(milter_command_timeout),
     NULL,
     "How long a milter may take to answer one command (each piece of the body counts as "
     "one)."},
    {"rate_limit_messages", CT_INT, "0", 0, 1000000000, OFF(rate_limit_messages), NULL,
     "Most messages accepted in an hour from one authenticated user, or from one client address "
     "when not logged in; more get `450 4.7.1` at MAIL (the client tries again later). 0: no "
     "limit. Counted across every smtpd process (state/policy.db)."},
    {"rate_limit_recipients", CT_INT, "0", 0, 1000000000, OFF(rate_limit_recipients), NULL,
     "Most recipients in an hour, counted the same way; more get `450 4.7.1` at RCPT. 0: no "
     "limit."},
    {"greylisting", CT_BOOL, "no", 0, 0, OFF(greylisting), NULL,
     "Greylisting of mail from the outside (port 25, not logged in, not from relay_networks): "
     "the first message of a (client /24 network, sender, recipient) triplet gets `450 4.7.1`; "
     "real servers retry and pass after greylist_delay, and their network passes at once for "
     "greylist_allow_time. Costs legitimate mail a delay: off by default."},
    {"greylist_delay", CT_DURATION, "5m", 0, 1 * DAY, OFF(greylist_delay), NULL,
     "How long a new triplet is deferred."},
    {"greylist_allow_time", CT_DURATION, "35d", 1 * HOUR, 365 * DAY, OFF(greylist_allow_time), NULL,
     "How long a network that retried correctly passes without greylisting."},
    {"quarantine_retention", CT_DURATION, "30d", 1 * HOUR, 3650 * DAY, OFF(quarantine_retention),
     NULL,
     "How long a message the content policy quarantined is kept (`postino quarantine list`) "
     "before it is removed; checked at each queue scan."},
    {"relay_networks", CT_CIDR_LIST, "", 0, 0, OFF(relay_networks), NULL,
     "Client networks (comma-separated CIDR) allowed to send to any domain without "
     "authentication. Empty (the default) means no client may relay."},
    {"filter_return_networks", CT_CIDR_LIST, "127.0.0.0/8, ::1/128", 0, 0,
     OFF(filter_return_networks), NULL,
     "Client networks (comma-separated CIDR) whose messages the FILTER action of the content "
     "rules leaves alone: where the content filter hands its mail back from, so that mail "
     "is not sent to the filter again. Empty: every message is filtered."},

    {"tls_certificates", CT_CERT_LIST, "tls/cert.pem:tls/key.pem", 0, 0, OFF(tls_certificates),
     NULL,
     "Certificates and private keys, comma-separated CERTFILE:KEYFILE pairs (PEM; a "
     "certificate file may hold its chain). The first is used unless the client asks (SNI) "
     "for a name another one's certificate covers. Relative paths start at data_dir. "
     "SIGHUP reloads them without dropping connections."},
    {"smtp_starttls", CT_BOOL, "yes", 0, 0, OFF(smtp_starttls), NULL,
     "Offer STARTTLS on the SMTP port (25). Submission always offers it."},
    {"smtp_auth", CT_BOOL, "no", 0, 0, OFF(smtp_auth), NULL,
     "Offer AUTH on the SMTP port (25) too, after STARTTLS. Submission always does."},

    {"lockout_max_failures", CT_INT, "10", 1, 1000, OFF(lockout_max_failures), NULL,
     "Failed logins of one account within lockout_failure_window that lock it. While "
     "locked, even the right password gets the reply of a wrong one."},
    {"lockout_failure_window", CT_DURATION, "1h", 1, 30 * DAY, OFF(lockout_failure_window), NULL,
     "Period over which failed logins (of an account, and from an address) add up."},
    {"lockout_duration", CT_DURATION, "1h", 0, 365 * DAY, OFF(lockout_duration), NULL,
     "How long a locked account stays locked; 0 means until `postino user unlock`."},
    {"auth_failure_delay", CT_DURATION, "1s", 0, 60, OFF(auth_failure_delay), NULL,
     "Delay of the reply to a client address's first failed login; it doubles with each "
     "further failure from that address (successes are never delayed)."},
    {"auth_failure_delay_max", CT_DURATION, "15s", 0, 300, OFF(auth_failure_delay_max), NULL,
     "Longest delay of a reply to a failed login."},
    {"auth_max_failures_per_connection", CT_INT, "3", 1, 100, OFF(auth_max_failures_per_connection),
     NULL, "Failed logins after which the connection is closed."},
    {"auth_ip_max_failures", CT_INT, "5", 1, 10000, OFF(auth_ip_max_failures), NULL,
     "Failed logins from one client address (IPv6: one /64) within lockout_failure_window "
     "after which its further attempts are refused without being checked, so that one "
     "address cannot lock an account out."},

    {"spf_check", CT_BOOL, "yes", 0, 0, OFF(spf_check), NULL,
     "Check the sender's SPF record (RFC 7208) for mail that arrives on the SMTP port from "
     "clients that are neither logged in nor in relay_networks, and record the result in a "
     "Received-SPF header."},
    {"spf_reject_fail", CT_BOOL, "no", 0, 0, OFF(spf_reject_fail), NULL,
     "Refuse the recipients of mail whose SPF result is fail (the sender's domain says the "
     "client may not send its mail) with `550 5.7.23`."},
    {"spf_timeout", CT_DURATION, "20s", 1, 300, OFF(spf_timeout), NULL,
     "Longest time an SPF check may take with its DNS lookups; a slower one is a temperror. "
     "DKIM and DMARC lookups have the same limit."},
    {"dkim_verify", CT_BOOL, "yes", 0, 0, OFF(dkim_verify), NULL,
     "Verify the DKIM signatures (RFC 6376) of mail from the outside and evaluate the "
     "sender domain's DMARC policy (RFC 7489); a message with no From: field, or with several, "
     "is refused with `550 5.7.1`."},
    {"dmarc_reject", CT_BOOL, "yes", 0, 0, OFF(dmarc_reject), NULL,
     "Refuse at the end of DATA, with `550 5.7.1`, mail that fails DMARC where the domain "
     "asks for p=reject (never a bounce: the sending server tells its user)."},

    {"dns_resolver", CT_STRING, "", 0, 64, OFF(dns_resolver), NULL,
     "Send every DNS query (outbound delivery, SPF, and later DKIM, DNSBL) to this server, "
     "IP[:PORT], instead of the system's resolvers."},
    {"relayhost", CT_STRING, "", 0, 300, OFF(relayhost), NULL,
     "Send all outbound mail through this host (the provider's smarthost): [HOST]:PORT "
     "(no MX lookup) or HOST (its MX). Empty: deliver to each domain's MX."},
    {"relayhost_auth_file", CT_PATH, "", 0, 4096, OFF(relayhost_auth_file), NULL,
     "File holding USERNAME:PASSWORD for AUTH at the relayhost (keep it readable only by "
     "service_user). Empty: no AUTH."},
    {"relayhost_require_tls", CT_BOOL, "yes", 0, 0, OFF(relayhost_require_tls), NULL,
     "Deliver to the relayhost only over TLS (STARTTLS); never send credentials without "
     "it."},
    {"smtp_client_starttls", CT_BOOL, "yes", 0, 0, OFF(smtp_client_starttls), NULL,
     "Use STARTTLS when delivering to servers that offer it (opportunistic TLS; the outcome "
     "is recorded per attempt)."},
    {"smtp_connect_timeout", CT_DURATION, "30s", 1, 1 * HOUR, OFF(smtp_connect_timeout), NULL,
     "How long to wait for a connection to a remote server."},
    {"smtp_greeting_timeout", CT_DURATION, "5m", 1, 1 * HOUR, OFF(smtp_greeting_timeout), NULL,
     "Wait for the remote's greeting (RFC 5321 4.5.3.2: 5 min); also for EHLO, STARTTLS, "
     "AUTH, RSET and QUIT."},
    {"smtp_mail_timeout", CT_DURATION, "5m", 1, 1 * HOUR, OFF(smtp_mail_timeout), NULL,
     "Wait for the reply to MAIL (RFC 5321: 5 min)."},
    {"smtp_rcpt_timeout", CT_DURATION, "5m", 1, 1 * HOUR, OFF(smtp_rcpt_timeout), NULL,
     "Wait for the reply to RCPT (RFC 5321: 5 min)."},
    {"smtp_data_init_timeout", CT_DURATION, "2m", 1, 1 * HOUR, OFF(smtp_data_init_timeout), NULL,
     "Wait for the reply to DATA (RFC 5321: 2 min)."},
    {"smtp_data_block_timeout", CT_DURATION, "3m", 1, 1 * HOUR, OFF(smtp_data_block_timeout), NULL,
     "Longest wait while sending the message (RFC 5321: 3 min per block)."},
    {"smtp_data_done_timeout", CT_DURATION, "10m", 1, 1 * HOUR, OFF(smtp_data_done_timeout), NULL,
     "Wait for the reply to the final dot (RFC 5321: 10 min)."},
    {"smtp_max_connections", CT_INT, "100", 1, 10000, OFF(smtp_max_connections), NULL,
     "Most outbound connections at once."},
    {"smtp_destination_concurrency", CT_INT, "10", 1, 1000, OFF(smtp_destination_concurrency), NULL,
     "Most outbound connections at once to one destination (domain or next hop)."},
    {"smtp_connection_reuse_time", CT_DURATION, "5s", 0, 300, OFF(smtp_connection_reuse_time), NULL,
     "How long an outbound connection waits for more mail to the same destination before "
     "QUIT (0: one message per connection)."},
    {"soft_bounce", CT_BOOL, "no", 0, 0, OFF(soft_bounce), NULL,
     "Turn every permanent delivery failure into a temporary one (while a blacklisting or a "
     "broken route is fixed): nothing is bounced."},
    {"delay_warning_time", CT_DURATION, "4h", 0, 100 * DAY, OFF(delay_warning_time), NULL,
     "Tell the sender when a message has waited this long (a delay DSN; 0: never)."},

    {"queue_retry_min", CT_DURATION, "5m", 1, 1 * DAY, OFF(queue_retry_min), NULL,
     "Delay before the first retry of a delivery that failed temporarily; it doubles "
     "at every attempt."},
    {"queue_retry_max", CT_DURATION, "1h", 1, 1 * DAY, OFF(queue_retry_max), NULL,
     "Longest delay between two attempts of one delivery."},
    {"max_queue_lifetime", CT_DURATION, "5d", 1, 100 * DAY, OFF(max_queue_lifetime), NULL,
     "A message still undelivered after this long is returned to its sender."},
    {"queue_scan_interval", CT_DURATION, "5m", 1, 1 * DAY, OFF(queue_scan_interval), NULL,
     "How often the queue manager rescans the whole spool for work it was not told "
     "about (a safety net; new messages are seen at once)."},
    {"spool_sync", CT_ENUM, "fsync", 0, 0, OFF(spool_sync), spool_sync_enum,
     "How a batch of spool and mailbox files is made durable before it is "
     "acknowledged: `fsync` (each file and directory) or `syncfs` (one flush of the "
     "whole file system per batch)."},

    {"imap_listen", CT_LISTEN_LIST, "*:143", 0, 0, OFF(imap_listen), NULL,
     "Addresses of the IMAP service (port 143): STARTTLS, and no login before it "
     "(LOGINDISABLED). Empty disables it."},
    {"imaps_listen", CT_LISTEN_LIST, "*:993", 0, 0, OFF(imaps_listen), NULL,
     "Addresses of the IMAP service with implicit TLS (port 993). Empty disables it."},
    {"pop3_listen", CT_LISTEN_LIST, "*:110", 0, 0, OFF(pop3_listen), NULL,
     "Addresses of the POP3 service (port 110): STLS, and no login before it. Empty "
     "disables it."},
    {"pop3s_listen", CT_LISTEN_LIST, "*:995", 0, 0, OFF(pop3s_listen), NULL,
     "Addresses of the POP3 service with implicit TLS (port 995). Empty disables it."},
    {"https_listen", CT_LISTEN_LIST, "", 0, 0, OFF(https_listen), NULL,
     "Addresses of the share portal (HTTPS, implicit TLS; port 443), served by the httpd "
     "process with the certificates of tls_certificates. Empty (the default): no portal."},
    {"share_web_dir", CT_STRING, "", 0, 4096, OFF(share_web_dir), NULL,
     "The directory of the portal's web pages (HTML, CSS, JavaScript). Empty: the web/ "
     "directory postino was built with."},
    {"share_url", CT_STRING, "", 0, 1024, OFF(share_url), NULL,
     "The portal's address in the links mailed to recipients (https://share.example.org). "
     "Empty: https:// and the hostname."},
    {"share_max_failures", CT_INT, "5", 1, 100, OFF(share_max_failures), NULL,
     "Wrong passwords a recipient may give before the transfer is locked for them (the sender "
     "is told, and may unlock)."},
    {"share_expires_default", CT_INT, "14", 1, 3650, OFF(share_expires_default), NULL,
     "Days a transfer stays available unless the sender says otherwise."},
    {"share_expires_max", CT_INT, "90", 1, 3650, OFF(share_expires_max), NULL,
     "The most days a sender may ask a transfer to stay."},
    {"share_max_size", CT_SIZE, "2G", 1 * KIB, 1024 * GIB, OFF(share_max_size), NULL,
     "The most octets the files of one transfer may hold together (plaintext)."},
    {"share_quota", CT_SIZE, "50G", 1 * MIB, 1024 * 1024 * GIB, OFF(share_quota), NULL,
     "The most octets all transfers may hold together on disk; a new transfer that would pass "
     "it is refused (413), as is one that would leave the disk under 1 GiB free."},
    {"share_domain_policy", CT_STRING, "", 0, 16384, OFF(share_domain_policy), NULL,
     "The share portal's policy per domain, comma-separated entries `DOMAIN [senders=all|none|"
     "ADDR|ADDR...] [max_size=SIZE] [expires_max=DAYS] [modes=generated|manual|link|e2e] "
     "[external=yes|no]` (`example.org senders=ann@example.org|bob@example.org max_size=500M "
     "modes=generated|e2e`). A domain without an entry, and an option not given, follow the "
     "global settings; max_size and expires_max never pass share_max_size and "
     "share_expires_max."},
    {"share_external_senders", CT_BOOL, "no", 0, 0, OFF(share_external_senders), NULL,
     "Whether people without an account may send transfers to this server's users after "
     "proving their address with a code mailed to it (per domain: external= in "
     "share_domain_policy)."},
    {"share_expiry_interval", CT_DURATION, "1m", 1, 1 * HOUR, OFF(share_expiry_interval), NULL,
     "How often the portal removes the transfers past their expiry (their files, and their "
     "rows; the access log stays)."},
    {"http_timeout", CT_DURATION, "2m", 10, 1 * HOUR, OFF(http_timeout), NULL,
     "Seconds of silence allowed on a connection to the share portal."},
    {"plaintext_login_networks", CT_CIDR_LIST, "", 0, 0, OFF(plaintext_login_networks), NULL,
     "Client networks (comma-separated CIDR) that may log in to IMAP and POP3 without TLS, "
     "such as a webmail on the same machine. Empty (the default): nobody; passwords only "
     "travel encrypted."},
    {"mail_max_connections", CT_INT, "10000", 1, 1000000, OFF(mail_max_connections), NULL,
     "Most IMAP connections at once in the imapd process, and most POP3 connections in the "
     "pop3d process; more are told so (`* BYE`, `-ERR [SYS/TEMP]`) and closed."},
    {"mail_max_connections_per_ip", CT_INT, "100", 1, 1000000, OFF(mail_max_connections_per_ip),
     NULL, "Most IMAP (and, apart, POP3) connections at once from one client IP address."},
    {"imap_timeout", CT_DURATION, "30m", 60, 1 * DAY, OFF(imap_timeout), NULL,
     "How long an IMAP client may stay silent (also in IDLE) before it is logged out; RFC "
     "3501 5.4 asks for at least 30 minutes once logged in. Before login the limit is 1 "
     "minute."},
    {"pop3_timeout", CT_DURATION, "10m", 60, 1 * DAY, OFF(pop3_timeout), NULL,
     "How long a POP3 client may stay silent before it is disconnected (RFC 1939: at "
     "least 10 minutes)."},
    {"mail_quota", CT_SIZE, "0", 0, 1024 * GIB, OFF(mail_quota), NULL,
     "Default quota of a mailbox in bytes (suffixes K, M, G; 0: none); `postino user quota` "
     "sets another for one account. Delivery past it is deferred with `452 4.2.2` (retried, "
     "never lost), APPEND refused with `NO [OVERQUOTA]`."},
    {"mail_quota_messages", CT_INT, "0", 0, 1000000000, OFF(mail_quota_messages), NULL,
     "Default limit on the number of messages in a mailbox (0: none)."},
    {"trash_retention_days", CT_INT, "30", 0, 100000, OFF(trash_retention_days), NULL,
     "Messages older than this many days are expunged from Trash and Junk once a day; 0 "
     "keeps them forever."},

    {"certified_domains", CT_DOMAIN_LIST, "", 0, 0, OFF(certified_domains), NULL,
     "Our domains whose users send and receive certified mail (signed receipts of acceptance, "
     "taking in charge and delivery; docs/certify.md), comma-separated. Each needs a signing "
     "certificate and key in certified_dir (`postino certify keygen DOMAIN`). Empty (the "
     "default): no certified mail."},
    {"certified_dir", CT_PATH, "keys/certify", 0, 4096, OFF(certified_dir), NULL,
     "Directory of the certification services' signing certificates and keys, "
     "DOMAIN.crt and DOMAIN.key (PEM) for each of certified_domains. A relative path starts "
     "at data_dir."},
    {"certified_trusted", CT_PATH, "", 0, 4096, OFF(certified_trusted), NULL,
     "PEM file of the certificates of the peer certification services whose receipts and "
     "envelopes are trusted (our own in certified_dir always are). A relative path starts at "
     "data_dir. Empty: only our own."},
    {"certified_log_retention", CT_INT, "30", 1, 1200, OFF(certified_log_retention), NULL,
     "Months the records of the certified-mail evidence log are kept; older ones are pruned, "
     "leaving a checkpoint so the rest of the chain still verifies."},
    {"certified_warning_after", CT_DURATION, "12h", 1, 30 * DAY, OFF(certified_warning_after), NULL,
     "Time after the transport envelope left without a delivery receipt for a recipient, after "
     "which the sender is warned that delivery is not yet confirmed."},
    {"certified_failure_after", CT_DURATION, "24h", 1, 30 * DAY, OFF(certified_failure_after), NULL,
     "Time after the transport envelope left without a delivery receipt for a recipient, after "
     "which the sender gets the final non-delivery notice for that recipient."},

    {"password_argon2_memory", CT_SIZE, "64M", 8 * KIB, 4 * GIB, OFF(password_argon2_memory), NULL,
     "Memory cost of each argon2id password hash, in bytes (suffixes K, M, G)."},
    {"password_argon2_time", CT_INT, "3", 1, 100, OFF(password_argon2_time), NULL,
     "Number of argon2id passes over that memory."},
    {"password_argon2_parallelism", CT_INT, "1", 1, 16, OFF(password_argon2_parallelism), NULL,
     "Number of argon2id lanes (threads)."},
};

#define N_KEYS          (sizeof(config_keys) / sizeof(config_keys[0]))
#define CONFIG_LINE_MAX 4096 /* octets of one line of the file */

static const struct config_key_def *config_key_find(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(config_keys[i].name, name) == 0)
            return &config_keys[i];
    return NULL;
}

bool config_key_exists(const char *key)
{
    return config_key_find(key) != NULL;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return buf_steal(&b);
}

static void *field(struct config *cfg, const struct config_key_def *k)
{
    return (char *)cfg + k->offset;
}

static const void *cfield(const struct config *cfg, const struct config_key_def *k)
{
    return (const char *)cfg + k->offset;
}

static void list_free(struct config_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    x_free(&l->items);
    l->n = 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* True if s is a domain name: dot-separated labels of letters, digits and
 * hyphens, 253 octets at most. */
static bool domain_name_ok(const char *s)
{
    size_t n = strlen(s), label = 0;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label > 0;
}

/* Split a comma-separated list, checking each item with the key's type. */
static int parse_list(const struct config_key_def *k, const char *value, struct config_list *out,
                      char **error_r)
{
    memset(out, 0, sizeof(*out));
    char *copy = xstrdup(value);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *item = trim(tok);
        if (*item == '\0')
            continue;
        if (k->type == CT_LISTEN_LIST) {
            struct net_listen_addr a;
            const char *why;
            if (net_parse_listen(item, &a, &why) < 0) {
                *error_r = xasprintf("'%s': %s", item, why);
                goto fail;
            }
        } else if (k->type == CT_DOMAIN_LIST) {
            if (!domain_name_ok(item)) {
                *error_r = xasprintf("'%s' is not a domain name", item);
                goto fail;
            }
            str_lower(item);
        } else if (k->type == CT_CERT_LIST) {
            const char *colon = strchr(item, ':');
            if (!colon || colon == item || colon[1] == '\0' || strchr(colon + 1, ':')) {
                *error_r = xasprintf("'%s' is not CERTFILE:KEYFILE", item);
                goto fail;
            }
        } else {
            struct net_cidr c;
            if (net_parse_cidr(item, &c) < 0) {
                *error_r = xasprintf("'%s' is not an IP network like 192.0.2.0/24", item);
                goto fail;
            }
        }
        out->items = xrealloc(out->items, (out->n + 1) * sizeof(char *));
        out->items[out->n++] = xstrdup(item);
    }
    free(copy);
    return 0;
fail:
    free(copy);
    list_free(out);
    return -1;
}

int config_parse_size(const char *s, long long *out)
{
    size_t n = strlen(s);
    long long mult = 1;
    if (n > 0) {
        switch (s[n - 1]) {
        case 'k':
        case 'K':
            mult = KIB;
            n--;
            break;
        case 'm':
        case 'M':
            mult = MIB;
            n--;
            break;
        case 'g':
        case 'G':
            mult = GIB;
            n--;
            break;
        default:
            break;
        }
    }
    unsigned long long v;
    if (str_to_u64(s, n, (unsigned long long)LLONG_MAX / (unsigned long long)mult, &v) < 0)
        return -1;
    *out = (long long)v * mult;
    return 0;
}

int config_parse_duration(const char *s, long long *out)
{
    size_t n = strlen(s);
    long long mult = 1;
    if (n > 0) {
        switch (s[n - 1]) {
        case 's':
            mult = 1;
            n--;
            break;
        case 'm':
            mult = MINUTE;
            n--;
            break;
        case 'h':
            mult = HOUR;
            n--;
            break;
        case 'd':
            mult = DAY;
            n--;
            break;
        default:
            break;
        }
    }
    unsigned long long v;
    if (str_to_u64(s, n, (unsigned long long)LLONG_MAX / (unsigned long long)mult, &v) < 0)
        return -1;
    *out = (long long)v * mult;
    return 0;
}

/* Octets of "key = value" as config_write_file() writes a list. */
static size_t list_line_len(const struct config_key_def *k, const struct config_list *l)
{
    size_t n = strlen(k->name) + 3;
    for (size_t i = 0; i < l->n; i++)
        n += strlen(l->items[i]) + (i ? 2 : 0);
    return n;
}

static int set_key(struct config *cfg, const struct config_key_def *k, const char *value,
                   char **error_r)
{
    long long v = 0;
    /* Whatever is set must fit in one line of the file when written. */
    if (strlen(k->name) + 3 + strlen(value) > CONFIG_LINE_MAX) {
        *error_r = xasprintf("%s: value too long", k->name);
        return -1;
    }
    switch (k->type) {
    case CT_STRING:
    case CT_PATH: {
        size_t len = strlen(value);
        if ((long long)len < k->min || (k->max && (long long)len > k->max)) {
            *error_r =
                xasprintf("%s must be %lld to %lld characters long", k->name, k->min, k->max);
            return -1;
        }
        for (const char *p = value; *p; p++) {
            if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                *error_r = xasprintf("%s contains a control character", k->name);
                return -1;
            }
        }
        char **s = field(cfg, k);
        free(*s);
        *s = xstrdup(value);
        return 0;
    }
    case CT_INT: {
        unsigned long long u;
        if (str_to_u64(value, strlen(value), (unsigned long long)LLONG_MAX, &u) < 0) {
            *error_r = xasprintf("%s needs a whole number, not '%s'", k->name, value);
            return -1;
        }
        v = (long long)u;
        break;
    }
    case CT_SIZE:
        if (config_parse_size(value, &v) < 0) {
            *error_r =
                xasprintf("%s needs a size like 10M (K, M, G suffixes), not '%s'", k->name, value);
            return -1;
        }
        break;
    case CT_DURATION:
        if (config_parse_duration(value, &v) < 0) {
            *error_r =
                xasprintf("%s needs a duration like 30s, 5m, 1h or 5d, not '%s'", k->name, value);
            return -1;
        }
        break;
    case CT_ENUM:
        for (const struct config_enum *e = k->enums; e->name; e++) {
            if (strcmp(e->name, value) == 0) {
                *(int *)field(cfg, k) = e->value;
                return 0;
            }
        }
        {
            struct buf b;
            buf_init(&b, BUF_UNLIMITED);
            buf_printf(&b, "%s must be one of", k->name);
            for (const struct config_enum *e = k->enums; e->name; e++)
                buf_printf(&b, " %s", e->name);
            buf_printf(&b, ", not '%s'", value);
            *error_r = buf_steal(&b);
        }
        return -1;
    case CT_BOOL:
        if (strcmp(value, "yes") == 0 || strcmp(value, "no") == 0) {
            *(bool *)field(cfg, k) = value[0] == 'y';
            return 0;
        }
        *error_r = xasprintf("%s must be yes or no, not '%s'", k->name, value);
        return -1;
    case CT_LISTEN_LIST:
    case CT_CIDR_LIST:
    case CT_CERT_LIST:
    case CT_DOMAIN_LIST: {
        struct config_list l;
        char *why = NULL;
        if (parse_list(k, value, &l, &why) < 0) {
            *error_r = xasprintf("%s: %s", k->name, why);
            free(why);
            return -1;
        }
        if (list_line_len(k, &l) > CONFIG_LINE_MAX) {
            list_free(&l);
            *error_r = xasprintf("%s: list too long", k->name);
            return -1;
        }
        struct config_list *dst = field(cfg, k);
        list_free(dst);
        *dst = l;
        return 0;
    }
    }
    if (v < k->min || v > k->max) {
        *error_r =
            xasprintf("%s must be between %lld and %lld, not %lld", k->name, k->min, k->max, v);
        return -1;
    }
    *(long long *)field(cfg, k) = v;
    return 0;
}

int config_set(struct config *cfg, const char *key, const char *value, char **error_r)
{
    const struct config_key_def *k = config_key_find(key);
    if (!k) {
        *error_r = xasprintf("unknown key '%s'", key);
        return -1;
    }
    return set_key(cfg, k, value, error_r);
}

struct config *config_new_default(void)
{
    struct config *cfg = xcalloc(1, sizeof(*cfg));
    for (size_t i = 0; i < N_KEYS; i++) {
        char *err = NULL;
        if (set_key(cfg, &config_keys[i], config_keys[i].def, &err) < 0)
            panic("default of %s: %s", config_keys[i].name, err);
    }
    return cfg;
}

void config_free(struct config **cfgp)
{
    struct config *cfg = *cfgp;
    if (!cfg)
        return;
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct config_key_def *k = &config_keys[i];
        if (k->type == CT_STRING || k->type == CT_PATH)
            x_free((char **)field(cfg, k));
        else if (k->type == CT_LISTEN_LIST || k->type == CT_CIDR_LIST || k->type == CT_CERT_LIST ||
                 k->type == CT_DOMAIN_LIST)
            list_free(field(cfg, k));
    }
    free(cfg->path);
    free(cfg->config_dir);
    x_free(cfgp);
}

int config_parse_text(struct config *cfg, const char *name, const char *text, size_t len,
                      char **error_r)
{
    bool seen[N_KEYS];
    memset(seen, 0, sizeof(seen));
    size_t lineno = 0;
    size_t pos = 0;
    while (pos < len) {
        lineno++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - (text + pos)) : len - pos;
        if (memchr(text + pos, '\0', llen)) {
            *error_r = xasprintf("%s:%zu: NUL byte in the file", name, lineno);
            return -1;
        }
        if (llen > CONFIG_LINE_MAX) {
            *error_r = xasprintf("%s:%zu: line too long", name, lineno);
            return -1;
        }
        char *line = xstrndup(text + pos, llen);
        pos += llen + (nl ? 1 : 0);
        char *s = trim(line);
        if (*s == '\0' || *s == '#') {
            free(line);
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            *error_r = xasprintf("%s:%zu: expected 'key = value'", name, lineno);
            free(line);
            return -1;
        }
        *eq = '\0';
        char *key = trim(s);
        char *value = trim(eq + 1);
        const struct config_key_def *k = config_key_find(key);
        if (!k) {
            char shown[128];
            str_printable(shown, sizeof(shown), key, strlen(key));
            *error_r = xasprintf("%s:%zu: unknown key '%s'", name, lineno, shown);
            free(line);
            return -1;
        }
        size_t idx = (size_t)(k - config_keys);
        if (seen[idx]) {
            *error_r = xasprintf("%s:%zu: %s is set twice", name, lineno, key);
            free(line);
            return -1;
        }
        seen[idx] = true;
        char *why = NULL;
        if (set_key(cfg, k, value, &why) < 0) {
            *error_r = xasprintf("%s:%zu: %s", name, lineno, why);
            free(why);
            free(line);
            return -1;
        }
        free(line);
    }
    return 0;
}

/* Make cfg->data_dir absolute, relative to the config file's directory. */
static void resolve_paths(struct config *cfg)
{
    if (cfg->data_dir[0] == '/')
        return;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_printf(&b, "%s/%s", cfg->config_dir, cfg->data_dir);
    char *abs = realpath(buf_cstr(&b), NULL);
    free(cfg->data_dir);
    cfg->data_dir = abs ? abs : buf_steal(&b);
    buf_free(&b);
}

struct config *config_load(const char *path, char **error_r)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        *error_r = xasprintf("%s: %s", path, strerror(errno));
        return NULL;
    }
    struct buf text;
    buf_init(&text, 1024 * 1024);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (buf_append(&text, chunk, n) < 0) {
            *error_r = xasprintf("%s: file too large", path);
            fclose(f);
            buf_free(&text);
            return NULL;
        }
    }
    bool failed = ferror(f);
    fclose(f);
    if (failed) {
        *error_r = xasprintf("%s: read error", path);
        buf_free(&text);
        return NULL;
    }
    struct config *cfg = config_new_default();
    char *abs = realpath(path, NULL);
    cfg->path = abs ? abs : xstrdup(path);
    const char *slash = strrchr(cfg->path, '/');
    cfg->config_dir =
        slash ? xstrndup(cfg->path, slash == cfg->path ? 1 : (size_t)(slash - cfg->path))
              : xstrdup(".");
    if (config_parse_text(cfg, path, buf_cstr(&text), text.len, error_r) < 0) {
        buf_free(&text);
        config_free(&cfg);
        return NULL;
    }
    buf_free(&text);
    if (cfg->queue_retry_min > cfg->queue_retry_max) {
        *error_r = xasprintf("%s: queue_retry_min is longer than queue_retry_max", path);
        config_free(&cfg);
        return NULL;
    }
    resolve_paths(cfg);
    if (cfg->hostname[0] == '\0') {
        char host[256];
        if (gethostname(host, sizeof(host)) < 0)
            str_copy(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        free(cfg->hostname);
        cfg->hostname = xstrdup(host);
    }
    return cfg;
}

static void value_text(const struct config *cfg, const struct config_key_def *k, struct buf *out)
{
    switch (k->type) {
    case CT_STRING:
    case CT_PATH:
        buf_append_str(out, *(char *const *)cfield(cfg, k));
        break;
    case CT_INT:
    case CT_DURATION:
    case CT_SIZE: {
        long long v = *(const long long *)cfield(cfg, k);
        if (k->type == CT_DURATION) {
            if (v % DAY == 0)
                buf_printf(out, "%lldd", v / DAY);
            else if (v % HOUR == 0)
                buf_printf(out, "%lldh", v / HOUR);
            else if (v % MINUTE == 0)
                buf_printf(out, "%lldm", v / MINUTE);
            else
                buf_printf(out, "%llds", v);
        } else if (k->type == CT_SIZE && v != 0) {
            if (v % GIB == 0)
                buf_printf(out, "%lldG", v / GIB);
            else if (v % MIB == 0)
                buf_printf(out, "%lldM", v / MIB);
            else if (v % KIB == 0)
                buf_printf(out, "%lldK", v / KIB);
            else
                buf_printf(out, "%lld", v);
        } else {
            buf_printf(out, "%lld", v);
        }
        break;
    }
    case CT_ENUM: {
        int v = *(const int *)cfield(cfg, k);
        for (const struct config_enum *e = k->enums; e->name; e++)
            if (e->value == v)
                buf_append_str(out, e->name);
        break;
    }
    case CT_BOOL:
        buf_append_str(out, *(const bool *)cfield(cfg, k) ? "yes" : "no");
        break;
    case CT_LISTEN_LIST:
    case CT_CIDR_LIST:
    case CT_CERT_LIST:
    case CT_DOMAIN_LIST: {
        const struct config_list *l = cfield(cfg, k);
        for (size_t i = 0; i < l->n; i++)
            buf_printf(out, "%s%s", i ? ", " : "", l->items[i]);
        break;
    }
    }
}

char *config_value_text(const struct config *cfg, const char *key)
{
    const struct config_key_def *k = config_key_find(key);
    if (!k)
        return NULL;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    value_text(cfg, k, &b);
    return buf_steal(&b);
}

/* Wrap doc text as "# " comment lines of at most ~76 columns. */
static void write_comment(struct buf *out, const char *text)
{
    size_t col = 0;
    const char *p = text;
    buf_append_str(out, "#");
    while (*p) {
        const char *sp = strchr(p, ' ');
        size_t wlen = sp ? (size_t)(sp - p) : strlen(p);
        if (col > 0 && col + wlen + 1 > 76) {
            buf_append_str(out, "\n#");
            col = 0;
        }
        buf_append_char(out, ' ');
        buf_append(out, p, wlen);
        col += wlen + 1;
        p += wlen;
        while (*p == ' ')
            p++;
    }
    buf_append_char(out, '\n');
}

void config_write_file(const struct config *cfg, const char *const *set_keys, size_t n_set,
                       struct buf *out)
{
    buf_append_str(out,
                   "# postino configuration. Every key is listed with its documentation;\n"
                   "# commented-out keys have their default value. Reference:\n"
                   "# docs/configuration.md. Check with: postino check-config --config FILE\n");
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct config_key_def *k = &config_keys[i];
        bool set = false;
        for (size_t j = 0; j < n_set; j++)
            if (strcmp(set_keys[j], k->name) == 0)
                set = true;
        buf_append_char(out, '\n');
        write_comment(out, k->doc);
        if (set) {
            buf_printf(out, "%s = ", k->name);
            value_text(cfg, k, out);
        } else {
            buf_printf(out, "#%s = %s", k->name, k->def);
        }
        buf_append_char(out, '\n');
    }
}

static const char *type_name(const struct config_key_def *k)
{
    switch (k->type) {
    case CT_STRING:
        return "text";
    case CT_PATH:
        return "path";
    case CT_INT:
        return "number";
    case CT_SIZE:
        return "size";
    case CT_DURATION:
        return "duration";
    case CT_ENUM:
        return "one of a list";
    case CT_LISTEN_LIST:
        return "list of HOST:PORT";
    case CT_CIDR_LIST:
        return "list of networks";
    case CT_CERT_LIST:
        return "list of CERTFILE:KEYFILE";
    case CT_DOMAIN_LIST:
        return "list of domains";
    case CT_BOOL:
        return "yes or no";
    }
    return "?";
}

void config_write_reference(struct buf *out)
{
    buf_append_str(out, "# postino configuration reference\n\n"
                        "<!-- Generated by `postino config-reference` from the table in "
                        "src/lib/config.c; a unit test checks that this file matches it. -->\n\n"
                        "The configuration is one file of `key = value` lines; a line starting "
                        "with `#` is a comment. Unknown keys, keys set twice and bad values are "
                        "errors that name the file and line. `postino check-config --config FILE` "
                        "checks a file without starting anything; `postino init --set KEY=VALUE` "
                        "sets any key in a new configuration, checked the same way.\n\n"
                        "Sizes take the suffixes K, M and G (powers of 1024); durations the "
                        "suffixes s, m, h and d (a bare number is seconds); lists are "
                        "comma-separated.\n\n");
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct config_key_def *k = &config_keys[i];
        buf_printf(out, "## `%s`\n\n", k->name);
        buf_printf(out, "- type: %s", type_name(k));
        if (k->type == CT_ENUM) {
            buf_append_str(out, " (");
            for (const struct config_enum *e = k->enums; e->name; e++)
                buf_printf(out, "%s`%s`", e == k->enums ? "" : ", ", e->name);
            buf_append_str(out, ")");
        }
        if (k->type == CT_INT)
            buf_printf(out, ", %lld to %lld", k->min, k->max);
        buf_printf(out, "\n- default: `%s`\n\n%s\n\n", k->def[0] ? k->def : "(empty)", k->doc);
    }
}

int config_data_path(const struct config *cfg, const char *rel, char *out, size_t outsize)
{
    int n = snprintf(out, outsize, "%s/%s", cfg->data_dir, rel);
    return (n < 0 || (size_t)n >= outsize) ? -1 : 0;
}
