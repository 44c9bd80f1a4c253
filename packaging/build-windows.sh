#!/usr/bin/env bash
# Builds a program for x86_64-pc-windows-gnu into dist/windows/:
#   build-windows.sh [connector]   AICFOConnector.exe, and dist/AICFOConnector.zip (the guide's ZIP)
#   build-windows.sh server        aicfo-server.exe, the appliance (with the connector releases
#                                  embedded when AICFO_EMBED_CONNECTORS names their folder)
#
# With a rustup that has the Windows target, the ordinary cross build is used. Otherwise
# (these Debian machines: rustup cannot download targets) Debian's Rust builds the standard
# library for Windows itself: needs rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64.
# Both programs share one target folder, so the standard library is built once.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=x86_64-pc-windows-gnu
OUT=dist/windows
mkdir -p "$OUT"
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
case "${1:-connector}" in
    connector) FEATURES=connector BIN=aicfo-connector NAME=AICFOConnector.exe ;;
    server) FEATURES=server${AICFO_EMBED_CONNECTORS:+,embedded-connectors} BIN=aicfo-server NAME=aicfo-server.exe ;;
    *) echo "usage: build-windows.sh [connector|server]" >&2; exit 2 ;;
esac
FLAGS=(--release --target "$TARGET" --no-default-features --features "$FEATURES" --bin "$BIN")

if rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
    cargo build "${FLAGS[@]}" --target-dir target-windows
elif [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ]; then
    # A separate target dir: the two toolchains must never share build output.
    RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo build "${FLAGS[@]}" \
        -Zbuild-std=std,panic_abort --target-dir target-windows-debian
    BUILT=target-windows-debian/$TARGET/release/$BIN.exe
else
    echo "build-windows.sh: no Windows target: install Debian's rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64" >&2
    exit 1
fi
BUILT=${BUILT:-target-windows/$TARGET/release/$BIN.exe}
cp "$BUILT" "$OUT/$NAME"
# Symbols are most of the file (12 MB → 8.6 MB for the connector); a panic still names its
# message and location, which is what a bookkeeper's log needs.
x86_64-w64-mingw32-strip "$OUT/$NAME"
if [ "$BIN" = aicfo-server ]; then
    echo "built $OUT/$NAME"
    exit 0
fi
cp packaging/windows/config.json packaging/windows/run-connector.bat packaging/windows/README.txt "$OUT/"
# The ZIP the guide describes: the exe, config.json, run-connector.bat and README.txt.
rm -f dist/AICFOConnector.zip
(cd "$OUT" && python3 -c '
import sys, zipfile
with zipfile.ZipFile("../AICFOConnector.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for name in sys.argv[1:]:
        z.write(name)
' AICFOConnector.exe config.json run-connector.bat README.txt)
echo "built $OUT/AICFOConnector.exe and dist/AICFOConnector.zip"
