/* milter-list: the `milters` setting, the mail filters every SMTP session
 * talks to, in order:
 *
 *   entry [, entry ...]
 *   entry = ADDRESS [option ...]        options separated by white space
 *   option = default=accept|tempfail    when the milter fails or is down
 *          | connect_timeout=DURATION   to connect and negotiate
 *          | command_timeout=DURATION   to answer one command
 *
 * ADDRESS is a Unix socket path ("/run/rspamd/milter.sock") or a numeric
 * "HOST:PORT" / "[V6]:PORT" (milter_address_check). An option not given
 * takes the value of milter_default_action, milter_connect_timeout or
 * milter_command_timeout. DURATION is "30s", "2m" ... or seconds.
 *
 * Pure: no I/O; no allocation but the error message. */
#ifndef POSTINO_POLICY_MILTER_LIST_H
#define POSTINO_POLICY_MILTER_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/milter.h"

#define MILTER_LIST_MAX         8                  /* milters in the setting */
#define MILTER_LIST_SETTING_MAX 4096               /* bytes of the setting */
#define MILTER_LIST_TIMEOUT_MAX (10u * 60u * 1000) /* ms: 10 minutes */

struct milter_spec {
    char address[MILTER_ADDRESS_TEXT_MAX + 1];
    bool default_accept; /* on failure: accept (true) or tempfail */
    unsigned connect_timeout_ms;
    unsigned command_timeout_ms;
};

struct milter_list {
    struct milter_spec m[MILTER_LIST_MAX];
    size_t n;
};

/* The values of options an entry does not give. */
struct milter_list_defaults {
    bool default_accept;
    unsigned connect_timeout_ms;
    unsigned command_timeout_ms;
};

/* Parse len bytes of text (need not be terminated) into *out. An empty
 * setting gives no milters. Returns 0, or -1 with a message quoting the
 * entry (made printable) and the reason in *error_r (caller frees); *out
 * then holds none. */
int milter_list_parse(const char *text, size_t len, const struct milter_list_defaults *defaults,
                      struct milter_list *out, char **error_r);

#endif
