#include "certify-receipt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "certify/certify-error.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "mime/mime-parse.h"

#define B64_LINE 76 /* characters of a base64 line (RFC 2045) */

/* The subject prefix and the sentence of the text part of each type. */
static const struct {
    const char *prefix;
    const char *what;
} type_text[CERTIFY_TYPE_COUNT] = {
    [CERTIFY_ACCEPTANCE] = {"ACCEPTANCE", "was accepted by the certified mail service"},
    [CERTIFY_NON_ACCEPTANCE] = {"NON-ACCEPTANCE", "was NOT accepted by the certified mail service"},
    [CERTIFY_TRANSPORT] = {"CERTIFIED", "was sent as certified mail; the original is attached"},
    [CERTIFY_TAKING_IN_CHARGE] = {"TAKING IN CHARGE",
                                  "was taken in charge by the recipient's certified mail service"},
    [CERTIFY_DELIVERY] = {"DELIVERY", "was delivered to the recipient's mailbox"},
    [CERTIFY_DELIVERY_FAILURE] = {"DELIVERY FAILURE", "could NOT be delivered"},
    [CERTIFY_WARNING] = {"WARNING: NOT YET DELIVERED",
                         "has no delivery receipt yet; delivery is still being attempted"},
    [CERTIFY_FINAL_FAILURE] = {"FINAL NOTICE: NOT DELIVERED",
                               "got no delivery receipt in time and is considered not delivered"},
    [CERTIFY_ANOMALY] = {"ANOMALY",
                         "reached a certified mailbox without being certified; it is attached"},
};

bool certify_type_encloses(enum certify_type t, bool has_kind, enum certify_receipt_kind k)
{
    return t == CERTIFY_TRANSPORT || t == CERTIFY_ANOMALY ||
           (t == CERTIFY_DELIVERY && has_kind && k == CERTIFY_RECEIPT_COMPLETE);
}

/* n random bytes as lowercase hex into out (2n + 1 octets). */
static void random_hex(char *out, size_t n)
{
    unsigned char r[32];
    static const char hex[] = "0123456789abcdef";
    if (n > sizeof(r))
        n = sizeof(r);
    if (RAND_bytes(r, (int)n) != 1)
        abort(); /* no randomness: nothing certified can be made safely */
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[r[i] >> 4];
        out[2 * i + 1] = hex[r[i] & 15];
    }
    out[2 * n] = '\0';
}

void certify_new_id(const char *service, char out[CERTIFY_ID_MAX])
{
    char hex[33];
    random_hex(hex, 16);
    struct buf b;
    buf_init(&b, CERTIFY_ID_MAX - 1);
    if (buf_printf(&b, "%s.cert@%s", hex, service) < 0)
        buf_printf(&b, "%s.cert@invalid", hex);
    str_copy(out, CERTIFY_ID_MAX, buf_cstr(&b));
    buf_free(&b);
}

void certify_sha256_hex(const void *p, size_t n, char out[CERTIFY_HASH_HEX + 1])
{
    unsigned char md[32];
    static const char hex[] = "0123456789abcdef";
    EVP_Digest(p, n, md, NULL, EVP_sha256(), NULL);
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[CERTIFY_HASH_HEX] = '\0';
}

/* Add the hashes of the leaves under part p (whose section path is path). */
static int hash_leaves(const struct mime_message *m, const struct mime_part *p, const char *path,
                       struct certify_data *d, const char **error_r)
{
    if ((p->flags & MIME_PART_MULTIPART) && p->children) {
        unsigned i = 1;
        for (const struct mime_part *c = p->children; c; c = c->next, i++) {
            char sub[CERTIFY_PART_PATH_MAX];
            int n = path[0] ? snprintf(sub, sizeof(sub), "%s.%u", path, i)
                            : snprintf(sub, sizeof(sub), "%u", i);
            if (n < 0 || (size_t)n >= sizeof(sub)) {
                *error_r = "parts nested too deep";
                return -1;
            }
            if (hash_leaves(m, c, sub, d, error_r) < 0)
                return -1;
        }
        return 0;
    }
    char type[CERTIFY_PART_TYPE_MAX] = "text/plain";
    if (p->content.type) {
        struct buf t;
        buf_init(&t, sizeof(type) - 1);
        buf_printf(&t, "%s/%s", p->content.type, p->content.subtype);
        certify_text_clean(type, sizeof(type), t.data ? t.data : "", t.len);
        str_lower(type);
        buf_free(&t);
    }
    char hex[CERTIFY_HASH_HEX + 1];
    certify_sha256_hex(m->data + p->body_off, p->body_len, hex);
    return certify_data_add_part(d, path[0] ? path : "1", type, hex, error_r);
}

