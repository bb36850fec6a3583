#include "smtp-command.h"

#include <string.h>

#include "lib/str.h"

static const struct {
    const char *name;
    enum smtp_verb verb;
} verbs[] = {
    {"HELO", SMTP_VERB_HELO},         {"EHLO", SMTP_VERB_EHLO}, {"MAIL", SMTP_VERB_MAIL},
    {"RCPT", SMTP_VERB_RCPT},         {"DATA", SMTP_VERB_DATA}, {"BDAT", SMTP_VERB_BDAT},
    {"RSET", SMTP_VERB_RSET},         {"NOOP", SMTP_VERB_NOOP}, {"QUIT", SMTP_VERB_QUIT},
    {"HELP", SMTP_VERB_HELP},         {"VRFY", SMTP_VERB_VRFY}, {"EXPN", SMTP_VERB_EXPN},
    {"STARTTLS", SMTP_VERB_STARTTLS}, {"AUTH", SMTP_VERB_AUTH},
};

void smtp_command_parse(const char *line, size_t len, struct smtp_command *out)
{
    out->verb = SMTP_VERB_UNKNOWN;
    out->args = line + len;
    out->args_len = 0;
    size_t v = 0;
    while (v < len && line[v] != ' ')
        v++;
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        size_t n = strlen(verbs[i].name);
        if (n == v && str_eqn_ci(line, verbs[i].name, n)) {
            out->verb = verbs[i].verb;
            break;
        }
    }
    if (v < len) {
        out->args = line + v + 1;
        out->args_len = len - v - 1;
    }
}

size_t smtp_command_line_max(enum smtp_verb verb)
{
    switch (verb) {
    case SMTP_VERB_MAIL:
        return SMTP_MAIL_LINE_MAX;
    case SMTP_VERB_RCPT:
        return SMTP_RCPT_LINE_MAX;
    case SMTP_VERB_AUTH:
        return SMTP_AUTH_LINE_MAX;
    default:
        return SMTP_COMMAND_LINE_MAX;
    }
}

const char *smtp_verb_name(enum smtp_verb verb)
{
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (verbs[i].verb == verb)
            return verbs[i].name;
    return "UNKNOWN";
}

bool smtp_xtext_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+') {
            if (i + 2 >= len)
                return false;
            for (int k = 1; k <= 2; k++) {
                char h = s[i + (size_t)k];
                if (!((h >= '0' && h <= '9') || (h >= 'A' && h <= 'F')))
                    return false;
            }
            i += 2;
        } else if (c < 33 || c > 126 || c == '=') {
            return false;
        }
    }
    return true;
}

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static bool keyword_valid(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c == '-' && i > 0);
        if (!ok)
            return false;
    }
    return true;
}

/* esmtp-value = 1*(%d33-60 / %d62-126), UTF-8 allowed (RFC 6531 3.3) */
static bool value_valid(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 33 || c == '=' || c == 127)
            return false;
    }
    return str_utf8_valid(s, len);
}

struct param {
    const char *key;
    size_t key_len;
    const char *value; /* NULL if no '=' */
    size_t value_len;
};

/* Split " KEY[=VALUE] KEY[=VALUE]..." into params; -1 on bad syntax. */
static int split_params(const char *s, size_t len, struct param *out, size_t max, size_t *n)
{
    size_t i = 0;
    *n = 0;
    while (i < len) {
        if (s[i] != ' ')
            return -1;
        while (i < len && s[i] == ' ')
            i++;
        if (i >= len)
            break;
        size_t start = i;
        while (i < len && s[i] != ' ')
            i++;
        if (*n >= max)
            return -1;
        struct param *p = &out[(*n)++];
        p->key = s + start;
        const char *eq = memchr(p->key, '=', i - start);
        if (eq) {
            p->key_len = (size_t)(eq - p->key);
            p->value = eq + 1;
            p->value_len = i - start - p->key_len - 1;
            if (!value_valid(p->value, p->value_len))
                return -1;
        } else {
            p->key_len = i - start;
            p->value = NULL;
            p->value_len = 0;
        }
        if (!keyword_valid(p->key, p->key_len))
            return -1;
    }
    return 0;
}

static bool key_is(const struct param *p, const char *name)
{
    return p->key_len == strlen(name) && str_eqn_ci(p->key, name, p->key_len);
}

static bool value_is(const struct param *p, const char *v)
{
    return p->value && p->value_len == strlen(v) && str_eqn_ci(p->value, v, p->value_len);
}

