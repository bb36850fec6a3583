/* imap-cmd-any: the commands of any state and the login (CAPABILITY,
 * NOOP, LOGOUT, ID, ENABLE, STARTTLS, LOGIN, AUTHENTICATE, IDLE). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"
#include "imap/imap-session-private.h"
#include "lib/str.h"

#define AUTH_FAILURES_MAX 3 /* failed logins before BYE */

void imap_capabilities(struct imap_session *s, struct buf *out)
{
    buf_append_str(out, "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE");
    if (s->state == IMAP_STATE_NOT_AUTH) {
        if (!s->tls && s->set.starttls)
            buf_append_str(out, " STARTTLS");
        /* No password crosses the network in the clear, unless the
         * client is on a network the administrator trusts. */
        if (s->tls || s->set.plaintext_login)
            buf_append_str(out, " AUTH=PLAIN");
        else
            buf_append_str(out, " LOGINDISABLED");
        return;
    }
    buf_append_str(out, " UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE NAMESPACE CONDSTORE "
                        "UNSELECT CHILDREN LIST-EXTENDED LIST-STATUS STATUS=SIZE");
}

enum imap_cmd_status imap_cmd_capability(struct imap_session *s, struct imap_cmd *cmd)
{
    if (cmd->count)
        return imap_cmd_bad(s, cmd, "CAPABILITY takes no arguments");
    struct buf caps;
    buf_init(&caps, 4096);
    imap_capabilities(s, &caps);
    imap_printf(s, "* CAPABILITY %s\r\n", caps.data);
    buf_free(&caps);
    return imap_cmd_ok(s, cmd, "Capability completed");
}

enum imap_cmd_status imap_cmd_noop(struct imap_session *s, struct imap_cmd *cmd)
{
    if (cmd->count)
        return imap_cmd_bad(s, cmd, "NOOP takes no arguments");
    return imap_cmd_ok(s, cmd, "NOOP completed");
}

enum imap_cmd_status imap_cmd_logout(struct imap_session *s, struct imap_cmd *cmd)
{
    if (cmd->count)
        return imap_cmd_bad(s, cmd, "LOGOUT takes no arguments");
    imap_session_deselect(s);
    imap_printf(s, "* BYE Logging out\r\n");
    imap_cmd_ok(s, cmd, "Logout completed");
    s->state = IMAP_STATE_LOGOUT;
    s->closing = true;
    s->cb.close(s->ctx);
    return IMAP_CMD_DONE;
}

enum imap_cmd_status imap_cmd_id(struct imap_session *s, struct imap_cmd *cmd)
{
    /* RFC 2971: NIL or a list of up to 30 string pairs. */
    if (cmd->count != 1)
        return imap_cmd_bad(s, cmd, "ID takes one argument");
    const struct imap_arg *a = &cmd->args[0];
    if (a->type == IMAP_ARG_LIST) {
        if (a->count % 2 != 0 || a->count > 60)
            return imap_cmd_bad(s, cmd, "ID needs a list of up to 30 field and value pairs");
        for (size_t i = 0; i < a->count; i++)
            if (!imap_arg_string(&a->list[i], NULL) && a->list[i].type != IMAP_ARG_NIL)
                return imap_cmd_bad(s, cmd, "ID fields and values are strings");
    } else if (a->type != IMAP_ARG_NIL) {
        return imap_cmd_bad(s, cmd, "ID takes NIL or a list");
    }
    imap_printf(s, "* ID (\"name\" \"postino\" \"vendor\" \"postino\")\r\n");
    return imap_cmd_ok(s, cmd, "ID completed");
}

