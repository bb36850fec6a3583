#include "route.h"

#include <stdio.h>
#include <string.h>

#include "lib/str.h"
#include "state/state-transport.h"
#include "state/state-util.h"
#include "transport.h"

void route_rcpt(struct state_db *db, const struct config *cfg, const struct envelope_rcpt *r,
                struct route *out)
{
    memset(out, 0, sizeof(*out));
    char domain[256];
    state_domain_of(r->addr, domain, sizeof(domain));
    char spec[320];
    int found = db ? state_transport_lookup(db, domain, spec, sizeof(spec)) : 0;
    if (found < 0) {
        out->kind = ROUTE_TO_DEFER;
        str_copy(out->text, sizeof(out->text), "4.3.0 transport table lookup failed");
        return;
    }
    if (found == 1) {
        struct transport t;
        const char *why;
        if (transport_parse(spec, &t, &why) < 0) {
            out->kind = ROUTE_TO_DEFER;
            snprintf(out->text, sizeof(out->text), "4.3.5 bad transport for %s: %s", domain, why);
            return;
        }
        switch (t.kind) {
        case TRANSPORT_LOCAL:
            out->kind = ROUTE_TO_LOCAL;
            return;
        case TRANSPORT_DISCARD:
            out->kind = ROUTE_TO_DISCARD;
            str_copy(out->text, sizeof(out->text), "2.0.0 discarded by the transport table");
            return;
        case TRANSPORT_ERROR:
            out->kind = t.error[0] == '4' ? ROUTE_TO_DEFER : ROUTE_TO_BOUNCE;
            str_copy(out->text, sizeof(out->text), t.error);
            return;
        case TRANSPORT_SMTP:
        case TRANSPORT_LMTP:
            out->kind = ROUTE_TO_SMTP;
            str_copy(out->nexthop, sizeof(out->nexthop), spec);
            return;
        }
    }
    if (r->route == ROUTE_LOCAL) {
        out->kind = ROUTE_TO_LOCAL;
        return;
    }
    out->kind = ROUTE_TO_SMTP;
    if (cfg->relayhost[0])
        str_copy(out->nexthop, sizeof(out->nexthop), "relayhost");
    else
        snprintf(out->nexthop, sizeof(out->nexthop), "smtp:%s", domain);
}

void route_filter(const char *spec, struct route *out)
{
    memset(out, 0, sizeof(*out));
    struct transport t;
    const char *why = NULL;
    if (strlen(spec) >= sizeof(out->nexthop))
        why = "next hop too long";
    else if (transport_parse(spec, &t, &why) == 0 && t.kind != TRANSPORT_SMTP &&
             t.kind != TRANSPORT_LMTP)
        why = "not smtp: or lmtp:";
    if (why) {
        out->kind = ROUTE_TO_DEFER;
        int n = snprintf(out->text, sizeof(out->text),
                         "4.3.5 bad content filter next hop '%.200s': %s", spec, why);
        if (n < 0 || (size_t)n >= sizeof(out->text))
            str_copy(out->text, sizeof(out->text), "4.3.5 bad content filter next hop");
        return;
    }
    out->kind = ROUTE_TO_SMTP;
    str_copy(out->nexthop, sizeof(out->nexthop), spec);
}
