#!/usr/bin/env bash
# Peer baselines: mcpstore's CLI bench (blocking calls from threads, --mode batch and --mode submit), the rmcp client bench and the raw
# ceilings (a hand-written stdio client; wrk for HTTP), against mcpstore's demo
# server and an rmcp echo server, over stdio and Streamable HTTP, at 1/16/64 in
# flight. Prints ONE markdown table on stdout; progress goes to stderr.
#
#   bench-peers/run.sh                      # everything, CALLS=10000 per row
#   CALLS=5000 RUNS=3 bench-peers/run.sh    # fewer calls, 3 runs, ranges min–max
#   ROWS='stdio' bench-peers/run.sh         # rows whose "client server transport inflight" matches
#
# Environment (defaults in brackets):
#   CALLS [10000]         calls per row (wrk rows run WRK_SECONDS instead)
#   RUNS [1]              measurements per row; >1 prints ranges
#   ROWS []               extended regex over "client server transport inflight",
#                         e.g. 'http', '^mcpstore ', 'rmcp-nodelay http 64'
#   INFLIGHT [1 16 64]    calls in flight
#   SERVERS [demo rmcp rmcp-nodelay]   also: demo-json (demo server, JSON replies; HTTP only)
#   WRK_SECONDS [3]       duration of each wrk row
#   CALLGRIND [1]         0 skips the instructions column
#   CG_CALLS [2000] CG_BASE [200]   callgrind: Ir per call = (Ir(CG_CALLS) - Ir(CG_BASE)) / difference
#   BATCH_SIZE [1000]     calls per batch_call of the mcpstore (batch) rows
#   MCPSTORE_BIN, MCPSTORE_DEMO_BIN [$CARGO_TARGET_DIR or repo target/release/...]
#   MCPSTORE_POOL [one]   one: a single session, like the other clients; default: the CLI's own pool
#   MCPSTORE_PROTOCOL [2025-11-25]   the version mcpstore speaks: the one the peers and the
#                         ceilings speak; auto: mcpstore's own choice (2026-07-28 where the
#                         server offers it, whose per-request _meta costs the server more);
#                         none: no --protocol flag (builds older than the flag, which speak 2025-11-25)
set -euo pipefail
shopt -s inherit_errexit # a failing client inside $(...) stops the run

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
CALLS=${CALLS:-10000}
RUNS=${RUNS:-1}
ROWS=${ROWS:-}
INFLIGHT=${INFLIGHT:-1 16 64}
SERVERS=${SERVERS:-demo rmcp rmcp-nodelay}
WRK_SECONDS=${WRK_SECONDS:-3}
CALLGRIND=${CALLGRIND:-1}
CG_CALLS=${CG_CALLS:-2000}
CG_BASE=${CG_BASE:-200}
BATCH_SIZE=${BATCH_SIZE:-1000}
MAIN_TARGET=${CARGO_TARGET_DIR:-$REPO/target}
MCPSTORE_BIN=${MCPSTORE_BIN:-$MAIN_TARGET/release/mcpstore}
MCPSTORE_DEMO_BIN=${MCPSTORE_DEMO_BIN:-$MAIN_TARGET/release/mcpstore-demo-server}
MCPSTORE_POOL=${MCPSTORE_POOL:-one}
MCPSTORE_PROTOCOL=${MCPSTORE_PROTOCOL:-2025-11-25}
BIN=$HERE/target/release
ARGS='{"message":"hi"}'
SERVER_PID=

log() { echo "[run.sh] $*" >&2; }
die() { log "error: $*"; exit 1; }

TMP=$(mktemp -d)
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

