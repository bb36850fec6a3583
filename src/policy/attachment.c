/* attachment: names, extensions, content types and magic bytes of one
 * attachment; archives are looked into by attachment-archive.c. */
#include "attachment.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "attachment-private.h"
#include "lib/str.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const default_extensions[] = {
    "exe",  "scr",  "com",  "pif",  "bat",  "cmd",  "js",   "jse",  "vbs",
    "vbe",  "wsf",  "hta",  "jar",  "lnk",  "iso",  "img",  "docm", "dotm",
    "xlsm", "xltm", "xlam", "pptm", "potm", "ppsm", "ppam", "sldm",
};

static const char *const default_types[] = {
    "application/x-msdownload",
    "application/x-msdos-program",
    "application/x-dosexec",
    "application/x-executable",
    "application/vnd.microsoft.portable-executable",
    "application/x-ms-shortcut",
    "application/java-archive",
    "application/x-java-archive",
    "application/hta",
    "application/x-iso9660-image",
    "application/vnd.ms-word.document.macroenabled.12",
    "application/vnd.ms-word.template.macroenabled.12",
    "application/vnd.ms-excel.sheet.macroenabled.12",
    "application/vnd.ms-excel.template.macroenabled.12",
    "application/vnd.ms-excel.addin.macroenabled.12",
    "application/vnd.ms-powerpoint.presentation.macroenabled.12",
    "application/vnd.ms-powerpoint.template.macroenabled.12",
    "application/vnd.ms-powerpoint.slideshow.macroenabled.12",
    "application/vnd.ms-powerpoint.addin.macroenabled.12",
    "application/vnd.ms-powerpoint.slide.macroenabled.12",
};

struct attachment_policy attachment_policy_defaults(void)
{
    struct attachment_policy p = {
        .blocked_extensions = default_extensions,
        .n_blocked_extensions = N(default_extensions),
        .blocked_types = default_types,
        .n_blocked_types = N(default_types),
        .max_depth = ATTACHMENT_MAX_DEPTH_DEFAULT,
        .max_entries = ATTACHMENT_MAX_ENTRIES_DEFAULT,
        .max_total_bytes = ATTACHMENT_MAX_TOTAL_DEFAULT,
        .max_entry_bytes = ATTACHMENT_MAX_ENTRY_DEFAULT,
        .encrypted_action = ATTACH_ACTION_REJECT,
        .uninspected_action = ATTACH_ACTION_REJECT,
    };
    return p;
}

enum attachment_action attachment_action(const struct attachment_policy *policy,
                                         enum attachment_verdict verdict)
{
    switch (verdict) {
    case ATTACH_OK:
        return ATTACH_ACTION_ACCEPT;
    case ATTACH_ENCRYPTED:
        return policy->encrypted_action;
    case ATTACH_TOO_LARGE:
    case ATTACH_UNREADABLE:
        return policy->uninspected_action;
    case ATTACH_BLOCKED:
        break;
    }
    return ATTACH_ACTION_REJECT;
}

const char *attachment_verdict_name(enum attachment_verdict verdict)
{
    switch (verdict) {
    case ATTACH_OK:
        return "ok";
    case ATTACH_BLOCKED:
        return "blocked";
    case ATTACH_ENCRYPTED:
        return "encrypted";
    case ATTACH_TOO_LARGE:
        return "too-large";
    case ATTACH_UNREADABLE:
        return "unreadable";
    }
    return "unknown";
}

enum attachment_verdict attachment_report(struct attachment_ctx *ctx, size_t path_len,
                                          enum attachment_verdict verdict, const char *fmt, ...)
{
    struct attachment_result *r = ctx->result;
    if (verdict == ATTACH_BLOCKED)
        ctx->stop = true;
    if (r->verdict != ATTACH_OK && verdict != ATTACH_BLOCKED)
        return verdict;
    r->verdict = verdict;
    if (path_len > ctx->path_len)
        path_len = ctx->path_len;
    memcpy(r->path, ctx->path, path_len);
    r->path[path_len] = '\0';
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
    if (n < 0)
        str_copy(r->reason, sizeof(r->reason), "?");
    /* a longer reason is cut: the start says what it is */
    return verdict;
}

