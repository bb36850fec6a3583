/* Unit tests: attachment inspection (src/policy/attachment.c, names,
 * types and magic bytes; attachment-archive.c, archives). Archives are
 * built here with libarchive's write API, except RAR, which libarchive
 * cannot write: the RAR 4.x and 5.0 samples are read from $TESTDATA/rar,
 * written byte by byte by its make_rar.py (see its README), and are also
 * judged inside a message, as a base64 attachment (policy.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "policy/attachment.h"
#include "policy/policy.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- content samples ---- */

static const char pdf[] = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n";

/* A minimal PE: MZ, e_lfanew 0x80, "PE\0\0" there. */
static void make_pe(unsigned char *d, size_t size)
{
    memset(d, 0, size);
    d[0] = 'M';
    d[1] = 'Z';
    d[0x3c] = 0x80;
    memcpy(d + 0x80, "PE\0\0", 4);
}

static const unsigned char elf[16] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
static const unsigned char lnk[76] = {0x4c, 0x00, 0x00, 0x00, 0x01, 0x14, 0x02, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};

/* An OLE2 file of three 512-byte blocks; with vba, the second directory
 * entry of the first directory sector is the _VBA_PROJECT stream. */
static void make_ole2(unsigned char *d, size_t size, bool vba)
{
    static const unsigned char magic[8] = {0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1};
    static const char name[] = "_VBA_PROJECT";
    memset(d, 0, size);
    memcpy(d, magic, sizeof(magic));
    /* the root entry */
    const char *root = "Root Entry";
    for (size_t i = 0; root[i]; i++)
        d[512 + 2 * i] = (unsigned char)root[i];
    d[512 + 64] = 22;
    if (vba) {
        unsigned char *e = d + 512 + 128;
        for (size_t i = 0; name[i]; i++)
            e[2 * i] = (unsigned char)name[i];
        e[64] = 26;
    }
}

/* ---- archives ---- */

struct entry {
    const char *name;
    const void *data;
    size_t len;
};

enum fmt { F_ZIP, F_ZIP_CRYPT, F_7Z, F_TAR_GZ, F_TAR_BZ2, F_TAR_XZ, F_GZ };

static la_ssize_t write_cb(struct archive *a, void *ud, const void *p, size_t n)
{
    (void)a;
    return buf_append(ud, p, n) == 0 ? (la_ssize_t)n : -1;
}

/* out = an archive of format f holding the entries. */
static void make_archive(enum fmt f, const struct entry *e, size_t n, struct buf *out)
{
    buf_init(out, BUF_UNLIMITED);
    struct archive *a = archive_write_new();
    assert_non_null(a);
    switch (f) {
    case F_ZIP:
        assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
        break;
    case F_ZIP_CRYPT:
        assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
        assert_int_equal(archive_write_set_options(a, "zip:encryption=zipcrypt"), ARCHIVE_OK);
        assert_int_equal(archive_write_set_passphrase(a, "secret"), ARCHIVE_OK);
        break;
    case F_7Z:
        assert_int_equal(archive_write_set_format_7zip(a), ARCHIVE_OK);
        break;
    case F_TAR_GZ:
    case F_TAR_BZ2:
    case F_TAR_XZ:
        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        assert_int_equal(f == F_TAR_GZ    ? archive_write_add_filter_gzip(a)
                         : f == F_TAR_BZ2 ? archive_write_add_filter_bzip2(a)
                                          : archive_write_add_filter_xz(a),
                         ARCHIVE_OK);
        break;
    case F_GZ:
        assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
        assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
        break;
    }
    assert_int_equal(archive_write_open(a, out, NULL, write_cb, NULL), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, e[i].name);
        archive_entry_set_size(ae, (la_int64_t)e[i].len);
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_perm(ae, 0644);
        assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
        if (e[i].len)
            assert_int_equal(archive_write_data(a, e[i].data, e[i].len), (la_ssize_t)e[i].len);
        archive_entry_free(ae);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

/* A zip of one entry. */
static void make_zip1(const char *name, const void *data, size_t len, struct buf *out)
{
    struct entry e = {name, data, len};
    make_archive(F_ZIP, &e, 1, out);
}

/* ---- helpers ---- */

static struct attachment_policy policy;

static int setup(void **state)
{
    (void)state;
    policy = attachment_policy_defaults();
    return 0;
}

static enum attachment_verdict inspect(const char *name, const char *type, const void *data,
                                       size_t len, struct attachment_result *r)
{
    enum attachment_verdict v = attachment_inspect(&policy, name, type, data, len, r);
    assert_int_equal(v, r->verdict);
    assert_true(strlen(r->path) < sizeof(r->path));
    assert_true(strlen(r->reason) < sizeof(r->reason));
    if (v == ATTACH_OK) {
        assert_string_equal(r->path, "");
        assert_string_equal(r->reason, "");
    } else {
        assert_true(r->reason[0] != '\0');
    }
    return v;
}

static void expect(const char *name, const char *type, const void *data, size_t len,
                   enum attachment_verdict verdict, const char *path, const char *reason_part)
{
    struct attachment_result r;
    enum attachment_verdict v = inspect(name, type, data, len, &r);
    if (v != verdict || (path && strcmp(r.path, path) != 0) ||
        (reason_part && !strstr(r.reason, reason_part)))
        fail_msg("%s: got %s path '%s' reason '%s'; want %s path '%s' reason with '%s'",
                 name ? name : "(null)", attachment_verdict_name(v), r.path, r.reason,
                 attachment_verdict_name(verdict), path ? path : "*",
                 reason_part ? reason_part : "*");
}

/* ---- names and types ---- */

static void test_clean(void **state)
{
    (void)state;
    expect("invoice.pdf", "application/pdf", pdf, sizeof(pdf) - 1, ATTACH_OK, "", NULL);
    expect(NULL, NULL, pdf, sizeof(pdf) - 1, ATTACH_OK, "", NULL);
    expect("", NULL, "", 0, ATTACH_OK, "", NULL);
    expect("readme", "text/plain", "hello\n", 6, ATTACH_OK, "", NULL);
    expect("archive.exe.txt", NULL, "hello\n", 6, ATTACH_OK, "", NULL);
    expect("exe", NULL, "hello\n", 6, ATTACH_OK, "", NULL);
}

static void test_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *reason;
    } cases[] = {
        {"invoice.exe", "blocked file type .exe"},
        {"INVOICE.EXE.", "blocked file type .exe"},
        {"invoice.pdf.exe.", "double extension .pdf.exe"},
        {"invoice.exe . .", "blocked file type .exe"},
        {"Invoice.Pdf.Exe", "double extension .pdf.exe"},
        {"C:\\Users\\x\\run.bat", "blocked file type .bat"},
        {"a/b/c.vbs", "blocked file type .vbs"},
        {".exe", "blocked file type .exe"},
        {"report.DOCM", "blocked file type .docm"},
        {"my.setup.program.scr", "blocked file type .scr"},
    };
    for (size_t i = 0; i < N(cases); i++)
        expect(cases[i].name, NULL, pdf, sizeof(pdf) - 1, ATTACH_BLOCKED, cases[i].name,
               cases[i].reason);
    /* every default extension, in both cases */
    static const char *const exts[] = {
        "exe",  "scr",  "com",  "pif",  "bat",  "cmd",  "js",   "jse",  "vbs",
        "vbe",  "wsf",  "hta",  "jar",  "lnk",  "iso",  "img",  "docm", "dotm",
        "xlsm", "xltm", "xlam", "pptm", "potm", "ppsm", "ppam", "sldm",
    };
    for (size_t i = 0; i < N(exts); i++) {
        char name[64], upper[64];
        assert_true(snprintf(name, sizeof(name), "file.%s", exts[i]) > 0);
        for (size_t j = 0; j < sizeof(upper); j++)
            upper[j] = (char)(name[j] >= 'a' && name[j] <= 'z' ? name[j] - 32 : name[j]);
        expect(name, NULL, "x", 1, ATTACH_BLOCKED, name, exts[i]);
        expect(upper, NULL, "x", 1, ATTACH_BLOCKED, upper, exts[i]);
    }
}

