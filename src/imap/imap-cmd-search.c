/* imap-cmd-search: SEARCH and UID SEARCH (RFC 3501 6.4.4, MODSEQ of RFC
 * 7162 3.1.5) over the selected folder.
 *
 * Each message is judged in steps, each reading more, and only as far as
 * the criteria need (three-valued: a key whose data is not read yet is
 * "unknown", and NOT/OR/AND combine unknowns so that a known answer stops
 * the reading):
 *
 *   1. what the view holds: flags, keywords, size, internal date, sets,
 *      modseq;
 *   2. "hdr": the fields Subject, From, To, Cc, Bcc, Date and Message-ID,
 *      unfolded, RFC 2047-decoded to UTF-8 and case-folded, kept in the
 *      store's per-message cache (so a later search reads no file) and,
 *      for the folder searched last, in memory (see "memo" below);
 *   3. the whole header section, decoded the same way (HEADER of another
 *      field, TEXT);
 *   4. the body: the text parts, transfer-decoded and converted to UTF-8
 *      (BODY, TEXT).
 *
 * Strings match as case-insensitive substrings: ASCII, and the Latin-1,
 * Latin Extended-A, Greek and Cyrillic letters that fold within two
 * octets of UTF-8. Memory is bounded: one message at a time, each read
 * bounded by the limits below. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imap/imap-search-parse.h"
#include "imap/imap-seqset.h"
#include "imap/imap-session-private.h"
#include "lib/str.h"
#include "mime/mime-charset.h"
#include "mime/mime-decode.h"
#include "mime/mime-encoded-word.h"
#include "mime/mime-header.h"
#include "mime/mime-parse.h"

/* Octets of a header section read from a file (the rest is not searched). */
#define SEARCH_HEADER_READ_MAX (256 * 1024)
/* Octets of a message read for BODY and TEXT (the rest is not searched). */
#define SEARCH_MESSAGE_READ_MAX (32 * 1024 * 1024)
/* Decoded octets kept of one header field. */
#define SEARCH_FIELD_MAX (16 * 1024)
/* The cached "hdr" value, and the whole decoded header section. */
#define SEARCH_HDR_MAX    (64 * 1024)
#define SEARCH_HEADER_MAX (512 * 1024)
/* Decoded text of one message's body parts together. */
#define SEARCH_TEXT_MAX (64 * 1024 * 1024)
/* Output of "* SEARCH ..." written in pieces of about this size. */
#define SEARCH_OUT_CHUNK (64 * 1024)
/* Read size. */
#define SEARCH_READ_CHUNK (16 * 1024)

/* The cache key and the version of its format (first octet). */
#define HDR_CACHE_KEY     "hdr"
#define HDR_CACHE_VERSION '1'

/* The fields kept in "hdr": each occurrence is one octet (its index + 1),
 * the folded value (no octet below 0x20), '\n'. */
static const char *const hdr_fields[] = {"Subject", "From", "To",        "Cc",
                                         "Bcc",     "Date", "Message-ID"};
enum {
    HDR_SUBJECT,
    HDR_FROM,
    HDR_TO,
    HDR_CC,
    HDR_BCC,
    HDR_DATE,
    HDR_MESSAGE_ID,
    HDR_COUNT,
};

/* What a key needs read to be judged (the steps above). */
enum need {
    NEED_VIEW,
    NEED_HDR,
    NEED_HEADER,
    NEED_BODY,
};

/* One search over the view. */
struct search {
    struct imap_session *s;
    struct imap_search q;
    bool need_hdr, need_header, need_body; /* some key needs this step */
    bool memo;                             /* the memo below is this folder's */
    /* The message being judged, and what of it was read. */
    const struct store_msg *m;
    uint32_t seq;
    bool have_hdr, have_header, have_body;
    bool have_raw_header, have_raw_message;
    struct buf hdr;       /* the "hdr" value */
    struct buf raw;       /* the header section, or the whole message */
    struct buf header;    /* every field: "name:value\n", folded */
    struct buf text;      /* the decoded text parts, folded */
    struct buf tmp, tmp2; /* decoding */
};

