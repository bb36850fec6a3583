/* libFuzzer target: what `postino probe` reads from a remote server's
 * greeting and EHLO reply, and the dated table of obsolete software.
 *
 * The first byte chooses:
 *   't'  the rest is a table (probe_software_table_parse);
 *   'c'  the rest is versions separated by NUL bytes (probe_version_compare
 *        must be a total order on them);
 *   else the next two bytes are the greeting's length (big-endian), then
 *        the greeting, then the EHLO reply (probe_banner_identify). */
#include "fuzz-util.h"
#include "lib/str.h"
#include "probe/probe-banner.h"

static const char *const names[] = {
    "",
    "Postfix",
    "Sendmail",
    "Exim",
    "OpenSMTPD",
    "Haraka",
    "qmail",
    "Zimbra",
    "MDaemon",
    "Kerio Connect",
    "Domino",
    "postino",
    "Microsoft Exchange",
    "Microsoft Exchange Online",
    "Microsoft SMTP Service",
};

static bool version_ok(const char *v)
{
    if (v[0] == '\0')
        return true;
    if (!(v[0] >= '0' && v[0] <= '9'))
        return false;
    for (const char *c = v; *c != '\0'; c++) {
        bool ok = (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
                  (*c >= 'A' && *c <= 'Z') || *c == '.';
        if (!ok)
            return false;
    }
    return v[strlen(v) - 1] != '.';
}

static int sign(int x)
{
    return (x > 0) - (x < 0);
}

/* A table the identified software is judged against. */
static const char table_text[] = "dated 2026-11-01\n"
                                 "Sendmail | 8.15 | old\n"
                                 "Exim | 4.97 | old\n"
                                 "Microsoft Exchange | 15.2.2562 | old\n"
                                 "Domino | 12.0 | old\n";

static void fuzz_identify(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    size_t blen = ((size_t)data[0] << 8) | data[1];
    data += 2;
    size -= 2;
    if (blen > size)
        blen = size;
    char *banner = fuzz_copy(data, blen);
    char *ehlo = fuzz_copy(data + blen, size - blen);
    bool no_ehlo = size == blen && (blen & 1);

    struct probe_software sw;
    probe_banner_identify(banner, blen, no_ehlo ? NULL : ehlo, size - blen, &sw);
    CHECK(strlen(sw.name) <= PROBE_SOFTWARE_NAME_MAX);
    CHECK(strlen(sw.version) <= PROBE_VERSION_MAX);
    bool known = false;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        known = known || strcmp(sw.name, names[i]) == 0;
    CHECK(known);
    CHECK(version_ok(sw.version));
    CHECK(sw.name[0] != '\0' || sw.version[0] == '\0');
    /* A version is read from the greeting, never made up. */
    if (sw.version[0] != '\0')
        CHECK(memmem(banner, blen, sw.version, strlen(sw.version)) != NULL);
    /* The same text, the same answer. */
    struct probe_software again;
    probe_banner_identify(banner, blen, no_ehlo ? NULL : ehlo, size - blen, &again);
    CHECK(memcmp(&sw, &again, sizeof(sw)) == 0);

    static struct probe_software_table table;
    static bool table_ready;
    if (!table_ready) {
        CHECK(probe_software_table_parse(table_text, sizeof(table_text) - 1, &table, NULL) == 0);
        table_ready = true;
    }
    const struct probe_software_rule *rule = NULL;
    enum probe_age age = probe_software_age(&table, &sw, &rule);
    CHECK(age == PROBE_AGE_UNKNOWN || age == PROBE_AGE_CURRENT || age == PROBE_AGE_OBSOLETE);
    if (age != PROBE_AGE_UNKNOWN) {
        CHECK(rule != NULL && str_eq_ci(rule->name, sw.name));
        CHECK((age == PROBE_AGE_OBSOLETE) == (probe_version_compare(sw.version, rule->before) < 0));
    }
    if (sw.version[0] != '\0')
        CHECK(probe_version_compare(sw.version, sw.version) == 0);
    free(banner);
    free(ehlo);
}

static void fuzz_table(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy(data, size);
    static struct probe_software_table t;
    char *error = NULL;
    int ret = probe_software_table_parse(text, size, &t, &error);
    if (ret == 0) {
        CHECK(error == NULL);
        CHECK(strlen(t.dated) == 10);
        CHECK(t.n <= PROBE_TABLE_RULES_MAX);
        for (size_t i = 0; i < t.n; i++) {
            const struct probe_software_rule *r = &t.rule[i];
            CHECK(r->name[0] != '\0' && strlen(r->name) <= PROBE_SOFTWARE_NAME_MAX);
            CHECK(r->before[0] != '\0' && version_ok(r->before));
            CHECK(r->note[0] != '\0' && strlen(r->note) <= PROBE_NOTE_MAX);
            for (size_t j = 0; j < i; j++)
                CHECK(!str_eq_ci(r->name, t.rule[j].name));
            /* The version the rule names is current by it. */
            struct probe_software sw;
            memset(&sw, 0, sizeof(sw));
            memcpy(sw.name, r->name, sizeof(sw.name));
            memcpy(sw.version, r->before, sizeof(sw.version));
            const struct probe_software_rule *found = NULL;
            CHECK(probe_software_age(&t, &sw, &found) == PROBE_AGE_CURRENT);
            CHECK(found == r);
        }
    } else {
        CHECK(ret == -1);
        CHECK(error != NULL && strncmp(error, "line ", 5) == 0);
        CHECK(t.n == 0 && t.dated[0] == '\0');
        /* The same text into a used table: the same failure. */
        char *again = NULL;
        CHECK(probe_software_table_parse(text, size, &t, &again) == -1);
        CHECK(strcmp(error, again) == 0);
        free(again);
    }
    free(error);
    free(text);
}

#define VERSIONS_MAX 8

static void fuzz_compare(const uint8_t *data, size_t size)
{
    char *v[VERSIONS_MAX];
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < VERSIONS_MAX; i++) {
        if (i == size || data[i] == 0) {
            char *p = malloc(i - start + 1);
            CHECK(p != NULL);
            memcpy(p, data + start, i - start);
            p[i - start] = '\0';
            v[n++] = p;
            start = i + 1;
        }
    }
    for (size_t a = 0; a < n; a++) {
        CHECK(probe_version_compare(v[a], v[a]) == 0);
        for (size_t b = 0; b < n; b++) {
            int ab = sign(probe_version_compare(v[a], v[b]));
            CHECK(ab == -sign(probe_version_compare(v[b], v[a])));
            for (size_t c = 0; c < n; c++) {
                int bc = sign(probe_version_compare(v[b], v[c]));
                int ac = sign(probe_version_compare(v[a], v[c]));
                if (ab <= 0 && bc <= 0)
                    CHECK(ac <= 0);
                if (ab == 0 && bc == 0)
                    CHECK(ac == 0);
            }
        }
    }
    for (size_t a = 0; a < n; a++)
        free(v[a]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] == 't')
        fuzz_table(data + 1, size - 1);
    else if (data[0] == 'c')
        fuzz_compare(data + 1, size - 1);
    else
        fuzz_identify(data + 1, size - 1);
    return 0;
}