static void test_types(void **state)
{
    (void)state;
    expect("a.bin", "application/x-msdownload", "x", 1, ATTACH_BLOCKED, "a.bin",
           "blocked content type application/x-msdownload");
    expect("a.bin", " Application/X-MSDownload; name=a.bin", "x", 1, ATTACH_BLOCKED, "a.bin",
           "content type");
    expect("a.bin", "application/vnd.ms-excel.sheet.macroEnabled.12", "x", 1, ATTACH_BLOCKED,
           "a.bin", "content type");
    expect("a.bin", "application/x-msdownloads", "x", 1, ATTACH_OK, "", NULL);
    expect("a.bin", "application/octet-stream", "x", 1, ATTACH_OK, "", NULL);
}

static void test_custom_policy(void **state)
{
    (void)state;
    static const char *const exts[] = {".PDF"};
    static const char *const types[] = {"text/html"};
    policy.blocked_extensions = exts;
    policy.n_blocked_extensions = N(exts);
    policy.blocked_types = types;
    policy.n_blocked_types = N(types);
    expect("x.pdf", NULL, "x", 1, ATTACH_BLOCKED, "x.pdf", "blocked file type .pdf");
    expect("x.exe", NULL, "x", 1, ATTACH_OK, "", NULL);
    expect("x", "TEXT/HTML", "x", 1, ATTACH_BLOCKED, "x", "text/html");
}

/* ---- magic bytes ---- */

static void test_magic(void **state)
{
    (void)state;
    unsigned char pe[512];
    make_pe(pe, sizeof(pe));
    expect("invoice.pdf", "application/pdf", pe, sizeof(pe), ATTACH_BLOCKED, "invoice.pdf",
           "executable content (PE)");
    /* MZ without a PE signature, or e_lfanew past the end */
    pe[0x80] = 'X';
    expect("invoice.pdf", NULL, pe, sizeof(pe), ATTACH_OK, "", NULL);
    make_pe(pe, sizeof(pe));
    expect("invoice.pdf", NULL, pe, 0x83, ATTACH_OK, "", NULL);
    expect("invoice.pdf", NULL, pe, 0x84, ATTACH_BLOCKED, NULL, "(PE)");
    pe[0x3c] = 0xff;
    pe[0x3d] = 0xff;
    pe[0x3e] = 0xff;
    pe[0x3f] = 0xff;
    expect("invoice.pdf", NULL, pe, sizeof(pe), ATTACH_OK, "", NULL);

    expect("readme.txt", "text/plain", elf, sizeof(elf), ATTACH_BLOCKED, "readme.txt",
           "executable content (ELF)");
    expect("photo.jpg", "image/jpeg", lnk, sizeof(lnk), ATTACH_BLOCKED, "photo.jpg",
           "Windows shortcut");
    expect("photo.jpg", NULL, lnk, 19, ATTACH_OK, "", NULL);

    static const unsigned char macho[][8] = {
        {0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf}, {0xce, 0xfa, 0xed, 0xfe},
        {0xcf, 0xfa, 0xed, 0xfe}, {0xca, 0xfe, 0xba, 0xbf}, {0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2},
    };
    for (size_t i = 0; i < N(macho); i++)
        expect("a.txt", NULL, macho[i], sizeof(macho[i]), ATTACH_BLOCKED, "a.txt", "(Mach-O)");
    static const unsigned char java[8] = {0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 0x34};
    expect("a.txt", NULL, java, sizeof(java), ATTACH_BLOCKED, "a.txt", "(Java class)");

    unsigned char *iso = calloc(1, 0x8800);
    assert_non_null(iso);
    memcpy(iso + 0x8001, "CD001", 5);
    expect("backup.dat", NULL, iso, 0x8800, ATTACH_BLOCKED, "backup.dat", "ISO 9660");
    expect("backup.dat", NULL, iso, 0x8005, ATTACH_OK, "", NULL);
    free(iso);

    unsigned char ole[1536];
    make_ole2(ole, sizeof(ole), true);
    expect("report.doc", "application/msword", ole, sizeof(ole), ATTACH_BLOCKED, "report.doc",
           "macro-enabled Office document (VBA project)");
    make_ole2(ole, sizeof(ole), false);
    expect("report.doc", "application/msword", ole, sizeof(ole), ATTACH_OK, "", NULL);
}