/* ------------------------------------------------------------ folding */

/* The lower case of a code point that stays two octets in UTF-8, or cp. */
static uint32_t fold_cp(uint32_t cp)
{
    if ((cp >= 0xc0 && cp <= 0xde && cp != 0xd7) || (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2) ||
        (cp >= 0x410 && cp <= 0x42f))
        return cp + 0x20;
    if (cp >= 0x400 && cp <= 0x40f)
        return cp + 0x50;
    if (((cp >= 0x100 && cp <= 0x12f) || (cp >= 0x14a && cp <= 0x177)) && !(cp & 1))
        return cp + 1;
    if (cp >= 0x132 && cp <= 0x137 && !(cp & 1))
        return cp + 1;
    return cp;
}

/* Fold s[0..n) in place: ASCII and the two-octet letters above to lower
 * case, control characters to spaces. The length never changes. */
static void fold(char *s, size_t n)
{
    unsigned char *p = (unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c < 0x80) {
            if (c >= 'A' && c <= 'Z')
                p[i] = (unsigned char)(c + 32);
            else if (c < 0x20 || c == 0x7f)
                p[i] = ' ';
            continue;
        }
        if ((c & 0xe0) == 0xc0 && i + 1 < n && (p[i + 1] & 0xc0) == 0x80) {
            uint32_t cp = ((uint32_t)(c & 0x1f) << 6) | (p[i + 1] & 0x3f);
            uint32_t lc = fold_cp(cp);
            if (lc != cp) {
                p[i] = (unsigned char)(0xc0 | (lc >> 6));
                p[i + 1] = (unsigned char)(0x80 | (lc & 0x3f));
            }
            i++;
        }
    }
}

/* Append s[0..n) folded; 0, or -1 past out's maximum (out unchanged). */
static int append_folded(struct buf *out, const char *s, size_t n)
{
    size_t at = out->len;
    if (buf_append(out, s, n) < 0)
        return -1;
    fold(out->data + at, n);
    return 0;
}

/* True if the folded needle is in the folded haystack. */
static bool contains(const char *hay, size_t hay_len, const char *needle, size_t needle_len)
{
    if (needle_len == 0)
        return true;
    return memmem(hay, hay_len, needle, needle_len) != NULL;
}

/* ------------------------------------------------------------ dates */

/* A day as one comparable number. */
static long day_number(int year, int month, int day)
{
    return (long)year * 10000 + month * 100 + day;
}

