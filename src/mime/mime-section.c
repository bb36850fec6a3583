#include "mime-section.h"

#include <string.h>

#include "lib/str.h"

int mime_section_parse(const char *s, size_t len, struct mime_section *out)
{
    static const struct {
        const char *word;
        enum mime_section_kind kind;
    } kinds[] = {
        {"HEADER.FIELDS.NOT", MIME_SECTION_HEADER_FIELDS_NOT},
        {"HEADER.FIELDS", MIME_SECTION_HEADER_FIELDS},
        {"HEADER", MIME_SECTION_HEADER},
        {"TEXT", MIME_SECTION_TEXT},
        {"MIME", MIME_SECTION_MIME},
    };
    memset(out, 0, sizeof(*out));
    out->kind = MIME_SECTION_BODY;
    size_t i = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        size_t start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        unsigned long long num;
        if (s[start] == '0' || out->n_path >= MIME_SECTION_MAX_PATH ||
            str_to_u64(s + start, i - start, MIME_SECTION_NUMBER_MAX, &num) < 0)
            return -1;
        out->path[out->n_path++] = (unsigned)num;
        if (i == len)
            return 0;
        if (s[i] != '.')
            return -1;
        i++;
        if (i == len)
            return -1;
    }
    if (i == len)
        return 0; /* "" */
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        size_t n = strlen(kinds[k].word);
        if (len - i == n && str_eqn_ci(s + i, kinds[k].word, n)) {
            out->kind = kinds[k].kind;
            if (out->kind == MIME_SECTION_MIME && out->n_path == 0)
                return -1;
            return 0;
        }
    }
    return -1;
}

const struct mime_part *mime_section_part(const struct mime_message *m, const unsigned *path,
                                          size_t n)
{
    const struct mime_part *p = m->root;
    for (size_t i = 0; i < n && p; i++) {
        unsigned num = path[i];
        if (num == 0)
            return NULL;
        if (i > 0 && (p->flags & MIME_PART_MESSAGE) && p->children)
            p = p->children;
        if (p->flags & MIME_PART_MULTIPART) {
            p = p->children;
            while (p && --num > 0)
                p = p->next;
        } else if (num != 1) {
            return NULL;
        }
    }
    return p;
}

int mime_section_range(const struct mime_message *m, const struct mime_section *s, size_t *off,
                       size_t *len)
{
    if (s->n_path > MIME_SECTION_MAX_PATH)
        return -1;
    const struct mime_part *p = mime_section_part(m, s->path, s->n_path);
    if (!p)
        return -1;
    switch (s->kind) {
    case MIME_SECTION_BODY:
        if (s->n_path == 0) {
            *off = 0;
            *len = m->len;
        } else {
            *off = p->body_off;
            *len = p->body_len;
        }
        return 0;
    case MIME_SECTION_MIME:
        if (s->n_path == 0)
            return -1;
        *off = p->hdr_off;
        *len = p->hdr_len;
        return 0;
    case MIME_SECTION_HEADER:
    case MIME_SECTION_HEADER_FIELDS:
    case MIME_SECTION_HEADER_FIELDS_NOT:
    case MIME_SECTION_TEXT:
        if (s->n_path > 0) {
            if (!(p->flags & MIME_PART_MESSAGE) || !p->children)
                return -1;
            p = p->children;
        }
        if (s->kind != MIME_SECTION_TEXT) {
            *off = p->hdr_off;
            *len = p->hdr_len;
        } else {
            *off = p->body_off;
            *len = p->body_len;
        }
        return 0;
    }
    return -1;
}
