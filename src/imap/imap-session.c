/* imap-session: the session core: reading commands, running them one at a
 * time, pausing long outputs, telling the client about changes of the
 * selected folder (see imap-session.h and imap-session-private.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-parser.h"
#include "imap/imap-session-private.h"
#include "imap/imap-utf7.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define BAD_COMMANDS_MAX  20    /* BAD replies in a row before BYE */
#define LITERAL_SMALL_MAX 65536 /* literals of commands other than APPEND */
#define PREAUTH_TIMEOUT   60    /* seconds of silence before login */

/* --- output --- */

void imap_write(struct imap_session *s, const void *data, size_t len)
{
    if (len)
        s->cb.output(s->ctx, data, len);
}

void imap_printf(struct imap_session *s, const char *fmt, ...)
{
    buf_reset(&s->out);
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(&s->out, fmt, ap);
    va_end(ap);
    if (rc == 0)
        imap_write(s, s->out.data, s->out.len);
}

bool imap_session_output_full(struct imap_session *s)
{
    return s->cb.output_pending(s->ctx) > IMAP_OUTPUT_FULL;
}

static void tagged(struct imap_session *s, struct imap_cmd *cmd, const char *status,
                   const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));
static void tagged(struct imap_session *s, struct imap_cmd *cmd, const char *status,
                   const char *fmt, va_list ap)
{
    struct buf b;
    buf_init(&b, 16384);
    buf_printf(&b, "%s %s ", cmd->tag[0] ? cmd->tag : "*", status);
    buf_vprintf(&b, fmt, ap);
    buf_append_str(&b, "\r\n");
    imap_write(s, b.data, b.len);
    buf_free(&b);
}

enum imap_cmd_status imap_cmd_ok(struct imap_session *s, struct imap_cmd *cmd, const char *fmt, ...)
{
    if (s->view)
        imap_session_sync(s, !(cmd->def && cmd->def->no_expunge && !cmd->uid));
    s->bad_commands = 0;
    va_list ap;
    va_start(ap, fmt);
    tagged(s, cmd, "OK", fmt, ap);
    va_end(ap);
    return IMAP_CMD_DONE;
}

enum imap_cmd_status imap_cmd_no(struct imap_session *s, struct imap_cmd *cmd, const char *fmt, ...)
{
    s->bad_commands = 0;
    va_list ap;
    va_start(ap, fmt);
    tagged(s, cmd, "NO", fmt, ap);
    va_end(ap);
    return IMAP_CMD_DONE;
}

enum imap_cmd_status imap_cmd_bad(struct imap_session *s, struct imap_cmd *cmd, const char *fmt,
                                  ...)
{
    s->bad_commands++;
    va_list ap;
    va_start(ap, fmt);
    tagged(s, cmd, "BAD", fmt, ap);
    va_end(ap);
    return IMAP_CMD_DONE;
}

enum imap_cmd_status imap_cmd_store_error(struct imap_session *s, struct imap_cmd *cmd,
                                          const char *what)
{
    const char *text = "";
    enum store_err e = s->acc ? store_account_error(s->acc, &text) : STORE_ERR_TEMP;
    const char *code;
    switch (e) {
    case STORE_ERR_NOTFOUND:
        code = "[NONEXISTENT] ";
        break;
    case STORE_ERR_EXISTS:
        code = "[ALREADYEXISTS] ";
        break;
    case STORE_ERR_INVALID:
    case STORE_ERR_NOTALLOWED:
        code = "[CANNOT] ";
        break;
    case STORE_ERR_QUOTA:
        code = "[OVERQUOTA] ";
        break;
    case STORE_ERR_LIMIT:
        code = "[LIMIT] ";
        break;
    case STORE_ERR_EXPUNGED:
        code = "[EXPUNGEISSUED] ";
        break;
    default:
        code = "[UNAVAILABLE] ";
        break;
    }
    if (e == STORE_ERR_TEMP || e == STORE_OK) {
        char line[600];
        snprintf(line, sizeof(line), "%s failed: %s", what, text);
        if (s->cb.log)
            s->cb.log(s->ctx, line);
    }
    /* The store's text may name files: the client gets the kind only. */
    static const char *const kinds[] = {
        [STORE_OK] = "failed",
        [STORE_ERR_NOTFOUND] = "no such mailbox or message",
        [STORE_ERR_EXISTS] = "the mailbox exists already",
        [STORE_ERR_INVALID] = "invalid name or argument",
        [STORE_ERR_NOTALLOWED] = "not allowed",
        [STORE_ERR_QUOTA] = "quota exceeded",
        [STORE_ERR_LIMIT] = "a limit was reached",
        [STORE_ERR_EXPUNGED] = "a message was expunged meanwhile",
        [STORE_ERR_TEMP] = "temporary failure, try again later",
    };
    return imap_cmd_no(s, cmd, "%s%s: %s", code, what,
                       (size_t)e < sizeof(kinds) / sizeof(kinds[0]) ? kinds[e] : "failed");
}

