#include "dkim-canon.h"

#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"

int dkim_canon_parse(const char *s, size_t n, enum dkim_canon *header, enum dkim_canon *body)
{
    const char *slash = memchr(s, '/', n);
    size_t hlen = slash ? (size_t)(slash - s) : n;
    enum dkim_canon *parts[2] = {header, body};
    const char *p[2] = {s, slash ? slash + 1 : NULL};
    size_t len[2] = {hlen, slash ? n - hlen - 1 : 0};
    *body = DKIM_CANON_SIMPLE;
    for (int i = 0; i < 2; i++) {
        if (!p[i])
            break;
        if (len[i] == 6 && str_eqn_ci(p[i], "simple", 6))
            *parts[i] = DKIM_CANON_SIMPLE;
        else if (len[i] == 7 && str_eqn_ci(p[i], "relaxed", 7))
            *parts[i] = DKIM_CANON_RELAXED;
        else
            return -1;
    }
    return 0;
}

/* The relaxed form of a header field (see dkim_canon_header) written to w,
 * which has room for n bytes: it is never longer than the field. Returns
 * its length. */
static size_t relaxed_header(const char *field, size_t n, char *w)
{
    const char *colon = memchr(field, ':', n);
    size_t name_len = colon ? (size_t)(colon - field) : n;
    /* name: lowercase, without the whitespace before the colon */
    while (name_len > 0 && (field[name_len - 1] == ' ' || field[name_len - 1] == '\t'))
        name_len--;
    size_t o = 0;
    for (size_t i = 0; i < name_len; i++)
        w[o++] = str_lower_char(field[i]);
    if (!colon)
        return o;
    w[o++] = ':';
    /* value: unfolded, whitespace runs as one space, none at either end */
    bool wsp = false, any = false;
    for (size_t i = (size_t)(colon - field) + 1; i < n; i++) {
        char ch = field[i];
        if (ch == '\r' && i + 1 < n && field[i + 1] == '\n') {
            i++;
            continue;
        }
        if (ch == ' ' || ch == '\t') {
            wsp = true;
            continue;
        }
        if (wsp && any)
            w[o++] = ' ';
        wsp = false;
        any = true;
        w[o++] = ch;
    }
    return o;
}

int dkim_canon_header(enum dkim_canon c, const char *field, size_t n, struct buf *out)
{
    if (c == DKIM_CANON_SIMPLE)
        return buf_append(out, field, n);
    char *w = buf_reserve(out, n);
    if (w) {
        buf_commit(out, relaxed_header(field, n, w));
        return 0;
    }
    /* No room for a form as long as the field: it may still fit. */
    char *tmp = xmalloc(n ? n : 1);
    int r = buf_append(out, tmp, relaxed_header(field, n, tmp));
    free(tmp);
    return r;
}

int dkim_body_hash_init(struct dkim_body_hash *h, enum dkim_canon c, uint64_t limit)
{
    memset(h, 0, sizeof(*h));
    h->canon = c;
    h->limit = limit;
    h->md = EVP_MD_CTX_new();
    if (!h->md || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h->md);
        h->md = NULL;
        return -1;
    }
    return 0;
}

/* Hash what is in the output buffer (the part under the limit). */
static void flush_out(struct dkim_body_hash *h)
{
    if (h->out_len > 0 && EVP_DigestUpdate(h->md, h->out, h->out_len) != 1)
        h->failed = true;
    h->out_len = 0;
}

/* Emit one canonical byte: counted always, hashed while under the limit. */
static void emit(struct dkim_body_hash *h, unsigned char c)
{
    h->total++;
    if (h->hashed >= h->limit)
        return;
    h->hashed++;
    h->out[h->out_len++] = c;
    if (h->out_len == sizeof(h->out))
        flush_out(h);
}

/* Emit n canonical bytes at once: what emit() would do for each of them,
 * with the part under the limit copied to the output buffer, or hashed
 * from where it is when it is bigger than the buffer. */
static void emit_run(struct dkim_body_hash *h, const unsigned char *p, size_t n)
{
    h->total += n;
    if (h->hashed >= h->limit)
        return;
    if (h->limit - h->hashed < n)
        n = (size_t)(h->limit - h->hashed);
    h->hashed += n;
    if (h->out_len + n > sizeof(h->out)) {
        flush_out(h);
        if (n >= sizeof(h->out)) {
            if (EVP_DigestUpdate(h->md, p, n) != 1)
                h->failed = true;
            return;
        }
    }
    memcpy(h->out + h->out_len, p, n);
    h->out_len += n;
    if (h->out_len == sizeof(h->out))
        flush_out(h);
}

