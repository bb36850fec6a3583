"""A small raw IMAP client for the tests: it sends exact bytes and returns
every line of the answer (untagged, continuation and tagged), so that the
tests can assert what imaplib hides (response codes, the order of untagged
responses, literals)."""

import socket
import ssl
import time

from postino_testlib import client_tls_context


class RawIMAP:
    def __init__(self, port, tls=True, timeout=15, connect_timeout=15):
        deadline = time.time() + connect_timeout
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
                break
            except ConnectionRefusedError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        if tls:
            sock = client_tls_context().wrap_socket(sock)
        self.sock = sock
        self.buf = b""
        self.n = 0
        self.greeting = self.line()

    def starttls(self):
        self.sock = client_tls_context().wrap_socket(self.sock)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        """One line without its CRLF; a literal {n} at its end is read and
        appended (as bytes) so that a response with literals is one item."""
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; buffered %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        while line.endswith(b"}") and b"{" in line:
            size = int(line[line.rindex(b"{") + 1:-1].rstrip(b"+"))
            while len(self.buf) < size:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("connection closed in a literal")
                self.buf += chunk
            lit, self.buf = self.buf[:size], self.buf[size:]
            line += b"\r\n" + lit
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("connection closed after a literal")
                self.buf += chunk
            rest, self.buf = self.buf.split(b"\r\n", 1)
            line += rest
        return line

    def tag(self):
        self.n += 1
        return "t%d" % self.n

    def cmd(self, text, tag=None):
        """Send "TAG text" and read up to the tagged reply. Returns (tagged
        line, [untagged and continuation lines])."""
        tag = tag or self.tag()
        self.send("%s %s\r\n" % (tag, text))
        return self.until(tag)

    def until(self, tag):
        lines = []
        t = tag.encode() + b" "
        while True:
            ln = self.line()
            if ln.startswith(t):
                return ln, lines
            lines.append(ln)

    def login(self, user, password="secret-pw"):
        tagged, _ = self.cmd('LOGIN "%s" "%s"' % (user, password))
        assert b" OK " in tagged, tagged
        return tagged

    def closed(self, timeout=5):
        """True if the server closed the connection (EOF) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except ConnectionResetError:
            return True
        except (socket.timeout, ssl.SSLError):
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
