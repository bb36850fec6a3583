#include "imap-envelope.h"

#include <stdlib.h>
#include <string.h>

#include "imap-quote.h"
#include "mime/mime-addrlist.h"
#include "mime/mime-content.h"
#include "mime/mime-header.h"

enum { F_DATE, F_SUBJECT, F_IN_REPLY_TO, F_MESSAGE_ID, N_STR };
enum { A_FROM, A_SENDER, A_REPLY_TO, A_TO, A_CC, A_BCC, N_ADDR };

static const char *const str_names[N_STR] = {"Date", "Subject", "In-Reply-To", "Message-ID"};
static const char *const addr_names[N_ADDR] = {"From", "Sender", "Reply-To", "To", "Cc", "Bcc"};

struct envelope {
    char *str[N_STR];
    struct mime_addrlist addr[N_ADDR];
};

static void envelope_read(struct envelope *e, const char *hdr, size_t len)
{
    size_t pos = 0;
    struct mime_field f;
    while (mime_header_next(hdr, len, &pos, &f) > 0) {
        for (int i = 0; i < N_STR; i++) {
            if (mime_field_is(&f, str_names[i])) {
                free(e->str[i]);
                e->str[i] = mime_value_dup(f.value, f.value_len);
            }
        }
        for (int i = 0; i < N_ADDR; i++) {
            if (mime_field_is(&f, addr_names[i])) {
                mime_addrlist_free(&e->addr[i]);
                mime_addrlist_parse(&e->addr[i], f.value, f.value_len);
            }
        }
    }
}

static int write_addrs(struct buf *out, const struct mime_addrlist *l)
{
    if (l->n == 0)
        return buf_append_str(out, "NIL");
    if (buf_append_char(out, '(') < 0)
        return -1;
    for (size_t i = 0; i < l->n; i++) {
        const struct mime_addr *a = &l->v[i];
        if (buf_append_char(out, '(') < 0 || imap_quote_nstring_nolf(out, a->name) < 0 ||
            buf_append_char(out, ' ') < 0 || imap_quote_nstring_nolf(out, a->route) < 0 ||
            buf_append_char(out, ' ') < 0 || imap_quote_nstring_nolf(out, a->mailbox) < 0 ||
            buf_append_char(out, ' ') < 0 || imap_quote_nstring_nolf(out, a->domain) < 0 ||
            buf_append_char(out, ')') < 0)
            return -1;
    }
    return buf_append_char(out, ')');
}

int imap_envelope_write(struct buf *out, const char *hdr, size_t len)
{
    struct envelope e;
    memset(&e, 0, sizeof(e));
    envelope_read(&e, hdr, len);

    const struct mime_addrlist *from = &e.addr[A_FROM];
    const struct mime_addrlist *order[N_ADDR] = {
        from,
        e.addr[A_SENDER].n ? &e.addr[A_SENDER] : from,
        e.addr[A_REPLY_TO].n ? &e.addr[A_REPLY_TO] : from,
        &e.addr[A_TO],
        &e.addr[A_CC],
        &e.addr[A_BCC],
    };
    int ret = 0;
    if (buf_append_char(out, '(') < 0 || imap_quote_nstring_nolf(out, e.str[F_DATE]) < 0 ||
        buf_append_char(out, ' ') < 0 || imap_quote_nstring_nolf(out, e.str[F_SUBJECT]) < 0)
        ret = -1;
    for (int i = 0; i < N_ADDR && ret == 0; i++) {
        if (buf_append_char(out, ' ') < 0 || write_addrs(out, order[i]) < 0)
            ret = -1;
    }
    if (ret == 0 &&
        (buf_append_char(out, ' ') < 0 || imap_quote_nstring_nolf(out, e.str[F_IN_REPLY_TO]) < 0 ||
         buf_append_char(out, ' ') < 0 || imap_quote_nstring_nolf(out, e.str[F_MESSAGE_ID]) < 0 ||
         buf_append_char(out, ')') < 0))
        ret = -1;

    for (int i = 0; i < N_STR; i++)
        free(e.str[i]);
    for (int i = 0; i < N_ADDR; i++)
        mime_addrlist_free(&e.addr[i]);
    return ret;
}