# need COMMAND PACKAGE: installs a missing Debian package (as root or with sudo).
need() {
    command -v "$1" >/dev/null && return 0
    local sudo=
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || { log "$1 missing and no sudo: its column is skipped"; return 1; }
        sudo=sudo
    fi
    log "installing $2"
    { $sudo apt-get install -y -qq "$2" || { $sudo apt-get update -qq && $sudo apt-get install -y -qq "$2"; }; } \
        >"$TMP/apt.log" 2>&1 || { log "could not install $2 (see apt-get)"; return 1; }
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# --- build ----------------------------------------------------------------
log "building bench-peers (release, own target dir $HERE/target)"
cargo build --release --quiet --manifest-path "$HERE/Cargo.toml" --target-dir "$HERE/target"
if [ ! -x "$MCPSTORE_BIN" ] || [ ! -x "$MCPSTORE_DEMO_BIN" ]; then
    log "building mcpstore and mcpstore-demo-server (release) in $REPO"
    (cd "$REPO" && cargo build --release --bin mcpstore --bin mcpstore-demo-server)
fi
[ -x "$MCPSTORE_BIN" ] || die "no mcpstore binary at $MCPSTORE_BIN (set MCPSTORE_BIN)"
[ -x "$MCPSTORE_DEMO_BIN" ] || die "no demo server at $MCPSTORE_DEMO_BIN (set MCPSTORE_DEMO_BIN)"
HAVE_WRK=0 HAVE_VG=0
if need wrk wrk; then HAVE_WRK=1; fi
if [ "$CALLGRIND" = 1 ] && need valgrind valgrind; then HAVE_VG=1; fi
command -v curl >/dev/null || die "curl is needed for the wrk rows' MCP session"

# mcpstore keeps a pool of sessions; by default here one session, carrying up to
# the row's in-flight count, as the rmcp client (one session) and the ceilings do.
if [ "$MCPSTORE_POOL" = one ]; then
    export MCPSTORE_MIN_CONNECTIONS=${MCPSTORE_MIN_CONNECTIONS:-1} MCPSTORE_MAX_CONNECTIONS=${MCPSTORE_MAX_CONNECTIONS:-1}
fi

# --- small helpers ----------------------------------------------------------
field() { grep -o "\"$2\":[-0-9.eE+]*" <<<"$1" | head -1 | cut -d: -f2; }
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }
commas() { awk -v n="$1" 'BEGIN { s = sprintf("%.0f", n); o = ""
    while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) }; print s o }'; }
fmt_ms() { awk -v v="$1" 'BEGIN { printf (v < 1 ? "%.3f" : v < 10 ? "%.2f" : "%.1f"), v }'; }
fmt_us() { awk -v v="$1" 'BEGIN { printf (v < 10 ? "%.2f" : "%.1f"), v }'; }
# wrk prints latencies as 812.00us / 1.23ms / 1.02s.
wrk_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v !~ /ms$/) n *= 1000; print n }'; }

# range FORMATTER VALUES...: the value, or min–max when there are several.
range() {
    local f=$1; shift
    local lo hi
    lo=$(printf '%s\n' "$@" | sort -g | head -1)
    hi=$(printf '%s\n' "$@" | sort -g | tail -1)
    lo=$($f "$lo")
    hi=$($f "$hi")
    if [ "$lo" = "$hi" ]; then echo "$lo"; else echo "$lo–$hi"; fi
}

# --- servers ----------------------------------------------------------------
stdio_command() {
    case $1 in
        demo) echo "$MCPSTORE_DEMO_BIN" ;;
        rmcp) echo "$BIN/rmcp-echo-server" ;;
    esac
}

# start_http SERVER: starts it on a free port; sets SERVER_PID and URL.
start_http() {
    local cmd
    case $1 in
        demo) cmd=("$MCPSTORE_DEMO_BIN" --http 127.0.0.1:0) ;;
        demo-json) cmd=("$MCPSTORE_DEMO_BIN" --http 127.0.0.1:0 --json) ;;
        rmcp) cmd=("$BIN/rmcp-echo-server" --http 127.0.0.1:0) ;;
        rmcp-nodelay) cmd=("$BIN/rmcp-echo-server" --http 127.0.0.1:0 --nodelay) ;;
        *) die "unknown server $1" ;;
    esac
    "${cmd[@]}" 2>"$TMP/server.err" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        URL=$(grep -o 'http://[^ ]*/mcp' "$TMP/server.err" | head -1 || true)
        [ -n "$URL" ] && return 0
        sleep 0.1
    done
    die "$1 did not print its address: $(cat "$TMP/server.err")"
}
stop_http() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

# mcp_session URL: initialize by hand, as wrk cannot; prints the session id.
mcp_session() {
    local h=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
    local sid
    sid=$(curl -s -D - -o /dev/null "${h[@]}" "$1" -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"wrk","version":"0"}}}' |
        tr -d '\r' | awk 'tolower($1) == "mcp-session-id:" { print $2 }')
    curl -s -o /dev/null "${h[@]}" -H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-11-25' "$1" \
        -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
    echo "$sid"
}

