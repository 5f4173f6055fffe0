#!/usr/bin/env bash
# System calls per sequential `echo` call, by kind, over Streamable HTTP and
# stdio against the demo server, counted under `strace -f` in the client
# process only (its threads included; the stdio server it spawns left out).
#
#   benches/syscalls.sh                     # this tree
#   benches/syscalls.sh --before main       # also a build of REV, side by side
#   CALLS=4000 benches/syscalls.sh ...      # calls per run (default 2000)
#   BEFORE_BIN=dir AFTER_BIN=dir benches/syscalls.sh   # binaries already built
#
# Each figure is (count of a run of CALLS+BASE calls - count of a run of BASE
# calls) / CALLS, so start-up, the handshake and warm-up cancel out.
# Binaries are built in release mode into $CARGO_TARGET_DIR (default
# ./target); a --before tree is exported with `git archive` and built into the
# same target directory (the dependencies are shared).
set -euo pipefail

CALLS=${CALLS:-2000}
BASE=${BASE:-200}
BEFORE=
while [ $# -gt 0 ]; do
    case $1 in
        --before) BEFORE=$2; shift 2 ;;
        --calls) CALLS=$2; shift 2 ;;
        *) echo "usage: $0 [--before REV] [--calls N]" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
log() { echo "syscalls: $*" >&2; }

if ! command -v strace >/dev/null; then
    log "installing strace"
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq strace >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq strace >/dev/null; fi
fi

# build SRC LABEL: release binaries of SRC copied to $TMP/LABEL/ (or those of
# $BEFORE_BIN / $AFTER_BIN when set).
build() {
    local given
    given=$([ "$2" = before ] && echo "${BEFORE_BIN:-}" || echo "${AFTER_BIN:-}")
    if [ -n "$given" ]; then
        mkdir -p "$TMP/$2"
        cp "$given/mcpstore" "$given/mcpstore-demo-server" "$TMP/$2/"
        return
    fi
    log "building $2 ($1)"
    (cd "$1" && cargo build --release -q -p mcpstore-cli -p mcpstore-demo-server)
    mkdir -p "$TMP/$2"
    cp "$CARGO_TARGET_DIR/release/mcpstore" "$CARGO_TARGET_DIR/release/mcpstore-demo-server" "$TMP/$2/"
}

# count LABEL TRANSPORT N: "NAME COUNT" lines of one run of N calls.
count() {
    local bin=$TMP/$1 how target out=$TMP/trace.$1.$2.$3
    if [ "$2" = http ]; then how=--url; target=$URL; else how=--stdio; target=$bin/mcpstore-demo-server; fi
    strace -f -qq -o "$out" "$bin/mcpstore" "$how" "$target" bench echo '{"message":"hi"}' \
        --calls "$3" --warmup 20 --no-cache --json >/dev/null
    python3 "$ROOT/benches/syscalls.py" "$out"
    rm -f "$out"
}

start_http() {
    "$TMP/$1/mcpstore-demo-server" --http 127.0.0.1:0 2>"$TMP/server.err" &
    SERVER_PID=$!
    URL=
    for _ in $(seq 100); do
        URL=$(grep -o 'http://[^ ]*/mcp' "$TMP/server.err" | head -1 || true)
        [ -n "$URL" ] && return 0
        sleep 0.1
    done
    log "the demo server did not print its address: $(cat "$TMP/server.err")"
    exit 1
}
stop_http() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

# per_call LABEL TRANSPORT: "NAME PER_CALL" lines into $TMP/LABEL.TRANSPORT.
per_call() {
    [ "$2" = http ] && start_http "$1"
    count "$1" "$2" "$BASE" >"$TMP/small"
    count "$1" "$2" "$((BASE + CALLS))" >"$TMP/large"
    [ "$2" = http ] && stop_http
    awk -v n="$CALLS" 'NR == FNR { small[$1] = $2; next }
        { d = ($2 - small[$1]) / n; if (d > 0.005 || d < -0.005) printf "%s %.2f\n", $1, d }' \
        "$TMP/small" "$TMP/large" >"$TMP/$1.$2"
}

LABELS=()
if [ -n "$BEFORE" ] || [ -n "${BEFORE_BIN:-}" ]; then
    if [ -z "${BEFORE_BIN:-}" ]; then
        mkdir -p "$TMP/src-before"
        git -C "$ROOT" archive "$BEFORE" | tar -x -C "$TMP/src-before"
    fi
    build "$TMP/src-before" before
    LABELS+=(before)
fi
build "$ROOT" after
LABELS+=(after)

for label in "${LABELS[@]}"; do
    for transport in http stdio; do
        log "$label over $transport: $BASE and $((BASE + CALLS)) calls under strace"
        per_call "$label" "$transport"
    done
done

# One table: a row per system call, a column per build and transport.
python3 - "$TMP" "$CALLS" "${LABELS[@]}" <<'EOF'
import sys
tmp, calls, labels = sys.argv[1], sys.argv[2], sys.argv[3:]
cols = [(l, t) for t in ("http", "stdio") for l in labels]
data = {}
for l, t in cols:
    with open(f"{tmp}/{l}.{t}") as f:
        data[(l, t)] = {name: float(v) for name, v in (line.split() for line in f)}
names = sorted({n for d in data.values() for n in d}, key=lambda n: -max(d.get(n, 0) for d in data.values()))
head = ["syscall"] + [f"{t} {l}" for l, t in cols]
print(f"System calls per sequential echo call ({calls} calls, client process only)\n")
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for n in names:
    print("| " + " | ".join([n] + [f"{data[c].get(n, 0):.2f}" for c in cols]) + " |")
print("| **total** | " + " | ".join(f"**{sum(data[c].values()):.2f}**" for c in cols) + " |")
EOF
