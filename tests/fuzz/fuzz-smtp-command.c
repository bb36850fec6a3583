/* Fuzz target: one SMTP command line through every command parser.
 *
 * The input is a command line without its CRLF. It is split into verb and
 * arguments, and the arguments (and, for good measure, the whole line) go
 * through the MAIL, RCPT, BDAT and HELO parsers whatever the verb. Besides
 * not crashing, every accepted result must satisfy the limits, and every
 * accepted address must parse back to itself from its envelope form. */
#include <stdbool.h>

#include "fuzz-util.h"
#include "lib/str.h"
#include "smtp/smtp-address.h"
#include "smtp/smtp-command.h"

/* A reply string must look like "5xx x.y.z text". */
static void check_reply(const char *reply)
{
    CHECK(reply != NULL);
    CHECK(strlen(reply) > 10);
    CHECK(reply[0] == '5' && reply[1] >= '0' && reply[1] <= '5' && reply[2] >= '0' &&
          reply[2] <= '9' && reply[3] == ' ' && reply[4] == '5' && reply[5] == '.');
}

/* An accepted path: within limits, and its envelope form is a mailbox
 * that parses to the same thing. */
static void check_path(const struct smtp_path *p)
{
    CHECK(strlen(p->mailbox) <= SMTP_PATH_MAX - 2);
    CHECK(strlen(p->local) <= SMTP_LOCAL_MAX);
    CHECK(strlen(p->domain) <= SMTP_DOMAIN_MAX);
    if (p->null) {
        CHECK(p->mailbox[0] == '\0');
        return;
    }
    if (p->postmaster) {
        CHECK(strcmp(p->mailbox, "postmaster") == 0);
        return;
    }
    size_t n = strlen(p->mailbox);
    if (!p->utf8)
        CHECK(str_is_ascii(p->mailbox, n));
    CHECK(str_utf8_valid(p->mailbox, n));
    char *copy = fuzz_copy(p->mailbox, n);
    struct smtp_path again;
    CHECK(smtp_mailbox_parse(copy, n, &again) == SMTP_PATH_OK);
    free(copy);
    CHECK(strcmp(again.mailbox, p->mailbox) == 0);
    CHECK(strcmp(again.local, p->local) == 0);
    CHECK(strcmp(again.domain, p->domain) == 0);
    CHECK(again.quoted == p->quoted && again.utf8 == p->utf8 && again.literal == p->literal);
}

static void parse_args(const char *args, size_t len)
{
    struct smtp_mail_args m;
    const char *reply = NULL;
    if (smtp_mail_parse(args, len, &m, &reply) == 0) {
        check_path(&m.path);
        CHECK(!m.path.postmaster);
        CHECK(!m.has_size || m.size <= 999999999999999ULL);
        CHECK(strlen(m.envid) <= SMTP_ENVID_MAX);
        CHECK(smtp_xtext_valid(m.envid, strlen(m.envid)));
    } else {
        check_reply(reply);
    }

    struct smtp_rcpt_args r;
    reply = NULL;
    if (smtp_rcpt_parse(args, len, &r, &reply) == 0) {
        check_path(&r.path);
        CHECK(!r.path.null);
        CHECK((r.notify & ~15u) == 0);
        CHECK(!(r.notify & SMTP_NOTIFY_NEVER) || r.notify == SMTP_NOTIFY_NEVER);
        CHECK(strlen(r.orcpt) <= SMTP_ORCPT_MAX);
        CHECK(r.orcpt[0] == '\0' || strchr(r.orcpt, ';') != NULL);
    } else {
        check_reply(reply);
    }

    unsigned long long size = 0;
    bool last = false;
    if (smtp_bdat_parse(args, len, &size, &last) == 0) {
        CHECK(size <= (1ULL << 53));
        CHECK(len > 0 && args[0] >= '0' && args[0] <= '9');
    }

    if (smtp_helo_valid(args, len)) {
        CHECK(len > 0 && len <= SMTP_DOMAIN_MAX);
        CHECK(str_utf8_valid(args, len));
        for (size_t i = 0; i < len; i++)
            CHECK((unsigned char)args[i] > ' ' && args[i] != 0x7f);
    }
    (void)smtp_xtext_valid(args, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = fuzz_copy(data, size);
    struct smtp_command c;
    smtp_command_parse(line, size, &c);
    CHECK(c.args >= line && c.args + c.args_len <= line + size);
    CHECK(smtp_command_line_max(c.verb) >= SMTP_COMMAND_LINE_MAX);
    CHECK(smtp_verb_name(c.verb) != NULL);
    if (c.verb != SMTP_VERB_UNKNOWN)
        CHECK(size >= 4 && str_eqn_ci(line, smtp_verb_name(c.verb), 4));
    /* The arguments on their own, in an exact-size copy too. */
    char *args = fuzz_copy(c.args, c.args_len);
    parse_args(args, c.args_len);
    free(args);
    parse_args(line, size);
    free(line);
    return 0;
}
