/* milter-packet: encoders, the incremental reader and the reply decoder
 * of the milter protocol (see milter-packet.h). */
#include "policy/milter-packet.h"

#include <string.h>

/* Append a big-endian 32-bit number (to a buffer known to have room). */
static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_u32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | (uint32_t)u[3];
}

/* Append the header of a packet of len bytes of data for cmd. */
static int put_head(struct buf *out, char cmd, size_t len)
{
    if (len >= MILTER_PACKET_MAX)
        return -1;
    unsigned char head[5];
    put_u32(head, (uint32_t)(len + 1));
    head[4] = (unsigned char)cmd;
    return buf_append(out, head, sizeof(head));
}

/* Build a packet from pieces so that out gains all of it or nothing. */
struct piece {
    const void *p;
    size_t n;
};

static int put_pieces(struct buf *out, char cmd, const struct piece *pieces, size_t count)
{
    size_t len = 0;
    for (size_t i = 0; i < count; i++) {
        if (pieces[i].n >= MILTER_PACKET_MAX)
            return -1;
        len += pieces[i].n;
        if (len >= MILTER_PACKET_MAX)
            return -1;
    }
    size_t mark = out->len;
    if (put_head(out, cmd, len) != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (pieces[i].n > 0 && buf_append(out, pieces[i].p, pieces[i].n) != 0) {
            buf_truncate(out, mark);
            return -1;
        }
    }
    return 0;
}

int milter_encode(struct buf *out, char cmd, const void *data, size_t len)
{
    const struct piece p[] = {{data, len}};
    return put_pieces(out, cmd, p, 1);
}

int milter_encode_optneg(struct buf *out, uint32_t version, uint32_t actions, uint32_t protocol)
{
    unsigned char d[12];
    put_u32(d, version);
    put_u32(d + 4, actions);
    put_u32(d + 8, protocol);
    return milter_encode(out, SMFIC_OPTNEG, d, sizeof(d));
}

/* A C string with its terminator, as a piece. */
static struct piece str_piece(const char *s)
{
    struct piece p = {s, strlen(s) + 1};
    return p;
}

int milter_encode_macro(struct buf *out, char stage, const char *const *names,
                        const char *const *values, size_t n_pairs)
{
    struct buf data;
    buf_init(&data, MILTER_PACKET_MAX - 1);
    int rc = buf_append_char(&data, stage);
    for (size_t i = 0; rc == 0 && i < n_pairs; i++) {
        rc = buf_append(&data, names[i], strlen(names[i]) + 1);
        if (rc == 0)
            rc = buf_append(&data, values[i], strlen(values[i]) + 1);
    }
    if (rc == 0)
        rc = milter_encode(out, SMFIC_MACRO, data.data, data.len);
    buf_free(&data);
    return rc;
}

int milter_encode_connect(struct buf *out, const char *hostname, char family, uint16_t port,
                          const char *address)
{
    const char fam[1] = {family};
    if (family == SMFIA_UNKNOWN) {
        const struct piece p[] = {str_piece(hostname), {fam, 1}};
        return put_pieces(out, SMFIC_CONNECT, p, 2);
    }
    if (family != SMFIA_UNIX && family != SMFIA_INET && family != SMFIA_INET6)
        return -1;
    const unsigned char portb[2] = {(unsigned char)(port >> 8), (unsigned char)port};
    const struct piece p[] = {str_piece(hostname), {fam, 1}, {portb, 2}, str_piece(address)};
    return put_pieces(out, SMFIC_CONNECT, p, 4);
}

int milter_encode_helo(struct buf *out, const char *helo)
{
    const struct piece p[] = {str_piece(helo)};
    return put_pieces(out, SMFIC_HELO, p, 1);
}

int milter_encode_args(struct buf *out, char cmd, const char *const *argv, size_t argc)
{
    if (argc == 0)
        return -1;
    struct buf data;
    buf_init(&data, MILTER_PACKET_MAX - 1);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < argc; i++)
        rc = buf_append(&data, argv[i], strlen(argv[i]) + 1);
    if (rc == 0)
        rc = milter_encode(out, cmd, data.data, data.len);
    buf_free(&data);
    return rc;
}

int milter_encode_header(struct buf *out, const char *name, const char *value)
{
    const struct piece p[] = {str_piece(name), str_piece(value)};
    return put_pieces(out, SMFIC_HEADER, p, 2);
}

int milter_encode_body(struct buf *out, const void *data, size_t len)
{
    if (len > MILTER_BODY_CHUNK_MAX)
        return -1;
    return milter_encode(out, SMFIC_BODY, data, len);
}

