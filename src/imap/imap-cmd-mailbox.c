/* imap-cmd-mailbox: the commands on mailboxes as a whole (CREATE, DELETE,
 * RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST with LIST-EXTENDED, LIST-STATUS and
 * SPECIAL-USE, LSUB, STATUS, NAMESPACE). */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-list-args.h"
#include "imap/imap-list-select.h"
#include "imap/imap-quote.h"
#include "imap/imap-session-private.h"
#include "lib/str.h"

#define SEP '.'

/* The store's name for a mailbox argument: 1, 0 if the argument is a
 * string that names no possible folder, -1 if it is not an astring. */
static int mailbox_arg(const struct imap_arg *a, bool strip_sep, char *out, size_t outsize)
{
    size_t len;
    const char *name = imap_arg_astring(a, &len);
    if (!name)
        return -1;
    /* RFC 3501 6.3.3: "foo." declares that names will be made under foo */
    if (strip_sep && len > 1 && name[len - 1] == SEP)
        len--;
    return imap_mailbox_to_store(name, len, out, outsize) == 0 ? 1 : 0;
}

/* Is name the folder the session has selected? */
static bool is_selected(struct imap_session *s, const char *name)
{
    return s->view && strcmp(store_view_name(s->view), name) == 0;
}

/* RFC 6154 3: CREATE's (USE (\Sent ...)). The store gives the special
 * uses by name (store.h: the folders Sent, Drafts, Trash, Junk and Archive
 * every account has), so a USE can only repeat the use the name has.
 * 1 fine, 0 for [USEATTR], -1 for BAD. */
static int create_params(const struct imap_arg *p, const char *name)
{
    static const struct {
        const char *flag;
        const char *folder; /* NULL: a use no folder can have here */
    } uses[] = {
        {"\\Sent", "Sent"},       {"\\Drafts", "Drafts"}, {"\\Trash", "Trash"}, {"\\Junk", "Junk"},
        {"\\Archive", "Archive"}, {"\\All", NULL},        {"\\Flagged", NULL},
    };
    if (p->type != IMAP_ARG_LIST || p->count == 0)
        return -1;
    int ok = 1;
    for (size_t i = 0; i < p->count; i += 2) {
        if (!imap_arg_atom_is(&p->list[i], "USE") || i + 1 >= p->count ||
            p->list[i + 1].type != IMAP_ARG_LIST)
            return -1;
        const struct imap_arg *l = &p->list[i + 1];
        if (l->count > 1)
            ok = 0; /* a folder has one use at most */
        for (size_t k = 0; k < l->count; k++) {
            size_t u = 0;
            while (u < sizeof(uses) / sizeof(uses[0]) &&
                   !imap_arg_atom_is(&l->list[k], uses[u].flag))
                u++;
            if (u == sizeof(uses) / sizeof(uses[0])) {
                const char *t = imap_arg_atom(&l->list[k]);
                if (!t || t[0] != '\\')
                    return -1;
                ok = 0; /* a use we do not know */
                continue;
            }
            if (!uses[u].folder || strcmp(uses[u].folder, name) != 0)
                ok = 0;
        }
    }
    return ok;
}

enum imap_cmd_status imap_cmd_create(struct imap_session *s, struct imap_cmd *cmd)
{
    char name[STORE_FOLDER_NAME_MAX + 1];
    int r = cmd->count == 1 || cmd->count == 2
                ? mailbox_arg(&cmd->args[0], true, name, sizeof(name))
                : -1;
    if (r < 0)
        return imap_cmd_bad(s, cmd, "CREATE needs a mailbox name");
    if (r == 0)
        return imap_cmd_no(s, cmd, "[CANNOT] Invalid mailbox name");
    if (cmd->count == 2) {
        int u = create_params(&cmd->args[1], name);
        if (u < 0)
            return imap_cmd_bad(s, cmd, "Invalid CREATE parameters");
        if (u == 0)
            return imap_cmd_no(s, cmd, "[USEATTR] This special use cannot be given to the mailbox");
    }
    if (strcmp(name, "INBOX") == 0)
        return imap_cmd_no(s, cmd, "[ALREADYEXISTS] INBOX always exists");
    if (store_folder_create(s->acc, name) < 0)
        return imap_cmd_store_error(s, cmd, "CREATE");
    return imap_cmd_ok(s, cmd, "CREATE completed");
}

