#include "deliver-local.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "smtp/smtp-address.h"

#define COPY_CHUNK (64 * 1024)

/* Is this errno something that can pass (retry) or a fixed condition? All
 * file system trouble is treated as temporary: a full disk or a wrong
 * permission is fixed by the administrator, and the mail must wait. */
static void fail_errno(struct deliver_rcpt *r, const char *what, int err)
{
    char text[300];
    snprintf(text, sizeof(text), "4.3.0 %s: %s", what, strerror(err));
    deliver_rcpt_set(r, DELIVER_TEMPFAIL, text);
}

/* Copy the spool message (CRLF, len octets from start) into the Maildir
 * file (LF). */
static int copy_message(int msg_fd, unsigned long long start, unsigned long long len,
                        struct maildir_delivery *md, char *in, char *out)
{
    off_t off = 0;
    bool pending_cr = false;
    while ((unsigned long long)off < len) {
        size_t want = len - (unsigned long long)off < COPY_CHUNK
                          ? (size_t)(len - (unsigned long long)off)
                          : COPY_CHUNK;
        ssize_t n = pread(msg_fd, in, want, (off_t)start + off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0) {
            errno = EIO; /* the queue file is shorter than it says */
            return -1;
        }
        off += n;
        size_t o = 0;
        for (ssize_t i = 0; i < n; i++) {
            char c = in[i];
            if (pending_cr) {
                pending_cr = false;
                if (c != '\n')
                    out[o++] = '\r'; /* a lone CR stays as it was */
            }
            if (c == '\r') {
                pending_cr = true;
                continue;
            }
            out[o++] = c;
        }
        if (o && maildir_delivery_write(md, out, o) < 0) {
            errno = md->error;
            return -1;
        }
    }
    if (pending_cr && maildir_delivery_write(md, "\r", 1) < 0) {
        errno = md->error;
        return -1;
    }
    return 0;
}