int certify_hash_parts(const char *msg, size_t len, struct certify_data *d, const char **error_r)
{
    struct mime_message *m = mime_message_parse(msg, len);
    int rc = hash_leaves(m, m->root, "", d, error_r);
    mime_message_free(&m);
    return rc;
}

/* Append n bytes as base64 in lines of B64_LINE characters, each ended by CRLF. */
static int append_base64(struct buf *out, const unsigned char *p, size_t n)
{
    unsigned char line[B64_LINE + 4];
    for (size_t off = 0; off < n; off += B64_LINE / 4 * 3) {
        size_t k = n - off < B64_LINE / 4 * 3 ? n - off : B64_LINE / 4 * 3;
        int w = EVP_EncodeBlock(line, p + off, (int)k);
        if (buf_append(out, line, (size_t)w) < 0 || buf_append_str(out, "\r\n") < 0)
            return -1;
    }
    return 0;
}

/* Append a header field value: as is if ASCII, else as RFC 2047 encoded
 * words (UTF-8, base64) of whole characters. */
static int append_header_text(struct buf *out, const char *s)
{
    size_t n = strlen(s);
    if (str_is_ascii(s, n))
        return buf_append_str(out, s);
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0;) {
        size_t k = 0;
        while (off + k < n && k < 42) {
            unsigned char c = (unsigned char)s[off + k];
            size_t step = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;
            if (k + step > 45 || off + k + step > n)
                break;
            k += step;
        }
        if (k == 0)
            k = 1;
        unsigned char enc[80];
        int w = EVP_EncodeBlock(enc, (const unsigned char *)s + off, (int)k);
        rc |= buf_printf(out, "%s=?UTF-8?B?", off ? "\r\n " : "");
        rc |= buf_append(out, enc, (size_t)w);
        rc |= buf_append_str(out, "?=");
        off += k;
    }
    return rc;
}

/* "28/11/2026 at 16:25:29 (+0100)": the time of d as the text part says it. */
static void when_text(const struct certify_data *d, char *out, size_t outsize)
{
    time_t local = d->time + (time_t)d->zone_minutes * 60;
    struct tm tm;
    int z = d->zone_minutes < 0 ? -d->zone_minutes : d->zone_minutes;
    char day[32];
    if (!gmtime_r(&local, &tm) || strftime(day, sizeof(day), "%d/%m/%Y at %H:%M:%S", &tm) == 0)
        str_copy(day, sizeof(day), "?");
    int n = snprintf(out, outsize, "%s (%c%02d%02d)", day, d->zone_minutes < 0 ? '-' : '+', z / 60,
                     z % 60);
    if (n < 0 || (size_t)n >= outsize)
        str_copy(out, outsize, day);
}

/* The human-readable text of the receipt. */
static int append_text(struct buf *out, const struct certify_data *d)
{
    char when[64];
    when_text(d, when, sizeof(when));
    int rc = 0;
    rc |= buf_printf(out, "%s\r\n\r\nOn %s the message\r\n\"%s\"\r\nfrom \"%s\"\r\n",
                     type_text[d->type].prefix, when, d->subject, d->sender);
    if (d->n_rcpts) {
        rc |= buf_append_str(out, "addressed to:\r\n");
        for (size_t i = 0; i < d->n_rcpts; i++)
            rc |= buf_printf(out, "  %s (%s)\r\n", d->rcpts[i].addr,
                             d->rcpts[i].certified ? "certified" : "external");
    }
    rc |= buf_printf(out, "%s", type_text[d->type].what);
    if (d->delivery[0])
        rc |= buf_printf(out, " (recipient: %s)", d->delivery);
    rc |= buf_append_str(out, ".\r\n");
    if (d->error != CERTIFY_ERR_NONE || d->error_ext[0])
        rc |= buf_printf(out, "\r\nError: %s%s%s\r\n", certify_error_name(d->error),
                         d->error_ext[0] ? ": " : "", d->error_ext);
    rc |= buf_printf(out, "\r\nIdentifier: %s\r\nMessage-ID: %s\r\nCertified by: %s\r\n", d->id,
                     d->msgid[0] ? d->msgid : "(none)", d->service);
    if (d->has_receipt_kind)
        rc |= buf_printf(out, "Receipt: %s\r\n", certify_receipt_kind_name(d->receipt));
    rc |= buf_append_str(out, "\r\nThe data part (daticert.xml) and the S/MIME signature of this "
                              "message are the evidence;\r\n`postino certify verify` or "
                              "`openssl cms -verify` check them.\r\n");
    return rc;
}

