#include "policy/milter-list.h"

#include <string.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "lib/str.h"

#define OPTION_MAX 64 /* bytes of one option */

static int fail(const char *entry, size_t len, const char *why, struct milter_list *out,
                char **error_r)
{
    char shown[MILTER_ADDRESS_TEXT_MAX + 1];
    str_printable(shown, sizeof(shown), entry, len);
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_printf(&b, "\"%s\": %s", shown, why);
    *error_r = buf_steal(&b);
    out->n = 0;
    return -1;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A duration option's value into milliseconds. 0 or -1. */
static int parse_timeout(const char *v, size_t n, unsigned *ms)
{
    char text[OPTION_MAX];
    long long secs;
    if (str_copyn(text, sizeof(text), v, n) < 0 || config_parse_duration(text, &secs) < 0 ||
        secs < 1 || secs > MILTER_LIST_TIMEOUT_MAX / 1000)
        return -1;
    *ms = (unsigned)secs * 1000u;
    return 0;
}

/* One option of an entry into spec. NULL, or the reason it is wrong. */
static const char *parse_option(const char *p, size_t n, struct milter_spec *spec)
{
    const char *eq = memchr(p, '=', n);
    if (!eq)
        return "an option is NAME=VALUE";
    size_t nl = (size_t)(eq - p), vl = n - nl - 1;
    const char *v = eq + 1;
    if (nl == 7 && str_eqn_ci(p, "default", 7)) {
        if (vl == 6 && str_eqn_ci(v, "accept", 6))
            spec->default_accept = true;
        else if (vl == 8 && str_eqn_ci(v, "tempfail", 8))
            spec->default_accept = false;
        else
            return "default= is accept or tempfail";
        return NULL;
    }
    if (nl == 15 && str_eqn_ci(p, "connect_timeout", 15))
        return parse_timeout(v, vl, &spec->connect_timeout_ms) < 0
                   ? "connect_timeout= is a duration from 1s to 10m"
                   : NULL;
    if (nl == 15 && str_eqn_ci(p, "command_timeout", 15))
        return parse_timeout(v, vl, &spec->command_timeout_ms) < 0
                   ? "command_timeout= is a duration from 1s to 10m"
                   : NULL;
    return "unknown option (default=, connect_timeout=, command_timeout=)";
}

/* One entry (without the commas around it). NULL or the reason. */
static const char *parse_entry(const char *e, size_t len, const struct milter_list_defaults *def,
                               struct milter_spec *spec)
{
    spec->default_accept = def->default_accept;
    spec->connect_timeout_ms = def->connect_timeout_ms;
    spec->command_timeout_ms = def->command_timeout_ms;
    size_t i = 0;
    while (i < len && !is_space(e[i]))
        i++;
    if (str_copyn(spec->address, sizeof(spec->address), e, i) < 0)
        return "the address is too long";
    const char *why = NULL;
    if (milter_address_check(spec->address, &why) < 0)
        return why ? why : "not a socket path or numeric HOST:PORT";
    while (i < len) {
        while (i < len && is_space(e[i]))
            i++;
        size_t s = i;
        while (i < len && !is_space(e[i]))
            i++;
        if (i == s)
            break;
        if (i - s >= OPTION_MAX)
            return "an option is too long";
        why = parse_option(e + s, i - s, spec);
        if (why)
            return why;
    }
    return NULL;
}

int milter_list_parse(const char *text, size_t len, const struct milter_list_defaults *defaults,
                      struct milter_list *out, char **error_r)
{
    memset(out, 0, sizeof(*out));
    if (len > MILTER_LIST_SETTING_MAX)
        return fail(text, 40, "the setting is too long", out, error_r);
    size_t i = 0;
    while (i < len) {
        while (i < len && (is_space(text[i]) || text[i] == ','))
            i++;
        size_t s = i;
        while (i < len && text[i] != ',')
            i++;
        size_t e = i;
        while (e > s && is_space(text[e - 1]))
            e--;
        if (e == s)
            continue;
        if (out->n == MILTER_LIST_MAX)
            return fail(text + s, e - s, "too many milters (at most 8)", out, error_r);
        const char *why = parse_entry(text + s, e - s, defaults, &out->m[out->n]);
        if (why)
            return fail(text + s, e - s, why, out, error_r);
        out->n++;
    }
    return 0;
}
