#!/usr/bin/env bash
# Installs the .deb on a real systemd and checks what a firm's IT person would see:
#   install starts the service (as user aicfo) and writes the admin password; the data survives an
#   upgrade (the service restarts), a reboot (the service starts at boot) and a remove (the service
#   stops); a purge deletes the data and the user.
# The "machine" is a Debian bookworm container booted with systemd-nspawn (its own systemd as PID 1,
# its own network), made once with debootstrap into target/systemd-root/pristine and copied fresh for
# every run. Needs root, debootstrap and systemd-container (.ci/run installs them).
#
#   packaging/linux/test-on-systemd.sh [DEB] [BINARY]
# DEB defaults to dist/aicfo_<version>_amd64.deb; BINARY (dist/aicfo-server) is repackaged with a
# higher version to make the upgrade.
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
DEB=${1:-dist/aicfo_${VERSION}_amd64.deb}
BINARY=${2:-dist/aicfo-server}
[ -f "$DEB" ] && [ -x "$BINARY" ] || { echo "no $DEB or $BINARY: run packaging/build.sh first" >&2; exit 1; }

WORK=target/systemd-root
PRISTINE=$WORK/pristine
ROOT=$WORK/machine
LOG=$WORK/nspawn.log
mkdir -p "$WORK"
if [ ! -x "$PRISTINE/lib/systemd/systemd" ]; then
    rm -rf "$PRISTINE.part"
    debootstrap --include=systemd,systemd-sysv,dbus,curl,procps bookworm "$PRISTINE.part" \
        http://deb.debian.org/debian >"$WORK/debootstrap.log"
    mv "$PRISTINE.part" "$PRISTINE"
fi
rm -rf "$ROOT"
cp -a "$PRISTINE" "$ROOT"
UPGRADE_VERSION="$VERSION+systemdtest1"
packaging/linux/make-deb.sh "$BINARY" "$UPGRADE_VERSION" "$ROOT/root" >/dev/null
cp "$DEB" "$ROOT/root/aicfo.deb"

LEADER=
NSPAWN=
fail() {
    echo "FAILED: $*" >&2
    [ -n "$LEADER" ] && inside journalctl -u aicfo --no-pager -n 30 >&2 || true
    exit 1
}
inside() { nsenter -t "$LEADER" -a "$@"; }
boot() {
    setsid systemd-nspawn -q -D "$ROOT" -b --register=no --keep-unit --private-network \
        --console=passive >>"$LOG" 2>&1 &
    NSPAWN=$!
    for _ in $(seq 1 100); do
        LEADER=$(ps --ppid "$NSPAWN" -o pid= | tr -d " " | head -1 || true)
        if [ -n "$LEADER" ]; then
            state=$(inside systemctl is-system-running 2>/dev/null || true)
            case $state in running | degraded) return 0 ;; esac
        fi
        sleep 0.3
    done
    fail "the container did not finish booting (state: ${state:-none})"
}
power_off() {
    inside systemctl poweroff 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$NSPAWN" 2>/dev/null || { LEADER=; return 0; }; sleep 0.3; done
    kill -9 "$NSPAWN" 2>/dev/null || true
    fail "the container did not power off"
}
trap '[ -n "$LEADER" ] && power_off >/dev/null 2>&1; true' EXIT
health() {
    for _ in $(seq 1 50); do
        inside curl -sf http://127.0.0.1:8000/api/health && return 0
        sleep 0.2
    done
    return 1
}
api() { # METHOD PATH [JSON] with the admin's token
    inside curl -sf -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        ${3:+-d "$3"} "http://127.0.0.1:8000$2"
}
main_pid() { inside systemctl show -p MainPID --value aicfo; }

echo "== boot a Debian machine with systemd"
boot

echo "== install $DEB"
out=$(inside dpkg -i /root/aicfo.deb 2>&1) || fail "dpkg -i: $out"
grep -q "/var/lib/aicfo/admin-password.txt" <<<"$out" || fail "install does not say where the password is: $out"
[ "$(inside systemctl is-active aicfo)" = active ] || fail "the service is not running after install"
[ "$(inside systemctl is-enabled aicfo)" = enabled ] || fail "the service does not start at boot"
health | grep -q '"status":"ok"' || fail "no healthy answer on port 8000 after install"
[ "$(inside stat -c %U "/proc/$(main_pid)")" = aicfo ] || fail "the service does not run as user aicfo"
[ "$(inside stat -c '%U %a' /var/lib/aicfo/admin-password.txt)" = "aicfo 600" ] ||
    fail "the admin password file is not aicfo's alone"