size_t attachment_path_push(struct attachment_ctx *ctx, const char *name)
{
    static const char ellipsis[] = "...";
    size_t before = ctx->path_len;
    size_t room = sizeof(ctx->path) - 1; /* the terminator */
    size_t len = ctx->path_len;
    const char *sep = len ? "/" : "";
    for (const char *s = sep; *s && len < room; s++)
        ctx->path[len++] = *s;
    for (const char *s = name; *s && len < room; s++) {
        unsigned char c = (unsigned char)*s;
        ctx->path[len++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    size_t want = before + strlen(sep) + strlen(name);
    if (want > len && len >= sizeof(ellipsis) - 1)
        memcpy(ctx->path + len - (sizeof(ellipsis) - 1), ellipsis, sizeof(ellipsis) - 1);
    ctx->path[len] = '\0';
    ctx->path_len = len;
    return before;
}

void attachment_path_pop(struct attachment_ctx *ctx, size_t len)
{
    if (len < ctx->path_len) {
        ctx->path_len = len;
        ctx->path[len] = '\0';
    }
}

/* True if ext[0..n) is in the policy's list (entries may have a dot). */
static bool extension_blocked(const struct attachment_policy *p, const char *ext, size_t n)
{
    for (size_t i = 0; i < p->n_blocked_extensions; i++) {
        const char *e = p->blocked_extensions[i];
        if (*e == '.')
            e++;
        if (strlen(e) == n && str_eqn_ci(e, ext, n))
            return true;
    }
    return false;
}

/* A short run of letters and digits, as the extension of a document
 * ("pdf", "docx") that a double extension hides behind. */
static bool looks_like_extension(const char *s, size_t n)
{
    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

bool attachment_check_name(struct attachment_ctx *ctx, const char *name)
{
    if (!name)
        return false;
    size_t end = strlen(name);
    /* Windows drops trailing dots and spaces: "a.exe. " is "a.exe" */
    while (end > 0 && (name[end - 1] == '.' || name[end - 1] == ' '))
        end--;
    size_t start = end;
    while (start > 0 && name[start - 1] != '/' && name[start - 1] != '\\')
        start--;
    size_t dot = end;
    while (dot > start && name[dot - 1] != '.')
        dot--;
    if (dot == start)
        return false; /* no extension */
    const char *ext = name + dot;
    size_t n = end - dot;
    if (n == 0 || n > ATTACHMENT_EXT_MAX || !extension_blocked(ctx->policy, ext, n))
        return false;
    char lower[ATTACHMENT_EXT_MAX + 1];
    memcpy(lower, ext, n);
    lower[n] = '\0';
    str_lower(lower);
    /* the extension before it, if any */
    size_t prev = dot - 1; /* the dot */
    size_t pstart = prev;
    while (pstart > start && name[pstart - 1] != '.')
        pstart--;
    if (pstart > start && looks_like_extension(name + pstart, prev - pstart)) {
        char plower[8];
        str_copyn(plower, sizeof(plower), name + pstart, prev - pstart);
        str_lower(plower);
        attachment_report(ctx, ctx->path_len, ATTACH_BLOCKED,
                          "blocked file type .%s behind a double extension .%s.%s", lower, plower,
                          lower);
    } else {
        attachment_report(ctx, ctx->path_len, ATTACH_BLOCKED, "blocked file type .%s", lower);
    }
    return true;
}

/* Judge the type/subtype of a Content-Type value against the policy. */
static bool check_type(struct attachment_ctx *ctx, const char *content_type)
{
    if (!content_type)
        return false;
    const char *s = content_type;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = 0;
    while (s[n] && s[n] != ';' && s[n] != ' ' && s[n] != '\t' && s[n] != '\r' && s[n] != '\n')
        n++;
    const struct attachment_policy *p = ctx->policy;
    for (size_t i = 0; i < p->n_blocked_types; i++) {
        const char *t = p->blocked_types[i];
        if (strlen(t) == n && str_eqn_ci(t, s, n)) {
            attachment_report(ctx, ctx->path_len, ATTACH_BLOCKED, "blocked content type %s", t);
            return true;
        }
    }
    return false;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* A PE image: "MZ", then "PE\0\0" at the offset held at 0x3c. */
static bool is_pe(const unsigned char *d, size_t len)
{
    if (len < 0x40 || d[0] != 'M' || d[1] != 'Z')
        return false;
    uint32_t off = le32(d + 0x3c);
    return off <= len - 4 && memcmp(d + off, "PE\0\0", 4) == 0;
}

/* The "_VBA_PROJECT" stream of an OLE2 compound file: its UTF-16LE name
 * (terminated) starting a 128-byte directory entry, with the name length
 * (26, the terminator included) at offset 64. Directory sectors follow
 * the 512-byte header and are 512 or 4096 bytes, so every directory entry
 * starts at a multiple of 128 in the file; the FAT is not followed. */
static bool ole2_has_vba(const unsigned char *d, size_t len)
{
    static const unsigned char name[] = {'_', 0, 'V', 0, 'B', 0, 'A', 0, '_', 0, 'P', 0, 'R', 0,
                                         'O', 0, 'J', 0, 'E', 0, 'C', 0, 'T', 0, 0,   0};
    for (size_t off = 512; off <= len && len - off >= 128; off += 128) {
        if (memcmp(d + off, name, sizeof(name)) == 0 && d[off + 64] == sizeof(name) &&
            d[off + 65] == 0)
            return true;
    }
    return false;
}

/* What executable or dangerous content data is, by its magic bytes, or
 * NULL. */
static const char *magic_reason(const unsigned char *d, size_t len)
{
    static const unsigned char lnk[20] = {0x4c, 0x00, 0x00, 0x00, 0x01, 0x14, 0x02,
                                          0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00,
                                          0x00, 0x00, 0x00, 0x00, 0x00, 0x46};
    static const unsigned char ole2[8] = {0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1};
    if (is_pe(d, len))
        return "executable content (PE)";
    if (len >= 4 && memcmp(d,
                           "\x7f"
                           "ELF",
                           4) == 0)
        return "executable content (ELF)";
    if (len >= 4) {
        uint32_t m = be32(d);
        switch (m) {
        case 0xfeedfaceu: /* 32-bit, big-endian */
        case 0xfeedfacfu: /* 64-bit, big-endian */
        case 0xcefaedfeu: /* 32-bit, little-endian */
        case 0xcffaedfeu: /* 64-bit, little-endian */
        case 0xcafebabfu: /* fat, 64-bit offsets */
        case 0xbebafecau: /* fat, byte-swapped */
        case 0xbfbafecau: /* fat 64, byte-swapped */
            return "executable content (Mach-O)";
        case 0xcafebabeu:
            /* shared by fat Mach-O (then the number of architectures, a
             * few) and Java classes (then minor and major version, the
             * major being 45 or more) */
            if (len >= 8) {
                uint32_t next = be32(d + 4);
                if (next > 0 && next < 45)
                    return "executable content (Mach-O)";
            }
            return "executable content (Java class)";
        default:
            break;
        }
    }
    if (len >= sizeof(lnk) && memcmp(d, lnk, sizeof(lnk)) == 0)
        return "Windows shortcut (.lnk)";
    if (len >= 0x8001 + 5 && memcmp(d + 0x8001, "CD001", 5) == 0)
        return "disk image (ISO 9660)";
    if (len >= sizeof(ole2) && memcmp(d, ole2, sizeof(ole2)) == 0 && ole2_has_vba(d, len))
        return "macro-enabled Office document (VBA project)";
    return NULL;
}

void attachment_check_content(struct attachment_ctx *ctx, const char *name,
                              const unsigned char *data, size_t len, unsigned depth)
{
    const char *why = magic_reason(data, len);
    if (why) {
        attachment_report(ctx, ctx->path_len, ATTACH_BLOCKED, "%s", why);
        return;
    }
    attachment_archive_check(ctx, name, data, len, depth);
}

enum attachment_verdict attachment_inspect(const struct attachment_policy *policy, const char *name,
                                           const char *content_type, const void *data, size_t len,
                                           struct attachment_result *result)
{
    memset(result, 0, sizeof(*result));
    struct attachment_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.policy = policy;
    ctx.result = result;
    ctx.max_depth = policy->max_depth < ATTACHMENT_MAX_DEPTH_LIMIT ? policy->max_depth
                                                                   : ATTACHMENT_MAX_DEPTH_LIMIT;
    const char *shown = name && *name ? name : "(unnamed)";
    attachment_path_push(&ctx, shown);
    if (attachment_check_name(&ctx, name) || check_type(&ctx, content_type))
        return result->verdict;
    static const unsigned char empty[1];
    attachment_check_content(&ctx, name && *name ? name : "", len ? data : empty, len, 0);
    return result->verdict;
}
