#!/usr/bin/env bash
# Checks the public C header include/mcpstore.h:
#   1. it equals a fresh cbindgen generation and its version macros match
#      Cargo.toml (tests/c_header.rs; regenerate with `cargo run --example generate_header`);
#   2. it compiles on its own, twice included, as C99, C11 and C++17 with
#      warnings as errors.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

cargo test --test c_header

CC="${CC:-cc}"
CXX="${CXX:-c++}"
SRC='#include "mcpstore.h"
#include "mcpstore.h"
int mcps_header_check(void) { return MCPS_OK + MCPS_VERSION_MAJOR; }'
for std in c99 c11; do
    printf '%s\n' "$SRC" | "$CC" -std="$std" -Wall -Wextra -Werror -pedantic -fsyntax-only -I include -x c -
    echo "header compiles as $std"
done
printf '%s\n' "$SRC" | "$CXX" -std=c++17 -Wall -Wextra -Werror -pedantic -fsyntax-only -I include -x c++ -
echo "header compiles as c++17"