enum imap_cmd_status imap_cmd_delete(struct imap_session *s, struct imap_cmd *cmd)
{
    char name[STORE_FOLDER_NAME_MAX + 1];
    int r = cmd->count == 1 ? mailbox_arg(&cmd->args[0], false, name, sizeof(name)) : -1;
    if (r < 0)
        return imap_cmd_bad(s, cmd, "DELETE needs a mailbox name");
    if (r == 0)
        return imap_cmd_no(s, cmd, "[NONEXISTENT] No such mailbox");
    if (strcmp(name, "INBOX") == 0)
        return imap_cmd_no(s, cmd, "[CANNOT] INBOX cannot be deleted");
    /* Deleting the selected folder closes it first (the untagged CLOSED
     * of RFC 7162 tells the client), rather than ending the session as a
     * deleted folder does for other sessions. */
    bool was_selected = is_selected(s, name);
    if (was_selected && !store_folder_exists(s->acc, name))
        was_selected = false;
    if (was_selected)
        imap_session_deselect(s);
    if (store_folder_delete(s->acc, name) < 0) {
        if (was_selected)
            imap_printf(s, "* OK [CLOSED] Mailbox closed\r\n");
        return imap_cmd_store_error(s, cmd, "DELETE");
    }
    if (was_selected)
        imap_printf(s, "* OK [CLOSED] Mailbox deleted\r\n");
    imap_session_changed(s, name);
    return imap_cmd_ok(s, cmd, "DELETE completed");
}

enum imap_cmd_status imap_cmd_rename(struct imap_session *s, struct imap_cmd *cmd)
{
    char from[STORE_FOLDER_NAME_MAX + 1], to[STORE_FOLDER_NAME_MAX + 1];
    int r1 = cmd->count == 2 ? mailbox_arg(&cmd->args[0], false, from, sizeof(from)) : -1;
    int r2 = cmd->count == 2 ? mailbox_arg(&cmd->args[1], false, to, sizeof(to)) : -1;
    if (r1 < 0 || r2 < 0)
        return imap_cmd_bad(s, cmd, "RENAME needs two mailbox names");
    if (r1 == 0)
        return imap_cmd_no(s, cmd, "[NONEXISTENT] No such mailbox");
    if (r2 == 0)
        return imap_cmd_no(s, cmd, "[CANNOT] Invalid new mailbox name");
    if (strcmp(to, "INBOX") == 0)
        return imap_cmd_no(s, cmd, "[ALREADYEXISTS] INBOX always exists");
    /* The selected folder's view follows a rename (same UIDVALIDITY); a
     * renamed INBOX sees its messages expunged at the next sync. */
    if (store_folder_rename(s->acc, from, to) < 0)
        return imap_cmd_store_error(s, cmd, "RENAME");
    imap_session_changed(s, from);
    return imap_cmd_ok(s, cmd, "RENAME completed");
}

static enum imap_cmd_status subscribe(struct imap_session *s, struct imap_cmd *cmd, bool on)
{
    const char *what = on ? "SUBSCRIBE" : "UNSUBSCRIBE";
    char name[STORE_FOLDER_NAME_MAX + 1];
    int r = cmd->count == 1 ? mailbox_arg(&cmd->args[0], false, name, sizeof(name)) : -1;
    if (r < 0)
        return imap_cmd_bad(s, cmd, "%s needs a mailbox name", what);
    if (r == 0)
        return imap_cmd_no(s, cmd, "[CANNOT] Invalid mailbox name");
    if (store_folder_subscribe(s->acc, name, on) < 0)
        return imap_cmd_store_error(s, cmd, what);
    return imap_cmd_ok(s, cmd, "%s completed", what);
}

