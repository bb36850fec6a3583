/* cmd-inject: a message queued from the command line (queue-inject), its
 * recipients resolved through aliases first, as
 * postino sendmail and the share portal's notifications need it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "lib/str.h"
#include "queue/envelope.h"
#include "queue/queue-inject.h"
#include "smtp/smtp-address.h"
#include "state/state-resolve.h"

size_t cmd_header_length(const char *msg, size_t len)
{
    return queue_header_length(msg, len);
}

/* The recipients into env, through aliases. 0 or an EX_ code. */
static int add_rcpts(struct state_db *db, const char *const *rcpts, size_t n, const char *domain,
                     struct envelope *env)
{
    for (size_t k = 0; k < n; k++) {
        char full[SMTP_PATH_MAX + 1];
        if (strchr(rcpts[k], '@'))
            str_copy(full, sizeof(full), rcpts[k]);
        else
            snprintf(full, sizeof(full), "%s@%s", rcpts[k], domain);
        struct smtp_path p;
        if (smtp_mailbox_parse(full, strlen(full), &p) != SMTP_PATH_OK) {
            cmd_error("<%s>: not a valid address", rcpts[k]);
            return CMD_EX_USAGE;
        }
        struct resolve_result res;
        enum resolve_status st =
            p.literal ? RESOLVE_NOT_OURS : state_resolve(db, p.local, p.domain, &res);
        if (st == RESOLVE_UNKNOWN || st == RESOLVE_LOOP) {
            cmd_error("<%s>: no such user here", p.mailbox);
            return CMD_EX_NOUSER;
        }
        if (st == RESOLVE_TEMPFAIL) {
            cmd_error("account database error: %s", state_db_error(db));
            return CMD_EX_TEMPFAIL;
        }
        if (st == RESOLVE_NOT_OURS) {
            envelope_add_rcpt(env, p.mailbox, NULL, NULL, 0, ROUTE_REMOTE);
            continue;
        }
        for (size_t d = 0; d < res.n; d++) {
            bool dup = false;
            for (size_t e = 0; e < env->nrcpts; e++)
                if (strcmp(env->rcpts[e].addr, res.dests[d].addr) == 0)
                    dup = true;
            if (!dup)
                envelope_add_rcpt(env, res.dests[d].addr,
                                  strcmp(p.mailbox, res.dests[d].addr) ? p.mailbox : NULL, NULL, 0,
                                  res.dests[d].local ? ROUTE_LOCAL : ROUTE_REMOTE);
        }
        resolve_result_free(&res);
    }
    return 0;
}

int cmd_inject(const struct config *cfg, struct state_db *db, const struct cmd_inject *in,
               char id_out[QUEUE_ID_LEN + 1])
{
    struct envelope env;
    envelope_init(&env);
    env.sender = strdup(in->sender);
    int rc = add_rcpts(db, in->rcpts, in->n_rcpts, in->domain, &env);
    const char *err = NULL;
    if (rc == 0 && queue_inject(cfg, &env, in->msg, in->len, in->via, &err) < 0) {
        cmd_error("cannot queue the message: %s (run as root or as %s)", err ? err : "?",
                  cfg->service_user);
        rc = CMD_EX_CANTCREAT;
    }
    if (rc == 0 && id_out)
        memcpy(id_out, env.id, QUEUE_ID_LEN + 1);
    envelope_free(&env);
    return rc;
}
