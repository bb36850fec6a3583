/* smtp-command: parse one SMTP command line (CRLF already removed).
 *
 * The parsers only judge syntax; what a command means for a session is the
 * session's business (smtp-server.h). Every error comes back as the reply
 * that RFC 5321 and the extension RFCs prescribe, ready to send. */
#ifndef POSTINO_SMTP_COMMAND_H
#define POSTINO_SMTP_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

#include "smtp-address.h"

/* Command line limits, CRLF included (RFC 5321 4.5.3.1.4), and what the
 * DSN and AUTH extensions add to MAIL and RCPT (RFC 3461 section 5,
 * RFC 4954 section 5). */
#define SMTP_COMMAND_LINE_MAX 512
#define SMTP_MAIL_LINE_MAX    (512 + 100 + 500 + 26 + 14 + 10)
#define SMTP_RCPT_LINE_MAX    (512 + 500 + 30)
/* AUTH lines (the command with its initial response, and every line of
 * the exchange) may be 12288 octets long (RFC 4954 4). */
#define SMTP_AUTH_LINE_MAX (12288 + 2)
#define SMTP_ANY_LINE_MAX  SMTP_AUTH_LINE_MAX

enum smtp_verb {
    SMTP_VERB_UNKNOWN,
    SMTP_VERB_HELO,
    SMTP_VERB_EHLO,
    SMTP_VERB_MAIL,
    SMTP_VERB_RCPT,
    SMTP_VERB_DATA,
    SMTP_VERB_BDAT,
    SMTP_VERB_RSET,
    SMTP_VERB_NOOP,
    SMTP_VERB_QUIT,
    SMTP_VERB_HELP,
    SMTP_VERB_VRFY,
    SMTP_VERB_EXPN,
    SMTP_VERB_STARTTLS,
    SMTP_VERB_AUTH,
};

struct smtp_command {
    enum smtp_verb verb;
    const char *args; /* points into the line: text after the verb and one SP */
    size_t args_len;
};

/* Split a line into verb and arguments. Never fails: an unknown or
 * malformed verb gives SMTP_VERB_UNKNOWN. */
void smtp_command_parse(const char *line, size_t len, struct smtp_command *out);
/* The longest line (CRLF included) a command with this verb may have. */
size_t smtp_command_line_max(enum smtp_verb verb);
const char *smtp_verb_name(enum smtp_verb verb);

enum smtp_body {
    SMTP_BODY_NONE, /* no BODY parameter */
    SMTP_BODY_7BIT,
    SMTP_BODY_8BITMIME,
};

enum smtp_ret {
    SMTP_RET_NONE,
    SMTP_RET_FULL,
    SMTP_RET_HDRS,
};

#define SMTP_NOTIFY_NEVER   1u
#define SMTP_NOTIFY_SUCCESS 2u
#define SMTP_NOTIFY_FAILURE 4u
#define SMTP_NOTIFY_DELAY   8u

#define SMTP_ENVID_MAX 100 /* RFC 3461 4.4 */
#define SMTP_ORCPT_MAX 500 /* RFC 3461 4.2 */

struct smtp_mail_args {
    struct smtp_path path;
    bool has_size;
    unsigned long long size;
    enum smtp_body body;
    bool smtputf8;
    enum smtp_ret ret;
    char envid[SMTP_ENVID_MAX + 1]; /* xtext as received, "" if absent */
};

struct smtp_rcpt_args {
    struct smtp_path path;
    unsigned notify;                /* SMTP_NOTIFY_* bits, 0 if absent */
    char orcpt[SMTP_ORCPT_MAX + 1]; /* "addr-type;xtext" as received, "" if absent */
};

/* Parse "FROM:<path> [params]" / "TO:<path> [params]". Return 0, or -1 with
 * the full reply ("501 5.1.7 ...") in *reply_r (a static string). One space
 * after the colon is tolerated, as widespread clients send it. */
int smtp_mail_parse(const char *args, size_t len, struct smtp_mail_args *out, const char **reply_r);
int smtp_rcpt_parse(const char *args, size_t len, struct smtp_rcpt_args *out, const char **reply_r);

/* Parse "SIZE [LAST]" of BDAT. Returns 0 or -1 (syntax error). */
int smtp_bdat_parse(const char *args, size_t len, unsigned long long *size, bool *last);

/* Check the argument of HELO/EHLO: a domain or an address literal. */
bool smtp_helo_valid(const char *args, size_t len);

/* True if s[0..len) is valid xtext (RFC 3461 4): printable ASCII except
 * '+' and '=', and "+XX" hex escapes (uppercase). */
bool smtp_xtext_valid(const char *s, size_t len);

#endif