/* --- the reader --- */

void milter_reader_init(struct milter_reader *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->packet, MILTER_PACKET_MAX);
}

void milter_reader_free(struct milter_reader *r)
{
    buf_free(&r->packet);
    memset(r, 0, sizeof(*r));
}

int milter_reader_push(struct milter_reader *r, const void *p, size_t n, size_t *used_r)
{
    const unsigned char *in = p;
    size_t used = 0;
    if (r->complete) {
        r->complete = false;
        r->head_have = 0;
        r->want = 0;
        buf_reset(&r->packet);
    }
    while (r->head_have < sizeof(r->head)) {
        if (used == n) {
            *used_r = used;
            return 0;
        }
        r->head[r->head_have++] = in[used++];
        if (r->head_have == sizeof(r->head)) {
            uint32_t len = get_u32((const char *)r->head);
            if (len == 0 || len > MILTER_PACKET_MAX) {
                *used_r = used;
                return -1;
            }
            r->want = len;
        }
    }
    size_t take = r->want - r->packet.len;
    if (take > n - used)
        take = n - used;
    if (take > 0 && buf_append(&r->packet, in + used, take) != 0) {
        *used_r = used;
        return -1; /* cannot happen: want <= the buffer's maximum */
    }
    used += take;
    *used_r = used;
    if (r->packet.len < r->want)
        return 0;
    r->complete = true;
    return 1;
}

void milter_reader_packet(const struct milter_reader *r, char *cmd_r, const char **data_r,
                          size_t *len_r)
{
    const char *all = buf_cstr(&r->packet);
    *cmd_r = r->packet.len > 0 ? all[0] : '\0';
    *data_r = r->packet.len > 0 ? all + 1 : all;
    *len_r = r->packet.len > 0 ? r->packet.len - 1 : 0;
}

/* --- the decoder --- */

/* Take the NUL-terminated string at data[*pos..len): *s_r points to it,
 * *pos moves past its NUL. -1 if there is no NUL. */
static int take_str(const char *data, size_t len, size_t *pos, const char **s_r, size_t *n_r)
{
    if (*pos >= len)
        return -1;
    const char *s = data + *pos;
    const char *nul = memchr(s, '\0', len - *pos);
    if (nul == NULL)
        return -1;
    *s_r = s;
    *n_r = (size_t)(nul - s);
    *pos += *n_r + 1;
    return 0;
}

/* A header field name (RFC 5322 ftext): printable ASCII but ':'. */
static bool field_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > MILTER_FIELD_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == ':')
            return false;
    }
    return true;
}

/* A header field value: no control byte but tab, and line ends only as
 * folding (CRLF or LF followed by a space or tab), never at its end. */