/* ---- archives ---- */

static void test_zip_content(void **state)
{
    (void)state;
    unsigned char pe[512];
    make_pe(pe, sizeof(pe));
    struct buf z;
    make_zip1("invoice.pdf", pe, sizeof(pe), &z);
    expect("invoice.zip", "application/zip", z.data, z.len, ATTACH_BLOCKED,
           "invoice.zip/invoice.pdf", "executable content (PE)");
    buf_free(&z);

    make_zip1("report.docm", "x", 1, &z);
    expect("files.zip", NULL, z.data, z.len, ATTACH_BLOCKED, "files.zip/report.docm",
           "blocked file type .docm");
    /* a zip is looked into whatever its name */
    expect("files.pdf", NULL, z.data, z.len, ATTACH_BLOCKED, "files.pdf/report.docm", NULL);
    buf_free(&z);

    struct entry clean[] = {{"a.pdf", pdf, sizeof(pdf) - 1}, {"b.txt", "hello", 5}};
    make_archive(F_ZIP, clean, N(clean), &z);
    expect("files.zip", NULL, z.data, z.len, ATTACH_OK, "", NULL);
    buf_free(&z);
}

static void test_ooxml(void **state)
{
    (void)state;
    static const char ct[] = "<?xml version=\"1.0\"?><Types><Default Extension=\"xml\" "
                             "ContentType=\"application/xml\"/></Types>";
    static const char ct_vba[] = "<?xml version=\"1.0\"?><Types><Default Extension=\"bin\" "
                                 "ContentType=\"application/vnd.ms-office.vbaProject\"/></Types>";
    struct buf z;
    struct entry clean[] = {{"[Content_Types].xml", ct, sizeof(ct) - 1},
                            {"word/document.xml", "<w/>", 4}};
    make_archive(F_ZIP, clean, N(clean), &z);
    expect("report.docx", NULL, z.data, z.len, ATTACH_OK, "", NULL);
    buf_free(&z);

    struct entry vba[] = {{"[Content_Types].xml", ct, sizeof(ct) - 1},
                          {"word/document.xml", "<w/>", 4},
                          {"word/vbaProject.bin", "\xd0\xcf", 2}};
    make_archive(F_ZIP, vba, N(vba), &z);
    expect("report.docx", NULL, z.data, z.len, ATTACH_BLOCKED, "report.docx", "vbaProject.bin");
    buf_free(&z);

    struct entry declared[] = {{"[Content_Types].xml", ct_vba, sizeof(ct_vba) - 1},
                               {"word/document.xml", "<w/>", 4},
                               {"word/macros.dat", "\xd0\xcf", 2}};
    make_archive(F_ZIP, declared, N(declared), &z);
    expect("report.xlsx", NULL, z.data, z.len, ATTACH_BLOCKED, "report.xlsx",
           "macro-enabled Office document");
    buf_free(&z);
}

static void test_formats(void **state)
{
    (void)state;
    unsigned char pe[512];
    make_pe(pe, sizeof(pe));
    struct buf z;
    struct entry js[] = {{"notes.txt", "hi", 2}, {"invoice.js", "alert(1)", 8}};
    make_archive(F_7Z, js, N(js), &z);
    expect("files.7z", NULL, z.data, z.len, ATTACH_BLOCKED, "files.7z/invoice.js",
           "blocked file type .js");
    buf_free(&z);

    struct entry tar[] = {{"docs/readme.txt", "hi", 2}, {"docs/setup.dat", pe, sizeof(pe)}};
    static const struct {
        enum fmt f;
        const char *name;
    } tars[] = {{F_TAR_GZ, "a.tar.gz"}, {F_TAR_BZ2, "a.tar.bz2"}, {F_TAR_XZ, "a.txz"}};
    for (size_t i = 0; i < N(tars); i++) {
        char path[64];
        assert_true(snprintf(path, sizeof(path), "%s/docs/setup.dat", tars[i].name) > 0);
        make_archive(tars[i].f, tar, N(tar), &z);
        expect(tars[i].name, NULL, z.data, z.len, ATTACH_BLOCKED, path, "(PE)");
        buf_free(&z);
        make_archive(tars[i].f, tar, 1, &z);
        expect(tars[i].name, NULL, z.data, z.len, ATTACH_OK, "", NULL);
        buf_free(&z);
    }

    /* a compressed stream holds one entry named after it */
    struct entry one = {"x", "alert(1)", 8};
    make_archive(F_GZ, &one, 1, &z);
    expect("invoice.js.gz", NULL, z.data, z.len, ATTACH_BLOCKED, "invoice.js.gz/invoice.js",
           "blocked file type .js");
    expect("notes.txt.gz", NULL, z.data, z.len, ATTACH_OK, "", NULL);
    buf_free(&z);
    one.data = elf;
    one.len = sizeof(elf);
    make_archive(F_GZ, &one, 1, &z);
    expect("data.gz", NULL, z.data, z.len, ATTACH_BLOCKED, "data.gz/data", "(ELF)");
    buf_free(&z);
    /* zeros, which tar takes for an empty archive, and an empty tarball */
    static const char zeros[2048];
    one.data = zeros;
    one.len = sizeof(zeros);
    make_archive(F_GZ, &one, 1, &z);
    expect("zeros.exe.gz", NULL, z.data, z.len, ATTACH_BLOCKED, "zeros.exe.gz/zeros.exe",
           "blocked file type .exe");
    expect("zeros.bin.gz", NULL, z.data, z.len, ATTACH_OK, "", NULL);
    buf_free(&z);
    make_archive(F_TAR_GZ, NULL, 0, &z);
    expect("empty.tar.gz", NULL, z.data, z.len, ATTACH_OK, "", NULL);
    buf_free(&z);
}