/* The internal date's day in the server's time zone. */
static long internal_day(time_t t)
{
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return 0;
    return day_number(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* The day of a Date: value (folded), "[dow,] d mon yyyy ..." as written
 * (RFC 5322 3.3, the obsolete two-digit years of 4.3), or -1. */
static long sent_day(const char *v, size_t n)
{
    static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    size_t i = 0;
    while (i < n && (v[i] == ' ' || v[i] == '\t'))
        i++;
    const char *comma = memchr(v + i, ',', n - i);
    if (comma && comma - (v + i) <= 10)
        i = (size_t)(comma - v) + 1;
    while (i < n && v[i] == ' ')
        i++;
    int day = 0, digits = 0;
    while (i < n && v[i] >= '0' && v[i] <= '9' && digits < 2) {
        day = day * 10 + (v[i++] - '0');
        digits++;
    }
    if (!digits || day < 1 || day > 31)
        return -1;
    while (i < n && (v[i] == ' ' || v[i] == '-'))
        i++;
    if (i + 3 > n)
        return -1;
    int month = 0;
    for (int k = 0; k < 12; k++)
        if (memcmp(v + i, months + 3 * k, 3) == 0)
            month = k + 1;
    if (!month)
        return -1;
    i += 3;
    while (i < n && (v[i] == ' ' || v[i] == '-'))
        i++;
    int year = 0;
    digits = 0;
    while (i < n && v[i] >= '0' && v[i] <= '9' && digits < 4) {
        year = year * 10 + (v[i++] - '0');
        digits++;
    }
    if (digits == 2)
        year += year < 50 ? 2000 : 1900;
    else if (digits == 3)
        year += 1900;
    else if (digits != 4)
        return -1;
    return day_number(year, month, day);
}

/* ------------------------------------------------------------ reading */

/* The index of a cached field by name (any case), or -1. */
static int hdr_field_index(const char *name, size_t len)
{
    for (int i = 0; i < HDR_COUNT; i++)
        if (strlen(hdr_fields[i]) == len && str_eqn_ci(name, hdr_fields[i], len))
            return i;
    return -1;
}

/* Decode a raw field value (folding removed, RFC 2047 words decoded) and
 * append it folded to out, cut at SEARCH_FIELD_MAX. 0, or -1 past out's
 * maximum. */
static int append_field_value(struct search *c, const char *v, size_t n, struct buf *out)
{
    buf_reset(&c->tmp);
    c->tmp.max = SEARCH_FIELD_MAX;
    (void)mime_encoded_words_decode(v, n, &c->tmp); /* a prefix if too long */
    return append_folded(out, c->tmp.data ? c->tmp.data : "", c->tmp.len);
}

/* Read the header section of the message from its file into c->raw (up to
 * the empty line, at most SEARCH_HEADER_READ_MAX). 0, or -1 (the file is
 * gone or unreadable). */
static int read_raw_header(struct search *c)
{
    buf_reset(&c->raw);
    int fd = store_view_msg_open(c->s->view, c->m->uid, NULL);
    if (fd < 0)
        return -1;
    size_t scanned = 0;
    for (;;) {
        size_t want = SEARCH_READ_CHUNK;
        if (c->raw.len + want > SEARCH_HEADER_READ_MAX)
            want = SEARCH_HEADER_READ_MAX - c->raw.len;
        if (want == 0)
            break;
        char *p = buf_reserve(&c->raw, want);
        if (!p)
            break;
        ssize_t r = read(fd, p, want);
        if (r <= 0)
            break;
        buf_commit(&c->raw, (size_t)r);
        /* the end of the header: a line break at the start, or two in a row */
        if (c->raw.data[0] == '\n' ||
            (c->raw.len >= 2 && c->raw.data[0] == '\r' && c->raw.data[1] == '\n'))
            break;
        size_t from = scanned > 0 ? scanned - 1 : 0;
        const char *e = memmem(c->raw.data + from, c->raw.len - from, "\n\n", 2);
        if (!e)
            e = memmem(c->raw.data + from, c->raw.len - from, "\n\r\n", 3);
        if (e)
            break;
        scanned = c->raw.len > 2 ? c->raw.len - 2 : 0;
    }
    close(fd);
    c->have_raw_header = true;
    return 0;
}

/* Read the whole message (at most SEARCH_MESSAGE_READ_MAX) into c->raw.
 * 0, or -1. */
static int read_raw_message(struct search *c)
{
    buf_reset(&c->raw);
    int fd = store_view_msg_open(c->s->view, c->m->uid, NULL);
    if (fd < 0)
        return -1;
    for (;;) {
        size_t want = 256 * 1024;
        if (c->raw.len + want > SEARCH_MESSAGE_READ_MAX)
            want = SEARCH_MESSAGE_READ_MAX - c->raw.len;
        if (want == 0)
            break;
        char *p = buf_reserve(&c->raw, want);
        if (!p)
            break;
        ssize_t r = read(fd, p, want);
        if (r <= 0)
            break;
        buf_commit(&c->raw, (size_t)r);
    }
    close(fd);
    c->have_raw_header = c->have_raw_message = true;
    return 0;
}

/* Build the "hdr" value from c->raw's header section. */
static void build_hdr(struct search *c)
{
    buf_reset(&c->hdr);
    buf_append_char(&c->hdr, HDR_CACHE_VERSION);
    size_t pos = 0;
    struct mime_field f;
    while (mime_header_next(c->raw.data, c->raw.len, &pos, &f) == 1) {
        int k = hdr_field_index(f.name, f.name_len);
        if (k < 0)
            continue;
        size_t at = c->hdr.len;
        if (buf_append_char(&c->hdr, (char)(k + 1)) < 0 ||
            append_field_value(c, f.value, f.value_len, &c->hdr) < 0 ||
            buf_append_char(&c->hdr, '\n') < 0) {
            buf_truncate(&c->hdr, at); /* full: the later fields are left out */
            break;
        }
    }
}

/* ------------------------------------------------------------ memo */

/* The "hdr" values of the folder searched last in this process, in
 * memory, so that searching it again costs no index lookups. A message's
 * header never changes while its folder keeps its UIDVALIDITY, so an entry
 * found under (account, folder, UIDVALIDITY, UID) is always right.
 * Entries are added in ascending UID order only (a search walks the view
 * that way), up to SEARCH_MEMO_MAX octets. */
#define SEARCH_MEMO_MAX     (32 * 1024 * 1024)
#define SEARCH_MEMO_KEY_MAX (4096 + STORE_FOLDER_NAME_MAX + 2)

struct memo_entry {
    uint32_t uid;
    uint32_t len;
    size_t off; /* in memo.data */
};

static struct {
    char key[SEARCH_MEMO_KEY_MAX]; /* account path, '/', folder name */
    uint32_t uidvalidity;
    struct memo_entry *v;
    size_t n, cap;
    size_t cursor; /* where the last lookup ended: searches walk in order */
    struct buf data;
} memo;

/* Make the memo the one of the view's folder (emptied if it was
 * another's). false if the key does not fit (no memo then). */
static bool memo_select(struct store_account *acc, struct store_view *v)
{
    char key[SEARCH_MEMO_KEY_MAX];
    int len = snprintf(key, sizeof(key), "%s/%s", store_account_path(acc), store_view_name(v));
    if (len < 0 || (size_t)len >= sizeof(key))
        return false;
    if (strcmp(key, memo.key) == 0 && memo.uidvalidity == store_view_uidvalidity(v)) {
        memo.cursor = 0;
        return true;
    }
    memcpy(memo.key, key, (size_t)len + 1);
    memo.uidvalidity = store_view_uidvalidity(v);
    memo.n = memo.cursor = 0;
    buf_free(&memo.data);
    buf_init(&memo.data, SEARCH_MEMO_MAX);
    return true;
}

/* The memo's entry for uid, or NULL. */
static const struct memo_entry *memo_find(uint32_t uid)
{
    size_t i = memo.cursor;
    if (i < memo.n && memo.v[i].uid == uid) {
        memo.cursor = i + 1;
        return &memo.v[i];
    }
    size_t lo = 0, hi = memo.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memo.v[mid].uid < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < memo.n && memo.v[lo].uid == uid) {
        memo.cursor = lo + 1;
        return &memo.v[lo];
    }
    return NULL;
}

/* Keep a value (only past the largest UID held, while there is room). */
static void memo_add(uint32_t uid, const char *data, size_t len)
{
    if ((memo.n > 0 && uid <= memo.v[memo.n - 1].uid) || len > UINT32_MAX)
        return;
    if (memo.n == memo.cap) {
        size_t cap = memo.cap ? memo.cap * 2 : 1024;
        if (cap * sizeof(*memo.v) > SEARCH_MEMO_MAX / 4)
            return;
        struct memo_entry *nv = realloc(memo.v, cap * sizeof(*nv));
        if (!nv)
            return;
        memo.v = nv;
        memo.cap = cap;
    }
    size_t off = memo.data.len;
    if (buf_append(&memo.data, data, len) < 0)
        return;
    memo.v[memo.n++] = (struct memo_entry){.uid = uid, .len = (uint32_t)len, .off = off};
}

/* Step 2: the cached fields. 0, or -1 (the message cannot be read). */
static int load_hdr(struct search *c)
{
    buf_reset(&c->hdr);
    const struct memo_entry *e = c->memo ? memo_find(c->m->uid) : NULL;
    if (e && buf_append(&c->hdr, memo.data.data + e->off, e->len) == 0) {
        c->have_hdr = true;
        return 0;
    }
    if (store_view_cache_get(c->s->view, c->m->uid, HDR_CACHE_KEY, &c->hdr) == 1 &&
        c->hdr.len > 0 && c->hdr.data[0] == HDR_CACHE_VERSION) {
        c->have_hdr = true;
        if (c->memo)
            memo_add(c->m->uid, c->hdr.data, c->hdr.len);
        return 0;
    }
    if (!c->have_raw_header) {
        if ((c->need_body ? read_raw_message(c) : read_raw_header(c)) < 0)
            return -1;
    }
    build_hdr(c);
    /* A failure only costs reading the file again next time. */
    (void)store_view_cache_put(c->s->view, c->m->uid, HDR_CACHE_KEY, c->hdr.data, c->hdr.len);
    if (c->memo)
        memo_add(c->m->uid, c->hdr.data, c->hdr.len);
    c->have_hdr = true;
    return 0;
}

/* Step 3: every field decoded. 0, or -1. */
static int load_header(struct search *c)
{
    if (!c->have_raw_header && (c->need_body ? read_raw_message(c) : read_raw_header(c)) < 0)
        return -1;
    buf_reset(&c->header);
    size_t pos = 0;
    struct mime_field f;
    while (mime_header_next(c->raw.data, c->raw.len, &pos, &f) == 1) {
        size_t at = c->header.len;
        if (append_folded(&c->header, f.name, f.name_len) < 0 ||
            buf_append_char(&c->header, ':') < 0 ||
            append_field_value(c, f.value, f.value_len, &c->header) < 0 ||
            buf_append_char(&c->header, '\n') < 0) {
            buf_truncate(&c->header, at);
            break;
        }
    }
    c->have_header = true;
    return 0;
}

/* Append one text part's body, transfer-decoded and in UTF-8, folded. */
static void append_part_text(struct search *c, const struct mime_part *p)
{
    const char *enc = (p->flags & MIME_PART_IS_MIME) ? p->content.encoding : NULL;
    const char *charset =
        (p->flags & MIME_PART_IS_MIME) ? mime_params_get(&p->content.type_params, "charset") : NULL;
    size_t room = c->text.max - c->text.len;
    if (room < 2)
        return;
    buf_reset(&c->tmp);
    c->tmp.max = room;
    (void)mime_decode_body(enc, c->raw.data + p->body_off, p->body_len, &c->tmp);
    buf_reset(&c->tmp2);
    c->tmp2.max = room - 1;
    const char *why;
    if (!charset || !charset[0] || str_eq_ci(charset, "us-ascii") ||
        mime_charset_to_utf8(charset, c->tmp.data ? c->tmp.data : "", c->tmp.len, &c->tmp2, &why) <
            0) {
        /* no charset (8-bit text is most often UTF-8), or an unknown one */
        if (c->tmp2.len == 0)
            (void)mime_charset_to_utf8("utf-8", c->tmp.data ? c->tmp.data : "", c->tmp.len,
                                       &c->tmp2, &why);
    }
    if (append_folded(&c->text, c->tmp2.data ? c->tmp2.data : "", c->tmp2.len) == 0)
        buf_append_char(&c->text, '\n');
}

/* Step 4: the text of the body parts. 0, or -1. */
static int load_body(struct search *c)
{
    if (!c->have_raw_message && read_raw_message(c) < 0)
        return -1;
    buf_reset(&c->text);
    struct mime_message *mm = mime_message_parse(c->raw.data ? c->raw.data : "", c->raw.len);
    for (size_t i = 0; i < mm->n_parts; i++) {
        const struct mime_part *p = mm->parts[i];
        if (p->n_children == 0 && (p->flags & MIME_PART_TEXT))
            append_part_text(c, p);
    }
    mime_message_free(&mm);
    c->have_body = true;
    return 0;
}

/* ------------------------------------------------------------ judging */

/* Whether field k of "hdr" has an occurrence containing needle (an
 * empty needle: whether the field occurs at all). */
static bool hdr_match(const struct search *c, int k, const char *needle, size_t len)
{
    const char *p = c->hdr.data + 1, *end = c->hdr.data + c->hdr.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        if (*p == (char)(k + 1) && contains(p + 1, (size_t)(nl - p - 1), needle, len))
            return true;
        p = nl + 1;
    }
    return false;
}

