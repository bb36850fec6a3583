#include "mime-parse.h"

#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"

/* Longest tail of a line looked at for a boundary when it has no LF
 * (RFC 2046: 70 characters, "--" on each side, some slack). */
#define BOUNDARY_LINE_MAX (MIME_PARSE_BOUNDARY_MAX + 2 + 2 + 10)

struct bound {
    char b[MIME_PARSE_BOUNDARY_MAX + 1];
    size_t len;
    struct mime_part *part;
};

struct parser {
    struct mime_message *m;
    const char *d;
    size_t len;
    size_t pos;    /* start of the current line */
    size_t lineno; /* LFs before pos */
    size_t cap_parts;
    struct bound stack[MIME_PARSE_MAX_DEPTH + 1];
    size_t nstack;
    struct mime_part *cur;
};

enum hdr_end { HDR_EOH, HDR_EOF, HDR_BOUNDARY };

/* A new part starting at off, appended to parent's children. */
static struct mime_part *part_new(struct parser *ps, struct mime_part *parent, size_t off)
{
    struct mime_message *m = ps->m;
    struct mime_part *p = xcalloc(1, sizeof(*p));
    p->parent = parent;
    p->hdr_off = off;
    p->body_off = off;
    if (parent) {
        p->depth = parent->depth + 1;
        if (parent->last)
            parent->last->next = p;
        else
            parent->children = p;
        parent->last = p;
        parent->n_children++;
    }
    if (m->n_parts == ps->cap_parts) {
        ps->cap_parts = ps->cap_parts ? ps->cap_parts * 2 : 16;
        m->parts = xrealloc(m->parts, ps->cap_parts * sizeof(*m->parts));
    }
    m->parts[m->n_parts++] = p;
    return p;
}

/* Move to the next line; returns true if the line ended with LF. */
static bool next_line(struct parser *ps)
{
    const char *lf = memchr(ps->d + ps->pos, '\n', ps->len - ps->pos);
    if (!lf) {
        ps->pos = ps->len;
        return false;
    }
    ps->pos = (size_t)(lf - ps->d) + 1;
    ps->lineno++;
    return true;
}

/* The line break length ending the line just before pos (pos > 0 and
 * d[pos-1] == '\n'). */
static size_t break_before(const struct parser *ps, size_t pos)
{
    if (pos == 0 || ps->d[pos - 1] != '\n')
        return 0;
    return pos >= 2 && ps->d[pos - 2] == '\r' ? 2 : 1;
}

/* Is the line at pos a boundary line of an open multipart? Returns its
 * index in the stack or -1; *close is set for a close delimiter. */
static long boundary_at(const struct parser *ps, size_t pos, bool *close)
{
    if (ps->nstack == 0 || ps->m->n_parts >= MIME_PARSE_MAX_PARTS)
        return -1;
    if (ps->len - pos < 2 || ps->d[pos] != '-' || ps->d[pos + 1] != '-')
        return -1;
    const char *data = ps->d + pos + 2;
    size_t size = ps->len - pos - 2;
    const char *lf = memchr(data, '\n', size);
    size_t find = size;
    bool dashes = false;
    if (lf) {
        find = (size_t)(lf - data);
        if (find > 0 && data[find - 1] == '\r')
            find--;
        dashes = find > 2 && data[find - 1] == '-' && data[find - 2] == '-';
    } else if (find > BOUNDARY_LINE_MAX) {
        find = BOUNDARY_LINE_MAX;
    }
    long best = -1;
    for (size_t i = ps->nstack; i-- > 0;) {
        const struct bound *b = &ps->stack[i];
        if (b->len <= find && memcmp(b->b, data, b->len) == 0 &&
            (best < 0 || ps->stack[best].len < b->len)) {
            best = (long)i;
            if (b->len == find || (dashes && b->len == find - 2))
                break;
        }
    }
    if (best >= 0) {
        size_t bl = ps->stack[best].len;
        *close = size >= bl + 2 && data[bl] == '-' && data[bl + 1] == '-';
    }
    return best;
}

/* Scan the header of ps->cur from ps->pos. On HDR_BOUNDARY, *k is the
 * boundary found at ps->pos and *nl the line break before it that was
 * taken out of the header. */
