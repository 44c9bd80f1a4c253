#!/usr/bin/env bash
# Builds the aicfo .deb with plain dpkg-deb: make-deb.sh BINARY VERSION OUT_DIR
# writes OUT_DIR/aicfo_VERSION_amd64.deb holding the binary, the systemd unit, the settings
# under /etc/aicfo (conffiles, kept on upgrade) and the maintainer scripts in packaging/linux/deb.
set -euo pipefail
BINARY=$1 VERSION=$2 OUT=$3
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT_DIR="$(cd "$HERE/../.." && pwd)"

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
PKG="$STAGE/aicfo"
install -D -m 0755 "$BINARY" "$PKG/usr/bin/aicfo-server"
install -D -m 0644 "$HERE/aicfo.service" "$PKG/usr/lib/systemd/system/aicfo.service"
install -D -m 0644 "$HERE/deb/Rocket.toml" "$PKG/etc/aicfo/Rocket.toml"
# May come to hold secrets (JWT_SECRET, AICFO_ADMIN_PASSWORD): root only; systemd reads it as root.
install -D -m 0600 "$HERE/deb/aicfo.env" "$PKG/etc/aicfo/aicfo.env"
install -D -m 0644 "$ROOT_DIR/README.md" "$PKG/usr/share/doc/aicfo/README.md"

install -d -m 0755 "$PKG/DEBIAN"
for script in postinst prerm postrm; do
    install -m 0755 "$HERE/deb/$script" "$PKG/DEBIAN/$script"
done
printf '/etc/aicfo/Rocket.toml\n/etc/aicfo/aicfo.env\n' > "$PKG/DEBIAN/conffiles"
SIZE_KB=$(du -sk --exclude=DEBIAN "$PKG" | cut -f1)
cat > "$PKG/DEBIAN/control" <<CONTROL
Package: aicfo
Version: $VERSION
Architecture: amd64
Maintainer: aicfo <support@aicfo.invalid>
Installed-Size: $SIZE_KB
Depends: libc6 (>= 2.31), passwd, init-system-helpers (>= 1.54)
Recommends: systemd
Section: misc
Priority: optional
Description: aicfo appliance for accounting firms
 Keeps each client company's chart of accounts and month-end ledger balances,
 sent by the Tally connectors in the office, as monthly snapshots. Runs as the
 systemd service aicfo, with its data in /var/lib/aicfo.
CONTROL

mkdir -p "$OUT"
DEB="$OUT/aicfo_${VERSION}_amd64.deb"
dpkg-deb --root-owner-group -Zxz --build "$PKG" "$DEB" >/dev/null
echo "$DEB"
