/* imap-cmd-fetch: FETCH and UID FETCH (RFC 3501 6.4.5, CONDSTORE of RFC
 * 7162). The messages are answered one by one; when the client falls
 * behind reading, the command pauses (IMAP_CMD_MORE) and goes on when the
 * output has drained, so a FETCH of a whole large mailbox holds only one
 * message in memory. ENVELOPE, BODY and BODYSTRUCTURE are cached in the
 * store's index after their first computation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap/imap-bodystructure.h"
#include "imap/imap-envelope.h"
#include "imap/imap-fetch-parse.h"
#include "imap/imap-seqset.h"
#include "imap/imap-session-private.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "mime/mime-header.h"
#include "mime/mime-parse.h"
#include "mime/mime-section.h"

#define FETCH_LINE_MAX (64 * 1024 * 1024) /* one response without its literals */

struct fetch_state {
    struct imap_fetch spec;
    bool uid;                  /* UID FETCH: every response carries the UID */
    bool modseq;               /* MODSEQ in every response */
    bool needs_text;           /* an item needs the message's octets */
    uint32_t *uids;            /* the messages to answer, in order */
    size_t n, next;            /* how many; the next to answer */
    size_t hint;               /* the view index after the last answered */
    bool *seen_set;            /* uids[i] got \Seen from this FETCH */
    bool expunged;             /* some were expunged meanwhile */
    struct buf msg;            /* the message being answered (CRLF) */
    struct mime_message *mime; /* its parse, when needed */
    struct buf line;           /* the response being built */
};

static void fetch_state_free(void *p)
{
    struct fetch_state *f = p;
    imap_fetch_free(&f->spec);
    free(f->uids);
    free(f->seen_set);
    buf_free(&f->msg);
    mime_message_free(&f->mime);
    buf_free(&f->line);
    free(f);
}

