#!/usr/bin/python3
"""embed-text.py NAME IN OUT: write OUT, a C file defining
`const char NAME[]` with the text of IN, so that a small data file
shipped in the source tree (data/) is part of the binary."""

import sys


def main():
    name, src, dst = sys.argv[1:4]
    with open(src, "rb") as f:
        data = f.read()
    lines = ["/* Generated from %s by scripts/embed-text.py: do not edit. */\n" % src,
             "const char %s[];\n" % name,
             "const char %s[] =\n" % name]
    chunk = []
    for b in data:
        chunk.append("\\%03o" % b if b < 0x20 or b >= 0x7f or b in b'"\\?' else chr(b))
        if b == 0x0a:
            lines.append('    "%s"\n' % "".join(chunk))
            chunk = []
    if chunk or not data:
        lines.append('    "%s"\n' % "".join(chunk))
    lines.append("    ;\n")
    with open(dst, "w") as f:
        f.write("".join(lines))


if __name__ == "__main__":
    main()
