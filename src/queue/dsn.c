#include "dsn.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/str.h"

static void rfc5322_date(long long t, char *out, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    strftime(out, size, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

void dsn_status_of(const char *reply, bool failed, char out[16])
{
    /* "550 5.1.1 text" or "5.1.1 text" */
    const char *p = reply;
    if (p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
        (p[3] == ' ' || p[3] == '\0'))
        p = p[3] ? p + 4 : p + 3;
    size_t i = 0;
    if ((p[0] == '2' || p[0] == '4' || p[0] == '5') && p[1] == '.') {
        i = 2;
        int dots = 0;
        while ((p[i] >= '0' && p[i] <= '9') || (p[i] == '.' && ++dots == 1))
            i++;
        if (dots != 1 || p[i - 1] == '.' || (p[i] != ' ' && p[i] != '\0'))
            i = 0;
    }
    if (i > 0 && i < 16) {
        str_copyn(out, 16, p, i);
        return;
    }
    int cls = reply[0] == '5' ? 5 : reply[0] == '4' ? 4 : reply[0] == '2' ? 2 : failed ? 5 : 4;
    snprintf(out, 16, "%d.0.0", cls);
}

/* A reply as one line safe for a header field value. */
static void clean_line(struct buf *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        buf_append_char(out, c < 0x20 || c == 0x7f ? ' ' : (char)c);
    }
}

static bool is_smtp_reply(const char *r)
{
    return r[0] >= '2' && r[0] <= '5' && r[1] >= '0' && r[1] <= '9' && r[2] >= '0' && r[2] <= '9' &&
           r[3] == ' ';
}

void dsn_compose(const struct dsn_info *info, const struct dsn_rcpt *rcpts, size_t n,
                 const char *original, size_t original_len, bool full, struct buf *out)
{
    char date[64], arrival[64];
    rfc5322_date(info->now, date, sizeof(date));
    rfc5322_date(info->arrival, arrival, sizeof(arrival));
    bool any_failed = false, any_delayed = false;
    for (size_t i = 0; i < n; i++) {
        any_failed |= rcpts[i].action == DSN_FAILED;
        any_delayed |= rcpts[i].action == DSN_DELAYED;
    }
    const char *subject = any_failed    ? "Undelivered Mail Returned to Sender"
                          : any_delayed ? "Delayed Mail (still being retried)"
                                        : "Successful Mail Delivery Report";
    char boundary[128];
    snprintf(boundary, sizeof(boundary), "%s.%lld/%s", info->qid, info->now, info->hostname);

    buf_printf(out, "Date: %s\r\n", date);
    buf_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", info->hostname);
    buf_printf(out, "To: <%s>\r\n", info->sender);
    buf_printf(out, "Subject: %s\r\n", subject);
    buf_printf(out, "Message-ID: <%s.%lld.dsn@%s>\r\n", info->qid, info->now, info->hostname);
    buf_append_str(out, "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n");
    buf_printf(out,
               "Content-Type: multipart/report; report-type=delivery-status;\r\n"
               "\tboundary=\"%s\"\r\n\r\n",
               boundary);
    buf_append_str(out, "This is a MIME-encapsulated message.\r\n\r\n");

    /* 1. for people */
    buf_printf(out,
               "--%s\r\nContent-Description: Notification\r\n"
               "Content-Type: text/plain; charset=utf-8\r\n\r\n",
               boundary);
    buf_printf(out, "This is the mail system at host %s.\r\n\r\n", info->hostname);
    if (any_failed)
        buf_append_str(out, "I'm sorry to have to inform you that your message could not\r\n"
                            "be delivered to one or more recipients. The reason is given\r\n"
                            "below, as the receiving server said it.\r\n\r\n");
    else if (any_delayed)
        buf_printf(out, "Your message could not be delivered yet. It is still in the queue\r\n"
                        "and will be tried again until it is delivered or given up on.\r\n"
                        "You do not need to send it again.\r\n\r\n");
    else
        buf_append_str(out, "Your message was delivered to the recipients below, as you asked\r\n"
                            "to be told.\r\n\r\n");
    for (size_t i = 0; i < n; i++) {
        const struct dsn_rcpt *r = &rcpts[i];
        buf_printf(out, "<%s>: ", r->addr);
        if (r->remote_mta && r->remote_mta[0])
            buf_printf(out, "host %s said: ", r->remote_mta);
        clean_line(out, r->reply ? r->reply : "");
        buf_append_str(out, "\r\n\r\n");
    }

    /* 2. for programs */
    buf_printf(out,
               "--%s\r\nContent-Description: Delivery report\r\n"
               "Content-Type: message/delivery-status\r\n\r\n",
               boundary);
    buf_printf(out, "Reporting-MTA: dns; %s\r\n", info->hostname);
    buf_printf(out, "X-Postino-Queue-ID: %s\r\n", info->qid);
    if (info->envid && info->envid[0])
        buf_printf(out, "Original-Envelope-Id: %s\r\n", info->envid);
    buf_printf(out, "Arrival-Date: %s\r\n", arrival);
    for (size_t i = 0; i < n; i++) {
        const struct dsn_rcpt *r = &rcpts[i];
        char status[16];
        dsn_status_of(r->reply ? r->reply : "", r->action == DSN_FAILED, status);
        if (r->action == DSN_DELIVERED)
            str_copy(status, sizeof(status), "2.0.0");
        buf_append_str(out, "\r\n");
        if (r->orcpt && r->orcpt[0])
            buf_printf(out, "Original-Recipient: %s\r\n", r->orcpt);
        buf_printf(out, "Final-Recipient: rfc822; %s\r\n", r->addr);
        buf_printf(out, "Action: %s\r\n",
                   r->action == DSN_FAILED    ? "failed"
                   : r->action == DSN_DELAYED ? "delayed"
                                              : "delivered");
        buf_printf(out, "Status: %s\r\n", status);
        if (r->remote_mta && r->remote_mta[0])
            buf_printf(out, "Remote-MTA: dns; %s\r\n", r->remote_mta);
        if (r->reply && r->reply[0]) {
            buf_printf(out, "Diagnostic-Code: %s; ",
                       is_smtp_reply(r->reply) ? "smtp" : "x-postino");
            clean_line(out, r->reply);
            buf_append_str(out, "\r\n");
        }
        if (r->last_attempt) {
            char la[64];
            rfc5322_date(r->last_attempt, la, sizeof(la));
            buf_printf(out, "Last-Attempt-Date: %s\r\n", la);
        }
        if (r->action == DSN_DELAYED && info->retry_until) {
            char until[64];
            rfc5322_date(info->retry_until, until, sizeof(until));
            buf_printf(out, "Will-Retry-Until: %s\r\n", until);
        }
    }
    buf_append_str(out, "\r\n");

    /* 3. the original */
    buf_printf(out, "--%s\r\nContent-Description: %s\r\nContent-Type: %s\r\n\r\n", boundary,
               full ? "Undelivered Message" : "Undelivered Message Headers",
               full ? "message/rfc822" : "text/rfc822-headers");
    buf_append(out, original, original_len);
    if (original_len < 2 || original[original_len - 2] != '\r' ||
        original[original_len - 1] != '\n')
        buf_append_str(out, "\r\n");
    buf_printf(out, "\r\n--%s--\r\n", boundary);
}