/* "28-Nov-2026 08:00:00 +0000" (RFC 3501 date-time), in UTC. */
static void write_internaldate(struct buf *out, time_t t)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&t, &tm);
    buf_printf(out, "\"%02d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday, months[tm.tm_mon],
               tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Write len octets as a literal (NIL-free: an empty one is ""). */
static void write_literal(struct imap_session *s, struct fetch_state *f, const char *data,
                          size_t len)
{
    if (len == 0) {
        buf_append_str(&f->line, "\"\"");
        return;
    }
    buf_printf(&f->line, "{%zu}\r\n", len);
    /* The line so far goes out first, then the octets without a copy. */
    imap_write(s, f->line.data, f->line.len);
    buf_reset(&f->line);
    imap_write(s, data, len);
}

static int load_text(struct imap_session *s, struct fetch_state *f, uint32_t uid)
{
    if (f->msg.len || f->mime)
        return 0;
    if (store_view_msg_read(s->view, uid, true, &f->msg) < 0)
        return -1;
    return 0;
}

/* The header section of the message in f->msg (with its empty line):
 * what the MIME parse would give as the root's header, without parsing
 * the parts. Every line of f->msg ends in CRLF (the store converts). */
static size_t top_header_len(const struct fetch_state *f)
{
    const char *d = f->msg.data ? f->msg.data : "";
    size_t n = f->msg.len;
    if (n >= 2 && d[0] == '\r' && d[1] == '\n')
        return 2;
    const char *end = memmem(d, n, "\r\n\r\n", 4);
    return end ? (size_t)(end - d) + 4 : n;
}

static struct mime_message *load_mime(struct imap_session *s, struct fetch_state *f, uint32_t uid)
{
    if (f->mime)
        return f->mime;
    if (load_text(s, f, uid) < 0)
        return NULL;
    f->mime = mime_message_parse(f->msg.data ? f->msg.data : "", f->msg.len);
    return f->mime;
}

/* ENVELOPE, BODY or BODYSTRUCTURE, from the cache or computed and cached. */
static int write_structure(struct imap_session *s, struct fetch_state *f, uint32_t uid,
                           enum imap_fetch_type type)
{
    const char *key = type == IMAP_FETCH_ENVELOPE ? "envelope"
                      : type == IMAP_FETCH_BODY   ? "body"
                                                  : "bodystructure";
    size_t before = f->line.len;
    int got = store_view_cache_get(s->view, uid, key, &f->line);
    if (got == 1)
        return 0;
    buf_truncate(&f->line, before);
    int rc;
    if (type == IMAP_FETCH_ENVELOPE) {
        /* The header is enough. */
        if (load_text(s, f, uid) < 0)
            return -1;
        rc = imap_envelope_write(&f->line, f->msg.data ? f->msg.data : "", top_header_len(f));
    } else {
        struct mime_message *m = load_mime(s, f, uid);
        if (!m)
            return -1;
        rc = imap_bodystructure_write(&f->line, m, m->root, type == IMAP_FETCH_BODYSTRUCTURE);
    }
    if (rc < 0)
        return -1;
    store_view_cache_put(s->view, uid, key, f->line.data + before, f->line.len - before);
    return 0;
}

/* BODY[section]<partial> and the RFC822 forms. */
static int write_range(struct imap_session *s, struct fetch_state *f,
                       const struct imap_fetch_item *it, const char *data, size_t len);

static int write_section(struct imap_session *s, struct fetch_state *f, uint32_t uid,
                         const struct imap_fetch_item *it)
{
    size_t off = 0, len = 0;
    const char *base;
    if (it->part_count == 0 && it->kind != IMAP_SECTION_MIME) {
        /* The message itself, its header or its text: no need to parse
         * the parts (BODY[] of many messages is what clients fetch most). */
        if (load_text(s, f, uid) < 0)
            return -1;
        base = f->msg.data ? f->msg.data : "";
        size_t hlen = top_header_len(f);
        if (it->kind == IMAP_SECTION_WHOLE) {
            len = f->msg.len;
        } else if (it->kind == IMAP_SECTION_TEXT) {
            off = hlen;
            len = f->msg.len - hlen;
        } else {
            len = hlen;
        }
        return write_range(s, f, it, base + off, len);
    }
    struct mime_message *m = load_mime(s, f, uid);
    if (!m)
        return -1;
    struct mime_section sec;
    memset(&sec, 0, sizeof(sec));
    sec.n_path = it->part_count;
    for (size_t i = 0; i < it->part_count && i < MIME_SECTION_MAX_PATH; i++)
        sec.path[i] = it->part[i];
    switch (it->kind) {
    case IMAP_SECTION_WHOLE:
        sec.kind = MIME_SECTION_BODY;
        break;
    case IMAP_SECTION_TEXT:
        sec.kind = MIME_SECTION_TEXT;
        break;
    case IMAP_SECTION_MIME:
        sec.kind = MIME_SECTION_MIME;
        break;
    default:
        sec.kind = MIME_SECTION_HEADER;
        break;
    }
    /* A section that names nothing is empty (RFC 3501 leaves it open;
     * Dovecot answers an empty string too). */
    if (mime_section_range(m, &sec, &off, &len) < 0)
        off = len = 0;
    return write_range(s, f, it, m->data + off, len);
}

/* The octets of a section, filtered (HEADER.FIELDS), cut (<partial>) and
 * written with the item's name. */
static int write_range(struct imap_session *s, struct fetch_state *f,
                       const struct imap_fetch_item *it, const char *data, size_t len)
{
    struct buf filtered;
    buf_init(&filtered, BUF_UNLIMITED);
    if (it->kind == IMAP_SECTION_HEADER_FIELDS || it->kind == IMAP_SECTION_HEADER_FIELDS_NOT) {
        if (len)
            mime_header_filter(data, len, (const char *const *)it->fields, it->field_count,
                               it->kind == IMAP_SECTION_HEADER_FIELDS, &filtered);
        else
            buf_append_str(&filtered, "\r\n");
        data = filtered.data;
        len = filtered.len;
    }
    imap_fetch_item_write_name(it, &f->line);
    buf_append_char(&f->line, ' ');
    if (it->has_partial) {
        size_t origin = it->partial_origin;
        if (origin >= len) {
            data = "";
            len = 0;
        } else {
            data += origin;
            len -= origin;
            if (len > it->partial_length)
                len = it->partial_length;
        }
    }
    write_literal(s, f, data, len);
    buf_free(&filtered);
    return 0;
}

/* The RFC822, RFC822.HEADER and RFC822.TEXT items (RFC 3501 6.4.5). */
static int write_rfc822(struct imap_session *s, struct fetch_state *f, uint32_t uid,
                        enum imap_fetch_type type)
{
    if (load_text(s, f, uid) < 0)
        return -1;
    const char *data = f->msg.data ? f->msg.data : "";
    size_t len = f->msg.len;
    size_t hlen = top_header_len(f);
    if (type == IMAP_FETCH_RFC822_HEADER) {
        len = hlen;
    } else if (type == IMAP_FETCH_RFC822_TEXT) {
        data += hlen;
        len -= hlen;
    }
    buf_append_str(&f->line, type == IMAP_FETCH_RFC822          ? "RFC822 "
                             : type == IMAP_FETCH_RFC822_HEADER ? "RFC822.HEADER "
                                                                : "RFC822.TEXT ");
    write_literal(s, f, data, len);
    return 0;
}

/* One message's response. 0, or -1 if it could not be read (expunged). */
static int answer(struct imap_session *s, struct fetch_state *f, size_t i)
{
    uint32_t uid = f->uids[i];
    /* the UIDs come in order: the message after the last one is the likely
     * one, and a binary search for each of 50,000 shows in the profile */
    long idx = -1;
    if (f->hint < store_view_count(s->view) && store_view_msg(s->view, f->hint)->uid == uid)
        idx = (long)f->hint;
    else
        idx = store_view_find_uid(s->view, uid);
    if (idx < 0)
        return -1;
    f->hint = (size_t)idx + 1;
    const struct store_msg *m = store_view_msg(s->view, (size_t)idx);
    if (m->expunged)
        return -1;
    buf_reset(&f->msg);
    mime_message_free(&f->mime);
    buf_reset(&f->line);
    buf_append_str(&f->line, "* ");
    buf_append_u64(&f->line, (uint64_t)idx + 1);
    buf_append_str(&f->line, " FETCH (");
    bool first = true;
    bool uid_done = false, flags_done = false, modseq_done = false;
#define SEP()                                                                                      \
    do {                                                                                           \
        if (!first)                                                                                \
            buf_append_char(&f->line, ' ');                                                        \
        first = false;                                                                             \
    } while (0)
    if (f->uid) {
        SEP();
        buf_append_str(&f->line, "UID ");
        buf_append_u64(&f->line, uid);
        uid_done = true;
    }
    for (size_t k = 0; k < f->spec.count; k++) {
        const struct imap_fetch_item *it = &f->spec.items[k];
        switch (it->type) {
        case IMAP_FETCH_UID:
            if (uid_done)
                continue;
            SEP();
            buf_append_str(&f->line, "UID ");
            buf_append_u64(&f->line, uid);
            uid_done = true;
            break;
        case IMAP_FETCH_FLAGS:
            if (flags_done)
                continue;
            SEP();
            buf_append_str(&f->line, "FLAGS ");
            imap_write_flags(s, m, &f->line);
            flags_done = true;
            break;
        case IMAP_FETCH_INTERNALDATE:
            SEP();
            buf_append_str(&f->line, "INTERNALDATE ");
            write_internaldate(&f->line, m->internal_date);
            break;
        case IMAP_FETCH_RFC822_SIZE:
            SEP();
            buf_append_str(&f->line, "RFC822.SIZE ");
            buf_append_u64(&f->line, m->size);
            break;
        case IMAP_FETCH_MODSEQ:
            if (modseq_done)
                continue;
            SEP();
            buf_printf(&f->line, "MODSEQ (%llu)", (unsigned long long)m->modseq);
            modseq_done = true;
            break;
        case IMAP_FETCH_ENVELOPE:
        case IMAP_FETCH_BODY:
        case IMAP_FETCH_BODYSTRUCTURE:
            SEP();
            buf_append_str(&f->line, it->type == IMAP_FETCH_ENVELOPE ? "ENVELOPE "
                                     : it->type == IMAP_FETCH_BODY   ? "BODY "
                                                                     : "BODYSTRUCTURE ");
            if (write_structure(s, f, uid, it->type) < 0)
                return -1;
            break;
        case IMAP_FETCH_RFC822:
        case IMAP_FETCH_RFC822_HEADER:
        case IMAP_FETCH_RFC822_TEXT:
            SEP();
            if (write_rfc822(s, f, uid, it->type) < 0)
                return -1;
            break;
        case IMAP_FETCH_SECTION:
            SEP();
            if (write_section(s, f, uid, it) < 0)
                return -1;
            break;
        }
    }
    /* \Seen set by this FETCH is told with the new flags (RFC 3501). */
    if (f->seen_set && f->seen_set[i] && !flags_done) {
        SEP();
        buf_append_str(&f->line, "FLAGS ");
        imap_write_flags(s, m, &f->line);
    }
    if (f->modseq && !modseq_done) {
        SEP();
        buf_printf(&f->line, "MODSEQ (%llu)", (unsigned long long)m->modseq);
    }
#undef SEP
    buf_append_str(&f->line, ")\r\n");
    imap_write(s, f->line.data, f->line.len);
    buf_reset(&f->line);
    return 0;
}

/* Does the fetch cache structures (ENVELOPE, BODY, BODYSTRUCTURE)? */
static bool caches(const struct fetch_state *f)
{
    for (size_t k = 0; k < f->spec.count; k++) {
        enum imap_fetch_type t = f->spec.items[k].type;
        if (t == IMAP_FETCH_ENVELOPE || t == IMAP_FETCH_BODY || t == IMAP_FETCH_BODYSTRUCTURE)
            return true;
    }
    return false;
}

static enum imap_cmd_status fetch_resume(struct imap_session *s, struct imap_cmd *cmd)
{
    struct fetch_state *f = cmd->state;
    /* What gets cached during this slice goes to the index in batches;
     * the batch ends before other sessions may run. */
    bool batch = caches(f) && store_view_cache_batch(s->view, true) == 0;
    while (f->next < f->n) {
        if (answer(s, f, f->next) < 0)
            f->expunged = true;
        f->next++;
        if (f->next < f->n && imap_session_output_full(s)) {
            if (batch)
                store_view_cache_batch(s->view, false);
            return IMAP_CMD_MORE;
        }
    }
    if (batch)
        store_view_cache_batch(s->view, false);
    buf_free(&f->msg);
    mime_message_free(&f->mime);
    if (f->expunged)
        return imap_cmd_no(s, cmd, "[EXPUNGEISSUED] Some messages were expunged meanwhile");
    return imap_cmd_ok(s, cmd, "%sFETCH completed", cmd->uid ? "UID " : "");
}

/* Set \Seen on the messages a non-PEEK body fetch reads, before answering
 * (one store call for them all). */
static void set_seen(struct imap_session *s, struct fetch_state *f)
{
    if (!f->spec.sets_seen || store_view_readonly(s->view))
        return;
    uint32_t *todo = xcalloc(f->n ? f->n : 1, sizeof(*todo));
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++) {
        long idx = store_view_find_uid(s->view, f->uids[i]);
        const struct store_msg *m = idx >= 0 ? store_view_msg(s->view, (size_t)idx) : NULL;
        if (m && !m->expunged && !(m->flags & STORE_FLAG_SEEN))
            todo[k++] = f->uids[i];
    }
    const struct store_store_result *r = NULL;
    if (k && store_view_store(s->view, todo, k, STORE_FLAGS_ADD, STORE_FLAG_SEEN, 0, 0, &r) == 0 &&
        r && r->n_changed) {
        f->seen_set = xcalloc(f->n, sizeof(*f->seen_set));
        for (size_t i = 0; i < f->n; i++)
            for (size_t j = 0; j < r->n_changed; j++)
                if (r->changed_uids[j] == f->uids[i]) {
                    f->seen_set[i] = true;
                    break;
                }
        imap_session_changed(s, NULL);
    }
    free(todo);
}

