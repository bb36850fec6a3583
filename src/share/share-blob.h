/* share-blob: small things sealed with a transfer's data key — its
 * message, each file's description, a reply's key — in the same format
 * as the files (share-crypt.h), so that one decryptor opens everything. */
#ifndef POSTINO_SHARE_BLOB_H
#define POSTINO_SHARE_BLOB_H

#include <stddef.h>

#include "lib/buf.h"
#include "share/share-crypt.h"

/* Encrypt data[0..len) with key into out (appended). 0, or -1 (no random
 * numbers, OpenSSL failure, out's maximum reached). */
int share_blob_seal(enum share_mode mode, const unsigned char key[SHARE_KEY_LEN], const void *data,
                    size_t len, struct buf *out);

/* Decrypt a sealed blob into out (appended). 0, or -1 (wrong key,
 * damaged, out's maximum reached). */
int share_blob_open(const unsigned char key[SHARE_KEY_LEN], const void *blob, size_t len,
                    struct buf *out);

#endif
