#!/usr/bin/env bash
# End-to-end benchmark: barehttp against peer servers (nginx, hyper,
# lighttpd, may_minihttp, a bare epoll loop, h2o, python's http.server),
# driven by wrk.
# See bench/README.md. One command: bench/run.sh
#
# Environment:
#   DURATION=5        seconds per timed wrk run
#   RUNS=5            timed runs per scenario and server (the median is kept)
#   WARMUP=$DURATION  seconds of the one warm-up run per scenario and server
#   SCENARIOS="..."   subset, space or comma separated (default: all, in order)
#                     plaintext pipeline echo static-1k static-1m gzip-64k idle close
#   SERVERS="..."     subset of: barehttp nginx hyper lighttpd may_minihttp
#                     epoll h2o python (default: all)
#   CONNS=64          wrk connections;  IDLE_CONNS=5000  idle scenario connections
#   PIPELINE_DEPTH=16 requests per pipelined batch
#   PORT_BASE=18080   barehttp on PORT_BASE, nginx +1, hyper +2, lighttpd +3,
#                     may_minihttp +4, epoll +5, h2o +6, python +7 (127.0.0.1)
#   SERVER_CPU=0 CLIENT_CPU=1   taskset cores of the servers and of wrk
#   SKIP_BUILD=1      use the peers' binaries already built (barehttp is
#                     always built: see below)
#   KEEP_TMP=1        keep the temp dir (data, server logs, raw records)
#   RESULTS_DIR=bench/results
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)

DURATION=${DURATION:-5}
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-$DURATION}
CONNS=${CONNS:-64}
IDLE_CONNS=${IDLE_CONNS:-5000}
PIPELINE_DEPTH=${PIPELINE_DEPTH:-16}
PORT_BASE=${PORT_BASE:-18080}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_TMP=${KEEP_TMP:-0}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
ECHO_TEXT=barehttp-bench-echo

ALL_SCENARIOS=(plaintext pipeline echo static-1k static-1m gzip-64k idle close)
ALL_SERVERS=(barehttp nginx hyper lighttpd may_minihttp epoll h2o python)

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

# --- selection -------------------------------------------------------------

SUBSET=()
select_subset() { # "requested list" all... → SUBSET: validated, in the order of all
    local requested=" ${1//,/ } " x
    shift
    SUBSET=()
    for x in ${requested}; do
        [[ " $* " == *" $x "* ]] || die "unknown name '$x' (choose from: $*)"
    done
    for x in "$@"; do
        if [[ "$requested" == *" $x "* ]]; then SUBSET+=("$x"); fi
    done
}
select_subset "${SCENARIOS:-${ALL_SCENARIOS[*]}}" "${ALL_SCENARIOS[@]}"
SCENARIO_LIST=("${SUBSET[@]}")
select_subset "${SERVERS:-${ALL_SERVERS[*]}}" "${ALL_SERVERS[@]}"
SERVER_LIST=("${SUBSET[@]}")
((${#SCENARIO_LIST[@]} > 0)) || die "no scenario selected"
((${#SERVER_LIST[@]} > 0)) || die "no server selected"
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 ]] || die "DURATION must be a whole number of seconds >= 1"
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "WARMUP must be a whole number of seconds"
[[ "$RUNS" =~ ^[0-9]+$ && "$RUNS" -ge 1 ]] || die "RUNS must be >= 1"

declare -A PORT=()
for i in "${!ALL_SERVERS[@]}"; do PORT[${ALL_SERVERS[$i]}]=$((PORT_BASE + i)); done

selected() { [[ " ${SERVER_LIST[*]} " == *" $1 "* ]]; }

# Scenarios a server has no route or no protocol support for. They are
# reported as unsupported (— in the tables): neither checked nor timed.
unsupported() { # server scenario → prints the reason; status 1 if supported
    case $1:$2 in
    epoll:echo | epoll:static-1k | epoll:static-1m | epoll:gzip-64k)
        echo "the epoll floor answers GET / only" ;;
    python:echo) echo "http.server serves files only: nothing computes an answer from the path" ;;
    python:pipeline | python:idle)
        echo "http.server speaks HTTP/1.0: each connection closes after one response (no keep-alive, no pipelining)" ;;
    *) return 1 ;;
    esac
}