/* Before the first content of a line: the empty lines and the whitespace
 * held back. */
static void start_content(struct dkim_body_hash *h)
{
    for (; h->empty > 0; h->empty--) {
        emit(h, '\r');
        emit(h, '\n');
    }
    if (h->wsp) {
        emit(h, ' ');
        h->wsp = false;
    }
    h->line = true;
}

/* Emit a content byte of the current line, after the empty lines and the
 * whitespace held back before it. */
static void emit_content(struct dkim_body_hash *h, unsigned char c)
{
    start_content(h);
    emit(h, c);
}

/* A CRLF ends the current line. */
static void end_line(struct dkim_body_hash *h)
{
    h->wsp = false; /* relaxed: trailing whitespace goes */
    if (h->line) {
        emit(h, '\r');
        emit(h, '\n');
        h->line = false;
    } else {
        h->empty++;
    }
}

/* 16 bytes for the scan of relaxed_lines (SSE2 on x86-64, NEON on arm64;
 * the compiler splits it where there is nothing as wide). */
typedef unsigned char bytes16 __attribute__((vector_size(16)));
typedef signed char mask16 __attribute__((vector_size(16)));

/* 16 bytes at p, unaligned. */
static bytes16 load16(const unsigned char *p)
{
    bytes16 v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* 16 times the byte c. */
static bytes16 splat16(unsigned char c)
{
    bytes16 v;
    memset(&v, c, sizeof(v));
    return v;
}

/* True if the byte cur (after prev, before next) is one that relaxed_lines
 * stops at: a tab, a space before a space or a CR, a CR not before an LF,
 * an LF not after a CR. */
static bool relaxed_stop(unsigned char prev, unsigned char cur, unsigned char next)
{
    return cur == '\t' || (cur == ' ' && (next == ' ' || next == '\r')) ||
           (cur == '\r' && next != '\n') || (cur == '\n' && prev != '\r');
}

/* Relaxed: the length of the complete lines at the start of p (n bytes,
 * p at the start of a line) that the canonicalization leaves as they are:
 * lines ended by CRLF, without a bare CR or LF, a tab, two spaces in a
 * row or a space at the end (empty lines are such lines). 0 if the first
 * line is not one, or not complete. Scans 16 bytes at a time, with the
 * byte before and the byte after each in two more loads. */
static size_t relaxed_lines(const unsigned char *p, size_t n)
{
    if (n == 0 || relaxed_stop('\n', p[0], n > 1 ? p[1] : 0))
        return 0;
    size_t k = 1;
    const bytes16 tab = splat16('\t'), sp = splat16(' '), cr = splat16('\r'), lf = splat16('\n');
    for (; k + 17 <= n; k += 16) {
        bytes16 prev = load16(p + k - 1), cur = load16(p + k), next = load16(p + k + 1);
        mask16 bad = (cur == tab) | ((cur == sp) & ((next == sp) | (next == cr))) |
                     ((cur == cr) & (next != lf)) | ((cur == lf) & (prev != cr));
        uint64_t w[2];
        memcpy(w, &bad, sizeof(w));
        if (w[0] | w[1])
            break;
    }
    for (; k < n; k++) {
        if (relaxed_stop(p[k - 1], p[k], k + 1 < n ? p[k + 1] : 0))
            break;
    }
    const unsigned char *lf_last = memrchr(p, '\n', k);
    return lf_last ? (size_t)(lf_last - p) + 1 : 0;
}

/* Simple: the length of the complete lines at the start of p (n bytes, p
 * at the start of a line): up to the last CRLF. */
static size_t simple_lines(const unsigned char *p, size_t n)
{
    size_t end = n;
    for (;;) {
        const unsigned char *lf = memrchr(p, '\n', end);
        if (!lf)
            return 0;
        end = (size_t)(lf - p);
        if (end > 0 && p[end - 1] == '\r')
            return end + 1;
    }
}

/* The n bytes at p (at the start of a line) are complete lines that the
 * canonicalization leaves as they are: hash them as they are (the empty
 * lines held back first), except the empty lines at their end, which are
 * held back in turn. */
static void emit_lines(struct dkim_body_hash *h, const unsigned char *p, size_t n)
{
    size_t content = n;
    while (content > 0 &&
           (content == 2 || (content >= 4 && p[content - 4] == '\r' && p[content - 3] == '\n')))
        content -= 2;
    if (content > 0) {
        for (; h->empty > 0; h->empty--) {
            emit(h, '\r');
            emit(h, '\n');
        }
        emit_run(h, p, content);
    }
    h->empty += (n - content) / 2;
}

/* True if relaxed canonicalization leaves the n bytes at p (n > 0, the
 * part of a line before its CR, starting with a byte that is neither CR
 * nor whitespace) as they are: no tab, no two spaces in a row, no space at
 * the end. Checked without branches: a branch per space costs more than
 * the whole check. */
static bool relaxed_plain(const unsigned char *p, size_t n)
{
    unsigned bad = p[n - 1] == ' ' || p[n - 1] == '\t';
    for (size_t j = 0; j + 1 < n; j++)
        bad |= (unsigned)(p[j] == '\t') | ((unsigned)(p[j] == ' ') & (unsigned)(p[j + 1] == ' '));
    return !bad;
}

/* Relaxed, byte by byte: the length of the run at p (n > 0, p[0] neither
 * CR nor whitespace) that goes through unchanged: up to a CR, a tab, or a
 * space that is not a single space between two such bytes of this chunk. */
static size_t relaxed_run(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c == '\r' || c == '\t')
            break;
        if (c == ' ') {
            if (i + 1 >= n || p[i + 1] == ' ' || p[i + 1] == '\t' || p[i + 1] == '\r')
                break;
            i += 2;
            continue;
        }
        i++;
    }
    return i;
}

