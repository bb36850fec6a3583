/* imap-cmd-store: what changes messages of the selected folder or copies
 * them elsewhere: STORE and UID STORE (RFC 3501 6.4.6, UNCHANGEDSINCE and
 * MODIFIED of RFC 7162 3.1.3), COPY and UID COPY (6.4.7, COPYUID of RFC
 * 4315), MOVE and UID MOVE (RFC 6851). */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-fetch-parse.h"
#include "imap/imap-seqset.h"
#include "imap/imap-session-private.h"
#include "lib/str.h"

/* The longest response code with two UID sets we write (COPYUID): sets
 * past it are dropped (the copy itself is done; RFC 4315 allows leaving
 * the code out). */
#define COPYUID_MAX (256 * 1024)

/* The messages a set argument names, as indexes into the view and UIDs. */
struct msg_list {
    uint32_t *uids;
    size_t n;
};

static void msg_list_free(struct msg_list *l)
{
    free(l->uids);
    l->uids = NULL;
    l->n = 0;
}

/* The largest UID in the view ("*" of a UID set), 0 when it is empty. */
static uint32_t view_max_uid(struct store_view *v)
{
    size_t count = store_view_count(v);
    return count ? store_view_msg(v, count - 1)->uid : 0;
}

/* Resolve the set argument (sequence numbers, or UIDs for UID commands)
 * into the UIDs of the view's messages, ascending; messages expunged
 * meanwhile are left out. Returns 0, or -1 with a static reason for BAD
 * (syntax, or a sequence number past the count) in *error_r. */
static int resolve_set(struct imap_session *s, struct imap_cmd *cmd, const struct imap_arg *arg,
                       struct msg_list *out, const char **error_r)
{
    memset(out, 0, sizeof(*out));
    const char *text = imap_arg_atom(arg);
    if (!text) {
        *error_r = "Invalid sequence set";
        return -1;
    }
    struct imap_seqset set;
    imap_seqset_init(&set);
    if (imap_seqset_parse(text, arg->len, &set, error_r) < 0) {
        imap_seqset_free(&set);
        return -1;
    }
    size_t count = store_view_count(s->view);
    out->uids = malloc((count ? count : 1) * sizeof(*out->uids));
    if (!out->uids) {
        imap_seqset_free(&set);
        *error_r = "Out of memory";
        return -1;
    }
    if (cmd->uid) {
        imap_seqset_resolve(&set, view_max_uid(s->view));
        for (size_t i = 0; i < count && set.count; i++) {
            const struct store_msg *m = store_view_msg(s->view, i);
            if (!m->expunged && imap_seqset_contains(&set, m->uid))
                out->uids[out->n++] = m->uid;
        }
    } else {
        imap_seqset_resolve(&set, (uint32_t)count);
        if (imap_seqset_last(&set) > count) {
            imap_seqset_free(&set);
            msg_list_free(out);
            *error_r = "Invalid message number";
            return -1;
        }
        struct imap_seqset_iter it = {0};
        uint32_t seq;
        while (imap_seqset_next(&set, &it, &seq)) {
            const struct store_msg *m = store_view_msg(s->view, seq - 1);
            if (m && !m->expunged)
                out->uids[out->n++] = m->uid;
        }
    }
    imap_seqset_free(&set);
    return 0;
}

/* The FLAGS and PERMANENTFLAGS lines again, after STORE defined a keyword
 * (the view's own definitions are not reported by its next sync). */
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
    imap_printf(s, "* OK [PERMANENTFLAGS (%s \\*)] Flags permitted\r\n", b.data);
    buf_free(&b);
}

/* The system flag bit of a canonical name from imap_flag_check(), or 0. */
static uint32_t system_flag(const char *name)
{
    static const struct {
        const char *name;
        uint32_t bit;
    } sys[] = {
        {"\\Answered", STORE_FLAG_ANSWERED}, {"\\Flagged", STORE_FLAG_FLAGGED},
        {"\\Deleted", STORE_FLAG_DELETED},   {"\\Seen", STORE_FLAG_SEEN},
        {"\\Draft", STORE_FLAG_DRAFT},
    };
    for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
        if (strcmp(name, sys[i].name) == 0)
            return sys[i].bit;
    return 0;
}

/* Turn the parsed flags into bits, defining new keywords unless they are
 * only removed. *defined_r tells whether a keyword was defined. 0, or -1
 * (the store's failure recorded on the account). */
static int store_bits(struct imap_session *s, const struct imap_store *st, uint32_t *flags_r,
                      uint32_t *keywords_r, bool *defined_r)
{
    *flags_r = *keywords_r = 0;
    *defined_r = false;
    size_t before = store_view_keyword_count(s->view);
    for (size_t i = 0; i < st->flag_count; i++) {
        const char *f = st->flags[i];
        if (f[0] == '\\') {
            *flags_r |= system_flag(f);
            continue;
        }
        int k = store_view_keyword_index(s->view, f, st->op != IMAP_STORE_REMOVE);
        if (k < 0) {
            if (st->op == IMAP_STORE_REMOVE)
                continue; /* never defined: no message has it */
            return -1;
        }
        *keywords_r |= 1u << k;
    }
    *defined_r = store_view_keyword_count(s->view) != before;
    return 0;
}