static bool field_value_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r') {
            if (i + 1 >= n || s[i + 1] != '\n')
                return false;
            continue;
        }
        if (c == '\n') {
            if (i + 1 >= n || (s[i + 1] != ' ' && s[i + 1] != '\t'))
                return false;
            continue;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

/* Text without control bytes (8-bit allowed: addresses may be UTF-8). */
static bool text_ok(const char *s, size_t n, size_t max)
{
    if (n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* 1 to 3 digits at s[*i..n); moves *i past them. */
static bool take_digits(const char *s, size_t n, size_t *i)
{
    size_t start = *i;
    while (*i < n && is_digit(s[*i]) && *i - start < 3)
        (*i)++;
    return *i > start && (*i >= n || !is_digit(s[*i]));
}

/* The SMTP reply of SMFIR_REPLYCODE: "4xx" or "5xx", then optionally a
 * space, an enhanced code of the same class and text. */
static int parse_replycode(const char *s, size_t n, struct milter_reply *out, const char **error_r)
{
    if (n < 3 || n > MILTER_REPLY_LINE_MAX) {
        *error_r = "reply code of a bad length";
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f) {
            *error_r = "reply code with a byte that is not printable ASCII";
            return -1;
        }
    }
    if ((s[0] != '4' && s[0] != '5') || s[1] < '0' || s[1] > '5' || !is_digit(s[2])) {
        *error_r = "reply code not 4xx or 5xx";
        return -1;
    }
    if (n > 3 && s[3] != ' ') {
        *error_r = "reply code not followed by a space";
        return -1;
    }
    out->code = (unsigned)(s[0] - '0') * 100 + (unsigned)(s[1] - '0') * 10 + (unsigned)(s[2] - '0');
    out->line = s;
    out->text = s + n;
    size_t i = 4;
    if (n <= 3)
        return 0;
    if (i + 1 < n && is_digit(s[i]) && s[i + 1] == '.') {
        size_t start = i;
        if (s[i] != s[0]) {
            *error_r = "enhanced code of another class than the reply code";
            return -1;
        }
        i += 2;
        if (!take_digits(s, n, &i) || i >= n || s[i] != '.') {
            *error_r = "malformed enhanced code";
            return -1;
        }
        i++;
        if (!take_digits(s, n, &i) || (i < n && s[i] != ' ')) {
            *error_r = "malformed enhanced code";
            return -1;
        }
        memcpy(out->enh, s + start, i - start); /* at most 1+1+3+1+3 bytes */
        out->enh[i - start] = '\0';
        if (i < n)
            i++;
    }
    out->text = s + i;
    return 0;
}

/* The data must be exactly one string: set *s_r, *n_r. */
static int one_str(const char *data, size_t len, const char **s_r, size_t *n_r)
{
    size_t pos = 0;
    if (take_str(data, len, &pos, s_r, n_r) != 0 || pos != len)
        return -1;
    return 0;
}

int milter_reply_decode(char cmd, const char *data, size_t len, struct milter_reply *out,
                        const char **error_r)
{
    memset(out, 0, sizeof(*out));
    out->cmd = cmd;
    out->text = "";
    out->line = "";
    out->name = "";
    out->value = "";
    out->body = "";
    const char *s, *v;
    size_t sn, vn, pos = 0;
    switch (cmd) {
    case SMFIR_OPTNEG:
        if (len < 12) {
            *error_r = "negotiation reply shorter than 12 bytes";
            return -1;
        }
        out->version = get_u32(data);
        out->actions = get_u32(data + 4);
        out->protocol = get_u32(data + 8);
        return 0;
    case SMFIR_CONTINUE:
    case SMFIR_ACCEPT:
    case SMFIR_REJECT:
    case SMFIR_DISCARD:
    case SMFIR_TEMPFAIL:
    case SMFIR_PROGRESS:
        if (len != 0) {
            *error_r = "data after a reply that has none";
            return -1;
        }
        return 0;
    case SMFIR_REPLYCODE:
        if (one_str(data, len, &s, &sn) != 0) {
            *error_r = "reply code not one string";
            return -1;
        }
        return parse_replycode(s, sn, out, error_r);
    case SMFIR_QUARANTINE:
        if (one_str(data, len, &s, &sn) != 0 || sn == 0 || !text_ok(s, sn, MILTER_REPLY_LINE_MAX)) {
            *error_r = "malformed quarantine reason";
            return -1;
        }
        out->name = s;
        return 0;
    case SMFIR_INSHEADER:
    case SMFIR_CHGHEADER:
        if (len < 4) {
            *error_r = "header change without an index";
            return -1;
        }
        out->index = get_u32(data);
        pos = 4;
        __attribute__((fallthrough));
    case SMFIR_ADDHEADER:
        if (take_str(data, len, &pos, &s, &sn) != 0 || take_str(data, len, &pos, &v, &vn) != 0 ||
            pos != len) {
            *error_r = "header modification not two strings";
            return -1;
        }
        if (!field_name_ok(s, sn)) {
            *error_r = "malformed header field name";
            return -1;
        }
        if (!field_value_ok(v, vn)) {
            *error_r = "malformed header field value";
            return -1;
        }
        out->name = s;
        out->value = v;
        return 0;
    case SMFIR_ADDRCPT:
    case SMFIR_DELRCPT:
        if (one_str(data, len, &s, &sn) != 0 || sn == 0 || !text_ok(s, sn, MILTER_ADDRESS_MAX)) {
            *error_r = "malformed recipient";
            return -1;
        }
        out->name = s;
        return 0;
    case SMFIR_CHGFROM:
        if (take_str(data, len, &pos, &s, &sn) != 0 || sn == 0 ||
            !text_ok(s, sn, MILTER_ADDRESS_MAX)) {
            *error_r = "malformed sender";
            return -1;
        }
        out->name = s;
        if (pos == len)
            return 0;
        if (take_str(data, len, &pos, &v, &vn) != 0 || pos != len ||
            !text_ok(v, vn, MILTER_ADDRESS_MAX)) {
            *error_r = "malformed sender arguments";
            return -1;
        }
        out->value = v;
        return 0;
    case SMFIR_REPLBODY:
        out->body = data;
        out->body_len = len;
        return 0;
    default:
        *error_r = "unknown reply";
        return -1;
    }
}