void dkim_body_hash_update(struct dkim_body_hash *h, const void *data, size_t n)
{
    const unsigned char *p = data;
    bool relaxed = h->canon == DKIM_CANON_RELAXED;
    size_t slow_end = 0; /* relaxed: before this, a line that is not plain */
    size_t i = 0;
    while (i < n) {
        /* At the start of a line: the lines from here that go through
         * unchanged (the usual body: all of it), hashed where they are. If
         * the first one does not, it goes the way below, and so does the
         * end of the chunk after the last complete line. */
        if (!h->cr && !h->line && !h->wsp) {
            size_t good = relaxed ? relaxed_lines(p + i, n - i) : simple_lines(p + i, n - i);
            if (good > 0) {
                emit_lines(h, p + i, good);
                i += good;
                continue;
            }
        }
        unsigned char c = p[i];
        if (h->cr) {
            h->cr = false;
            if (c == '\n') {
                end_line(h);
                i++;
                continue;
            }
            emit_content(h, '\r');
        }
        if (c == '\r') {
            h->cr = true;
            i++;
            continue;
        }
        if (relaxed && (c == ' ' || c == '\t')) {
            h->wsp = true;
            i++;
            continue;
        }
        /* Content bytes: as many as go through unchanged, at once; the
         * usual line all the way to its CR. A line that is not plain is
         * checked once and then done run by run, so that the time stays
         * linear whatever the input. */
        size_t run;
        if (!relaxed || i >= slow_end) {
            const unsigned char *cr = memchr(p + i, '\r', n - i);
            run = cr ? (size_t)(cr - (p + i)) : n - i;
            if (relaxed && !relaxed_plain(p + i, run)) {
                slow_end = i + run;
                run = relaxed_run(p + i, n - i);
            }
        } else {
            run = relaxed_run(p + i, n - i);
        }
        start_content(h);
        emit_run(h, p + i, run);
        i += run;
    }
}

int dkim_body_hash_final(struct dkim_body_hash *h, unsigned char digest[32], uint64_t *total)
{
    if (h->cr) {
        h->cr = false;
        emit_content(h, '\r');
    }
    /* A last line without CRLF gets one; trailing empty lines go. */
    if (h->line) {
        h->wsp = false;
        emit(h, '\r');
        emit(h, '\n');
        h->line = false;
    }
    /* simple: an empty body is one CRLF (RFC 6376 3.4.3); relaxed: nothing. */
    if (h->canon == DKIM_CANON_SIMPLE && h->total == 0) {
        emit(h, '\r');
        emit(h, '\n');
    }
    flush_out(h);
    unsigned int len = 0;
    int r = 0;
    if (h->failed || EVP_DigestFinal_ex(h->md, digest, &len) != 1 || len != 32)
        r = -1;
    *total = h->total;
    dkim_body_hash_free(h);
    return r;
}

void dkim_body_hash_free(struct dkim_body_hash *h)
{
    EVP_MD_CTX_free(h->md);
    h->md = NULL;
}
