/* attachment: decide whether one attachment may reach a mailbox.
 *
 * The caller gives one MIME part already decoded (transfer encoding
 * undone), its file name (from Content-Disposition filename= or
 * Content-Type name=, RFC 2231 and encoded words already decoded; NULL or
 * "" if it has none) and its Content-Type (NULL if none). The module
 * judges, in this order, stopping at the first block:
 *
 *   - the name: its last extension (after Windows' stripping of trailing
 *     dots and spaces, compared case-insensitively) against the blocked
 *     list; "invoice.pdf.exe" is blocked for its .exe and reported as a
 *     double extension;
 *   - the content type against the blocked list (type/subtype only,
 *     parameters ignored, case-insensitive);
 *   - the content, whatever the name: PE (MZ with a "PE\0\0" signature at
 *     e_lfanew), ELF, Mach-O (thin, both byte orders, 32 and 64 bit; fat,
 *     told apart from a Java class by the field after CAFEBABE), Java
 *     class, Windows shortcut (.lnk header), ISO 9660 ("CD001" at 0x8001),
 *     an OLE2 compound file holding a VBA project (best effort: a directory
 *     entry named "_VBA_PROJECT" in UTF-16LE looked for at every 128-byte
 *     boundary, where directory entries lie, without following the FAT);
 *   - archives (zip, rar, 7z, tar, and gzip/bzip2/xz/lzma whether or not
 *     they hold a tar), read from memory with libarchive: every entry's
 *     name and content are judged the same way, archives inside archives
 *     are opened up to the policy's depth, and a zip holding vbaProject.bin
 *     (or whose [Content_Types].xml declares a VBA project) is a
 *     macro-enabled Office document whatever its extension. A gzip, bzip2
 *     or xz stream that is not a tar holds one entry, named after the
 *     container without its last extension ("a.exe.gz" holds "a.exe").
 *     Data starting with a RAR signature is read as RAR, as RAR tools do,
 *     and also as libarchive would read it otherwise; an archive read as
 *     anything but zip is also read as zip if a zip's central directory
 *     ends it, as zip tools do (a zip after a 7z, say), so that no reading
 *     hides another. An encrypted RAR 5.0 archive, which libarchive does
 *     not flag, is found from its own headers and reported on the archive
 *     rather than on an entry.
 *
 * Looking inside archives is bounded: entries looked at in all, bytes
 * decompressed in all and bytes of one entry; crossing a bound ends the
 * inspection with ATTACH_TOO_LARGE. An archive deeper than the policy's
 * depth is ATTACH_BLOCKED ("archive nested too deep").
 *
 * Pure: no I/O, no logging, no configuration; libarchive is never given a
 * decompressor that runs an external program. */
#ifndef POSTINO_ATTACHMENT_H
#define POSTINO_ATTACHMENT_H

#include <stdbool.h>
#include <stddef.h>

/* Defaults of struct attachment_policy. */
#define ATTACHMENT_MAX_DEPTH_DEFAULT   3
#define ATTACHMENT_MAX_ENTRIES_DEFAULT 1000
#define ATTACHMENT_MAX_TOTAL_DEFAULT   ((size_t)64 * 1024 * 1024)
#define ATTACHMENT_MAX_ENTRY_DEFAULT   ((size_t)32 * 1024 * 1024)
/* The largest max_depth honoured (larger values are read as this): each
 * level keeps one archive reader and one entry in memory. */
#define ATTACHMENT_MAX_DEPTH_LIMIT 8
/* Size of the reported path (truncated to fit, ending in "...") and of
 * the reason, both terminated. */
#define ATTACHMENT_PATH_MAX   512
#define ATTACHMENT_REASON_MAX 128
/* Extensions longer than this are never in a blocked list. */
#define ATTACHMENT_EXT_MAX 16

/* The verdict. Anything but ATTACH_OK keeps the message from a mailbox by
 * default; the caller maps it to an action with attachment_action(). */