/* A zip holding a zip holding ... depth levels, the innermost holding
 * name with data. Names: l1.zip, l2.zip, ... */
static void make_nested(unsigned depth, const char *name, const void *data, size_t len,
                        struct buf *out)
{
    make_zip1(name, data, len, out);
    for (unsigned i = depth; i > 1; i--) {
        char inner[32];
        assert_true(snprintf(inner, sizeof(inner), "l%u.zip", i) > 0);
        struct buf next;
        make_zip1(inner, out->data, out->len, &next);
        buf_free(out);
        *out = next;
    }
}

static void test_nesting(void **state)
{
    (void)state;
    struct buf z, docs;
    make_zip1("invoice.pdf.exe", pdf, sizeof(pdf) - 1, &docs);
    make_zip1("docs.zip", docs.data, docs.len, &z);
    expect("invoice.zip", NULL, z.data, z.len, ATTACH_BLOCKED,
           "invoice.zip/docs.zip/invoice.pdf.exe", "double extension .pdf.exe");
    buf_free(&z);
    buf_free(&docs);

    unsigned char pe[256];
    make_pe(pe, sizeof(pe));
    make_nested(3, "a.pdf", pdf, sizeof(pdf) - 1, &z);
    expect("l1.zip", NULL, z.data, z.len, ATTACH_OK, "", NULL);
    buf_free(&z);
    make_nested(3, "a.pdf", pe, sizeof(pe), &z);
    expect("l1.zip", NULL, z.data, z.len, ATTACH_BLOCKED, "l1.zip/l2.zip/l3.zip/a.pdf", "(PE)");
    buf_free(&z);
    make_nested(4, "a.pdf", pdf, sizeof(pdf) - 1, &z);
    expect("l1.zip", NULL, z.data, z.len, ATTACH_BLOCKED, "l1.zip/l2.zip/l3.zip/l4.zip",
           "archive nested too deep");
    policy.max_depth = 4;
    expect("l1.zip", NULL, z.data, z.len, ATTACH_OK, "", NULL);
    policy.max_depth = 0;
    expect("l1.zip", NULL, z.data, z.len, ATTACH_BLOCKED, "l1.zip", "nested too deep");
    buf_free(&z);
}

static void test_encrypted(void **state)
{
    (void)state;
    struct buf z;
    struct entry e[] = {{"statement.pdf", pdf, sizeof(pdf) - 1}};
    make_archive(F_ZIP_CRYPT, e, N(e), &z);
    expect("secret.zip", NULL, z.data, z.len, ATTACH_ENCRYPTED, "secret.zip/statement.pdf",
           "encrypted archive");
    buf_free(&z);
    /* the names of an encrypted zip are readable: a blocked one wins */
    struct entry bad[] = {{"statement.pdf", pdf, sizeof(pdf) - 1},
                          {"statement.pdf.exe", pdf, sizeof(pdf) - 1}};
    make_archive(F_ZIP_CRYPT, bad, N(bad), &z);
    expect("secret.zip", NULL, z.data, z.len, ATTACH_BLOCKED, "secret.zip/statement.pdf.exe",
           "double extension");
    buf_free(&z);
    /* inside a plain zip */
    make_archive(F_ZIP_CRYPT, e, N(e), &z);
    struct buf outer;
    make_zip1("inner.zip", z.data, z.len, &outer);
    expect("outer.zip", NULL, outer.data, outer.len, ATTACH_ENCRYPTED,
           "outer.zip/inner.zip/statement.pdf", "encrypted archive");
    buf_free(&outer);
    buf_free(&z);
}

