#include "certify-verify.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "certify/certify-receipt.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "mime/mime-decode.h"
#include "mime/mime-header.h"
#include "mime/mime-parse.h"

#define SIGNATURE_MAX (1024 * 1024) /* octets of a decoded CMS signature */
#define FIELD_MAX     CERTIFY_TEXT_MAX

const char *certify_verdict_name(enum certify_verdict v)
{
    switch (v) {
    case CERTIFY_VALID:
        return "valid";
    case CERTIFY_INVALID:
        return "invalid";
    case CERTIFY_UNTRUSTED:
        return "untrusted";
    }
    return "?";
}

/* Set the verdict and reason (formatted); returns -1 for the callers' flow. */
static int verdict(struct certify_verify_result *r, enum certify_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int verdict(struct certify_verify_result *r, enum certify_verdict v, const char *fmt, ...)
{
    r->verdict = v;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
    if (n < 0)
        r->reason[0] = '\0';
    ERR_clear_error();
    return -1;
}

/* True if part p has Content-Type type/subtype (case-insensitive). */
static bool part_is(const struct mime_part *p, const char *type, const char *subtype)
{
    return p->content.type && str_eq_ci(p->content.type, type) &&
           str_eq_ci(p->content.subtype, subtype);
}

/* The value of the one field named name in the header of p, trimmed, into
 * out. 1 if found, 0 if absent, -1 if repeated or too long. */
static int header_value(const char *data, const struct mime_part *p, const char *name, char *out,
                        size_t outsize)
{
    size_t pos = 0;
    struct mime_field f;
    int found = 0;
    out[0] = '\0';
    while (mime_header_next(data + p->hdr_off, p->hdr_len, &pos, &f) == 1) {
        if (!mime_field_is(&f, name))
            continue;
        if (found)
            return -1;
        found = 1;
        size_t n = f.value_len;
        while (n && (f.value[n - 1] == ' ' || f.value[n - 1] == '\t' || f.value[n - 1] == '\r' ||
                     f.value[n - 1] == '\n'))
            n--;
        if (n >= outsize)
            return -1;
        certify_text_clean(out, outsize, f.value, n);
    }
    return found;
}

/* The header field name must hold want ("" meaning: must be absent). */
static int check_field(const char *data, const struct mime_part *root, const char *name,
                       const char *want, struct certify_verify_result *r)
{
    char v[FIELD_MAX];
    int rc = header_value(data, root, name, v, sizeof(v));
    if (rc < 0)
        return verdict(r, CERTIFY_INVALID, "%s repeated or too long", name);
    if (want[0] == '\0' && rc == 1)
        return verdict(r, CERTIFY_INVALID, "unexpected %s", name);
    if (want[0] && (rc == 0 || strcmp(v, want) != 0))
        return verdict(r, CERTIFY_INVALID, "%s does not match the data part", name);
    return 0;
}

/* The outer header fields against the data part. */
static int check_headers(const char *data, const struct mime_part *root,
                         struct certify_verify_result *r)
{
    const struct certify_data *d = &r->data;
    char msgid[CERTIFY_ID_MAX + 2];
    str_format(msgid, sizeof(msgid), "<%s>", d->id);
    const char *transport = d->type == CERTIFY_TRANSPORT ? "envelope"
                            : d->type == CERTIFY_ANOMALY ? "anomaly"
                                                         : "";
    const char *kind = d->has_receipt_kind ? certify_receipt_kind_name(d->receipt) : "";
    if (check_field(data, root, CERTIFY_HDR_TYPE, certify_type_name(d->type), r) < 0 ||
        check_field(data, root, "Message-ID", msgid, r) < 0 ||
        check_field(data, root, CERTIFY_HDR_REFERENCE, d->msgid, r) < 0 ||
        check_field(data, root, CERTIFY_HDR_TRANSPORT, transport, r) < 0 ||
        check_field(data, root, CERTIFY_HDR_RECEIPT_TYPE, kind, r) < 0)
        return -1;
    return 0;
}

/* The signature over signed[0..n): intact (whoever signed), and the
 * signer's certificate and subject into r. Leaves *signer_r (caller frees
 * with X509_free) for the later checks. */
static int check_signature(CMS_ContentInfo *cms, const char *signed_part, size_t n,
                           struct certify_verify_result *r, X509 **signer_r)
{
    BIO *dcont = BIO_new_mem_buf(signed_part, (int)n);
    int ok = dcont &&
             CMS_verify(cms, NULL, NULL, dcont, NULL, CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) == 1;
    BIO_free(dcont);
    if (!ok)
        return verdict(r, CERTIFY_INVALID, "the signature does not match the content");
    STACK_OF(X509) *signers = CMS_get0_signers(cms);
    if (!signers || sk_X509_num(signers) != 1) {
        sk_X509_free(signers);
        return verdict(r, CERTIFY_INVALID, "not exactly one signer");
    }
    X509 *x = sk_X509_value(signers, 0);
    sk_X509_free(signers);
    X509_up_ref(x);
    *signer_r = x;
    certify_fingerprint(x, r->signer);
    X509_NAME_oneline(X509_get_subject_name(x), r->signer_subject, sizeof(r->signer_subject));
    return 0;
}

/* The enclosed original (if any) against the hash of the data part. */
static int check_original(const struct mime_message *m, const struct mime_part *mixed,
                          struct certify_verify_result *r)
{
    const struct certify_data *d = &r->data;
    const struct mime_part *orig = NULL;
    for (const struct mime_part *c = mixed->children; c; c = c->next) {
        if (part_is(c, "message", "rfc822")) {
            if (orig)
                return verdict(r, CERTIFY_INVALID, "more than one enclosed message");
            orig = c;
        }
    }
    bool needed = certify_type_encloses(d->type, d->has_receipt_kind, d->receipt);
    if (needed && !orig)
        return verdict(r, CERTIFY_INVALID, "the original message is missing");
    if (!orig)
        return 0;
    if (!d->original_sha256[0])
        return verdict(r, CERTIFY_INVALID, "an enclosed message the data part has no hash of");
    char hex[CERTIFY_HASH_HEX + 1];
    certify_sha256_hex(m->data + orig->body_off, orig->body_len, hex);
    if (strcmp(hex, d->original_sha256) != 0)
        return verdict(r, CERTIFY_INVALID, "the enclosed original was altered");
    return 0;
}

/* Everything but trust; 0 if it all holds. */
static int check_all(const char *msg, size_t len, X509_STORE *store,
                     struct certify_verify_result *r)
{
    if (len > (size_t)CERTIFY_MESSAGE_MAX)
        return verdict(r, CERTIFY_INVALID, "message too large");
    struct mime_message *m = mime_message_parse(msg, len);
    const struct mime_part *root = m->root;
    CMS_ContentInfo *cms = NULL;
    X509 *signer = NULL;
    struct buf der, xml;
    buf_init(&der, SIGNATURE_MAX);
    buf_init(&xml, CERTIFY_DATA_MAX);
    int rc = -1;
    const char *proto =
        root->content.type ? mime_params_get(&root->content.type_params, "protocol") : NULL;
    if (!part_is(root, "multipart", "signed") || !proto ||
        !str_eq_ci(proto, "application/pkcs7-signature") || root->n_children != 2) {
        verdict(r, CERTIFY_INVALID, "not an S/MIME multipart/signed message");
        goto out;
    }
    const struct mime_part *content = root->children, *sigp = content->next;
    if (!part_is(sigp, "application", "pkcs7-signature") &&
        !part_is(sigp, "application", "x-pkcs7-signature")) {
        verdict(r, CERTIFY_INVALID, "no signature part");
        goto out;
    }
    if (mime_decode_base64(msg + sigp->body_off, sigp->body_len, &der) < 0 || der.len == 0) {
        verdict(r, CERTIFY_INVALID, "signature part too large or empty");
        goto out;
    }
    const unsigned char *p = (const unsigned char *)der.data;
    cms = d2i_CMS_ContentInfo(NULL, &p, (long)der.len);
    if (!cms || p != (const unsigned char *)der.data + der.len) {
        verdict(r, CERTIFY_INVALID, "the signature part is not a CMS signature");
        goto out;
    }
    size_t signed_len = content->hdr_len + content->body_len;
    if (check_signature(cms, msg + content->hdr_off, signed_len, r, &signer) < 0)
        goto out;
    if (!part_is(content, "multipart", "mixed")) {
        verdict(r, CERTIFY_INVALID, "the signed part is not multipart/mixed");
        goto out;
    }
    const struct mime_part *xmlp = NULL;
    for (const struct mime_part *c = content->children; c; c = c->next) {
        if (part_is(c, "application", "xml")) {
            if (xmlp) {
                verdict(r, CERTIFY_INVALID, "more than one data part");
                goto out;
            }
            xmlp = c;
        }
    }
    if (!xmlp) {
        verdict(r, CERTIFY_INVALID, "no data part");
        goto out;
    }
    if (mime_decode_body(xmlp->content.encoding, msg + xmlp->body_off, xmlp->body_len, &xml) < 0) {
        verdict(r, CERTIFY_INVALID, "data part too large");
        goto out;
    }
    const char *why;
    certify_data_free(&r->data);
    if (certify_data_parse(xml.data ? xml.data : "", xml.len, &r->data, &why) < 0) {
        verdict(r, CERTIFY_INVALID, "data part: %s", why);
        goto out;
    }
    if (check_headers(msg, root, r) < 0)
        goto out;
    if (X509_check_host(signer, r->data.service, 0, 0, NULL) != 1) {
        verdict(r, CERTIFY_INVALID, "signed by a certificate that is not the one of %s",
                r->data.service);
        goto out;
    }
    if (check_original(m, content, r) < 0)
        goto out;
    /* Last: whether the intact, consistent message comes from a service
     * we trust. */
    BIO *dcont = BIO_new_mem_buf(msg + content->hdr_off, (int)signed_len);
    int ok = store && dcont && CMS_verify(cms, NULL, store, dcont, NULL, CMS_BINARY) == 1;
    BIO_free(dcont);
    if (!ok) {
        unsigned long e = ERR_peek_last_error();
        char msgbuf[160] = "no trusted certificates";
        if (e)
            ERR_error_string_n(e, msgbuf, sizeof(msgbuf));
        verdict(r, CERTIFY_UNTRUSTED, "the signer is not trusted: %s", msgbuf);
        goto out;
    }
    rc = 0;
out:
    X509_free(signer);
    CMS_ContentInfo_free(cms);
    buf_free(&der);
    buf_free(&xml);
    mime_message_free(&m);
    ERR_clear_error();
    return rc;
}

/* True if a line of msg ends with a bare LF (a file saved by a mailbox
 * store or a mail client): S/MIME signs the canonical CRLF form. */
static bool has_bare_lf(const char *msg, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
            return true;
    return false;
}

void certify_verify(const char *msg, size_t len, X509_STORE *store, struct certify_verify_result *r)
{
    memset(r, 0, sizeof(*r));
    certify_data_init(&r->data);
    struct buf canon;
    buf_init(&canon, (size_t)CERTIFY_MESSAGE_MAX);
    if (len <= (size_t)CERTIFY_MESSAGE_MAX && has_bare_lf(msg, len)) {
        for (size_t i = 0; i < len; i++) {
            if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r') &&
                buf_append_char(&canon, '\r') < 0)
                break;
            if (buf_append_char(&canon, msg[i]) < 0)
                break;
        }
        msg = canon.data ? canon.data : "";
        len = canon.len;
    }
    if (check_all(msg, len, store, r) == 0) {
        r->verdict = CERTIFY_VALID;
        r->reason[0] = '\0';
    }
    buf_free(&canon);
}
