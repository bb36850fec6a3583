/* attachment-archive: look inside archive attachments with libarchive,
 * from memory, entry by entry, within the policy's bounds. */
#include <archive.h>
#include <archive_entry.h>
#include <string.h>

#include "attachment-private.h"
#include "lib/buf.h"
#include "lib/str.h"

/* Bytes asked of libarchive at a time when reading an entry. */
#define ARCHIVE_READ_CHUNK ((size_t)64 * 1024)
/* Longest name given to the single entry of a compressed stream. */
#define ARCHIVE_STREAM_NAME_MAX 256

/* True if data starts like an archive or compressed stream of a format
 * we read: a reading failure then says "damaged", not "not an archive". */
static bool has_archive_magic(const unsigned char *d, size_t len)
{
    static const struct {
        const char *magic;
        size_t len;
    } m[] = {
        {"PK\x03\x04", 4},         /* zip */
        {"Rar!\x1a\x07", 6},       /* rar 1.5 to 5 */
        {"7z\xbc\xaf\x27\x1c", 6}, /* 7z */
        {"\x1f\x8b", 2},           /* gzip */
        {"BZh", 3},                /* bzip2 */
        {"\xfd"
         "7zXZ\x00",
         6}, /* xz */
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        if (len >= m[i].len && memcmp(d, m[i].magic, m[i].len) == 0)
            return true;
    }
    return false;
}

/* True if data starts with a RAR signature (1.5 to 4.x, or 5.0). */
static bool has_rar_magic(const unsigned char *d, size_t len)
{
    return len >= 6 && memcmp(d, "Rar!\x1a\x07", 6) == 0;
}

/* The formats a reader is given. */
enum reader_kind {
    READER_ALL, /* every format and filter we trust */
    READER_RAW, /* compressed streams only */
    READER_RAR, /* RAR 1.5 to 4.x and 5.0 only */
    READER_ZIP, /* zip only */
};

/* A reader for the formats and filters we trust: all built in, none
 * running an external program (a filter that would falls back to one
 * and returns ARCHIVE_WARN, which is refused). */
static struct archive *reader_new(enum reader_kind kind)
{
    struct archive *a = archive_read_new();
    if (!a)
        return NULL;
    if (kind == READER_RAR || kind == READER_ZIP) {
        if ((kind == READER_RAR && (archive_read_support_format_rar(a) != ARCHIVE_OK ||
                                    archive_read_support_format_rar5(a) != ARCHIVE_OK)) ||
            (kind == READER_ZIP && archive_read_support_format_zip(a) != ARCHIVE_OK)) {
            archive_read_free(a);
            return NULL;
        }
        return a;
    }
    if ((kind == READER_ALL && (archive_read_support_format_zip(a) != ARCHIVE_OK ||
                                archive_read_support_format_7zip(a) != ARCHIVE_OK ||
                                archive_read_support_format_rar(a) != ARCHIVE_OK ||
                                archive_read_support_format_rar5(a) != ARCHIVE_OK ||
                                archive_read_support_format_tar(a) != ARCHIVE_OK)) ||
        archive_read_support_format_raw(a) != ARCHIVE_OK ||
        archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
        archive_read_support_filter_bzip2(a) != ARCHIVE_OK ||
        archive_read_support_filter_xz(a) != ARCHIVE_OK ||
        archive_read_support_filter_lzma(a) != ARCHIVE_OK) {
        archive_read_free(a);
        return NULL;
    }
    return a;
}

/* The name of a compressed stream's single entry: the container's name
 * without its last extension ("a.exe.gz" → "a.exe"), "data" if none. */
static void stream_entry_name(const char *container, char *out, size_t size)
{
    const char *base = container;
    for (const char *s = container; *s; s++) {
        if (*s == '/' || *s == '\\')
            base = s + 1;
    }
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base || str_copyn(out, size, base, (size_t)(dot - base)) != 0)
        str_copy(out, size, "data");
}

/* The file name of an entry path (after its last '/' or '\\'). */
static const char *base_name(const char *path)
{
    const char *base = path;
    for (const char *s = path; *s; s++) {
        if (*s == '/' || *s == '\\')
            base = s + 1;
    }
    return base;
}

/* Read the current entry into b (whose max is the entry's allowance).
 * Returns 0 when all of it was read, 1 when it is longer than b's max,
 * or the libarchive status (< 0) of a failed read. */
static int read_entry(struct archive *a, struct buf *b)
{
    for (;;) {
        size_t room = b->max - b->len;
        if (room == 0) {
            char probe;
            la_ssize_t n = archive_read_data(a, &probe, 1);
            if (n < 0)
                return (int)n;
            return n > 0 ? 1 : 0;
        }
        size_t want = room < ARCHIVE_READ_CHUNK ? room : ARCHIVE_READ_CHUNK;
        char *p = buf_reserve(b, want);
        if (!p)
            return 1;
        la_ssize_t n = archive_read_data(a, p, want);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return 0;
        buf_commit(b, (size_t)n);
    }
}

