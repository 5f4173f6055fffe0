#!/usr/bin/env bash
# Builds the mcpstore C library and installs it under a prefix:
#   <prefix>/include/mcpstore.h
#   <prefix>/lib/libmcpstore.a  <prefix>/lib/libmcpstore.so
#   <prefix>/lib/pkgconfig/mcpstore.pc   (from mcpstore.pc.in)
#
# usage: scripts/install-c-lib.sh [PREFIX] [--debug]
#   PREFIX defaults to /usr/local; --debug installs the debug build (used by the tests).
# Then (PKG_CONFIG_PATH=<prefix>/lib/pkgconfig if the prefix is not a system one):
#   shared: cc app.c $(pkg-config --cflags --libs mcpstore)
#   static: cc app.c $(pkg-config --cflags mcpstore) "$(pkg-config --variable=libdir mcpstore)/libmcpstore.a" -lpthread -ldl -lm
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="/usr/local"
PROFILE="release"
for arg in "$@"; do
    case "$arg" in
        --debug) PROFILE="debug" ;;
        -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
        *) PREFIX="$arg" ;;
    esac
done
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

cd "$ROOT"
if [ "$PROFILE" = "release" ]; then
    cargo build --release --lib
else
    cargo build --lib
fi
VERSION="$(sed -n 's/^#define MCPS_VERSION_MAJOR //p; s/^#define MCPS_VERSION_MINOR //p; s/^#define MCPS_VERSION_PATCH //p' include/mcpstore.h | paste -sd.)"

install -d "$PREFIX/include" "$PREFIX/lib/pkgconfig"
install -m 0644 include/mcpstore.h "$PREFIX/include/mcpstore.h"
install -m 0644 "$TARGET/$PROFILE/libmcpstore.a" "$PREFIX/lib/libmcpstore.a"
install -m 0755 "$TARGET/$PROFILE/libmcpstore.so" "$PREFIX/lib/libmcpstore.so"
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@VERSION@|$VERSION|g" mcpstore.pc.in \
    | grep -v '^#' >"$PREFIX/lib/pkgconfig/mcpstore.pc"
echo "installed mcpstore $VERSION ($PROFILE) under $PREFIX"
