#!/usr/bin/env python3
"""Raw-socket correctness probes curl cannot do, for bench/run.sh.

    probe.py pipeline HOST PORT [DEPTH] [PATH]
        Writes DEPTH requests for PATH in one send and expects DEPTH complete
        `200` responses back, in order, on the same connection.
    probe.py close HOST PORT [PATH]
        Sends one request with `Connection: close` and expects a `200` that
        announces the close (`Connection: close`, or an HTTP/1.0 response
        without keep-alive), after which the server closes the connection
        (EOF within 3 s). A server that neither announces nor closes gets a
        reason starting with "ignores close: ".

Prints "ok" or a reason and exits 0 / 1. Standard library only.
"""

import socket
import sys
import time


def read_response(sock, buf, deadline):
    """Parse one response from buf (+ reads).

    Returns (status, headers, body, rest); headers[":version"] is the
    status line's HTTP version ("HTTP/1.1")."""
    while b"\r\n\r\n" not in buf:
        buf += recv(sock, deadline)
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ValueError("bad status line %r" % lines[0][:80])
    status = int(parts[1])
    headers = {":version": [parts[0].decode("latin-1")]}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.setdefault(name.strip().lower().decode("latin-1"), []).append(
            value.strip().decode("latin-1"))
    if "transfer-encoding" in headers:
        body = bytearray()
        while True:
            while b"\r\n" not in buf:
                buf += recv(sock, deadline)
            size_line, _, buf = buf.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(buf) < size + 2:
                buf += recv(sock, deadline)
            body += buf[:size]
            buf = buf[size + 2:]
            if size == 0:
                break  # (trailers are not expected here)
    else:
        length = int(headers.get("content-length", ["0"])[0])
        while len(buf) < length:
            buf += recv(sock, deadline)
        body, buf = buf[:length], buf[length:]
    return status, headers, bytes(body), buf


def recv(sock, deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    sock.settimeout(left)
    data = sock.recv(65536)
    if not data:
        raise ConnectionError("connection closed early")
    return data


def pipeline(host, port, depth=16, path="/"):
    req = b"GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (path.encode(), host.encode(), port)
    deadline = time.monotonic() + 5
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(req * depth)
        buf = b""
        for i in range(depth):
            status, _, _, buf = read_response(s, buf, deadline)
            if status != 200:
                return "response %d of %d has status %d" % (i + 1, depth, status)
        if buf:
            return "%d stray bytes after %d responses" % (len(buf), depth)
    return "ok"


def close(host, port, path="/"):
    req = b"GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n" % (
        path.encode(), host.encode(), port)
    deadline = time.monotonic() + 3
    with socket.create_connection((host, port), timeout=3) as s:
        s.sendall(req)
        status, headers, _, buf = read_response(s, b"", deadline)
        if status != 200:
            return "status %d" % status
        tokens = [t.strip().lower() for v in headers.get("connection", []) for t in v.split(",")]
        # HTTP/1.0 closes by default: no header needed unless it keeps alive.
        announced = "close" in tokens or (
            headers[":version"][0] == "HTTP/1.0" and "keep-alive" not in tokens)
        if buf:
            return "stray bytes after the response"
        closed = wait_for_close(s, deadline)
        if closed == "data":
            return "data after the response"
        if not announced and closed == "open":
            return ("ignores close: answered %s without 'Connection: close' and kept "
                    "the connection open for 3 s" % headers[":version"][0])
        if not announced:
            return "no 'Connection: close' in the response (the connection was then closed)"
        if closed == "open":
            return "the response says 'Connection: close' but the server kept the connection open for 3 s"
        return "ok"


def wait_for_close(sock, deadline):
    """"closed" once the server's EOF (or reset) arrives, "open" at the
    deadline, "data" if more bytes come instead."""
    left = deadline - time.monotonic()
    if left <= 0:
        return "open"
    sock.settimeout(left)
    try:
        return "data" if sock.recv(65536) else "closed"
    except socket.timeout:
        return "open"
    except ConnectionResetError:
        return "closed"  # closed with a reset: still closed


def main(argv):
    if len(argv) < 4 or argv[1] not in ("pipeline", "close"):
        print(__doc__, file=sys.stderr)
        return 2
    host, port = argv[2], int(argv[3])
    try:
        if argv[1] == "pipeline":
            depth = int(argv[4]) if len(argv) > 4 else 16
            result = pipeline(host, port, depth, argv[5] if len(argv) > 5 else "/")
        else:
            result = close(host, port, argv[4] if len(argv) > 4 else "/")
    except (OSError, ValueError) as e:
        result = "%s: %s" % (type(e).__name__, e)
    print(result)
    return 0 if result == "ok" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