static enum hdr_end scan_header(struct parser *ps, long *k, bool *close, size_t *nl)
{
    struct mime_part *p = ps->cur;
    size_t prev_nl = 0;
    p->hdr_off = ps->pos;
    for (;;) {
        size_t pos = ps->pos;
        if (pos >= ps->len) {
            p->hdr_len = pos - p->hdr_off;
            return HDR_EOF;
        }
        if (ps->d[pos] == '\n' ||
            (ps->d[pos] == '\r' && pos + 1 < ps->len && ps->d[pos + 1] == '\n')) {
            next_line(ps);
            p->hdr_len = ps->pos - p->hdr_off;
            return HDR_EOH;
        }
        long b = boundary_at(ps, pos, close);
        if (b >= 0) {
            *k = b;
            *nl = prev_nl;
            p->hdr_len = pos - prev_nl - p->hdr_off;
            return HDR_BOUNDARY;
        }
        prev_nl = next_line(ps) ? break_before(ps, ps->pos) : 0;
    }
}

/* Decide what the part is from its header (Dovecot's rules, see the
 * header) and keep its Content-* fields if they count. Returns the
 * boundary to open, or NULL. */
static const char *analyze(struct parser *ps, struct mime_part *p)
{
    mime_content_parse(&p->content, ps->d + p->hdr_off, p->hdr_len);
    struct mime_content *c = &p->content;
    if (c->seen_mime_version || c->seen_content_type)
        p->flags |= MIME_PART_IS_MIME;
    const char *boundary = NULL;
    if (c->type) {
        if ((str_eq_ci(c->type, "message") &&
             (str_eq_ci(c->subtype, "rfc822") || str_eq_ci(c->subtype, "global")))) {
            p->flags |= MIME_PART_MESSAGE;
        } else if (str_eq_ci(c->type, "text")) {
            p->flags |= MIME_PART_TEXT;
        } else if (str_eq_ci(c->type, "multipart") && c->type_slash) {
            p->flags |= MIME_PART_MULTIPART;
            if (str_eq_ci(c->subtype, "digest"))
                p->flags |= MIME_PART_DIGEST;
            boundary = mime_params_get(&c->type_params, "boundary");
        }
    }
    if (!(p->flags & MIME_PART_IS_MIME)) {
        p->flags = 0;
        boundary = NULL;
        mime_content_free(c);
    }
    if (!c->seen_content_type || !(p->flags & MIME_PART_IS_MIME)) {
        if (p->parent && (p->parent->flags & MIME_PART_DIGEST))
            p->flags |= MIME_PART_MESSAGE;
        else
            p->flags |= MIME_PART_TEXT;
    }
    return boundary;
}

/* True (and the part made opaque) if it may not have children. */
static bool over_limit(struct parser *ps, struct mime_part *p)
{
    if (p->depth < MIME_PARSE_MAX_DEPTH && ps->m->n_parts < MIME_PARSE_MAX_PARTS)
        return false;
    p->flags &= ~(unsigned)(MIME_PART_MULTIPART | MIME_PART_MESSAGE | MIME_PART_DIGEST);
    p->flags |= MIME_PART_TRUNCATED;
    ps->m->limited = true;
    return true;
}

static void body_begin(struct mime_part *p, size_t off, size_t lf)
{
    p->body_off = off;
    p->body_lines = lf; /* LFs before the body, until part_end() */
}

static void part_end(struct mime_part *p, size_t off, size_t lf)
{
    p->body_len = off - p->body_off;
    p->body_lines = lf - p->body_lines;
}

/* LFs in d[from, to). */
static size_t count_lf(const char *d, size_t from, size_t to)
{
    size_t n = 0;
    while (from < to) {
        const char *lf = memchr(d + from, '\n', to - from);
        if (!lf)
            break;
        n++;
        from = (size_t)(lf - d) + 1;
    }
    return n;
}

/* A boundary line of stack[k] starts at ps->pos, after a line break of nl
 * bytes. Parts below holder end before that break, holder and its
 * ancestors below the multipart end at the boundary line. Returns true if
 * a new part begins. */
static bool close_to_boundary(struct parser *ps, long k, bool close, size_t nl,
                              const struct mime_part *holder)
{
    struct mime_part *owner = ps->stack[k].part;
    size_t line = ps->pos, lf = ps->lineno;
    bool below = true;
    for (struct mime_part *p = ps->cur; p && p != owner; p = p->parent) {
        if (p == holder)
            below = false;
        if (below)
            part_end(p, line - nl, nl ? lf - 1 : lf);
        else
            part_end(p, line, lf);
    }
    ps->cur = owner;
    ps->nstack = close ? (size_t)k : (size_t)k + 1;
    bool had_lf = next_line(ps);
    return !close && had_lf;
}

