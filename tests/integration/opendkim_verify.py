"""Verify a message with OpenDKIM's opendkim-testmsg, serving the key
records from a private DNS server.

    unshare -mn python3 opendkim_verify.py MESSAGE RECORDS

opendkim-testmsg looks keys up through the system resolver and cannot be
given a key file. So this runs in new mount and network namespaces (made
by `unshare -mn`, which needs root): it brings the namespace's own
loopback up, answers DNS on its 127.0.0.1:53 (no port of the host is
used), and bind-mounts a resolv.conf naming it over /etc/resolv.conf, for
this process tree only. RECORDS has lines "name TXT". Prints
opendkim-testmsg's exit status and messages as JSON."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading

from dnslib import QTYPE, RCODE, RR, TXT, DNSRecord


def main():
    message, records_file = sys.argv[1], sys.argv[2]
    records = {}
    with open(records_file) as f:
        for line in f:
            name, txt = line.rstrip("\n").split(" ", 1)
            records[name.lower().rstrip(".")] = txt
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    conf = tempfile.NamedTemporaryFile("w", suffix=".resolv.conf", delete=False)
    conf.write("nameserver 127.0.0.1\noptions timeout:2 attempts:1\n")
    conf.close()
    subprocess.run(["mount", "--bind", conf.name, "/etc/resolv.conf"], check=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 53))

    def serve():
        while True:
            data, addr = sock.recvfrom(4096)
            q = DNSRecord.parse(data)
            r = q.reply()
            name = str(q.q.qname).lower().rstrip(".")
            if name in records and q.q.qtype == QTYPE.TXT:
                t = records[name].encode()
                strings = [t[i:i + 255] for i in range(0, len(t), 255)]
                r.add_answer(RR(q.q.qname, QTYPE.TXT, rdata=TXT(strings), ttl=60))
            else:
                r.header.rcode = RCODE.NXDOMAIN
            sock.sendto(r.pack(), addr)

    threading.Thread(target=serve, daemon=True).start()
    with open(message, "rb") as f:
        p = subprocess.run(["/usr/sbin/opendkim-testmsg"], stdin=f, capture_output=True,
                           timeout=60)
    os.unlink(conf.name)
    print(json.dumps({"rc": p.returncode, "stdout": p.stdout.decode(errors="replace"),
                      "stderr": p.stderr.decode(errors="replace")}))


if __name__ == "__main__":
    main()
