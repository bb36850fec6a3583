#include "dkim-message.h"

#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"

void dkim_message_init(struct dkim_message *m)
{
    memset(m, 0, sizeof(*m));
    buf_init(&m->header, DKIM_HEADER_MAX + 2); /* + the empty line, until seen */
}

void dkim_message_free(struct dkim_message *m)
{
    buf_free(&m->header);
    x_free(&m->fields);
    m->field_count = 0;
}

int dkim_message_feed(struct dkim_message *m, const char *data, size_t n, const char **body,
                      size_t *body_len)
{
    *body = data + n;
    *body_len = 0;
    if (m->too_big)
        return -1;
    if (m->header_done) {
        *body = data;
        *body_len = n;
        return 0;
    }
    /* Room for a usual header section at once, rather than in doublings. */
    if (!m->header.data)
        buf_reserve(&m->header, DKIM_HEADER_RESERVE);
    /* Look for the end of the header section: CRLF CRLF, or a CRLF at
     * the very start (no header fields). A line at a time (the search
     * looks at what is kept, so it goes over chunk boundaries) while the
     * header section stays under its maximum, then byte by byte. */
    size_t i = 0;
    while (i < n) {
        const char *lf = memchr(data + i, '\n', n - i);
        size_t end = lf ? (size_t)(lf - data) + 1 : n;
        if (m->header.len + (end - i) > DKIM_HEADER_MAX)
            break;
        if (buf_append(&m->header, data + i, end - i) < 0) {
            m->too_big = true;
            return -1;
        }
        i = end;
        size_t len = m->header.len;
        const char *h = m->header.data;
        if (lf && len >= 2 && h[len - 2] == '\r' &&
            (len == 2 || (len >= 4 && h[len - 3] == '\n' && h[len - 4] == '\r'))) {
            buf_truncate(&m->header, len - 2); /* the empty line is not header */
            m->header_done = true;
            *body = data + i;
            *body_len = n - i;
            return 0;
        }
    }
    for (; i < n; i++) {
        if (buf_append_char(&m->header, data[i]) < 0) {
            m->too_big = true;
            return -1;
        }
        size_t len = m->header.len;
        const char *h = m->header.data;
        if (data[i] == '\n' && len >= 2 && h[len - 2] == '\r' &&
            (len == 2 || (len >= 4 && h[len - 3] == '\n' && h[len - 4] == '\r'))) {
            buf_truncate(&m->header, len - 2); /* the empty line is not header */
            m->header_done = true;
            *body = data + i + 1;
            *body_len = n - i - 1;
            return 0;
        }
        /* Past the maximum only by the CR of a possible empty line. */
        if (len > DKIM_HEADER_MAX &&
            !(len == DKIM_HEADER_MAX + 1 && data[i] == '\r' && h[len - 2] == '\n')) {
            m->too_big = true;
            return -1;
        }
    }
    return 0;
}

int dkim_message_end_header(struct dkim_message *m)
{
    if (m->too_big || m->header.len > DKIM_HEADER_MAX) {
        m->too_big = true;
        return -1;
    }
    m->header_done = true;
    if (m->fields)
        return 0;
    const char *h = buf_cstr(&m->header);
    size_t n = m->header.len;
    size_t cap = 32;
    m->fields = xcalloc(cap, sizeof(*m->fields));
    size_t i = 0;
    while (i < n) {
        /* One field: a line, then the lines that start with WSP. */
        size_t start = i, end;
        for (;;) {
            const char *crlf = NULL;
            for (size_t j = i + 1; j < n;) {
                const char *lf = memchr(h + j, '\n', n - j);
                if (!lf)
                    break;
                if (lf[-1] == '\r') {
                    crlf = lf - 1;
                    break;
                }
                j = (size_t)(lf - h) + 1;
            }
            if (!crlf) {
                end = n;
                i = n;
                break;
            }
            i = (size_t)(crlf - h) + 2;
            if (i < n && (h[i] == ' ' || h[i] == '\t'))
                continue;
            end = (size_t)(crlf - h);
            break;
        }
        const char *colon = memchr(h + start, ':', end - start);
        if (!colon)
            continue; /* not a field: it cannot be signed */
        if (m->field_count == DKIM_FIELDS_MAX)
            return -1;
        if (m->field_count == cap) {
            cap *= 2;
            m->fields = xrealloc(m->fields, cap * sizeof(*m->fields));
        }
        struct dkim_field *f = &m->fields[m->field_count++];
        f->text = h + start;
        f->len = end - start;
        f->name_len = (size_t)(colon - (h + start));
        while (f->name_len > 0 &&
               (f->text[f->name_len - 1] == ' ' || f->text[f->name_len - 1] == '\t'))
            f->name_len--;
    }
    return 0;
}

bool dkim_field_is(const struct dkim_field *f, const char *name, size_t name_len)
{
    return f->name_len == name_len && str_eqn_ci(f->text, name, name_len);
}

const char *dkim_field_value(const struct dkim_field *f, size_t *len)
{
    const char *colon = memchr(f->text, ':', f->len);
    *len = f->len - (size_t)(colon + 1 - f->text);
    return colon + 1;
}

int dkim_message_header_hash(const struct dkim_message *m, enum dkim_canon c,
                             const struct dkim_name *names, size_t count, const char *sig,
                             size_t sig_len, unsigned char digest[32])
{
    /* used[i]: field i was already taken by an earlier name of the list */
    bool *used = xcalloc(m->field_count + 1, sizeof(*used));
    struct buf canon;
    buf_init(&canon, BUF_UNLIMITED);
    buf_reserve(&canon, sig_len + 3); /* usually the longest field */
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int r = -1;
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        goto out;
    for (size_t k = 0; k < count; k++) {
        for (size_t i = m->field_count; i-- > 0;) {
            if (used[i] || !dkim_field_is(&m->fields[i], names[k].p, names[k].n))
                continue;
            used[i] = true;
            buf_reset(&canon);
            if (dkim_canon_header(c, m->fields[i].text, m->fields[i].len, &canon) < 0 ||
                buf_append(&canon, "\r\n", 2) < 0 ||
                EVP_DigestUpdate(md, canon.data, canon.len) != 1)
                goto out;
            break;
        }
    }
    buf_reset(&canon);
    unsigned int len = 0;
    if (dkim_canon_header(c, sig, sig_len, &canon) < 0 ||
        (canon.len > 0 && EVP_DigestUpdate(md, canon.data, canon.len) != 1) ||
        EVP_DigestFinal_ex(md, digest, &len) != 1 || len != 32)
        goto out;
    r = 0;
out:
    EVP_MD_CTX_free(md);
    buf_free(&canon);
    free(used);
    return r;
}