enum imap_cmd_status imap_cmd_subscribe(struct imap_session *s, struct imap_cmd *cmd)
{
    return subscribe(s, cmd, true);
}

enum imap_cmd_status imap_cmd_unsubscribe(struct imap_session *s, struct imap_cmd *cmd)
{
    return subscribe(s, cmd, false);
}

/* --- STATUS --- */

/* The status of a folder; for the selected one, as the session's view
 * has it (synced first, so the client has been told of what changed). */
static int folder_status(struct imap_session *s, const char *name, struct store_status *st)
{
    if (!is_selected(s, name))
        return store_folder_status(s->acc, name, st);
    imap_session_sync(s, true);
    if (!s->view || s->closing)
        return store_folder_status(s->acc, name, st); /* the sync ended it */
    memset(st, 0, sizeof(*st));
    size_t n = store_view_count(s->view);
    for (size_t i = 0; i < n; i++) {
        const struct store_msg *m = store_view_msg(s->view, i);
        if (m->expunged)
            continue;
        st->messages++;
        st->size += m->size;
        if (!(m->flags & STORE_FLAG_SEEN))
            st->unseen++;
        if (m->flags & STORE_FLAG_DELETED)
            st->deleted++;
        if (m->recent)
            st->recent++;
    }
    st->uidnext = store_view_uidnext(s->view);
    st->uidvalidity = store_view_uidvalidity(s->view);
    st->highestmodseq = store_view_highestmodseq(s->view);
    return 0;
}

/* Write "* STATUS name (ITEM n ...)". */
static void write_status(struct imap_session *s, const char *name, unsigned items,
                         const struct store_status *st)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_append_str(&b, "* STATUS ");
    imap_quote_string(&b, name, strlen(name));
    buf_append_str(&b, " (");
    const char *sp = "";
    if (items & IMAP_STATUS_MESSAGES) {
        buf_printf(&b, "%sMESSAGES %u", sp, st->messages);
        sp = " ";
    }
    if (items & IMAP_STATUS_RECENT) {
        buf_printf(&b, "%sRECENT %u", sp, st->recent);
        sp = " ";
    }
    if (items & IMAP_STATUS_UIDNEXT) {
        buf_printf(&b, "%sUIDNEXT %u", sp, st->uidnext);
        sp = " ";
    }
    if (items & IMAP_STATUS_UIDVALIDITY) {
        buf_printf(&b, "%sUIDVALIDITY %u", sp, st->uidvalidity);
        sp = " ";
    }
    if (items & IMAP_STATUS_UNSEEN) {
        buf_printf(&b, "%sUNSEEN %u", sp, st->unseen);
        sp = " ";
    }
    if (items & IMAP_STATUS_DELETED) {
        buf_printf(&b, "%sDELETED %u", sp, st->deleted);
        sp = " ";
    }
    if (items & IMAP_STATUS_HIGHESTMODSEQ) {
        buf_printf(&b, "%sHIGHESTMODSEQ %llu", sp, (unsigned long long)st->highestmodseq);
        sp = " ";
    }
    if (items & IMAP_STATUS_SIZE)
        buf_printf(&b, "%sSIZE %llu", sp, (unsigned long long)st->size);
    buf_append_str(&b, ")\r\n");
    imap_write(s, b.data, b.len);
    buf_free(&b);
}

