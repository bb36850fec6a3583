#include "imap-bodystructure.h"

#include <string.h>

#include "imap-envelope.h"
#include "imap-quote.h"
#include "lib/str.h"

#define EMPTY_BODY "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"
#define EMPTY_BODYSTRUCTURE                                                                        \
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"

struct writer {
    struct buf *out;
    const struct mime_message *m;
    bool ext;
    int err;
};

static void put(struct writer *w, const char *s)
{
    if (!w->err && buf_append_str(w->out, s) < 0)
        w->err = -1;
}

static void put_nstring(struct writer *w, const char *s)
{
    if (!w->err && imap_quote_nstring_nolf(w->out, s) < 0)
        w->err = -1;
}

static void put_size(struct writer *w, size_t n)
{
    if (!w->err && buf_printf(w->out, " %zu", n) < 0)
        w->err = -1;
}

/* (name value ...) or NIL; a text part gets a charset if it has none. */
static void put_params(struct writer *w, const struct mime_params *p, bool default_charset)
{
    if (!default_charset && p->n == 0) {
        put(w, "NIL");
        return;
    }
    bool seen_charset = false;
    put(w, "(");
    for (size_t i = 0; i < p->n; i++) {
        if (i > 0)
            put(w, " ");
        if (str_eq_ci(p->v[i].name, "charset"))
            seen_charset = true;
        put_nstring(w, p->v[i].name);
        put(w, " ");
        put_nstring(w, p->v[i].value);
    }
    if (default_charset && !seen_charset) {
        if (p->n > 0)
            put(w, " ");
        put(w, "\"charset\" \"us-ascii\"");
    }
    put(w, ")");
}

/* disposition, language and location: the tail of every extended part. */
static void put_common(struct writer *w, const struct mime_content *c)
{
    put(w, " ");
    if (!c->disposition) {
        put(w, "NIL");
    } else {
        put(w, "(");
        put_nstring(w, c->disposition);
        put(w, " ");
        put_params(w, &c->disposition_params, false);
        put(w, ")");
    }
    put(w, " ");
    if (c->n_language == 0) {
        put(w, "NIL");
    } else {
        put(w, "(");
        for (size_t i = 0; i < c->n_language; i++) {
            if (i > 0)
                put(w, " ");
            put_nstring(w, c->language[i]);
        }
        put(w, ")");
    }
    put(w, " ");
    put_nstring(w, c->location);
}

/* A part that claims to be a container but has no structure to show. */
static bool is_opaque(const struct mime_part *p)
{
    const struct mime_content *c = &p->content;
    if (p->flags & MIME_PART_TRUNCATED)
        return true;
    if ((p->flags & MIME_PART_MESSAGE) && !p->children)
        return true;
    if (c->type) {
        if (str_eq_ci(c->type, "message") &&
            (str_eq_ci(c->subtype, "rfc822") || str_eq_ci(c->subtype, "global")) &&
            !(p->flags & MIME_PART_MESSAGE))
            return true;
        if (str_eq_ci(c->type, "multipart") && !(p->flags & MIME_PART_MULTIPART))
            return true;
    } else if (p->parent && (p->parent->flags & MIME_PART_DIGEST) &&
               !(p->flags & MIME_PART_MESSAGE)) {
        return true;
    }
    return false;
}

static bool is_message(const struct mime_part *p)
{
    return (p->flags & MIME_PART_MESSAGE) && p->children && !is_opaque(p);
}

/* The end of a multipart: subtype and extension data, ")". */
static void multipart_tail(struct writer *w, const struct mime_part *p)
{
    const struct mime_content *c = &p->content;
    put(w, " ");
    put_nstring(w, c->subtype ? c->subtype : "mixed");
    if (w->ext) {
        put(w, " ");
        put_params(w, &c->type_params, false);
        put_common(w, c);
    }
    put(w, ")");
}

/* The end of a single part after its size fields. */
static void single_tail(struct writer *w, const struct mime_part *p)
{
    if (w->ext) {
        put(w, " ");
        put_nstring(w, p->content.md5);
        put_common(w, &p->content);
    }
    put(w, ")");
}

/* The fields of a single part up to its size (and line count for text). */
static void single_head(struct writer *w, const struct mime_part *p)
{
    const struct mime_content *c = &p->content;
    bool text = false;
    put(w, "(");
    if (is_message(p)) {
        if (c->type && str_eq_ci(c->subtype, "global")) {
            put_nstring(w, c->type);
            put(w, " ");
            put_nstring(w, c->subtype);
        } else {
            put(w, "\"message\" \"rfc822\"");
        }
    } else if (is_opaque(p)) {
        put(w, "\"application\" \"octet-stream\"");
    } else if (!c->type) {
        text = true;
        put(w, "\"text\" \"plain\"");
    } else {
        text = str_eq_ci(c->type, "text");
        put_nstring(w, c->type);
        put(w, " ");
        put_nstring(w, c->subtype);
    }
    put(w, " ");
    put_params(w, &c->type_params, text);
    put(w, " ");
    put_nstring(w, c->id);
    put(w, " ");
    put_nstring(w, c->description);
    put(w, " ");
    if (c->encoding)
        put_nstring(w, c->encoding);
    else
        put(w, "\"7bit\"");
    put_size(w, p->body_len);
    if (text)
        put_size(w, p->body_lines);
}

int imap_bodystructure_write(struct buf *out, const struct mime_message *m,
                             const struct mime_part *part, bool extended)
{
    struct writer w = {out, m, extended, 0};
    const struct mime_part *p = part;
    bool entering = true;
    while (!w.err) {
        if (entering) {
            if (p->flags & MIME_PART_MULTIPART) {
                put(&w, "(");
                if (p->children) {
                    p = p->children;
                    continue;
                }
                put(&w, extended ? EMPTY_BODYSTRUCTURE : EMPTY_BODY);
                multipart_tail(&w, p);
            } else if (is_message(p)) {
                single_head(&w, p);
                put(&w, " ");
                const struct mime_part *c = p->children;
                if (!w.err && imap_envelope_write(out, m->data + c->hdr_off, c->hdr_len) < 0)
                    w.err = -1;
                put(&w, " ");
                p = c;
                continue;
            } else {
                single_head(&w, p);
                single_tail(&w, p);
            }
        }
        /* p is written: go on with its next sibling or finish its parent */
        if (p == part)
            break;
        const struct mime_part *parent = p->parent;
        if ((parent->flags & MIME_PART_MULTIPART) && p->next) {
            p = p->next;
            entering = true;
            continue;
        }
        p = parent;
        entering = false;
        if (p->flags & MIME_PART_MULTIPART) {
            multipart_tail(&w, p);
        } else {
            put_size(&w, p->body_lines);
            single_tail(&w, p);
        }
    }
    return w.err;
}