# --- tools -----------------------------------------------------------------

install_missing() {
    local need=() nginx_pkg=""
    command -v wrk >/dev/null || need+=(wrk)
    command -v curl >/dev/null || need+=(curl)
    command -v python3 >/dev/null || need+=(python3)
    command -v taskset >/dev/null || need+=(util-linux)
    command -v gunzip >/dev/null || need+=(gzip)
    command -v cmp >/dev/null || need+=(diffutils)
    command -v getconf >/dev/null || need+=(libc-bin)
    if selected nginx && ! command -v nginx >/dev/null; then
        nginx_pkg=nginx-light
    fi
    if selected lighttpd; then
        command -v lighttpd >/dev/null || need+=(lighttpd)
        [[ -e /usr/lib/lighttpd/mod_deflate.so ]] || need+=(lighttpd-mod-deflate)
        [[ -e /usr/lib/lighttpd/mod_magnet.so ]] || need+=(lighttpd-modules-lua)
    fi
    if selected h2o; then command -v h2o >/dev/null || need+=(h2o); fi
    if selected epoll; then command -v cc >/dev/null || need+=(gcc libc6-dev); fi
    ((${#need[@]} > 0)) || [[ -n "$nginx_pkg" ]] || return 0
    [[ $(id -u) -eq 0 ]] || die "missing: ${need[*]} $nginx_pkg (run as root to install them with apt-get)"
    log "bench: installing ${need[*]} $nginx_pkg"
    apt-get update -qq
    if ((${#need[@]} > 0)); then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
    if [[ -n "$nginx_pkg" ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null 2>&1 ||
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
    fi
}
[[ ":$PATH:" == *:/usr/sbin:* ]] || PATH=$PATH:/usr/sbin # nginx and lighttpd live there
install_missing
CLK_TCK=$(getconf CLK_TCK)

# Enough descriptors for the idle scenario (servers and idle.py inherit it).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- build -----------------------------------------------------------------

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BAREHTTP_BIN=$TARGET_DIR/release/barehttp
HYPER_DIR=$BENCH_DIR/peers/hyper-peer
HYPER_BIN=$HYPER_DIR/target/release/hyper-peer
MAY_DIR=$BENCH_DIR/peers/may-minihttp-peer
MAY_BIN=$MAY_DIR/target/release/may-minihttp-peer
EPOLL_SRC=$BENCH_DIR/peers/epoll-peer/epoll.c
PYTHON_BIN=$(python3 -c 'import sys; print(sys.executable)') # not a version-manager shim
# barehttp is built even with SKIP_BUILD=1 (a no-op when it is current):
# `cargo test --release` leaves in target/release a binary built with the
# dev-dependencies' features, tokio's `test-util` among them, whose clock
# reads take a lock (about 280 more instructions per keep-alive request).
if selected barehttp; then
    command -v cargo >/dev/null || die "cargo not found"
    log "bench: cargo build --release (barehttp)"
    (cd "$ROOT" && cargo build --release --quiet --bin barehttp)
fi
if [[ "$SKIP_BUILD" != 1 ]]; then
    command -v cargo >/dev/null || die "cargo not found"
    if selected hyper; then
        log "bench: cargo build --release (hyper peer)"
        (cd "$HYPER_DIR" && cargo build --release --quiet --target-dir "$HYPER_DIR/target")
    fi
    if selected may_minihttp; then
        log "bench: cargo build --release (may_minihttp peer)"
        (cd "$MAY_DIR" && cargo build --release --quiet --target-dir "$MAY_DIR/target")
    fi
fi
for s in "${SERVER_LIST[@]}"; do
    case $s in
    barehttp) [[ -x "$BAREHTTP_BIN" ]] || die "no $BAREHTTP_BIN" ;;
    hyper) [[ -x "$HYPER_BIN" ]] || die "no $HYPER_BIN" ;;
    may_minihttp) [[ -x "$MAY_BIN" ]] || die "no $MAY_BIN" ;;
    esac
done

# --- temp dir, cleanup -----------------------------------------------------

TMP=$(mktemp -d "${TMPDIR:-/tmp}/barehttp-bench.XXXXXX")
chmod 755 "$TMP"
DATA=$TMP/data
REC=$TMP/records.jsonl
: >"$REC"
declare -A SERVER_PID=()
declare -A DEAD=()
IDLE_PID=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$IDLE_PID" ]]; then
        kill "$IDLE_PID" 2>/dev/null || true
        wait "$IDLE_PID" 2>/dev/null || true
    fi
    local name pid
    for name in "${!SERVER_PID[@]}"; do
        pid=${SERVER_PID[$name]}
        kill -TERM "$pid" 2>/dev/null || true
    done
    for name in "${!SERVER_PID[@]}"; do
        pid=${SERVER_PID[$name]}
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ "$KEEP_TMP" == 1 ]]; then
        log "bench: kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- data ------------------------------------------------------------------

mkdir -p "$DATA"
python3 - "$DATA" <<'PY'
import random, sys, os
d = sys.argv[1]
rng = random.Random(20240601)
with open(os.path.join(d, "1k.bin"), "wb") as f:
    f.write(rng.randbytes(1024))
with open(os.path.join(d, "1m.bin"), "wb") as f:
    f.write(rng.randbytes(1 << 20))
# 64 KiB of English-like text: real words, sentences and paragraphs, so it
# compresses like prose (roughly 3:1 with gzip -1), not like a repeated string.
words = ("the of and to in is that it was for on are as with his they at be this "
         "from have or by one had not but what all were when we there can an your "
         "which their said if do will each about how up out them then she many some "
         "so these would other into has more her two like him see time could no make "
         "than first been its who now people my made over did down only way find use "
         "may water long little very after words called just where most know get "
         "through back much before go good new write our used me man too any day "
         "same right look think also around another came come work three word must "
         "because does part even place well such here take why things help put years "
         "different away again off went old number great tell men say small every "
         "found still between name should home big give air line set own under read "
         "last never us left end along while might next sound below saw something "
         "thought both few those always looked show large often together asked house "
         "server request response header connection socket buffer kernel thread").split()
out, size = [], 0
while size < 65536:
    n = rng.randint(6, 18)
    s = " ".join(rng.choice(words) for _ in range(n))
    s = s[0].upper() + s[1:] + rng.choice([".", ".", ".", "?", "!"]) 
    s += "\n\n" if rng.random() < 0.15 else " "
    out.append(s)
    size += len(s)
text = "".join(out).encode()[:65536]
with open(os.path.join(d, "64k.txt"), "wb") as f:
    f.write(text)
PY
# A document root for the servers that answer GET / from a file (lighttpd,
# h2o, python): an empty index.html, and files/ for python's /files/ paths.
WWW=$TMP/www
mkdir -p "$WWW"
: >"$WWW/index.html"
ln -s "$DATA" "$WWW/files"
chmod -R a+rX "$DATA" "$WWW"

# The epoll floor is one C file, compiled for every run into the temp dir.
EPOLL_BIN=$TMP/epoll-peer
if selected epoll; then
    cc -O2 -o "$EPOLL_BIN" "$EPOLL_SRC" || die "cc $EPOLL_SRC failed"
fi

# --- JSON helpers ----------------------------------------------------------

json_str() {
    local s
    s=$(printf '%s' "$1" | tr -d '\000-\010\013\014\016-\037')
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\n'/\\n}
    s=${s//$'\t'/ }
    s=${s//$'\r'/}
    printf '"%s"' "$s"
}
emit() { printf '%s\n' "$1" >>"$REC"; }
emit_check() { # scenario server status detail
    emit "{\"type\":\"check\",\"scenario\":$(json_str "$1"),\"server\":$(json_str "$2"),\"status\":$(json_str "$3"),\"detail\":$(json_str "$4")}"
}

# --- process accounting ----------------------------------------------------

proc_tree() { # pid and all its descendants (nginx: master + worker; h2o: server + crash handler)
    local c
    echo "$1"
    # shellcheck disable=SC2013 # the children files are space-separated pids
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        proc_tree "$c"
    done
}
cpu_ticks() { # utime+stime of the tree, in clock ticks
    local total=0 p s f
    for p in $(proc_tree "$1"); do
        s=$(cat /proc/"$p"/stat 2>/dev/null) || continue
        s=${s##*) }
        read -r -a f <<<"$s"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}
rss_kib() { # VmRSS of the tree, KiB
    local total=0 p v
    for p in $(proc_tree "$1"); do
        v=$(awk '/^VmRSS:/ {print $2}' /proc/"$p"/status 2>/dev/null) || continue
        total=$((total + ${v:-0}))
    done
    echo "$total"
}
alive() { [[ -n "${SERVER_PID[$1]:-}" ]] && kill -0 "${SERVER_PID[$1]}" 2>/dev/null; }

# --- servers ---------------------------------------------------------------

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

fill_template() { # template port dir → the config on stdout
    sed -e "s|@PORT@|$2|g" -e "s|@DATA@|$DATA|g" -e "s|@WWW@|$WWW|g" -e "s|@DIR@|$3|g" "$1"
}

start_server() {
    local name=$1 port=${PORT[$1]}
    port_open "$port" && die "port $port (for $name) is already in use; set PORT_BASE"
    case $name in
    barehttp)
        taskset -c "$SERVER_CPU" "$BAREHTTP_BIN" --host 127.0.0.1 -p "$port" \
            --threads 1 --quiet --directory "$DATA" >"$TMP/barehttp.log" 2>&1 &
        ;;
    nginx)
        mkdir -p "$TMP/nginx/tmp"
        sed -e "s|@PORT@|$port|g" -e "s|@DATA@|$DATA|g" "$BENCH_DIR/nginx.conf" >"$TMP/nginx/nginx.conf"
        taskset -c "$SERVER_CPU" nginx -p "$TMP/nginx/" -c "$TMP/nginx/nginx.conf" \
            -e "$TMP/nginx/error.log" >"$TMP/nginx.log" 2>&1 &
        ;;
    hyper)
        taskset -c "$SERVER_CPU" "$HYPER_BIN" --host 127.0.0.1 -p "$port" \
            --directory "$DATA" >"$TMP/hyper.log" 2>&1 &
        ;;
    lighttpd)
        mkdir -p "$TMP/lighttpd"
        cp "$BENCH_DIR/lighttpd-echo.lua" "$TMP/lighttpd/echo.lua"
        fill_template "$BENCH_DIR/lighttpd.conf" "$port" "$TMP/lighttpd" >"$TMP/lighttpd/lighttpd.conf"
        taskset -c "$SERVER_CPU" lighttpd -D -f "$TMP/lighttpd/lighttpd.conf" >"$TMP/lighttpd.log" 2>&1 &
        ;;
    may_minihttp)
        taskset -c "$SERVER_CPU" "$MAY_BIN" --host 127.0.0.1 -p "$port" \
            --directory "$DATA" >"$TMP/may_minihttp.log" 2>&1 &
        ;;
    epoll)
        taskset -c "$SERVER_CPU" "$EPOLL_BIN" --host 127.0.0.1 -p "$port" >"$TMP/epoll.log" 2>&1 &
        ;;
    h2o)
        mkdir -p "$TMP/h2o"
        fill_template "$BENCH_DIR/h2o.yaml" "$port" "$TMP/h2o" >"$TMP/h2o/h2o.yaml"
        taskset -c "$SERVER_CPU" h2o -m worker -c "$TMP/h2o/h2o.yaml" >"$TMP/h2o.log" 2>&1 &
        ;;
    python)
        taskset -c "$SERVER_CPU" "$PYTHON_BIN" -m http.server --bind 127.0.0.1 \
            --directory "$WWW" "$port" >"$TMP/python.log" 2>&1 &
        ;;
    esac
    SERVER_PID[$name]=$!
    for _ in $(seq 100); do
        port_open "$port" && return 0
        alive "$name" || break
        sleep 0.1
    done
    log "bench: $name did not start listening on $port; its log:"
    tail -n 20 "$TMP/$name.log" >&2 || true
    tail -n 20 "$TMP/$name/error.log" >&2 2>/dev/null || true
    DEAD[$name]="did not start"
    return 1
}

