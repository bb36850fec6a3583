#include "deliver-ipc.h"

#include <stdlib.h>
#include <string.h>

#include "lib/ipc.h"
#include "lib/xalloc.h"

void deliver_job_free(struct deliver_job *j)
{
    for (size_t i = 0; i < j->n; i++) {
        free(j->rcpts[i].addr);
        free(j->rcpts[i].orcpt);
        free(j->rcpts[i].text);
    }
    free(j->rcpts);
    free(j->qid);
    free(j->sender);
    free(j->nexthop);
    free(j->envid);
    free(j->info);
    memset(j, 0, sizeof(*j));
}

struct deliver_rcpt *deliver_job_add(struct deliver_job *j, uint32_t index, const char *addr)
{
    j->rcpts = xrealloc(j->rcpts, (j->n + 1) * sizeof(*j->rcpts));
    struct deliver_rcpt *r = &j->rcpts[j->n++];
    memset(r, 0, sizeof(*r));
    r->index = index;
    r->addr = xstrdup(addr);
    return r;
}

void deliver_rcpt_set(struct deliver_rcpt *r, enum deliver_outcome o, const char *text)
{
    r->outcome = o;
    free(r->text);
    r->text = xstrdup(text ? text : "");
}

int deliver_encode_request(const struct deliver_job *j, struct buf *out)
{
    size_t start = ipc_frame_begin(out, DELIVER_MSG_DELIVER);
    ipc_put_u32(out, j->job);
    ipc_put_str(out, j->qid);
    ipc_put_str(out, j->sender);
    ipc_put_str(out, j->nexthop ? j->nexthop : "");
    ipc_put_u32(out, j->flags);
    ipc_put_u32(out, j->ret);
    ipc_put_str(out, j->envid ? j->envid : "");
    ipc_put_u64(out, j->size);
    ipc_put_u32(out, (uint32_t)j->n);
    for (size_t i = 0; i < j->n; i++) {
        ipc_put_u32(out, j->rcpts[i].index);
        ipc_put_str(out, j->rcpts[i].addr);
        ipc_put_str(out, j->rcpts[i].orcpt ? j->rcpts[i].orcpt : "");
        ipc_put_u32(out, j->rcpts[i].notify);
    }
    return ipc_frame_end(out, start);
}

int deliver_encode_result(const struct deliver_job *j, struct buf *out)
{
    size_t start = ipc_frame_begin(out, DELIVER_MSG_RESULT);
    ipc_put_u32(out, j->job);
    ipc_put_str(out, j->info ? j->info : "");
    ipc_put_u32(out, (uint32_t)j->n);
    for (size_t i = 0; i < j->n; i++) {
        ipc_put_u32(out, j->rcpts[i].index);
        ipc_put_u8(out, (uint8_t)j->rcpts[i].outcome);
        ipc_put_str(out, j->rcpts[i].text ? j->rcpts[i].text : "");
    }
    return ipc_frame_end(out, start);
}

int deliver_decode_request(const void *frame, size_t len, struct deliver_job *j)
{
    memset(j, 0, sizeof(*j));
    struct ipc_reader r;
    if (ipc_reader_init(&r, frame, len) != DELIVER_MSG_DELIVER)
        return -1;
    j->job = ipc_get_u32(&r);
    j->qid = ipc_get_str(&r);
    j->sender = ipc_get_str(&r);
    j->nexthop = ipc_get_str(&r);
    j->flags = ipc_get_u32(&r);
    j->ret = ipc_get_u32(&r);
    j->envid = ipc_get_str(&r);
    j->size = ipc_get_u64(&r);
    uint32_t n = ipc_get_u32(&r);
    if (r.error || n == 0 || n > DELIVER_MAX_RCPTS || j->ret > 2 ||
        (j->flags & ~(DELIVER_BODY_8BIT | DELIVER_HAS_8BIT | DELIVER_SMTPUTF8 | DELIVER_DKIM_SIGN |
                      DELIVER_JUNK)))
        goto fail;
    if (j->envid && !j->envid[0])
        x_free(&j->envid);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t index = ipc_get_u32(&r);
        char *addr = ipc_get_str(&r);
        char *orcpt = ipc_get_str(&r);
        uint32_t notify = ipc_get_u32(&r);
        if (!addr || !orcpt || notify > 15) {
            free(addr);
            free(orcpt);
            goto fail;
        }
        struct deliver_rcpt *rc = deliver_job_add(j, index, addr);
        free(addr);
        if (orcpt[0])
            rc->orcpt = orcpt;
        else
            free(orcpt);
        rc->notify = notify;
    }
    if (ipc_reader_finish(&r) < 0 || !j->qid || !j->sender || !j->nexthop)
        goto fail;
    return 0;
fail:
    deliver_job_free(j);
    return -1;
}

int deliver_decode_result(const void *frame, size_t len, struct deliver_job *j)
{
    memset(j, 0, sizeof(*j));
    struct ipc_reader r;
    if (ipc_reader_init(&r, frame, len) != DELIVER_MSG_RESULT)
        return -1;
    j->job = ipc_get_u32(&r);
    j->info = ipc_get_str(&r);
    uint32_t n = ipc_get_u32(&r);
    if (r.error || n > DELIVER_MAX_RCPTS || !j->info)
        goto fail;
    if (!j->info[0])
        x_free(&j->info);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t index = ipc_get_u32(&r);
        uint8_t outcome = ipc_get_u8(&r);
        char *text = ipc_get_str(&r);
        if (!text || outcome > DELIVER_PERMFAIL) {
            free(text);
            goto fail;
        }
        struct deliver_rcpt *rc = deliver_job_add(j, index, "");
        rc->outcome = (enum deliver_outcome)outcome;
        rc->text = text;
    }
    if (ipc_reader_finish(&r) < 0)
        goto fail;
    return 0;
fail:
    deliver_job_free(j);
    return -1;
}
