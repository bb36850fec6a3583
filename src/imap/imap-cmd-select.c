/* imap-cmd-select: choosing and leaving a folder (SELECT, EXAMINE, CLOSE,
 * UNSELECT) and what acts on the whole selection (CHECK, EXPUNGE, UID
 * EXPUNGE). */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-seqset.h"
#include "imap/imap-session-private.h"
#include "lib/str.h"

enum imap_cmd_status imap_cmd_select(struct imap_session *s, struct imap_cmd *cmd)
{
    bool examine = strcmp(cmd->def->name, "EXAMINE") == 0;
    size_t len;
    const char *name = cmd->count >= 1 ? imap_arg_astring(&cmd->args[0], &len) : NULL;
    if (!name || cmd->count > 2)
        return imap_cmd_bad(s, cmd, "%s needs a mailbox name", cmd->def->name);
    bool condstore = false;
    if (cmd->count == 2) {
        /* RFC 4466 select parameters: only CONDSTORE (RFC 7162 3.1.8). */
        const struct imap_arg *p = &cmd->args[1];
        if (p->type != IMAP_ARG_LIST)
            return imap_cmd_bad(s, cmd, "Invalid select parameters");
        for (size_t i = 0; i < p->count; i++) {
            if (!imap_arg_atom_is(&p->list[i], "CONDSTORE"))
                return imap_cmd_bad(s, cmd, "Unknown select parameter");
            condstore = true;
        }
    }
    /* Leaving a folder: its \Deleted messages stay (only CLOSE expunges). */
    imap_session_deselect(s);
    char folder[STORE_FOLDER_NAME_MAX + 1];
    if (imap_mailbox_to_store(name, len, folder, sizeof(folder)) < 0)
        return imap_cmd_no(s, cmd, "[NONEXISTENT] No such mailbox");
    s->view = store_view_open(s->acc, folder, examine ? STORE_VIEW_READONLY : 0);
    if (!s->view)
        return imap_cmd_store_error(s, cmd, examine ? "EXAMINE" : "SELECT");
    if (condstore)
        s->enabled |= IMAP_ENABLED_CONDSTORE;
    s->state = IMAP_STATE_SELECTED;
    imap_session_write_selected(s);
    return imap_cmd_ok(s, cmd, "[%s] %s completed", examine ? "READ-ONLY" : "READ-WRITE",
                       cmd->def->name);
}

enum imap_cmd_status imap_cmd_close(struct imap_session *s, struct imap_cmd *cmd)
{
    if (cmd->count)
        return imap_cmd_bad(s, cmd, "CLOSE takes no arguments");
    /* RFC 3501 6.4.2: expunge silently (no EXPUNGE responses), unless the
     * folder was opened with EXAMINE. */
    bool changed = false;
    if (!store_view_readonly(s->view)) {
        size_t n = 0;
        if (store_view_expunge(s->view, NULL, 0, &n) == 0 && n > 0)
            changed = true;
    }
    char folder[STORE_FOLDER_NAME_MAX + 1];
    str_copy(folder, sizeof(folder), store_view_name(s->view));
    imap_session_deselect(s);
    if (changed)
        imap_session_changed(s, folder);
    return imap_cmd_ok(s, cmd, "CLOSE completed");
}

enum imap_cmd_status imap_cmd_unselect(struct imap_session *s, struct imap_cmd *cmd)
{
    if (cmd->count)
        return imap_cmd_bad(s, cmd, "UNSELECT takes no arguments");
    imap_session_deselect(s);
    return imap_cmd_ok(s, cmd, "UNSELECT completed");
}

enum imap_cmd_status imap_cmd_check(struct imap_session *s, struct imap_cmd *cmd)
{
    if (cmd->count)
        return imap_cmd_bad(s, cmd, "CHECK takes no arguments");
    /* Every change is on disk when its command completes: nothing to do. */
    return imap_cmd_ok(s, cmd, "CHECK completed");
}

enum imap_cmd_status imap_cmd_expunge(struct imap_session *s, struct imap_cmd *cmd)
{
    if (store_view_readonly(s->view))
        return imap_cmd_no(s, cmd, "[READ-ONLY] The mailbox is read-only");
    uint32_t *uids = NULL;
    size_t n = 0;
    if (cmd->uid) {
        /* UID EXPUNGE set (RFC 4315 2.1): only those of the set. */
        size_t len;
        const char *text = cmd->count == 1 ? imap_arg_atom(&cmd->args[0]) : NULL;
        struct imap_seqset set;
        imap_seqset_init(&set);
        const char *why;
        if (!text || (len = strlen(text), imap_seqset_parse(text, len, &set, &why) < 0)) {
            imap_seqset_free(&set);
            return imap_cmd_bad(s, cmd, "UID EXPUNGE needs a UID set");
        }
        uint32_t uidnext = store_view_uidnext(s->view);
        imap_seqset_resolve(&set, uidnext > 1 ? uidnext - 1 : 0);
        size_t count = store_view_count(s->view);
        uids = calloc(count ? count : 1, sizeof(*uids));
        if (!uids) {
            imap_seqset_free(&set);
            return imap_cmd_no(s, cmd, "[SERVERBUG] Out of memory");
        }
        for (size_t i = 0; i < count; i++) {
            const struct store_msg *m = store_view_msg(s->view, i);
            if (!m->expunged && imap_seqset_contains(&set, m->uid))
                uids[n++] = m->uid;
        }
        imap_seqset_free(&set);
        if (n == 0) {
            free(uids);
            return imap_cmd_ok(s, cmd, "UID EXPUNGE completed");
        }
    } else if (cmd->count) {
        return imap_cmd_bad(s, cmd, "EXPUNGE takes no arguments");
    }
    size_t expunged = 0;
    int rc = store_view_expunge(s->view, uids, n, &expunged);
    free(uids);
    if (rc < 0)
        return imap_cmd_store_error(s, cmd, "EXPUNGE");
    if (expunged)
        imap_session_changed(s, NULL);
    return imap_cmd_ok(s, cmd, "%sEXPUNGE completed", cmd->uid ? "UID " : "");
}