# --- correctness checks (curl, plus probe.py for what curl cannot do) -------

CHECK_STATUS=""
CHECK_DETAIL=""
curl_get() { # path body-file header-file [curl args...] → prints the status code
    local path=$1 body=$2 headers=$3 code
    shift 3
    : >"$body"
    : >"$headers"
    code=$(curl -sS --max-time 10 -o "$body" -D "$headers" -w '%{http_code}' "$@" \
        "http://127.0.0.1:$PORT_NOW$path" 2>"$TMP/curl.err") || true
    printf '%s' "${code:-000}"
}
header_of() { # name file → value of the last such header field
    grep -i "^$1:" "$2" | tail -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//; s/ *$//' || true
}
fail() { CHECK_STATUS=FAIL; CHECK_DETAIL=$1; }

check_get_file() { # path expected-file [curl args...] ; sets CHECK_*
    local path=$1 expect=$2 code
    shift 2
    code=$(curl_get "$path" "$TMP/body" "$TMP/headers" "$@")
    CURL_ERR=$(head -c 200 "$TMP/curl.err")
    if [[ "$code" != 200 ]]; then
        fail "GET $path: status $code${CURL_ERR:+ ($CURL_ERR)}"
        return
    fi
    if ! cmp -s "$TMP/body" "$expect"; then
        fail "GET $path: body differs from the expected $(stat -c %s "$expect") bytes (got $(stat -c %s "$TMP/body"))"
    fi
}

