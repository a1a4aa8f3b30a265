#!/usr/bin/env bash
# Runs every example against a live request and checks its answer.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --examples --quiet
port=4310
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$tmp"' EXIT

start() { # name, then extra args
  local name=$1; shift
  port=$((port + 1))
  PORT=$port UPLOAD_DIR="$tmp/uploads" "target/debug/examples/$name" "$@" >"$tmp/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
    sleep 0.05
  done
  echo "example $name did not start"; cat "$tmp/$name.log"; exit 1
}
expect() { # what, got, want
  if [ "$2" != "$3" ]; then echo "FAIL $1: got [$2], want [$3]"; exit 1; fi
  echo "ok   $1"
}

start hello
expect "hello /hello/ci" "$(curl -s "http://127.0.0.1:$port/hello/ci")" "hello, ci"

start json_api
curl -s -X POST --data-binary 'buy milk' "http://127.0.0.1:$port/notes" >/dev/null
expect "json_api /notes" "$(curl -s "http://127.0.0.1:$port/notes")" '["buy milk"]'

start streaming
expect "streaming /count/3" "$(curl -s "http://127.0.0.1:$port/count/3" | tr '\n' ' ')" "1 2 3 "

start upload
expect "upload /upload/a.bin" "$(head -c 100000 /dev/zero | curl -s --data-binary @- "http://127.0.0.1:$port/upload/a.bin")" "stored a.bin: 100000 bytes"

mkdir -p "$tmp/site" && echo '<h1>site</h1>' > "$tmp/site/index.html"
start file_server "$tmp/site"
expect "file_server /" "$(curl -s "http://127.0.0.1:$port/")" "<h1>site</h1>"
expect "file_server /health" "$(curl -s "http://127.0.0.1:$port/health")" "ok"
echo "examples: 6 passed, 0 failed"
