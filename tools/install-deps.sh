#!/bin/sh
# Installs, with apt-get, whatever pymemd needs to build, test and show its
# report that is not installed yet. Run as root on Debian or Ubuntu.
set -eu

packages="build-essential autoconf automake autopoint gettext pkg-config
libglib2.0-dev libglib2.0-dev-bin libjson-glib-dev libelf-dev libsystemd-dev
libpolkit-gobject-1-dev libsqlite3-dev libdbus-1-dev systemd polkitd dbus-daemon python3 python3-dev
python3-dbusmock python3-objgraph jq valgrind gdb util-linux bash-completion libncurses-dev smem tmux
python3-gi gir1.2-gtk-3.0 xvfb strace libgtk-4-dev desktop-file-utils python3-numpy"

# A 32-bit loader, for the test that 32-bit ELF files (i386 Pythons on amd64) are read.
[ "$(dpkg --print-architecture)" != amd64 ] || packages="$packages libc6-i386"

# prometheus (for promtool) and prometheus-node-exporter, for the tests of pymemctl export
# against a real Prometheus: only where their services cannot start (PID 1 is not systemd
# and policy-rc.d forbids starting services, as in containers and CI), since on a host
# they would start listening on :9090 and :9100. Elsewhere those tests skip, saying why.
if [ "$(cat /proc/1/comm 2>/dev/null)" != systemd ] && [ -x /usr/sbin/policy-rc.d ] &&
  { /usr/sbin/policy-rc.d prometheus start >/dev/null 2>&1; [ $? -eq 101 ]; }; then
  packages="$packages prometheus prometheus-node-exporter"
fi

missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "pymemd: missing packages:$missing; run this as root (or: sudo apt-get install$missing)" >&2
  exit 1
fi
echo "pymemd: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
