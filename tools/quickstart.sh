#!/bin/sh
# The README's first command: installs what is missing, builds and installs
# pymemd, starts the service (under systemd where PID 1 is systemd, enabled so
# that it also starts at boot; otherwise directly, on the system bus, starting
# that bus if none runs) and shows the Python processes running now with
# pymemctl, which asks the service. Run again, it upgrades: the configuration
# in /etc/pymemd is never touched (make install writes only the default).
set -eu
cd "$(dirname "$0")/.."

tools/install-deps.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { [ -x configure ] || NOCONFIGURE=1 ./autogen.sh; } >"$log" 2>&1 ||
   ! { [ -f Makefile ] || ./configure --prefix=/usr/local --sysconfdir=/etc; } >>"$log" 2>&1 ||
   ! make -j"$(nproc)" >>"$log" 2>&1 || ! make install >>"$log" 2>&1; then
  cat "$log" >&2
  echo "pymemd: the build failed (above)" >&2
  exit 1
fi

if [ "$(ps -p 1 -o comm=)" = systemd ]; then
  systemctl daemon-reload
  systemctl reload dbus.service 2>/dev/null || true # read the new bus policy
  # Enabled: history is recorded from boot on, not only once a client
  # happens to activate the service.
  systemctl enable --quiet pymemd.service
  systemctl restart pymemd.service
  echo "pymemd runs as pymemd.service, started at boot (journalctl -u pymemd)"
else
  # A running bus reads the new policy; a socket left by a bus that died
  # is replaced by a new bus.
  if ! { [ -S /run/dbus/system_bus_socket ] &&
         dbus-send --system --type=method_call --dest=org.freedesktop.DBus / \
           org.freedesktop.DBus.ReloadConfig 2>/dev/null; }; then
    rm -f /run/dbus/system_bus_socket /run/dbus/pid
    mkdir -p /run/dbus
    dbus-daemon --system --fork
  fi
  mkdir -p /run/pymemd
  setsid /usr/local/sbin/pymemd --system --replace </dev/null >/run/pymemd/pymemd.log 2>&1 &
  echo "pymemd runs in the background (no systemd here); log: /run/pymemd/pymemd.log"
fi

i=0
until busctl --system status org.pymemd.Monitor1 >/dev/null 2>&1; do
  i=$((i + 1))
  if [ $i -gt 50 ]; then
    echo "pymemd did not appear on the system bus" >&2
    exit 1
  fi
  sleep 0.2
done

# With none running, pymemctl list says so itself.
/usr/local/bin/pymemctl list
echo
echo "Next: pymemctl top (q quits, h for help) · pymemctl show PID · pymemctl history PID --since 1h"
echo "      pymemctl heap --attach PID: what the objects inside a Python process are"
echo "Live on the bus: gdbus introspect --system --dest org.pymemd.Monitor1 --object-path /org/pymemd/Monitor1"
