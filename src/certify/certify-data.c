#include "certify-data.h"

#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"

static const char *const type_names[CERTIFY_TYPE_COUNT] = {
    "acceptance",       "non-acceptance", "transport",     "taking-in-charge", "delivery",
    "delivery-failure", "warning",        "final-failure", "anomaly",
};
static const char *const error_names[CERTIFY_ERR_COUNT] = {
    "none", "no-destination", "virus", "policy", "format", "timeout", "other",
};
static const char *const receipt_names[CERTIFY_RECEIPT_COUNT] = {"complete", "short", "summary"};

#define XML_PROLOG "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define ATTRS_MAX  4  /* attributes of one element */
#define NAME_MAX_  32 /* octets of an element or attribute name */

const char *certify_type_name(enum certify_type t)
{
    return (unsigned)t < CERTIFY_TYPE_COUNT ? type_names[t] : NULL;
}

const char *certify_error_name(enum certify_error e)
{
    return (unsigned)e < CERTIFY_ERR_COUNT ? error_names[e] : NULL;
}

const char *certify_receipt_kind_name(enum certify_receipt_kind k)
{
    return (unsigned)k < CERTIFY_RECEIPT_COUNT ? receipt_names[k] : NULL;
}

/* The index of s in names[0..n), or -1. */
static int name_index(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

int certify_type_from_name(const char *s)
{
    return name_index(type_names, CERTIFY_TYPE_COUNT, s);
}

int certify_receipt_kind_from_name(const char *s)
{
    return name_index(receipt_names, CERTIFY_RECEIPT_COUNT, s);
}

void certify_data_init(struct certify_data *d)
{
    memset(d, 0, sizeof(*d));
}

void certify_data_free(struct certify_data *d)
{
    free(d->rcpts);
    free(d->parts);
    memset(d, 0, sizeof(*d));
}

int certify_data_add_recipient(struct certify_data *d, const char *addr, bool certified,
                               const char **error_r)
{
    if (d->n_rcpts >= CERTIFY_MAX_RECIPIENTS) {
        *error_r = "too many recipients";
        return -1;
    }
    if (strlen(addr) >= CERTIFY_ADDR_MAX) {
        *error_r = "recipient address too long";
        return -1;
    }
    d->rcpts = xrealloc(d->rcpts, (d->n_rcpts + 1) * sizeof(*d->rcpts));
    struct certify_recipient *r = &d->rcpts[d->n_rcpts++];
    str_copy(r->addr, sizeof(r->addr), addr);
    r->certified = certified;
    return 0;
}

int certify_data_add_part(struct certify_data *d, const char *path, const char *type,
                          const char *sha256, const char **error_r)
{
    if (d->n_parts >= CERTIFY_MAX_PART_HASHES) {
        *error_r = "too many part hashes";
        return -1;
    }
    if (strlen(path) >= CERTIFY_PART_PATH_MAX || strlen(type) >= CERTIFY_PART_TYPE_MAX ||
        strlen(sha256) != CERTIFY_HASH_HEX) {
        *error_r = "bad part hash";
        return -1;
    }
    d->parts = xrealloc(d->parts, (d->n_parts + 1) * sizeof(*d->parts));
    struct certify_part_hash *p = &d->parts[d->n_parts++];
    str_copy(p->path, sizeof(p->path), path);
    str_copy(p->type, sizeof(p->type), type);
    str_copy(p->sha256, sizeof(p->sha256), sha256);
    return 0;
}

/* The length of the UTF-8 sequence starting with byte c (1 for ASCII). */
static size_t utf8_seq_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        return 2;
    if ((c & 0xf0) == 0xe0)
        return 3;
    return 4;
}

void certify_text_clean(char *dst, size_t dstsize, const char *src, size_t n)
{
    bool utf8 = str_utf8_valid(src, n);
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)src[i];
        if (c == '\r' || c == '\n') {
            i++;
            continue;
        }
        size_t k = (utf8 && c >= 0x80) ? utf8_seq_len(c) : 1;
        if (o + k >= dstsize)
            break;
        if (c < 0x20 || c == 0x7f)
            dst[o++] = ' ';
        else if (c >= 0x80 && !utf8)
            dst[o++] = '?';
        else {
            memcpy(dst + o, src + i, k);
            o += k;
        }
        i += k;
    }
    if (dstsize)
        dst[o] = '\0';
}

