/* attachment-rar5: whether a RAR 5.0 archive is encrypted, read from its
 * block headers (RARLAB's "RAR 5.0 archive format"), because libarchive's
 * RAR 5.0 reader does not say (up to 3.7 at least: an encrypted entry is
 * neither flagged nor refused, its encrypted bytes are returned as the
 * content, or fail to decompress as a "damaged" archive).
 *
 * After the 8-byte signature, each block is: CRC32 (4 bytes), header size,
 * header type, header flags, [extra area size], [data size], the type's
 * fields, the extra area (the last extra-area-size bytes of the header),
 * then the data area; sizes and numbers are variable-length integers of 7
 * bits a byte, lowest first. The header size counts from the type to the
 * end of the extra area. The CRCs are not checked here: libarchive does. */
#include <stdint.h>
#include <string.h>

#include "attachment-private.h"

#define RAR5_SIGNATURE     "Rar!\x1a\x07\x01\x00"
#define RAR5_SIGNATURE_LEN 8
/* A variable-length integer holds 64 bits at most: 10 bytes. */
#define RAR5_VINT_MAX 10
/* The largest header the format allows (libarchive refuses larger). */
#define RAR5_HEADER_MAX ((uint64_t)2 * 1024 * 1024)

#define RAR5_HEAD_FILE   2 /* file header */
#define RAR5_HEAD_CRYPT  4 /* archive encryption header: the rest is encrypted */
#define RAR5_HEAD_ENDARC 5 /* end of archive */

#define RAR5_HFL_EXTRA 0x0001 /* an extra area is present */
#define RAR5_HFL_DATA  0x0002 /* a data area is present */

#define RAR5_EXTRA_CRYPT 0x01 /* file encryption record of a file header */

/* A cursor over d[0..end). */
struct rar5_cursor {
    const unsigned char *d;
    size_t pos, end;
};

/* Read a variable-length integer into *v; false if it runs past the end
 * or is longer than RAR5_VINT_MAX bytes. */
static bool read_vint(struct rar5_cursor *c, uint64_t *v)
{
    *v = 0;
    for (unsigned i = 0; i < RAR5_VINT_MAX && c->pos < c->end; i++) {
        unsigned char b = c->d[c->pos++];
        if (i == RAR5_VINT_MAX - 1 && b > 1)
            return false; /* more than 64 bits */
        *v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80))
            return true;
    }
    return false;
}

/* True if the extra area d[0..len) of a file header holds a file
 * encryption record. */
static bool extra_has_crypt(const unsigned char *d, size_t len)
{
    struct rar5_cursor c = {d, 0, len};
    while (c.pos < c.end) {
        uint64_t size, type;
        if (!read_vint(&c, &size))
            return false;
        size_t start = c.pos; /* the record's type and data */
        if (size == 0 || size > c.end - start || !read_vint(&c, &type))
            return false;
        if (type == RAR5_EXTRA_CRYPT)
            return true;
        c.pos = start + (size_t)size;
    }
    return false;
}

bool attachment_rar5_encrypted(const unsigned char *data, size_t len)
{
    if (len < RAR5_SIGNATURE_LEN || memcmp(data, RAR5_SIGNATURE, RAR5_SIGNATURE_LEN) != 0)
        return false;
    /* each block moves pos on by 6 bytes at least: the walk ends */
    size_t pos = RAR5_SIGNATURE_LEN;
    while (len - pos > 4) {
        struct rar5_cursor c = {data, pos + 4, len}; /* past the CRC32 */
        uint64_t hsize, type, flags, extra = 0, dsize = 0;
        if (!read_vint(&c, &hsize) || hsize == 0 || hsize > RAR5_HEADER_MAX || hsize > len - c.pos)
            return false;
        size_t hend = c.pos + (size_t)hsize;
        c.end = hend;
        if (!read_vint(&c, &type) || !read_vint(&c, &flags))
            return false;
        if (type == RAR5_HEAD_CRYPT)
            return true;
        if (type == RAR5_HEAD_ENDARC)
            return false;
        if (((flags & RAR5_HFL_EXTRA) && !read_vint(&c, &extra)) ||
            ((flags & RAR5_HFL_DATA) && !read_vint(&c, &dsize)))
            return false;
        if (extra > hend - c.pos)
            return false;
        if (type == RAR5_HEAD_FILE && extra > 0 &&
            extra_has_crypt(data + hend - (size_t)extra, (size_t)extra))
            return true;
        if (dsize > len - hend)
            return false; /* truncated: what there is was looked at */
        pos = hend + (size_t)dsize;
    }
    return false;
}