/* Report a reading failure: encrypted if libarchive saw encryption,
 * damaged otherwise. */
static void report_failure(struct attachment_ctx *ctx, struct archive *a, struct archive_entry *e,
                           size_t path_len)
{
    if ((e && archive_entry_is_encrypted(e)) || archive_read_has_encrypted_entries(a) > 0)
        attachment_report(ctx, path_len, ATTACH_ENCRYPTED, "encrypted archive");
    else
        attachment_report(ctx, path_len, ATTACH_UNREADABLE, "damaged archive");
}

/* Judge the current (regular file) entry named name, whose path is
 * already pushed; archive_path is the length of the archive's path.
 * Returns false when the rest of the archive cannot be read. */
static bool check_entry(struct attachment_ctx *ctx, struct archive *a, struct archive_entry *e,
                        const char *name, size_t archive_path, unsigned depth)
{
    const struct attachment_policy *p = ctx->policy;
    if (attachment_check_name(ctx, name))
        return true;
    if (archive_entry_is_encrypted(e)) {
        attachment_report(ctx, ctx->path_len, ATTACH_ENCRYPTED, "encrypted archive");
        return archive_read_data_skip(a) >= ARCHIVE_WARN;
    }
    if (archive_entry_size_is_set(e) && archive_entry_size(e) >= 0 &&
        (unsigned long long)archive_entry_size(e) > p->max_entry_bytes) {
        attachment_report(ctx, ctx->path_len, ATTACH_TOO_LARGE,
                          "archive entry too large to inspect");
        ctx->stop = true;
        return false;
    }
    size_t left = p->max_total_bytes - ctx->bytes;
    struct buf b;
    buf_init(&b, p->max_entry_bytes < left ? p->max_entry_bytes : left);
    int r = read_entry(a, &b);
    ctx->bytes += b.len;
    bool go_on = true;
    if (r == 1) {
        attachment_report(ctx, ctx->path_len, ATTACH_TOO_LARGE,
                          b.max == p->max_entry_bytes ? "archive entry too large to inspect"
                                                      : "archive too large to inspect");
        ctx->stop = true;
        go_on = false;
    } else if (r < 0) {
        report_failure(ctx, a, e, ctx->path_len);
        go_on = r >= ARCHIVE_FAILED; /* a FAILED entry may be skipped; FATAL ends it */
    } else {
        const unsigned char *d = (const unsigned char *)(b.data ? b.data : "");
        if (str_eq_ci(name, "[Content_Types].xml") &&
            memmem(d, b.len, "application/vnd.ms-office.vbaProject", 36)) {
            attachment_report(ctx, archive_path, ATTACH_BLOCKED,
                              "macro-enabled Office document (VBA project)");
        } else {
            attachment_check_content(ctx, name, d, b.len, depth);
        }
    }
    buf_free(&b);
    return go_on;
}

/* What scan() found. */
enum scan_result {
    SCAN_NOT_ARCHIVE,  /* nothing libarchive reads as an archive */
    SCAN_DONE,         /* an archive, judged (findings reported) */
    SCAN_EMPTY_STREAM, /* a compressed stream an archive format took for an empty
                          archive (tar reads zeros so): to be read as a stream */
};

/* The readings of one piece of data: by its RAR signature, as libarchive
 * picks, as a compressed stream, as zip. */
#define SCAN_READINGS_MAX 4

/* How scan() reads, and the formats read so far. */
struct scan_how {
    enum reader_kind kind;
    bool magic;                  /* data starts like an archive we read */
    int read[SCAN_READINGS_MAX]; /* libarchive's base format codes read */
    size_t n_read;
};

/* True if data was read as format already. */
static bool was_read_as(const struct scan_how *how, int format)
{
    for (size_t i = 0; i < how->n_read; i++) {
        if (how->read[i] == format)
            return true;
    }
    return false;
}