/* A sequence-set of the given UIDs (as sequence numbers unless uid) into
 * out; 0, or -1 past out's maximum. */
static int write_uid_set(struct imap_session *s, const uint32_t *uids, size_t n, bool uid,
                         struct buf *out)
{
    struct imap_seqset set;
    imap_seqset_init(&set);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint32_t num = uids[i];
        if (!uid) {
            long idx = store_view_find_uid(s->view, uids[i]);
            if (idx < 0)
                continue;
            num = (uint32_t)idx + 1;
        }
        rc = imap_seqset_append(&set, num);
    }
    if (rc == 0) {
        imap_seqset_normalize(&set);
        rc = imap_seqset_write(&set, out);
    }
    imap_seqset_free(&set);
    return rc;
}

/* One "* n FETCH (...)" for a message STORE changed. */
static void write_store_fetch(struct imap_session *s, struct imap_cmd *cmd, uint32_t uid,
                              bool flags, bool modseq, struct buf *b)
{
    long idx = store_view_find_uid(s->view, uid);
    if (idx < 0)
        return;
    const struct store_msg *m = store_view_msg(s->view, (size_t)idx);
    buf_reset(b);
    buf_printf(b, "* %ld FETCH (", idx + 1);
    const char *sep = "";
    if (cmd->uid) {
        buf_printf(b, "UID %u", m->uid);
        sep = " ";
    }
    if (flags) {
        buf_printf(b, "%sFLAGS ", sep);
        imap_write_flags(s, m, b);
        sep = " ";
    }
    if (modseq)
        buf_printf(b, "%sMODSEQ (%llu)", sep, (unsigned long long)m->modseq);
    buf_append_str(b, ")\r\n");
    imap_write(s, b->data, b->len);
}

enum imap_cmd_status imap_cmd_store(struct imap_session *s, struct imap_cmd *cmd)
{
    const char *why = NULL;
    if (cmd->count < 2)
        return imap_cmd_bad(s, cmd, "STORE needs a set, an item and flags");
    struct imap_store st;
    if (imap_store_parse(cmd->args + 1, cmd->count - 1, &st, &why) < 0)
        return imap_cmd_bad(s, cmd, "%s", why);
    struct msg_list list;
    if (resolve_set(s, cmd, &cmd->args[0], &list, &why) < 0) {
        imap_store_free(&st);
        return imap_cmd_bad(s, cmd, "%s", why);
    }
    if (store_view_readonly(s->view)) {
        imap_store_free(&st);
        msg_list_free(&list);
        return imap_cmd_no(s, cmd, "[READ-ONLY] The mailbox is read-only");
    }
    if (st.has_unchangedsince) {
        /* RFC 7162 3.1: a CONDSTORE-enabling command. */
        s->enabled |= IMAP_ENABLED_CONDSTORE;
        s->condstore_seen = true;
    }
    bool condstore = (s->enabled & IMAP_ENABLED_CONDSTORE) != 0;

    uint32_t flags, keywords;
    bool defined;
    if (store_bits(s, &st, &flags, &keywords, &defined) < 0) {
        imap_store_free(&st);
        msg_list_free(&list);
        return imap_cmd_store_error(s, cmd, "STORE");
    }
    if (defined)
        write_flag_lists(s);

    const uint32_t *changed = NULL, *modified = NULL;
    size_t n_changed = 0, n_modified = 0;
    if (st.has_unchangedsince && st.unchangedsince == 0) {
        /* Every modseq is above 0: the test fails for every message. */
        modified = list.uids;
        n_modified = list.n;
    } else if (list.n > 0) {
        const struct store_store_result *res = NULL;
        enum store_flag_op op = st.op == IMAP_STORE_ADD      ? STORE_FLAGS_ADD
                                : st.op == IMAP_STORE_REMOVE ? STORE_FLAGS_REMOVE
                                                             : STORE_FLAGS_SET;
        if (store_view_store(s->view, list.uids, list.n, op, flags, keywords,
                             st.has_unchangedsince ? st.unchangedsince : 0, &res) < 0) {
            imap_store_free(&st);
            msg_list_free(&list);
            return imap_cmd_store_error(s, cmd, "STORE");
        }
        if (res) {
            changed = res->changed_uids;
            n_changed = res->n_changed;
            modified = res->modified_uids;
            n_modified = res->n_modified;
        }
    }

    /* RFC 7162 3.2: with CONDSTORE on, the changed messages get their
     * MODSEQ even after .SILENT. */
    if (!st.silent || condstore) {
        struct buf b;
        buf_init(&b, BUF_UNLIMITED);
        for (size_t i = 0; i < n_changed; i++)
            write_store_fetch(s, cmd, changed[i], !st.silent, condstore, &b);
        buf_free(&b);
    }
    if (n_changed > 0 || defined)
        imap_session_changed(s, NULL);

