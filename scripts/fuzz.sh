#!/usr/bin/env bash
# Runs one coverage-guided fuzz target (AFL++ through cargo-afl, stable Rust).
#
#   bash scripts/fuzz.sh                   prints the target names, one per line
#   bash scripts/fuzz.sh TARGET SECONDS    builds the targets, fuzzes TARGET for SECONDS
#                                          (one afl-fuzz job), prints its execution count
#
# The targets are the binaries of fuzz/ (its own workspace), each driving one function of
# `mcpstore::fuzzing` (src/fuzzing.rs, feature `fuzzing`). Seeds: fuzz/corpus/TARGET/.
# Findings: target/fuzz/out/TARGET/default/{crashes,hangs}/; a later run resumes there, so
# execution counts add up across runs. Exits non-zero when the run saved a crash or a hang.
# cargo-afl and AFL++ come from scripts/install-test-deps.sh (target/test-deps/afl/).
#
# Environment: FUZZ_FRESH=1 starts over from the seeds (drops the previous findings);
# FUZZ_OUT=DIR keeps the findings in DIR/TARGET instead (the smoke stage of test-all.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ="$ROOT/fuzz"

targets() { sed -n 's/^name = "\(.*\)"$/\1/p' "$FUZZ/Cargo.toml" | grep -v '^mcpstore-fuzz$'; }

if [ "$#" -eq 0 ]; then
    targets
    exit 0
fi
if [ "$#" -ne 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
    echo "usage: $0 [TARGET SECONDS]" >&2
    exit 2
fi
TARGET="$1"
SECONDS_TO_RUN="$2"
targets | grep -qx "$TARGET" || { echo "unknown target '$TARGET'; the targets:" >&2; targets >&2; exit 2; }

AFL_DIR="$ROOT/target/test-deps/afl"
[ -x "$AFL_DIR/bin/cargo-afl" ] && [ -f "$AFL_DIR/.installed" ] ||
    { echo "cargo-afl is not installed: run bash scripts/install-test-deps.sh" >&2; exit 1; }
export PATH="$AFL_DIR/bin:$PATH"
export XDG_DATA_HOME="$AFL_DIR/data" # where `cargo afl config --build` put AFL++
export CARGO_TARGET_DIR="$ROOT/target/fuzz"
# Machine checks of afl-fuzz that a container or a shared CI machine cannot satisfy (they are
# about fuzzing speed and core dumps, not about what is tested: a crash still fails the run).
# Each is waived only where the machine needs it.
governor=$(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null || echo performance)
[ "$governor" = performance ] || export AFL_SKIP_CPUFREQ=1 # cannot set the governor here
case "$(cat /proc/sys/kernel/core_pattern 2>/dev/null)" in
    '|'*) export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 ;; # core dumps go to a handler we cannot change
esac
export AFL_NO_AFFINITY=1 # CPUs are shared with the rest of the run
export AFL_NO_UI=1 AFL_QUIET=1

(cd "$FUZZ" && cargo afl build --release --quiet)

OUT="${FUZZ_OUT:-$ROOT/target/fuzz/out}/$TARGET"
if [ "${FUZZ_FRESH:-0}" = 1 ]; then
    rm -rf "$OUT"
fi
mkdir -p "$OUT"
export AFL_AUTORESUME=1 # continue a previous run's queue and counts
LOG="$OUT/afl-fuzz.log"
status=0
(cd "$FUZZ" && cargo afl fuzz -i "$FUZZ/corpus/$TARGET" -o "$OUT" -V "$SECONDS_TO_RUN" -t 2000 -m 4096 \
    -- "$CARGO_TARGET_DIR/release/$TARGET") >"$LOG" 2>&1 || status=$?
STATS="$OUT/default/fuzzer_stats"
if [ "$status" -ne 0 ] || [ ! -f "$STATS" ]; then
    echo "afl-fuzz failed (exit $status); the end of $LOG:" >&2
    tail -n 30 "$LOG" >&2
    exit 1
fi
stat() { sed -n "s/^$1 *: *//p" "$STATS"; }
crashes="$(stat saved_crashes)"
hangs="$(stat saved_hangs)"
printf '%-18s execs_done %-12s execs_per_sec %-9s corpus %-6s crashes %s hangs %s\n' \
    "$TARGET" "$(stat execs_done)" "$(stat execs_per_sec)" "$(stat corpus_count)" "$crashes" "$hangs"
if [ "$crashes" != 0 ] || [ "$hangs" != 0 ]; then
    echo "findings in $OUT/default/crashes and $OUT/default/hangs" >&2
    exit 1
fi