/* Scan the body of ps->cur to the next boundary line or the end. Returns
 * true if a new part begins at ps->pos (ps->cur is its parent), false at
 * the end of the data or to go on with the epilogue. */
static int scan_body(struct parser *ps, bool *new_part)
{
    bool first = true;
    *new_part = false;
    if (ps->nstack == 0 || ps->m->n_parts >= MIME_PARSE_MAX_PARTS)
        return 0;
    while (ps->pos < ps->len) {
        size_t nl = first ? 0 : break_before(ps, ps->pos);
        bool close = false;
        long k = boundary_at(ps, ps->pos, &close);
        if (k >= 0) {
            *new_part = close_to_boundary(ps, k, close, nl, ps->stack[k].part);
            return 1;
        }
        first = false;
        if (!next_line(ps))
            break;
    }
    return 0;
}

/* Every part still open ends at the end of the data. */
static void finish(struct parser *ps)
{
    size_t lf = ps->lineno + count_lf(ps->d, ps->pos, ps->len);
    for (struct mime_part *p = ps->cur; p; p = p->parent)
        part_end(p, ps->len, lf);
}

static void parse(struct parser *ps)
{
    enum { S_HEADER, S_BODY } state = S_HEADER;
    for (;;) {
        if (state == S_HEADER) {
            long k = -1;
            bool close = false;
            size_t nl = 0;
            struct mime_part *p = ps->cur;
            enum hdr_end e = scan_header(ps, &k, &close, &nl);
            const char *boundary = analyze(ps, p);
            if (e == HDR_BOUNDARY) {
                body_begin(p, p->hdr_off + p->hdr_len, nl ? ps->lineno - 1 : ps->lineno);
                const struct mime_part *holder = p->parent;
                if ((p->flags & MIME_PART_MESSAGE) && !over_limit(ps, p)) {
                    struct mime_part *child = part_new(ps, p, p->body_off);
                    body_begin(child, p->body_off, p->body_lines);
                    analyze(ps, child);
                    ps->cur = child;
                    holder = p->parent;
                }
                if (close_to_boundary(ps, k, close, nl, holder)) {
                    ps->cur = part_new(ps, ps->cur, ps->pos);
                    ps->cur->flags |= MIME_PART_IS_MIME;
                    state = S_HEADER;
                } else {
                    state = S_BODY;
                }
                continue;
            }
            body_begin(p, ps->pos, ps->lineno);
            state = S_BODY;
            if (boundary && e == HDR_EOH) {
                if (!over_limit(ps, p)) {
                    struct bound *b = &ps->stack[ps->nstack++];
                    b->len = strlen(boundary);
                    if (b->len > MIME_PARSE_BOUNDARY_MAX)
                        b->len = MIME_PARSE_BOUNDARY_MAX;
                    memcpy(b->b, boundary, b->len);
                    b->b[b->len] = '\0';
                    b->part = p;
                }
            } else if ((p->flags & MIME_PART_MESSAGE) && !over_limit(ps, p)) {
                ps->cur = part_new(ps, p, ps->pos);
                state = S_HEADER;
            }
            continue;
        }
        bool new_part;
        if (!scan_body(ps, &new_part)) {
            finish(ps);
            return;
        }
        if (new_part) {
            ps->cur = part_new(ps, ps->cur, ps->pos);
            ps->cur->flags |= MIME_PART_IS_MIME;
            state = S_HEADER;
        }
    }
}

struct mime_message *mime_message_parse(const char *data, size_t len)
{
    struct mime_message *m = xcalloc(1, sizeof(*m));
    struct parser ps;
    memset(&ps, 0, sizeof(ps));
    m->data = data;
    m->len = len;
    ps.m = m;
    ps.d = data;
    ps.len = len;
    m->root = part_new(&ps, NULL, 0);
    ps.cur = m->root;
    parse(&ps);
    return m;
}

void mime_message_free(struct mime_message **mp)
{
    struct mime_message *m = *mp;
    if (!m)
        return;
    for (size_t i = 0; i < m->n_parts; i++) {
        mime_content_free(&m->parts[i]->content);
        free(m->parts[i]);
    }
    free(m->parts);
    free(m);
    *mp = NULL;
}

size_t mime_part_size(const struct mime_part *p)
{
    return p->hdr_len + p->body_len;
}