enum attachment_verdict {
    ATTACH_OK = 0,
    ATTACH_BLOCKED,    /* a blocked name, type or content was found */
    ATTACH_ENCRYPTED,  /* an encrypted archive or entry (nothing blocked seen) */
    ATTACH_TOO_LARGE,  /* over an inspection bound: could not be looked at in full */
    ATTACH_UNREADABLE, /* an archive by its magic that libarchive cannot read */
};

/* What the caller does with a message holding the attachment. */
enum attachment_action {
    ATTACH_ACTION_ACCEPT = 0,
    ATTACH_ACTION_REJECT,     /* 5xx at the end of DATA */
    ATTACH_ACTION_QUARANTINE, /* accepted, kept in spool/quarantine */
};

/* The lists are the caller's (they must outlive the calls); entries may be
 * given in any case, extensions with or without a leading dot. */
struct attachment_policy {
    const char *const *blocked_extensions;
    size_t n_blocked_extensions;
    const char *const *blocked_types; /* "type/subtype" */
    size_t n_blocked_types;
    unsigned max_depth;     /* archive levels opened; deeper is BLOCKED (0: any archive) */
    size_t max_entries;     /* archive entries looked at, nested ones included */
    size_t max_total_bytes; /* bytes decompressed from archives in all */
    size_t max_entry_bytes; /* bytes of one archive entry */
    enum attachment_action encrypted_action;   /* for ATTACH_ENCRYPTED */
    enum attachment_action uninspected_action; /* for ATTACH_TOO_LARGE, ATTACH_UNREADABLE */
};

/* Filled by attachment_inspect(). path names the offending file through
 * the archives that hold it ("invoice.zip/docs.zip/invoice.pdf.exe"),
 * built from untrusted names with control characters replaced by '?'
 * (UTF-8 is kept: make it printable before an ASCII-only use). Both are
 * "" when the verdict is ATTACH_OK. */
struct attachment_result {
    enum attachment_verdict verdict;
    char path[ATTACHMENT_PATH_MAX];
    char reason[ATTACHMENT_REASON_MAX]; /* plain words: "blocked file type .exe" */
};

/* The default policy: extensions exe scr com pif bat cmd js jse vbs vbe
 * wsf hta jar lnk iso img and the macro-enabled Office ones (docm dotm
 * xlsm xltm xlam pptm potm ppsm ppam sldm); the content types of Windows
 * and other executables (application/x-msdownload, x-msdos-program,
 * x-dosexec, x-executable, vnd.microsoft.portable-executable, x-ms-shortcut,
 * java-archive, x-java-archive, hta, x-iso9660-image and the
 * macroEnabled.12 Office types); the *_DEFAULT bounds; encrypted archives
 * and archives that could not be looked into are rejected. The lists are
 * static. */
struct attachment_policy attachment_policy_defaults(void);

/* Judge one attachment: data[0..len) its decoded content, name and
 * content_type as described above (either may be NULL). Fills *result
 * and returns its verdict. When several findings are made the first
 * ATTACH_BLOCKED wins and ends the inspection; otherwise the first of the
 * other findings is kept and the rest of the archive is still looked at
 * for something blocked (an encrypted zip's entry names are readable).
 * Never fails otherwise; allocation failure aborts. */
enum attachment_verdict attachment_inspect(const struct attachment_policy *policy, const char *name,
                                           const char *content_type, const void *data, size_t len,
                                           struct attachment_result *result);

/* The action the policy gives a verdict: ACCEPT for ATTACH_OK, REJECT for
 * ATTACH_BLOCKED, the configured actions for the others. */
enum attachment_action attachment_action(const struct attachment_policy *policy,
                                         enum attachment_verdict verdict);

/* A stable lowercase word for logs: "ok", "blocked", "encrypted",
 * "too-large", "unreadable". */
const char *attachment_verdict_name(enum attachment_verdict verdict);

#endif