/* --- the selected folder --- */

void imap_write_flags(struct imap_session *s, const struct store_msg *m, struct buf *out)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } sys[] = {
        {STORE_FLAG_ANSWERED, "\\Answered"}, {STORE_FLAG_FLAGGED, "\\Flagged"},
        {STORE_FLAG_DELETED, "\\Deleted"},   {STORE_FLAG_SEEN, "\\Seen"},
        {STORE_FLAG_DRAFT, "\\Draft"},
    };
    buf_append_char(out, '(');
    bool first = true;
    for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
        if (m->flags & sys[i].bit) {
            if (!first)
                buf_append_char(out, ' ');
            buf_append_str(out, sys[i].name);
            first = false;
        }
    for (size_t i = 0; i < 32 && s->view && m->keywords >> i; i++) {
        if (!(m->keywords & (1u << i)))
            continue;
        const char *kw = store_view_keyword_name(s->view, i);
        if (kw) {
            if (!first)
                buf_append_char(out, ' ');
            buf_append_str(out, kw);
            first = false;
        }
    }
    if (m->recent) {
        if (!first)
            buf_append_char(out, ' ');
        buf_append_str(out, "\\Recent");
    }
    buf_append_char(out, ')');
}

static void write_flag_lists(struct imap_session *s)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_append_str(&b, "\\Answered \\Flagged \\Deleted \\Seen \\Draft");
    size_t nk = store_view_keyword_count(s->view);
    for (size_t i = 0; i < nk; i++) {
        const char *kw = store_view_keyword_name(s->view, i);
        if (kw)
            buf_printf(&b, " %s", kw);
    }
    imap_printf(s, "* FLAGS (%s)\r\n", b.data);
    if (store_view_readonly(s->view))
        imap_printf(s, "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
    else
        imap_printf(s, "* OK [PERMANENTFLAGS (%s \\*)] Flags permitted\r\n", b.data);
    buf_free(&b);
}

void imap_session_write_selected(struct imap_session *s)
{
    write_flag_lists(s);
    s->exists_sent = (uint32_t)store_view_count(s->view);
    s->recent_sent = store_view_recent_count(s->view);
    imap_printf(s, "* %u EXISTS\r\n* %u RECENT\r\n", s->exists_sent, s->recent_sent);
    long unseen = store_view_first_unseen(s->view);
    if (unseen >= 0)
        imap_printf(s, "* OK [UNSEEN %ld] First unseen\r\n", unseen + 1);
    imap_printf(s, "* OK [UIDVALIDITY %u] UIDs valid\r\n* OK [UIDNEXT %u] Predicted next UID\r\n",
                store_view_uidvalidity(s->view), store_view_uidnext(s->view));
    if (s->enabled & IMAP_ENABLED_CONDSTORE)
        imap_printf(s, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
                    (unsigned long long)store_view_highestmodseq(s->view));
}

