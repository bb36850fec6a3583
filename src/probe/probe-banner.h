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
#define PROBE_TABLE_LINE_MAX    512  /* bytes of one table line */
#define PROBE_BANNER_SCAN_MAX   4096 /* bytes of a greeting or EHLO reply looked at */

struct probe_software {
    char name[PROBE_SOFTWARE_NAME_MAX + 1]; /* "Postfix", "Sendmail" ...; "" unknown */
    char version[PROBE_VERSION_MAX + 1];    /* "8.11.6"; "" when not shown */
};

/* What banner[0..banner_len) (the greeting's text, lines joined with
 * '\n', codes removed) and ehlo[0..ehlo_len) (the EHLO reply's text, may
 * be NULL) reveal. Never fails: *out is empty when nothing is known.
 *
 * The greeting decides; product names are matched as whole words, ignoring
 * ASCII case, and the earliest in the text wins. The version is the word
 * right after the name (after "Release" for Domino, "Version:" for
 * Microsoft) when it starts with a digit, cut at the first byte that is
 * not a letter, digit or '.' ("8.11.6/8.11.6;" gives "8.11.6"). "Microsoft
 * ESMTP MAIL Service, Version: V" names "Microsoft SMTP Service" (the
 * Windows/IIS SMTP service, which Exchange 2000/2003 ran on: V is a Windows
 * build) unless V is 14.x or 15.x (an Exchange build); without a version
 * it is "Microsoft Exchange", or "Microsoft Exchange Online" when the
 * greeting's host is under outlook.com. Only when the greeting names
 * nothing are the EHLO reply's telltales used (Exchange's XEXCH50,
 * X-ANONYMOUSTLS, XRDST...; Sendmail's DELIVERBY and VERB; Exim's
 * X_PIPE_CONNECT; Haraka's "at your service"), which give no version.
 * Only the first PROBE_BANNER_SCAN_MAX bytes of each are looked at. */
void probe_banner_identify(const char *banner, size_t banner_len, const char *ehlo, size_t ehlo_len,
                           struct probe_software *out);

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

/* Parse the table text into *t (overwritten). 0, or -1 with "line N: why"
 * in *error_r (caller frees; error_r may be NULL) on a syntax error or a
 * crossed limit (text, line, rule count, field lengths); *t is then empty.
 * Lines may end in CRLF; fields are trimmed of blanks. A rule's NAME must
 * not repeat, its OBSOLETE-BEFORE must be a version (a digit first, then
 * digits, letters and dots) and its NOTE must not be empty. Exactly one
 * "dated" line is required (its absence is "line 0: ..."). */
int probe_software_table_parse(const char *text, size_t len, struct probe_software_table *t,
                               char **error_r);

enum probe_age {
    PROBE_AGE_UNKNOWN,  /* no name, no version, or not in the table */
    PROBE_AGE_CURRENT,  /* at least the table's version */
    PROBE_AGE_OBSOLETE, /* older: *rule_r says why */
};

/* Judge sw against the table. *rule_r (rule_r may be NULL) is the rule for
 * sw's name, also when its age is unknown for want of a version, or NULL
 * when no rule names it. */
enum probe_age probe_software_age(const struct probe_software_table *t,
                                  const struct probe_software *sw,
                                  const struct probe_software_rule **rule_r);

/* Compare two dotted versions numerically, part by part ("8.9" < "8.15",
 * "3.4" == "3.4.0"; a part's trailing letters compare after its number:
 * "4.96" < "4.96.1", "8.14.4a"...). <0, 0, >0. */
int probe_version_compare(const char *a, const char *b);

#endif