static void test_limits(void **state)
{
    (void)state;
    struct buf z;
    size_t big = 64 * 1024;
    char *zeros = calloc(1, big + 1);
    assert_non_null(zeros);

    /* one entry: at the bound, and one byte past it */
    policy.max_entry_bytes = big;
    make_zip1("a.txt", zeros, big, &z);
    expect("bomb.zip", NULL, z.data, z.len, ATTACH_OK, "", NULL);
    buf_free(&z);
    make_zip1("a.txt", zeros, big + 1, &z);
    expect("bomb.zip", NULL, z.data, z.len, ATTACH_TOO_LARGE, "bomb.zip/a.txt",
           "archive entry too large to inspect");
    buf_free(&z);
    /* the same without sizes in the headers: caught while reading */
    make_archive(F_TAR_GZ, &(struct entry){"a.txt", zeros, big + 1}, 1, &z);
    expect("bomb.tgz", NULL, z.data, z.len, ATTACH_TOO_LARGE, "bomb.tgz/a.txt", "too large");
    buf_free(&z);
    struct entry one = {"x", zeros, big + 1};
    make_archive(F_GZ, &one, 1, &z);
    expect("bomb.txt.gz", NULL, z.data, z.len, ATTACH_TOO_LARGE, "bomb.txt.gz/bomb.txt",
           "archive entry too large to inspect");
    buf_free(&z);

    /* bytes in all */
    policy.max_entry_bytes = big;
    policy.max_total_bytes = big;
    struct entry two[] = {{"a.txt", zeros, big / 2}, {"b.txt", zeros, big / 2}};
    make_archive(F_ZIP, two, N(two), &z);
    expect("two.zip", NULL, z.data, z.len, ATTACH_OK, "", NULL);
    buf_free(&z);
    two[1].len++;
    make_archive(F_ZIP, two, N(two), &z);
    expect("two.zip", NULL, z.data, z.len, ATTACH_TOO_LARGE, "two.zip/b.txt",
           "archive too large to inspect");
    buf_free(&z);

    /* entries in all */
    policy = attachment_policy_defaults();
    policy.max_entries = 5;
    struct entry many[6];
    char names[6][8];
    for (size_t i = 0; i < N(many); i++) {
        assert_true(snprintf(names[i], sizeof(names[i]), "f%zu.txt", i) > 0);
        many[i] = (struct entry){names[i], "x", 1};
    }
    make_archive(F_ZIP, many, 5, &z);
    expect("many.zip", NULL, z.data, z.len, ATTACH_OK, "", NULL);
    buf_free(&z);
    make_archive(F_ZIP, many, 6, &z);
    expect("many.zip", NULL, z.data, z.len, ATTACH_TOO_LARGE, "many.zip",
           "too many archive entries");
    buf_free(&z);
    free(zeros);

    /* a zip bomb against the default bounds */
    policy = attachment_policy_defaults();
    size_t huge = ATTACHMENT_MAX_ENTRY_DEFAULT + 1;
    char *lots = calloc(1, huge);
    assert_non_null(lots);
    make_archive(F_TAR_GZ, &(struct entry){"zeros.txt", lots, huge}, 1, &z);
    free(lots);
    assert_true(z.len < huge / 100);
    expect("bomb.tar.gz", NULL, z.data, z.len, ATTACH_TOO_LARGE, "bomb.tar.gz/zeros.txt",
           "too large");
    buf_free(&z);
}

static void test_damaged(void **state)
{
    (void)state;
    static const char junk[] = "PK\x03\x04\x14\0\0\0 this is not really a zip file at all .......";
    expect("a.zip", NULL, junk, sizeof(junk) - 1, ATTACH_UNREADABLE, "a.zip", "damaged archive");
    expect("a.zip", NULL, "hello world", 11, ATTACH_OK, "", NULL);
    expect("a.gz", NULL, "\x1f\x8b\x08\x00", 4, ATTACH_UNREADABLE, "a.gz", "damaged");

    struct buf z;
    struct entry e[] = {{"a.txt", pdf, sizeof(pdf) - 1}, {"b.txt", pdf, sizeof(pdf) - 1}};
    make_archive(F_ZIP, e, N(e), &z);
    for (size_t cut = 1; cut < z.len; cut++) {
        struct attachment_result r;
        enum attachment_verdict v = inspect("cut.zip", NULL, z.data, cut, &r);
        assert_true(v == ATTACH_OK || v == ATTACH_UNREADABLE);
    }
    buf_free(&z);
}

/* ---- RAR (samples in $TESTDATA/rar, see its README) ---- */

static const char *testdata(void)
{
    const char *d = getenv("TESTDATA");
    return d && *d ? d : "tests/testdata";
}

/* out = the file rel under $TESTDATA/rar; fails the test if unreadable. */
static void load_rar(const char *rel, struct buf *out)
{
    char path[1024];
    int n = snprintf(path, sizeof(path), "%s/rar/%s", testdata(), rel);
    assert_true(n > 0 && (size_t)n < sizeof(path));
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot read %s", path);
    buf_init(out, BUF_UNLIMITED);
    char tmp[4096];
    size_t got;
    while ((got = fread(tmp, 1, sizeof(tmp), f)) > 0)
        assert_int_equal(buf_append(out, tmp, got), 0);
    assert_false(ferror(f));
    fclose(f);
    assert_true(out->len > 8);
}

/* Judge the sample rel as an attachment named name. */
static void expect_rar(const char *rel, const char *name, enum attachment_verdict verdict,
                       const char *path, const char *reason_part)
{
    struct buf b;
    load_rar(rel, &b);
    expect(name, "application/vnd.rar", b.data, b.len, verdict, path, reason_part);
    buf_free(&b);
}

static void test_rar(void **state)
{
    (void)state;
    static const char *const v[] = {"rar4", "rar5"};
    for (size_t i = 0; i < N(v); i++) {
        char rel[64];
        assert_true(snprintf(rel, sizeof(rel), "%s/invoice-exe.rar", v[i]) > 0);
        expect_rar(rel, "documents.rar", ATTACH_BLOCKED, "documents.rar/invoice.pdf.exe",
                   "double extension .pdf.exe");
        assert_true(snprintf(rel, sizeof(rel), "%s/notes.rar", v[i]) > 0);
        expect_rar(rel, "documents.rar", ATTACH_OK, "", NULL);
    }
    expect_rar("rar5/scan-pe.rar", "documents.rar", ATTACH_BLOCKED, "documents.rar/scan.pdf",
               "executable content (PE)");
    /* a zip inside, read as the zip it is */
    expect_rar("rar4/nested-zip.rar", "documents.rar", ATTACH_BLOCKED,
               "documents.rar/docs.zip/run.js", "blocked file type .js");
    policy.max_depth = 1;
    expect_rar("rar4/nested-zip.rar", "documents.rar", ATTACH_BLOCKED, "documents.rar/docs.zip",
               "archive nested too deep");
}

