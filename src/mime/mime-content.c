#include "mime-content.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "mime-header.h"

char *mime_value_dup(const char *s, size_t n)
{
    if (!memchr(s, '\0', n))
        return xstrndup(s, n);
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0')
            buf_append(&b, "\xef\xbf\xbd", 3);
        else
            buf_append_char(&b, s[i]);
    }
    return buf_steal(&b);
}

static void parse_type(struct mime_content *c, const struct mime_field *f)
{
    struct mime_lexer lx;
    struct buf s;
    buf_init(&s, MIME_CONTENT_VALUE_MAX);
    mime_lexer_init(&lx, f->value, f->value_len, NULL);
    mime_lex_skip_lwsp(&lx);
    int ret = mime_lex_content_type(&lx, &s);
    const char *v = buf_cstr(&s);
    const char *slash = strchr(v, '/');
    if (slash) {
        c->type = xstrndup(v, (size_t)(slash - v));
        c->subtype = xstrdup(slash + 1);
        c->type_slash = true;
    } else {
        c->type = xstrdup(v);
        c->subtype = xstrdup("");
    }
    buf_free(&s);
    if (ret < 0)
        return;
    mime_params_parse(&lx, &c->type_params);
}

static void parse_encoding(struct mime_content *c, const struct mime_field *f)
{
    struct mime_lexer lx;
    struct buf s;
    buf_init(&s, MIME_CONTENT_VALUE_MAX);
    mime_lexer_init(&lx, f->value, f->value_len, NULL);
    mime_lex_skip_lwsp(&lx);
    if (mime_lex_token(&lx, &s) >= 0 && mime_lex_skip_lwsp(&lx) == 0 && s.len > 0)
        c->encoding = xstrdup(buf_cstr(&s));
    buf_free(&s);
}

static void parse_disposition(struct mime_content *c, const struct mime_field *f)
{
    struct mime_lexer lx;
    struct buf s;
    buf_init(&s, MIME_CONTENT_VALUE_MAX);
    mime_lexer_init(&lx, f->value, f->value_len, NULL);
    mime_lex_skip_lwsp(&lx);
    if (mime_lex_token(&lx, &s) >= 0) {
        free(c->disposition);
        mime_params_free(&c->disposition_params);
        c->disposition = xstrdup(buf_cstr(&s));
        mime_params_parse(&lx, &c->disposition_params);
    }
    buf_free(&s);
}

static void parse_language(struct mime_content *c, const struct mime_field *f)
{
    struct mime_lexer lx;
    struct buf s;
    buf_init(&s, MIME_CONTENT_VALUE_MAX);
    mime_lexer_init(&lx, f->value, f->value_len, NULL);
    mime_lex_skip_lwsp(&lx);
    char *langs[MIME_CONTENT_LANGUAGE_MAX];
    size_t n = 0;
    while (n < MIME_CONTENT_LANGUAGE_MAX && mime_lex_atom(&lx, &s) >= 0) {
        langs[n++] = xstrdup(buf_cstr(&s));
        buf_reset(&s);
        if (lx.data >= lx.end || *lx.data != ',')
            break;
        lx.data++;
        mime_lex_skip_lwsp(&lx);
    }
    buf_free(&s);
    if (n > 0) {
        c->language = xcalloc(n, sizeof(char *));
        memcpy(c->language, langs, n * sizeof(char *));
        c->n_language = n;
    }
}

/* Set *slot to the raw value unless an earlier field did. */
static void take_raw(char **slot, const struct mime_field *f)
{
    if (!*slot)
        *slot = mime_value_dup(f->value, f->value_len);
}

void mime_content_parse(struct mime_content *c, const char *hdr, size_t len)
{
    size_t pos = 0;
    struct mime_field f;
    while (mime_header_next(hdr, len, &pos, &f) > 0) {
        if (mime_field_is(&f, "MIME-Version")) {
            c->seen_mime_version = true;
            continue;
        }
        if (f.name_len < 8 || strncasecmp(f.name, "Content-", 8) != 0)
            continue;
        if (mime_field_is(&f, "Content-Type")) {
            c->seen_content_type = true;
            if (!c->type)
                parse_type(c, &f);
        } else if (mime_field_is(&f, "Content-Transfer-Encoding")) {
            if (!c->encoding)
                parse_encoding(c, &f);
        } else if (mime_field_is(&f, "Content-ID")) {
            take_raw(&c->id, &f);
        } else if (mime_field_is(&f, "Content-Description")) {
            take_raw(&c->description, &f);
        } else if (mime_field_is(&f, "Content-MD5")) {
            take_raw(&c->md5, &f);
        } else if (mime_field_is(&f, "Content-Location")) {
            take_raw(&c->location, &f);
        } else if (mime_field_is(&f, "Content-Language")) {
            if (!c->language)
                parse_language(c, &f);
        } else if (mime_field_is(&f, "Content-Disposition")) {
            if (c->disposition_params.n == 0)
                parse_disposition(c, &f);
        }
    }
}

void mime_content_free(struct mime_content *c)
{
    free(c->type);
    free(c->subtype);
    mime_params_free(&c->type_params);
    free(c->encoding);
    free(c->id);
    free(c->description);
    free(c->md5);
    free(c->location);
    free(c->disposition);
    mime_params_free(&c->disposition_params);
    for (size_t i = 0; i < c->n_language; i++)
        free(c->language[i]);
    free(c->language);
    memset(c, 0, sizeof(*c));
}
