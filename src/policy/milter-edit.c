#include "policy/milter-edit.h"

#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"
#include "mime/mime-header.h"

/* One field of the edited header: a slice of the original message, or
 * text of a modification (then owned: `own`). */
struct field {
    const char *name;
    size_t name_len;
    const char *text; /* the whole field with its final CRLF */
    size_t len;
    char *own;
};

struct header {
    struct field *f;
    size_t n, cap;
};

/* RFC 5322 3.6.8: ftext is %d33-57 / %d59-126. */
static bool name_valid(const char *name)
{
    if (!name[0])
        return false;
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 33 || (unsigned char)*p > 126 || *p == ':')
            return false;
    return true;
}

/* "Name: value\r\n" with the value's line breaks made safe. */
static char *format_field(const char *name, const char *value, size_t *len_r)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_append_str(&b, name);
    buf_append_str(&b, ":");
    if (value[0] && value[0] != ' ' && value[0] != '\t')
        buf_append_str(&b, " ");
    const char *p = value;
    while (*p) {
        size_t n = strcspn(p, "\r\n");
        buf_append(&b, p, n);
        p += n;
        if (!*p)
            break;
        /* a line break: CRLF, LF or a lone CR */
        if (p[0] == '\r' && p[1] == '\n')
            p += 2;
        else
            p++;
        while (*p == '\r' || *p == '\n') /* no empty lines */
            p++;
        if (!*p)
            break;
        buf_append_str(&b, "\r\n");
        if (*p != ' ' && *p != '\t')
            buf_append_str(&b, "\t");
    }
    buf_append_str(&b, "\r\n");
    *len_r = b.len;
    return buf_steal(&b);
}

static void insert_at(struct header *h, size_t at, const char *name, const char *value)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->f = xrealloc(h->f, h->cap * sizeof(*h->f));
    }
    if (at > h->n)
        at = h->n;
    memmove(h->f + at + 1, h->f + at, (h->n - at) * sizeof(*h->f));
    struct field *f = &h->f[at];
    f->own = format_field(name, value, &f->len);
    f->text = f->own;
    f->name = f->own;
    f->name_len = strlen(name);
    h->n++;
}

static void remove_at(struct header *h, size_t at)
{
    free(h->f[at].own);
    memmove(h->f + at, h->f + at + 1, (h->n - at - 1) * sizeof(*h->f));
    h->n--;
}

/* The index-th field (1-based) named name, or h->n. */
static size_t find_nth(const struct header *h, const char *name, uint32_t index)
{
    size_t nl = strlen(name);
    uint32_t seen = 0;
    for (size_t i = 0; i < h->n; i++)
        if (h->f[i].name_len == nl && str_eqn_ci(h->f[i].name, name, nl) && ++seen == index)
            return i;
    return h->n;
}

/* Apply one header modification. True if it changed something. */
static bool apply(struct header *h, const struct milter_mod *m)
{
    switch (m->type) {
    case MILTER_MOD_ADD_HEADER:
        insert_at(h, h->n, m->name, m->value);
        return true;
    case MILTER_MOD_INSERT_HEADER:
        insert_at(h, m->index, m->name, m->value);
        return true;
    case MILTER_MOD_CHANGE_HEADER: {
        size_t at = find_nth(h, m->name, m->index ? m->index : 1);
        if (at == h->n) {
            if (!m->value[0])
                return false;
            insert_at(h, h->n, m->name, m->value);
            return true;
        }
        remove_at(h, at);
        if (m->value[0])
            insert_at(h, at, m->name, m->value);
        return true;
    }
    default:
        return false;
    }
}

/* Append n bytes unless an append already failed (*rc -1): a failed
 * append leaves out as it was, and a later, shorter one must not succeed
 * after it, or out would not hold a prefix of the result. */
static void put(struct buf *out, int *rc, const void *p, size_t n)
{
    if (*rc == 0 && buf_append(out, p, n) < 0)
        *rc = -1;
}

/* Body octets with every line end made CRLF. */
static void put_crlf(struct buf *out, int *rc, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && *rc == 0) {
        size_t s = i;
        while (i < n && p[i] != '\r' && p[i] != '\n')
            i++;
        put(out, rc, p + s, i - s);
        if (i == n)
            break;
        if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')
            i += 2;
        else
            i++;
        put(out, rc, "\r\n", 2);
    }
}

int milter_edit_message(const char *msg, size_t len, const struct milter_mod *mods, size_t n,
                        const char *body, size_t body_len, struct buf *out, bool *changed_r,
                        size_t *ignored_r)
{
    struct header h = {0};
    size_t pos = 0;
    struct mime_field mf;
    while (mime_header_next(msg, len, &pos, &mf)) {
        if (h.n == h.cap) {
            h.cap = h.cap ? h.cap * 2 : 32;
            h.f = xrealloc(h.f, h.cap * sizeof(*h.f));
        }
        h.f[h.n++] = (struct field){mf.name, mf.name_len, msg + mf.off, mf.len, NULL};
    }
    bool changed = false;
    size_t ignored = 0;
    for (size_t i = 0; i < n; i++) {
        const struct milter_mod *m = &mods[i];
        if (m->type != MILTER_MOD_ADD_HEADER && m->type != MILTER_MOD_INSERT_HEADER &&
            m->type != MILTER_MOD_CHANGE_HEADER)
            continue;
        if (!name_valid(m->name)) {
            ignored++;
            continue;
        }
        if (apply(&h, m))
            changed = true;
    }
    int rc = 0;
    for (size_t i = 0; i < h.n; i++) {
        const struct field *f = &h.f[i];
        put(out, &rc, f->text, f->len);
        if (f->len && f->text[f->len - 1] != '\n')
            put(out, &rc, "\r\n", 2); /* the message ended inside its header */
        free(f->own);
    }
    free(h.f);
    /* pos is at the empty line that ends the header, or at the end */
    if (body) {
        put(out, &rc, "\r\n", 2);
        put_crlf(out, &rc, body, body_len);
        changed = true;
    } else if (pos < len) {
        put(out, &rc, msg + pos, len - pos);
    }
    *changed_r = changed;
    if (ignored_r)
        *ignored_r = ignored;
    return rc ? -1 : 0;
}

void milter_edit_header_value(const char *value, size_t len, struct buf *out)
{
    while (len && (value[len - 1] == '\n' || value[len - 1] == '\r'))
        len--;
    for (size_t i = 0; i < len; i++) {
        if (value[i] == '\r' && i + 1 < len && value[i + 1] == '\n')
            continue;
        buf_append(out, value + i, 1);
    }
}
