/* attachment-private: what attachment.c (names, types, magic bytes),
 * attachment-archive.c (libarchive) and attachment-rar5.c share; not for
 * other modules. */
#ifndef POSTINO_ATTACHMENT_PRIVATE_H
#define POSTINO_ATTACHMENT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "attachment.h"

/* The state of one attachment_inspect() call. */
struct attachment_ctx {
    const struct attachment_policy *policy;
    struct attachment_result *result;
    unsigned max_depth;             /* policy->max_depth clamped to ATTACHMENT_MAX_DEPTH_LIMIT */
    char path[ATTACHMENT_PATH_MAX]; /* the item being looked at, through its archives */
    size_t path_len;
    size_t entries; /* archive entries looked at so far */
    size_t bytes;   /* bytes decompressed from archives so far */
    bool stop;      /* something was blocked or a bound crossed: look no further */
};

/* Record a finding about the item whose path is path[0..path_len) (a
 * prefix of ctx->path, so a finding may name an enclosing archive). A
 * BLOCKED finding replaces any earlier other one and sets stop; other
 * findings are kept only if nothing was found before. Returns verdict. */
enum attachment_verdict attachment_report(struct attachment_ctx *ctx, size_t path_len,
                                          enum attachment_verdict verdict, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Append "/" (unless the path is empty) and name to ctx->path; returns
 * the length before, for attachment_path_pop(). */
size_t attachment_path_push(struct attachment_ctx *ctx, const char *name);
void attachment_path_pop(struct attachment_ctx *ctx, size_t len);

/* Judge a name against the blocked extensions; reports and returns true
 * if blocked. */
bool attachment_check_name(struct attachment_ctx *ctx, const char *name);
/* Judge content by its magic bytes, then look inside it if it is an
 * archive. depth is the number of archives enclosing it (0 for the
 * attachment itself); name is its own name (for a compressed stream's
 * single entry). */
void attachment_check_content(struct attachment_ctx *ctx, const char *name,
                              const unsigned char *data, size_t len, unsigned depth);

/* If data[0..len) is an archive libarchive reads, judge its entries
 * (names and contents, through attachment_check_name() and
 * attachment_check_content() at depth + 1). Returns true if it was an
 * archive (or looked like one by its magic and could not be read, which
 * is reported), false if it is not one. */
bool attachment_archive_check(struct attachment_ctx *ctx, const char *name,
                              const unsigned char *data, size_t len, unsigned depth);

/* True if data[0..len) is a RAR 5.0 archive (its signature at the start)
 * whose block headers, walked up to the end of archive header or of data,
 * include an archive encryption header ("rar -hp") or a file header with a
 * file encryption record. Reads only within len; a header it cannot read
 * ends the walk (false if nothing was found before). */
bool attachment_rar5_encrypted(const unsigned char *data, size_t len);

#endif
