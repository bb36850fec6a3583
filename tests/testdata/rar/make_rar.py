#!/usr/bin/python3
"""Build the RAR samples of this folder, byte by byte (Python standard
library only), so that the attachment checks can be tested inside RAR
archives although no free tool writes them (libarchive reads RAR but cannot
write it; rar is not in Debian main).

Every entry is STORED (no compression), which every RAR reader handles:

- RAR 4.x (RAR 2.9/3.x format): the marker block "Rar!\\x1a\\x07\\x00",
  MAIN_HEAD (0x73), one FILE_HEAD (0x74) per entry followed by its data,
  ENDARC_HEAD (0x7b). Each block starts with HEAD_CRC (the low 16 bits of
  the CRC32 of the block from HEAD_TYPE to the end of the header),
  HEAD_TYPE, HEAD_FLAGS and HEAD_SIZE, little-endian. A file header has
  flag 0x8000 (ADD_SIZE: PACK_SIZE follows), method 0x30 (store), host OS
  2 (Win32) with DOS attributes, and the data's CRC32.
- RAR 5.0: the signature "Rar!\\x1a\\x07\\x01\\x00" then blocks of CRC32
  (over the header from its size field on), header size, type, flags as
  variable-length integers (7 bits a byte, lowest first): main archive
  header (1), file header (2) with its data area, end of archive (5).

The format is RARLAB's technote (RAR 4.x: technote.txt of RAR 3.x/4.x;
RAR 5.0: "RAR 5.0 archive format") as libarchive's readers
(archive_read_support_format_rar.c and _rar5.c) read it.

Run it from anywhere: `python3 tests/testdata/rar/make_rar.py [DIR]` rewrites
the samples in rar4/ and rar5/ next to itself (or under DIR); the output is
the same byte for byte each time (no clock, no randomness; the zips inside
come from Python's zipfile, whose headers could change with its version).
The samples are committed: the tests do not run this.
"""

import io
import os
import struct
import sys
import zipfile
import zlib

# A fixed modification time: 2024-03-01 12:00:00.
DOS_TIME = ((2024 - 1980) << 25) | (3 << 21) | (1 << 16) | (12 << 11)
UNIX_TIME = 1709294400

WIN_ATTR_FILE = 0x20  # FILE_ATTRIBUTE_ARCHIVE
WIN_ATTR_DIR = 0x10  # FILE_ATTRIBUTE_DIRECTORY


def crc32(data):
    return zlib.crc32(data) & 0xFFFFFFFF


# ---- RAR 4.x ----

RAR4_MARK = b"Rar!\x1a\x07\x00"

MAIN_HEAD = 0x73
FILE_HEAD = 0x74
ENDARC_HEAD = 0x7B

MHD_PASSWORD = 0x0080  # the headers are encrypted ("rar -hp")

FHD_PASSWORD = 0x0004  # the entry's data is encrypted
FHD_SALT = 0x0400
FHD_DIRECTORY = 0x00E0  # the dictionary bits all set
LONG_BLOCK = 0x8000  # ADD_SIZE present
ENDARC_SKIP = 0x4000  # old readers skip the block


def rar4_block(head_type, flags, fields):
    """One block header: HEAD_CRC, HEAD_TYPE, HEAD_FLAGS, HEAD_SIZE, fields."""
    rest = struct.pack("<BHH", head_type, flags, 7 + len(fields)) + fields
    return struct.pack("<H", crc32(rest) & 0xFFFF) + rest


def rar4_file(name, data=b"", directory=False, encrypted=False, unp_size=None,
              file_crc=None):
    """A FILE_HEAD and its stored data. encrypted: the header says so (a
    salt follows the name, the version needed is 2.9) and data is taken as
    the encrypted bytes; unp_size and file_crc are then those of the
    plain text."""
    raw = name.encode("utf-8")
    flags = LONG_BLOCK
    attr = WIN_ATTR_FILE
    version = 20
    if directory:
        flags |= FHD_DIRECTORY
        attr = WIN_ATTR_DIR
    tail = b""
    if encrypted:
        flags |= FHD_PASSWORD | FHD_SALT
        tail = b"saltsalt"
        version = 29
    fields = struct.pack(
        "<IIBIIBBHI",
        len(data),  # PACK_SIZE
        len(data) if unp_size is None else unp_size,  # UNP_SIZE
        2,  # HOST_OS: Win32
        crc32(data) if file_crc is None else file_crc,  # FILE_CRC
        DOS_TIME,  # FTIME
        version,  # UNP_VER
        0x30,  # METHOD: store
        len(raw),  # NAME_SIZE
        attr,  # ATTR
    ) + raw + tail
    return rar4_block(FILE_HEAD, flags, fields) + data


