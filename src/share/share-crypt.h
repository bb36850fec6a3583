/* share-crypt: the encrypted file format of the share portal.
 *
 * One format for files the server encrypts and for files a browser
 * encrypts with WebCrypto (docs/share-format.md describes it byte by
 * byte): a 56-byte header, then chunks of ciphertext each followed by its
 * 16-byte AES-256-GCM tag. Every chunk but the last holds chunk_size bytes
 * of plaintext; the last holds 1 to chunk_size bytes (0 only when the
 * whole file is empty) and is marked final in its additional data.
 *
 *   file key || key check = HKDF-SHA256(data key, salt, "postino share v1 file key")
 *   IV(i)   = nonce prefix (8 bytes) || i as big-endian 32 bits
 *   AAD(i)  = the 56 header bytes || i as big-endian 32 bits || final (0 or 1)
 *
 * So a changed header, a chunk moved, dropped, repeated or taken from
 * another file, and a stream cut at a chunk boundary all fail to
 * authenticate; the key check in the header tells a wrong key from a
 * damaged file before anything is decrypted.
 *
 * The encryptor and decryptor are push-based and hold one chunk at a time
 * (constant memory whatever the file size); input may be split anywhere.
 * Output goes to a callback, a whole chunk at a time; the decryptor hands
 * over a chunk's plaintext only once its tag has been verified. */
#ifndef POSTINO_SHARE_CRYPT_H
#define POSTINO_SHARE_CRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHARE_KEY_LEN          32 /* the data key: AES-256, as HKDF input */
#define SHARE_HEADER_LEN       56
#define SHARE_TAG_LEN          16
#define SHARE_SALT_LEN         16
#define SHARE_NONCE_PREFIX_LEN 8
#define SHARE_KEY_CHECK_LEN    16
#define SHARE_MAGIC            "PSTNSHR1" /* 8 bytes, no terminator in files */
#define SHARE_VERSION          1

/* Plaintext bytes per chunk: the default, and the bounds a header may
 * declare (the decryptor allocates about twice the chunk size). */
#define SHARE_CHUNK_DEFAULT 65536u
#define SHARE_CHUNK_MIN     16u
#define SHARE_CHUNK_MAX     (1024u * 1024u)
/* A file has at most 2^32 chunks (the counter is 32 bits). */
#define SHARE_CHUNKS_MAX (UINT64_C(1) << 32)

/* How the data key of a file is kept (authenticated in the header; the
 * format is the same in every mode). */
enum share_mode {
    SHARE_MODE_PASSWORD = 1, /* the server encrypted; key wrapped by a password */
    SHARE_MODE_LINK = 2,     /* the server encrypted; key travels in the link */
    SHARE_MODE_E2E = 3,      /* a browser encrypted; the server never had the key */
};

struct share_header {
    uint8_t version;     /* SHARE_VERSION */
    uint8_t mode;        /* enum share_mode */
    uint32_t chunk_size; /* SHARE_CHUNK_MIN .. SHARE_CHUNK_MAX */
    unsigned char salt[SHARE_SALT_LEN];
    unsigned char nonce_prefix[SHARE_NONCE_PREFIX_LEN];
    unsigned char key_check[SHARE_KEY_CHECK_LEN];
};

/* What went wrong in a stream. */
enum share_crypt_error {
    SHARE_CRYPT_OK = 0,
    SHARE_CRYPT_BAD_HEADER, /* not our magic, unknown version or mode, bad field */
    SHARE_CRYPT_WRONG_KEY,  /* the header's key check does not match the key */
    SHARE_CRYPT_AUTH,       /* chunk k does not authenticate: damaged or forged */
    SHARE_CRYPT_TRUNCATED,  /* the stream ends early (in the header, in a tag, or
                               after a chunk that is not the final one) */
    SHARE_CRYPT_TRAILING,   /* bytes after the final chunk */
    SHARE_CRYPT_FORMAT,     /* an empty final chunk after others (never written) */
    SHARE_CRYPT_TOO_LONG,   /* more than SHARE_CHUNKS_MAX chunks */
    SHARE_CRYPT_OUTPUT,     /* the output callback refused the data */
    SHARE_CRYPT_INTERNAL,   /* OpenSSL failed (no random numbers, ...) */
};