/* A boundary not found in data: a random one, tried until it is absent. */
static void make_boundary(char *out, size_t outsize, const char *tag, const char *data, size_t n)
{
    for (;;) {
        char hex[25];
        random_hex(hex, 12);
        int w = snprintf(out, outsize, "=_%s_%s", tag, hex);
        if (w < 0 || (size_t)w >= outsize)
            abort();
        if (!data || !memmem(data, n, out, strlen(out)))
            return;
    }
}

/* The multipart/mixed entity that is signed. */
static int build_content(const struct certify_build *b, const char *xml, size_t xml_len,
                         struct buf *out)
{
    const struct certify_data *d = b->data;
    char mix[64];
    make_boundary(mix, sizeof(mix), "mix", b->attach_original ? b->original : NULL,
                  b->original_len);
    struct buf text;
    buf_init(&text, BUF_UNLIMITED);
    append_text(&text, d);
    int rc = 0;
    rc |= buf_printf(out, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", mix);
    rc |= buf_printf(out,
                     "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: %s\r\n\r\n",
                     mix, str_is_ascii(text.data, text.len) ? "7bit" : "8bit");
    rc |= buf_append(out, text.data, text.len);
    buf_free(&text);
    rc |= buf_printf(out,
                     "\r\n--%s\r\nContent-Type: application/xml; name=\"daticert.xml\"\r\n"
                     "Content-Disposition: attachment; filename=\"daticert.xml\"\r\n"
                     "Content-Transfer-Encoding: base64\r\n\r\n",
                     mix);
    rc |= append_base64(out, (const unsigned char *)xml, xml_len);
    if (b->attach_original) {
        rc |= buf_printf(out,
                         "\r\n--%s\r\nContent-Type: message/rfc822; name=\"original.eml\"\r\n"
                         "Content-Disposition: attachment; filename=\"original.eml\"\r\n\r\n",
                         mix);
        rc |= buf_append(out, b->original, b->original_len);
    }
    /* The line break before a delimiter belongs to it (RFC 2046 5.1.1):
     * the original keeps its own last one. */
    rc |= buf_append_str(out, "\r\n");
    rc |= buf_printf(out, "--%s--\r\n", mix);
    return rc;
}

/* A CMS detached signature over content, DER. */
static int sign_content(const struct certify_signer *s, const struct buf *content, struct buf *der,
                        char **error_r)
{
    BIO *in = BIO_new_mem_buf(content->data, (int)content->len);
    CMS_ContentInfo *cms =
        in ? CMS_sign(s->cert, s->key, NULL, in, CMS_DETACHED | CMS_BINARY) : NULL;
    BIO_free(in);
    if (!cms)
        return certify_fail(error_r, "cannot sign");
    unsigned char *p = NULL;
    int n = i2d_CMS_ContentInfo(cms, &p);
    CMS_ContentInfo_free(cms);
    if (n <= 0)
        return certify_fail(error_r, "cannot encode the signature");
    int rc = buf_append(der, p, (size_t)n);
    OPENSSL_free(p);
    return rc < 0 ? certify_fail(error_r, "signature too large") : 0;
}

/* The outer header of the certified message. */
static int append_outer_header(struct buf *out, const struct certify_build *b, const char *sig)
{
    const struct certify_data *d = b->data;
    char date[64];
    time_t now = d->time;
    struct tm tm;
    time_t local = now + (time_t)d->zone_minutes * 60;
    int z = d->zone_minutes < 0 ? -d->zone_minutes : d->zone_minutes;
    if (!gmtime_r(&local, &tm) || strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S", &tm) == 0)
        return -1;
    int rc = 0;
    if (d->type == CERTIFY_TRANSPORT || d->type == CERTIFY_ANOMALY)
        rc |= buf_printf(out, "From: \"On behalf of: %s\" <%s@%s>\r\n", d->sender,
                         CERTIFY_SERVICE_LOCAL, d->service);
    else
        rc |= buf_printf(out, "From: \"Certified mail service\" <%s@%s>\r\n", CERTIFY_SERVICE_LOCAL,
                         d->service);
    rc |= buf_printf(out, "To: %s\r\n", b->to);
    if (b->reply_to)
        rc |= buf_printf(out, "Reply-To: %s\r\n", b->reply_to);
    rc |= buf_printf(out, "Subject: %s: ", type_text[d->type].prefix);
    rc |= append_header_text(out, d->subject);
    rc |= buf_printf(out, "\r\nDate: %s %c%02d%02d\r\n", date, d->zone_minutes < 0 ? '-' : '+',
                     z / 60, z % 60);
    rc |= buf_printf(out, "Message-ID: <%s>\r\n", d->id);
    rc |= buf_printf(out, "%s: %s\r\n", CERTIFY_HDR_TYPE, certify_type_name(d->type));
    if (d->type == CERTIFY_TRANSPORT)
        rc |= buf_printf(out, "%s: envelope\r\n", CERTIFY_HDR_TRANSPORT);
    else if (d->type == CERTIFY_ANOMALY)
        rc |= buf_printf(out, "%s: anomaly\r\n", CERTIFY_HDR_TRANSPORT);
    if (d->msgid[0])
        rc |= buf_printf(out, "%s: %s\r\n", CERTIFY_HDR_REFERENCE, d->msgid);
    if (d->has_receipt_kind)
        rc |= buf_printf(out, "%s: %s\r\n", CERTIFY_HDR_RECEIPT_TYPE,
                         certify_receipt_kind_name(d->receipt));
    rc |= buf_printf(out,
                     "MIME-Version: 1.0\r\nContent-Type: multipart/signed; "
                     "protocol=\"application/pkcs7-signature\"; micalg=sha-256; "
                     "boundary=\"%s\"\r\n\r\nThis is an S/MIME signed message.\r\n\r\n",
                     sig);
    return rc;
}

int certify_receipt_build(const struct certify_signer *s, const struct certify_build *b,
                          struct buf *out, char **error_r)
{
    const struct certify_data *d = b->data;
    if ((unsigned)d->type >= CERTIFY_TYPE_COUNT)
        return certify_fail(error_r, "bad receipt type");
    if (b->attach_original && !b->original)
        return certify_fail(error_r, "no original to enclose");
    if (strpbrk(b->to, "\r\n") || (b->reply_to && strpbrk(b->reply_to, "\r\n")))
        return certify_fail(error_r, "line break in an address field");
    struct buf xml, content, der;
    buf_init(&xml, CERTIFY_DATA_MAX);
    buf_init(&content, (size_t)CERTIFY_MESSAGE_MAX);
    buf_init(&der, 1024 * 1024);
    const char *why = NULL;
    int rc = -1;
    if (certify_data_write(d, &xml, &why) < 0) {
        certify_fail(error_r, "data part: %s", why);
        goto out;
    }
    if (build_content(b, xml.data, xml.len, &content) != 0) {
        certify_fail(error_r, "message too large");
        goto out;
    }
    if (sign_content(s, &content, &der, error_r) < 0)
        goto out;
    char sig[64];
    make_boundary(sig, sizeof(sig), "sig", content.data, content.len);
    size_t start = out->len;
    int w = 0;
    w |= append_outer_header(out, b, sig);
    w |= buf_printf(out, "--%s\r\n", sig);
    w |= buf_append(out, content.data, content.len);
    w |= buf_printf(out,
                    "\r\n--%s\r\nContent-Type: application/pkcs7-signature; "
                    "name=\"smime.p7s\"\r\nContent-Transfer-Encoding: base64\r\n"
                    "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n",
                    sig);
    w |= append_base64(out, (const unsigned char *)der.data, der.len);
    w |= buf_printf(out, "\r\n--%s--\r\n", sig);
    if (w != 0) {
        buf_truncate(out, start);
        certify_fail(error_r, "message too large");
        goto out;
    }
    rc = 0;
out:
    buf_free(&xml);
    buf_free(&content);
    buf_free(&der);
    return rc;
}
