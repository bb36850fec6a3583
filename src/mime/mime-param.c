#include "mime-param.h"

#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"

/* One "name*N[*]" piece of an RFC 2231 set. */
struct piece {
    char *key;
    char *value;
    unsigned idx;
    bool extended;
    size_t order;
};

static void add(struct mime_params *out, size_t *cap, char *name, char *value)
{
    if (out->n >= MIME_PARAM_MAX) {
        free(name);
        free(value);
        return;
    }
    if (out->n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        out->v = xrealloc(out->v, *cap * sizeof(*out->v));
    }
    out->v[out->n].name = name;
    out->v[out->n].value = value;
    out->n++;
}

static int piece_cmp(const void *a, const void *b)
{
    const struct piece *x = a, *y = b;
    int c = strcasecmp(x->key, y->key);
    if (c != 0)
        return c;
    if (x->idx != y->idx)
        return x->idx < y->idx ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Split "name*N*" into a piece; false if key is a plain parameter. */
static bool split_key(const char *key, const char *value, struct piece *p)
{
    const char *star = strchr(key, '*');
    if (!star)
        return false;
    const char *s = star;
    unsigned idx = 0;
    if (s[1] != '\0')
        s++;
    while (*s >= '0' && *s <= '9') {
        if (idx < 100000)
            idx = idx * 10 + (unsigned)(*s - '0');
        s++;
    }
    bool extended = false;
    if (*s == '*') {
        extended = true;
        s++;
    }
    if (*s != '\0')
        return false;
    p->key = xstrndup(key, (size_t)(star - key));
    p->value = xstrdup(value);
    p->idx = idx;
    p->extended = extended;
    return true;
}

/* Append src with every '%' written as "%25" (a plain piece inside an
 * extended value). */
static void append_escaped(struct buf *b, const char *src)
{
    for (; *src; src++) {
        if (*src == '%')
            buf_append_str(b, "%25");
        else
            buf_append_char(b, *src);
    }
}

int mime_params_parse(struct mime_lexer *lx, struct mime_params *out)
{
    struct buf key, value;
    buf_init(&key, MIME_PARAM_VALUE_MAX);
    buf_init(&value, MIME_PARAM_VALUE_MAX);
    struct piece *pieces = NULL;
    size_t npieces = 0, cap_pieces = 0, cap = 0;
    bool broken = false;
    size_t guard = 0;

    out->v = NULL;
    out->n = 0;
    for (;;) {
        int ret = mime_lex_param(lx, &key, &value);
        if (ret == 0)
            break;
        if (ret < 0) {
            broken = true;
            if (lx->data >= lx->end)
                break;
            lx->data++;
            continue;
        }
        if (++guard > 4 * MIME_PARAM_MAX)
            break;
        struct piece p;
        if (split_key(buf_cstr(&key), buf_cstr(&value), &p)) {
            if (npieces >= MIME_PARAM_MAX) {
                free(p.key);
                free(p.value);
                continue;
            }
            if (npieces == cap_pieces) {
                cap_pieces = cap_pieces ? cap_pieces * 2 : 4;
                pieces = xrealloc(pieces, cap_pieces * sizeof(*pieces));
            }
            p.order = npieces;
            pieces[npieces++] = p;
        } else {
            add(out, &cap, xstrdup(buf_cstr(&key)), xstrdup(buf_cstr(&value)));
        }
    }

    if (npieces > 0) {
        qsort(pieces, npieces, sizeof(*pieces), piece_cmp);
        struct buf merged;
        buf_init(&merged, MIME_PARAM_VALUE_MAX);
        for (size_t i = 0, next; i < npieces; i = next) {
            bool ok = true, have_ext = false;
            unsigned want = 0;
            for (next = i; next < npieces && strcasecmp(pieces[i].key, pieces[next].key) == 0;
                 next++) {
                if (pieces[next].idx != want)
                    ok = false;
                if (pieces[next].extended)
                    have_ext = true;
                want++;
            }
            if (!ok) {
                for (size_t j = i; j < next; j++) {
                    struct buf k;
                    buf_init(&k, MIME_PARAM_VALUE_MAX);
                    buf_printf(&k, pieces[j].extended ? "%s*%u*" : "%s*%u", pieces[j].key,
                               pieces[j].idx);
                    add(out, &cap, buf_steal(&k), xstrdup(pieces[j].value));
                }
                continue;
            }
            buf_reset(&merged);
            if (!pieces[i].extended && have_ext)
                buf_append_str(&merged, "''");
            for (size_t j = i; j < next; j++) {
                if (!pieces[j].extended && have_ext)
                    append_escaped(&merged, pieces[j].value);
                else
                    buf_append_str(&merged, pieces[j].value);
            }
            struct buf k;
            buf_init(&k, MIME_PARAM_VALUE_MAX);
            buf_append_str(&k, pieces[i].key);
            if (have_ext)
                buf_append_char(&k, '*');
            add(out, &cap, buf_steal(&k), xstrdup(buf_cstr(&merged)));
        }
        buf_free(&merged);
        for (size_t i = 0; i < npieces; i++) {
            free(pieces[i].key);
            free(pieces[i].value);
        }
        free(pieces);
    }
    buf_free(&key);
    buf_free(&value);
    return broken ? -1 : 0;
}

void mime_params_free(struct mime_params *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].name);
        free(p->v[i].value);
    }
    x_free(&p->v);
    p->n = 0;
}

const char *mime_params_get(const struct mime_params *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++) {
        if (str_eq_ci(p->v[i].name, name))
            return p->v[i].value;
    }
    return NULL;
}