/* Receives output: len > 0 bytes at data, valid during the call only.
 * Returns 0, or -1 to stop the stream (it then fails with
 * SHARE_CRYPT_OUTPUT). */
typedef int share_crypt_output_fn(void *ctx, const unsigned char *data, size_t len);

/* An output function that appends to the struct buf given as ctx; it
 * refuses (-1) what would take the buffer past its maximum. */
int share_crypt_output_buf(void *ctx, const unsigned char *data, size_t len);

/* A static name for an error ("authentication failed", ...). */
const char *share_crypt_error_name(enum share_crypt_error e);

/* ---- the header ---- */

/* Fill *h for a new file: the version, mode and chunk size given, a fresh
 * random salt and nonce prefix, the key check zero (the encryptor sets
 * it). Returns 0, or -1 with a static reason in *error_r (a chunk size out
 * of bounds, an unknown mode, no random numbers). */
int share_header_init(struct share_header *h, enum share_mode mode, uint32_t chunk_size,
                      const char **error_r);

/* Parse the first SHARE_HEADER_LEN bytes of data (len may be larger; the
 * rest is not looked at). A pure function: no key needed, nothing
 * allocated. Returns 0 and fills *h, or -1 with a static reason in
 * *error_r (too short, bad magic, unknown version or mode, nonzero
 * reserved bytes, chunk size out of bounds); *h is then zeroed. */
int share_header_parse(const void *data, size_t len, struct share_header *h, const char **error_r);

/* Write h as its SHARE_HEADER_LEN bytes (no checks: h is ours). */
void share_header_format(const struct share_header *h, unsigned char out[SHARE_HEADER_LEN]);

/* ---- lengths ---- */

/* The encrypted length of a file of plain_len bytes, header included.
 * Returns 0 and sets *out, or -1 if the chunk size is out of bounds or the
 * file would need more than SHARE_CHUNKS_MAX chunks. */
int share_crypt_ciphertext_len(uint64_t plain_len, uint32_t chunk_size, uint64_t *out);

/* The plaintext length of an encrypted file of cipher_len bytes, header
 * included. Returns 0 and sets *out, or -1 if no file encrypts to that
 * length (or the chunk size is out of bounds). */
int share_crypt_plaintext_len(uint64_t cipher_len, uint32_t chunk_size, uint64_t *out);

/* Where to resume an interrupted encryption that had stored
 * stored_cipher_len bytes of ciphertext (header included), cutting back to
 * the end of the last complete chunk (an unfinished encryption has
 * written only non-final chunks). Sets *chunk_r (the next chunk's
 * number), *plain_off_r (where the plaintext resumes) and *cipher_off_r
 * (where to cut the stored ciphertext). With less than a whole header
 * stored, all three are 0: start again with share_encrypt_new; otherwise
 * *cipher_off_r >= SHARE_HEADER_LEN: go on with share_encrypt_resume.
 * Returns 0, or -1 if the chunk size is out of bounds or the stored
 * length holds more than SHARE_CHUNKS_MAX chunks. Nothing is verified:
 * the caller trusts its own stored bytes. */
int share_crypt_resume_point(uint64_t stored_cipher_len, uint32_t chunk_size, uint64_t *chunk_r,
                             uint64_t *plain_off_r, uint64_t *cipher_off_r);

/* ---- encryption ---- */

struct share_encrypt;

/* Start encrypting a file with the 32-byte data key under header h (from
 * share_header_init(); its key check is computed here). Output goes to
 * out(ctx, ...): the header with the first bytes, then each chunk once it
 * is known whether it is the last. Returns the encryptor (free with
 * share_encrypt_free), or NULL with a static reason in *error_r (invalid
 * header fields, OpenSSL failure). The key is copied. */
