#!/usr/bin/env bash
# Runs the official MCP conformance suite's CLIENT scenarios against our client, with two
# pinned runners (both installed by scripts/install-test-deps.sh under target/test-deps/):
#   - the stable runner (@modelcontextprotocol/conformance 0.1.16, scripts/test-deps/package.json);
#   - the pre-release runner (0.2.0-alpha.12, scripts/test-deps/conformance-alpha/package.json),
#     which adds `--requirements <revision>`: exactly the scenarios a revision requires, run at
#     that revision's wire (the client gets MCP_CONFORMANCE_PROTOCOL_VERSION).
#
# Usage:
#   scripts/conformance.sh                 every run below, in this order:
#       core       stable `--suite core` (the 18 scenarios of 2025-11-25; must pass whole)
#       extra      stable runner, one at a time: the scenarios issues 9-12 need outside core
#       2026-07-28 pre-release `--requirements 2026-07-28` (every scored scenario must pass)
#       2026-07-28-auto  the same with the client not told the revision (the service's
#                  `protocol` stays `auto`, so the library must find the era itself)
#       2025-11-25 pre-release `--requirements 2025-11-25` (every scored scenario must pass)
#   scripts/conformance.sh --run NAME ...  only that run (repeat --run for more)
#   scripts/conformance.sh SCENARIO...     those scenarios one by one on the stable runner
#   scripts/conformance.sh --modern SCENARIO...
#                                          those scenarios one by one on the pre-release runner
#                                          at --spec-version 2026-07-28 (for debugging)
#
# Client under test: target/debug/examples/conformance_client (in $CARGO_TARGET_DIR if set; built here with
# `cargo build --example conformance_client`), or the shell command in
# $MCPSTORE_CONFORMANCE_CLIENT (then nothing is built; start it with `exec ` so a timeout kills
# the client itself; the 2026-07-28-auto run puts `env -u MCP_CONFORMANCE_PROTOCOL_VERSION`
# in front of it). The runner appends the scenario server's URL as the LAST argument and sets
# MCP_CONFORMANCE_SCENARIO=<scenario>, MCP_CONFORMANCE_PROTOCOL_VERSION (pre-release runner) and
# MCP_CONFORMANCE_CONTEXT=<json> for scenarios with data.
#
# A scenario passes only if ALL of these hold:
#   - its checks.json has no FAILURE and no WARNING check (the runner itself ignores WARNINGs
#     in --requirements mode; we do not);
#   - every check this script requires for the scenario (REQUIRED below: a check id, or
#     `id#name` for one row of an id with many) is present with SUCCESS (a runner passes a
#     scenario with 0 checks, e.g. `initialize` when the client never connects);
#   - the client did not give up with an error, except in CLIENT_MAY_FAIL scenarios;
#   - in single-scenario runs, the runner exits 0 (it exits 1 on a FAILURE or WARNING check,
#     a client exit code != 0 where the scenario does not allow one, or a client timeout).
# A suite or requirements run passes when every scenario it scores passes, the runner exits 0
# and the number of scored scenarios is the one expected for the pinned runner. Not-scored
# scenarios of a requirements run (extensions, added after the release) are reported only.
#
# Results: target/conformance/<run>/ (suite and requirements runs: <scenario>-<timestamp>/
# {checks.json,stdout.txt,stderr.txt} and runner.log; auth scenarios nest under auth/).
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
ALPHA_JS="${MCPSTORE_CONFORMANCE_ALPHA_JS:-$DEPS/npm-alpha/node_modules/@modelcontextprotocol/conformance/dist/index.js}"
[ -x "$NODE22" ] || { echo "conformance: node 22 not found at $NODE22 (run scripts/install-test-deps.sh)" >&2; exit 1; }
[ -f "$CONFORMANCE_JS" ] || { echo "conformance: runner not found at $CONFORMANCE_JS (run scripts/install-test-deps.sh)" >&2; exit 1; }
[ -f "$ALPHA_JS" ] || { echo "conformance: pre-release runner not found at $ALPHA_JS (run scripts/install-test-deps.sh)" >&2; exit 1; }
REQUIREMENTS_DIR="$(dirname "$(dirname "$ALPHA_JS")")/requirements"

# Per-scenario client timeout (ms). The runner kills the client after it and fails the scenario.
TIMEOUT_MS="${MCPSTORE_CONFORMANCE_TIMEOUT_MS:-30000}"