/* Check "FROM:" / "TO:" and skip it and one optional space. */
static int skip_prefix(const char *args, size_t len, const char *prefix, size_t *pos)
{
    size_t n = strlen(prefix);
    if (len < n || !str_eqn_ci(args, prefix, n))
        return -1;
    if (n < len && args[n] == ' ')
        n++;
    *pos = n;
    return 0;
}

static const char *path_reply(enum smtp_path_error e, bool sender)
{
    switch (e) {
    case SMTP_PATH_TOO_LONG:
        return sender ? "501 5.1.7 Sender address is too long"
                      : "501 5.1.3 Recipient address is too long";
    case SMTP_PATH_UTF8:
        return "501 5.6.7 Address is not valid UTF-8";
    default:
        return sender ? "501 5.1.7 Bad sender address syntax"
                      : "501 5.1.3 Bad recipient address syntax";
    }
}

#define MAX_PARAMS 16

int smtp_mail_parse(const char *args, size_t len, struct smtp_mail_args *out, const char **reply_r)
{
    memset(out, 0, sizeof(*out));
    size_t pos, used;
    if (skip_prefix(args, len, "FROM:", &pos) < 0) {
        *reply_r = "501 5.5.4 Syntax: MAIL FROM:<address>";
        return -1;
    }
    enum smtp_path_error e = smtp_path_parse(args + pos, len - pos, true, false, &out->path, &used);
    if (e != SMTP_PATH_OK) {
        *reply_r = path_reply(e, true);
        return -1;
    }
    pos += used;
    struct param params[MAX_PARAMS];
    size_t n;
    if (split_params(args + pos, len - pos, params, MAX_PARAMS, &n) < 0) {
        *reply_r = "501 5.5.4 Syntax error in parameters";
        return -1;
    }
    bool seen_body = false, seen_ret = false, seen_envid = false;
    for (size_t i = 0; i < n; i++) {
        const struct param *p = &params[i];
        if (key_is(p, "SIZE")) {
            if (out->has_size || !p->value ||
                str_to_u64(p->value, p->value_len, 999999999999999ULL, &out->size) < 0) {
                *reply_r = "501 5.5.4 Bad SIZE parameter";
                return -1;
            }
            out->has_size = true;
        } else if (key_is(p, "BODY")) {
            if (seen_body) {
                *reply_r = "501 5.5.4 BODY given twice";
                return -1;
            }
            seen_body = true;
            if (value_is(p, "7BIT")) {
                out->body = SMTP_BODY_7BIT;
            } else if (value_is(p, "8BITMIME")) {
                out->body = SMTP_BODY_8BITMIME;
            } else {
                *reply_r = "501 5.5.4 Unsupported BODY type";
                return -1;
            }
        } else if (key_is(p, "SMTPUTF8")) {
            if (p->value || out->smtputf8) {
                *reply_r = "501 5.5.4 SMTPUTF8 takes no value";
                return -1;
            }
            out->smtputf8 = true;
        } else if (key_is(p, "RET")) {
            if (seen_ret) {
                *reply_r = "501 5.5.4 RET given twice";
                return -1;
            }
            seen_ret = true;
            if (value_is(p, "FULL")) {
                out->ret = SMTP_RET_FULL;
            } else if (value_is(p, "HDRS")) {
                out->ret = SMTP_RET_HDRS;
            } else {
                *reply_r = "501 5.5.4 RET must be FULL or HDRS";
                return -1;
            }
        } else if (key_is(p, "ENVID")) {
            if (seen_envid || !p->value || p->value_len > SMTP_ENVID_MAX ||
                !smtp_xtext_valid(p->value, p->value_len)) {
                *reply_r = "501 5.5.4 Bad ENVID parameter";
                return -1;
            }
            seen_envid = true;
            memcpy(out->envid, p->value, p->value_len);
            out->envid[p->value_len] = '\0';
        } else {
            *reply_r = "555 5.5.4 Unsupported MAIL parameter";
            return -1;
        }
    }
    return 0;
}

/* ORCPT = addr-type ";" xtext, addr-type an atom ("rfc822", "utf-8"). */
static bool orcpt_valid(const char *s, size_t len)
{
    const char *semi = memchr(s, ';', len);
    if (!semi || semi == s)
        return false;
    size_t tlen = (size_t)(semi - s);
    if (!keyword_valid(s, tlen))
        return false;
    const char *x = semi + 1;
    size_t xlen = len - tlen - 1;
    if (xlen == 0)
        return false;
    /* utf-8 addr-type (RFC 6533) carries UTF-8 and \x{...}; checked as UTF-8. */
    if (tlen == 5 && str_eqn_ci(s, "utf-8", 5))
        return str_utf8_valid(x, xlen);
    return smtp_xtext_valid(x, xlen);
}