struct share_encrypt *share_encrypt_new(const struct share_header *h,
                                        const unsigned char key[SHARE_KEY_LEN],
                                        share_crypt_output_fn *out, void *ctx,
                                        const char **error_r);

/* Like share_encrypt_new, but continue a file whose header and chunks 0 ..
 * first_chunk - 1 are already stored (see share_crypt_resume_point): the
 * header is not written again (not even for first_chunk 0) and the next
 * input is the plaintext from first_chunk * chunk_size on. h is the
 * stored header, parsed; if its key check does not match the key, NULL
 * with "wrong key". */
struct share_encrypt *share_encrypt_resume(const struct share_header *h,
                                           const unsigned char key[SHARE_KEY_LEN],
                                           uint64_t first_chunk, share_crypt_output_fn *out,
                                           void *ctx, const char **error_r);

/* Feed len bytes of plaintext. Returns 0, or -1 if the stream has failed
 * (now or before: see share_encrypt_status); after a failure every call
 * fails. */
int share_encrypt_update(struct share_encrypt *e, const void *data, size_t len);

/* End of the plaintext: write the final chunk. Returns 0, or -1 (the
 * stream failed). Nothing may be fed afterwards. */
int share_encrypt_finish(struct share_encrypt *e);

/* The header as it was written (key check filled in). */
const struct share_header *share_encrypt_header(const struct share_encrypt *e);

/* SHARE_CRYPT_OK, or why the stream failed; with a readable message. */
enum share_crypt_error share_encrypt_status(const struct share_encrypt *e);
const char *share_encrypt_error(const struct share_encrypt *e);

/* Wipe the key and the buffered plaintext, free, and set *ep to NULL. */
void share_encrypt_free(struct share_encrypt **ep);

/* ---- decryption ---- */

struct share_decrypt;

/* Start decrypting a file (header first) with the 32-byte data key; the
 * plaintext goes to out(ctx, ...) one verified chunk at a time. Returns
 * the decryptor (free with share_decrypt_free), or NULL with a static
 * reason in *error_r (OpenSSL failure). The key is copied. */
struct share_decrypt *share_decrypt_new(const unsigned char key[SHARE_KEY_LEN],
                                        share_crypt_output_fn *out, void *ctx,
                                        const char **error_r);

/* Feed len bytes of the encrypted file. A chunk is decrypted, verified
 * and output once the byte after it arrives (so that it is known not to
 * be the last). Returns 0, or -1 if the stream has failed (now or
 * before); after a failure every call fails and nothing more is output. */
int share_decrypt_update(struct share_decrypt *d, const void *data, size_t len);

/* End of the encrypted file: verify and output the final chunk. Returns 0
 * if the whole file was authentic and complete, or -1. Only after 0 here
 * may the caller treat the plaintext it received as the whole file. */
int share_decrypt_finish(struct share_decrypt *d);

/* The parsed header once it has been read and its key check matched,
 * NULL before. */
const struct share_header *share_decrypt_header(const struct share_decrypt *d);

/* SHARE_CRYPT_OK, or why the stream failed. For SHARE_CRYPT_AUTH,
 * SHARE_CRYPT_TRUNCATED and SHARE_CRYPT_TRAILING, *chunk_r (if not NULL)
 * is the number of the chunk concerned. The message says it in words
 * ("authentication failed at chunk 3"); it lives as long as d. */
enum share_crypt_error share_decrypt_status(const struct share_decrypt *d, uint64_t *chunk_r);
const char *share_decrypt_error(const struct share_decrypt *d);

/* Plaintext bytes output so far. */
uint64_t share_decrypt_plain_bytes(const struct share_decrypt *d);

/* Wipe the key and buffers, free, and set *dp to NULL. */
void share_decrypt_free(struct share_decrypt **dp);

#endif