enum imap_cmd_status imap_cmd_enable(struct imap_session *s, struct imap_cmd *cmd)
{
    if (cmd->count == 0)
        return imap_cmd_bad(s, cmd, "ENABLE needs capability names");
    struct buf on;
    buf_init(&on, 1024);
    for (size_t i = 0; i < cmd->count; i++) {
        const char *name = imap_arg_atom(&cmd->args[i]);
        if (!name) {
            buf_free(&on);
            return imap_cmd_bad(s, cmd, "ENABLE takes atoms");
        }
        if (str_eq_ci(name, "CONDSTORE") && !(s->enabled & IMAP_ENABLED_CONDSTORE)) {
            s->enabled |= IMAP_ENABLED_CONDSTORE;
            buf_append_str(&on, " CONDSTORE");
        }
    }
    imap_printf(s, "* ENABLED%s\r\n", buf_cstr(&on));
    buf_free(&on);
    return imap_cmd_ok(s, cmd, "Enabled");
}

enum imap_cmd_status imap_cmd_starttls(struct imap_session *s, struct imap_cmd *cmd)
{
    if (cmd->count)
        return imap_cmd_bad(s, cmd, "STARTTLS takes no arguments");
    if (s->tls)
        return imap_cmd_bad(s, cmd, "TLS is already active");
    if (!s->set.starttls)
        return imap_cmd_no(s, cmd, "TLS is not available");
    imap_cmd_ok(s, cmd, "Begin TLS negotiation now");
    s->starttls_pending = true;
    s->cb.starttls(s->ctx);
    return IMAP_CMD_DONE;
}

/* Hand a login to the owner; the command waits for its answer. */
static enum imap_cmd_status start_login(struct imap_session *s, const char *user,
                                        const char *password, size_t len)
{
    str_copy(s->user, sizeof(s->user), user);
    s->cb.auth(s->ctx, user, password, len);
    return IMAP_CMD_WAIT;
}

enum imap_cmd_status imap_cmd_login(struct imap_session *s, struct imap_cmd *cmd)
{
    if (!s->tls && !s->set.plaintext_login)
        return imap_cmd_no(s, cmd,
                           "[PRIVACYREQUIRED] LOGIN is disabled without TLS (use "
                           "STARTTLS or port 993)");
    size_t ulen, plen;
    const char *user = cmd->count == 2 ? imap_arg_astring(&cmd->args[0], &ulen) : NULL;
    const char *pass = cmd->count == 2 ? imap_arg_astring(&cmd->args[1], &plen) : NULL;
    if (!user || !pass)
        return imap_cmd_bad(s, cmd, "LOGIN needs a user name and a password");
    if (ulen == 0 || ulen > SASL_USER_MAX || memchr(user, '\0', ulen) || plen == 0 ||
        plen > PASSWORD_MAX || !str_utf8_valid(user, ulen))
        return imap_cmd_no(s, cmd, "[AUTHENTICATIONFAILED] Authentication failed");
    return start_login(s, user, pass, plen);
}

/* A PLAIN response (initial, or the line after "+ "). */
static enum imap_cmd_status plain_response(struct imap_session *s, const char *b64, size_t len)
{
    if (len == 1 && b64[0] == '*')
        return imap_cmd_bad(s, &s->cmd, "Authentication cancelled");
    struct sasl_creds cr;
    int ok = sasl_plain_decode(b64, len, &cr);
    if (ok == 0 && cr.authzid[0] && !str_eq_ci(cr.authzid, cr.user))
        ok = -2; /* no acting as someone else */
    if (ok < 0) {
        memset(&cr, 0, sizeof(cr));
        if (ok == -2)
            return imap_cmd_no(s, &s->cmd, "[AUTHORIZATIONFAILED] Cannot act as another user");
        return imap_cmd_bad(s, &s->cmd, "Cannot decode the response");
    }
    enum imap_cmd_status st = start_login(s, cr.user, cr.password, strlen(cr.password));
    memset(&cr, 0, sizeof(cr));
    return st;
}