    enum imap_cmd_status rc;
    if (n_modified > 0) {
        struct buf set;
        buf_init(&set, BUF_UNLIMITED);
        write_uid_set(s, modified, n_modified, cmd->uid, &set);
        rc = imap_cmd_ok(s, cmd, "[MODIFIED %s] Conditional STORE failed", buf_cstr(&set));
        buf_free(&set);
    } else {
        rc = imap_cmd_ok(s, cmd, "%sSTORE completed", cmd->uid ? "UID " : "");
    }
    imap_store_free(&st);
    msg_list_free(&list);
    return rc;
}

/* COPY and MOVE: the arguments, the copy, COPYUID. */
static enum imap_cmd_status copy_or_move(struct imap_session *s, struct imap_cmd *cmd, bool move)
{
    const char *what = move ? "MOVE" : "COPY";
    size_t len;
    const char *name = cmd->count == 2 ? imap_arg_astring(&cmd->args[1], &len) : NULL;
    if (!name)
        return imap_cmd_bad(s, cmd, "%s needs a set and a mailbox name", what);
    const char *why = NULL;
    struct msg_list list;
    if (resolve_set(s, cmd, &cmd->args[0], &list, &why) < 0)
        return imap_cmd_bad(s, cmd, "%s", why);
    char folder[STORE_FOLDER_NAME_MAX + 1];
    if (imap_mailbox_to_store(name, len, folder, sizeof(folder)) < 0 ||
        !store_folder_exists(s->acc, folder)) {
        msg_list_free(&list);
        return imap_cmd_no(s, cmd, "[TRYCREATE] No such mailbox");
    }
    if (move && store_view_readonly(s->view)) {
        msg_list_free(&list);
        return imap_cmd_no(s, cmd, "[READ-ONLY] The mailbox is read-only");
    }
    if (list.n == 0) {
        msg_list_free(&list);
        return imap_cmd_ok(s, cmd, "%s%s completed: no messages", cmd->uid ? "UID " : "", what);
    }
    uint32_t uidvalidity = 0;
    uint32_t *src = NULL, *dst = NULL;
    size_t n = 0;
    int rc =
        move ? store_view_move(s->view, list.uids, list.n, folder, &uidvalidity, &src, &dst, &n)
             : store_view_copy(s->view, list.uids, list.n, folder, &uidvalidity, &src, &dst, &n);
    msg_list_free(&list);
    if (rc < 0) {
        const char *text;
        if (store_account_error(s->acc, &text) == STORE_ERR_NOTFOUND)
            return imap_cmd_no(s, cmd, "[TRYCREATE] No such mailbox");
        return imap_cmd_store_error(s, cmd, what);
    }
    imap_session_changed(s, folder);
    if (move || strcmp(folder, store_view_name(s->view)) == 0)
        imap_session_changed(s, NULL);

    /* [COPYUID uidvalidity source-set dest-set], both in copy order. */
    struct buf code;
    buf_init(&code, COPYUID_MAX);
    struct imap_seqset a, b;
    imap_seqset_init(&a);
    imap_seqset_init(&b);
    bool ok = n > 0;
    for (size_t i = 0; i < n && ok; i++)
        ok = imap_seqset_append(&a, src[i]) == 0 && imap_seqset_append(&b, dst[i]) == 0;
    ok = ok && buf_printf(&code, "[COPYUID %u ", uidvalidity) == 0 &&
         imap_seqset_write(&a, &code) == 0 && buf_append_char(&code, ' ') == 0 &&
         imap_seqset_write(&b, &code) == 0 && buf_append_str(&code, "] ") == 0;
    if (!ok)
        buf_reset(&code);
    imap_seqset_free(&a);
    imap_seqset_free(&b);
    free(src);
    free(dst);

    enum imap_cmd_status st;
    if (move) {
        /* RFC 6851 3.3: COPYUID goes in an untagged OK before the
         * expunges, which come before the tagged reply. */
        if (code.len)
            imap_printf(s, "* OK %sMoved\r\n", code.data);
        imap_session_sync(s, true);
        st = imap_cmd_ok(s, cmd, "%sMOVE completed", cmd->uid ? "UID " : "");
    } else {
        st = imap_cmd_ok(s, cmd, "%s%sCOPY completed", buf_cstr(&code), cmd->uid ? "UID " : "");
    }
    buf_free(&code);
    return st;
}

enum imap_cmd_status imap_cmd_copy(struct imap_session *s, struct imap_cmd *cmd)
{
    return copy_or_move(s, cmd, false);
}

enum imap_cmd_status imap_cmd_move(struct imap_session *s, struct imap_cmd *cmd)
{
    return copy_or_move(s, cmd, true);
}
