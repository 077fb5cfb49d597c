#!/bin/bash
# bench-propchanged.sh [N] — how often pymemd wakes every client that watches
# its properties while nothing happens: the PropertiesChanged signals a
# minute on N idle Python processes (default 20), from two daemons watching
# them at the same time, each on a private bus of its own:
#
#   every change    [signals] min-change-bytes=0: Totals, PythonSet and each
#                   Process1's Rss set on every change, as before issue 14
#   thresholded     the default configuration (1 MiB, and any smaller change
#                   at most once per detail interval)
#
# Both run `daemon/pymemd --session --interval 2` (detail pass every 30 s)
# as a system user with nothing else running ($BENCH_USER, default the first
# of games, news, uucp, proxy, backup, list, irc that runs no process;
# setpriv(1)), as are the interpreters:
# the daemons watch those N and nothing else this machine runs. Their buses
# (root's, open to every user) and dbus-monitor run as root. dbus-monitor counts the signals over $IDLE_SECONDS
# (default 60) after $SETTLE_SECONDS (default 20); the figures are split by
# object (the manager, Monitor1, and the Process1 objects). It never fails on
# a figure.
#
# Run as root from the build directory after `make` (or `make
# bench-propchanged`). Everything it starts is killed on exit.
set -euo pipefail

N=${1:-20}
IDLE_SECONDS=${IDLE_SECONDS:-60}
SETTLE_SECONDS=${SETTLE_SECONDS:-20}
PYTHON=/usr/bin/python3
PYMEMD=daemon/pymemd
BENCH=bench-propchanged

SRC=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench-lib.sh
. "$SRC/bench-lib.sh"
# shellcheck source=idle.sh
. "$SRC/idle.sh"

if ! [[ $N =~ ^[0-9]+$ ]] || (( N == 0 )); then die "usage: $0 [N]"; fi
[[ -x $PYMEMD ]] || die "run from the build directory after make"
(( EUID == 0 )) || die "must run as root (to run everything as a user of its own)"
for tool in dbus-daemon dbus-monitor setpriv; do
  command -v $tool >/dev/null || die "needs $tool"
done
# dbus-daemon lets in only users it can look up: a system user, not a bare id.
if [[ -z ${BENCH_USER:-} ]]; then
  for user in games news uucp proxy backup list irc; do
    id -u "$user" >/dev/null 2>&1 && ! pgrep -u "$user" >/dev/null && { BENCH_USER=$user; break; }
  done
fi
[[ -n ${BENCH_USER:-} ]] || die "no system user free of processes; set BENCH_USER"
pgrep -u "$BENCH_USER" >/dev/null && die "user $BENCH_USER already runs processes; set BENCH_USER"
BENCH_UID=$(id -u "$BENCH_USER")
AS_USER=(setpriv --reuid="$BENCH_UID" --regid="$(id -g "$BENCH_USER")" --clear-groups)
chmod 755 "$WORK"

# start_daemon NAME CONFIG-TEXT: a bus and a daemon on it, reading CONFIG-TEXT;
# the bus address in $WORK/NAME/address
start_daemon () {
  local dir=$WORK/$1 i addr
  mkdir -p "$dir/state" "$dir/run"
  printf '%s\n' "$2" > "$dir/pymemd.conf"
  chown -R "$BENCH_UID" "$dir"
  cat > "$dir/bus.conf" <<EOF
<busconfig>
  <type>session</type>
  <listen>unix:path=$dir/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
  dbus-daemon --config-file="$dir/bus.conf" --nofork --print-address > "$dir/address" 2> "$dir/bus.log" &
  PIDS+=($!)
  for ((i = 0; i < 100; i++)); do [[ -s $dir/address ]] && break; sleep 0.05; done
  read -r addr < "$dir/address" || die "dbus-daemon gave no address: $(cat "$dir/bus.log")"
  DBUS_SESSION_BUS_ADDRESS=$addr "${AS_USER[@]}" "$PYMEMD" --session --interval 2 \
    --config "$dir/pymemd.conf" --state-dir "$dir/state" --runtime-dir "$dir/run" \
    > "$dir/pymemd.log" 2>&1 &
  PIDS+=($!)
}

# start_monitor NAME: dbus-monitor on NAME's bus, writing $WORK/NAME/signals
start_monitor () {
  local addr
  read -r addr < "$WORK/$1/address"
  dbus-monitor --address "$addr" \
    "type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'" \
    > "$WORK/$1/signals" 2>&1 &
  MONITORS+=($!)
}

# count NAME PATH-PATTERN: the PropertiesChanged signals on objects matching it
count () {
  grep -c "member=PropertiesChanged" <(grep "path=$2;" "$WORK/$1/signals") || true
}

echo "starting $N idle Python processes..."
for ((i = 0; i < N; i++)); do
  "${AS_USER[@]}" "$PYTHON" -c 'import time; time.sleep(1e6)' &
  PIDS+=($!)
done
wait_idle "${PIDS[@]}"

start_daemon every $'[signals]\nmin-change-bytes=0'
start_daemon thresholded '[signals]'
echo "settling for $SETTLE_SECONDS s..."
sleep "$SETTLE_SECONDS"
MONITORS=()
start_monitor every
start_monitor thresholded
sleep "$IDLE_SECONDS"
stop "${MONITORS[@]}"

echo
echo "PropertiesChanged a minute, $N idle interpreters, interval 2 s, detail interval 30 s," \
  "over $IDLE_SECONDS s:"
printf '%-14s %10s %10s %10s\n' "" Monitor1 Process1 all
for name in every thresholded; do
  manager=$(count "$name" /org/pymemd/Monitor1)
  processes=$(count "$name" '/org/pymemd/Monitor1/process/[^;]*')
  printf '%-14s %10.1f %10.1f %10.1f\n' "$name" \
    "$(awk -v c="$manager" -v s="$IDLE_SECONDS" 'BEGIN { print c * 60 / s }')" \
    "$(awk -v c="$processes" -v s="$IDLE_SECONDS" 'BEGIN { print c * 60 / s }')" \
    "$(awk -v c="$((manager + processes))" -v s="$IDLE_SECONDS" 'BEGIN { print c * 60 / s }')"
done
echo
echo "Monitor1's properties in them, over $IDLE_SECONDS s:"
for name in every thresholded; do
  echo "  $name: $(awk '/^signal/ { manager = /path=\/org\/pymemd\/Monitor1;/; next }
                     manager && entry && /string "[A-Z]/ { gsub(/.*string "|".*/, ""); n[$0]++ }
                     { entry = /dict entry\(/ }
                     END { for (p in n) printf "%s %d  ", p, n[p] }' "$WORK/$name/signals")"
done
