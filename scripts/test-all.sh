#!/usr/bin/env bash
# The whole test run (what CI runs via .ci/run). Every stage must pass; the first failing stage
# stops the run with a non-zero exit. Each stage prints a banner and its duration.
#
#   deps         scripts/install-test-deps.sh (cached under target/test-deps/), then env.sh is sourced
#   fmt          cargo fmt --check
#   clippy       cargo clippy --all-targets -- -D warnings
#   test         cargo test (one invocation: lib, bins, integration tests, examples built, doctests)
#   header       scripts/check-header.sh                (C header up to date, compiles as C and C++)
#   ffi-c        make -C ffi-tests/c                    (C/C++ tests of the C ABI)
#   ffi-go       cd ffi-tests/go && go test -race ./... (Go tests of the C ABI)
#   conformance  scripts/conformance.sh (official MCP conformance client scenarios)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CURRENT_STAGE=""
STAGE_START=$SECONDS
RUN_START=$SECONDS
SUMMARY=()

on_exit() {
    local rc=$?
    if [ "$rc" -ne 0 ] && [ -n "$CURRENT_STAGE" ]; then
        echo
        echo "=== FAILED: stage '$CURRENT_STAGE' (exit $rc) after $((SECONDS - STAGE_START))s"
    fi
}
trap on_exit EXIT

# stage NAME FUNCTION: runs FUNCTION with errexit in force (never call it from an `if`/`||`).
stage() {
    CURRENT_STAGE="$1"
    STAGE_START=$SECONDS
    echo
    echo "=== stage: $1 ==="
    "$2"
    local took=$((SECONDS - STAGE_START))
    echo "=== stage: $1 done in ${took}s"
    SUMMARY+=("$(printf '%-12s %5ss' "$1" "$took")")
    CURRENT_STAGE=""
}

stage_deps() {
    bash scripts/install-test-deps.sh
    # shellcheck disable=SC1091
    source target/test-deps/env.sh # exports MCPSTORE_* for the tests below
}

stage_fmt() {
    cargo fmt --check
}

stage_clippy() {
    cargo clippy --all-targets -- -D warnings
}

stage_test() {
    cargo test
}

# The C header equals a fresh cbindgen generation and compiles as C99/C11/C++17.
stage_header() {
    bash scripts/check-header.sh
}

# C/C++ tests of the C ABI under ASan/LSan/UBSan (the Makefile builds the Rust static library
# and the demo server with cargo first).
stage_ffi_c() {
    make -C ffi-tests/c
}

# Go tests of the C ABI via cgo. Go is Debian's golang-go (1.19): keep go.mod at `go 1.19`.
# The cgo package links <repo>/target/debug/libmcpstore.a: build it there first.
stage_ffi_go() {
    export GOPATH="$ROOT/target/go" GOCACHE="$ROOT/target/go-cache"
    CARGO_TARGET_DIR="$ROOT/target" cargo build --lib --bin mcpstore-demo-server
    (cd ffi-tests/go && MCPS_DEMO_SERVER="$ROOT/target/debug/mcpstore-demo-server" go test -race -count=1 ./...)
}

stage_conformance() {
    bash scripts/conformance.sh
}

stage deps stage_deps
stage fmt stage_fmt
stage clippy stage_clippy
stage test stage_test
stage header stage_header
stage ffi-c stage_ffi_c
stage ffi-go stage_ffi_go
stage conformance stage_conformance

echo
echo "=== all stages passed in $((SECONDS - RUN_START))s"
printf '    %s\n' "${SUMMARY[@]}"