def rar4(*entries, main_flags=0, tail=None):
    """A whole RAR 4.x archive: marker, main header, entries, end (or tail
    instead of the entries and end, for an archive whose headers are
    encrypted)."""
    out = RAR4_MARK + rar4_block(MAIN_HEAD, main_flags, struct.pack("<HI", 0, 0))
    if tail is not None:
        return out + tail
    return out + b"".join(entries) + rar4_block(ENDARC_HEAD, ENDARC_SKIP, b"")


# ---- RAR 5.0 ----

RAR5_MARK = b"Rar!\x1a\x07\x01\x00"

HEAD_MAIN = 1
HEAD_FILE = 2
HEAD_CRYPT = 4
HEAD_ENDARC = 5

HFL_EXTRA = 0x0001
HFL_DATA = 0x0002

FHFL_DIRECTORY = 0x0001
FHFL_UTIME = 0x0002
FHFL_CRC32 = 0x0004

EX_CRYPT = 0x01  # file encryption record of the extra area


def vint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def rar5_block(head_type, fields, extra=b"", data=None):
    """One block: CRC32, size, type, flags, [extra size], [data size],
    the type's fields, the extra area, then the data area."""
    flags = (HFL_EXTRA if extra else 0) | (HFL_DATA if data is not None else 0)
    body = vint(head_type) + vint(flags)
    if extra:
        body += vint(len(extra))
    if data is not None:
        body += vint(len(data))
    body += fields + extra
    sized = vint(len(body)) + body
    return struct.pack("<I", crc32(sized)) + sized + (data or b"")


def rar5_file(name, data=b"", directory=False, encrypted=False, unp_size=None,
              file_crc=None, method=0):
    """A file header and its data. method 0 is store (compression
    information 0: version 0, the smallest dictionary); another method
    (1 to 5) only says so, data is then taken as already compressed.
    encrypted: an encryption record (AES-256, no password check) in the
    extra area; data is taken as the encrypted bytes, unp_size and
    file_crc are the plain text's."""
    raw = name.encode("utf-8")
    if directory:
        flags = FHFL_DIRECTORY | FHFL_UTIME
        fields = (vint(flags) + vint(0) + vint(WIN_ATTR_DIR) + struct.pack("<I", UNIX_TIME)
                  + vint(0) + vint(0) + vint(len(raw)) + raw)
        return rar5_block(HEAD_FILE, fields, data=b"")
    flags = FHFL_UTIME | FHFL_CRC32
    fields = (vint(flags) + vint(len(data) if unp_size is None else unp_size)
              + vint(WIN_ATTR_FILE)
              + struct.pack("<II", UNIX_TIME, crc32(data) if file_crc is None else file_crc)
              + vint(method << 7)  # compression information: version 0, 128 KiB dictionary
              + vint(0)  # host OS: Windows
              + vint(len(raw)) + raw)
    extra = b""
    if encrypted:
        rec = (vint(EX_CRYPT) + vint(0)  # version 0: AES-256
               + vint(0)  # flags: no password check value, plain checksums
               + bytes([15])  # KDF count (log2)
               + b"S" * 16 + b"I" * 16)  # salt, IV
        extra = vint(len(rec)) + rec
    return rar5_block(HEAD_FILE, fields, extra, data)


def rar5(*entries, headers_encrypted=False):
    """A whole RAR 5.0 archive. headers_encrypted ("rar -hp"): an archive
    encryption header follows the signature, and everything after it is
    encrypted (entries are then the encrypted bytes)."""
    if headers_encrypted:
        fields = (vint(0)  # encryption version 0: AES-256
                  + vint(0)  # flags: no password check value
                  + bytes([15]) + b"S" * 16)  # KDF count (log2), salt
        return RAR5_MARK + rar5_block(HEAD_CRYPT, fields) + b"".join(entries)
    return (RAR5_MARK + rar5_block(HEAD_MAIN, vint(0)) + b"".join(entries)
            + rar5_block(HEAD_ENDARC, vint(0)))


# ---- contents ----

