/* probe-report: what `postino probe` and `postino selfcheck` found, as a
 * readable report and as JSON with the same data.
 *
 * A report is a list of sections ("DNS", one per MX address, "Domain
 * records" ...). Each section holds facts (what was seen: "banner",
 * "TLS", "certificate" ...) and checks, each check a verdict (ok, warn,
 * fail; info for what is neither) with why in plain words. Text given to
 * the report may come from the network: it is made printable (and cut)
 * on the way in.
 *
 * Text form:
 *
 *   == mx1.example.org [192.0.2.1]:25
 *      banner       mx1.example.org ESMTP Postfix
 *      ok    software   Postfix 3.7.11 is maintained
 *      warn  latency    RCPT took 31.2 s (over 30 s)
 *   ...
 *   Result: 14 ok, 2 warnings, 1 failure
 *
 * JSON form: {"command": ..., "target": ..., "sections": [{"id", "title", "facts":
 * [{"key", "value"}], "checks": [{"id", "verdict", "why"}]}], "summary":
 * {"ok", "warn", "fail", "info"}}. */
#ifndef POSTINO_PROBE_REPORT_H
#define POSTINO_PROBE_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#define PROBE_TEXT_MAX 1024 /* bytes of one fact's value or one check's why */

enum probe_verdict { PROBE_OK, PROBE_WARN, PROBE_FAIL, PROBE_INFO };

struct probe_report;

/* A new report of command ("probe", "selfcheck") about target
 * ("example.org", "mx.example.org:25"). */
struct probe_report *probe_report_new(const char *command, const char *target);
void probe_report_free(struct probe_report **rp);

/* Start a section; what follows goes into it. id is short and stable
 * (for JSON readers: "dns", "mx:192.0.2.1", "records"), title is shown. */
void probe_report_section(struct probe_report *r, const char *id, const char *title);
/* A fact of the current section. */
void probe_report_fact(struct probe_report *r, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A check of the current section: id is short and stable ("starttls",
 * "certificate-expiry"), why says the finding in plain words. */
void probe_report_check(struct probe_report *r, const char *id, enum probe_verdict v,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* How many checks have verdict v so far. */
unsigned probe_report_count(const struct probe_report *r, enum probe_verdict v);

void probe_report_print_text(const struct probe_report *r, FILE *f);
void probe_report_print_json(const struct probe_report *r, FILE *f);

const char *probe_verdict_name(enum probe_verdict v);

#endif
