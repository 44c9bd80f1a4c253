#!/usr/bin/env bash
# Runs a Windows program under Wine for tests: a throwaway prefix, the ProcessPrng shim beside
# the program (built once), no Wine chatter. Usage: run-under-wine.sh PROGRAM.exe [ARGS...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exe="$1"; shift
dir="$(cd "$(dirname "$exe")" && pwd)"
if [ ! -f "$dir/bcryptprimitives.dll" ]; then
    x86_64-w64-mingw32-gcc -shared -O2 -o "$dir/bcryptprimitives.dll" "$here/processprng-shim.c" -ladvapi32
fi
export WINEPREFIX="${WINEPREFIX:-$(mktemp -d)}"
export WINEDEBUG=-all
exec /usr/lib/wine/wine64 "$dir/$(basename "$exe")" "$@"