check() { # scenario server ; sets CHECK_STATUS (ok|FAIL|no gzip), CHECK_DETAIL
    local sc=$1 sv=$2 r ct ce
    PORT_NOW=${PORT[$sv]}
    CHECK_STATUS=ok
    CHECK_DETAIL=""
    : >"$TMP/empty"
    case $sc in
    plaintext | idle)
        check_get_file / "$TMP/empty"
        ;;
    pipeline)
        check_get_file / "$TMP/empty"
        [[ $CHECK_STATUS == ok ]] || return 0
        r=$(python3 "$BENCH_DIR/probe.py" pipeline 127.0.0.1 "$PORT_NOW" "$PIPELINE_DEPTH" /) ||
            fail "pipelined $PIPELINE_DEPTH x GET /: $r"
        ;;
    echo)
        printf '%s' "$ECHO_TEXT" >"$TMP/echo.expected"
        check_get_file "/echo/$ECHO_TEXT" "$TMP/echo.expected"
        [[ $CHECK_STATUS == ok ]] || return 0
        ct=$(header_of content-type "$TMP/headers")
        [[ "${ct,,}" == text/plain* ]] || fail "GET /echo/$ECHO_TEXT: Content-Type '$ct', not text/plain"
        ;;
    static-1k) check_get_file /files/1k.bin "$DATA/1k.bin" ;;
    static-1m) check_get_file /files/1m.bin "$DATA/1m.bin" ;;
    gzip-64k)
        r=$(curl_get /files/64k.txt "$TMP/body" "$TMP/headers" -H 'Accept-Encoding: gzip')
        CURL_ERR=$(head -c 200 "$TMP/curl.err")
        if [[ "$r" != 200 ]]; then
            fail "GET /files/64k.txt (Accept-Encoding: gzip): status $r${CURL_ERR:+ ($CURL_ERR)}"
            return 0
        fi
        ce=$(header_of content-encoding "$TMP/headers")
        if [[ "${ce,,}" == gzip ]]; then
            if ! gunzip -c <"$TMP/body" 2>/dev/null | cmp -s - "$DATA/64k.txt"; then
                fail "Content-Encoding: gzip, but the body does not gunzip to the file"
            else
                CHECK_DETAIL="gzip $(stat -c %s "$TMP/body") bytes for 65536"
            fi
        elif [[ -z "$ce" ]]; then
            if cmp -s "$TMP/body" "$DATA/64k.txt"; then
                CHECK_STATUS="no gzip"
                CHECK_DETAIL="answered the file uncompressed (no Content-Encoding) despite Accept-Encoding: gzip"
            else
                fail "no Content-Encoding and the body differs from the file"
            fi
        else
            fail "unexpected Content-Encoding: $ce"
        fi
        ;;
    close)
        check_get_file / "$TMP/empty" -H 'Connection: close'
        [[ $CHECK_STATUS == ok ]] || return 0
        # probe.py: the response must announce the close (Connection: close,
        # or HTTP/1.0 without keep-alive) and the server must then close.
        if ! r=$(python3 "$BENCH_DIR/probe.py" close 127.0.0.1 "$PORT_NOW" /); then
            if [[ $r == "ignores close: "* ]]; then
                CHECK_STATUS="ignores close"
                CHECK_DETAIL=${r#ignores close: }
            else
                fail "Connection: close: $r"
            fi
        fi
        ;;
    esac
    return 0
}

