#include "dkim-key.h"

#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "auth/dkim-tags.h"
#include "lib/str.h"

/* True if the colon-separated list in t (with optional whitespace) holds
 * word, compared ignoring ASCII case. */
static bool list_has(const struct dkim_tag *t, const char *word)
{
    size_t wlen = strlen(word);
    const char *p = t->value, *end = t->value + t->value_len;
    while (p <= end) {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        const char *e = colon ? colon : end;
        const char *a = p, *b = e;
        while (a < b && (*a == ' ' || *a == '\t' || *a == '\r' || *a == '\n'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r' || b[-1] == '\n'))
            b--;
        if ((size_t)(b - a) == wlen && str_eqn_ci(a, word, wlen))
            return true;
        if (!colon)
            break;
        p = colon + 1;
    }
    return false;
}

/* The RSA key of a SubjectPublicKeyInfo that names rsaEncryption (with
 * NULL or no parameters) and holds an RSAPublicKey with nothing after it,
 * decoded without OpenSSL 3's decoder framework, which costs several times
 * the signature check; NULL for anything else (d2i_PUBKEY decides then). */
static EVP_PKEY *rsa_spki_decode(const unsigned char *der, long n)
{
    const unsigned char *q = der;
    ASN1_SEQUENCE_ANY *seq = d2i_ASN1_SEQUENCE_ANY(NULL, &q, n);
    EVP_PKEY *pkey = NULL;
    X509_ALGOR *alg = NULL;
    if (!seq || q != der + n || sk_ASN1_TYPE_num(seq) != 2)
        goto out;
    const ASN1_TYPE *a = sk_ASN1_TYPE_value(seq, 0), *b = sk_ASN1_TYPE_value(seq, 1);
    if (ASN1_TYPE_get(a) != V_ASN1_SEQUENCE || ASN1_TYPE_get(b) != V_ASN1_BIT_STRING)
        goto out;
    const unsigned char *ap = a->value.sequence->data;
    long alen = a->value.sequence->length;
    alg = d2i_X509_ALGOR(NULL, &ap, alen);
    if (!alg || ap != a->value.sequence->data + alen)
        goto out;
    const ASN1_OBJECT *oid;
    int ptype;
    X509_ALGOR_get0(&oid, &ptype, NULL, alg);
    if (OBJ_obj2nid(oid) != NID_rsaEncryption || (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF))
        goto out;
    const ASN1_BIT_STRING *bits = b->value.bit_string;
    if ((bits->flags & ASN1_STRING_FLAG_BITS_LEFT) && (bits->flags & 0x07) != 0)
        goto out;
    const unsigned char *kp = bits->data;
    pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &kp, bits->length);
    if (pkey && kp != bits->data + bits->length) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
out:
    X509_ALGOR_free(alg);
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    ERR_clear_error();
    return pkey;
}

int dkim_key_parse(const char *txt, size_t len, struct dkim_key *key, const char **error_r)
{
    memset(key, 0, sizeof(*key));
    struct dkim_tag_list tags;
    const char *err;
    if (dkim_tags_parse(txt, len, &tags, &err) < 0) {
        *error_r = "key record syntax error";
        return -1;
    }
    const struct dkim_tag *v = dkim_tags_find(&tags, "v");
    if (v && (v != &tags.tags[0] || !dkim_tag_is(v, "DKIM1"))) {
        *error_r = "bad key record version";
        return -1;
    }
    const struct dkim_tag *k = dkim_tags_find(&tags, "k");
    key->type = DKIM_KEY_RSA;
    if (k && dkim_tag_is_ci(k, "ed25519")) {
        key->type = DKIM_KEY_ED25519;
    } else if (k && !dkim_tag_is_ci(k, "rsa")) {
        *error_r = "unknown key type";
        return -1;
    }
    const struct dkim_tag *h = dkim_tags_find(&tags, "h");
    key->sha256 = !h || list_has(h, "sha256");
    const struct dkim_tag *s = dkim_tags_find(&tags, "s");
    key->email = !s || list_has(s, "email") || list_has(s, "*");
    const struct dkim_tag *t = dkim_tags_find(&tags, "t");
    if (t) {
        key->testing = list_has(t, "y");
        key->strict = list_has(t, "s");
    }
    const struct dkim_tag *p = dkim_tags_find(&tags, "p");
    if (!p) {
        *error_r = "key record without p=";
        return -1;
    }
    if (p->value_len == 0) {
        key->revoked = true;
        return 0;
    }
    unsigned char der[DKIM_KEY_DATA_MAX];
    long n = dkim_base64_decode(p->value, p->value_len, der, sizeof(der));
    if (n <= 0) {
        *error_r = "bad key data";
        return -1;
    }
    if (key->type == DKIM_KEY_ED25519) {
        if (n != 32) {
            *error_r = "bad Ed25519 key length";
            return -1;
        }
        key->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, 32);
        if (!key->pkey) {
            ERR_clear_error();
            *error_r = "bad key data";
            return -1;
        }
        key->bits = 256;
        return 0;
    }
    key->pkey = rsa_spki_decode(der, n);
    if (!key->pkey) {
        const unsigned char *q = der;
        key->pkey = d2i_PUBKEY(NULL, &q, n);
        if (key->pkey && q != der + n) {
            EVP_PKEY_free(key->pkey);
            key->pkey = NULL;
        }
    }
    if (!key->pkey) {
        const unsigned char *q = der;
        key->pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, n);
        if (key->pkey && q != der + n) {
            EVP_PKEY_free(key->pkey);
            key->pkey = NULL;
        }
    }
    ERR_clear_error(); /* a failed first attempt leaves errors queued */
    if (!key->pkey || EVP_PKEY_get_base_id(key->pkey) != EVP_PKEY_RSA) {
        EVP_PKEY_free(key->pkey);
        key->pkey = NULL;
        *error_r = "bad key data";
        return -1;
    }
    int bits = EVP_PKEY_get_bits(key->pkey);
    key->bits = bits > 0 ? (unsigned)bits : 0;
    return 0;
}

