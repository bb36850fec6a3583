/* probe-banner: what an SMTP server tells of its software in its greeting
 * (the 220 reply) and its EHLO reply, and whether that version is
 * obsolete according to a dated table shipped with postino
 * (data/smtp-software.txt).
 *
 * Recognised at least: Postfix, Sendmail, Exim, Microsoft Exchange (by
 * its "Microsoft ESMTP MAIL Service" greeting, with a version when it
 * shows one), Microsoft Exchange Online / Office 365 greetings, qmail,
 * OpenSMTPD, Haraka, Zimbra, Lotus/HCL Domino, MDaemon, Kerio Connect,
 * postino itself. Unknown software gives an empty name.
 *
 * The table's text format, one rule per line:
 *
 *   # comments and empty lines are ignored
 *   dated YYYY-MM-DD                     once: when the table was last checked
 *   NAME | OBSOLETE-BEFORE | NOTE        NAME as probe_banner_identify names it
 *                                        (case-insensitive), a version: older
 *                                        ones are obsolete; NOTE says why in
 *                                        plain words
 *
 * Pure: no I/O; the table is parsed from text the caller read. */
#ifndef POSTINO_PROBE_BANNER_H
#define POSTINO_PROBE_BANNER_H

#include <stdbool.h>
#include <stddef.h>

#define PROBE_SOFTWARE_NAME_MAX 48
#define PROBE_VERSION_MAX       32
#define PROBE_NOTE_MAX          160
#define PROBE_TABLE_RULES_MAX   64
#define PROBE_TABLE_TEXT_MAX    (64 * 1024)

struct probe_software {
    char name[PROBE_SOFTWARE_NAME_MAX + 1]; /* "Postfix", "Sendmail" ...; "" unknown */
    char version[PROBE_VERSION_MAX + 1];    /* "8.11.6"; "" when not shown */
};

/* What banner[0..banner_len) (the greeting's text, lines joined with
 * '\n', codes removed) and ehlo[0..ehlo_len) (the EHLO reply's text, may
 * be NULL) reveal. Never fails: *out is empty when nothing is known. */
void probe_banner_identify(const char *banner, size_t banner_len, const char *ehlo,
                           size_t ehlo_len, struct probe_software *out);

struct probe_software_rule {
    char name[PROBE_SOFTWARE_NAME_MAX + 1];
    char before[PROBE_VERSION_MAX + 1];
    char note[PROBE_NOTE_MAX + 1];
};

struct probe_software_table {
    char dated[11]; /* "YYYY-MM-DD" */
    struct probe_software_rule rule[PROBE_TABLE_RULES_MAX];
    size_t n;
};

/* Parse the table text. 0, or -1 with "line N: why" in *error_r (caller
 * frees) on a syntax error or a crossed limit. */
int probe_software_table_parse(const char *text, size_t len, struct probe_software_table *t,
                               char **error_r);

enum probe_age {
    PROBE_AGE_UNKNOWN,  /* no name, no version, or not in the table */
    PROBE_AGE_CURRENT,  /* at least the table's version */
    PROBE_AGE_OBSOLETE, /* older: *rule_r says why */
};

/* Judge sw against the table; *rule_r is the matching rule (or NULL). */
enum probe_age probe_software_age(const struct probe_software_table *t,
                                  const struct probe_software *sw,
                                  const struct probe_software_rule **rule_r);

/* Compare two dotted versions numerically, part by part ("8.9" < "8.15",
 * "3.4" == "3.4.0"; a part's trailing letters compare after its number:
 * "4.96" < "4.96.1", "8.14.4a"...). <0, 0, >0. */
int probe_version_compare(const char *a, const char *b);

#endif
