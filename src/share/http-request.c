/* http-request: an HTTP/1.1 request parser that takes octets and gives events. */
#include "http-request.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"

enum {
    ST_START,      /* the request line, after any empty lines */
    ST_FIELDS,     /* the header section */
    ST_LENGTH,     /* a Content-Length body */
    ST_CHUNK_LINE, /* a chunk-size line */
    ST_CHUNK_DATA, /* the octets of a chunk */
    ST_CHUNK_CR,   /* the CR after a chunk's octets */
    ST_CHUNK_LF,   /* the LF after a chunk's octets */
    ST_TRAILER,    /* the trailer section */
    ST_DONE,
    ST_ERROR,
};

/* Where a field's name and value start in head (both NUL-terminated). */
struct http_field_pos {
    size_t name;
    size_t value;
};

struct http_request {
    uint64_t body_max;
    int state;
    bool head_done; /* HEAD was returned: the accessors answer */
    /* The request line and the field lines, each cut in place into
     * NUL-terminated pieces once complete; line_start is where the line
     * being gathered begins. */
    struct buf head;
    size_t line_start;
    unsigned empty_lines;
    size_t target; /* offset of the target in head (the method is at 0) */
    unsigned minor;
    struct http_field_pos fields[HTTP_HEADER_FIELDS_MAX];
    size_t nfields;
    /* Octets of the header (then the trailer) section's complete lines. */
    size_t section;
    /* A chunk-size line or a trailer line being gathered. */
    struct buf line;
    unsigned trailer_fields;
    enum http_body_framing framing;
    uint64_t content_length;
    uint64_t declared;  /* Content-Length, or the chunk sizes so far */
    uint64_t remaining; /* octets left of the body or of the chunk */
    uint64_t received;  /* body octets handed out */
    int status;
    const char *reason;
};

struct http_request *http_request_new(uint64_t body_max)
{
    struct http_request *r = xcalloc(1, sizeof(*r));
    r->body_max = body_max;
    buf_init(&r->head, HTTP_REQUEST_LINE_MAX + HTTP_HEADER_SECTION_MAX);
    buf_init(&r->line, HTTP_HEADER_SECTION_MAX);
    http_request_reset(r);
    return r;
}

void http_request_free(struct http_request **rp)
{
    struct http_request *r = *rp;
    if (!r)
        return;
    buf_free(&r->head);
    buf_free(&r->line);
    x_free(rp);
}

void http_request_reset(struct http_request *r)
{
    r->state = ST_START;
    r->head_done = false;
    buf_reset(&r->head);
    r->line_start = 0;
    r->empty_lines = 0;
    r->target = 0;
    r->minor = 0;
    r->nfields = 0;
    r->section = 0;
    buf_reset(&r->line);
    r->trailer_fields = 0;
    r->framing = HTTP_BODY_NONE;
    r->content_length = 0;
    r->declared = 0;
    r->remaining = 0;
    r->received = 0;
    r->status = 0;
    r->reason = NULL;
}

/* Refuse the request: the state every later call reports. */
static void fail(struct http_request *r, int status, const char *reason)
{
    r->state = ST_ERROR;
    r->status = status;
    r->reason = reason;
}

/* RFC 9110 5.6.2 tchar: the octets of a token (method, field name). */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 9110 5.6.3 OWS: optional whitespace around values and list elements. */
static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* HEXDIG, either case: chunk sizes and percent escapes. */
static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The value of a HEXDIG (is_hex() holds). */
static unsigned hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return (unsigned)(c - '0');
    return (unsigned)(str_lower_char(c) - 'a' + 10);
}

bool http_token_valid(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i]))
            return false;
    return true;
}

bool http_field_value_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

/* Gather the octets of a line into b, up to and including its LF. The line
 * began at offset start of b and may hold limit octets in all. Returns 1 when
 * the line is complete, 0 when the input ran out first, -1 when the line
 * would be longer than limit (nothing is appended then). */
static int gather(struct buf *b, size_t start, size_t limit, const char *data, size_t len,
                  size_t *i)
{
    const char *p = data + *i;
    size_t avail = len - *i;
    const char *lf = memchr(p, '\n', avail);
    size_t take = lf ? (size_t)(lf - p) + 1 : avail;
    size_t have = b->len - start;
    if (have > limit || take > limit - have)
        return -1;
    if (buf_append(b, p, take) < 0)
        return -1;
    *i += take;
    return lf != NULL;
}

