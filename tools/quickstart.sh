#!/bin/sh
# The README's first command: installs what is missing, builds and installs
# pymemd, starts the service (under systemd where PID 1 is systemd; otherwise
# directly, on the system bus, starting that bus if none runs) and shows the
# Python processes running now, as the service reports them over D-Bus.
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
  systemctl restart pymemd.service
  echo "pymemd runs as pymemd.service (journalctl -u pymemd)"
else
  if [ -S /run/dbus/system_bus_socket ]; then
    dbus-send --system --type=method_call --dest=org.freedesktop.DBus / \
      org.freedesktop.DBus.ReloadConfig
  else
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

busctl --system --json=short call org.pymemd.Monitor1 /org/pymemd/Monitor1 \
  org.pymemd.Monitor1 GetProcesses |
  jq -r '
    def v(k): .[k].data // 0;
    (["PID", "USER", "PY", "PSS", "USS", "PRIV_DIRTY", "SWAP", "COMMAND"] | @tsv),
    (.data[0] | sort_by(-v("pss")) | .[] |
      [v("pid"), v("uid"), (.python_version.data // "?"), v("pss"), v("uss"),
       v("private_dirty"), v("swap"), (.cmdline.data | .[0:60])] | @tsv)' |
  numfmt --header --field=4-7 --to=iec-i --suffix=B --invalid=ignore |
  column -t -s "$(printf '\t')"
[ "$(busctl --system get-property org.pymemd.Monitor1 /org/pymemd/Monitor1 \
      org.pymemd.Monitor1 ProcessCount)" != "u 0" ] || echo "(no Python process is running now)"
echo
echo "Live on the bus: gdbus introspect --system --dest org.pymemd.Monitor1 --object-path /org/pymemd/Monitor1"