# --- clients: each measure_* prints "calls/s p50_ms p99_ms cpu_us_per_call" ---
# client_cmd CLIENT TRANSPORT TARGET INFLIGHT CALLS: sets CMD (also used under callgrind).
client_cmd() {
    local how=--stdio
    [ "$2" = http ] && how=--url
    case $1 in
        mcpstore | mcpstore-submit | mcpstore-batch)
            CMD=("$MCPSTORE_BIN" "$how" "$3" bench echo "$ARGS" --calls "$5" --concurrency "$4" --no-cache --json)
            [ "$MCPSTORE_PROTOCOL" = none ] || CMD+=(--protocol "$MCPSTORE_PROTOCOL")
            # Background calls through a completion queue: no thread waits for each call.
            if [ "$1" = mcpstore-submit ]; then CMD+=(--mode submit); fi
            # batch_call: one lane keeps INFLIGHT calls in flight on the session.
            if [ "$1" = mcpstore-batch ]; then CMD+=(--mode batch --batch-size "$BATCH_SIZE"); fi
            ;;
        rmcp) CMD=("$BIN/rmcp-bench-client" "$how" "$3" --calls "$5" --concurrency "$4") ;;
        raw) CMD=("$BIN/raw-stdio-ceiling" --stdio "$3" --calls "$5" --window "$4") ;;
    esac
}

check_errors() {
    local e
    e=$(field "$2" errors)
    [ "${e:-0}" = 0 ] || log "warning: $1: $e calls failed"
}

# mcpstore_cpu CLIENT TRANSPORT TARGET INFLIGHT CALLS: prints "own_cpu_us json". The CLI
# reaps its stdio server, so wait4 counts the server too; cpu-time around the
# server reports that part, which is subtracted.
mcpstore_cpu() {
    local target=$3 total ticks srv=0 out
    rm -f "$TMP/cli.cpu" "$TMP/srv.cpu"
    [ "$2" = stdio ] && target="$BIN/cpu-time $TMP/srv.cpu $3"
    client_cmd "$1" "$2" "$target" "$4" "$5"
    out=$("$BIN/cpu-time" "$TMP/cli.cpu" "${CMD[@]}" 2>>"$TMP/client.err") || die "mcpstore failed: $(tail -5 "$TMP/client.err")"
    read -r total ticks <"$TMP/cli.cpu"
    if [ "$ticks" -gt 0 ] && [ -f "$TMP/srv.cpu" ]; then srv=$(awk '{ s += $1 } END { print s }' "$TMP/srv.cpu"); fi
    echo "$((total - srv)) $out"
}

measure_mcpstore() { # CLIENT TRANSPORT TARGET INFLIGHT
    local first own json base own1
    first=$(mcpstore_cpu "$@" "$CALLS")
    read -r own json <<<"$first"
    check_errors mcpstore "$json"
    # A 1-call run of the same shape measures startup and warm-up, which the
    # other clients leave out of their own CPU figure.
    base=$(mcpstore_cpu "$@" 1)
    read -r own1 _ <<<"$base"
    echo "$(field "$json" calls_per_sec) $(field "$json" p50_ms) $(field "$json" p99_ms)" \
        "$(calc "($own - $own1) / ($CALLS - 1)")"
}

measure_peer() { # rmcp or raw: they report their own figures
    local json
    client_cmd "$@" "$CALLS"
    json=$("${CMD[@]}" 2>>"$TMP/client.err") || die "$1 failed: $(tail -5 "$TMP/client.err")"
    check_errors "$1" "$json"
    echo "$(field "$json" calls_per_s) $(field "$json" p50_ms) $(field "$json" p99_ms) $(field "$json" cpu_us_per_call)"
}

measure_wrk() { # TRANSPORT URL INFLIGHT
    local out sid requests total bad
    sid=$(mcp_session "$2")
    rm -f "$TMP/wrk.cpu"
    out=$(MCP_SESSION_ID=$sid "$BIN/cpu-time" "$TMP/wrk.cpu" \
        wrk -t1 -c"$3" -d"${WRK_SECONDS}s" --latency -s "$HERE/echo.lua" "$2")
    bad=$(awk '/Non-2xx|Socket errors/' <<<"$out")
    [ -z "$bad" ] || log "warning: wrk: $bad"
    requests=$(awk '/requests in/ { print $1 }' <<<"$out")
    read -r total _ <"$TMP/wrk.cpu"
    echo "$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")" \
        "$(wrk_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")" \
        "$(wrk_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")" \
        "$(calc "$total / $requests")"
}

