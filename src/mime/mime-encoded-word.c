#include "mime-encoded-word.h"

#include <stdbool.h>
#include <string.h>

#include "lib/str.h"
#include "mime-charset.h"
#include "mime-decode.h"

struct word {
    size_t end; /* just after "?=" */
    char charset[MIME_CHARSET_NAME_MAX];
    char enc; /* 'B' or 'Q' */
    const char *text;
    size_t text_len;
};

/* Parse an encoded word at in[pos] ("=?"); false if there is none. */
static bool parse_word(const char *in, size_t len, size_t pos, struct word *w)
{
    size_t limit = len - pos > MIME_ENCODED_WORD_MAX ? pos + MIME_ENCODED_WORD_MAX : len;
    size_t i = pos + 2;
    size_t cs = i;
    while (i < limit && in[i] != '?' && in[i] != ' ' && in[i] != '\t' && in[i] != '\r' &&
           in[i] != '\n')
        i++;
    if (i >= limit || in[i] != '?' || i == cs)
        return false;
    size_t cs_len = i - cs;
    const char *star = memchr(in + cs, '*', cs_len);
    if (star)
        cs_len = (size_t)(star - (in + cs)); /* charset*language */
    if (cs_len == 0 || str_copyn(w->charset, sizeof(w->charset), in + cs, cs_len) < 0)
        return false;
    i++;
    if (i + 1 >= limit || in[i + 1] != '?')
        return false;
    w->enc = (char)(in[i] & ~0x20);
    if (w->enc != 'B' && w->enc != 'Q')
        return false;
    i += 2;
    size_t t = i;
    while (i + 1 < limit && !(in[i] == '?' && in[i + 1] == '=')) {
        if (in[i] == '\r' || in[i] == '\n')
            return false;
        i++;
    }
    if (i + 1 >= limit)
        return false;
    w->text = in + t;
    w->text_len = i - t;
    w->end = i + 2;
    return true;
}

/* Decoded bytes of adjacent words waiting for their conversion. */
struct pending {
    char charset[MIME_CHARSET_NAME_MAX];
    struct buf bytes;
};

static int flush(struct pending *p, struct buf *out)
{
    if (p->bytes.len == 0 && p->charset[0] == '\0')
        return 0;
    const char *err;
    int ret = mime_charset_to_utf8(p->charset, p->bytes.data ? p->bytes.data : "", p->bytes.len,
                                   out, &err);
    buf_reset(&p->bytes);
    p->charset[0] = '\0';
    return ret;
}

/* Text outside words, taken as UTF-8. */
static int put_text(const char *s, size_t n, struct buf *out)
{
    const char *err;
    return mime_charset_to_utf8("utf-8", s, n, out, &err);
}

int mime_encoded_words_decode(const char *in, size_t len, struct buf *out)
{
    struct pending p;
    memset(&p, 0, sizeof(p));
    buf_init(&p.bytes, out->max);
    struct buf ws; /* white space seen since the last word or text */
    buf_init(&ws, out->max);
    size_t pos = 0;
    bool after_word = false;
    int ret = 0;
    while (pos < len && ret == 0) {
        struct word w;
        char c = in[pos];
        if (c == '=' && pos + 1 < len && in[pos + 1] == '?' && parse_word(in, len, pos, &w) &&
            mime_charset_known(w.charset)) {
            if (!after_word || !str_eq_ci(p.charset, w.charset)) {
                if (flush(&p, out) < 0)
                    ret = -1;
                if (!after_word && ws.len > 0 && put_text(ws.data, ws.len, out) < 0)
                    ret = -1;
                str_copy(p.charset, sizeof(p.charset), w.charset);
            }
            int r = w.enc == 'B' ? mime_decode_base64(w.text, w.text_len, &p.bytes)
                                 : mime_decode_q(w.text, w.text_len, &p.bytes);
            if (r < 0)
                ret = -1;
            buf_reset(&ws);
            after_word = true;
            pos = w.end;
            continue;
        }
        if (c == '\r' || c == '\n') {
            pos++; /* unfolding: the line break goes, the white space stays */
            continue;
        }
        if (c == ' ' || c == '\t') {
            if (buf_append_char(&ws, c) < 0)
                ret = -1;
            pos++;
            continue;
        }
        if (flush(&p, out) < 0)
            ret = -1;
        if (ws.len > 0 && put_text(ws.data, ws.len, out) < 0)
            ret = -1;
        buf_reset(&ws);
        after_word = false;
        size_t start = pos++;
        while (pos < len && in[pos] != ' ' && in[pos] != '\t' && in[pos] != '\r' &&
               in[pos] != '\n' && !(in[pos] == '=' && pos + 1 < len && in[pos + 1] == '?'))
            pos++;
        if (put_text(in + start, pos - start, out) < 0)
            ret = -1;
    }
    if (ret == 0 && flush(&p, out) < 0)
        ret = -1;
    if (ret == 0 && ws.len > 0 && put_text(ws.data, ws.len, out) < 0)
        ret = -1;
    buf_free(&p.bytes);
    buf_free(&ws);
    return ret;
}
