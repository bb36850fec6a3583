/* postino sendmail: the sendmail-compatible local entry point (cron,
 * scripts, web applications). Reads one message on stdin and queues it
 * directly in the spool: no network, no running server needed (the queue
 * manager finds it when it runs). Exit codes follow sysexits.h. */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/syncer.h"
#include "mime/mime-address.h"
#include "queue/envelope.h"
#include "queue/events.h"
#include "queue/spool.h"
#include "smtp/smtp-address.h"
#include "smtp/smtp-data.h"
#include "state/state-domain.h"
#include "state/state-resolve.h"

#define EX_USAGE     64
#define EX_DATAERR   65
#define EX_NOUSER    67
#define EX_SOFTWARE  70
#define EX_CANTCREAT 73
#define EX_TEMPFAIL  75

static const char usage[] =
    "usage: postino sendmail [-t] [-i] [-f SENDER] [-F NAME] [--config FILE] [RECIPIENT...]\n"
    "Reads a message on stdin and queues it for the recipients given, or with -t for\n"
    "those of its To:, Cc: and Bcc: fields (Bcc: is removed). Without -i (or -oi) a line\n"
    "holding a single \".\" ends the message. -f sets the envelope sender (default:\n"
    "the calling user at this host). From:, Date: and Message-ID: are added when\n"
    "missing. Run as root or as the service user. Other sendmail options (-o..., -bm,\n"
    "-v) are accepted and ignored. Exit status: 0 queued, 64 usage, 65 bad message,\n"
    "67 unknown local recipient, 73/75 the spool could not take it.\n";

struct rcpt_list {
    char **items;
    size_t n;
};

static void rcpt_add(struct rcpt_list *l, const char *addr, size_t len)
{
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->items[i]) == len && str_eqn_ci(l->items[i], addr, len))
            return;
    l->items = realloc(l->items, (l->n + 1) * sizeof(char *));
    l->items[l->n++] = strndup(addr, len);
}

static void rcpt_free(struct rcpt_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static void rcpt_cb(const char *addr, size_t len, void *arg)
{
    rcpt_add(arg, addr, len);
}

/* Add one line (without its end) to out with a CRLF; -1 after printing. */
static int add_line(struct buf *out, const char *p, size_t n, long long max)
{
    if (memchr(p, '\0', n)) {
        cmd_error("the message contains a NUL byte");
        return -1;
    }
    if (n > SMTP_TEXT_LINE_MAX) {
        cmd_error("a line of the message is longer than %d octets", SMTP_TEXT_LINE_MAX);
        return -1;
    }
    if (out->len + n + 2 > (size_t)max || buf_append(out, p, n) < 0 ||
        buf_append(out, "\r\n", 2) < 0) {
        cmd_error("the message is larger than message_size_limit (%lld octets)", max);
        return -1;
    }
    return 0;
}

/* Read stdin as the message, with CRLF line ends whatever it used (LF,
 * CRLF, or a lone CR). -1 after printing why. */
static int read_message(bool dot_ends, long long max, struct buf *out)
{
    struct buf raw;
    buf_init(&raw, (size_t)max + 1024 * 1024);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
        if (buf_append(&raw, chunk, n) < 0) {
            cmd_error("the message is larger than message_size_limit (%lld octets)", max);
            buf_free(&raw);
            return -1;
        }
    }
    int rc = 0;
    const char *p = raw.data ? raw.data : "";
    size_t i = 0, start = 0;
    while (i <= raw.len && rc == 0) {
        bool end = i == raw.len;
        if (!end && p[i] != '\n' && p[i] != '\r') {
            i++;
            continue;
        }
        size_t len = i - start;
        if (end && len == 0)
            break;
        if (dot_ends && len == 1 && p[start] == '.')
            break;
        rc = add_line(out, p + start, len, max);
        if (end)
            break;
        i += (p[i] == '\r' && i + 1 < raw.len && p[i + 1] == '\n') ? 2 : 1;
        start = i;
    }
    buf_free(&raw);
    return rc;
}

/* Take the addresses of To:, Cc:, Bcc: (unfolded) and drop Bcc: fields.
 * Returns the new header length or -1 on a syntax error. */
static long collect_rcpts(struct buf *m, size_t hlen, struct rcpt_list *rcpts)
{
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    size_t i = 0;
    long rc = 0;
    while (i < hlen) {
        /* one field: a line and its continuation lines */
        size_t start = i;
        do {
            const char *nl = memchr(m->data + i, '\n', hlen - i);
            i = nl ? (size_t)(nl - m->data) + 1 : hlen;
        } while (i < hlen && (m->data[i] == ' ' || m->data[i] == '\t'));
        const char *f = m->data + start;
        size_t flen = i - start;
        bool bcc = flen > 4 && str_eqn_ci(f, "bcc:", 4);
        size_t nlen = bcc                                                                  ? 4
                      : (flen > 3 && (str_eqn_ci(f, "to:", 3) || str_eqn_ci(f, "cc:", 3))) ? 3
                                                                                           : 0;
        if (nlen) {
            char value[8192];
            size_t v = 0;
            for (size_t k = nlen; k < flen && v + 1 < sizeof(value); k++)
                if (f[k] != '\r' && f[k] != '\n')
                    value[v++] = f[k];
            if (mime_address_list(value, v, rcpt_cb, rcpts) < 0) {
                cmd_error("cannot read the addresses of %.*s", (int)nlen - 1, f);
                rc = -1;
            }
        }
        if (!bcc)
            buf_append(&out, f, flen);
    }
    if (rc == 0) {
        long newlen = (long)out.len;
        buf_append(&out, m->data + hlen, m->len - hlen);
        buf_free(m);
        *m = out;
        return newlen;
    }
    buf_free(&out);
    return -1;
}