void imap_session_sync(struct imap_session *s, bool allow_expunge)
{
    if (!s->view)
        return;
    s->notified = false;
    const struct store_sync_result *r = NULL;
    if (store_view_sync(s->view, allow_expunge ? 0 : STORE_SYNC_NO_EXPUNGE, &r) < 0 || !r)
        return;
    if (r->uidvalidity_changed) {
        imap_printf(s, "* BYE [UNAVAILABLE] The selected mailbox was deleted or rebuilt\r\n");
        s->closing = true;
        s->state = IMAP_STATE_LOGOUT;
        s->cb.close(s->ctx);
        return;
    }
    for (size_t i = 0; i < r->n_expunged; i++)
        imap_printf(s, "* %u EXPUNGE\r\n", r->expunged_seqs[i]);
    s->exists_sent -= (uint32_t)(r->n_expunged <= s->exists_sent ? r->n_expunged : s->exists_sent);
    if (r->keywords_changed)
        write_flag_lists(s);
    if (r->exists != s->exists_sent || r->n_new) {
        s->exists_sent = r->exists;
        imap_printf(s, "* %u EXISTS\r\n", r->exists);
    }
    if (r->recent != s->recent_sent) {
        s->recent_sent = r->recent;
        imap_printf(s, "* %u RECENT\r\n", r->recent);
    }
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (size_t i = 0; i < r->n_flags; i++) {
        long idx = store_view_find_uid(s->view, r->flag_uids[i]);
        if (idx < 0)
            continue;
        const struct store_msg *m = store_view_msg(s->view, (size_t)idx);
        buf_reset(&b);
        buf_printf(&b, "* %ld FETCH (UID %u FLAGS ", idx + 1, m->uid);
        imap_write_flags(s, m, &b);
        if (s->enabled & IMAP_ENABLED_CONDSTORE)
            buf_printf(&b, " MODSEQ (%llu)", (unsigned long long)m->modseq);
        buf_append_str(&b, ")\r\n");
        imap_write(s, b.data, b.len);
    }
    buf_free(&b);
}

void imap_session_changed(struct imap_session *s, const char *folder)
{
    if (!folder && s->view)
        folder = store_view_name(s->view);
    if (folder && s->cb.changed)
        s->cb.changed(s->ctx, folder);
}

void imap_session_deselect(struct imap_session *s)
{
    store_view_close(&s->view);
    s->exists_sent = s->recent_sent = 0;
    s->condstore_seen = false;
    if (s->state == IMAP_STATE_SELECTED)
        s->state = IMAP_STATE_AUTH;
}

int imap_mailbox_to_store(const char *name, size_t len, char *out, size_t outsize)
{
    if (len == 0 || len >= outsize || memchr(name, '\0', len))
        return -1;
    if (len == 5 && str_eqn_ci(name, "INBOX", 5)) {
        str_copy(out, outsize, "INBOX");
        return 0;
    }
    if (!imap_utf7_valid(name, len))
        return -1;
    str_copyn(out, outsize, name, len);
    return store_folder_name_valid(out) ? 0 : -1;
}

/* --- life --- */

struct imap_session *imap_session_new(const struct imap_session_settings *set,
                                      const struct imap_session_callbacks *cb, void *ctx)
{
    struct imap_session *s = xcalloc(1, sizeof(*s));
    s->set = *set;
    s->cb = *cb;
    s->ctx = ctx;
    s->tls = set->tls;
    s->parser = imap_parser_new(set->max_append);
    buf_init(&s->out, BUF_UNLIMITED);
    struct buf caps;
    buf_init(&caps, 4096);
    imap_capabilities(s, &caps);
    imap_printf(s, "* OK [CAPABILITY %s] %s IMAP server ready\r\n", caps.data,
                set->hostname && set->hostname[0] ? set->hostname : "postino");
    buf_free(&caps);
    if (s->cb.set_timeout)
        s->cb.set_timeout(s->ctx, PREAUTH_TIMEOUT);
    return s;
}

static void cmd_clear(struct imap_session *s)
{
    if (s->cmd.state && s->cmd.state_free)
        s->cmd.state_free(s->cmd.state);
    memset(&s->cmd, 0, sizeof(s->cmd));
    s->cmd_active = false;
}

