#include "mime-section.h"

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
    case MIME_SECTION_TEXT:
        if (s->n_path > 0) {
            if (!(p->flags & MIME_PART_MESSAGE) || !p->children)
                return -1;
            p = p->children;
        }
        if (s->kind == MIME_SECTION_HEADER) {
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