/* A complete line of n octets (LF included): it must end in CR LF and hold
 * no other CR. Returns the reason it does not, or NULL. */
static const char *line_ending_error(const char *line, size_t n)
{
    if (n < 2 || line[n - 2] != '\r')
        return "bare LF";
    if (memchr(line, '\r', n - 2) != NULL)
        return "bare CR";
    return NULL;
}

/* The origin-form target (RFC 9112 3.2.1): an absolute path and an optional
 * query, made of RFC 3986 pchar, "/" and "?". */
static bool origin_form_valid(const char *s, size_t n)
{
    if (n == 0 || s[0] != '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
                return false;
            i += 2;
            continue;
        }
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            continue;
        if (c == '\0' || strchr("-._~!$&'()*+,;=:@/?", c) == NULL)
            return false;
    }
    return true;
}

/* Check the request line (CR LF removed, at offset 0 of head) and cut it into
 * method, target and version. Returns 0 or -1 (refused). */
static int request_line(struct http_request *r, char *line, size_t n)
{
    char *sp1 = memchr(line, ' ', n);
    if (!sp1) {
        fail(r, 400, "malformed request line");
        return -1;
    }
    size_t mlen = (size_t)(sp1 - line);
    if (!http_token_valid(line, mlen)) {
        fail(r, 400, "bad method");
        return -1;
    }
    char *target = sp1 + 1;
    char *sp2 = memchr(target, ' ', n - mlen - 1);
    if (!sp2 || sp2 == target) {
        fail(r, 400, "malformed request line");
        return -1;
    }
    size_t tlen = (size_t)(sp2 - target);
    const char *version = sp2 + 1;
    size_t vlen = n - mlen - 1 - tlen - 1;
    if (vlen != 8 || memcmp(version, "HTTP/", 5) != 0 || version[5] < '0' || version[5] > '9' ||
        version[6] != '.' || version[7] < '0' || version[7] > '9') {
        fail(r, 400, "malformed HTTP version");
        return -1;
    }
    if (version[5] != '1' || version[7] > '1') {
        fail(r, 505, "HTTP version not supported");
        return -1;
    }
    r->minor = (unsigned)(version[7] - '0');
    if (tlen == 1 && target[0] == '*') {
        if (mlen != 7 || memcmp(line, "OPTIONS", 7) != 0) {
            fail(r, 400, "target * without OPTIONS");
            return -1;
        }
    } else if (target[0] != '/') {
        fail(r, 400, "target not in origin-form");
        return -1;
    } else if (!origin_form_valid(target, tlen)) {
        fail(r, 400, "bad request target");
        return -1;
    }
    *sp1 = '\0';
    *sp2 = '\0';
    line[n] = '\0';
    r->target = (size_t)(target - line);
    return 0;
}

/* Check a field line (CR LF removed) and cut it in place into its name and
 * its value without surrounding whitespace, each NUL-terminated (line[n]
 * must be writable). Returns the reason it is refused (a 400), or NULL. */
static const char *field_line(char *line, size_t n, size_t *value_r)
{
    if (n > 0 && is_ows(line[0]))
        return "obsolete line folding";
    char *colon = memchr(line, ':', n);
    if (!colon)
        return "field line without a colon";
    size_t nlen = (size_t)(colon - line);
    if (nlen == 0)
        return "empty field name";
    if (!http_token_valid(line, nlen))
        return is_ows(line[nlen - 1]) ? "whitespace before a colon" : "bad field name";
    size_t v = nlen + 1, e = n;
    while (v < e && is_ows(line[v]))
        v++;
    while (e > v && is_ows(line[e - 1]))
        e--;
    if (memchr(line + v, '\0', e - v) != NULL)
        return "NUL in a field value";
    if (!http_field_value_valid(line + v, e - v))
        return "control character in a field value";
    line[nlen] = '\0';
    line[e] = '\0';
    *value_r = v;
    return NULL;
}

/* Call fn on each element of a comma-separated list, OWS trimmed. Stops at
 * and returns the first non-zero result of fn. */
static int list_each(const char *v, int (*fn)(void *ctx, const char *e, size_t n), void *ctx)
{
    for (;;) {
        const char *comma = strchr(v, ',');
        size_t n = comma ? (size_t)(comma - v) : strlen(v);
        size_t s = 0;
        while (s < n && is_ows(v[s]))
            s++;
        while (n > s && is_ows(v[n - 1]))
            n--;
        int ret = fn(ctx, v + s, n - s);
        if (ret != 0 || !comma)
            return ret;
        v = comma + 1;
    }
}

