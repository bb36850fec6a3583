#include "smtp-address.h"

#include <arpa/inet.h>
#include <string.h>

#include "lib/str.h"

/* RFC 5322 atext, ASCII part. */
static bool is_atext(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL && c != '\0';
}

static bool is_let_dig(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool smtp_domain_valid(const char *s, size_t len, bool allow_utf8)
{
    if (len == 0 || len > SMTP_DOMAIN_MAX)
        return false;
    if (!str_utf8_valid(s, len))
        return false;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            /* no empty label, no label ending in '-' */
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (c >= 0x80) {
            if (!allow_utf8)
                return false;
        } else if (c == '-') {
            if (label == 0)
                return false;
        } else if (!is_let_dig(c)) {
            return false;
        }
        if (++label > 63)
            return false;
    }
    return label > 0 && s[len - 1] != '-';
}

bool smtp_address_literal_valid(const char *s, size_t len)
{
    if (len < 3 || s[0] != '[' || s[len - 1] != ']')
        return false;
    /* inet_pton() stops at a NUL, so one inside the brackets hid whatever
     * followed it: "[1.2.3.4<NUL>junk]" was accepted, and the envelope got
     * a domain cut at the NUL. */
    if (memchr(s, '\0', len) != NULL)
        return false;
    char inner[64];
    if (str_copyn(inner, sizeof(inner), s + 1, len - 2) < 0)
        return false;
    unsigned char tmp[16];
    if (str_prefix_ci(inner, "IPv6:"))
        return inet_pton(AF_INET6, inner + 5, tmp) == 1;
    /* inet_pton accepts only dotted-quad decimal for AF_INET: what we want. */
    return inet_pton(AF_INET, inner, tmp) == 1;
}

/* Parse a local part at s[0..len): a dot-string or a quoted string ending
 * right before '@'. Fills out->local (decoded), sets quoted/utf8, returns
 * the octets used or 0 on error (*err says which). */
static size_t parse_local(const char *s, size_t len, struct smtp_path *out,
                          enum smtp_path_error *err)
{
    size_t i = 0, o = 0;
    *err = SMTP_PATH_SYNTAX;
    if (len == 0)
        return 0;
    if (s[0] == '"') {
        out->quoted = true;
        i = 1;
        for (;;) {
            if (i >= len)
                return 0;
            unsigned char c = (unsigned char)s[i];
            if (c == '"')
                break;
            if (c == '\\') {
                if (i + 1 >= len)
                    return 0;
                c = (unsigned char)s[i + 1];
                if (c < 32 || c > 126)
                    return 0;
                i += 2;
            } else if (c >= 0x80) {
                out->utf8 = true;
                i++;
            } else if (c >= 32 && c <= 126) {
                i++;
            } else {
                return 0;
            }
            if (o >= SMTP_LOCAL_MAX) {
                *err = SMTP_PATH_TOO_LONG;
                return 0;
            }
            out->local[o++] = (char)c;
        }
        i++; /* closing quote */
    } else {
        bool prev_dot = true; /* a dot-string cannot start with '.' */
        for (; i < len && s[i] != '@'; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '.') {
                if (prev_dot)
                    return 0;
                prev_dot = true;
            } else if (c >= 0x80) {
                out->utf8 = true;
                prev_dot = false;
            } else if (is_atext(c)) {
                prev_dot = false;
            } else {
                return 0;
            }
            if (o >= SMTP_LOCAL_MAX) {
                *err = SMTP_PATH_TOO_LONG;
                return 0;
            }
            out->local[o++] = (char)c;
        }
        if (i == 0 || prev_dot)
            return 0;
    }
    out->local[o] = '\0';
    /* RFC 5321 4.5.3.1.1: the limit is on the local part as sent. */
    if (i > SMTP_LOCAL_MAX) {
        *err = SMTP_PATH_TOO_LONG;
        return 0;
    }
    if (out->utf8 && !str_utf8_valid(s, i)) {
        *err = SMTP_PATH_UTF8;
        return 0;
    }
    return i;
}

