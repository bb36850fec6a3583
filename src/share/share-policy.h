/* share-policy: the share portal's per-domain policy, the setting
 * share_domain_policy:
 *
 *   entry [, entry ...]
 *   entry  = DOMAIN [option ...]           options separated by white space
 *   option = senders=all|none|ADDR[|ADDR...]   who of the domain may send
 *          | max_size=SIZE                 a transfer's files together (K, M, G)
 *          | expires_max=DAYS              the longest a transfer stays
 *          | modes=MODE[|MODE...]          generated, manual, link, e2e
 *          | external=yes|no               verified outside senders may send
 *                                          to this domain's users
 *
 * A domain without an entry, and an option not given, take the global
 * settings: every user may send, share_max_size, share_expires_max, every
 * mode, share_external_senders. An entry may tighten or loosen them,
 * except that max_size and expires_max never pass the global maximums.
 *
 * Pure: no I/O; the parsed policy holds a copy of the text. */
#ifndef POSTINO_SHARE_POLICY_H
#define POSTINO_SHARE_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/config.h"
#include "share/share-store.h"

#define SHARE_POLICY_DOMAINS_MAX 64
#define SHARE_POLICY_TEXT_MAX    16384

struct share_domain_rule {
    const char *domain;          /* lower case */
    const char *senders;         /* NULL: all; "": none; else "a@x|b@x" (lower case) */
    unsigned long long max_size; /* 0: not given */
    long expires_max;            /* 0: not given */
    unsigned modes;              /* 1 << enum share_password_mode; 0: not given */
    int external;                /* -1 not given, 0 no, 1 yes */
};

struct share_policy {
    char *text; /* the copy the rules point into */
    struct share_domain_rule r[SHARE_POLICY_DOMAINS_MAX];
    size_t n;
};

/* What one sender may do. */
struct share_limits {
    bool may_send;
    unsigned long long max_size;
    long expires_max;
    unsigned modes; /* 1 << enum share_password_mode */
};

/* Parse len bytes of text. An empty setting gives no rules. Returns 0, or
 * -1 with a message quoting the entry and the reason in *error_r (caller
 * frees); *out then holds none. Free with share_policy_free. */
int share_policy_parse(const char *text, size_t len, struct share_policy *out, char **error_r);
void share_policy_free(struct share_policy *p);

/* The limits of a sender: a user of this server (external false), or an
 * outside sender who proved the address (external true: the limits of the
 * global settings; whom they may send to is share_policy_external_ok). */
void share_policy_limits(const struct share_policy *p, const struct config *cfg, const char *sender,
                         bool external, struct share_limits *out);

/* Whether verified outside senders may send to users of domain. */
bool share_policy_external_ok(const struct share_policy *p, const struct config *cfg,
                              const char *domain);

/* Whether any domain lets outside senders in (the feature is on). */
bool share_policy_external_any(const struct share_policy *p, const struct config *cfg);

#endif