# Scored client scenarios of each revision in the pinned pre-release runner (a changed pin must
# update these, so that a scenario silently leaving the set is noticed).
declare -A EXPECTED_SCORED=([2026-07-28]=32 [2025-11-25]=18 [core]=18)

# Checks that must be present with status SUCCESS, per scenario (on every runner and wire).
# The authorization code flow's checks, present in every scenario that completes it.
CODE_FLOW="authorization-server-metadata authorization-request token-request pkce-code-challenge-sent pkce-s256-method-used pkce-code-verifier-sent pkce-verifier-matches-challenge valid-bearer-token"
RESOURCE="resource-parameter-in-authorization resource-parameter-in-token"
declare -A REQUIRED=(
    [initialize]="mcp-client-initialization"
    [tools_call]="tool-add-numbers"
    [elicitation-sep1034-client-defaults]="client-elicitation-sep1034-string-default client-elicitation-sep1034-integer-default client-elicitation-sep1034-number-default client-elicitation-sep1034-enum-default client-elicitation-sep1034-boolean-default"
    [sse-retry]="client-sse-graceful-reconnect client-sse-retry-timing client-sse-last-event-id"
    [auth/metadata-default]="prm-pathbased-requested client-registration $CODE_FLOW"
    [auth/metadata-var1]="prm-pathbased-requested client-registration $CODE_FLOW"
    [auth/metadata-var2]="client-registration $CODE_FLOW"
    [auth/metadata-var3]="client-registration $CODE_FLOW"
    [auth/basic-cimd]="cimd-client-id-used $CODE_FLOW"
    [auth/scope-from-www-authenticate]="scope-from-www-authenticate $CODE_FLOW"
    [auth/scope-from-scopes-supported]="scope-from-scopes-supported $CODE_FLOW"
    [auth/scope-omitted-when-undefined]="scope-omitted-when-undefined $CODE_FLOW"
    [auth/scope-step-up]="scope-step-up-initial scope-step-up-escalation $CODE_FLOW"
    [auth/scope-retry-limit]="scope-retry-limit authorization-request token-request"
    [auth/token-endpoint-auth-basic]="token-endpoint-auth-method client-registration $CODE_FLOW $RESOURCE"
    [auth/token-endpoint-auth-post]="token-endpoint-auth-method client-registration $CODE_FLOW $RESOURCE"
    [auth/token-endpoint-auth-none]="token-endpoint-auth-method client-registration $CODE_FLOW $RESOURCE"
    [auth/pre-registration]="pre-registration-auth $CODE_FLOW"
    [auth/resource-mismatch]="resource-mismatch-rejected prm-pathbased-requested"
    [auth/offline-access-scope]="sep-2207-offline-access-requested $CODE_FLOW"
    [auth/offline-access-not-supported]="sep-2207-offline-access-not-requested $CODE_FLOW"
    [auth/2025-03-26-oauth-metadata-backcompat]="authorization-server-metadata client-registration authorization-request token-request valid-bearer-token"
    [auth/2025-03-26-oauth-endpoint-fallback]="client-registration authorization-request token-request valid-bearer-token"
    [auth/client-credentials-basic]="client-credentials-basic-auth token-request valid-bearer-token"
    [auth/client-credentials-jwt]="client-credentials-jwt-verified token-request valid-bearer-token"
    # 2026-07-28 only
    [request-metadata]="sep-2575-http-client-sends-version-header sep-2575-client-populates-meta sep-2575-client-sends-client-info sep-2575-http-version-header-matches-meta sep-2575-client-retry-supported-version"
    [sep-2322-client-request-state]="sep-2322-client-request-state-echoed sep-2322-client-jsonrpc-id-different sep-2322-client-no-state-omitted sep-2322-client-parallel-isolation sep-2322-default-result-type-complete"
    [http-standard-headers]="$(printf 'sep-2243-client-includes-standard-headers#%s ' ClientMcpMethodHeader_{tools_list,tools_call,resources_list,resources_read,prompts_list,prompts_get} ClientMcpNameHeader_{tools_call,resources_read,prompts_get})"
    [http-custom-headers]="sep-2243-client-supports-custom-headers sep-2243-client-mirrors-designated-params sep-2243-client-encode-values sep-2243-client-base64-unsafe sep-2243-client-omit-null"
    [http-invalid-tool-headers]="sep-2243-client-reject-invalid-tool sep-2243-x-mcp-header-not-empty sep-2243-x-mcp-header-primitive-only sep-2243-x-mcp-header-unique sep-2243-x-mcp-header-charset"
    [json-schema-ref-no-deref]="sep-2106-no-network-ref-deref"
    [auth/authorization-server-migration]="sep-2352-reregister-on-as-change sep-2352-no-reuse-on-as-change sep-2352-no-cross-as-credential-reuse"
    [auth/iss-supported]="sep-2468-client-compare-iss-supported $CODE_FLOW"
    [auth/iss-not-advertised]="sep-2468-client-proceed-no-iss $CODE_FLOW"
    [auth/iss-supported-missing]="sep-2468-client-reject-missing-iss"
    [auth/iss-wrong-issuer]="sep-2468-client-compare-iss-supported"
    [auth/iss-unexpected]="sep-2468-client-compare-iss-unadvertised"
    [auth/iss-normalized]="sep-2468-client-no-normalization"
    [auth/metadata-issuer-mismatch]="sep-2468-client-validate-metadata-issuer"
)
# Checks required only on the 2026-07-28 wire: every scenario that registers the client with
# DCR must send application_type (SEP-837), a step-up asks for the union of scopes (SEP-2350),
# and a modern tools_call is schema-checked on the wire.
DCR_2026="sep-837-application-type-present"
declare -A REQUIRED_2026=(
    [auth/metadata-default]="$DCR_2026" [auth/metadata-var1]="$DCR_2026"
    [auth/metadata-var2]="$DCR_2026" [auth/metadata-var3]="$DCR_2026"
    [auth/token-endpoint-auth-basic]="$DCR_2026" [auth/token-endpoint-auth-post]="$DCR_2026"
    [auth/token-endpoint-auth-none]="$DCR_2026"
    [auth/scope-from-www-authenticate]="$DCR_2026" [auth/scope-from-scopes-supported]="$DCR_2026"
    [auth/scope-omitted-when-undefined]="$DCR_2026" [auth/scope-retry-limit]="$DCR_2026"
    [auth/scope-step-up]="$DCR_2026 sep-2350-scope-union-on-reauth"
    [auth/offline-access-not-supported]="$DCR_2026"
    [auth/authorization-server-migration]="$DCR_2026 client-registration $CODE_FLOW"
    [auth/iss-supported]="$DCR_2026" [auth/iss-not-advertised]="$DCR_2026"
    [auth/iss-supported-missing]="$DCR_2026 authorization-request pkce-s256-method-used"
    [auth/iss-wrong-issuer]="$DCR_2026 authorization-request pkce-s256-method-used"
    [auth/iss-unexpected]="$DCR_2026 authorization-request pkce-s256-method-used"
    [auth/iss-normalized]="$DCR_2026 authorization-request pkce-s256-method-used"
    [auth/metadata-issuer-mismatch]="authorization-server-metadata"
    [request-metadata]="sep-2575-client-declares-elicitation-capability"
)
# Checks only the pre-release runner has (on both wires): the resource parameter must be the
# PRM's `resource` exactly, and the version-aware mock checks every message against the schema.
RESOURCE_PRM="$RESOURCE resource-parameter-consistency resource-parameter-valid-uri resource-parameter-matches-prm"
declare -A REQUIRED_ALPHA=(
    [tools_call]="wire-schema-valid"
    [auth/metadata-default]="$RESOURCE_PRM" [auth/metadata-var1]="$RESOURCE_PRM"
    [auth/metadata-var2]="$RESOURCE_PRM" [auth/metadata-var3]="$RESOURCE_PRM"
    [auth/token-endpoint-auth-basic]="$RESOURCE_PRM" [auth/token-endpoint-auth-post]="$RESOURCE_PRM"
    [auth/token-endpoint-auth-none]="$RESOURCE_PRM"
)