/* True if s is text a data part may hold: valid UTF-8, no control characters. */
static bool text_ok(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return str_utf8_valid(s, n);
}

/* Append s with &, <, >, " and ' escaped. */
static int append_escaped(struct buf *out, const char *s)
{
    for (; *s; s++) {
        int rc;
        switch (*s) {
        case '&':
            rc = buf_append_str(out, "&amp;");
            break;
        case '<':
            rc = buf_append_str(out, "&lt;");
            break;
        case '>':
            rc = buf_append_str(out, "&gt;");
            break;
        case '"':
            rc = buf_append_str(out, "&quot;");
            break;
        case '\'':
            rc = buf_append_str(out, "&apos;");
            break;
        default:
            rc = buf_append_char(out, *s);
            break;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Append "<name>text</name>\n", text escaped. */
static int append_element(struct buf *out, const char *name, const char *text)
{
    if (buf_printf(out, "<%s>", name) < 0 || append_escaped(out, text) < 0 ||
        buf_printf(out, "</%s>\n", name) < 0)
        return -1;
    return 0;
}

/* True if s is n lowercase hex digits exactly. */
static bool hex_ok(const char *s, size_t n)
{
    if (strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int certify_data_write(const struct certify_data *d, struct buf *out, const char **error_r)
{
    const char *type = certify_type_name(d->type), *err = certify_error_name(d->error);
    if (!type || !err || d->zone_minutes < -1439 || d->zone_minutes > 1439 ||
        (d->has_receipt_kind && !certify_receipt_kind_name(d->receipt))) {
        *error_r = "bad type, error, zone or receipt kind";
        return -1;
    }
    const char *texts[] = {d->sender, d->subject,  d->service,  d->id,
                           d->msgid,  d->delivery, d->error_ext};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        if (!text_ok(texts[i])) {
            *error_r = "a field holds control characters or invalid UTF-8";
            return -1;
        }
    }
    for (size_t i = 0; i < d->n_rcpts; i++) {
        if (!text_ok(d->rcpts[i].addr)) {
            *error_r = "a recipient holds control characters or invalid UTF-8";
            return -1;
        }
    }
    for (size_t i = 0; i < d->n_parts; i++) {
        if (!text_ok(d->parts[i].path) || !text_ok(d->parts[i].type) ||
            !hex_ok(d->parts[i].sha256, CERTIFY_HASH_HEX)) {
            *error_r = "a part hash is malformed";
            return -1;
        }
    }
    if (d->original_sha256[0] && !hex_ok(d->original_sha256, CERTIFY_HASH_HEX)) {
        *error_r = "the original's hash is malformed";
        return -1;
    }
    time_t local = d->time + (time_t)d->zone_minutes * 60;
    struct tm tm;
    if (!gmtime_r(&local, &tm)) {
        *error_r = "bad time";
        return -1;
    }
    int zabs = d->zone_minutes < 0 ? -d->zone_minutes : d->zone_minutes;
    char zone[8], date[16], clock[16];
    zone[0] = d->zone_minutes < 0 ? '-' : '+';
    zone[1] = (char)('0' + zabs / 600);
    zone[2] = (char)('0' + zabs / 60 % 10);
    zone[3] = (char)('0' + zabs % 60 / 10);
    zone[4] = (char)('0' + zabs % 10);
    zone[5] = '\0';
    if (strftime(date, sizeof(date), "%Y-%m-%d", &tm) != 10 ||
        strftime(clock, sizeof(clock), "%H:%M:%S", &tm) != 8) {
        *error_r = "bad time";
        return -1;
    }
    size_t start = out->len;
    int rc = 0;
    rc |= buf_append_str(out, XML_PROLOG);
    rc |=
        buf_printf(out, "<certdata version=\"1\" type=\"%s\" error=\"%s\">\n<header>\n", type, err);
    rc |= append_element(out, "sender", d->sender);
    for (size_t i = 0; i < d->n_rcpts && rc == 0; i++) {
        rc |= buf_printf(out, "<recipient type=\"%s\">",
                         d->rcpts[i].certified ? "certified" : "external");
        rc |= append_escaped(out, d->rcpts[i].addr);
        rc |= buf_append_str(out, "</recipient>\n");
    }
    rc |= append_element(out, "subject", d->subject);
    rc |= buf_append_str(out, "</header>\n<data>\n");
    rc |= append_element(out, "service", d->service);
    rc |= append_element(out, "identifier", d->id);
    rc |= append_element(out, "msgid", d->msgid);
    rc |= buf_printf(out, "<date zone=\"%s\">%s</date>\n<time zone=\"%s\">%s</time>\n", zone, date,
                     zone, clock);
    if (d->delivery[0])
        rc |= append_element(out, "delivery", d->delivery);
    if (d->has_receipt_kind)
        rc |= buf_printf(out, "<receipt type=\"%s\"/>\n", certify_receipt_kind_name(d->receipt));
    if (d->original_sha256[0])
        rc |= buf_printf(out, "<original sha256=\"%s\"/>\n", d->original_sha256);
    for (size_t i = 0; i < d->n_parts && rc == 0; i++) {
        rc |= buf_printf(out, "<part sha256=\"%s\" path=\"", d->parts[i].sha256);
        rc |= append_escaped(out, d->parts[i].path);
        rc |= buf_append_str(out, "\">");
        rc |= append_escaped(out, d->parts[i].type);
        rc |= buf_append_str(out, "</part>\n");
    }
    if (d->error_ext[0])
        rc |= append_element(out, "error-ext", d->error_ext);
    rc |= buf_append_str(out, "</data>\n</certdata>\n");
    if (rc != 0) {
        buf_truncate(out, start);
        *error_r = "data part too large";
        return -1;
    }
    return 0;
}

/* ---- the parser ---- */

struct xml_cursor {
    const char *p;
    size_t len, pos;
    const char *error;
};

struct xml_attr {
    char name[NAME_MAX_];
    char value[CERTIFY_TEXT_MAX];
};

/* One start tag as read: its name, attributes, and whether it was "<x/>". */
struct xml_tag {
    char name[NAME_MAX_];
    struct xml_attr attrs[ATTRS_MAX];
    size_t n_attrs;
    bool empty;
};

/* Fail with a reason (the first one stays). */
static int fail(struct xml_cursor *c, const char *why)
{
    if (!c->error)
        c->error = why;
    return -1;
}

static void skip_ws(struct xml_cursor *c)
{
    while (c->pos < c->len && (c->p[c->pos] == ' ' || c->p[c->pos] == '\t' ||
                               c->p[c->pos] == '\r' || c->p[c->pos] == '\n'))
        c->pos++;
}

static bool name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_';
}

/* Read a name into out; -1 if empty or too long. */
static int read_name(struct xml_cursor *c, char *out, size_t outsize)
{
    size_t n = 0;
    while (c->pos < c->len && name_char(c->p[c->pos])) {
        if (n + 1 >= outsize)
            return fail(c, "name too long");
        out[n++] = c->p[c->pos++];
    }
    out[n] = '\0';
    return n ? 0 : fail(c, "name expected");
}

/* Decode character data up to the stop byte ('<' for text, the quote for
 * an attribute) into out: the five named entities, no control characters,
 * valid UTF-8. The stop byte is not consumed. */
static int read_chars(struct xml_cursor *c, char stop, char *out, size_t outsize)
{
    static const struct {
        const char *name;
        char ch;
    } entities[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    size_t n = 0;
    while (c->pos < c->len && c->p[c->pos] != stop) {
        char ch = c->p[c->pos];
        if (ch == '&') {
            size_t i;
            for (i = 0; i < sizeof(entities) / sizeof(entities[0]); i++) {
                size_t el = strlen(entities[i].name);
                if (c->len - c->pos - 1 >= el &&
                    memcmp(c->p + c->pos + 1, entities[i].name, el) == 0)
                    break;
            }
            if (i == sizeof(entities) / sizeof(entities[0]))
                return fail(c, "unknown entity");
            c->pos += 1 + strlen(entities[i].name);
            ch = entities[i].ch;
        } else if ((unsigned char)ch < 0x20 || ch == 0x7f) {
            return fail(c, "control character in text");
        } else if (ch == '<' || ch == '>' || ch == '"' || ch == '\'') {
            return fail(c, "unescaped markup character in text");
        } else {
            c->pos++;
        }
        if (n + 1 >= outsize)
            return fail(c, "text too long");
        out[n++] = ch;
    }
    if (c->pos >= c->len)
        return fail(c, "unexpected end");
    out[n] = '\0';
    if (!str_utf8_valid(out, n))
        return fail(c, "invalid UTF-8");
    return 0;
}

/* Read a start tag "<name attr="v" ...>" or "<name .../>". */
static int read_start(struct xml_cursor *c, struct xml_tag *t)
{
    memset(t, 0, sizeof(*t));
    skip_ws(c);
    if (c->pos >= c->len || c->p[c->pos] != '<')
        return fail(c, "start tag expected");
    c->pos++;
    if (read_name(c, t->name, sizeof(t->name)) < 0)
        return -1;
    for (;;) {
        size_t before = c->pos;
        skip_ws(c);
        if (c->pos >= c->len)
            return fail(c, "unexpected end");
        if (c->p[c->pos] == '>') {
            c->pos++;
            return 0;
        }
        if (c->p[c->pos] == '/') {
            if (c->pos + 1 >= c->len || c->p[c->pos + 1] != '>')
                return fail(c, "bad empty tag");
            c->pos += 2;
            t->empty = true;
            return 0;
        }
        if (c->pos == before)
            return fail(c, "space expected before an attribute");
        if (t->n_attrs >= ATTRS_MAX)
            return fail(c, "too many attributes");
        struct xml_attr *a = &t->attrs[t->n_attrs];
        if (read_name(c, a->name, sizeof(a->name)) < 0)
            return -1;
        for (size_t i = 0; i < t->n_attrs; i++)
            if (strcmp(t->attrs[i].name, a->name) == 0)
                return fail(c, "repeated attribute");
        if (c->pos + 1 >= c->len || c->p[c->pos] != '=' ||
            (c->p[c->pos + 1] != '"' && c->p[c->pos + 1] != '\''))
            return fail(c, "attribute value expected");
        char quote = c->p[c->pos + 1];
        c->pos += 2;
        if (read_chars(c, quote, a->value, sizeof(a->value)) < 0)
            return -1;
        c->pos++; /* the quote */
        t->n_attrs++;
    }
}

/* Read "</name>". */
static int read_end(struct xml_cursor *c, const char *name)
{
    size_t n = strlen(name);
    if (c->len - c->pos < n + 3 || memcmp(c->p + c->pos, "</", 2) != 0 ||
        memcmp(c->p + c->pos + 2, name, n) != 0 || c->p[c->pos + 2 + n] != '>')
        return fail(c, "end tag expected");
    c->pos += n + 3;
    return 0;
}

/* True if the next start tag (after white space) is named name. */
static bool next_is(struct xml_cursor *c, const char *name)
{
    skip_ws(c);
    size_t n = strlen(name);
    return c->len - c->pos > n + 1 && c->p[c->pos] == '<' &&
           memcmp(c->p + c->pos + 1, name, n) == 0 && !name_char(c->p[c->pos + 1 + n]);
}

/* The value of attribute name of t, or NULL. */
static const char *attr(const struct xml_tag *t, const char *name)
{
    for (size_t i = 0; i < t->n_attrs; i++)
        if (strcmp(t->attrs[i].name, name) == 0)
            return t->attrs[i].value;
    return NULL;
}

/* Read a start tag that must be named name with exactly the attributes
 * listed (n_attrs of them; NULL-terminated names) and be empty or not. */
static int expect_start(struct xml_cursor *c, struct xml_tag *t, const char *name,
                        const char *const *attrs, bool empty)
{
    if (read_start(c, t) < 0)
        return -1;
    if (strcmp(t->name, name) != 0)
        return fail(c, "unexpected element");
    size_t n = 0;
    for (; attrs && attrs[n]; n++)
        if (!attr(t, attrs[n]))
            return fail(c, "missing attribute");
    if (t->n_attrs != n)
        return fail(c, "unexpected attribute");
    if (t->empty != empty)
        return fail(c, empty ? "element must be empty" : "element must not be empty");
    return 0;
}

/* Read "<name ATTRS>text</name>" into out. */
static int text_element(struct xml_cursor *c, struct xml_tag *t, const char *name,
                        const char *const *attrs, char *out, size_t outsize)
{
    if (expect_start(c, t, name, attrs, false) < 0 || read_chars(c, '<', out, outsize) < 0 ||
        read_end(c, name) < 0)
        return -1;
    return 0;
}

/* Parse "HH:MM:SS" or "YYYY-MM-DD" digits at the given positions. */
static int parse_fixed_digits(const char *s, const char *layout, int *vals)
{
    if (strlen(s) != strlen(layout))
        return -1;
    int k = -1;
    bool in_num = false;
    for (size_t i = 0; layout[i]; i++) {
        if (layout[i] == 'd') {
            if (s[i] < '0' || s[i] > '9')
                return -1;
            if (!in_num) {
                vals[++k] = 0;
                in_num = true;
            }
            vals[k] = vals[k] * 10 + (s[i] - '0');
        } else {
            if (s[i] != layout[i])
                return -1;
            in_num = false;
        }
    }
    return 0;
}

/* Parse "+HHMM" / "-HHMM" into minutes. */
static int parse_zone(const char *z, int *minutes)
{
    int v[2];
    if ((z[0] != '+' && z[0] != '-') || parse_fixed_digits(z + 1, "dddd", v) < 0)
        return -1;
    int hh = v[0] / 100, mm = v[0] % 100;
    if (hh > 23 || mm > 59)
        return -1;
    *minutes = (z[0] == '-' ? -1 : 1) * (hh * 60 + mm);
    return 0;
}

/* The date and time elements into d->time and d->zone_minutes. */
static int parse_when(struct xml_cursor *c, struct certify_data *d)
{
    static const char *const zone_attr[] = {"zone", NULL};
    struct xml_tag t;
    char date[16], clock[16], zone1[8], zone2[8];
    if (text_element(c, &t, "date", zone_attr, date, sizeof(date)) < 0)
        return -1;
    str_copy(zone1, sizeof(zone1), attr(&t, "zone"));
    if (text_element(c, &t, "time", zone_attr, clock, sizeof(clock)) < 0)
        return -1;
    str_copy(zone2, sizeof(zone2), attr(&t, "zone"));
    int dv[3], tv[3];
    if (strcmp(zone1, zone2) != 0 || parse_zone(zone1, &d->zone_minutes) < 0)
        return fail(c, "bad zone");
    if (parse_fixed_digits(date, "dddd-dd-dd", dv) < 0 || dv[1] < 1 || dv[1] > 12 || dv[2] < 1 ||
        dv[2] > 31 || dv[0] < 1970 || dv[0] > 9999)
        return fail(c, "bad date");
    if (parse_fixed_digits(clock, "dd:dd:dd", tv) < 0 || tv[0] > 23 || tv[1] > 59 || tv[2] > 60)
        return fail(c, "bad time");
    struct tm tm = {.tm_year = dv[0] - 1900,
                    .tm_mon = dv[1] - 1,
                    .tm_mday = dv[2],
                    .tm_hour = tv[0],
                    .tm_min = tv[1],
                    .tm_sec = tv[2]};
    time_t local = timegm(&tm);
    if (local == (time_t)-1 || tm.tm_mday != dv[2])
        return fail(c, "bad date");
    d->time = local - (time_t)d->zone_minutes * 60;
    return 0;
}

/* The header element: sender, recipients, subject. */
static int parse_header(struct xml_cursor *c, struct certify_data *d)
{
    static const char *const type_attr[] = {"type", NULL};
    struct xml_tag t;
    if (expect_start(c, &t, "header", NULL, false) < 0 ||
        text_element(c, &t, "sender", NULL, d->sender, sizeof(d->sender)) < 0)
        return -1;
    while (next_is(c, "recipient")) {
        char addr[CERTIFY_ADDR_MAX];
        if (text_element(c, &t, "recipient", type_attr, addr, sizeof(addr)) < 0)
            return -1;
        const char *type = attr(&t, "type");
        if (strcmp(type, "certified") != 0 && strcmp(type, "external") != 0)
            return fail(c, "bad recipient type");
        const char *why;
        if (certify_data_add_recipient(d, addr, type[0] == 'c', &why) < 0)
            return fail(c, why);
    }
    if (text_element(c, &t, "subject", NULL, d->subject, sizeof(d->subject)) < 0)
        return -1;
    skip_ws(c);
    return read_end(c, "header");
}

/* The optional elements of data after the time, in their order. */
static int parse_data_tail(struct xml_cursor *c, struct certify_data *d)
{
    static const char *const type_attr[] = {"type", NULL};
    static const char *const sha_attr[] = {"sha256", NULL};
    static const char *const part_attrs[] = {"sha256", "path", NULL};
    struct xml_tag t;
    if (next_is(c, "delivery") &&
        text_element(c, &t, "delivery", NULL, d->delivery, sizeof(d->delivery)) < 0)
        return -1;
    if (next_is(c, "receipt")) {
        if (expect_start(c, &t, "receipt", type_attr, true) < 0)
            return -1;
        int k = certify_receipt_kind_from_name(attr(&t, "type"));
        if (k < 0)
            return fail(c, "bad receipt type");
        d->has_receipt_kind = true;
        d->receipt = (enum certify_receipt_kind)k;
    }
    if (next_is(c, "original")) {
        if (expect_start(c, &t, "original", sha_attr, true) < 0)
            return -1;
        if (!hex_ok(attr(&t, "sha256"), CERTIFY_HASH_HEX))
            return fail(c, "bad hash");
        str_copy(d->original_sha256, sizeof(d->original_sha256), attr(&t, "sha256"));
    }
    while (next_is(c, "part")) {
        char type[CERTIFY_PART_TYPE_MAX];
        if (text_element(c, &t, "part", part_attrs, type, sizeof(type)) < 0)
            return -1;
        const char *why;
        if (!hex_ok(attr(&t, "sha256"), CERTIFY_HASH_HEX) ||
            strlen(attr(&t, "path")) >= CERTIFY_PART_PATH_MAX ||
            certify_data_add_part(d, attr(&t, "path"), type, attr(&t, "sha256"), &why) < 0)
            return fail(c, "bad part hash");
    }
    if (next_is(c, "error-ext") &&
        text_element(c, &t, "error-ext", NULL, d->error_ext, sizeof(d->error_ext)) < 0)
        return -1;
    return 0;
}

int certify_data_parse(const char *xml, size_t len, struct certify_data *d, const char **error_r)
{
    static const char *const root_attrs[] = {"version", "type", "error", NULL};
    certify_data_init(d);
    struct xml_cursor c = {.p = xml, .len = len};
    struct xml_tag t;
    if (len > CERTIFY_DATA_MAX) {
        *error_r = "data part too large";
        return -1;
    }
    if (memchr(xml, '\0', len)) {
        *error_r = "NUL byte in the data part";
        return -1;
    }
    size_t pl = strlen(XML_PROLOG) - 1; /* without its line break */
    if (len < pl || memcmp(xml, XML_PROLOG, pl) != 0) {
        *error_r = "missing or unexpected XML declaration";
        return -1;
    }
    c.pos = pl;
    if (expect_start(&c, &t, "certdata", root_attrs, false) < 0)
        goto fail;
    if (strcmp(attr(&t, "version"), "1") != 0) {
        fail(&c, "unknown version");
        goto fail;
    }
    int type = certify_type_from_name(attr(&t, "type"));
    int err = name_index(error_names, CERTIFY_ERR_COUNT, attr(&t, "error"));
    if (type < 0 || err < 0) {
        fail(&c, "unknown type or error");
        goto fail;
    }
    d->type = (enum certify_type)type;
    d->error = (enum certify_error)err;
    if (parse_header(&c, d) < 0 || expect_start(&c, &t, "data", NULL, false) < 0 ||
        text_element(&c, &t, "service", NULL, d->service, sizeof(d->service)) < 0 ||
        text_element(&c, &t, "identifier", NULL, d->id, sizeof(d->id)) < 0 ||
        text_element(&c, &t, "msgid", NULL, d->msgid, sizeof(d->msgid)) < 0 ||
        parse_when(&c, d) < 0 || parse_data_tail(&c, d) < 0)
        goto fail;
    skip_ws(&c);
    if (read_end(&c, "data") < 0)
        goto fail;
    skip_ws(&c);
    if (read_end(&c, "certdata") < 0)
        goto fail;
    skip_ws(&c);
    if (c.pos != c.len) {
        fail(&c, "data after the document");
        goto fail;
    }
    return 0;
fail:
    *error_r = c.error ? c.error : "malformed data part";
    return -1;
}
