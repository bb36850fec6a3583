/* Fuzz target: a message through the content policy as smtpd runs it:
 * its header fields one by one through header_checks, then the whole
 * message (MIME walk, MIME header and body rules, attachments decoded and
 * inspected, archives included). Besides not crashing, leaking or
 * hanging: the verdict is one of the actions, a refusal has a 5xx code and
 * a one-line text, what the rules prepend are header lines, and a FILTER
 * next hop is one the queue can use. */
#include <stdbool.h>

#include "fuzz-util.h"
#include "mime/mime-header.h"
#include "policy/policy.h"

static const char header_rules[] = "/^Subject:.*(spam)/ REJECT 5.7.1 spam: $1\n"
                                   "/^X-Hold:/ HOLD\n"
                                   "/^X-Quarantine:/ QUARANTINE q\n"
                                   "/^X-Drop:/ IGNORE\n"
                                   "/^X-Tag: (\\w+)/ PREPEND X-Tagged: $1\n"
                                   "/^Content-Type: multipart\\/report/ DISCARD\n"
                                   "/^X-Warn/ WARN w\n"
                                   "/^X-Filter: (\\S+)/ FILTER smtp:$1\n"
                                   "/^X-Redirect:/ REDIRECT r@example.org\n"
                                   "if /^Content-Disposition:/\n"
                                   "/filename=\"?secret/ REJECT no\n"
                                   "endif\n";
static const char body_rules[] = "/cheap watches/ REJECT\n"
                                 "/(a+)+$/ WARN backtracking\n"
                                 "/^--/ DUNNO\n";

static struct rule_table *header_table, *body_table;
static struct attachment_policy attachments;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char *err = NULL;
    header_table = rule_table_parse("header_checks", header_rules, sizeof(header_rules) - 1, &err);
    body_table = rule_table_parse("body_checks", body_rules, sizeof(body_rules) - 1, &err);
    CHECK(header_table && body_table);
    attachments = attachment_policy_defaults();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *msg = fuzz_copy(data, size);
    struct policy_config pc = {.mime_max_depth = 20,
                               .mime_max_parts = 1000,
                               .header_checks = header_table,
                               .body_checks = body_table,
                               .attachments = &attachments};
    struct policy_verdict v;
    policy_verdict_init(&v);
    size_t pos = 0;
    struct mime_field f;
    struct buf insert;
    buf_init(&insert, 64 * 1024);
    while (mime_header_next(msg, size, &pos, &f) == 1) {
        buf_reset(&insert);
        policy_header_field(&pc, msg + f.off, f.len, &v, &insert);
        if (insert.len)
            CHECK(insert.len >= 2 && insert.data[insert.len - 1] == '\n');
    }
    buf_free(&insert);
    policy_check_message(&pc, msg, size, &v);
    CHECK(v.action >= POLICY_ACCEPT && v.action <= POLICY_REJECT);
    if (v.action == POLICY_REJECT) {
        CHECK(v.code >= 500 && v.code <= 599);
        CHECK(v.text[0] != '\0');
        CHECK(strchr(v.text, '\n') == NULL && strchr(v.text, '\r') == NULL);
    }
    CHECK(v.prepend.len == 0 || v.prepend.data[v.prepend.len - 1] == '\n');
    /* a filter is a next hop the queue can use, and never beside a REDIRECT */
    const char *why;
    CHECK(v.filter[0] == '\0' || (policy_filter_check(v.filter, &why) == 0 && !v.redirect[0]));
    policy_verdict_free(&v);
    free(msg);
    return 0;
}