/* The first Date: of "hdr" as a day, or -1. */
static long hdr_sent_day(const struct search *c)
{
    const char *p = c->hdr.data + 1, *end = c->hdr.data + c->hdr.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        if (*p == (char)(HDR_DATE + 1))
            return sent_day(p + 1, (size_t)(nl - p - 1));
        p = nl + 1;
    }
    return -1;
}

/* Whether a field named name (folded) of the decoded header contains
 * needle. */
static bool header_match(const struct search *c, const char *name, size_t name_len,
                         const char *needle, size_t len)
{
    const char *p = c->header.data, *end = c->header.data + c->header.len;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        const char *colon = memchr(p, ':', (size_t)(nl - p));
        if (colon && (size_t)(colon - p) == name_len && memcmp(p, name, name_len) == 0 &&
            contains(colon + 1, (size_t)(nl - colon - 1), needle, len))
            return true;
        p = nl + 1;
    }
    return false;
}

/* 1 match, 0 no match, -1 unknown until more of the message is read. */
static int eval(struct search *c, const struct imap_search_key *k)
{
    const struct store_msg *m = c->m;
    int k_hdr = -1;
    switch (k->type) {
    case IMAP_SEARCH_ALL:
        return 1;
    case IMAP_SEARCH_ANSWERED:
        return (m->flags & STORE_FLAG_ANSWERED) != 0;
    case IMAP_SEARCH_DELETED:
        return (m->flags & STORE_FLAG_DELETED) != 0;
    case IMAP_SEARCH_DRAFT:
        return (m->flags & STORE_FLAG_DRAFT) != 0;
    case IMAP_SEARCH_FLAGGED:
        return (m->flags & STORE_FLAG_FLAGGED) != 0;
    case IMAP_SEARCH_SEEN:
        return (m->flags & STORE_FLAG_SEEN) != 0;
    case IMAP_SEARCH_UNANSWERED:
        return (m->flags & STORE_FLAG_ANSWERED) == 0;
    case IMAP_SEARCH_UNDELETED:
        return (m->flags & STORE_FLAG_DELETED) == 0;
    case IMAP_SEARCH_UNDRAFT:
        return (m->flags & STORE_FLAG_DRAFT) == 0;
    case IMAP_SEARCH_UNFLAGGED:
        return (m->flags & STORE_FLAG_FLAGGED) == 0;
    case IMAP_SEARCH_UNSEEN:
        return (m->flags & STORE_FLAG_SEEN) == 0;
    case IMAP_SEARCH_NEW:
        return m->recent && (m->flags & STORE_FLAG_SEEN) == 0;
    case IMAP_SEARCH_OLD:
        return !m->recent;
    case IMAP_SEARCH_RECENT:
        return m->recent;
    case IMAP_SEARCH_KEYWORD:
        return k->number < 32 && (m->keywords >> k->number) & 1u;
    case IMAP_SEARCH_UNKEYWORD:
        return !(k->number < 32 && (m->keywords >> k->number) & 1u);
    case IMAP_SEARCH_LARGER:
        return m->size > k->number;
    case IMAP_SEARCH_SMALLER:
        return m->size < k->number;
    case IMAP_SEARCH_BEFORE:
    case IMAP_SEARCH_ON:
    case IMAP_SEARCH_SINCE: {
        long d = internal_day(m->internal_date);
        long want = day_number(k->date.year, k->date.month, k->date.day);
        return k->type == IMAP_SEARCH_BEFORE ? d < want
               : k->type == IMAP_SEARCH_ON   ? d == want
                                             : d >= want;
    }
    case IMAP_SEARCH_SEQSET:
        return imap_seqset_contains(&k->set, c->seq);
    case IMAP_SEARCH_UID:
        return imap_seqset_contains(&k->set, m->uid);
    case IMAP_SEARCH_MODSEQ:
        return m->modseq >= k->number;
    case IMAP_SEARCH_SENTBEFORE:
    case IMAP_SEARCH_SENTON:
    case IMAP_SEARCH_SENTSINCE: {
        if (!c->have_hdr)
            return -1;
        long d = hdr_sent_day(c);
        if (d < 0)
            return 0;
        long want = day_number(k->date.year, k->date.month, k->date.day);
        return k->type == IMAP_SEARCH_SENTBEFORE ? d < want
               : k->type == IMAP_SEARCH_SENTON   ? d == want
                                                 : d >= want;
    }
    case IMAP_SEARCH_SUBJECT:
        k_hdr = HDR_SUBJECT;
        break;
    case IMAP_SEARCH_FROM:
        k_hdr = HDR_FROM;
        break;
    case IMAP_SEARCH_TO:
        k_hdr = HDR_TO;
        break;
    case IMAP_SEARCH_CC:
        k_hdr = HDR_CC;
        break;
    case IMAP_SEARCH_BCC:
        k_hdr = HDR_BCC;
        break;
    case IMAP_SEARCH_HEADER: {
        int h = hdr_field_index(k->header, strlen(k->header));
        if (h >= 0) {
            k_hdr = h;
            break;
        }
        if (!c->have_header)
            return -1;
        return header_match(c, k->header, strlen(k->header), k->str, k->len);
    }
    case IMAP_SEARCH_BODY:
        if (!c->have_body)
            return -1;
        return contains(c->text.data, c->text.len, k->str, k->len);
    case IMAP_SEARCH_TEXT:
        if (c->have_header && contains(c->header.data, c->header.len, k->str, k->len))
            return 1;
        if (!c->have_header || !c->have_body)
            return -1;
        return contains(c->text.data, c->text.len, k->str, k->len);
    case IMAP_SEARCH_NOT: {
        int r = eval(c, &k->children[0]);
        return r < 0 ? -1 : !r;
    }
    case IMAP_SEARCH_OR: {
        int a = eval(c, &k->children[0]);
        if (a == 1)
            return 1;
        int b = eval(c, &k->children[1]);
        if (b == 1)
            return 1;
        return a == 0 && b == 0 ? 0 : -1;
    }
    case IMAP_SEARCH_AND: {
        int res = 1;
        for (size_t i = 0; i < k->count; i++) {
            int r = eval(c, &k->children[i]);
            if (r == 0)
                return 0;
            if (r < 0)
                res = -1;
        }
        return res;
    }
    }
    if (k_hdr < 0)
        return 0;
    if (!c->have_hdr)
        return -1;
    return hdr_match(c, k_hdr, k->str, k->len);
}