# Scenarios where the client must give up (it refuses the server or its authorization server):
# the only ones where the client may exit with an error. In suite and requirements runs the
# runner ignores the client's exit code, so the judge reads the client's stderr for it instead.
CLIENT_MAY_FAIL=(
    auth/scope-retry-limit auth/resource-mismatch auth/metadata-issuer-mismatch
    auth/iss-supported-missing auth/iss-wrong-issuer auth/iss-unexpected auth/iss-normalized
)

# Stable-runner scenarios that issues 9-12 require beyond `--suite core`.
EXTRA_SCENARIOS=(
    auth/resource-mismatch auth/offline-access-scope auth/offline-access-not-supported
    auth/2025-03-26-oauth-metadata-backcompat auth/2025-03-26-oauth-endpoint-fallback
    auth/client-credentials-basic auth/client-credentials-jwt
)
ALL_RUNS=(core extra 2026-07-28 2026-07-28-auto 2025-11-25)

RUNS=()
SINGLE=()
SINGLE_RUNNER=stable
while [ $# -gt 0 ]; do
    case "$1" in
        --run) shift; [ $# -gt 0 ] || { echo "conformance: --run needs a name" >&2; exit 2; }
               RUNS+=("$1") ;;
        --modern) SINGLE_RUNNER=modern ;;
        -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
        *) SINGLE+=("$1") ;;
    esac
    shift
