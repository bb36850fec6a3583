/* Fuzz target: RFC 5321 paths and mailboxes.
 *
 * The input is parsed as a path (with each combination of the null path
 * and postmaster allowed), as a bare mailbox, as a domain and as an
 * address literal. Accepted results must respect the limits, a path must
 * parse the same from exactly the octets it used, and the envelope form
 * of every address must parse back to the same address. */
#include <stdbool.h>

#include "fuzz-util.h"
#include "lib/str.h"
#include "smtp/smtp-address.h"

static bool same_path(const struct smtp_path *a, const struct smtp_path *b)
{
    return a->null == b->null && a->postmaster == b->postmaster && a->quoted == b->quoted &&
           a->utf8 == b->utf8 && a->literal == b->literal && strcmp(a->mailbox, b->mailbox) == 0 &&
           strcmp(a->local, b->local) == 0 && strcmp(a->domain, b->domain) == 0;
}

/* The envelope form of a real address parses back to the same address. */
static void check_round_trip(const struct smtp_path *p)
{
    CHECK(strlen(p->mailbox) <= SMTP_PATH_MAX - 2);
    CHECK(strlen(p->local) <= SMTP_LOCAL_MAX);
    CHECK(strlen(p->domain) <= SMTP_DOMAIN_MAX);
    if (p->null || p->postmaster)
        return;
    size_t n = strlen(p->mailbox);
    CHECK(n >= 3);
    CHECK(str_utf8_valid(p->mailbox, n));
    CHECK(p->utf8 || str_is_ascii(p->mailbox, n));
    CHECK(p->literal == (p->domain[0] == '['));
    if (!p->literal)
        CHECK(smtp_domain_valid(p->domain, strlen(p->domain), true));
    else
        CHECK(smtp_address_literal_valid(p->domain, strlen(p->domain)));
    char *copy = fuzz_copy(p->mailbox, n);
    struct smtp_path again;
    CHECK(smtp_mailbox_parse(copy, n, &again) == SMTP_PATH_OK);
    free(copy);
    CHECK(same_path(p, &again));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_copy(data, size);

    for (int mode = 0; mode < 4; mode++) {
        bool allow_null = mode & 1, allow_pm = mode & 2;
        struct smtp_path p;
        size_t used = 0;
        enum smtp_path_error e = smtp_path_parse(s, size, allow_null, allow_pm, &p, &used);
        CHECK(e == SMTP_PATH_OK || e == SMTP_PATH_SYNTAX || e == SMTP_PATH_TOO_LONG ||
              e == SMTP_PATH_UTF8);
        if (e != SMTP_PATH_OK)
            continue;
        CHECK(used >= 2 && used <= size && used <= SMTP_PATH_MAX);
        CHECK(s[0] == '<' && s[used - 1] == '>');
        CHECK(!p.null || allow_null);
        CHECK(!p.postmaster || allow_pm);
        check_round_trip(&p);
        /* Exactly the octets used give the same path. */
        char *path = fuzz_copy(s, used);
        struct smtp_path q;
        size_t used2 = 0;
        CHECK(smtp_path_parse(path, used, allow_null, allow_pm, &q, &used2) == SMTP_PATH_OK);
        free(path);
        CHECK(used2 == used);
        CHECK(same_path(&p, &q));
    }

    struct smtp_path m;
    if (smtp_mailbox_parse(s, size, &m) == SMTP_PATH_OK) {
        CHECK(size <= SMTP_PATH_MAX - 2);
        CHECK(!m.null && !m.postmaster);
        check_round_trip(&m);
    }

    if (smtp_domain_valid(s, size, true)) {
        CHECK(size > 0 && size <= SMTP_DOMAIN_MAX);
        CHECK(s[0] != '.' && s[size - 1] != '.' && s[0] != '-' && s[size - 1] != '-');
        CHECK(str_utf8_valid(s, size));
        if (str_is_ascii(s, size))
            CHECK(smtp_domain_valid(s, size, false));
    }
    if (smtp_domain_valid(s, size, false))
        CHECK(str_is_ascii(s, size));

    if (smtp_address_literal_valid(s, size))
        CHECK(size >= 3 && s[0] == '[' && s[size - 1] == ']');

    free(s);
    return 0;
}