void deliver_local_prepare(struct local_delivery *ld, const char *mail_dir, struct spool *sp)
{
    size_t n = ld->job.n;
    ld->md = xcalloc(n, sizeof(*ld->md));
    ld->ops = xcalloc(n, sizeof(*ld->ops));
    ld->started = xcalloc(n, sizeof(*ld->started));
    ld->quotas = xcalloc(n, sizeof(*ld->quotas));
    ld->quota_roots = xcalloc(n, sizeof(*ld->quota_roots));
    for (size_t i = 0; i < n; i++)
        ld->md[i].fd = ld->md[i].root_fd = ld->md[i].tmp_fd = ld->md[i].new_fd = -1;
    ld->ops_left = 0;

    unsigned long long msg_start, msg_len;
    int msg_fd = spool_open_message(sp, ld->job.qid, &msg_start, &msg_len);
    if (msg_fd < 0) {
        int e = errno;
        for (size_t i = 0; i < n; i++)
            fail_errno(&ld->job.rcpts[i], "cannot open the queued message", e);
        return;
    }
    char *in = xmalloc(COPY_CHUNK), *out = xmalloc(COPY_CHUNK + 1);
    for (size_t i = 0; i < n; i++) {
        struct deliver_rcpt *r = &ld->job.rcpts[i];
        struct smtp_path p;
        if (smtp_mailbox_parse(r->addr, strlen(r->addr), &p) != SMTP_PATH_OK ||
            !maildir_name_safe(p.local) || !maildir_name_safe(p.domain) || p.literal) {
            deliver_rcpt_set(r, DELIVER_PERMFAIL, "5.1.3 not a valid local mailbox name");
            continue;
        }
        char root[4096];
        char lower_local[SMTP_LOCAL_MAX + 1];
        str_copy(lower_local, sizeof(lower_local), p.local);
        str_lower(lower_local);
        snprintf(root, sizeof(root), "%s/%s/%s", mail_dir, p.domain, lower_local);
        if (ld->quota_lookup) {
            struct store_quota *q = &ld->quotas[i];
            if (ld->quota_lookup(ld->quota_arg, r->addr, q) < 0) {
                deliver_rcpt_set(r, DELIVER_TEMPFAIL, "4.3.0 cannot look up the quota");
                continue;
            }
            if (store_quota_enabled(q)) {
                /* an upper bound of the stored size: CRLF becomes LF */
                uint64_t size = msg_len + strlen(ld->job.sender) + strlen(r->addr) + 40;
                int fits =
                    maildir_create(root, 0700) < 0 ? -1 : store_quota_check(root, q, size, 1);
                if (fits < 0) {
                    fail_errno(r, "cannot read the quota", errno);
                    continue;
                }
                if (fits == 0) {
                    deliver_rcpt_set(r, DELIVER_TEMPFAIL, "4.2.2 mailbox full");
                    continue;
                }
                ld->quota_roots[i] = xstrdup(root);
            }
        }
        if (ld->job.flags & DELIVER_JUNK) {
            /* DMARC quarantine: the Junk folder (Maildir++), in a
             * mailbox that exists */
            if (maildir_create(root, 0700) < 0) {
                fail_errno(r, "cannot create the mailbox", errno);
                continue;
            }
            size_t rl = strlen(root);
            snprintf(root + rl, sizeof(root) - rl, "/.Junk");
        }
        struct maildir_delivery *md = &ld->md[i];
        if (maildir_delivery_begin(md, root) < 0) {
            fail_errno(r, "cannot create a file in the mailbox", errno);
            continue;
        }
        struct buf hdr;
        buf_init(&hdr, 4096);
        buf_printf(&hdr, "Return-Path: <%s>\nDelivered-To: %s\n", ld->job.sender, r->addr);
        int rc = maildir_delivery_write(md, hdr.data, hdr.len);
        buf_free(&hdr);
        if (rc < 0 || copy_message(msg_fd, msg_start, msg_len, md, in, out) < 0 ||
            maildir_delivery_finish(md, &ld->ops[i]) < 0) {
            fail_errno(r, "cannot write to the mailbox", errno ? errno : EIO);
            maildir_delivery_close(md, false);
            continue;
        }
        ld->started[i] = true;
        ld->ops_left++;
    }
    free(in);
    free(out);
    close(msg_fd);
}

void deliver_local_complete(struct local_delivery *ld, size_t i)
{
    struct sync_op *op = &ld->ops[i];
    struct deliver_rcpt *r = &ld->job.rcpts[i];
    if (op->error) {
        char what[64];
        snprintf(what, sizeof(what), "cannot store the message (%s)",
                 op->failed ? op->failed : "sync");
        fail_errno(r, what, op->error);
        maildir_delivery_close(&ld->md[i], false);
    } else {
        char text[400];
        snprintf(text, sizeof(text), "2.0.0 delivered to maildir as %s%s", op->renames[0].to,
                 ld->job.flags & DELIVER_JUNK ? " in Junk (DMARC quarantine)" : "");
        deliver_rcpt_set(r, DELIVER_OK, text);
        if (ld->quota_roots && ld->quota_roots[i])
            store_quota_update(ld->quota_roots[i], &ld->quotas[i], (int64_t)ld->md[i].size, 1);
        maildir_delivery_close(&ld->md[i], true);
    }
    ld->started[i] = false;
}

void deliver_local_free(struct local_delivery *ld)
{
    for (size_t i = 0; i < ld->job.n && ld->md; i++)
        if (ld->started && ld->started[i])
            maildir_delivery_close(&ld->md[i], false);
    for (size_t i = 0; i < ld->job.n && ld->quota_roots; i++)
        free(ld->quota_roots[i]);
    free(ld->quota_roots);
    free(ld->quotas);
    ld->quota_roots = NULL;
    ld->quotas = NULL;
    free(ld->md);
    free(ld->ops);
    free(ld->started);
    deliver_job_free(&ld->job);
    ld->md = NULL;
    ld->ops = NULL;
    ld->started = NULL;
}
