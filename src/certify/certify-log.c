#include "certify-log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certify/certify-receipt.h"
#include "certify/certify-error.h"
#include "lib/fd-write.h"
#include "lib/buf.h"
#include "lib/str.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

int certify_log_path(const struct config *cfg, char *out, size_t outsize)
{
    return config_data_path(cfg, "state/certify-evidence.log", out, outsize);
}

/* True for the octets a value holds as they are. */
static bool plain_octet(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '%' && c != '=';
}

static int append_value(struct buf *out, const char *key, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = buf_printf(out, " %s=", key);
    for (const unsigned char *p = (const unsigned char *)v; *p && rc == 0; p++) {
        if (plain_octet(*p)) {
            rc |= buf_append_char(out, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc |= buf_append(out, e, 3);
        }
    }
    return rc;
}

/* The line of rec up to (not including) " hash=". */
static int format_unhashed(const struct certify_log_record *rec, struct buf *out)
{
    char when[32];
    struct tm tm;
    if (!gmtime_r(&rec->time, &tm) || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return -1;
    int rc = buf_printf(out, "seq=%llu time=%s", rec->seq, when);
    rc |= append_value(out, "event", rec->event);
    rc |= append_value(out, "queue", rec->queue_id);
    rc |= append_value(out, "msgid", rec->msgid);
    rc |= append_value(out, "id", rec->id);
    rc |= append_value(out, "sender", rec->sender);
    rc |= append_value(out, "rcpt", rec->rcpt);
    rc |= append_value(out, "detail", rec->detail);
    rc |= buf_printf(out, " prev=%s", rec->prev);
    return rc;
}

int certify_log_format(const struct certify_log_record *rec, struct buf *out)
{
    int rc = format_unhashed(rec, out);
    rc |= buf_printf(out, " hash=%s\n", rec->hash);
    return rc;
}

/* The value of an uppercase hex digit, or -1. */
static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode a percent-encoded value of n octets into out. Only the octets
 * the writer encodes may be encoded (one form for each value). */
static int decode_value(const char *s, size_t n, char *out, size_t outsize)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (n - i < 3)
                return -1;
            int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
            if (hi < 0 || lo < 0 || plain_octet((unsigned char)(hi * 16 + lo)))
                return -1;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else if (!plain_octet(c)) {
            return -1;
        }
        if (o + 1 >= outsize)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

/* The hex value of field "key=" at s (64 lowercase hex digits). */
static bool hash_ok(const char *s, size_t n)
{
    if (n != CERTIFY_HASH_HEX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int certify_log_parse(const char *line, size_t len, struct certify_log_record *rec)
{
    static const char *const keys[] = {"seq",    "time", "event",  "queue", "msgid", "id",
                                       "sender", "rcpt", "detail", "prev",  "hash"};
    memset(rec, 0, sizeof(*rec));
    size_t pos = 0;
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        size_t kl = strlen(keys[k]);
        if (k > 0) {
            if (pos >= len || line[pos] != ' ')
                return -1;
            pos++;
        }
        if (len - pos < kl + 1 || memcmp(line + pos, keys[k], kl) != 0 || line[pos + kl] != '=')
            return -1;
        pos += kl + 1;
        const char *v = line + pos;
        const char *sp = memchr(v, ' ', len - pos);
        size_t vl = sp ? (size_t)(sp - v) : len - pos;
        pos += vl;
        char tmp[CERTIFY_LOG_FIELD_MAX];
        if (decode_value(v, vl, tmp, sizeof(tmp)) < 0)
            return -1;
        switch (k) {
        case 0: {
            unsigned long long s;
            if (str_to_u64(v, vl, 1ULL << 62, &s) < 0)
                return -1;
            rec->seq = s;
            break;
        }
        case 1: {
            struct tm tm = {0};
            const char *end = strptime(tmp, "%Y-%m-%dT%H:%M:%SZ", &tm);
            if (!end || *end != '\0' || vl != 20)
                return -1;
            rec->time = timegm(&tm);
            break;
        }
        case 2:
            if (str_copy(rec->event, sizeof(rec->event), tmp) < 0)
                return -1;
            break;
        case 3:
            if (str_copy(rec->queue_id, sizeof(rec->queue_id), tmp) < 0)
                return -1;
            break;
        case 4:
            if (str_copy(rec->msgid, sizeof(rec->msgid), tmp) < 0)
                return -1;
            break;
        case 5:
            if (str_copy(rec->id, sizeof(rec->id), tmp) < 0)
                return -1;
            break;
        case 6:
            if (str_copy(rec->sender, sizeof(rec->sender), tmp) < 0)
                return -1;
            break;
        case 7:
            str_copy(rec->rcpt, sizeof(rec->rcpt), tmp);
            break;
        case 8:
            str_copy(rec->detail, sizeof(rec->detail), tmp);
            break;
        case 9:
            if (!hash_ok(v, vl))
                return -1;
            str_copy(rec->prev, sizeof(rec->prev), tmp);
            break;
        default:
            if (!hash_ok(v, vl))
                return -1;
            str_copy(rec->hash, sizeof(rec->hash), tmp);
            break;
        }
    }
    return pos == len ? 0 : -1;
}

/* The hash a record must carry. */
static int record_hash(const struct certify_log_record *rec, char out[CERTIFY_HASH_HEX + 1])
{
    struct buf b;
    buf_init(&b, CERTIFY_LOG_LINE_MAX);
    int rc = format_unhashed(rec, &b);
    if (rc == 0)
        certify_sha256_hex(b.data, b.len, out);
    buf_free(&b);
    return rc;
}

/* Create the directory of path (mode 0750) if missing. */
static int make_parent(const char *path)
{
    char copy[4096];
    if (str_copy(copy, sizeof(copy), path) < 0)
        return -1;
    const char *dir = dirname(copy);
    if (mkdir(dir, 0750) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* The last record of the open file fd into *last; 0 (and *have false if
 * the file is empty) or -1 if the tail does not parse. */
static int read_tail(int fd, struct certify_log_record *last, bool *have)
{
    *have = false;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -1;
    if (st.st_size == 0)
        return 0;
    char tail[CERTIFY_LOG_LINE_MAX + 1];
    off_t from = st.st_size > CERTIFY_LOG_LINE_MAX ? st.st_size - CERTIFY_LOG_LINE_MAX : 0;
    ssize_t n = pread(fd, tail, (size_t)(st.st_size - from), from);
    if (n <= 0 || tail[n - 1] != '\n')
        return -1;
    size_t end = (size_t)n - 1, start = end;
    while (start > 0 && tail[start - 1] != '\n')
        start--;
    if (start == 0 && from > 0)
        return -1;
    if (certify_log_parse(tail + start, end - start, last) < 0)
        return -1;
    *have = true;
    return 0;
}

/* Open path for appending and lock it; if pruning replaced the file while
 * we waited for the lock, open the new one. The fd, or -1 with errno. */
static int open_locked(const char *path)
{
    for (int tries = 0; tries < 10; tries++) {
        int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0)
            return -1;
        struct stat a, b;
        if (flock(fd, LOCK_EX) < 0 || fstat(fd, &a) < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        if (stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
            return fd;
        close(fd);
    }
    errno = EAGAIN;
    return -1;
}

int certify_log_append(const char *path, struct certify_log_record *rec, char **error_r)
{
    if (make_parent(path) < 0)
        return certify_fail(error_r, "cannot create the directory of %s: %s", path,
                            strerror(errno));
    int fd = open_locked(path);
    if (fd < 0)
        return certify_fail(error_r, "cannot open and lock %s: %s", path, strerror(errno));
    int rc = -1;
    struct certify_log_record last;
    bool have;
    if (read_tail(fd, &last, &have) < 0) {
        certify_fail(error_r, "%s: the last record is damaged; nothing appended", path);
        goto out;
    }
    rec->seq = have ? last.seq + 1 : 1;
    if (rec->time == 0)
        rec->time = time(NULL);
    str_copy(rec->prev, sizeof(rec->prev), have ? last.hash : ZERO_HASH);
    struct buf line;
    buf_init(&line, CERTIFY_LOG_LINE_MAX);
    /* Long free-text fields are cut until the record fits. */
    while (record_hash(rec, rec->hash) < 0) {
        size_t dl = strlen(rec->detail), rl = strlen(rec->rcpt);
        if (dl == 0 && rl == 0) {
            buf_free(&line);
            certify_fail(error_r, "record too long");
            goto out;
        }
        if (dl >= rl)
            rec->detail[dl / 2] = '\0';
        else
            rec->rcpt[rl / 2] = '\0';
    }
    if (certify_log_format(rec, &line) < 0 || fd_write_all(fd, line.data, line.len) < 0 ||
        fsync(fd) < 0) {
        buf_free(&line);
        certify_fail(error_r, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    buf_free(&line);
    rc = 0;
out:
    flock(fd, LOCK_UN);
    close(fd);
    return rc;
}

/* Read the file line by line: fn gets each raw line (without its break)
 * and its number; a line longer than the limit is an error. */
typedef int line_fn(void *arg, const char *line, size_t len, size_t lineno);
static int each_line(FILE *f, line_fn *fn, void *arg, const char *path, char **error_r)
{
    enum { LINE_SIZE = CERTIFY_LOG_LINE_MAX + 2 };
    char *line = malloc(LINE_SIZE);
    if (!line)
        return certify_fail(error_r, "out of memory");
    size_t lineno = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, LINE_SIZE, f)) {
        lineno++;
        size_t n = strlen(line);
        if (n == 0 || line[n - 1] != '\n' || memchr(line, '\0', n) != NULL) {
            rc = certify_fail(error_r, "%s:%zu: line too long or unterminated", path, lineno);
            break;
        }
        int r = fn(arg, line, n - 1, lineno);
        if (r != 0)
            rc = r < 0 ? -1 : 1;
    }
    free(line);
    if (rc == 0 && ferror(f))
        return certify_fail(error_r, "%s: read error", path);
    return rc < 0 ? -1 : 0;
}

struct read_ctx {
    certify_log_fn *fn;
    void *arg;
    const char *path;
    char **error_r;
};

static int read_line(void *arg, const char *line, size_t len, size_t lineno)
{
    struct read_ctx *c = arg;
    struct certify_log_record rec;
    if (certify_log_parse(line, len, &rec) < 0)
        return certify_fail(c->error_r, "%s:%zu: malformed record", c->path, lineno);
    return c->fn(c->arg, &rec) ? 0 : 1;
}

int certify_log_read(const char *path, certify_log_fn *fn, void *arg, char **error_r)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0
                               : certify_fail(error_r, "cannot open %s: %s", path, strerror(errno));
    struct read_ctx c = {fn, arg, path, error_r};
    int rc = each_line(f, read_line, &c, path, error_r);
    fclose(f);
    return rc;
}

struct verify_ctx {
    struct certify_log_check *c;
    char expect_prev[CERTIFY_HASH_HEX + 1];
    unsigned long long expect_seq;
};

/* Stop the check with a reason. */
static int broken(struct certify_log_check *c, unsigned long long where, const char *why)
{
    c->ok = false;
    c->bad_seq = where;
    str_copy(c->reason, sizeof(c->reason), why);
    return 1;
}

static int verify_line(void *arg, const char *line, size_t len, size_t lineno)
{
    struct verify_ctx *v = arg;
    struct certify_log_check *c = v->c;
    struct certify_log_record rec;
    if (certify_log_parse(line, len, &rec) < 0)
        return broken(c, lineno, "malformed record (line number)");
    char hash[CERTIFY_HASH_HEX + 1];
    /* The line must be exactly what its fields format to. */
    struct buf again;
    buf_init(&again, CERTIFY_LOG_LINE_MAX + 1);
    int frc = certify_log_format(&rec, &again);
    bool same = frc == 0 && again.len == len + 1 && memcmp(again.data, line, len) == 0;
    buf_free(&again);
    if (!same || record_hash(&rec, hash) < 0)
        return broken(c, rec.seq, "record not in canonical form");
    if (strcmp(hash, rec.hash) != 0)
        return broken(c, rec.seq, "record altered: its hash does not match");
    bool first = c->records == 0;
    c->records++;
    if (first) {
        c->first_seq = rec.seq;
        if (strcmp(rec.event, CERTIFY_LOG_CHECKPOINT) == 0) {
            /* The pruned prefix ended with the record whose hash is prev. */
            str_copy(v->expect_prev, sizeof(v->expect_prev), rec.prev);
            v->expect_seq = rec.seq + 1;
            return 0;
        }
        if (rec.seq != 1 || strcmp(rec.prev, ZERO_HASH) != 0)
            return broken(c, rec.seq, "the first record is neither the first nor a checkpoint");
    } else {
        if (rec.seq != v->expect_seq)
            return broken(c, rec.seq, "a record is missing or out of order");
        if (strcmp(rec.prev, v->expect_prev) != 0)
            return broken(c, rec.seq, "chain broken: prev is not the hash of the record before");
        if (strcmp(rec.event, CERTIFY_LOG_CHECKPOINT) == 0)
            return broken(c, rec.seq, "a checkpoint after the first record");
    }
    str_copy(v->expect_prev, sizeof(v->expect_prev), rec.hash);
    v->expect_seq = rec.seq + 1;
    return 0;
}

int certify_log_verify(const char *path, struct certify_log_check *c, char **error_r)
{
    memset(c, 0, sizeof(*c));
    c->ok = true;
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0
                               : certify_fail(error_r, "cannot open %s: %s", path, strerror(errno));
    struct verify_ctx v = {.c = c};
    char *err = NULL;
    int rc = each_line(f, verify_line, &v, path, &err);
    fclose(f);
    if (rc < 0) {
        /* A line too long is damage, not an I/O problem. */
        broken(c, c->records + 1, err);
        free(err);
    }
    return 0;
}

time_t certify_log_cutoff(time_t now, long long months)
{
    struct tm tm;
    gmtime_r(&now, &tm);
    long long m = (long long)tm.tm_year * 12 + tm.tm_mon - months;
    tm.tm_year = (int)(m / 12);
    tm.tm_mon = (int)(m % 12);
    return timegm(&tm);
}

struct prune_ctx {
    time_t before;
    size_t dropped;
    struct certify_log_record last_dropped;
    struct buf kept;
    bool keeping;
    bool failed;
};

static int prune_line(void *arg, const char *line, size_t len, size_t lineno)
{
    (void)lineno;
    struct prune_ctx *p = arg;
    struct certify_log_record rec;
    if (certify_log_parse(line, len, &rec) < 0) {
        p->failed = true;
        return 1;
    }
    /* A checkpoint (the first record) goes whatever its time: a new one
     * replaces it if anything else goes. */
    bool checkpoint = strcmp(rec.event, CERTIFY_LOG_CHECKPOINT) == 0;
    if (!p->keeping && (checkpoint || rec.time < p->before)) {
        if (!checkpoint)
            p->dropped++;
        p->last_dropped = rec;
        return 0;
    }
    p->keeping = true;
    if (buf_append(&p->kept, line, len) < 0 || buf_append_char(&p->kept, '\n') < 0) {
        p->failed = true;
        return 1;
    }
    return 0;
}

int certify_log_prune(const char *path, time_t before, size_t *pruned, char **error_r)
{
    *pruned = 0;
    struct certify_log_check c;
    if (certify_log_verify(path, &c, error_r) < 0)
        return -1;
    if (!c.ok)
        return certify_fail(error_r, "%s does not verify (at %llu: %s); not pruned", path,
                            c.bad_seq, c.reason);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0
                               : certify_fail(error_r, "cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX) < 0) {
        close(fd);
        return certify_fail(error_r, "cannot lock %s: %s", path, strerror(errno));
    }
    int rc = -1;
    struct prune_ctx p = {.before = before};
    buf_init(&p.kept, BUF_UNLIMITED);
    FILE *f = fdopen(dup(fd), "r");
    if (!f) {
        certify_fail(error_r, "cannot read %s", path);
        goto out;
    }
    char *err = NULL;
    int erc = each_line(f, prune_line, &p, path, &err);
    fclose(f);
    if (erc < 0 || p.failed) {
        certify_fail(error_r, "%s: %s", path, err ? err : "changed while pruning");
        free(err);
        goto out;
    }
    /* Nothing to drop, or only a checkpoint that would replace itself. */
    if (p.dropped == 0) {
        rc = 0;
        goto out;
    }
    struct certify_log_record cp = {0};
    cp.seq = p.last_dropped.seq;
    cp.time = time(NULL);
    str_copy(cp.event, sizeof(cp.event), CERTIFY_LOG_CHECKPOINT);
    str_format(cp.detail, sizeof(cp.detail), "pruned %zu records before seq %llu", p.dropped,
               p.last_dropped.seq + 1);
    /* The chain goes on from the last record dropped. */
    str_copy(cp.prev, sizeof(cp.prev),
             strcmp(p.last_dropped.event, CERTIFY_LOG_CHECKPOINT) == 0 ? p.last_dropped.prev
                                                                       : p.last_dropped.hash);
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    if (record_hash(&cp, cp.hash) < 0 || certify_log_format(&cp, &out) < 0) {
        buf_free(&out);
        certify_fail(error_r, "cannot make the checkpoint");
        goto out;
    }
    buf_append(&out, p.kept.data ? p.kept.data : "", p.kept.len);
    char tmp[4200];
    int n = snprintf(tmp, sizeof(tmp), "%s.prune", path);
    int tfd = (n > 0 && (size_t)n < sizeof(tmp))
                  ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)
                  : -1;
    if (tfd < 0 || fd_write_all(tfd, out.data, out.len) < 0 || fsync(tfd) < 0 || close(tfd) < 0 ||
        rename(tmp, path) < 0) {
        certify_fail(error_r, "cannot rewrite %s: %s", path, strerror(errno));
        if (tfd >= 0)
            unlink(tmp);
        buf_free(&out);
        goto out;
    }
    buf_free(&out);
    *pruned = p.dropped;
    rc = 0;
out:
    buf_free(&p.kept);
    flock(fd, LOCK_UN);
    close(fd);
    return rc;
}