void dkim_key_free(struct dkim_key *key)
{
    EVP_PKEY_CTX_free(key->rsa_ctx);
    key->rsa_ctx = NULL;
    EVP_MD_CTX_free(key->ed_ctx);
    key->ed_ctx = NULL;
    EVP_PKEY_free(key->pkey);
    key->pkey = NULL;
}

/* The RSA verify context of key, made and set up on first use; NULL on
 * failure. Setting the padding and digest once lets EVP_PKEY_verify run
 * any number of times on it. */
static EVP_PKEY_CTX *rsa_ctx(struct dkim_key *key)
{
    if (key->rsa_ctx)
        return key->rsa_ctx;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key->pkey, NULL);
    if (!ctx || EVP_PKEY_verify_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    key->rsa_ctx = ctx;
    return ctx;
}

int dkim_key_verify(struct dkim_key *key, const unsigned char *sig, size_t sig_len,
                    const unsigned char digest[32])
{
    int ok = -1;
    if (!key->pkey) {
        ok = -1;
    } else if (key->type == DKIM_KEY_RSA) {
        EVP_PKEY_CTX *ctx = rsa_ctx(key);
        if (ctx)
            ok = EVP_PKEY_verify(ctx, sig, sig_len, digest, 32) == 1 ? 1 : 0;
    } else {
        /* A one-shot EVP_DigestVerify finishes its context (OpenSSL 3.2
         * and later refuse a second one): initialise it again each time;
         * the context and its key stay. */
        if (!key->ed_ctx)
            key->ed_ctx = EVP_MD_CTX_new();
        if (key->ed_ctx && EVP_DigestVerifyInit(key->ed_ctx, NULL, NULL, NULL, key->pkey) == 1)
            ok = EVP_DigestVerify(key->ed_ctx, sig, sig_len, digest, 32) == 1 ? 1 : 0;
    }
    ERR_clear_error();
    return ok;
}