enum imap_cmd_status imap_cmd_fetch(struct imap_session *s, struct imap_cmd *cmd)
{
    const char *settext = cmd->count >= 2 ? imap_arg_atom(&cmd->args[0]) : NULL;
    if (!settext)
        return imap_cmd_bad(s, cmd, "FETCH needs a sequence set and data items");
    struct imap_seqset set;
    imap_seqset_init(&set);
    const char *why;
    if (imap_seqset_parse(settext, strlen(settext), &set, &why) < 0) {
        imap_seqset_free(&set);
        return imap_cmd_bad(s, cmd, "%s", why);
    }
    struct fetch_state *f = xcalloc(1, sizeof(*f));
    if (imap_fetch_parse(cmd->args + 1, cmd->count - 1, &f->spec, &why) < 0) {
        imap_seqset_free(&set);
        free(f);
        return imap_cmd_bad(s, cmd, "%s", why);
    }
    f->uid = cmd->uid;
    buf_init(&f->msg, (size_t)STORE_MESSAGE_MAX);
    buf_init(&f->line, FETCH_LINE_MAX);
    size_t count = store_view_count(s->view);
    if (cmd->uid) {
        uint32_t uidnext = store_view_uidnext(s->view);
        imap_seqset_resolve(&set, uidnext > 1 ? uidnext - 1 : 0);
    } else {
        imap_seqset_resolve(&set, (uint32_t)count);
        if (imap_seqset_last(&set) > count) {
            imap_seqset_free(&set);
            fetch_state_free(f);
            return imap_cmd_bad(s, cmd, "Invalid message number");
        }
    }
    if (f->spec.has_changedsince || s->condstore_seen)
        f->modseq = true;
    for (size_t k = 0; k < f->spec.count; k++)
        if (f->spec.items[k].type == IMAP_FETCH_MODSEQ)
            f->modseq = true;
    if (f->modseq) {
        s->condstore_seen = true;
        s->enabled |= IMAP_ENABLED_CONDSTORE;
    }
    f->uids = xcalloc(count ? count : 1, sizeof(*f->uids));
    for (size_t i = 0; i < count; i++) {
        const struct store_msg *m = store_view_msg(s->view, i);
        bool in = cmd->uid ? imap_seqset_contains(&set, m->uid)
                           : imap_seqset_contains(&set, (uint32_t)(i + 1));
        if (!in)
            continue;
        if (f->spec.has_changedsince && m->modseq <= f->spec.changedsince)
            continue;
        f->uids[f->n++] = m->uid;
    }
    imap_seqset_free(&set);
    set_seen(s, f);
    cmd->state = f;
    cmd->state_free = fetch_state_free;
    cmd->resume = fetch_resume;
    return fetch_resume(s, cmd);
}