PASSWORD=$(inside cat /var/lib/aicfo/admin-password.txt | tr -d '\r\n')
TOKEN=$(inside curl -sf -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}" http://127.0.0.1:8000/api/auth/login |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[ -n "$TOKEN" ] || fail "the admin cannot sign in with the written password"
api POST /api/companies '{"name":"Survivor Traders"}' >/dev/null || fail "cannot create a company"

echo "== upgrade to $UPGRADE_VERSION"
before=$(main_pid)
out=$(inside dpkg -i "/root/aicfo_${UPGRADE_VERSION}_amd64.deb" 2>&1) || fail "upgrade: $out"
grep -q "upgraded from $VERSION" <<<"$out" || fail "the upgrade does not say so: $out"
health >/dev/null || fail "no answer after the upgrade"
[ "$(main_pid)" != "$before" ] || fail "the service was not restarted by the upgrade"
api GET /api/companies | grep -q "Survivor Traders" || fail "the company is gone after the upgrade"
inside sh -c 'ls /var/lib/aicfo/backups/' | grep -q . || fail "no backup in /var/lib/aicfo/backups"

echo "== reboot"
power_off
boot
[ "$(inside systemctl is-active aicfo)" = active ] || fail "the service did not start at boot"
health >/dev/null || fail "no answer after the reboot"
api GET /api/companies | grep -q "Survivor Traders" || fail "the company is gone after the reboot"

echo "== the program is killed: systemd starts it again"
before=$(main_pid)
inside kill -9 "$before"
for _ in $(seq 1 100); do
    now=$(main_pid)
    [ "$now" != 0 ] && [ "$now" != "$before" ] && break
    sleep 0.2
done
[ "$now" != 0 ] && [ "$now" != "$before" ] || fail "the killed service was not started again"
health >/dev/null || fail "no answer after the restart"

echo "== remove (keeps the data)"
inside dpkg -r aicfo >/dev/null 2>&1 || fail "dpkg -r failed"
inside systemctl is-active aicfo >/dev/null 2>&1 && fail "the service still runs after remove"
inside test -f /var/lib/aicfo/aicfo.sqlite3 || fail "remove deleted the database"
inside test -e /usr/bin/aicfo-server && fail "remove left the program"

echo "== install again: the data is still there, no new password"
inside rm -f /var/lib/aicfo/admin-password.txt
inside dpkg -i /root/aicfo.deb >/dev/null 2>&1 || fail "reinstall failed"
health >/dev/null || fail "no answer after the reinstall"
[ "$(inside systemctl is-enabled aicfo)" = enabled ] || fail "the reinstalled service does not start at boot"
api GET /api/companies | grep -q "Survivor Traders" || fail "the company is gone after remove and reinstall"
inside test -e /var/lib/aicfo/admin-password.txt && fail "a reinstall wrote a new admin password"

echo "== purge (deletes the data and the user)"
inside dpkg -P aicfo >/dev/null 2>&1 || fail "dpkg -P failed"
inside test -e /var/lib/aicfo && fail "purge left /var/lib/aicfo"
inside getent passwd aicfo >/dev/null && fail "purge left the user aicfo"
inside sh -c 'ls /etc/systemd/system/*.wants/ | grep -q aicfo' && fail "purge left the service enabled"

power_off

echo "== install into the machine's files while it is off (an image being built), then boot it"
chroot "$ROOT" dpkg -i /root/aicfo.deb >/dev/null 2>&1 || fail "dpkg -i in a chroot failed"
boot
[ "$(inside systemctl is-active aicfo)" = active ] || fail "a service installed offline did not start at boot"
health >/dev/null || fail "no answer from a service installed offline"
inside test -f /var/lib/aicfo/admin-password.txt || fail "no admin password after the first boot"
power_off
chroot "$ROOT" dpkg -P aicfo >/dev/null 2>&1 || fail "dpkg -P in a chroot failed"
ls "$ROOT"/etc/systemd/system/*.wants/ | grep -q aicfo && fail "an offline purge left the service enabled"

SYSTEMD_VERSION=$("$ROOT/lib/systemd/systemd" --version | head -1 | cut -d' ' -f2)
rm -rf "$ROOT"
echo "ok: install, upgrade, reboot, restart after a kill, remove, reinstall, purge and offline install on systemd $SYSTEMD_VERSION"
