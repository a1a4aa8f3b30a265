#!/usr/bin/env bash
# Server instructions per request, counted by callgrind: repeatable on a busy
# machine where wall-clock A/B runs are not. For each binary it serves two
# runs of batches of pipelined requests on one connection and reports the
# difference per request, so start-up and shut-down cancel out.
#
#   bench/instructions.sh [BINARY ...]      (default: target/release/barehttp,
#                                            built first)
#
# PATH_TO (default /) is the path requested; DEPTH (default 16) the requests
# per batch, 1 for one request per round trip as a keep-alive client sends
# them (each then costs a wake-up of the event loop); BATCHES (default 1000)
# the smaller run, which the larger triples. The files routes cannot be measured
# this way: valgrind 3.19 does not know `openat2`, so the server refuses to
# serve a directory under it.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
if [ $# -eq 0 ]; then
  # Built here: the binary `cargo test --release` leaves has tokio's
  # `test-util`, whose clock reads cost more (see run.sh).
  cargo build --release --quiet --bin barehttp
  set -- target/release/barehttp
fi
path=${PATH_TO:-/}
batches=${BATCHES:-1000}
depth=${DEPTH:-16}
port=${PORT:-18790}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Sends `batches` batches of `depth` requests and reads the answers to each.
client() {
  python3 - "$1" "$2" "$path" "$depth" <<'PY'
import socket, sys, time
port, batches, path, depth = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
for _ in range(200):
    try:
        s = socket.create_connection(("127.0.0.1", port))
        break
    except OSError:
        time.sleep(0.05)
s.settimeout(60)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
batch = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode() * depth
for _ in range(batches):
    s.sendall(batch)
    got = b""
    while got.count(b"HTTP/1.1 200 ") < depth:
        data = s.recv(1 << 20)
        if not data:
            sys.exit("the server closed the connection")
        got += data
PY
}

# Instructions the server executed while answering `$2` batches.
count() {
  local out=$tmp/callgrind.$RANDOM
  valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$1" --port "$port" --threads 1 --quiet 2>/dev/null &
  local pid=$!
  client "$port" "$2"
  kill -TERM "$pid"
  wait "$pid" || true
  awk '/^summary:/ {print $2}' "$out"
}

for binary in "$@"; do
  small=$(count "$binary" "$batches")
  large=$(count "$binary" $((batches * 3)))
  echo "$binary: $(((large - small) / (batches * 2 * depth))) instructions per request ($path, $depth per batch)"
done
