"""The share portal's HTTPS service (httpd), first step: it starts with
https_listen, serves the web pages over TLS only, with HSTS, a strict
Content-Security-Policy and no-sniff on every response, keeps connections
alive, and refuses bad requests (a target leaving the web directory,
request smuggling) with a status and a log line, never a crash."""

import http.client
import socket
import ssl

from peers import free_port


def context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def portal(make_server):
    port = free_port()
    srv = make_server(https_listen="127.0.0.1:%d" % port)
    srv.https_port = port
    return srv


def raw(srv, data):
    """Send data over TLS as it is; the whole answer until the server closes."""
    with socket.create_connection(("127.0.0.1", srv.https_port), timeout=10) as s:
        with context().wrap_socket(s) as t:
            t.sendall(data)
            out = b""
            while True:
                d = t.recv(65536)
                if not d:
                    return out
                out += d


def test_pages_and_headers(make_server):
    srv = portal(make_server)
    c = http.client.HTTPSConnection("127.0.0.1", srv.https_port, context=context(), timeout=10)
    c.request("GET", "/")
    r = c.getresponse()
    body = r.read()
    assert r.status == 200 and b"postino share" in body
    assert r.getheader("Content-Type") == "text/html; charset=utf-8"
    assert r.getheader("Strict-Transport-Security") == "max-age=31536000"
    csp = r.getheader("Content-Security-Policy")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.getheader("X-Content-Type-Options") == "nosniff"
    # the same connection: keep-alive
    c.request("GET", "/share-crypt.js")
    r = c.getresponse()
    js = r.read()
    assert r.status == 200 and r.getheader("Content-Type").startswith("text/javascript")
    assert b"PSTNSHR1" in js or b"export" in js
    c.request("HEAD", "/index.html")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b"" and int(r.getheader("Content-Length")) > 0
    c.request("GET", "/no-such-page.html")
    r = c.getresponse()
    assert r.status == 404 and r.getheader("Content-Type") == "application/json"
    assert r.read() == b'{"error": "not found"}\n'
    c.request("GET", "/api/nothing-here")
    r = c.getresponse()
    assert r.status == 404 and b"no such API call" in r.read()
    c.request("DELETE", "/index.html")
    r = c.getresponse()
    assert r.status == 405
    r.read()
    c.close()


def test_bad_requests(make_server):
    srv = portal(make_server)
    # leaving the web directory
    for target in (b"/../postino.conf", b"/%2e%2e/postino.conf", b"/a%2Fb.html", b"/x%00.html"):
        out = raw(srv, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 400 "), (target, out[:100])
    assert srv.grep_log(r"http: refused the target")
    # request smuggling: both framings
    out = raw(srv, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 "), out[:100]
    # bare LF, an unsupported version, a long header section
    assert raw(srv, b"GET / HTTP/1.1\nHost: x\n\n").startswith(b"HTTP/1.1 400 ")
    assert raw(srv, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 505 ")
    big = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: " + b"a" * 20000 + b"\r\n\r\n"
    assert raw(srv, big).startswith(b"HTTP/1.1 431 ")
    assert srv.grep_log(r"http: bad request from \[127\.0\.0\.1\]: 400 ")
    # the service is still there
    c = http.client.HTTPSConnection("127.0.0.1", srv.https_port, context=context(), timeout=10)
    c.request("GET", "/")
    assert c.getresponse().status == 200


def test_https_only(make_server):
    srv = portal(make_server)
    with socket.create_connection(("127.0.0.1", srv.https_port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(10)
        data = b""
        try:
            while True:
                d = s.recv(4096)
                if not d:
                    break
                data += d
        except (ConnectionResetError, socket.timeout):
            pass
    assert b"HTTP/1.1 200" not in data


def test_idle_connection_timeout(make_server):
    """A silent client is disconnected after http_timeout, cleanly (the
    connection was freed under the server once: the teardown's sanitizer
    check would see it)."""
    import time
    port = free_port()
    srv = make_server(https_listen="127.0.0.1:%d" % port, http_timeout="10s")
    srv.https_port = port
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        with context().wrap_socket(s) as t:
            t0 = time.monotonic()
            assert t.recv(100) == b""
            assert 9 <= time.monotonic() - t0 < 25
    assert srv.wait_log(r"http: timeout of \[127\.0\.0\.1\]")