int smtp_rcpt_parse(const char *args, size_t len, struct smtp_rcpt_args *out, const char **reply_r)
{
    memset(out, 0, sizeof(*out));
    size_t pos, used;
    if (skip_prefix(args, len, "TO:", &pos) < 0) {
        *reply_r = "501 5.5.4 Syntax: RCPT TO:<address>";
        return -1;
    }
    enum smtp_path_error e = smtp_path_parse(args + pos, len - pos, false, true, &out->path, &used);
    if (e != SMTP_PATH_OK) {
        *reply_r = path_reply(e, false);
        return -1;
    }
    pos += used;
    struct param params[MAX_PARAMS];
    size_t n;
    if (split_params(args + pos, len - pos, params, MAX_PARAMS, &n) < 0) {
        *reply_r = "501 5.5.4 Syntax error in parameters";
        return -1;
    }
    bool seen_orcpt = false;
    for (size_t i = 0; i < n; i++) {
        const struct param *p = &params[i];
        if (key_is(p, "NOTIFY")) {
            if (out->notify || !p->value) {
                *reply_r = "501 5.5.4 Bad NOTIFY parameter";
                return -1;
            }
            /* NEVER alone, or a list of SUCCESS, FAILURE, DELAY. */
            size_t s = 0;
            while (s <= p->value_len) {
                size_t e2 = s;
                while (e2 < p->value_len && p->value[e2] != ',')
                    e2++;
                struct param word = {p->value + s, e2 - s, NULL, 0};
                unsigned bit = key_is(&word, "NEVER")     ? SMTP_NOTIFY_NEVER
                               : key_is(&word, "SUCCESS") ? SMTP_NOTIFY_SUCCESS
                               : key_is(&word, "FAILURE") ? SMTP_NOTIFY_FAILURE
                               : key_is(&word, "DELAY")   ? SMTP_NOTIFY_DELAY
                                                          : 0;
                if (bit == 0 || (out->notify & bit)) {
                    *reply_r = "501 5.5.4 Bad NOTIFY parameter";
                    return -1;
                }
                out->notify |= bit;
                s = e2 + 1;
            }
            if ((out->notify & SMTP_NOTIFY_NEVER) && out->notify != SMTP_NOTIFY_NEVER) {
                *reply_r = "501 5.5.4 NOTIFY=NEVER cannot be combined";
                return -1;
            }
        } else if (key_is(p, "ORCPT")) {
            if (seen_orcpt || !p->value || p->value_len > SMTP_ORCPT_MAX ||
                !orcpt_valid(p->value, p->value_len)) {
                *reply_r = "501 5.5.4 Bad ORCPT parameter";
                return -1;
            }
            seen_orcpt = true;
            memcpy(out->orcpt, p->value, p->value_len);
            out->orcpt[p->value_len] = '\0';
        } else {
            *reply_r = "555 5.5.4 Unsupported RCPT parameter";
            return -1;
        }
    }
    return 0;
}

int smtp_bdat_parse(const char *args, size_t len, unsigned long long *size, bool *last)
{
    size_t i = 0;
    while (i < len && args[i] >= '0' && args[i] <= '9')
        i++;
    /* 2^53 is beyond any message; bounded so the sum cannot overflow. */
    if (str_to_u64(args, i, 1ULL << 53, size) < 0)
        return -1;
    *last = false;
    if (i == len)
        return 0;
    if (len - i == 5 && args[i] == ' ' && str_eqn_ci(args + i + 1, "LAST", 4)) {
        *last = true;
        return 0;
    }
    return -1;
}

bool smtp_helo_valid(const char *args, size_t len)
{
    if (len > 0 && args[0] == '[')
        return smtp_address_literal_valid(args, len);
    /* Many hosts announce names with '_' or a trailing dot; tolerate those
     * two, since a HELO name is only informational. */
    char tmp[SMTP_DOMAIN_MAX + 1];
    if (len == 0 || len > SMTP_DOMAIN_MAX)
        return false;
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        tmp[n++] = args[i] == '_' ? 'x' : args[i];
    if (n > 1 && tmp[n - 1] == '.')
        n--;
    return smtp_domain_valid(tmp, n, true);
}
