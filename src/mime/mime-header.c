#include "mime-header.h"

#include <string.h>

#include "lib/str.h"

/* The end of the line starting at pos: just after its LF, or len. */
static size_t line_end(const char *d, size_t len, size_t pos)
{
    const char *lf = memchr(d + pos, '\n', len - pos);
    return lf ? (size_t)(lf - d) + 1 : len;
}

/* Length of the line break ending the line [start, end). */
static size_t break_len(const char *d, size_t start, size_t end)
{
    if (end > start && d[end - 1] == '\n')
        return end - 1 > start && d[end - 2] == '\r' ? 2 : 1;
    return 0;
}

int mime_header_next(const char *hdr, size_t len, size_t *pos, struct mime_field *f)
{
    size_t p = *pos;
    if (p >= len)
        return 0;
    if (hdr[p] == '\n' || (hdr[p] == '\r' && p + 1 < len && hdr[p + 1] == '\n'))
        return 0;
    size_t first_end = line_end(hdr, len, p);
    size_t end = first_end;
    while (end < len && (hdr[end] == ' ' || hdr[end] == '\t'))
        end = line_end(hdr, len, end);

    size_t first_text_end = first_end - break_len(hdr, p, first_end);
    const char *colon = memchr(hdr + p, ':', first_text_end - p);
    f->off = p;
    f->len = end - p;
    f->name = hdr + p;
    size_t value_end = end - break_len(hdr, p, end);
    if (colon) {
        f->name_len = (size_t)(colon - (hdr + p));
        size_t v = (size_t)(colon - hdr) + 1;
        while (v < value_end && (hdr[v] == ' ' || hdr[v] == '\t'))
            v++;
        f->value = hdr + v;
        f->value_len = value_end - v;
    } else {
        f->name_len = first_text_end - p;
        f->value = hdr + value_end;
        f->value_len = 0;
    }
    while (f->name_len > 0 && (f->name[f->name_len - 1] == ' ' || f->name[f->name_len - 1] == '\t'))
        f->name_len--;
    *pos = end;
    return 1;
}

bool mime_field_is(const struct mime_field *f, const char *name)
{
    size_t n = strlen(name);
    return f->name_len == n && str_eqn_ci(f->name, name, n);
}

int mime_header_filter(const char *hdr, size_t len, const char *const *names, size_t n, bool keep,
                       struct buf *out)
{
    size_t pos = 0;
    struct mime_field f;
    while (mime_header_next(hdr, len, &pos, &f) > 0) {
        bool listed = false;
        for (size_t i = 0; i < n && !listed; i++)
            listed = mime_field_is(&f, names[i]);
        if (listed != keep)
            continue;
        if (buf_append(out, hdr + f.off, f.len) < 0)
            return -1;
        if (f.len == 0 || hdr[f.off + f.len - 1] != '\n') {
            if (buf_append_str(out, "\r\n") < 0)
                return -1;
        }
    }
    return buf_append_str(out, "\r\n");
}
