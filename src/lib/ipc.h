/* ipc: the small typed messages that postino processes exchange over Unix
 * sockets.
 *
 * A frame is a 4-octet big-endian length followed by that many octets:
 * one octet of message type, then fields (u8, u32, u64 big-endian; strings
 * as a u32 length and the octets). A reader refuses a frame with a field
 * cut short or with octets left over, so a confused peer is noticed at
 * once rather than misread. */
#ifndef POSTINO_IPC_H
#define POSTINO_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define IPC_FRAME_MAX (4 * 1024 * 1024)

/* Start a frame of the given type at the end of out; returns its offset
 * for ipc_frame_end(). */
size_t ipc_frame_begin(struct buf *out, uint8_t type);
void ipc_put_u8(struct buf *out, uint8_t v);
void ipc_put_u32(struct buf *out, uint32_t v);
void ipc_put_u64(struct buf *out, uint64_t v);
void ipc_put_str(struct buf *out, const char *s);
/* Fill in the frame's length. Returns 0, or -1 if it is too large. */
int ipc_frame_end(struct buf *out, size_t start);

/* Look at received octets: 1 and *frame_len (header included) if a whole
 * frame is there, 0 if more is needed, -1 if the length is impossible. */
int ipc_frame_peek(const void *data, size_t len, size_t *frame_len);

struct ipc_reader {
    const uint8_t *p;
    size_t left;
    bool error;
};

/* Start reading a whole frame (as found by ipc_frame_peek); returns the
 * message type. */
uint8_t ipc_reader_init(struct ipc_reader *r, const void *frame, size_t frame_len);
uint8_t ipc_get_u8(struct ipc_reader *r);
uint32_t ipc_get_u32(struct ipc_reader *r);
uint64_t ipc_get_u64(struct ipc_reader *r);
/* A string as a newly allocated C string (caller frees); NULL on error or
 * if it holds a NUL. */
char *ipc_get_str(struct ipc_reader *r);
/* 0 if every field was read and nothing is left over, else -1. */
int ipc_reader_finish(const struct ipc_reader *r);

#endif