# callgrind_ir CLIENT TRANSPORT TARGET INFLIGHT: user-space instructions per
# call of the client process alone (--trace-children=no: a stdio server runs natively).
callgrind_ir() {
    local n ir=()
    for n in "$CG_CALLS" "$CG_BASE"; do
        client_cmd "$1" "$2" "$3" "$4" "$n"
        valgrind --tool=callgrind --trace-children=no --callgrind-out-file="$TMP/cg.out" \
            "${CMD[@]}" >/dev/null 2>>"$TMP/callgrind.err" || { echo "–"; return; }
        ir+=("$(awk '/^totals:/ { print $2 }' "$TMP/cg.out")")
    done
    calc "(${ir[0]} - ${ir[1]}) / ($CG_CALLS - $CG_BASE)"
}

# --- the table ----------------------------------------------------------------
TABLE=()
row() { # CLIENT SERVER TRANSPORT TARGET INFLIGHT
    local client=$1 server=$2 transport=$3 target=$4 c=$5
    [[ -z "$ROWS" || "$client $server $transport $c" =~ $ROWS ]] || return 0
    log "$client -> $server over $transport, $c in flight"
    local cps=() p50=() p99=() cpu=() ir="–" r line a b d e
    [[ "$client" = mcpstore* ]] && export MCPSTORE_MAX_IN_FLIGHT_PER_CONNECTION=$((c > 32 ? c : 32))
    for ((r = 0; r < RUNS; r++)); do
        case $client in
            mcpstore*) line=$(measure_mcpstore "$client" "$transport" "$target" "$c") ;;
            wrk) line=$(measure_wrk "$transport" "$target" "$c") ;;
            *) line=$(measure_peer "$client" "$transport" "$target" "$c") ;;
        esac
        read -r a b d e <<<"$line"
        cps+=("$a") p50+=("$b") p99+=("$d") cpu+=("$e")
    done
    if [ "$HAVE_VG" = 1 ] && [ "$client" != wrk ]; then
        ir=$(callgrind_ir "$client" "$transport" "$target" "$c")
        [ "$ir" = "–" ] || ir=$(commas "$ir")
    fi
    local name=$client
    case $client in raw) name="raw ceiling" ;; wrk) name="wrk ceiling" ;; mcpstore-submit) name="mcpstore (submit)" ;; mcpstore-batch) name="mcpstore (batch)" ;; esac
    local srv=$server
    case $server in demo-json) srv="demo (JSON replies)" ;; rmcp-nodelay) srv="rmcp (TCP_NODELAY)" ;; esac
    local tr=stdio
    [ "$transport" = http ] && tr=HTTP
    TABLE+=("| $name | $srv | $tr | $c | $(range commas "${cps[@]}") | $(range fmt_ms "${p50[@]}") | $(range fmt_ms "${p99[@]}") | $(range fmt_us "${cpu[@]}") | $ir |")
}

for server in $SERVERS; do
    case $server in demo | rmcp) ;; *) continue ;; esac # the others are HTTP-only variants
    for c in $INFLIGHT; do
        for client in mcpstore mcpstore-batch mcpstore-submit rmcp raw; do row "$client" "$server" stdio "$(stdio_command "$server")" "$c"; done
    done
done
# wanted SERVER: does any HTTP row of this server pass the ROWS filter?
wanted() {
    local client c
    for client in mcpstore rmcp wrk; do
        for c in $INFLIGHT; do [[ -z "$ROWS" || "$client $1 http $c" =~ $ROWS ]] && return 0; done
    done
    return 1
}
for server in $SERVERS; do
    wanted "$server" || continue
    start_http "$server"
    for c in $INFLIGHT; do
        clients="mcpstore rmcp"
        [ "$HAVE_WRK" = 1 ] && clients="$clients wrk"
        for client in $clients; do row "$client" "$server" http "$URL" "$c"; done
    done
    stop_http
done

echo
echo "| client | server | transport | in flight | calls/s | p50 ms | p99 ms | CPU µs/call | instructions/call |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${TABLE[@]}"
echo
echo "$CALLS calls per row (wrk: ${WRK_SECONDS} s), $RUNS run(s) per row; $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%d)." \
    "mcpstore pool: $([ "$MCPSTORE_POOL" = one ] && echo "one session" || echo "the CLI's default");" \
    "protocol: $MCPSTORE_PROTOCOL (the peers: 2025-11-25)." \
    "CPU: the client process only, startup excluded." \
    "Instructions: callgrind, client only, (Ir($CG_CALLS calls) - Ir($CG_BASE calls)) / $((CG_CALLS - CG_BASE)), same in-flight count." \
    "Load average before / after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg)."