/* A RAR is known by its content, whatever its name. */
static void test_rar_magic(void **state)
{
    (void)state;
    expect_rar("rar4/invoice-exe.rar", "scan.dat", ATTACH_BLOCKED, "scan.dat/invoice.pdf.exe",
               "double extension");
    expect_rar("rar5/invoice-exe.rar", "scan.dat", ATTACH_BLOCKED, "scan.dat/invoice.pdf.exe",
               "double extension");
    expect_rar("rar5/scan-pe.rar", "photo.jpg", ATTACH_BLOCKED, "photo.jpg/scan.pdf", "(PE)");
    expect_rar("rar4/notes.rar", "notes.dat", ATTACH_OK, "", NULL);
    static const char junk4[] = "Rar!\x1a\x07\x00 not really a rar archive";
    static const char junk5[] = "Rar!\x1a\x07\x01\x00 not really a rar archive";
    expect("junk.dat", NULL, junk4, sizeof(junk4) - 1, ATTACH_UNREADABLE, "junk.dat",
           "damaged archive");
    expect("junk.dat", NULL, junk5, sizeof(junk5) - 1, ATTACH_UNREADABLE, "junk.dat",
           "damaged archive");

    /* cut anywhere: never more than damaged, and blocked as soon as the
     * executable's header (its name) is whole */
    static const char *const v[] = {"rar4/invoice-exe.rar", "rar5/invoice-exe.rar"};
    for (size_t i = 0; i < N(v); i++) {
        struct buf b;
        load_rar(v[i], &b);
        const char *at = memmem(b.data, b.len, "invoice.pdf.exe", 15);
        assert_non_null(at);
        size_t named = (size_t)(at - b.data) + 15;
        for (size_t cut = 1; cut < b.len; cut++) {
            struct attachment_result r;
            enum attachment_verdict got = inspect("cut.rar", NULL, b.data, cut, &r);
            if (cut >= named ? got != ATTACH_BLOCKED : got != ATTACH_OK && got != ATTACH_UNREADABLE)
                fail_msg("%s cut at %zu of %zu: %s %s %s", v[i], cut, b.len,
                         attachment_verdict_name(got), r.path, r.reason);
        }
        buf_free(&b);
    }
}

static void test_rar_encrypted(void **state)
{
    (void)state;
    /* RAR 4.x: libarchive flags the entry */
    expect_rar("rar4/encrypted.rar", "documents.rar", ATTACH_ENCRYPTED,
               "documents.rar/statement.pdf", "encrypted archive");
    expect_rar("rar4/encrypted-headers.rar", "documents.rar", ATTACH_ENCRYPTED, "documents.rar",
               "encrypted archive");
    /* the names of encrypted entries are readable: a blocked one wins */
    expect_rar("rar4/encrypted-exe.rar", "documents.rar", ATTACH_BLOCKED,
               "documents.rar/statement.pdf.exe", "double extension");
    expect_rar("rar5/encrypted-exe.rar", "documents.rar", ATTACH_BLOCKED,
               "documents.rar/statement.pdf.exe", "double extension");
    /* RAR 5.0: libarchive does not say; the archive's own headers do */
    expect_rar("rar5/encrypted.rar", "documents.rar", ATTACH_ENCRYPTED, "documents.rar",
               "encrypted archive");
    expect_rar("rar5/encrypted-compressed.rar", "documents.rar", ATTACH_ENCRYPTED, "documents.rar",
               "encrypted archive");
    expect_rar("rar5/encrypted-headers.rar", "documents.rar", ATTACH_ENCRYPTED, "documents.rar",
               "encrypted archive");
    /* inside a zip */
    struct buf rar, z;
    load_rar("rar5/encrypted.rar", &rar);
    make_zip1("statement.rar", rar.data, rar.len, &z);
    expect("documents.zip", NULL, z.data, z.len, ATTACH_ENCRYPTED, "documents.zip/statement.rar",
           "encrypted archive");
    buf_free(&z);
    buf_free(&rar);

    /* cut anywhere: encrypted as soon as the header saying so is whole (it
     * ends with the IV of the file encryption record, or the salt of the
     * archive encryption header), else never more than damaged */
    static const struct {
        const char *rel;
        const char *last; /* the last 16 bytes of that header */
    } cuts[] = {
        {"rar5/encrypted.rar", "IIIIIIIIIIIIIIII"},
        {"rar5/encrypted-headers.rar", "SSSSSSSSSSSSSSSS"},
        {"rar5/encrypted-compressed.rar", "IIIIIIIIIIIIIIII"},
    };
    for (size_t i = 0; i < N(cuts); i++) {
        struct buf b;
        load_rar(cuts[i].rel, &b);
        const char *at = memmem(b.data, b.len, cuts[i].last, 16);
        assert_non_null(at);
        size_t whole = (size_t)(at - b.data) + 16;
        for (size_t cut = 1; cut <= b.len; cut++) {
            struct attachment_result r;
            enum attachment_verdict got = inspect("cut.rar", NULL, b.data, cut, &r);
            if (cut >= whole ? got != ATTACH_ENCRYPTED
                             : got != ATTACH_OK && got != ATTACH_UNREADABLE)
                fail_msg("%s cut at %zu of %zu: %s %s %s", cuts[i].rel, cut, b.len,
                         attachment_verdict_name(got), r.path, r.reason);
        }
        buf_free(&b);
    }
}