enum imap_cmd_status imap_cmd_authenticate(struct imap_session *s, struct imap_cmd *cmd)
{
    const char *mech = cmd->count >= 1 ? imap_arg_atom(&cmd->args[0]) : NULL;
    if (!mech || cmd->count > 2)
        return imap_cmd_bad(s, cmd, "AUTHENTICATE needs a mechanism");
    if (!str_eq_ci(mech, "PLAIN"))
        return imap_cmd_no(s, cmd, "Unsupported authentication mechanism");
    if (!s->tls && !s->set.plaintext_login)
        return imap_cmd_no(s, cmd, "[PRIVACYREQUIRED] Authentication is disabled without TLS");
    if (cmd->count == 2) {
        /* SASL-IR (RFC 4959): "=" is an empty initial response. */
        size_t len;
        const char *ir = imap_arg_atom(&cmd->args[1]);
        if (!ir)
            return imap_cmd_bad(s, cmd, "Invalid initial response");
        len = strlen(ir);
        if (!(len == 1 && ir[0] == '='))
            return plain_response(s, ir, len);
    }
    if (imap_parser_read_line(s->parser) < 0)
        return imap_cmd_bad(s, cmd, "Cannot authenticate now");
    s->line_for = IMAP_LINE_AUTHENTICATE;
    imap_printf(s, "+ \r\n");
    return IMAP_CMD_WAIT;
}

void imap_session_authenticate_line(struct imap_session *s, const char *line, size_t len)
{
    s->line_for = IMAP_LINE_NONE;
    enum imap_cmd_status st = plain_response(s, line, len);
    if (st == IMAP_CMD_DONE)
        imap_session_cmd_finish(s);
}

void imap_session_auth_done(struct imap_session *s, enum imap_auth_result r, const char *user)
{
    if (!s->cmd_active || s->closing)
        return;
    struct imap_cmd *cmd = &s->cmd;
    if (r == IMAP_AUTH_TEMPFAIL) {
        imap_cmd_no(s, cmd, "[UNAVAILABLE] Temporary authentication failure, try again later");
        imap_session_cmd_finish(s);
        return;
    }
    if (r != IMAP_AUTH_OK) {
        s->auth_failures++;
        imap_cmd_no(s, cmd, "[AUTHENTICATIONFAILED] Authentication failed");
        imap_session_cmd_finish(s);
        if (s->auth_failures >= AUTH_FAILURES_MAX) {
            imap_printf(s, "* BYE Too many failed logins\r\n");
            s->closing = true;
            s->cb.close(s->ctx);
        }
        return;
    }
    const char *why = "unknown";
    str_copy(s->user, sizeof(s->user), user);
    s->acc = s->cb.open_account(s->ctx, user, &why);
    if (!s->acc) {
        imap_cmd_no(s, cmd, "[UNAVAILABLE] Your mailbox cannot be opened now (%s)", why);
        imap_session_cmd_finish(s);
        return;
    }
    s->state = IMAP_STATE_AUTH;
    if (s->cb.set_timeout)
        s->cb.set_timeout(s->ctx, s->set.idle_timeout);
    struct buf caps;
    buf_init(&caps, 4096);
    imap_capabilities(s, &caps);
    imap_cmd_ok(s, cmd, "[CAPABILITY %s] Logged in", caps.data);
    buf_free(&caps);
    imap_session_cmd_finish(s);
}

enum imap_cmd_status imap_cmd_idle(struct imap_session *s, struct imap_cmd *cmd)
{
    if (cmd->count)
        return imap_cmd_bad(s, cmd, "IDLE takes no arguments");
    if (imap_parser_read_line(s->parser) < 0)
        return imap_cmd_bad(s, cmd, "Cannot idle now");
    s->line_for = IMAP_LINE_IDLE;
    s->idling = true;
    imap_printf(s, "+ idling\r\n");
    imap_session_sync(s, true);
    return IMAP_CMD_WAIT;
}

void imap_session_idle_line(struct imap_session *s, const char *line, size_t len)
{
    s->line_for = IMAP_LINE_NONE;
    s->idling = false;
    if (len == 4 && str_eqn_ci(line, "DONE", 4))
        imap_cmd_ok(s, &s->cmd, "Idle completed");
    else
        imap_cmd_bad(s, &s->cmd, "Expected DONE");
    imap_session_cmd_finish(s);
}
