#include "ipc.h"

#include <string.h>

#include "xalloc.h"

size_t ipc_frame_begin(struct buf *out, uint8_t type)
{
    size_t start = out->len;
    uint8_t hdr[5] = {0, 0, 0, 0, type};
    buf_append(out, hdr, sizeof(hdr));
    return start;
}

void ipc_put_u8(struct buf *out, uint8_t v)
{
    buf_append(out, &v, 1);
}

void ipc_put_u32(struct buf *out, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    buf_append(out, b, 4);
}

void ipc_put_u64(struct buf *out, uint64_t v)
{
    ipc_put_u32(out, (uint32_t)(v >> 32));
    ipc_put_u32(out, (uint32_t)v);
}

void ipc_put_str(struct buf *out, const char *s)
{
    size_t n = strlen(s);
    ipc_put_u32(out, (uint32_t)n);
    buf_append(out, s, n);
}

int ipc_frame_end(struct buf *out, size_t start)
{
    size_t n = out->len - start - 4;
    if (n > IPC_FRAME_MAX)
        return -1;
    uint8_t *p = (uint8_t *)out->data + start;
    p[0] = (uint8_t)(n >> 24);
    p[1] = (uint8_t)(n >> 16);
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
    return 0;
}

int ipc_frame_peek(const void *data, size_t len, size_t *frame_len)
{
    const uint8_t *p = data;
    if (len < 4)
        return 0;
    size_t n = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
    if (n == 0 || n > IPC_FRAME_MAX)
        return -1;
    if (len < n + 4)
        return 0;
    *frame_len = n + 4;
    return 1;
}

uint8_t ipc_reader_init(struct ipc_reader *r, const void *frame, size_t frame_len)
{
    r->p = (const uint8_t *)frame + 4;
    r->left = frame_len - 4;
    r->error = false;
    return ipc_get_u8(r);
}

static const uint8_t *take(struct ipc_reader *r, size_t n)
{
    if (r->error || r->left < n) {
        r->error = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

uint8_t ipc_get_u8(struct ipc_reader *r)
{
    const uint8_t *p = take(r, 1);
    return p ? p[0] : 0;
}

uint32_t ipc_get_u32(struct ipc_reader *r)
{
    const uint8_t *p = take(r, 4);
    if (!p)
        return 0;
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

uint64_t ipc_get_u64(struct ipc_reader *r)
{
    uint64_t hi = ipc_get_u32(r);
    return (hi << 32) | ipc_get_u32(r);
}

char *ipc_get_str(struct ipc_reader *r)
{
    uint32_t n = ipc_get_u32(r);
    const uint8_t *p = take(r, n);
    if (!p)
        return NULL;
    if (memchr(p, '\0', n)) {
        r->error = true;
        return NULL;
    }
    return xstrndup((const char *)p, n);
}

int ipc_reader_finish(const struct ipc_reader *r)
{
    return (r->error || r->left != 0) ? -1 : 0;
}
