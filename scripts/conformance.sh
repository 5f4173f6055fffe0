#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance, pinned in
# scripts/test-deps/package.json) CLIENT scenarios against our client.
#
# Usage: scripts/conformance.sh [scenario ...]     (default: initialize tools_call sse-retry)
#
# Client under test: target/debug/examples/conformance_client (built here with
# `cargo build --example conformance_client`), or the shell command in
# $MCPSTORE_CONFORMANCE_CLIENT (then nothing is built; start it with `exec ` so a timeout kills
# the client itself). The runner appends the scenario server's URL as the LAST argument and sets
# MCP_CONFORMANCE_SCENARIO=<scenario>.
#
# A scenario passes only if ALL of these hold:
#   - the runner exits 0 (it exits 1 on any FAILURE or WARNING check, a client exit code != 0,
#     or a client that ran longer than --timeout);
#   - its checks.json has no FAILURE and no WARNING check;
#   - every check this script requires for the scenario (REQUIRED below) is present with SUCCESS.
#     (The runner alone passes `initialize` with 0 checks if the client never connects.)
# Results: target/conformance/<scenario>/<scenario>-<timestamp>/{checks.json,stdout.txt,stderr.txt}
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DEPS="$ROOT/target/test-deps"
if [ -f "$DEPS/env.sh" ]; then
    # shellcheck disable=SC1091
    source "$DEPS/env.sh"
fi
NODE22="${MCPSTORE_NODE22:-$DEPS/npm/node_modules/node/bin/node}"
CONFORMANCE_JS="${MCPSTORE_CONFORMANCE_JS:-$DEPS/npm/node_modules/@modelcontextprotocol/conformance/dist/index.js}"
[ -x "$NODE22" ] || { echo "conformance: node 22 not found at $NODE22 (run scripts/install-test-deps.sh)" >&2; exit 1; }
[ -f "$CONFORMANCE_JS" ] || { echo "conformance: runner not found at $CONFORMANCE_JS (run scripts/install-test-deps.sh)" >&2; exit 1; }

# Per-scenario client timeout (ms). The runner kills the client after it and fails the scenario.
TIMEOUT_MS="${MCPSTORE_CONFORMANCE_TIMEOUT_MS:-30000}"

# Checks that must be present with status SUCCESS, per scenario.
declare -A REQUIRED=(
    [initialize]="mcp-client-initialization"
    [tools_call]="tool-add-numbers"
    [sse-retry]="client-sse-graceful-reconnect client-sse-retry-timing client-sse-last-event-id"
)

if [ $# -gt 0 ]; then
    SCENARIOS=("$@")
else
    SCENARIOS=(initialize tools_call sse-retry)
fi

if [ -n "${MCPSTORE_CONFORMANCE_CLIENT:-}" ]; then
    CLIENT="$MCPSTORE_CONFORMANCE_CLIENT"
else
    echo "conformance: cargo build --example conformance_client"
    cargo build --quiet --example conformance_client
    CLIENT="$ROOT/target/debug/examples/conformance_client"
    [ -x "$CLIENT" ] || { echo "conformance: $CLIENT was not built" >&2; exit 1; }
    # The runner splits --command on spaces, appends the URL and runs it with /bin/sh -c. On
    # timeout it kills only that shell, and then waits until the client closes its stdout/stderr,
    # so without `exec` a hung client would hang the run.
    CLIENT="exec $(printf '%q' "$CLIENT")"
fi

OUT="$ROOT/target/conformance"
passed=0
failed=0
failed_names=()
for scenario in "${SCENARIOS[@]}"; do
    required="${REQUIRED[$scenario]:-}"
    dir="$OUT/$scenario"
    rm -rf "$dir"
    mkdir -p "$dir"
    log="$dir/runner.log"
    echo "conformance: scenario $scenario ..."
    rc=0
    # Outer guard in case the runner itself hangs (e.g. on a client that ignores SIGTERM).
    timeout --kill-after=10 $((TIMEOUT_MS / 1000 + 60)) "$NODE22" "$CONFORMANCE_JS" client \
        --command "$CLIENT" --scenario "$scenario" --timeout "$TIMEOUT_MS" --output-dir "$dir" \
        >"$log" 2>&1 || rc=$?

    verdict=0
    # Judge checks.json ourselves as well as the runner's exit code.
    python3 - "$dir" "$scenario" "$required" <<'PY' || verdict=$?
import glob, json, sys
out, scenario, required = sys.argv[1], sys.argv[2], sys.argv[3].split()
files = glob.glob(f"{out}/*/checks.json")
if len(files) != 1:
    print(f"  expected one checks.json under {out}, found {len(files)}")
    sys.exit(1)
checks = json.load(open(files[0]))
bad = [c for c in checks if c.get("status") in ("FAILURE", "WARNING")]
ok = {c.get("id") for c in checks if c.get("status") == "SUCCESS"}
missing = [r for r in required if r not in ok]
for c in bad:
    print(f"  {c['status']}: {c.get('id')}: {c.get('errorMessage') or c.get('description')}")
for r in missing:
    print(f"  MISSING required SUCCESS check: {r}")
n_success = sum(1 for c in checks if c.get("status") == "SUCCESS")
if not required:
    print(f"  (no required checks known for scenario {scenario!r}; need >= 1 SUCCESS)")
print(f"  checks: {n_success} success, {len(bad)} failure/warning, {len(missing)} required missing")
sys.exit(1 if bad or missing or n_success == 0 else 0)
PY
    if [ "$rc" -eq 0 ] && [ "$verdict" -eq 0 ]; then
        echo "conformance: PASS $scenario"
        passed=$((passed + 1))
    else
        echo "conformance: FAIL $scenario (runner exit $rc); runner output:"
        sed 's/^/    | /' "$log"
        for f in "$dir"/*/stderr.txt; do
            if [ -s "$f" ]; then
                echo "    client stderr ($f):"
                sed 's/^/    | /' "$f"
            fi
        done
        failed=$((failed + 1))
        failed_names+=("$scenario")
    fi
done

echo "conformance: $passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then
    echo "conformance: failed scenarios: ${failed_names[*]}" >&2
    exit 1
fi