/* What the Content-Length fields say. */
struct length_scan {
    bool seen;
    bool too_large; /* more than UINT64_MAX */
    uint64_t value;
};

/* One element of Content-Length: 1*DIGIT, the same number as the others
 * (a number past UINT64_MAX counts as too large, and as equal to any other
 * such: the request is refused with 413 either way). Returns 0, or -1 (a
 * 400). */
static int length_element(void *ctx, const char *e, size_t n)
{
    struct length_scan *ls = ctx;
    if (n == 0)
        return -1;
    uint64_t v = 0;
    bool big = false;
    for (size_t i = 0; i < n; i++) {
        if (e[i] < '0' || e[i] > '9')
            return -1;
        unsigned d = (unsigned)(e[i] - '0');
        if (big || v > (UINT64_MAX - d) / 10) {
            big = true;
            v = UINT64_MAX;
        } else {
            v = v * 10 + d;
        }
    }
    if (ls->seen && (big != ls->too_large || v != ls->value))
        return -1;
    ls->seen = true;
    ls->too_large = big;
    ls->value = v;
    return 0;
}

/* What the Transfer-Encoding fields say. */
struct coding_scan {
    unsigned count;   /* codings */
    unsigned chunked; /* of which chunked */
    bool last_chunked;
};

/* One element of Transfer-Encoding: a bare token. Returns 0 or -1 (a 400). */
static int coding_element(void *ctx, const char *e, size_t n)
{
    struct coding_scan *cs = ctx;
    if (!http_token_valid(e, n))
        return -1;
    cs->count++;
    cs->last_chunked = n == 7 && str_eqn_ci(e, "chunked", 7);
    if (cs->last_chunked)
        cs->chunked++;
    return 0;
}