/* Get the tree ready for a view: fold the strings, find the keywords,
 * resolve the sets; note which steps it needs. */
static void prepare(struct search *c, struct imap_search_key *k)
{
    struct store_view *v = c->s->view;
    switch (k->type) {
    case IMAP_SEARCH_KEYWORD:
    case IMAP_SEARCH_UNKEYWORD: {
        int i = store_view_keyword_index(v, k->str, false);
        k->number = i < 0 ? UINT64_MAX : (uint64_t)i;
        break;
    }
    case IMAP_SEARCH_SEQSET:
        imap_seqset_resolve(&k->set, (uint32_t)store_view_count(v));
        break;
    case IMAP_SEARCH_UID: {
        size_t n = store_view_count(v);
        imap_seqset_resolve(&k->set, n ? store_view_msg(v, n - 1)->uid : 0);
        break;
    }
    case IMAP_SEARCH_SUBJECT:
    case IMAP_SEARCH_FROM:
    case IMAP_SEARCH_TO:
    case IMAP_SEARCH_CC:
    case IMAP_SEARCH_BCC:
    case IMAP_SEARCH_SENTBEFORE:
    case IMAP_SEARCH_SENTON:
    case IMAP_SEARCH_SENTSINCE:
        c->need_hdr = true;
        break;
    case IMAP_SEARCH_HEADER:
        fold(k->header, strlen(k->header));
        if (hdr_field_index(k->header, strlen(k->header)) >= 0)
            c->need_hdr = true;
        else
            c->need_header = true;
        break;
    case IMAP_SEARCH_BODY:
        c->need_body = true;
        break;
    case IMAP_SEARCH_TEXT:
        c->need_header = c->need_body = true;
        break;
    default:
        break;
    }
    if (k->str)
        fold(k->str, k->len);
    for (size_t i = 0; i < k->count; i++)
        prepare(c, &k->children[i]);
}

