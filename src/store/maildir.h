/* maildir: storing messages in Maildir++ (readable by Dovecot and mutt).
 *
 * A delivery writes tmp/NAME, is flushed, and is renamed to
 * new/NAME,S=size,W=vsize (S: octets on disk with LF line ends; W: octets
 * with CRLF, what IMAP counts). NAME is "secs.MusecsPpidQn.host", unique
 * per delivery. Files use LF line ends, as Maildir readers expect. */
#ifndef POSTINO_MAILDIR_H
#define POSTINO_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/syncer.h"

/* Create root and its cur, new and tmp (and missing parents). 0 or -1. */
int maildir_create(const char *root, mode_t mode);

/* True if s can name a mailbox directory: not empty, no '/', no leading
 * '.', no control characters. */
bool maildir_name_safe(const char *s);

struct maildir_delivery {
    int root_fd;
    int tmp_fd;
    int new_fd;
    int fd;
    char name[200];
    unsigned long long size;  /* octets written (LF) */
    unsigned long long lines; /* LF count, for the CRLF size */
    int error;
};

/* Open root (creating the Maildir if missing) and create a tmp file.
 * Returns 0, or -1 with errno set. */
int maildir_delivery_begin(struct maildir_delivery *d, const char *root);
/* Append octets already in LF form. 0, or -1 (errno kept in d->error). */
int maildir_delivery_write(struct maildir_delivery *d, const char *data, size_t len);
/* Describe the flush, rename into new/ and flush of new/ in op. 0 or -1. */
int maildir_delivery_finish(struct maildir_delivery *d, struct sync_op *op);
/* Close everything; when !delivered, remove the tmp file. */
void maildir_delivery_close(struct maildir_delivery *d, bool delivered);

#endif
