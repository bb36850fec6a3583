/* share-blob: small things sealed with a transfer's data key. */
#include "share/share-blob.h"

#define BLOB_CHUNK SHARE_CHUNK_DEFAULT

int share_blob_seal(enum share_mode mode, const unsigned char key[SHARE_KEY_LEN], const void *data,
                    size_t len, struct buf *out)
{
    struct share_header h;
    const char *err;
    if (share_header_init(&h, mode, BLOB_CHUNK, &err) < 0)
        return -1;
    struct share_encrypt *e = share_encrypt_new(&h, key, share_crypt_output_buf, out, &err);
    if (!e)
        return -1;
    int rc = share_encrypt_update(e, data, len) == 0 && share_encrypt_finish(e) == 0 ? 0 : -1;
    share_encrypt_free(&e);
    return rc;
}

int share_blob_open(const unsigned char key[SHARE_KEY_LEN], const void *blob, size_t len,
                    struct buf *out)
{
    const char *err;
    struct share_decrypt *d = share_decrypt_new(key, share_crypt_output_buf, out, &err);
    if (!d)
        return -1;
    int rc = share_decrypt_update(d, blob, len) == 0 && share_decrypt_finish(d) == 0 ? 0 : -1;
    share_decrypt_free(&d);
    return rc;
}
