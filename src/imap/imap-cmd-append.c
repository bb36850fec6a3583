/* imap-cmd-append: APPEND (RFC 3501 6.3.11, APPENDUID of RFC 4315). The
 * message literal goes into the folder as it arrives, so a large message
 * is never held in memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap/imap-fetch-parse.h"
#include "imap/imap-session-private.h"
#include "lib/str.h"
#include "lib/xalloc.h"

struct imap_append {
    struct store_append *a; /* NULL once failed */
    char folder[STORE_FOLDER_NAME_MAX + 1];
    uint32_t flags;
    char *keywords[IMAP_STORE_FLAGS_MAX];
    size_t nkeywords;
    time_t idate;
    bool write_failed;
};

static void append_free(struct imap_append **ap)
{
    struct imap_append *ap_ = *ap;
    if (!ap_)
        return;
    store_append_abort(&ap_->a);
    for (size_t i = 0; i < ap_->nkeywords; i++)
        free(ap_->keywords[i]);
    free(ap_);
    *ap = NULL;
}

void imap_append_abort(struct imap_session *s)
{
    append_free(&s->append);
}

/* "dd-Mon-yyyy hh:mm:ss +zzzz" (RFC 3501 date-time; the day may start
 * with a space). 0 with *t_r, or -1. */
static int parse_date_time(const char *p, size_t len, time_t *t_r)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (len != 26 || p[2] != '-' || p[6] != '-' || p[11] != ' ' || p[14] != ':' || p[17] != ':' ||
        p[20] != ' ' || (p[21] != '+' && p[21] != '-'))
        return -1;
    int day = (p[0] == ' ' ? 0 : p[0] - '0') * 10 + (p[1] - '0');
    int mon = -1;
    for (int i = 0; i < 12; i++)
        if (str_eqn_ci(p + 3, months + 3 * i, 3))
            mon = i;
    const int digits[] = {1, 7, 8, 9, 10, 12, 13, 15, 16, 18, 19, 22, 23, 24, 25};
    for (size_t i = 0; i < sizeof(digits) / sizeof(digits[0]); i++)
        if (p[digits[i]] < '0' || p[digits[i]] > '9')
            return -1;
    if (p[0] != ' ' && (p[0] < '0' || p[0] > '3'))
        return -1;
    int year = atoi(p + 7);
    int hour = (p[12] - '0') * 10 + (p[13] - '0');
    int min = (p[15] - '0') * 10 + (p[16] - '0');
    int sec = (p[18] - '0') * 10 + (p[19] - '0');
    int zh = (p[22] - '0') * 10 + (p[23] - '0');
    int zm = (p[24] - '0') * 10 + (p[25] - '0');
    if (mon < 0 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 || zm > 59 ||
        year < 1900)
        return -1;
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = mon,
                    .tm_mday = day,
                    .tm_hour = hour,
                    .tm_min = min,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    long off = (zh * 60 + zm) * 60L;
    *t_r = p[21] == '+' ? t - off : t + off;
    return 0;
}

/* Read the arguments before the message: mailbox [flags] [date-time].
 * NULL after writing the tagged reply. */
static struct imap_append *parse_head(struct imap_session *s, const char *tag,
                                      const struct imap_arg *args, size_t count)
{
    struct imap_cmd reply = {.def = NULL};
    str_copy(reply.tag, sizeof(reply.tag), tag);
    size_t len;
    const char *name = count >= 1 ? imap_arg_astring(&args[0], &len) : NULL;
    if (!name || count > 3) {
        imap_cmd_bad(s, &reply, "APPEND needs a mailbox name and a message");
        return NULL;
    }
    struct imap_append *ap = xcalloc(1, sizeof(*ap));
    if (imap_mailbox_to_store(name, len, ap->folder, sizeof(ap->folder)) < 0) {
        imap_cmd_no(s, &reply, "[TRYCREATE] No such mailbox");
        append_free(&ap);
        return NULL;
    }
    size_t i = 1;
    if (i < count && args[i].type == IMAP_ARG_LIST) {
        const struct imap_arg *l = &args[i++];
        for (size_t k = 0; k < l->count; k++) {
            const char *f = imap_arg_atom(&l->list[k]);
            const char *why = "Invalid flag";
            const char *canon = f ? imap_flag_check(f, strlen(f), &why) : NULL;
            if (!canon) {
                imap_cmd_bad(s, &reply, "%s", why);
                append_free(&ap);
                return NULL;
            }
            if (str_eq_ci(canon, "\\Seen"))
                ap->flags |= STORE_FLAG_SEEN;
            else if (str_eq_ci(canon, "\\Answered"))
                ap->flags |= STORE_FLAG_ANSWERED;
            else if (str_eq_ci(canon, "\\Flagged"))
                ap->flags |= STORE_FLAG_FLAGGED;
            else if (str_eq_ci(canon, "\\Deleted"))
                ap->flags |= STORE_FLAG_DELETED;
            else if (str_eq_ci(canon, "\\Draft"))
                ap->flags |= STORE_FLAG_DRAFT;
            else if (ap->nkeywords < IMAP_STORE_FLAGS_MAX)
                ap->keywords[ap->nkeywords++] = xstrdup(canon);
        }
    }
    if (i < count) {
        size_t dlen;
        const char *d = imap_arg_string(&args[i], &dlen);
        if (!d || parse_date_time(d, dlen, &ap->idate) < 0) {
            imap_cmd_bad(s, &reply, "Invalid date-time");
            append_free(&ap);
            return NULL;
        }
        i++;
    }
    if (i != count) {
        imap_cmd_bad(s, &reply, "APPEND: unexpected arguments");
        append_free(&ap);
        return NULL;
    }
    return ap;
}

