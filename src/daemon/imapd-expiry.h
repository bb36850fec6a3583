/* imapd-expiry: the daily expiry of Trash and Junk, run by imapd (the mail
 * user, who can open every account under DATA_DIR/mail/DOMAIN/USER).
 *
 * The first run comes IMAPD_EXPIRY_FIRST_DELAY seconds after the start,
 * the next ones every IMAPD_EXPIRY_INTERVAL seconds. The environment
 * variable POSTINO_TRASH_EXPIRY_INTERVAL (seconds, 1 to
 * IMAPD_EXPIRY_INTERVAL_MAX) replaces the interval, and the first delay
 * when it is shorter: for tests. A run lists the accounts (directories
 * holding a cur/) and expires one account per turn of the event loop, so
 * that sessions are served in between; each account is given to
 * store_account_expire() with the retention of the moment (the hook, so
 * that a reloaded configuration counts), and nothing happens for a
 * retention of 0 days. One log line per account that lost messages:
 *
 *   imap: expire: account=<bob@example.test> expunged=3 days=30
 */
#ifndef POSTINO_IMAPD_EXPIRY_H
#define POSTINO_IMAPD_EXPIRY_H

#include <stddef.h>

struct event_base;

#define IMAPD_EXPIRY_FIRST_DELAY  300      /* seconds after the start */
#define IMAPD_EXPIRY_INTERVAL     86400    /* seconds between runs */
#define IMAPD_EXPIRY_INTERVAL_MAX 31536000 /* the longest interval the variable may set */
#define IMAPD_EXPIRY_ACCOUNTS_MAX 1000000  /* accounts looked at in one run */
#define IMAPD_EXPIRY_ENV          "POSTINO_TRASH_EXPIRY_INTERVAL"

struct imapd_expiry_hooks {
    /* The retention in days (trash_retention_days), asked at each run. */
    unsigned (*retention_days)(void *arg);
    /* The account at root lost messages: its sessions should sync. */
    void (*expunged)(const char *root, void *arg);
    void *arg;
};

/* The interval for the variable's value (NULL or empty: unset): the
 * default IMAPD_EXPIRY_INTERVAL, or the value when it is a decimal number
 * of 1..IMAPD_EXPIRY_INTERVAL_MAX. -1 for any other value. */
long long imapd_expiry_interval(const char *value);

struct imapd_expiry;

/* Start the timer on base for the accounts under mail_dir (copied); hooks
 * is copied. Reads POSTINO_TRASH_EXPIRY_INTERVAL (a bad value is logged
 * and the default used). Never NULL. */
struct imapd_expiry *imapd_expiry_start(struct event_base *base, const char *mail_dir,
                                        const struct imapd_expiry_hooks *hooks);
/* Stop it (a run in progress ends) and set *ep to NULL. */
void imapd_expiry_stop(struct imapd_expiry **ep);

#endif