/* Parse "local@domain" occupying exactly s[0..len). */
static enum smtp_path_error parse_mailbox(const char *s, size_t len, struct smtp_path *out)
{
    enum smtp_path_error err;
    size_t n = parse_local(s, len, out, &err);
    if (n == 0)
        return err;
    if (n >= len || s[n] != '@')
        return SMTP_PATH_SYNTAX;
    const char *dom = s + n + 1;
    size_t dlen = len - n - 1;
    if (dlen > SMTP_DOMAIN_MAX)
        return SMTP_PATH_TOO_LONG;
    if (dlen > 0 && dom[0] == '[') {
        if (!smtp_address_literal_valid(dom, dlen))
            return SMTP_PATH_SYNTAX;
        out->literal = true;
    } else {
        if (!str_utf8_valid(dom, dlen))
            return SMTP_PATH_UTF8;
        if (!smtp_domain_valid(dom, dlen, true))
            return SMTP_PATH_SYNTAX;
        if (!str_is_ascii(dom, dlen))
            out->utf8 = true;
    }
    memcpy(out->domain, dom, dlen);
    out->domain[dlen] = '\0';
    str_lower(out->domain);
    /* The envelope form: local part as sent, lowercased domain. */
    if (n + 1 + dlen > SMTP_PATH_MAX - 2)
        return SMTP_PATH_TOO_LONG;
    memcpy(out->mailbox, s, n);
    out->mailbox[n] = '@';
    memcpy(out->mailbox + n + 1, out->domain, dlen);
    out->mailbox[n + 1 + dlen] = '\0';
    return SMTP_PATH_OK;
}

enum smtp_path_error smtp_mailbox_parse(const char *s, size_t len, struct smtp_path *out)
{
    memset(out, 0, sizeof(*out));
    return parse_mailbox(s, len, out);
}

/* Find the '>' that closes a path starting at s[0] == '<', skipping quoted
 * strings in the local part. Returns its index or 0. */
static size_t find_close(const char *s, size_t len)
{
    bool quoted = false;
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (quoted) {
            if (c == '\\')
                i++;
            else if (c == '"')
                quoted = false;
        } else if (c == '"') {
            quoted = true;
        } else if (c == '>') {
            return i;
        }
    }
    return 0;
}

enum smtp_path_error smtp_path_parse(const char *s, size_t len, bool allow_null,
                                     bool allow_postmaster, struct smtp_path *out, size_t *used)
{
    memset(out, 0, sizeof(*out));
    if (len < 2 || s[0] != '<')
        return SMTP_PATH_SYNTAX;
    size_t close = find_close(s, len);
    if (close == 0)
        return SMTP_PATH_SYNTAX;
    *used = close + 1;
    if (close + 1 > SMTP_PATH_MAX)
        return SMTP_PATH_TOO_LONG;
    const char *p = s + 1;
    size_t n = close - 1;
    if (n == 0) {
        if (!allow_null)
            return SMTP_PATH_SYNTAX;
        out->null = true;
        return SMTP_PATH_OK;
    }
    if (allow_postmaster && n == 10 && str_eqn_ci(p, "postmaster", 10)) {
        out->postmaster = true;
        memcpy(out->local, "postmaster", 11);
        memcpy(out->mailbox, "postmaster", 11);
        return SMTP_PATH_OK;
    }
    /* A-d-l = At-domain *( "," At-domain ) ":" ; At-domain = "@" Domain */
    if (p[0] == '@') {
        size_t i = 0;
        for (;;) {
            if (i >= n || p[i] != '@')
                return SMTP_PATH_SYNTAX;
            size_t start = ++i;
            while (i < n && p[i] != ',' && p[i] != ':')
                i++;
            if (i >= n)
                return SMTP_PATH_SYNTAX;
            bool lit = p[start] == '[';
            if (lit ? !smtp_address_literal_valid(p + start, i - start)
                    : !smtp_domain_valid(p + start, i - start, true))
                return SMTP_PATH_SYNTAX;
            if (p[i++] == ':')
                break;
        }
        p += i;
        n -= i;
    }
    return parse_mailbox(p, n, out);
}
