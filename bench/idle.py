#!/usr/bin/env python3
"""Open many idle keep-alive connections to a server and hold them.

Used by bench/run.sh for the "idle" scenario. Each connection sends one
`GET /` and reads the whole reply (so the server has parsed a request and
gone back to waiting on a keep-alive connection), then stays open and quiet.

When every connection has answered (or failed), a JSON line with the counts
is written to --ready; the connections are then held until --stop exists (or
--hold seconds pass). At the end the connections the server still keeps open
are counted, a JSON line is printed on stdout, and everything is closed.

Standard library only. Raises RLIMIT_NOFILE itself.
"""

import argparse
import errno
import json
import os
import resource
import selectors
import socket
import sys
import time


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return soft
    if hard != resource.RLIM_INFINITY and hard < need:
        try:  # root may raise the hard limit too
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
            return need
        except (ValueError, OSError):
            need = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    return need


def head_complete(buf):
    """True once a full response to GET / is in buf (head + Content-Length body)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    length = 0
    for line in buf[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                return True
    return len(buf) >= end + 4 + length


def open_batch(host, port, n, request, timeout):
    """Open n connections at once; return (answered sockets, failure reasons)."""
    sel = selectors.DefaultSelector()
    pending = {}
    failed = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex((host, port))
        if err not in (0, errno.EINPROGRESS):
            failed.append(os.strerror(err))
            s.close()
            continue
        pending[s] = bytearray()
        sel.register(s, selectors.EVENT_WRITE, "connect")
    done = []
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                if key.data == "connect":
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, os.strerror(err))
                    s.sendall(request)  # tiny: fits the empty send buffer
                    sel.modify(s, selectors.EVENT_READ, "read")
                    continue
                chunk = s.recv(65536)
                if not chunk:
                    raise OSError("closed before the reply was complete")
                buf = pending[s]
                buf += chunk
                if head_complete(buf):
                    sel.unregister(s)
                    del pending[s]
                    if buf.startswith(b"HTTP/1.1 200"):
                        done.append(s)
                    else:
                        failed.append("status: " + bytes(buf[:12]).decode("latin-1"))
                        s.close()
            except OSError as e:
                sel.unregister(s)
                del pending[s]
                failed.append(str(e))
                s.close()
    for s in pending:
        sel.unregister(s)
        failed.append("timed out")
        s.close()
    sel.close()
    return done, failed


def still_open(s):
    try:
        data = s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return bool(data)  # b"" is the server's FIN


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--batch-timeout", type=float, default=15.0)
    ap.add_argument("--ready", required=True, help="file written when all are open")
    ap.add_argument("--stop", required=True, help="hold until this file exists")
    ap.add_argument("--hold", type=float, default=600.0, help="longest hold, seconds")
    args = ap.parse_args()

    limit = raise_nofile(args.count + 256)
    request = b"GET / HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (args.host.encode(), args.port)
    held, failures = [], []
    t0 = time.monotonic()
    while len(held) + len(failures) < args.count:
        n = min(args.batch, args.count - len(held) - len(failures))
        ok, bad = open_batch(args.host, args.port, n, request, args.batch_timeout)
        held += ok
        failures += bad
        if bad and not ok:
            break  # the server answers nothing any more: stop trying
    opened_s = time.monotonic() - t0
    reasons = {}
    for f in failures:
        reasons[f] = reasons.get(f, 0) + 1
    ready = {
        "wanted": args.count,
        "answered": len(held),
        "failed": args.count - len(held),
        "reasons": reasons,
        "open_seconds": round(opened_s, 3),
        "nofile": limit,
    }
    tmp = args.ready + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(ready) + "\n")
    os.replace(tmp, args.ready)

    deadline = time.monotonic() + args.hold
    while not os.path.exists(args.stop) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = sum(1 for s in held if still_open(s))
    for s in held:
        s.close()
    ready["held_at_end"] = alive
    print(json.dumps(ready), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