static void first_domain(const char *name, void *arg)
{
    char *out = arg;
    if (!out[0])
        str_copy(out, 256, name);
}

int cmd_sendmail(int argc, char **argv)
{
    bool opt_t = false, opt_i = false;
    const char *sender = NULL;
    const char *config_path = getenv("POSTINO_CONFIG");
    struct rcpt_list rcpts = {0};
    /* Options may come before or after the recipients, as with other
     * sendmail programs; "--" ends them. */
    bool options = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options || a[0] != '-' || strcmp(a, "-") == 0) {
            rcpt_add(&rcpts, a, strlen(a));
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options = false;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            rcpt_free(&rcpts);
            return 0;
        }
        if (strcmp(a, "--config") == 0 || strcmp(a, "-C") == 0) {
            if (++i >= argc) {
                fputs(usage, stderr);
                rcpt_free(&rcpts);
                return EX_USAGE;
            }
            config_path = argv[i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            config_path = a + 9;
        } else if (strcmp(a, "-t") == 0) {
            opt_t = true;
        } else if (strcmp(a, "-i") == 0 || strcmp(a, "-oi") == 0) {
            opt_i = true;
        } else if (a[1] == 'f' || a[1] == 'r' || a[1] == 'F') {
            const char *v = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) {
                fputs(usage, stderr);
                rcpt_free(&rcpts);
                return EX_USAGE;
            }
            if (a[1] != 'F')
                sender = v;
        } else if (a[1] == 'o' || a[1] == 'b' || strcmp(a, "-v") == 0) {
            /* accepted for compatibility: -odi, -oem, -bm ... */
        } else {
            cmd_error("unknown option %s", a);
            fputs(usage, stderr);
            rcpt_free(&rcpts);
            return EX_USAGE;
        }
    }

    struct cmd_common c;
    memset(&c, 0, sizeof(c));
    c.config_path = config_path && *config_path ? config_path : "/etc/postino/postino.conf";
    struct config *cfg = cmd_load_config(&c);
    if (!cfg) {
        rcpt_free(&rcpts);
        return EX_TEMPFAIL;
    }
    log_open("sendmail", LOG_TARGET_SYSLOG);
    int rc = EX_TEMPFAIL;
    struct buf msg;
    buf_init(&msg, BUF_UNLIMITED);
    struct state_db *db = NULL;
    uid_t caller = getuid();

    if (read_message(!opt_i, cfg->message_size_limit, &msg) < 0) {
        rc = EX_DATAERR;
        goto out;
    }
    size_t hlen = cmd_header_length(msg.data, msg.len);
    if (opt_t) {
        long n = collect_rcpts(&msg, hlen, &rcpts);
        if (n < 0) {
            rc = EX_DATAERR;
            goto out;
        }
        hlen = (size_t)n;
    }
    if (rcpts.n == 0) {
        cmd_error("no recipients (give them as arguments, or use -t)");
        rc = EX_USAGE;
        goto out;
    }

    /* As root this becomes the service user for good (cmd_open_state). */
    db = cmd_open_state(cfg);
    if (!db)
        goto out;
    char domain[256] = "";
    state_domain_list(db, first_domain, domain);
    struct passwd *pw = getpwuid(caller);
    char from[SMTP_PATH_MAX + 1];
    if (sender)
        str_copy(from, sizeof(from), sender);
    else
        snprintf(from, sizeof(from), "%s@%s", pw ? pw->pw_name : "nobody", cfg->hostname);
    struct smtp_path fp;
    if (from[0] && smtp_mailbox_parse(from, strlen(from), &fp) != SMTP_PATH_OK) {
        cmd_error("'%s' is not a valid sender address", from);
        rc = EX_USAGE;
        goto out;
    }
    char via[64];
    snprintf(via, sizeof(via), "sendmail, uid %u", (unsigned)caller);
    struct cmd_inject in = {.sender = from[0] ? fp.mailbox : "",
                            .rcpts = (const char *const *)rcpts.items,
                            .n_rcpts = rcpts.n,
                            .domain = domain,
                            .msg = msg.data ? msg.data : "",
                            .len = msg.len,
                            .via = via};
    rc = cmd_inject(cfg, db, &in, NULL);
out:
    buf_free(&msg);
    rcpt_free(&rcpts);
    state_db_close(&db);
    config_free(&cfg);
    return rc;
}