# --- timed runs --------------------------------------------------------------

scenario_request() { # scenario → sets REQ_PATH, REQ_SCRIPT, REQ_HEADERS[]
    REQ_PATH=/
    REQ_SCRIPT=$BENCH_DIR/summary.lua
    REQ_HEADERS=()
    case $1 in
    pipeline) REQ_SCRIPT=$BENCH_DIR/pipeline.lua ;;
    echo) REQ_PATH=/echo/$ECHO_TEXT ;;
    static-1k) REQ_PATH=/files/1k.bin ;;
    static-1m) REQ_PATH=/files/1m.bin ;;
    gzip-64k)
        REQ_PATH=/files/64k.txt
        REQ_HEADERS=(-H 'Accept-Encoding: gzip')
        ;;
    close) REQ_HEADERS=(-H 'Connection: close') ;;
    esac
}

WRK_JSON=""
WRK_TICKS=0
wrk_once() { # scenario server seconds → sets WRK_JSON, WRK_TICKS; 1 on failure
    local sc=$1 sv=$2 secs=$3 pid=${SERVER_PID[$2]} t0 t1 out
    scenario_request "$sc"
    t0=$(cpu_ticks "$pid")
    out=$(PIPELINE_DEPTH=$PIPELINE_DEPTH taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${secs}s" \
        --timeout 10s -s "$REQ_SCRIPT" "${REQ_HEADERS[@]}" "http://127.0.0.1:${PORT[$sv]}$REQ_PATH" 2>&1) || true
    t1=$(cpu_ticks "$pid")
    WRK_TICKS=$((t1 - t0))
    WRK_JSON=$(grep '^BENCHJSON ' <<<"$out" | tail -n 1 | cut -d' ' -f2-) || true
    if [[ -z "$WRK_JSON" ]]; then
        WRK_JSON="wrk gave no summary: $(tail -c 300 <<<"$out")"
        return 1
    fi
}

describe_run() { # json ticks → "N req/s, X MiB/s, Y us/req"
    python3 -c '
import json, sys
w = json.loads(sys.argv[1]); ticks = int(sys.argv[2]); tck = int(sys.argv[3])
s = w["duration_us"] / 1e6; n = max(w["requests"], 1)
e = {k: v for k, v in w["errors"].items() if v}
print("%9.0f req/s %8.1f MiB/s %7.2f us/req%s" % (w["requests"] / s, w["bytes"] / s / 2**20,
      ticks / tck * 1e6 / n, ("  errors " + str(e)) if e else ""))' "$1" "$2" "$CLK_TCK"
}

mark_dead_if_gone() { # server scenario
    if ! alive "$1"; then
        DEAD[$1]="exited during $2"
        log "bench: $1 exited during $2; the tail of its log:"
        tail -n 20 "$TMP/$1.log" >&2 || true
        emit_check "$2" "$1" FAIL "server process exited during the timed runs"
        return 0
    fi
    return 1
}

timed_run() { # scenario server run-index (0 = warm-up)
    local sc=$1 sv=$2 idx=$3 secs=$DURATION warm=false idle_json="null" rss="null"
    local r0 r1 r2 ready
    ((idx > 0)) || { secs=$WARMUP; warm=true; }
    ((secs > 0)) || return 0
    if [[ $sc == idle && $idx -gt 0 ]]; then
        rm -f "$TMP/idle.ready" "$TMP/idle.stop"
        r0=$(rss_kib "${SERVER_PID[$sv]}")
        python3 "$BENCH_DIR/idle.py" --port "${PORT[$sv]}" --count "$IDLE_CONNS" \
            --ready "$TMP/idle.ready" --stop "$TMP/idle.stop" --hold 900 >"$TMP/idle.out" 2>"$TMP/idle.err" &
        IDLE_PID=$!
        for _ in $(seq 3000); do
            [[ -e "$TMP/idle.ready" ]] && break
            kill -0 "$IDLE_PID" 2>/dev/null || break
            sleep 0.1
        done
        if [[ ! -e "$TMP/idle.ready" ]]; then
            kill "$IDLE_PID" 2>/dev/null || true
            wait "$IDLE_PID" 2>/dev/null || true
            IDLE_PID=""
            emit_check "$sc" "$sv" FAIL "idle.py did not get its connections open: $(tail -c 300 "$TMP/idle.err")"
            return 0
        fi
        sleep 0.5 # let the server settle after the connection burst
        r1=$(rss_kib "${SERVER_PID[$sv]}")
    fi
    if ! wrk_once "$sc" "$sv" "$secs"; then
        emit_check "$sc" "$sv" FAIL "run $idx: $WRK_JSON"
        WRK_JSON=null
    fi
    if [[ $sc == idle && $idx -gt 0 ]]; then
        r2=$(rss_kib "${SERVER_PID[$sv]}")
        touch "$TMP/idle.stop"
        wait "$IDLE_PID" 2>/dev/null || true
        IDLE_PID=""
        idle_json=$(tail -n 1 "$TMP/idle.out")
        [[ -n "$idle_json" ]] || idle_json=$(cat "$TMP/idle.ready")
        rss="{\"before\":$r0,\"idle\":$r1,\"after\":$r2}"
        ready=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%d/%d answered, %d still open at the end" % (d["answered"], d["wanted"], d.get("held_at_end", -1)))' "$idle_json")
        log "      idle: $ready; RSS ${r0} -> ${r1} -> ${r2} KiB"
        if ! python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(d["answered"] != d["wanted"])' "$idle_json"; then
            emit_check "$sc" "$sv" FAIL "idle connections: $ready; $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["reasons"])' "$idle_json")"
        fi
    fi
    emit "{\"type\":\"run\",\"scenario\":\"$sc\",\"server\":\"$sv\",\"run\":$idx,\"warmup\":$warm,\"seconds\":$secs,\"cpu_ticks\":$WRK_TICKS,\"clk_tck\":$CLK_TCK,\"wrk\":$WRK_JSON,\"rss_kib\":$rss,\"idle\":$idle_json}"
    if [[ "$WRK_JSON" != null ]]; then
        log "    $(printf '%-9s %-8s %s' "$sc" "$sv" "$($warm && echo warm-up || echo "run $idx")"): $(describe_run "$WRK_JSON" "$WRK_TICKS")"
    fi
}

# --- main --------------------------------------------------------------------

STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "bench: scenarios: ${SCENARIO_LIST[*]}"
log "bench: servers:   ${SERVER_LIST[*]} (on core $SERVER_CPU; wrk on core $CLIENT_CPU)"
log "bench: ${RUNS} x ${DURATION}s runs + ${WARMUP}s warm-up, wrk -t1 -c$CONNS; load average $LOADAVG_START"

for sv in "${SERVER_LIST[@]}"; do
    start_server "$sv" || true
done

for sc in "${SCENARIO_LIST[@]}"; do
    log "== $sc"
    active=()
    for sv in "${SERVER_LIST[@]}"; do
        if why=$(unsupported "$sv" "$sc"); then
            emit_check "$sc" "$sv" unsupported "$why"
            log "    check $sv: unsupported — $why"
            continue
        fi
        if [[ -n "${DEAD[$sv]:-}" ]] || ! alive "$sv"; then
            emit_check "$sc" "$sv" FAIL "server not running (${DEAD[$sv]:-exited})"
            log "    check $sv: FAIL (server not running)"
            continue
        fi
        check "$sc" "$sv"
        emit_check "$sc" "$sv" "$CHECK_STATUS" "$CHECK_DETAIL"
        log "    check $sv: $CHECK_STATUS${CHECK_DETAIL:+ — $CHECK_DETAIL}"
        [[ $CHECK_STATUS == ok ]] && active+=("$sv")
    done
    for idx in $(seq 0 "$RUNS"); do # 0 is the warm-up; servers alternate within each round
        for sv in "${active[@]}"; do
            [[ -z "${DEAD[$sv]:-}" ]] || continue
            timed_run "$sc" "$sv" "$idx"
            mark_dead_if_gone "$sv" "$sc" || true
        done
    done
done

# --- results -------------------------------------------------------------------

version_of() { "$@" 2>&1 | head -n 1 | tr -d '\r' || true; }
lock_version() { # Cargo.lock crate → "crate X.Y.Z"
    grep -A1 "^name = \"$2\"\$" "$1" 2>/dev/null | sed -n "s/^version = \"\(.*\)\"/$2 \1/p"
}
server_version() { # server → its version, as one line
    case $1 in
    barehttp) version_of "$BAREHTTP_BIN" --version ;;
    nginx) version_of nginx -v | sed 's/^nginx version: //' ;;
    hyper) lock_version "$HYPER_DIR/Cargo.lock" hyper ;;
    lighttpd) version_of lighttpd -v | sed 's/ - a light.*//' ;;
    may_minihttp)
        printf '%s (%s)' "$(lock_version "$MAY_DIR/Cargo.lock" may_minihttp)" "$(lock_version "$MAY_DIR/Cargo.lock" may)" ;;
    epoll) printf 'epoll.c, cc -O2: %s' "$(version_of cc --version)" ;;
    h2o) version_of h2o -v ;;
    python) printf '%s http.server' "$(version_of "$PYTHON_BIN" --version)" ;;
    esac
}
mkdir -p "$RESULTS_DIR"
{
    printf '{\n"schema": 1,\n"meta": {\n'
    printf '  "started": %s,\n' "$(json_str "$STARTED")"
    printf '  "finished": %s,\n' "$(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
    printf '  "git_commit": %s,\n' "$(json_str "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)")"
    printf '  "git_dirty": %s,\n' "$( [[ -n "$(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null)" ]] && echo true || echo false)"
    printf '  "kernel": %s,\n' "$(json_str "$(uname -sr)")"
    printf '  "cpu": %s,\n' "$(json_str "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')")"
    printf '  "nproc": %s,\n' "$(nproc)"
    printf '  "loadavg_start": %s,\n' "$(json_str "$LOADAVG_START")"
    printf '  "loadavg_end": %s,\n' "$(json_str "$(cut -d' ' -f1-3 /proc/loadavg)")"
    printf '  "duration_s": %s, "runs": %s, "warmup_s": %s, "conns": %s, "idle_conns": %s, "pipeline_depth": %s,\n' \
        "$DURATION" "$RUNS" "$WARMUP" "$CONNS" "$IDLE_CONNS" "$PIPELINE_DEPTH"
    printf '  "server_cpu": %s, "client_cpu": %s, "clk_tck": %s,\n' "$(json_str "$SERVER_CPU")" "$(json_str "$CLIENT_CPU")" "$CLK_TCK"
    printf '  "versions": {\n'
    for sv in "${SERVER_LIST[@]}"; do
        printf '    %s: %s,\n' "$(json_str "$sv")" "$(json_str "$(server_version "$sv")")"
    done
    printf '    "wrk": %s,\n' "$(json_str "$(version_of wrk -v | sed 's/ *Copyright.*//')")"
    printf '    "rustc": %s\n' "$(json_str "$(version_of rustc --version)")"
    printf '  }\n},\n'
    printf '"scenarios": [%s],\n' "$(for s in "${SCENARIO_LIST[@]}"; do printf '"%s",' "$s"; done | sed 's/,$//')"
    printf '"servers": [%s],\n' "$(for s in "${SERVER_LIST[@]}"; do printf '"%s",' "$s"; done | sed 's/,$//')"
    printf '"records": [\n'
    sed '$!s/$/,/' "$REC"
    printf ']\n}\n'
} >"$RESULTS_DIR/latest.json"

mkdir -p "$RESULTS_DIR/logs"
# The last lines of each server's output (python's http.server logs every
# request to stderr and has no switch to stop it).
for sv in "${SERVER_LIST[@]}"; do
    if [[ -e "$TMP/$sv.log" ]]; then tail -n 1000 "$TMP/$sv.log" >"$RESULTS_DIR/logs/$sv.log"; fi
    if [[ -e "$TMP/$sv/error.log" ]]; then tail -n 1000 "$TMP/$sv/error.log" >"$RESULTS_DIR/logs/$sv-error.log"; fi
done

python3 "$BENCH_DIR/report.py" "$RESULTS_DIR/latest.json"
log "bench: wrote $RESULTS_DIR/latest.json, latest.md, latest.svg"
