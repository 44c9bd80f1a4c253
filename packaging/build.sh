#!/usr/bin/env bash
# Builds the appliance as one file that carries its connectors:
#   dist/releases/aicfo-connector-<version>-<triple>.zip   signed (zipsign, context = file name)
#   dist/releases/manifest.json                            version, target, file, size, sha256s
#   dist/aicfo-server                                      the appliance, releases embedded
#   dist/aicfo-appliance-<version>-linux-x86_64.tar.gz     that file, Rocket.toml, README.md, the
#                                                          systemd unit (aicfo.service)
#   dist/aicfo_<version>_amd64.deb                         the same as a Debian package: service user,
#                                                          unit, /etc/aicfo settings (packaging/linux)
#   dist/aicfo-appliance-<version>-windows-x86_64.zip      aicfo-server.exe (releases embedded),
#                                                          Rocket.toml, README.txt for IT
# The signing key is the file named by AICFO_SIGNING_KEY; without it a development key pair is
# made under dist/keys/ (ignored by git). The connectors carry the matching verifying key.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

# What the build needs, as .ci/run installs it (the Windows cross-build: see build-windows.sh).
if [ ! -x /usr/bin/rustc ] || [ ! -d /usr/lib/rustlib/src ] || ! command -v x86_64-w64-mingw32-gcc >/dev/null || ! command -v python3 >/dev/null; then
    apt-get update
    apt-get install -y rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64 python3
fi

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
OUT=dist/releases
rm -rf "$OUT"
mkdir -p "$OUT"

# The signing helper (host build; the debug profile is enough and usually warm).
cargo build --quiet --bin aicfo-release
RELEASE_TOOL=target/debug/aicfo-release

if [ -n "${AICFO_SIGNING_KEY:-}" ]; then
    KEY=$AICFO_SIGNING_KEY
else
    KEY=dist/keys/signing.key
    [ -f "$KEY" ] || "$RELEASE_TOOL" keygen dist/keys
    echo "!!!!! build.sh: AICFO_SIGNING_KEY is not set: these connectors are signed with the DEVELOPMENT key $KEY; never ship them !!!!!" >&2
fi
export AICFO_VERIFYING_KEY
AICFO_VERIFYING_KEY=$("$RELEASE_TOOL" public-key "$KEY")

# The connectors, with the verifying key compiled in.
packaging/build-windows.sh
LINUX=x86_64-unknown-linux-gnu
cargo build --release --target "$LINUX" --no-default-features --features connector --bin aicfo-connector

# One archive per target holding only the program, with fixed times so the same program gives
# the same archive; then signed for its own file name; then the manifest.
python3 - "$OUT" "$VERSION" \
    "x86_64-pc-windows-gnu=AICFOConnector.exe=dist/windows/AICFOConnector.exe" \
    "$LINUX=aicfo-connector=target/$LINUX/release/aicfo-connector" <<'PY'
import sys, zipfile
out, version = sys.argv[1], sys.argv[2]
for spec in sys.argv[3:]:
    triple, program, path = spec.split("=", 2)
    info = zipfile.ZipInfo(program, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = 0o100755 << 16
    info.create_system = 3
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(path, "rb") as f, zipfile.ZipFile(f"{out}/aicfo-connector-{version}-{triple}.zip", "w") as z:
        z.writestr(info, f.read(), compresslevel=9)
PY
"$RELEASE_TOOL" sign "$KEY" "$OUT"/aicfo-connector-"$VERSION"-*.zip
for zip in "$OUT"/*.zip; do "$RELEASE_TOOL" verify "$AICFO_VERIFYING_KEY" "$zip"; done
python3 - "$OUT" "$VERSION" <<'PY'
import hashlib, json, os, sys, zipfile
out, version = sys.argv[1], sys.argv[2]
releases = []
for name in sorted(os.listdir(out)):
    if not name.endswith(".zip"):
        continue
    path = os.path.join(out, name)
    data = open(path, "rb").read()
    with zipfile.ZipFile(path) as z:
        (program,) = z.namelist()
        inner = z.read(program)
    triple = name[len(f"aicfo-connector-{version}-"):-len(".zip")]
    releases.append({"version": version, "target": triple, "file": name, "size": len(data),
                     "sha256": hashlib.sha256(data).hexdigest(), "program": program,
                     "programSha256": hashlib.sha256(inner).hexdigest()})
json.dump({"releases": releases}, open(os.path.join(out, "manifest.json"), "w"), indent=2)
PY

# The appliance with the releases embedded.
AICFO_EMBED_CONNECTORS="$PWD/$OUT" cargo build --release --no-default-features \
    --features server,embedded-connectors --bin aicfo-server
cp target/release/aicfo-server dist/aicfo-server
TARBALL=dist/aicfo-appliance-$VERSION-linux-x86_64.tar.gz
STAGE=$(mktemp -d)
mkdir "$STAGE/aicfo-appliance-$VERSION"
cp dist/aicfo-server Rocket.toml README.md packaging/linux/aicfo.service "$STAGE/aicfo-appliance-$VERSION/"
tar --sort=name --mtime=2020-01-01 --owner=0 --group=0 --numeric-owner -C "$STAGE" -czf "$TARBALL" "aicfo-appliance-$VERSION"
rm -rf "$STAGE"
DEB=$(packaging/linux/make-deb.sh dist/aicfo-server "$VERSION" dist)
ls -l "$DEB"

# The Windows appliance with the same releases embedded, zipped with its settings and the
# README for the office's IT person (install the service, password, firewall, backup, upgrade).
AICFO_EMBED_CONNECTORS="$PWD/$OUT" packaging/build-windows.sh server
WINZIP=dist/aicfo-appliance-$VERSION-windows-x86_64.zip
python3 - "$WINZIP" "aicfo-appliance-$VERSION" <<'PY'
import sys, zipfile
path, top = sys.argv[1], sys.argv[2]
files = [("dist/windows/aicfo-server.exe", "aicfo-server.exe"), ("Rocket.toml", "Rocket.toml"),
         ("packaging/windows/appliance/README.txt", "README.txt")]
with zipfile.ZipFile(path, "w") as z:
    for source, name in files:
        data = open(source, "rb").read()
        if name.endswith((".txt", ".toml")):
            data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # Notepad's line ends
        info = zipfile.ZipInfo(f"{top}/{name}", date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, data, compresslevel=9)
PY
ls -l dist/windows/AICFOConnector.exe "target/$LINUX/release/aicfo-connector" dist/aicfo-server "$TARBALL" "$DEB" dist/windows/aicfo-server.exe "$WINZIP"
echo "built dist/aicfo-server, $TARBALL, $DEB and $WINZIP (connectors $VERSION for: $(ls "$OUT" | grep -c '\.zip$') targets)"