enum imap_cmd_status imap_cmd_status(struct imap_session *s, struct imap_cmd *cmd)
{
    char name[STORE_FOLDER_NAME_MAX + 1];
    int r = cmd->count == 2 ? mailbox_arg(&cmd->args[0], false, name, sizeof(name)) : -1;
    if (r < 0)
        return imap_cmd_bad(s, cmd, "STATUS needs a mailbox name and a list of items");
    unsigned items;
    const char *why;
    if (imap_list_args_status(&cmd->args[1], &items, &why) < 0)
        return imap_cmd_bad(s, cmd, "%s", why);
    if (r == 0)
        return imap_cmd_no(s, cmd, "[NONEXISTENT] No such mailbox");
    /* RFC 7162 3.1: STATUS HIGHESTMODSEQ turns CONDSTORE on. */
    if (items & IMAP_STATUS_HIGHESTMODSEQ)
        s->enabled |= IMAP_ENABLED_CONDSTORE;
    struct store_status st;
    if (folder_status(s, name, &st) < 0)
        return imap_cmd_store_error(s, cmd, "STATUS");
    write_status(s, name, items, &st);
    return imap_cmd_ok(s, cmd, "STATUS completed");
}

/* --- LIST, LSUB --- */

static enum imap_cmd_status list(struct imap_session *s, struct imap_cmd *cmd, bool lsub)
{
    struct imap_list_args args;
    const char *why;
    if (imap_list_args_parse(cmd->args, cmd->count, lsub, &args, &why) < 0)
        return imap_cmd_bad(s, cmd, "%s", why);
    const char *what = lsub ? "LSUB" : "LIST";
    /* RFC 3501 6.3.8: an empty pattern asks for the hierarchy delimiter
     * and the root of the reference (ours has one root, ""). */
    if (!lsub && args.n_patterns == 1 && args.patterns[0][0] == '\0' &&
        !(args.select & (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_SEL_SPECIAL_USE))) {
        imap_printf(s, "* LIST (\\Noselect) \".\" \"\"\r\n");
        return imap_cmd_ok(s, cmd, "LIST completed");
    }
    if (args.status & IMAP_STATUS_HIGHESTMODSEQ)
        s->enabled |= IMAP_ENABLED_CONDSTORE;
    struct store_folder_info *folders;
    size_t n;
    if (store_folder_list(s->acc, &folders, &n) < 0)
        return imap_cmd_store_error(s, cmd, what);
    struct imap_list_entry *e;
    size_t ne;
    int rc = imap_list_select(folders, n, &args, lsub, &e, &ne);
    free(folders);
    if (rc < 0)
        return imap_cmd_no(s, cmd, "[LIMIT] Too many mailboxes to list");
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (size_t i = 0; i < ne; i++) {
        buf_reset(&b);
        buf_append_str(&b, "* ");
        imap_list_format(&e[i], &args, lsub, &b);
        buf_append_str(&b, "\r\n");
        imap_write(s, b.data, b.len);
        /* RFC 5819: a STATUS after each selectable mailbox's LIST. */
        if ((args.ret & IMAP_LIST_RET_STATUS) &&
            !(e[i].attrs & (STORE_ATTR_NOSELECT | STORE_ATTR_NONEXISTENT))) {
            struct store_status st;
            if (folder_status(s, e[i].name, &st) == 0)
                write_status(s, e[i].name, args.status, &st);
        }
    }
    buf_free(&b);
    free(e);
    return imap_cmd_ok(s, cmd, "%s completed", what);
}

enum imap_cmd_status imap_cmd_list(struct imap_session *s, struct imap_cmd *cmd)
{
    return list(s, cmd, false);
}

enum imap_cmd_status imap_cmd_lsub(struct imap_session *s, struct imap_cmd *cmd)
{
    return list(s, cmd, true);
}

enum imap_cmd_status imap_cmd_namespace(struct imap_session *s, struct imap_cmd *cmd)
{
    if (cmd->count)
        return imap_cmd_bad(s, cmd, "NAMESPACE takes no arguments");
    /* RFC 2342: one personal namespace, no prefix; no others. */
    imap_printf(s, "* NAMESPACE ((\"\" \".\")) NIL NIL\r\n");
    return imap_cmd_ok(s, cmd, "NAMESPACE completed");
}