/* The Host field value (RFC 9110 7.2): uri-host [ ":" port ], or empty. */
static bool host_valid(const char *s)
{
    size_t n = strlen(s), i = 0;
    if (n > 0 && s[0] == '[') {
        const char *end = memchr(s, ']', n);
        if (!end)
            return false;
        for (i = 1; s + i < end; i++)
            if (!is_hex(s[i]) && s[i] != ':' && s[i] != '.' && s[i] != 'v' && s[i] != 'V')
                return false;
        i++;
    } else {
        for (; i < n && s[i] != ':'; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '%') {
                if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
                    return false;
                i += 2;
                continue;
            }
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                continue;
            if (strchr("-._~!$&'()*+,;=", c) == NULL)
                return false;
        }
    }
    if (i == n)
        return true;
    if (s[i] != ':')
        return false;
    for (i++; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* The header section is complete: check Host and find how the body is
 * delimited (RFC 9112 6.3). Returns 0 or -1 (refused). */
static int end_head(struct http_request *r)
{
    r->head_done = true; /* for the lookups below; undone on failure */
    size_t hosts = 0, pos = 0;
    const char *v;
    while ((v = http_request_header_next(r, "Host", &pos)) != NULL) {
        if (++hosts > 1) {
            fail(r, 400, "several Host fields");
            goto refused;
        }
        if (!host_valid(v)) {
            fail(r, 400, "bad Host field");
            goto refused;
        }
    }
    if (hosts == 0 && r->minor == 1) {
        fail(r, 400, "no Host field");
        goto refused;
    }

    struct length_scan ls = {0};
    pos = 0;
    while ((v = http_request_header_next(r, "Content-Length", &pos)) != NULL) {
        if (list_each(v, length_element, &ls) != 0) {
            fail(r, 400, "bad Content-Length");
            goto refused;
        }
    }
    struct coding_scan cs = {0};
    bool te = false;
    pos = 0;
    while ((v = http_request_header_next(r, "Transfer-Encoding", &pos)) != NULL) {
        te = true;
        if (list_each(v, coding_element, &cs) != 0) {
            fail(r, 400, "bad Transfer-Encoding");
            goto refused;
        }
    }
    if (te) {
        if (ls.seen) {
            fail(r, 400, "both Content-Length and Transfer-Encoding");
            goto refused;
        }
        if (r->minor == 0) {
            fail(r, 400, "Transfer-Encoding in HTTP/1.0");
            goto refused;
        }
        if (!cs.last_chunked) {
            fail(r, 400, "chunked is not the last transfer coding");
            goto refused;
        }
        if (cs.chunked > 1) {
            fail(r, 400, "chunked applied twice");
            goto refused;
        }
        if (cs.count > 1) {
            fail(r, 501, "transfer coding not implemented");
            goto refused;
        }
        r->framing = HTTP_BODY_CHUNKED;
        buf_reset(&r->line);
        r->state = ST_CHUNK_LINE;
        return 0;
    }
    if (ls.seen) {
        if (ls.too_large || ls.value > r->body_max) {
            fail(r, 413, "body too large");
            goto refused;
        }
        r->framing = HTTP_BODY_LENGTH;
        r->content_length = ls.value;
        r->declared = ls.value;
        r->remaining = ls.value;
        r->state = ls.value > 0 ? ST_LENGTH : ST_DONE;
        return 0;
    }
    r->framing = HTTP_BODY_NONE;
    r->state = ST_DONE;
    return 0;

refused:
    r->head_done = false;
    return -1;
}

/* Gather and take one line of the request line or the header section.
 * Returns 1 when the header section is complete, 0 when more input is
 * needed, -1 when refused. */
static int head_line(struct http_request *r, const char *data, size_t len, size_t *i)
{
    bool first = r->state == ST_START;
    size_t limit = first ? HTTP_REQUEST_LINE_MAX : HTTP_HEADER_SECTION_MAX - r->section;
    int got = gather(&r->head, r->line_start, limit, data, len, i);
    if (got < 0) {
        if (first)
            fail(r, 414, "request line too long");
        else
            fail(r, 431, "header section too large");
        return -1;
    }
    if (got == 0)
        return 0;
    char *line = r->head.data + r->line_start;
    size_t n = r->head.len - r->line_start;
    const char *why = line_ending_error(line, n);
    if (why) {
        fail(r, 400, why);
        return -1;
    }
    n -= 2; /* CR LF */
    if (first) {
        if (n == 0) {
            /* an empty line before the request line (RFC 9112 2.2) */
            buf_reset(&r->head);
            if (++r->empty_lines > HTTP_EMPTY_LINES_MAX) {
                fail(r, 400, "too many empty lines");
                return -1;
            }
            return 0;
        }
        if (request_line(r, line, n) < 0)
            return -1;
        r->state = ST_FIELDS;
        r->line_start = r->head.len;
        return 0;
    }
    r->section += n + 2;
    if (n == 0)
        return 1;
    size_t value;
    why = field_line(line, n, &value);
    if (why) {
        fail(r, 400, why);
        return -1;
    }
    if (r->nfields == HTTP_HEADER_FIELDS_MAX) {
        fail(r, 431, "too many header fields");
        return -1;
    }
    r->fields[r->nfields].name = r->line_start;
    r->fields[r->nfields].value = r->line_start + value;
    r->nfields++;
    r->line_start = r->head.len;
    return 0;
}

/* A quoted-string (RFC 9110 5.6.4) at s[*i] (the opening quote): move *i
 * past it. Returns false if it is malformed or unterminated. */
static bool skip_quoted(const char *s, size_t n, size_t *i)
{
    for (size_t k = *i + 1; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c == '"') {
            *i = k + 1;
            return true;
        }
        if (c == '\\') {
            if (++k == n)
                return false;
            c = (unsigned char)s[k];
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return false;
}

/* Skip a token at s[*i]; false if there is none. */
static bool skip_token(const char *s, size_t n, size_t *i)
{
    size_t k = *i;
    while (k < n && is_tchar((unsigned char)s[k]))
        k++;
    if (k == *i)
        return false;
    *i = k;
    return true;
}

/* A chunk-size line (RFC 9112 7.1, CR LF removed): the size, and
 * extensions *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )
 * that are checked and ignored. Returns 0 and the size, or -1 (a 400, with
 * the reason in *why_r). */
static int chunk_line(const char *s, size_t n, uint64_t *size_r, const char **why_r)
{
    size_t i = 0;
    uint64_t size = 0;
    while (i < n && is_hex(s[i])) {
        if (i == HTTP_CHUNK_SIZE_DIGITS_MAX) {
            *why_r = "chunk size too long";
            return -1;
        }
        size = size << 4 | hex_value(s[i]);
        i++;
    }
    if (i == 0) {
        *why_r = "bad chunk size";
        return -1;
    }
    *why_r = "bad chunk extension";
    while (i < n) {
        while (i < n && is_ows(s[i]))
            i++;
        if (i == n || s[i] != ';')
            return -1;
        i++;
        while (i < n && is_ows(s[i]))
            i++;
        if (!skip_token(s, n, &i))
            return -1;
        size_t k = i;
        while (k < n && is_ows(s[k]))
            k++;
        if (k < n && s[k] == '=') {
            for (k++; k < n && is_ows(s[k]);)
                k++;
            if (k < n && s[k] == '"') {
                if (!skip_quoted(s, n, &k))
                    return -1;
            } else if (!skip_token(s, n, &k)) {
                return -1;
            }
            i = k;
        }
    }
    *size_r = size;
    return 0;
}

/* Gather and take one chunk-size line. Returns 1 when taken, 0 when more
 * input is needed, -1 when refused. */
static int take_chunk_line(struct http_request *r, const char *data, size_t len, size_t *i)
{
    int got = gather(&r->line, 0, HTTP_CHUNK_LINE_MAX, data, len, i);
    if (got < 0) {
        fail(r, 400, "chunk line too long");
        return -1;
    }
    if (got == 0)
        return 0;
    const char *why = line_ending_error(r->line.data, r->line.len);
    uint64_t size = 0;
    if (why || chunk_line(r->line.data, r->line.len - 2, &size, &why) < 0) {
        fail(r, 400, why);
        return -1;
    }
    buf_reset(&r->line);
    if (size > r->body_max - r->declared) {
        fail(r, 413, "body too large");
        return -1;
    }
    r->declared += size;
    if (size == 0) {
        r->section = 0;
        r->trailer_fields = 0;
        r->state = ST_TRAILER;
    } else {
        r->remaining = size;
        r->state = ST_CHUNK_DATA;
    }
    return 1;
}

/* Gather and take one trailer line (checked, then dropped). Returns 1 when
 * it was the empty line that ends the request, 0 otherwise, -1 when
 * refused. */
static int take_trailer_line(struct http_request *r, const char *data, size_t len, size_t *i)
{
    int got = gather(&r->line, 0, HTTP_HEADER_SECTION_MAX - r->section, data, len, i);
    if (got < 0) {
        fail(r, 431, "trailer section too large");
        return -1;
    }
    if (got == 0)
        return 0;
    const char *why = line_ending_error(r->line.data, r->line.len);
    if (why) {
        fail(r, 400, why);
        return -1;
    }
    size_t n = r->line.len - 2, value;
    r->section += r->line.len;
    if (n == 0)
        return 1;
    why = field_line(r->line.data, n, &value);
    if (why) {
        fail(r, 400, why);
        return -1;
    }
    if (++r->trailer_fields > HTTP_HEADER_FIELDS_MAX) {
        fail(r, 431, "too many trailer fields");
        return -1;
    }
    buf_reset(&r->line);
    return 0;
}

/* Hand out up to r->remaining octets of data[*i..len) as a body run. */
static enum http_request_event body_run(struct http_request *r, const char *data, size_t len,
                                        size_t *i, const char **body_r, size_t *body_len_r)
{
    size_t run = len - *i;
    if (run > r->remaining)
        run = (size_t)r->remaining;
    *body_r = data + *i;
    *body_len_r = run;
    *i += run;
    r->remaining -= run;
    r->received += run;
    return HTTP_REQUEST_BODY;
}

enum http_request_event http_request_feed(struct http_request *r, const char *data, size_t len,
                                          size_t *used_r, const char **body_r, size_t *body_len_r)
{
    size_t i = 0;
    enum http_request_event ev = HTTP_REQUEST_MORE;
    *body_r = NULL;
    *body_len_r = 0;
    for (;;) {
        if (r->state == ST_DONE) {
            ev = HTTP_REQUEST_DONE;
            break;
        }
        if (r->state == ST_ERROR) {
            ev = HTTP_REQUEST_ERROR;
            break;
        }
        if (i == len) {
            ev = HTTP_REQUEST_MORE;
            break;
        }
        int got;
        switch (r->state) {
        case ST_START:
        case ST_FIELDS:
            got = head_line(r, data, len, &i);
            if (got > 0 && end_head(r) == 0) {
                ev = HTTP_REQUEST_HEAD;
                goto out;
            }
            break;
        case ST_LENGTH:
            ev = body_run(r, data, len, &i, body_r, body_len_r);
            if (r->remaining == 0)
                r->state = ST_DONE;
            goto out;
        case ST_CHUNK_LINE:
            take_chunk_line(r, data, len, &i);
            break;
        case ST_CHUNK_DATA:
            ev = body_run(r, data, len, &i, body_r, body_len_r);
            if (r->remaining == 0)
                r->state = ST_CHUNK_CR;
            goto out;
        case ST_CHUNK_CR:
        case ST_CHUNK_LF:
            if (data[i] != (r->state == ST_CHUNK_CR ? '\r' : '\n')) {
                fail(r, 400, "chunk not followed by CR LF");
                break;
            }
            i++;
            r->state = r->state == ST_CHUNK_CR ? ST_CHUNK_LF : ST_CHUNK_LINE;
            break;
        case ST_TRAILER:
            if (take_trailer_line(r, data, len, &i) > 0)
                r->state = ST_DONE;
            break;
        default:
            abort(); /* no other state */
        }
    }
out:
    *used_r = i;
    return ev;
}

bool http_request_idle(const struct http_request *r)
{
    return r->state == ST_START && r->head.len == 0;
}

int http_request_status(const struct http_request *r)
{
    return r->state == ST_ERROR ? r->status : 0;
}

const char *http_request_error(const struct http_request *r)
{
    return r->state == ST_ERROR ? r->reason : NULL;
}

const char *http_request_method(const struct http_request *r)
{
    return r->head_done ? r->head.data : NULL;
}

const char *http_request_target(const struct http_request *r)
{
    return r->head_done ? r->head.data + r->target : NULL;
}

unsigned http_request_version_minor(const struct http_request *r)
{
    return r->head_done ? r->minor : 0;
}

size_t http_request_field_count(const struct http_request *r)
{
    return r->head_done ? r->nfields : 0;
}

bool http_request_field(const struct http_request *r, size_t i, const char **name_r,
                        const char **value_r)
{
    if (!r->head_done || i >= r->nfields)
        return false;
    *name_r = r->head.data + r->fields[i].name;
    *value_r = r->head.data + r->fields[i].value;
    return true;
}

const char *http_request_header(const struct http_request *r, const char *name)
{
    size_t pos = 0;
    return http_request_header_next(r, name, &pos);
}

const char *http_request_header_next(const struct http_request *r, const char *name, size_t *pos)
{
    if (!r->head_done)
        return NULL;
    for (size_t i = *pos; i < r->nfields; i++) {
        if (str_eq_ci(r->head.data + r->fields[i].name, name)) {
            *pos = i + 1;
            return r->head.data + r->fields[i].value;
        }
    }
    *pos = r->nfields;
    return NULL;
}

/* list_each() callback: is this element the token in ctx? */
static int token_element(void *ctx, const char *e, size_t n)
{
    const char *token = ctx;
    return strlen(token) == n && str_eqn_ci(e, token, n);
}

bool http_request_header_has_token(const struct http_request *r, const char *name,
                                   const char *token)
{
    size_t pos = 0;
    const char *v;
    while ((v = http_request_header_next(r, name, &pos)) != NULL)
        if (list_each(v, token_element, (void *)token) != 0)
            return true;
    return false;
}

bool http_request_keep_alive(const struct http_request *r)
{
    if (!r->head_done || r->state == ST_ERROR)
        return false;
    if (http_request_header_has_token(r, "Connection", "close"))
        return false;
    return r->minor == 1 || http_request_header_has_token(r, "Connection", "keep-alive");
}

bool http_request_expect_continue(const struct http_request *r)
{
    return r->head_done && r->minor == 1 &&
           http_request_header_has_token(r, "Expect", "100-continue");
}

/* list_each() callback: an expectation other than 100-continue? */
static int other_expectation(void *ctx, const char *e, size_t n)
{
    (void)ctx;
    return n > 0 && !(n == 12 && str_eqn_ci(e, "100-continue", 12));
}

bool http_request_expect_other(const struct http_request *r)
{
    if (!r->head_done || r->minor == 0)
        return false;
    size_t pos = 0;
    const char *v;
    while ((v = http_request_header_next(r, "Expect", &pos)) != NULL)
        if (list_each(v, other_expectation, NULL) != 0)
            return true;
    return false;
}

enum http_body_framing http_request_framing(const struct http_request *r)
{
    return r->head_done ? r->framing : HTTP_BODY_NONE;
}

uint64_t http_request_content_length(const struct http_request *r)
{
    return r->head_done ? r->content_length : 0;
}

uint64_t http_request_body_received(const struct http_request *r)
{
    return r->received;
}
