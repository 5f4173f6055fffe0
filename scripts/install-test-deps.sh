#!/usr/bin/env bash
# Installs everything mcpstore's tests need into target/test-deps/ (git-ignored):
#   target/test-deps/npm/   pinned npm packages from scripts/test-deps/package.json + package-lock.json
#                           (server-everything, server-filesystem, conformance, node@22 binary) via `npm ci`
#   target/test-deps/venv/  Python venv with the pinned `mcp` SDK from scripts/test-deps/requirements.txt
#   go (golang-go from Debian), only if `go` is not on PATH
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

# ---------------------------------------------------------------- env.sh + checks
write_env() {
    local mods="$NPM_DIR/node_modules"
    local node22="$mods/node/bin/node"
    local everything="$mods/@modelcontextprotocol/server-everything/dist/index.js"
    local filesystem="$mods/@modelcontextprotocol/server-filesystem/dist/index.js"
    local conformance="$mods/@modelcontextprotocol/conformance/dist/index.js"
    local python="$VENV/bin/python"
    local f
    for f in "$node22" "$everything" "$filesystem" "$conformance" "$python"; do
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
        printf 'export MCPSTORE_PYTHON=%q\n' "$python"
    } >"$DEPS/env.sh.tmp"
    mv "$DEPS/env.sh.tmp" "$DEPS/env.sh"
    step "wrote target/test-deps/env.sh (node $v22, $("$python" -c 'import importlib.metadata as m; print("mcp", m.version("mcp"))'), $(go version | cut -d' ' -f3))"
}

start=$SECONDS
install_npm
install_venv
install_go
write_env
step "done in $((SECONDS - start))s"
