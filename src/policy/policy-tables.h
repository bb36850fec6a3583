/* policy-tables: the content policy as the configuration describes it:
 * the rule files (header_checks, mime_header_checks, body_checks) loaded
 * and the attachment policy built from the attachment_* keys. Used by
 * smtpd at start and by `postino check-config`. */
#ifndef POSTINO_POLICY_TABLES_H
#define POSTINO_POLICY_TABLES_H

#include "lib/config.h"
#include "policy/milter-list.h"
#include "policy/policy.h"

/* Extensions added by attachment_extra_extensions, at most. */
#define POLICY_EXTRA_EXTENSIONS_MAX 64

struct policy_tables {
    struct policy_config config; /* points into the fields below */
    struct rule_table *header_checks, *mime_header_checks, *body_checks;
    struct attachment_policy attachments;
    const char **extensions; /* the default list and the extra ones */
    char *extra;             /* the extra ones' storage */
    struct milter_list milters;
};

/* Load everything cfg names into *t (and check the syntax of dnsbl_sites
 * and clamd_socket; parse milters).
 * 0, or -1 with a message naming the key, file and line in *error_r
 * (caller frees; *t is then empty). */
int policy_tables_load(const struct config *cfg, struct policy_tables *t, char **error_r);
void policy_tables_free(struct policy_tables *t);

#endif
