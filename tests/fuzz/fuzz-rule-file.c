/* Fuzz target: a rule file (header_checks, body_checks) through the
 * parser, and, when it parses, a few header lines and the input itself
 * through the table. Besides not crashing or leaking, an error must name
 * the file, and a match must give a bounded one-line text. */
#include <stdbool.h>

#include "fuzz-util.h"
#include "policy/rules.h"

static const char *const subjects[] = {
    "Subject: hello world",
    "Content-Type: multipart/report; report-type=delivery-status",
    "Received: from mail.example.com (mail.example.com [192.0.2.1])\n\tby mx.example.org",
    "From: \"Someone\" <someone@example.com>",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
    "",
};

static void check_match(const struct rule_table *t, const char *subject, size_t len)
{
    struct rule_match m;
    int rc = rule_table_match(t, subject, len, &m);
    CHECK(rc >= -1 && rc <= 1);
    CHECK(m.file == rule_table_name(t));
    if (rc == -1) {
        CHECK(m.error[0] != '\0');
        CHECK(m.line >= 1);
        return;
    }
    if (rc == 0)
        return;
    CHECK(m.line >= 1);
    CHECK(m.text_len <= RULE_TEXT_MAX);
    CHECK(strlen(m.text) == m.text_len);
    for (size_t i = 0; i < m.text_len; i++) {
        unsigned char c = (unsigned char)m.text[i];
        CHECK((c >= 32 && c != 127) || c == '\t');
    }
    CHECK(m.code[0] == '\0' || (m.action == RULE_REJECT && m.code[0] == '5' && m.code[1] == '.'));
    CHECK(strcmp(rule_action_name(m.action), "?") != 0);
    if (m.action == RULE_IGNORE || m.action == RULE_DUNNO || m.action == RULE_OK)
        CHECK(m.text_len == 0);
    if (m.action == RULE_PREPEND || m.action == RULE_REDIRECT || m.action == RULE_FILTER)
        CHECK(m.text_len > 0 && !m.truncated);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy(data, size);
    char *error = NULL;
    struct rule_table *t = rule_table_parse("fuzz", text, size, &error);
    if (t == NULL) {
        CHECK(error != NULL);
        CHECK(strncmp(error, "fuzz:", 5) == 0);
        free(error);
        free(text);
        return 0;
    }
    CHECK(error == NULL);
    CHECK(rule_table_count(t) <= RULE_COUNT_MAX);
    for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
        size_t n = strlen(subjects[i]);
        char *s = fuzz_copy(subjects[i], n);
        check_match(t, s, n);
        free(s);
    }
    check_match(t, text, size);
    rule_table_free(&t);
    CHECK(t == NULL);
    free(text);
    return 0;
}
