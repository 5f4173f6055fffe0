#!/usr/bin/env bash
# Installs everything mcpstore's tests need into target/test-deps/ (git-ignored):
#   target/test-deps/npm/   pinned npm packages from scripts/test-deps/package.json + package-lock.json
#                           (server-everything, server-filesystem, conformance, node@22 binary) via `npm ci`
#   target/test-deps/npm-ts-v2/  the TypeScript SDK v2 server packages (scripts/test-deps/ts-v2/) and a
#                           copy of tests/servers/ts_v2_server.mjs, where its imports resolve
#   target/test-deps/rmcp-target/  tests/servers/rmcp-server (an rmcp 3.11 server) built with cargo
#   target/test-deps/npm-alpha/  the pre-release conformance runner (0.2.0-alpha.12, `--requirements`)
#                           from scripts/test-deps/conformance-alpha/ in its own prefix (same package name)
#   target/test-deps/venv/  Python venv with the pinned `mcp` SDK from scripts/test-deps/requirements.txt
#   go (golang-go from Debian), only if `go` is not on PATH
#   target/test-deps/afl/   cargo-afl (pinned) and the AFL++ it builds (needs only a C compiler),
#                           for the fuzz targets (scripts/fuzz.sh)
#   valgrind (Debian's valgrind, for `make -C ffi-tests/c valgrind`), only if `valgrind` is not on PATH
#   target/test-deps/env.sh exports MCPSTORE_* absolute paths (source it before running tests)
#
# Idempotent: a step whose pinned inputs are unchanged since its last successful run is skipped.
# Any failure aborts the script with a non-zero exit: a missing test dependency must fail the run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SPEC="$ROOT/scripts/test-deps"
DEPS="$ROOT/target/test-deps"
NPM_DIR="$DEPS/npm"
VENV="$DEPS/venv"
LOG_DIR="$DEPS/logs"
mkdir -p "$DEPS" "$LOG_DIR"

step() { printf '[test-deps] %s\n' "$*"; }
die() { printf '[test-deps] ERROR: %s\n' "$*" >&2; exit 1; }

# Runs a command with its output sent to a log; on failure prints the log and aborts.
run_logged() {
    local log="$LOG_DIR/$1.log"; shift
    if ! "$@" >"$log" 2>&1; then
        printf '[test-deps] ERROR: command failed: %s\n----- %s -----\n' "$*" "$log" >&2
        cat "$log" >&2
        exit 1
    fi
}

# Hash of the files that pin a step (plus extra strings), used as its "already installed" stamp.
fingerprint() {
    local extra="$1"; shift
    { cat "$@"; printf '%s\n' "$extra"; } | sha256sum | cut -d' ' -f1
}

