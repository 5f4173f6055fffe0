#!/usr/bin/env bash
# The whole test run (what CI runs via .ci/run). Every stage must pass; the first failing stage
# stops the run with a non-zero exit. Each stage prints a banner and its duration.
#
#   deps         scripts/install-test-deps.sh (cached under target/test-deps/), then env.sh is sourced
#   fmt          cargo fmt --check
#   clippy       cargo clippy --workspace --all-targets --features bench-internals -- -D warnings
#   test         cargo test (the whole workspace in one invocation: the library, the demo server and
#                the CLI; unit, integration, examples built, doctests)
#   fuzz         scripts/fuzz.sh TARGET 5 for every target (a smoke pass of the AFL++ fuzz targets)
#   header       scripts/check-header.sh                (C header up to date, compiles as C and C++)
#   ffi-c        make -C ffi-tests/c                    (C/C++ tests of the C ABI)
#   valgrind     make -C ffi-tests/c valgrind           (the C/C++ tests, built without sanitizers,
#                under valgrind memcheck: no error, no definitely lost byte)
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
    cargo clippy --workspace --all-targets --features bench-internals -- -D warnings
}

stage_test() {
    # `cargo test` builds only the rlib; tests/lib_symbols.rs inspects the C libraries as well.
    cargo build --lib
    cargo test
}

# A smoke pass of every fuzz target: a few seconds each from the seeds, failing on any crash or
# hang (the long runs: `bash scripts/fuzz.sh TARGET SECONDS`).
stage_fuzz() {
    local target
    for target in $(bash scripts/fuzz.sh); do
        FUZZ_OUT="$ROOT/target/fuzz/smoke" FUZZ_FRESH=1 bash scripts/fuzz.sh "$target" "${MCPSTORE_FUZZ_SECONDS:-5}"
    done
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

# The same C/C++ tests under valgrind memcheck (a separate build without sanitizers).
stage_valgrind() {
    make -C ffi-tests/c valgrind
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
stage fuzz stage_fuzz
stage header stage_header
stage ffi-c stage_ffi_c
stage valgrind stage_valgrind
stage ffi-go stage_ffi_go
stage conformance stage_conformance

echo
echo "=== all stages passed in $((SECONDS - RUN_START))s"
printf '    %s\n' "${SUMMARY[@]}"