/* A RAR with a zip after it: RAR tools read the RAR, zip readers the zip;
 * both are looked into. */
static void test_rar_polyglot(void **state)
{
    (void)state;
    expect_rar("rar4/zip-polyglot.rar", "documents.rar", ATTACH_BLOCKED,
               "documents.rar/invoice.pdf.exe", "double extension");
    expect_rar("rar4/zip-polyglot.rar", "documents.zip", ATTACH_BLOCKED,
               "documents.zip/invoice.pdf.exe", "double extension");
    /* a RAR read one way only counts its entries once (a directory too) */
    policy.max_entries = 3;
    expect_rar("rar4/notes.rar", "documents.rar", ATTACH_OK, "", NULL);
    expect_rar("rar5/notes.rar", "documents.rar", ATTACH_OK, "", NULL);
    policy.max_entries = 2;
    expect_rar("rar4/notes.rar", "documents.rar", ATTACH_TOO_LARGE, "documents.rar",
               "too many archive entries");
}

/* A 7z, a tar or a compressed stream followed by a zip: zip tools read
 * the zip (its central directory is at the end), the others what is at the
 * start; both are looked into. */
static void test_zip_polyglot(void **state)
{
    (void)state;
    struct buf head, zip, both;
    struct entry clean = {"notes.txt", "hello", 5};
    make_zip1("invoice.js", "alert(1)", 8, &zip);
    static const enum fmt heads[] = {F_7Z, F_TAR_GZ, F_GZ};
    for (size_t i = 0; i < N(heads); i++) {
        make_archive(heads[i], &clean, 1, &head);
        buf_init(&both, BUF_UNLIMITED);
        assert_int_equal(buf_append(&both, head.data, head.len), 0);
        assert_int_equal(buf_append(&both, zip.data, zip.len), 0);
        expect("files.zip", NULL, both.data, both.len, ATTACH_BLOCKED, "files.zip/invoice.js",
               "blocked file type .js");
        expect("notes.txt.gz", NULL, head.data, head.len, ATTACH_OK, "", NULL);
        buf_free(&both);
        buf_free(&head);
    }
    buf_free(&zip);
    /* an archive read one way only counts its entries once */
    policy.max_entries = 1;
    make_zip1("notes.txt", "hello", 5, &zip);
    expect("files.zip", NULL, zip.data, zip.len, ATTACH_OK, "", NULL);
    buf_free(&zip);
    make_archive(F_7Z, &clean, 1, &head);
    expect("files.7z", NULL, head.data, head.len, ATTACH_OK, "", NULL);
    buf_free(&head);
}

/* ---- through the MIME layer: a base64 attachment of a message ---- */

/* b += data in base64, lines of 76 characters ending in CRLF. */
static void append_base64(struct buf *b, const unsigned char *d, size_t len)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t col = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)d[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)d[i + 1] << 8;
        if (i + 2 < len)
            v |= d[i + 2];
        char q[4] = {digits[(v >> 18) & 63], digits[(v >> 12) & 63],
                     i + 1 < len ? digits[(v >> 6) & 63] : '=', i + 2 < len ? digits[v & 63] : '='};
        assert_int_equal(buf_append(b, q, 4), 0);
        if ((col += 4) == 76) {
            assert_int_equal(buf_append(b, "\r\n", 2), 0);
            col = 0;
        }
    }
    if (col)
        assert_int_equal(buf_append(b, "\r\n", 2), 0);
}

/* Check a message holding the sample rel as a base64 attachment named
 * name; want the action, and text (the reply for a REJECT, else the
 * reason for the log) to contain text_has. */
static void check_rar_message(const char *rel, const char *name, enum policy_action want,
                              const char *text_has)
{
    struct buf sample, msg;
    load_rar(rel, &sample);
    buf_init(&msg, BUF_UNLIMITED);
    assert_true(buf_printf(&msg,
                           "From: a@example.org\r\nTo: b@example.org\r\nSubject: documents\r\n"
                           "MIME-Version: 1.0\r\n"
                           "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
                           "--b1\r\nContent-Type: text/plain\r\n\r\nthe documents\r\n"
                           "--b1\r\nContent-Type: application/vnd.rar; name=\"%s\"\r\n"
                           "Content-Disposition: attachment; filename=\"%s\"\r\n"
                           "Content-Transfer-Encoding: base64\r\n\r\n",
                           name, name) == 0);
    append_base64(&msg, (const unsigned char *)sample.data, sample.len);
    assert_int_equal(buf_append(&msg, "--b1--\r\n", 8), 0);
    buf_free(&sample);

    struct policy_config pc = {.attachments = &policy};
    struct policy_verdict v;
    policy_verdict_init(&v);
    policy_check_message(&pc, msg.data, msg.len, &v);
    const char *text = want == POLICY_REJECT   ? v.text
                       : want == POLICY_ACCEPT ? buf_cstr(&v.log)
                                               : v.why;
    if (v.action != want || (text_has && !strstr(text, text_has)))
        fail_msg("%s as %s: got %s \"%s\" (%s), want %s with \"%s\"", rel, name,
                 policy_action_name(v.action), v.text, v.why, policy_action_name(want),
                 text_has ? text_has : "");
    if (want == POLICY_REJECT) {
        assert_int_equal(v.code, 554);
        assert_string_equal(v.enh, "5.7.1");
    }
    policy_verdict_free(&v);
    buf_free(&msg);
}