bool imap_append_literal(struct imap_session *s, const struct imap_literal_info *li)
{
    const char *tag = li->partial.tag ? li->partial.tag : "*";
    if (s->append) {
        struct imap_cmd reply = {.def = NULL};
        str_copy(reply.tag, sizeof(reply.tag), tag);
        imap_cmd_bad(s, &reply, "One message per APPEND");
        append_free(&s->append);
        return false;
    }
    struct imap_append *ap = parse_head(s, tag, li->partial.args, li->partial.count);
    if (!ap)
        return false;
    if (li->size > s->set.max_append) {
        struct imap_cmd reply = {.def = NULL};
        str_copy(reply.tag, sizeof(reply.tag), tag);
        imap_cmd_no(s, &reply, "[TOOBIG] The message is larger than %llu octets",
                    (unsigned long long)s->set.max_append);
        append_free(&ap);
        return false;
    }
    ap->a = store_append_begin(s->acc, ap->folder);
    if (!ap->a) {
        struct imap_cmd reply = {.def = NULL};
        str_copy(reply.tag, sizeof(reply.tag), tag);
        const char *text;
        if (store_account_error(s->acc, &text) == STORE_ERR_NOTFOUND)
            imap_cmd_no(s, &reply, "[TRYCREATE] No such mailbox");
        else
            imap_cmd_store_error(s, &reply, "APPEND");
        append_free(&ap);
        return false;
    }
    s->append = ap;
    return true;
}

void imap_append_data(struct imap_session *s, const char *data, size_t len)
{
    struct imap_append *ap = s->append;
    if (!ap || ap->write_failed || !len)
        return;
    if (store_append_write(ap->a, data, len) < 0)
        ap->write_failed = true;
}

enum imap_cmd_status imap_cmd_append(struct imap_session *s, struct imap_cmd *cmd)
{
    struct imap_append *ap = s->append;
    s->append = NULL;
    const struct imap_arg *msg = cmd->count ? &cmd->args[cmd->count - 1] : NULL;
    if (!ap) {
        /* The message came as a quoted string, or not at all. */
        size_t mlen;
        const char *text = msg ? imap_arg_string(msg, &mlen) : NULL;
        if (!text || msg->literal_streamed)
            return imap_cmd_bad(s, cmd, "APPEND needs a mailbox name and a message");
        ap = parse_head(s, cmd->tag, cmd->args, cmd->count - 1);
        if (!ap)
            return IMAP_CMD_DONE;
        uint32_t uid = 0, uidvalidity = 0;
        int rc = store_append(s->acc, ap->folder, text, mlen, ap->flags,
                              (const char *const *)ap->keywords, ap->nkeywords, ap->idate, &uid,
                              &uidvalidity);
        char folder[sizeof(ap->folder)];
        str_copy(folder, sizeof(folder), ap->folder);
        append_free(&ap);
        if (rc < 0)
            return imap_cmd_store_error(s, cmd, "APPEND");
        imap_session_changed(s, folder);
        return imap_cmd_ok(s, cmd, "[APPENDUID %u %u] APPEND completed", uidvalidity, uid);
    }
    if (!msg || !msg->literal_streamed || ap->write_failed) {
        bool failed = ap->write_failed;
        append_free(&ap);
        if (failed)
            return imap_cmd_store_error(s, cmd, "APPEND");
        return imap_cmd_bad(s, cmd, "APPEND: unexpected arguments after the message");
    }
    uint32_t uid = 0, uidvalidity = 0;
    int rc = store_append_finish(&ap->a, ap->flags, (const char *const *)ap->keywords,
                                 ap->nkeywords, ap->idate, &uid, &uidvalidity);
    char folder[sizeof(ap->folder)];
    str_copy(folder, sizeof(folder), ap->folder);
    append_free(&ap);
    if (rc < 0)
        return imap_cmd_store_error(s, cmd, "APPEND");
    imap_session_changed(s, folder);
    return imap_cmd_ok(s, cmd, "[APPENDUID %u %u] APPEND completed", uidvalidity, uid);
}
