#include "transport.h"

#include <stdio.h>
#include <string.h>

#include "lib/str.h"
#include "smtp/smtp-address.h"

/* "[host]", "[host]:port", "host", "host:port" into out. */
static int parse_host_port(const char *s, struct transport *out, bool allow_mx,
                           const char **error_r)
{
    const char *end;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close == s + 1) {
            *error_r = "expected [HOST]";
            return -1;
        }
        if (str_copyn(out->host, sizeof(out->host), s + 1, (size_t)(close - s - 1)) < 0) {
            *error_r = "host name too long";
            return -1;
        }
        out->mx = false;
        end = close + 1;
    } else {
        const char *colon = strchr(s, ':');
        size_t n = colon ? (size_t)(colon - s) : strlen(s);
        if (n == 0 || str_copyn(out->host, sizeof(out->host), s, n) < 0) {
            *error_r = "expected a host name";
            return -1;
        }
        out->mx = allow_mx;
        end = s + n;
    }
    /* an IPv6 address inside brackets, or a name */
    char lit[300];
    snprintf(lit, sizeof(lit), "[%s]", out->host);
    bool is_ip = smtp_address_literal_valid(lit, strlen(lit));
    snprintf(lit, sizeof(lit), "[IPv6:%s]", out->host);
    is_ip = is_ip || smtp_address_literal_valid(lit, strlen(lit));
    if (!is_ip && !smtp_domain_valid(out->host, strlen(out->host), false)) {
        *error_r = "not a host name or IP address";
        return -1;
    }
    if (is_ip)
        out->mx = false;
    out->port = 0;
    if (*end == ':') {
        unsigned long long p;
        if (str_to_u64(end + 1, strlen(end + 1), 65535, &p) < 0 || p == 0) {
            *error_r = "bad port";
            return -1;
        }
        out->port = (int)p;
    } else if (*end) {
        *error_r = "unexpected text after the host";
        return -1;
    }
    return 0;
}

int transport_parse(const char *spec, struct transport *out, const char **error_r)
{
    memset(out, 0, sizeof(*out));
    if (strcmp(spec, "local") == 0) {
        out->kind = TRANSPORT_LOCAL;
        return 0;
    }
    if (strcmp(spec, "discard") == 0) {
        out->kind = TRANSPORT_DISCARD;
        return 0;
    }
    if (strncmp(spec, "error:", 6) == 0) {
        const char *t = spec + 6;
        /* "4.x.x" or "5.x.x", then text */
        if ((t[0] != '4' && t[0] != '5') || t[1] != '.' || !strchr(t + 2, '.')) {
            *error_r = "error: needs a status code like 5.1.1 and a text";
            return -1;
        }
        out->kind = TRANSPORT_ERROR;
        if (str_copy(out->error, sizeof(out->error), t) < 0) {
            *error_r = "error text too long";
            return -1;
        }
        for (const char *p = t; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                *error_r = "control character in the error text";
                return -1;
            }
        return 0;
    }
    if (strncmp(spec, "smtp:", 5) == 0) {
        out->kind = TRANSPORT_SMTP;
        if (parse_host_port(spec + 5, out, true, error_r) < 0)
            return -1;
        if (!out->port)
            out->port = 25;
        return 0;
    }
    if (strncmp(spec, "lmtp:unix:", 10) == 0) {
        out->kind = TRANSPORT_LMTP;
        const char *path = spec + 10;
        if (path[0] != '/' || str_copy(out->path, sizeof(out->path), path) < 0) {
            *error_r = "lmtp:unix: needs an absolute socket path";
            return -1;
        }
        return 0;
    }
    if (strncmp(spec, "lmtp:", 5) == 0) {
        out->kind = TRANSPORT_LMTP;
        if (parse_host_port(spec + 5, out, false, error_r) < 0)
            return -1;
        if (!out->port) {
            *error_r = "lmtp: needs a port";
            return -1;
        }
        return 0;
    }
    *error_r = "expected smtp:, lmtp:, local, error: or discard";
    return -1;
}