static void test_rar_message(void **state)
{
    (void)state;
    check_rar_message("rar4/invoice-exe.rar", "documents.rar", POLICY_REJECT,
                      "Message refused: attachment documents.rar/invoice.pdf.exe: blocked "
                      "file type .exe behind a double extension .pdf.exe");
    check_rar_message("rar5/invoice-exe.rar", "documents.rar", POLICY_REJECT,
                      "attachment documents.rar/invoice.pdf.exe");
    check_rar_message("rar4/nested-zip.rar", "documents.rar", POLICY_REJECT,
                      "attachment documents.rar/docs.zip/run.js: blocked file type .js");
    check_rar_message("rar4/invoice-exe.rar", "scan.dat", POLICY_REJECT,
                      "attachment scan.dat/invoice.pdf.exe");
    check_rar_message("rar4/notes.rar", "documents.rar", POLICY_ACCEPT, NULL);
    check_rar_message("rar5/notes.rar", "documents.rar", POLICY_ACCEPT, NULL);

    /* encrypted: as attachment_encrypted says (reject by default) */
    static const char *const enc[] = {"rar4/encrypted.rar", "rar4/encrypted-headers.rar",
                                      "rar5/encrypted.rar", "rar5/encrypted-headers.rar"};
    for (size_t i = 0; i < N(enc); i++) {
        policy = attachment_policy_defaults();
        check_rar_message(enc[i], "documents.rar", POLICY_REJECT, "encrypted archive");
        policy.encrypted_action = ATTACH_ACTION_QUARANTINE;
        check_rar_message(enc[i], "documents.rar", POLICY_QUARANTINE, "encrypted archive");
        policy.encrypted_action = ATTACH_ACTION_ACCEPT;
        check_rar_message(enc[i], "documents.rar", POLICY_ACCEPT,
                          "accepted by the attachment policy: attachment documents.rar");
        /* not "damaged": attachment_uninspectable does not decide it */
        policy.uninspected_action = ATTACH_ACTION_REJECT;
        check_rar_message(enc[i], "documents.rar", POLICY_ACCEPT, "encrypted archive");
    }
    /* a blocked name in an encrypted archive is refused whatever the setting */
    check_rar_message("rar4/encrypted-exe.rar", "documents.rar", POLICY_REJECT,
                      "documents.rar/statement.pdf.exe");
}

static void test_path(void **state)
{
    (void)state;
    char name[2 * ATTACHMENT_PATH_MAX];
    memset(name, 'a', sizeof(name) - 5);
    memcpy(name + sizeof(name) - 5, ".exe", 5);
    struct attachment_result r;
    assert_int_equal(inspect(name, NULL, "x", 1, &r), ATTACH_BLOCKED);
    assert_int_equal(strlen(r.path), ATTACHMENT_PATH_MAX - 1);
    assert_memory_equal(r.path + ATTACHMENT_PATH_MAX - 4, "...", 3);
    expect("a\x01\x1b.exe", NULL, "x", 1, ATTACH_BLOCKED, "a??.exe", NULL);
}

static void test_actions(void **state)
{
    (void)state;
    assert_int_equal(attachment_action(&policy, ATTACH_OK), ATTACH_ACTION_ACCEPT);
    assert_int_equal(attachment_action(&policy, ATTACH_BLOCKED), ATTACH_ACTION_REJECT);
    assert_int_equal(attachment_action(&policy, ATTACH_ENCRYPTED), ATTACH_ACTION_REJECT);
    assert_int_equal(attachment_action(&policy, ATTACH_TOO_LARGE), ATTACH_ACTION_REJECT);
    assert_int_equal(attachment_action(&policy, ATTACH_UNREADABLE), ATTACH_ACTION_REJECT);
    policy.encrypted_action = ATTACH_ACTION_QUARANTINE;
    policy.uninspected_action = ATTACH_ACTION_ACCEPT;
    assert_int_equal(attachment_action(&policy, ATTACH_ENCRYPTED), ATTACH_ACTION_QUARANTINE);
    assert_int_equal(attachment_action(&policy, ATTACH_TOO_LARGE), ATTACH_ACTION_ACCEPT);
    assert_int_equal(attachment_action(&policy, ATTACH_BLOCKED), ATTACH_ACTION_REJECT);
    assert_string_equal(attachment_verdict_name(ATTACH_OK), "ok");
    assert_string_equal(attachment_verdict_name(ATTACH_TOO_LARGE), "too-large");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_clean, setup),
        cmocka_unit_test_setup(test_names, setup),
        cmocka_unit_test_setup(test_types, setup),
        cmocka_unit_test_setup(test_custom_policy, setup),
        cmocka_unit_test_setup(test_magic, setup),
        cmocka_unit_test_setup(test_zip_content, setup),
        cmocka_unit_test_setup(test_ooxml, setup),
        cmocka_unit_test_setup(test_formats, setup),
        cmocka_unit_test_setup(test_nesting, setup),
        cmocka_unit_test_setup(test_encrypted, setup),
        cmocka_unit_test_setup(test_limits, setup),
        cmocka_unit_test_setup(test_damaged, setup),
        cmocka_unit_test_setup(test_rar, setup),
        cmocka_unit_test_setup(test_rar_magic, setup),
        cmocka_unit_test_setup(test_rar_encrypted, setup),
        cmocka_unit_test_setup(test_rar_polyglot, setup),
        cmocka_unit_test_setup(test_zip_polyglot, setup),
        cmocka_unit_test_setup(test_rar_message, setup),
        cmocka_unit_test_setup(test_path, setup),
        cmocka_unit_test_setup(test_actions, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