# ---------------------------------------------------------------- npm packages
install_npm() {
    command -v npm >/dev/null || die "npm not found (Node 20 + npm are expected on the machine)"
    local want stamp="$NPM_DIR/.installed"
    want="$(fingerprint "$(uname -m)" "$SPEC/package.json" "$SPEC/package-lock.json")"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$NPM_DIR/node_modules" ]; then
        step "npm packages: up to date, skipped"
        return
    fi
    step "npm packages: npm ci into target/test-deps/npm ..."
    rm -rf "$NPM_DIR"
    mkdir -p "$NPM_DIR"
    cp "$SPEC/package.json" "$SPEC/package-lock.json" "$NPM_DIR/"
    (cd "$NPM_DIR" && run_logged npm-ci npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
}

# ---------------------------------------------------------------- TypeScript SDK v2 server
install_ts_v2() {
    local dir="$DEPS/npm-ts-v2" spec="$SPEC/ts-v2" script="$ROOT/tests/servers/ts_v2_server.mjs"
    local want stamp="$DEPS/npm-ts-v2/.installed"
    want="$(fingerprint "$(uname -m)" "$spec/package.json" "$spec/package-lock.json")"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$dir/node_modules" ]; then
        step "TypeScript SDK v2 packages: up to date, skipped"
    else
        step "TypeScript SDK v2 packages: npm ci into target/test-deps/npm-ts-v2 ..."
        rm -rf "$dir"
        mkdir -p "$dir"
        cp "$spec/package.json" "$spec/package-lock.json" "$dir/"
        (cd "$dir" && run_logged npm-ci-ts-v2 npm ci --no-audit --no-fund --loglevel=error)
        echo "$want" >"$stamp"
    fi
    cp "$script" "$dir/ts_v2_server.mjs" # always the checked-in version
}

# ---------------------------------------------------------------- rmcp server
install_rmcp() {
    local src="$ROOT/tests/servers/rmcp-server" target="$DEPS/rmcp-target"
    local want stamp="$target/.installed"
    want="$(fingerprint "$(rustc --version)" "$src/Cargo.toml" "$src/Cargo.lock" "$src/src/main.rs")"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$target/release/rmcp-interop-server" ]; then
        step "rmcp server: up to date, skipped"
        return
    fi
    step "rmcp server: cargo build --release --locked (tests/servers/rmcp-server) ..."
    (cd "$src" && CARGO_TARGET_DIR="$target" run_logged cargo-rmcp cargo build --release --locked)
    echo "$want" >"$stamp"
}

# ---------------------------------------------------------------- pre-release conformance runner
# @modelcontextprotocol/conformance@0.2.0-alpha.12 (adds `--requirements <revision>`), beside the
# stable runner: the two have the same package name, so this one gets its own prefix. It runs on
# the Node 22 of the stable prefix.
install_npm_alpha() {
    local spec="$SPEC/conformance-alpha" dir="$DEPS/npm-alpha"
    local want stamp="$DEPS/npm-alpha/.installed"
    want="$(fingerprint "$(uname -m)" "$spec/package.json" "$spec/package-lock.json")"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$dir/node_modules" ]; then
        step "pre-release conformance runner: up to date, skipped"
        return
    fi
    step "pre-release conformance runner: npm ci into target/test-deps/npm-alpha ..."
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$spec/package.json" "$spec/package-lock.json" "$dir/"
    (cd "$dir" && run_logged npm-ci-alpha npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
}

# ---------------------------------------------------------------- python venv
install_venv() {
    command -v python3 >/dev/null || die "python3 not found"
    local want stamp="$VENV/.installed"
    want="$(fingerprint "$(python3 -c 'import sys; print(sys.version)')" "$SPEC/requirements.txt")"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
        step "python venv: up to date, skipped"
        return
    fi
    step "python venv: creating target/test-deps/venv and installing requirements.txt ..."
    rm -rf "$VENV"
    run_logged venv python3 -m venv "$VENV"
    run_logged pip "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-input -r "$SPEC/requirements.txt"
    echo "$want" >"$stamp"
}

# ---------------------------------------------------------------- go
install_go() {
    if command -v go >/dev/null; then
        step "go: $(go version | cut -d' ' -f3) already installed, skipped"
        return
    fi
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || die "go is missing and we are not root and have no sudo"
        sudo=(sudo)
    fi
    step "go: apt-get install golang-go ..."
    run_logged apt-update "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    run_logged apt-go "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends golang-go
    hash -r
    command -v go >/dev/null || die "golang-go installed but go is still not on PATH"
}

# ---------------------------------------------------------------- cargo-afl + AFL++
# The fuzzer of scripts/fuzz.sh. `cargo afl config --build` builds AFL++ from the sources
# bundled with cargo-afl into $XDG_DATA_HOME/afl.rs, kept here by setting XDG_DATA_HOME.
CARGO_AFL_VERSION=0.18.2 # = the `afl` crate in fuzz/Cargo.toml
install_afl() {
    command -v cc >/dev/null || die "no C compiler (cc): AFL++ is built from source"
    local dir="$DEPS/afl" want stamp="$DEPS/afl/.installed"
    want="$(fingerprint "$(rustc --version) $(uname -m) cargo-afl $CARGO_AFL_VERSION" /dev/null)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$dir/bin/cargo-afl" ]; then
        step "cargo-afl + AFL++: up to date, skipped"
        return
    fi
    step "cargo-afl + AFL++: cargo install cargo-afl@$CARGO_AFL_VERSION, cargo afl config --build ..."
    rm -rf "$dir"
    mkdir -p "$dir"
    run_logged cargo-afl cargo install cargo-afl --locked --version "$CARGO_AFL_VERSION" --root "$dir"
    run_logged afl-build env PATH="$dir/bin:$PATH" XDG_DATA_HOME="$dir/data" cargo afl config --build --force
    echo "$want" >"$stamp"
}

# ---------------------------------------------------------------- valgrind
install_valgrind() {
    if command -v valgrind >/dev/null; then
        step "valgrind: $(valgrind --version) already installed, skipped"
        return
    fi
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || die "valgrind is missing and we are not root and have no sudo"
        sudo=(sudo)
    fi
    step "valgrind: apt-get install valgrind ..."
    run_logged apt-update "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    run_logged apt-valgrind "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends valgrind
    hash -r
    command -v valgrind >/dev/null || die "valgrind installed but still not on PATH"
}

# ---------------------------------------------------------------- env.sh + checks
write_env() {
    local mods="$NPM_DIR/node_modules"
    local node22="$mods/node/bin/node"
    local everything="$mods/@modelcontextprotocol/server-everything/dist/index.js"
    local filesystem="$mods/@modelcontextprotocol/server-filesystem/dist/index.js"
    local conformance="$mods/@modelcontextprotocol/conformance/dist/index.js"
    local conformance_alpha="$DEPS/npm-alpha/node_modules/@modelcontextprotocol/conformance/dist/index.js"
    local python="$VENV/bin/python"
    local ts_v2="$DEPS/npm-ts-v2/ts_v2_server.mjs"
    local rmcp="$DEPS/rmcp-target/release/rmcp-interop-server"
    local f
    for f in "$node22" "$everything" "$filesystem" "$conformance" "$conformance_alpha" "$python" "$ts_v2" "$rmcp"; do
        [ -e "$f" ] || die "expected file missing after install: $f"
    done
    local v22
    v22="$("$node22" --version)" || die "node 22 binary does not run: $node22"
    case "$v22" in v22.*) ;; *) die "$node22 is $v22, expected v22.x" ;; esac
    "$python" -c 'import mcp, uvicorn' || die "venv python cannot import mcp"
    command -v go >/dev/null || die "go not on PATH"

    # The servers run fine on Node 20, but use the pinned Node 22 everywhere so tests do not
    # depend on the machine's node.
    local node="$node22"
    {
        echo "# Generated by scripts/install-test-deps.sh: absolute paths of mcpstore's test dependencies."
        printf 'export MCPSTORE_TEST_DEPS=%q\n' "$DEPS"
        printf 'export MCPSTORE_NODE=%q\n' "$node"
        printf 'export MCPSTORE_NODE22=%q\n' "$node22"
        printf 'export MCPSTORE_EVERYTHING_JS=%q\n' "$everything"
        printf 'export MCPSTORE_FILESYSTEM_JS=%q\n' "$filesystem"
        printf 'export MCPSTORE_CONFORMANCE_JS=%q\n' "$conformance"
        printf 'export MCPSTORE_CONFORMANCE_ALPHA_JS=%q\n' "$conformance_alpha"
        printf 'export MCPSTORE_PYTHON=%q\n' "$python"
        printf 'export MCPSTORE_TS_V2_SERVER=%q\n' "$ts_v2"
        printf 'export MCPSTORE_RMCP_SERVER=%q\n' "$rmcp"
    } >"$DEPS/env.sh.tmp"
    mv "$DEPS/env.sh.tmp" "$DEPS/env.sh"
    step "wrote target/test-deps/env.sh (node $v22, $("$python" -c 'import importlib.metadata as m; print("mcp", m.version("mcp"))'), $(go version | cut -d' ' -f3))"
}

start=$SECONDS
install_npm
install_ts_v2
install_rmcp
install_npm_alpha
install_venv
install_go
install_afl
install_valgrind
write_env
step "done in $((SECONDS - start))s"
