"""A small authoritative DNS server on loopback for the tests (dnslib).

Tests add records with `add(name, type, value)`; names it does not know get
SERVFAIL by default (a temporary failure: mail to them stays queued), or
NXDOMAIN for the names listed with `nxdomain(name)`. postino reaches it
through its dns_resolver setting."""

import ipaddress
import socket
import threading

from dnslib import AAAA, MX, PTR, QTYPE, RCODE, RR, TXT, A, DNSRecord


class DNSServer:
    def __init__(self):
        self.records = {}  # (name, qtype) -> [rdata]
        self.nx = set()
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.running = True
        self.thread.start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    @staticmethod
    def _key(name):
        return name.lower().rstrip(".")

    def add(self, name, qtype, value, pref=10):
        """add("example.org", "MX", "mx.example.org", pref=10), add(n, "A", "127.0.0.2"),
        add(n, "AAAA", "::1"), add(n, "TXT", "v=spf1 -all"),
        add("127.1.2.3", "PTR", "mx.example.org") (an address is turned into
        its in-addr.arpa / ip6.arpa name; an .arpa name is taken as it is)."""
        if qtype == "PTR":
            name = self.reverse_name(name)
        rd = {"A": lambda: A(value), "AAAA": lambda: AAAA(value),
              "MX": lambda: MX(value, pref), "TXT": lambda: TXT(value),
              "PTR": lambda: PTR(value)}[qtype]()
        with self.lock:
            self.records.setdefault((self._key(name), qtype), []).append(rd)
            self.nx.discard(self._key(name))

    @staticmethod
    def reverse_name(name):
        """The .arpa name of an IPv4/IPv6 address ("127.1.2.3" ->
        "3.2.1.127.in-addr.arpa"); any other name unchanged."""
        try:
            return ipaddress.ip_address(name).reverse_pointer
        except ValueError:
            return name

    def nxdomain(self, name):
        with self.lock:
            self.nx.add(self._key(name))

    def clear(self):
        with self.lock:
            self.records.clear()
            self.nx.clear()

    def _answer(self, data):
        req = DNSRecord.parse(data)
        reply = req.reply()
        q = req.q
        name = self._key(str(q.qname))
        qtype = QTYPE[q.qtype]
        with self.lock:
            self.queries.append((name, qtype))
            rds = list(self.records.get((name, qtype), []))
            exists = any(k[0] == name for k in self.records)
            nx = name in self.nx
        if rds:
            for rd in rds:
                reply.add_answer(RR(q.qname, q.qtype, rdata=rd, ttl=1))
        elif nx:
            reply.header.rcode = RCODE.NXDOMAIN
        elif not exists:
            reply.header.rcode = RCODE.SERVFAIL
        # else: the name exists without this type: NOERROR, no answer
        return reply.pack()

    def _serve(self):
        while self.running:
            try:
                data, addr = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                self.sock.sendto(self._answer(data), addr)
            except Exception:  # a query we cannot parse: no answer
                pass

    def close(self):
        self.running = False
        self.sock.close()