void imap_session_free(struct imap_session **sp)
{
    struct imap_session *s = *sp;
    if (!s)
        return;
    cmd_clear(s);
    imap_append_abort(s);
    store_view_close(&s->view);
    store_account_unref(&s->acc);
    imap_parser_free(&s->parser);
    buf_free(&s->out);
    free(s);
    *sp = NULL;
}

bool imap_session_busy(const struct imap_session *s)
{
    return s->starttls_pending || (s->cmd_active && s->line_for == IMAP_LINE_NONE);
}

bool imap_session_closing(const struct imap_session *s)
{
    return s->closing;
}

bool imap_session_idling(const struct imap_session *s)
{
    return s->idling;
}

const char *imap_session_user(const struct imap_session *s)
{
    return s->state == IMAP_STATE_AUTH || s->state == IMAP_STATE_SELECTED ? s->user : NULL;
}

const char *imap_session_folder(const struct imap_session *s)
{
    return s->view ? store_view_name(s->view) : NULL;
}

struct store_account *imap_session_account(const struct imap_session *s)
{
    return s->acc;
}

static void session_close(struct imap_session *s)
{
    if (s->closing)
        return;
    s->closing = true;
    s->cb.close(s->ctx);
}

void imap_session_timeout(struct imap_session *s)
{
    if (s->closing)
        return;
    imap_printf(s, "* BYE Disconnected for inactivity\r\n");
    session_close(s);
}

void imap_session_shutdown(struct imap_session *s)
{
    if (s->closing)
        return;
    imap_printf(s, "* BYE [UNAVAILABLE] Server shutting down\r\n");
    session_close(s);
}

void imap_session_tls_started(struct imap_session *s)
{
    s->tls = true;
    s->starttls_pending = false;
}

/* --- running commands --- */

static void cmd_status(struct imap_session *s, enum imap_cmd_status st)
{
    if (st == IMAP_CMD_DONE) {
        cmd_clear(s);
        if (s->bad_commands >= BAD_COMMANDS_MAX) {
            imap_printf(s, "* BYE Too many invalid commands\r\n");
            session_close(s);
        }
        return;
    }
    s->cmd_active = true;
    if (st == IMAP_CMD_MORE) {
        if (s->cb.want_output)
            s->cb.want_output(s->ctx);
    }
}

void imap_session_cmd_finish(struct imap_session *s)
{
    cmd_status(s, IMAP_CMD_DONE);
}

void imap_session_output_drained(struct imap_session *s)
{
    if (!s->cmd_active || !s->cmd.resume || s->closing)
        return;
    cmd_status(s, s->cmd.resume(s, &s->cmd));
}

static void run_command(struct imap_session *s, const struct imap_command *pc)
{
    struct imap_cmd *cmd = &s->cmd;
    memset(cmd, 0, sizeof(*cmd));
    str_copy(cmd->tag, sizeof(cmd->tag), pc->tag);
    const char *name = pc->name;
    cmd->args = pc->args;
    cmd->count = pc->count;
    if (strcmp(name, "UID") == 0) {
        const char *sub = cmd->count ? imap_arg_atom(&cmd->args[0]) : NULL;
        char upper[IMAP_COMMAND_NAME_MAX + 1];
        if (!sub || str_copy(upper, sizeof(upper), sub) < 0) {
            cmd_status(s, imap_cmd_bad(s, cmd, "UID needs a command"));
            return;
        }
        for (char *p = upper; *p; p++)
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        cmd->def = imap_command_find(upper);
        if (!cmd->def || !cmd->def->uid_ok) {
            cmd->def = NULL;
            cmd_status(s, imap_cmd_bad(s, cmd, "Unknown UID command"));
            return;
        }
        cmd->uid = true;
        cmd->args++;
        cmd->count--;
    } else {
        cmd->def = imap_command_find(name);
    }
    if (!cmd->def) {
        cmd_status(s, imap_cmd_bad(s, cmd, "Unknown command"));
        return;
    }
    unsigned bit = s->state == IMAP_STATE_NOT_AUTH ? IMAP_IN_NOT_AUTH
                   : s->state == IMAP_STATE_AUTH   ? IMAP_IN_AUTH
                                                   : IMAP_IN_SELECTED;
    if (!(cmd->def->states & bit)) {
        const char *why = s->state == IMAP_STATE_NOT_AUTH        ? "Log in first"
                          : cmd->def->states == IMAP_IN_SELECTED ? "No mailbox selected"
                                                                 : "Not allowed now";
        cmd_status(s, imap_cmd_bad(s, cmd, "%s", why));
        return;
    }
    cmd_status(s, cmd->def->fn(s, cmd));
}