/* Judge message i of the view: 1 match, 0 not (or unreadable). */
static int judge(struct search *c, size_t i)
{
    c->m = store_view_msg(c->s->view, i);
    c->seq = (uint32_t)i + 1;
    c->have_hdr = c->have_header = c->have_body = false;
    c->have_raw_header = c->have_raw_message = false;
    int r = eval(c, &c->q.root);
    if (r >= 0)
        return r;
    if (c->need_hdr) {
        if (load_hdr(c) < 0)
            return 0;
        if ((r = eval(c, &c->q.root)) >= 0)
            return r;
    }
    if (c->need_header) {
        if (load_header(c) < 0)
            return 0;
        if ((r = eval(c, &c->q.root)) >= 0)
            return r;
    }
    if (c->need_body) {
        if (load_body(c) < 0)
            return 0;
        if ((r = eval(c, &c->q.root)) >= 0)
            return r;
    }
    return 0;
}

enum imap_cmd_status imap_cmd_search(struct imap_session *s, struct imap_cmd *cmd)
{
    struct search c;
    memset(&c, 0, sizeof(c));
    c.s = s;
    const char *why = NULL;
    int prc = imap_search_parse(cmd->args, cmd->count, &c.q, &why);
    if (prc == IMAP_SEARCH_PARSE_BADCHARSET)
        return imap_cmd_no(s, cmd, "[BADCHARSET (US-ASCII UTF-8)] %s", why);
    if (prc != IMAP_SEARCH_PARSE_OK)
        return imap_cmd_bad(s, cmd, "%s", why);
    if (c.q.uses_modseq) {
        /* RFC 7162 3.1: a CONDSTORE-enabling command. */
        s->enabled |= IMAP_ENABLED_CONDSTORE;
        s->condstore_seen = true;
    }
    prepare(&c, &c.q.root);
    c.memo = c.need_hdr && memo_select(s->acc, s->view);
    buf_init(&c.hdr, SEARCH_HDR_MAX);
    buf_init(&c.raw, SEARCH_MESSAGE_READ_MAX);
    buf_init(&c.header, SEARCH_HEADER_MAX);
    buf_init(&c.text, SEARCH_TEXT_MAX);
    buf_init(&c.tmp, SEARCH_TEXT_MAX);
    buf_init(&c.tmp2, SEARCH_TEXT_MAX);

    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    buf_append_str(&out, "* SEARCH");
    uint64_t highest = 0;
    size_t count = store_view_count(s->view);
    /* The header fields cached on the way go to the index in batches. */
    bool batch = c.need_hdr && store_view_cache_batch(s->view, true) == 0;
    for (size_t i = 0; i < count; i++) {
        const struct store_msg *m = store_view_msg(s->view, i);
        if (m->expunged || judge(&c, i) != 1)
            continue;
        m = store_view_msg(s->view, i);
        if (m->modseq > highest)
            highest = m->modseq;
        buf_printf(&out, " %u", cmd->uid ? m->uid : (uint32_t)i + 1);
        if (out.len >= SEARCH_OUT_CHUNK) {
            imap_write(s, out.data, out.len);
            buf_reset(&out);
        }
    }
    if (batch)
        store_view_cache_batch(s->view, false);
    if (c.q.uses_modseq && highest > 0)
        buf_printf(&out, " (MODSEQ %llu)", (unsigned long long)highest);
    buf_append_str(&out, "\r\n");
    imap_write(s, out.data, out.len);
    buf_free(&out);

    buf_free(&c.hdr);
    buf_free(&c.raw);
    buf_free(&c.header);
    buf_free(&c.text);
    buf_free(&c.tmp);
    buf_free(&c.tmp2);
    imap_search_free(&c.q);
    return imap_cmd_ok(s, cmd, "%sSEARCH completed", cmd->uid ? "UID " : "");
}