def pe_bytes():
    """The start of a Windows executable: MZ, e_lfanew 0x80, "PE\\0\\0"."""
    b = bytearray(512)
    b[0:2] = b"MZ"
    struct.pack_into("<I", b, 0x3C, 0x80)
    b[0x80:0x84] = b"PE\0\0"
    return bytes(b)


NOTES = b"Meeting notes\n\n- budget approved\n- next meeting on Friday\n"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"
JS = b"WScript.Echo('run');\n"


def zip_of(files):
    """A zip with stored entries and a fixed date (the same bytes each time)."""
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_STORED) as z:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=(2024, 3, 1, 12, 0, 0))
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    return bio.getvalue()


def encrypted_bytes(n):
    """Stand-in for n bytes of AES output (a whole number of 16-byte
    blocks): what a reader without the password sees."""
    n = (n + 15) // 16 * 16
    return bytes((i * 151 + 7) & 0xFF for i in range(n))


SAMPLES = {
    # RAR 4.x
    "rar4/invoice-exe.rar": rar4(rar4_file("notes.txt", NOTES),
                                 rar4_file("invoice.pdf.exe", pe_bytes())),
    "rar4/notes.rar": rar4(rar4_file("notes.txt", NOTES),
                           rar4_file("docs", directory=True),
                           rar4_file("docs\\report.pdf", PDF)),
    "rar4/nested-zip.rar": rar4(rar4_file("notes.txt", NOTES),
                                rar4_file("docs.zip", zip_of([("readme.txt", NOTES),
                                                              ("run.js", JS)]))),
    "rar4/encrypted.rar": rar4(rar4_file("statement.pdf", encrypted_bytes(len(PDF)),
                                         encrypted=True, unp_size=len(PDF),
                                         file_crc=crc32(PDF))),
    "rar4/encrypted-exe.rar": rar4(rar4_file("statement.pdf", encrypted_bytes(len(PDF)),
                                             encrypted=True, unp_size=len(PDF),
                                             file_crc=crc32(PDF)),
                                   rar4_file("statement.pdf.exe", encrypted_bytes(512),
                                             encrypted=True, unp_size=512,
                                             file_crc=crc32(pe_bytes()))),
    "rar4/encrypted-headers.rar": rar4(main_flags=MHD_PASSWORD, tail=encrypted_bytes(96)),
    # a RAR holding an executable with a zip of harmless text after it: RAR
    # tools read the RAR (signature at the start), zip tools the zip
    # (central directory at the end)
    "rar4/zip-polyglot.rar": rar4(rar4_file("invoice.pdf.exe", pe_bytes()))
                             + zip_of([("notes.txt", NOTES)]),
    # RAR 5.0
    "rar5/invoice-exe.rar": rar5(rar5_file("notes.txt", NOTES),
                                 rar5_file("invoice.pdf.exe", pe_bytes())),
    "rar5/scan-pe.rar": rar5(rar5_file("scan.pdf", pe_bytes())),
    "rar5/notes.rar": rar5(rar5_file("notes.txt", NOTES),
                           rar5_file("docs", directory=True),
                           rar5_file("docs/report.pdf", PDF)),
    "rar5/encrypted.rar": rar5(rar5_file("statement.pdf", encrypted_bytes(len(PDF)),
                                         encrypted=True, unp_size=len(PDF),
                                         file_crc=crc32(PDF))),
    # what "rar a -p" makes by default: compressed, then encrypted
    "rar5/encrypted-compressed.rar": rar5(rar5_file("statement.pdf", encrypted_bytes(48),
                                                    encrypted=True, unp_size=len(PDF),
                                                    file_crc=crc32(PDF), method=3)),
    "rar5/encrypted-exe.rar": rar5(rar5_file("statement.pdf", encrypted_bytes(len(PDF)),
                                             encrypted=True, unp_size=len(PDF),
                                             file_crc=crc32(PDF)),
                                   rar5_file("statement.pdf.exe", encrypted_bytes(512),
                                             encrypted=True, unp_size=512,
                                             file_crc=crc32(pe_bytes()))),
    "rar5/encrypted-headers.rar": rar5(encrypted_bytes(96), headers_encrypted=True),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for name, data in SAMPLES.items():
        os.makedirs(os.path.join(out, os.path.dirname(name)), exist_ok=True)
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        print("%s: %d bytes" % (name, len(data)))


if __name__ == "__main__":
    main()