/* A literal is announced: APPEND's message goes to the store as it
 * arrives; other commands' literals are small and read whole. */
static void on_literal(struct imap_session *s)
{
    const struct imap_literal_info *li = imap_parser_literal(s->parser);
    bool append = li->partial.name && (strcmp(li->partial.name, "APPEND") == 0);
    if (append && s->state != IMAP_STATE_NOT_AUTH) {
        if (imap_append_literal(s, li)) {
            imap_parser_literal_accept(s->parser, true);
            if (!li->nonsync)
                imap_printf(s, "+ Ready for literal data\r\n");
        } else {
            imap_parser_literal_refuse(s->parser);
        }
        return;
    }
    if (li->size > LITERAL_SMALL_MAX) {
        imap_printf(s, "%s NO [TOOBIG] Literal too large\r\n", imap_parser_tag(s->parser));
        imap_parser_literal_refuse(s->parser);
        return;
    }
    imap_parser_literal_accept(s->parser, false);
    if (!li->nonsync)
        imap_printf(s, "+ Ready for literal data\r\n");
}

size_t imap_session_input(struct imap_session *s, const char *data, size_t len)
{
    size_t total = 0;
    while (total < len && !s->closing && !imap_session_busy(s)) {
        size_t used = 0;
        enum imap_parse_status st = imap_parser_feed(s->parser, data + total, len - total, &used);
        total += used;
        switch (st) {
        case IMAP_PARSE_NEED_MORE:
            return total;
        case IMAP_PARSE_LITERAL:
            on_literal(s);
            break;
        case IMAP_PARSE_LITERAL_DATA: {
            size_t n;
            bool last;
            const char *piece = imap_parser_literal_data(s->parser, &n, &last);
            imap_append_data(s, piece, n);
            break;
        }
        case IMAP_PARSE_COMMAND:
            run_command(s, imap_parser_command(s->parser));
            break;
        case IMAP_PARSE_LINE: {
            size_t n;
            const char *line = imap_parser_line(s->parser, &n);
            if (s->line_for == IMAP_LINE_AUTHENTICATE)
                imap_session_authenticate_line(s, line, n);
            else if (s->line_for == IMAP_LINE_IDLE)
                imap_session_idle_line(s, line, n);
            break;
        }
        case IMAP_PARSE_ERROR:
            if (s->line_for != IMAP_LINE_NONE) {
                /* The raw line was bad (too long, a bare CR): it ends what
                 * waited for it. */
                if (s->line_for == IMAP_LINE_AUTHENTICATE)
                    imap_session_authenticate_line(s, "*", 1);
                else
                    imap_session_idle_line(s, "", 0);
                break;
            }
            imap_append_abort(s);
            s->bad_commands++;
            imap_printf(s, "%s BAD %s\r\n", imap_parser_tag(s->parser),
                        imap_parser_error(s->parser));
            if (s->bad_commands >= BAD_COMMANDS_MAX) {
                imap_printf(s, "* BYE Too many invalid commands\r\n");
                session_close(s);
            }
            break;
        case IMAP_PARSE_FATAL:
            imap_append_abort(s);
            imap_printf(s, "* BYE %s\r\n", imap_parser_error(s->parser));
            session_close(s);
            break;
        }
    }
    return total;
}

void imap_session_notify(struct imap_session *s)
{
    s->notified = true;
    if (s->idling && !s->closing)
        imap_session_sync(s, true);
}
