/* fd-write: writing a whole buffer to a file descriptor. */
#ifndef POSTINO_FD_WRITE_H
#define POSTINO_FD_WRITE_H

#include <stddef.h>

/* write() all n octets of p to fd, going on after short writes and EINTR.
 * Returns 0, or -1 with errno (a write of 0 octets counts as EIO). */
int fd_write_all(int fd, const void *p, size_t n);

#endif