done
if [ ${#RUNS[@]} -eq 0 ] && [ ${#SINGLE[@]} -eq 0 ]; then
    RUNS=("${ALL_RUNS[@]}")
fi

if [ -n "${MCPSTORE_CONFORMANCE_CLIENT:-}" ]; then
    CLIENT="$MCPSTORE_CONFORMANCE_CLIENT"
else
    echo "conformance: cargo build --example conformance_client"
    cargo build --quiet --example conformance_client
    CLIENT="${CARGO_TARGET_DIR:-$ROOT/target}/debug/examples/conformance_client"
    [ -x "$CLIENT" ] || { echo "conformance: $CLIENT was not built" >&2; exit 1; }
    # The runner splits --command on spaces, appends the URL and runs it with /bin/sh -c. On
    # timeout it kills only that shell, and then waits until the client closes its stdout/stderr,
    # so without `exec` a hung client would hang the run.
    CLIENT="exec $(printf '%q' "$CLIENT")"
fi
# The same client, not told the protocol revision: it finds the era itself (`auto`).
CLIENT_AUTO="exec env -u MCP_CONFORMANCE_PROTOCOL_VERSION ${CLIENT#exec }"

OUT="$ROOT/target/conformance"
mkdir -p "$OUT"
# The REQUIRED tables, one line per scenario, for the judge.
REQ_FILE="$OUT/required.tsv"
: >"$REQ_FILE"
for s in "${!REQUIRED[@]}"; do printf 'any\t%s\t%s\n' "$s" "${REQUIRED[$s]}" >>"$REQ_FILE"; done
for s in "${!REQUIRED_2026[@]}"; do printf '2026-07-28\t%s\t%s\n' "$s" "${REQUIRED_2026[$s]}" >>"$REQ_FILE"; done
for s in "${!REQUIRED_ALPHA[@]}"; do printf 'alpha\t%s\t%s\n' "$s" "${REQUIRED_ALPHA[$s]}" >>"$REQ_FILE"; done
for s in "${CLIENT_MAY_FAIL[@]}"; do printf 'may-fail\t%s\t-\n' "$s" >>"$REQ_FILE"; done

# judge DIR SCOPES EXPECTED_COUNT SCENARIO...: judges every scenario's checks.json under DIR.
# SCOPES: which extra REQUIRED tables apply, comma-separated (2026-07-28, alpha; "-" for none).
# Prints one line per scenario and a summary; exits 1 if any scenario fails, or if the scenario
# list does not have EXPECTED_COUNT entries (0: no expectation).
judge() {
    python3 - "$REQ_FILE" "$@" <<'PY'
import glob, json, os, sys
req_file, out, scopes, expected, scenarios = sys.argv[1], sys.argv[2], sys.argv[3].split(","), int(sys.argv[4]), sys.argv[5:]
required, may_fail = {}, set()
for line in open(req_file):
    scope, scenario, ids = line.rstrip("\n").split("\t")
    if scope == "may-fail":
        may_fail.add(scenario)
    elif scope == "any" or scope in scopes:
        required.setdefault(scenario, []).extend(ids.split())
ok_count, failed = 0, []
for scenario in scenarios:
    head, name = os.path.split(scenario)
    files = glob.glob(os.path.join(out, head, glob.escape(name) + "-*", "checks.json"))
    files = [f for f in files if os.path.basename(os.path.dirname(f))[len(name) + 1:][:1].isdigit()]
    problems = []
    if len(files) != 1:
        problems.append(f"expected one checks.json for {scenario}, found {len(files)}")
        checks = []
    else:
        checks = json.load(open(files[0]))
    bad = [c for c in checks if c.get("status") in ("FAILURE", "WARNING")]
    ok = {c.get("id") for c in checks if c.get("status") == "SUCCESS"}
    ok |= {f"{c.get('id')}#{c.get('name')}" for c in checks if c.get("status") == "SUCCESS"}
    need = required.get(scenario)
    for c in bad:
        problems.append(f"{c['status']}: {c.get('id')} ({c.get('name')}): {c.get('errorMessage') or c.get('description')}")
    if need is None:
        problems.append(f"no required checks known for {scenario!r} (add it to REQUIRED in scripts/conformance.sh)")
    else:
        reported = {c.get("id") for c in bad}
        problems += [f"MISSING required SUCCESS check: {r}" for r in need if r not in ok and r not in reported]
    if files and scenario not in may_fail:
        err = os.path.join(os.path.dirname(files[0]), "stderr.txt")
        text = open(err, errors="replace").read() if os.path.exists(err) else ""
        if "conformance_client: scenario" in text:
            problems.append("the client reported an error (see its stderr below)")
    n_success = sum(1 for c in checks if c.get("status") == "SUCCESS")
    summary = f"{n_success} success, {len(bad)} failure/warning"
    if problems:
        failed.append(scenario)
        print(f"  FAIL {scenario}: {summary}")
        for p in problems:
            print(f"       {p}")
        if files:
            err = os.path.join(os.path.dirname(files[0]), "stderr.txt")
            if os.path.exists(err) and os.path.getsize(err):
                print(f"       client stderr ({err}):")
                for l in open(err, errors="replace").read().splitlines()[-25:]:
                    print(f"       | {l}")
    else:
        ok_count += 1
        print(f"  pass {scenario}: {summary}")
if expected and len(scenarios) != expected:
    print(f"  expected {expected} scored scenarios, the runner has {len(scenarios)}")
    failed.append("(scenario count)")
print(f"  => {ok_count}/{len(scenarios)} passed" + (f"; failed: {' '.join(failed)}" if failed else ""))
sys.exit(1 if failed else 0)
PY
}

# scored REVISION: the scored client scenarios of a revision, from the pinned runner's frozen list.
scored() {
    python3 - "$REQUIREMENTS_DIR/$1.yaml" <<'PY'
import re, sys
section = None
for line in open(sys.argv[1]):
    m = re.match(r"^([a-z_]+):", line)
    if m:
        section = m.group(1)
    elif section == "client":
        m = re.match(r"^\s+-\s+(\S+)\s*$", line)
        if m:
            print(m.group(1))
PY
}

# Outer guard in case a runner hangs (e.g. on a client that ignores SIGTERM).
guard() { timeout --kill-after=10 $((TIMEOUT_MS / 1000 + 90)) "$@"; }

SUMMARY=()
status=0
record() { # record NAME RESULT-LINE OK
    SUMMARY+=("$1: $2")
    [ "$3" -eq 0 ] || status=1
}

# run_set NAME REVISION SCOPES EXPECTED CLIENT RUNNER-ARGS... : one runner invocation over many
# scenarios (the scored ones of requirements REVISION, or with REVISION "-" all those the
# suite ran).
run_set() {
    local name="$1" revision="$2" scopes="$3" expected="$4" client="$5"; shift 5
    local dir="$OUT/$name" rc=0 start=$SECONDS
    rm -rf "$dir"; mkdir -p "$dir"
    echo "conformance: [$name] $*"
    guard "$NODE22" "$@" --command "$client" --timeout "$TIMEOUT_MS" --output-dir "$dir" \
        >"$dir/runner.log" 2>&1 || rc=$?
    local scenarios
    if [ "$revision" = - ]; then
        mapfile -t scenarios < <(sed -n 's/^[✓✗] \([^:]*\): .*/\1/p' "$dir/runner.log")
    else
        mapfile -t scenarios < <(scored "$revision")
    fi
    local verdict=0 report
    report="$(judge "$dir" "$scopes" "$expected" "${scenarios[@]}")" || verdict=$?
    echo "$report"
    # Not-scored scenarios (extensions, added after the release): reported, never judged.
    sed -n '/^Not scored/,$p' "$dir/runner.log" | sed 's/^/  /'
    if [ "$rc" -ne 0 ]; then
        echo "  runner exited $rc; its summary:"
        sed -n '/SUITE SUMMARY/,$p' "$dir/runner.log" | sed 's/^/    | /'
        [ -s "$dir/runner.log" ] && ! grep -q 'SUITE SUMMARY' "$dir/runner.log" && tail -30 "$dir/runner.log" | sed 's/^/    | /'
    fi
    local line
    line="$(tail -1 <<<"$report" | sed 's/^  => //') (runner exit $rc, $((SECONDS - start))s)"
    record "$name" "$line" $((rc != 0 || verdict != 0))
}

# run_single RUNNER SCENARIO: one scenario in its own runner invocation.
run_single() {
    local runner="$1" scenario="$2" dir rc=0 verdict=0 report
    local tag=stable js="$CONFORMANCE_JS" extra=() scopes=-
    if [ "$runner" = modern ]; then
        tag=modern js="$ALPHA_JS" extra=(--spec-version 2026-07-28) scopes=2026-07-28,alpha
    fi
    dir="$OUT/$tag/$scenario"
    rm -rf "$dir"; mkdir -p "$dir"
    guard "$NODE22" "$js" client --command "$CLIENT" --scenario "$scenario" "${extra[@]}" \
        --timeout "$TIMEOUT_MS" --output-dir "$dir" >"$dir/runner.log" 2>&1 || rc=$?
    report="$(judge "$dir" "$scopes" 0 "$scenario")" || verdict=$?
    echo "$report" | sed '$d'
    if [ "$rc" -ne 0 ]; then
        echo "  runner exited $rc; its output:"
        sed 's/^/    | /' "$dir/runner.log"
    fi
    [ "$rc" -eq 0 ] && [ "$verdict" -eq 0 ]
}

run_singles() { # run_singles NAME RUNNER SCENARIO...
    local name="$1" runner="$2"; shift 2
    local passed=0 failed=() start=$SECONDS s
    echo "conformance: [$name] ${#@} scenario(s), one at a time"
    for s in "$@"; do
        if run_single "$runner" "$s"; then passed=$((passed + 1)); else failed+=("$s"); fi
    done
    local line="$passed/$# passed"
    [ ${#failed[@]} -eq 0 ] || line+="; failed: ${failed[*]}"
    record "$name" "$line ($((SECONDS - start))s)" ${#failed[@]}
}

if [ ${#SINGLE[@]} -gt 0 ]; then
    if [ "$SINGLE_RUNNER" = modern ]; then
        run_singles "pre-release runner at 2026-07-28" modern "${SINGLE[@]}"
    else
        run_singles "stable runner" stable "${SINGLE[@]}"
    fi
fi
for run in "${RUNS[@]}"; do
    case "$run" in
        core) run_set core - - "${EXPECTED_SCORED[core]}" "$CLIENT" "$CONFORMANCE_JS" client --suite core ;;
        extra) run_singles extra stable "${EXTRA_SCENARIOS[@]}" ;;
        2026-07-28)
            run_set "$run" "$run" 2026-07-28,alpha "${EXPECTED_SCORED[$run]}" "$CLIENT" \
                "$ALPHA_JS" client --requirements "$run" ;;
        2026-07-28-auto)
            run_set "$run" 2026-07-28 2026-07-28,alpha "${EXPECTED_SCORED[2026-07-28]}" "$CLIENT_AUTO" \
                "$ALPHA_JS" client --requirements 2026-07-28 ;;
        2025-11-25)
            run_set "$run" "$run" alpha "${EXPECTED_SCORED[$run]}" "$CLIENT" \
                "$ALPHA_JS" client --requirements "$run" ;;
        *) echo "conformance: unknown run '$run' (known: ${ALL_RUNS[*]})" >&2; exit 2 ;;
    esac
done

echo
echo "conformance: summary"
for line in "${SUMMARY[@]}"; do echo "  $line"; done
if [ "$status" -ne 0 ]; then
    echo "conformance: FAILED" >&2
    exit 1
fi
echo "conformance: all passed"