/* Judge data as an archive with a reader of the formats of how->kind. */
static enum scan_result scan(struct attachment_ctx *ctx, const char *name,
                             const unsigned char *data, size_t len, unsigned depth,
                             struct scan_how *how)
{
    bool magic = how->magic;
    size_t archive_path = ctx->path_len;
    struct archive *a = reader_new(how->kind);
    if (!a) {
        if (magic)
            attachment_report(ctx, archive_path, ATTACH_UNREADABLE, "archive reader unavailable");
        return magic ? SCAN_DONE : SCAN_NOT_ARCHIVE;
    }
    if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
        archive_read_free(a);
        return SCAN_NOT_ARCHIVE;
    }
    enum scan_result res = SCAN_NOT_ARCHIVE;
    struct archive_entry *e;
    for (;;) {
        int r = archive_read_next_header(a, &e);
        if (res == SCAN_NOT_ARCHIVE) {
            int format = archive_format(a) & ARCHIVE_FORMAT_BASE_MASK;
            if (format && was_read_as(how, format))
                break; /* another reading saw the same */
            if (format && how->n_read < SCAN_READINGS_MAX)
                how->read[how->n_read++] = format;
        }
        if (r == ARCHIVE_EOF) {
            if (res == SCAN_NOT_ARCHIVE && archive_filter_count(a) > 1 &&
                archive_format(a) != ARCHIVE_FORMAT_RAW)
                res = SCAN_EMPTY_STREAM;
            break;
        }
        if (res == SCAN_NOT_ARCHIVE) {
            /* the raw format takes anything: only a decompressed stream counts */
            if (archive_format(a) == ARCHIVE_FORMAT_RAW && archive_filter_count(a) <= 1)
                break;
            res = SCAN_DONE;
            if (depth >= ctx->max_depth) {
                attachment_report(ctx, archive_path, ATTACH_BLOCKED, "archive nested too deep");
                break;
            }
        }
        if (r < ARCHIVE_WARN) {
            report_failure(ctx, a, NULL, archive_path);
            break;
        }
        if (++ctx->entries > ctx->policy->max_entries) {
            attachment_report(ctx, archive_path, ATTACH_TOO_LARGE,
                              "too many archive entries to inspect");
            ctx->stop = true;
            break;
        }
        char stream_name[ARCHIVE_STREAM_NAME_MAX];
        const char *ename;
        if (archive_format(a) == ARCHIVE_FORMAT_RAW) {
            stream_entry_name(name, stream_name, sizeof(stream_name));
            ename = stream_name;
        } else {
            ename = archive_entry_pathname(e);
            if (!ename)
                ename = archive_entry_pathname_utf8(e);
            if (!ename)
                ename = "?";
        }
        if (str_eq_ci(base_name(ename), "vbaProject.bin")) {
            attachment_report(ctx, archive_path, ATTACH_BLOCKED,
                              "macro-enabled Office document (vbaProject.bin)");
            break;
        }
        if (archive_entry_filetype(e) != AE_IFREG)
            continue;
        size_t saved = attachment_path_push(ctx, ename);
        bool go_on = check_entry(ctx, a, e, ename, archive_path, depth + 1);
        attachment_path_pop(ctx, saved);
        if (!go_on || ctx->stop)
            break;
    }
    archive_read_free(a);
    return res;
}

bool attachment_archive_check(struct attachment_ctx *ctx, const char *name,
                              const unsigned char *data, size_t len, unsigned depth)
{
    struct scan_how how = {.kind = READER_ALL, .magic = has_archive_magic(data, len)};
    bool magic = how.magic;
    enum scan_result res = SCAN_NOT_ARCHIVE;
    /* The same bytes may be two archives, read by different tools (one
     * format's signature at the start, a zip's central directory at the
     * end): each reading is judged, so that neither hides the other.
     * First a RAR as RAR, as RAR tools do: libarchive's zip reader outbids
     * its RAR reader when a zip follows the RAR or is its last entry,
     * stored. */
    if (has_rar_magic(data, len)) {
        /* libarchive does not say that a RAR 5.0 entry is encrypted */
        if (attachment_rar5_encrypted(data, len))
            attachment_report(ctx, ctx->path_len, ATTACH_ENCRYPTED, "encrypted archive");
        how.kind = READER_RAR;
        res = scan(ctx, name, data, len, depth, &how);
    }
    /* then as libarchive picks, if that is something else */
    if (!ctx->stop) {
        how.kind = READER_ALL;
        enum scan_result all = scan(ctx, name, data, len, depth, &how);
        if (all == SCAN_EMPTY_STREAM) {
            how.kind = READER_RAW;
            all = scan(ctx, name, data, len, depth, &how);
        }
        if (res == SCAN_NOT_ARCHIVE)
            res = all;
    }
    /* then as zip tools read it, if it was read as something else (7z,
     * tar and compressed streams outbid the zip reader) */
    if (!ctx->stop && res != SCAN_NOT_ARCHIVE && !was_read_as(&how, ARCHIVE_FORMAT_ZIP)) {
        how.kind = READER_ZIP;
        scan(ctx, name, data, len, depth, &how);
    }
    if (res == SCAN_NOT_ARCHIVE && magic && ctx->result->verdict == ATTACH_OK)
        attachment_report(ctx, ctx->path_len, ATTACH_UNREADABLE, "damaged archive");
    return res != SCAN_NOT_ARCHIVE || magic;
}
