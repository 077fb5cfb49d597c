#!/bin/bash
# bench-applet.sh [N] — what pymemd-applet costs while nothing happens: its
# window open on N idle Python processes (default 200) for $IDLE_SECONDS
# (default 300), its CPU seconds and its wakeups a minute, next to
# gnome-system-monitor's process list on the same machine, measured the same
# way right after it.
#
#   CPU        utime + stime of every thread (/proc/PID/stat), over the window
#   wakeups    the times its threads were switched in: voluntary plus
#              involuntary context switches of every thread
#              (/proc/PID/task/*/status), a minute; the main thread's apart
#   signals    the D-Bus signals pymemd sent the applet meanwhile
#              (dbus-monitor): a row updates only on one of them
#
# The applet does not poll: at rest it should not wake at all but for those
# signals. gnome-system-monitor refreshes its list every 3 s (its default).
#
# Run as root from the build directory after `make` (or `make bench-applet`).
# Set-up: Xvfb, a session bus for both programs (GSettings in memory), a
# private bus with the real daemon (`daemon/pymemd --address ADDR
# --interval 2`) that must list all N processes before the applet starts;
# each program settles for $SETTLE_SECONDS (default 30) before its window
# is measured. It never fails on a figure. Everything it starts is killed on
# exit.
set -euo pipefail

N=${1:-200}
IDLE_SECONDS=${IDLE_SECONDS:-300}
SETTLE_SECONDS=${SETTLE_SECONDS:-30}
PYTHON=/usr/bin/python3
PYMEMD=daemon/pymemd
PYMEMCTL=client/pymemctl
APPLET=applet/pymemd-applet

die () { echo "bench-applet: $*" >&2; exit 1; }

if ! [[ $N =~ ^[0-9]+$ ]] || (( N == 0 )); then die "usage: $0 [N]"; fi
[[ -x $PYMEMD && -x $PYMEMCTL ]] || die "run from the build directory after make"
[[ -x $APPLET ]] || die "no $APPLET: configure did not find GTK 4 (libgtk-4-dev)"
(( EUID == 0 )) || die "must run as root (pymemd reads other processes' smaps)"

missing=()
command -v Xvfb >/dev/null || missing+=(xvfb)
command -v dbus-daemon >/dev/null || missing+=(dbus-daemon)
command -v dbus-monitor >/dev/null || missing+=(dbus-bin)
command -v jq >/dev/null || missing+=(jq)
command -v gnome-system-monitor >/dev/null || missing+=(gnome-system-monitor)
if (( ${#missing[@]} )); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" || echo "bench-applet: could not install ${missing[*]}" >&2
fi

SRC=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=idle.sh
. "$SRC/idle.sh"

WORK=$(mktemp -d /tmp/pymemd-bench-applet.XXXXXX)
PIDS=()
XVFB='' SESSION='' BUS='' DPID='' MONITOR='' APP=''
listed=0
stop () {   # stop PID...: TERM, then reap
  local p
  for p in "$@"; do [[ -n $p ]] && kill "$p" 2>/dev/null; done
  for p in "$@"; do [[ -n $p ]] && { wait "$p" 2>/dev/null || true; }; done
  return 0
}
cleanup () {
  stop "$APP" "$MONITOR" "$DPID"
  (( ${#PIDS[@]} )) && stop "${PIDS[@]}"
  stop "$BUS" "$SESSION" "$XVFB"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_bus NAME: a dbus-daemon whose address lands in $WORK/NAME.address
start_bus () {
  dbus-daemon --session --nofork --print-address > "$WORK/$1.address" 2> "$WORK/$1.log" &
  echo $!
}
read_address () {
  local i
  for ((i = 0; i < 100; i++)); do [[ -s $WORK/$1.address ]] && break; sleep 0.05; done
  head -n 1 "$WORK/$1.address"
}

# sample PID: "ticks switches main_switches threads"
sample () {
  local pid=$1 ticks switches=0 main=0 t v n
  ticks=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  for t in /proc/"$pid"/task/*; do
    v=$(awk '/^voluntary_ctxt_switches/ { v = $2 } /^nonvoluntary_ctxt_switches/ { n = $2 } END { print v + n }' \
          "$t/status" 2>/dev/null || echo 0)
    switches=$((switches + v))
    [[ ${t##*/} == "$pid" ]] && main=$v
  done
  n=$(ls /proc/"$pid"/task | wc -l)
  echo "$ticks $switches $main $n"
}

# signals_so_far: the signals pymemd has sent that the applet listens to
signals_so_far () {
  grep -cE 'MemoryChanged|GrowthSuspected|InterfacesAdded|InterfacesRemoved|PropertiesChanged' \
    "$WORK/signals.all" || true
}

# measure NAME PID COUNT_SIGNALS: settles, then samples PID over
# IDLE_SECONDS; prints a row
measure () {
  local name=$1 pid=$2 before after hz cpu wake main threads signals=- s0=0
  sleep "$SETTLE_SECONDS"
  [[ -d /proc/$pid ]] || die "$name exited: $(tail -n 3 "$WORK/$name.log")"
  [[ $3 == yes ]] && s0=$(signals_so_far)
  before=$(sample "$pid")
  sleep "$IDLE_SECONDS"
  [[ -d /proc/$pid ]] || die "$name exited: $(tail -n 3 "$WORK/$name.log")"
  after=$(sample "$pid")
  [[ $3 == yes ]] && signals=$(( $(signals_so_far) - s0 ))
  hz=$(getconf CLK_TCK)
  read -r b_ticks b_sw b_main _ <<< "$before"
  read -r a_ticks a_sw a_main threads <<< "$after"
  cpu=$(awk -v t=$((a_ticks - b_ticks)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')
  wake=$(awk -v s=$((a_sw - b_sw)) -v d="$IDLE_SECONDS" 'BEGIN { printf "%.1f", s * 60 / d }')
  main=$(awk -v s=$((a_main - b_main)) -v d="$IDLE_SECONDS" 'BEGIN { printf "%.1f", s * 60 / d }')
  printf '%-22s %11s %15s %13s %8s %9s\n' "$name" "$cpu" "$wake" "$main" "$threads" "$signals"
}

echo "starting $N idle Python processes..."
for ((i = 0; i < N; i++)); do
  "$PYTHON" -c 'import time; time.sleep(1e6)' &
  PIDS+=($!)
done
wait_idle "${PIDS[@]}"

Xvfb -displayfd 1 -screen 0 1280x1024x24 -nolisten tcp > "$WORK/display" 2> "$WORK/xvfb.log" &
XVFB=$!
for ((i = 0; i < 200; i++)); do [[ -s $WORK/display ]] && break; sleep 0.05; done
DISPLAY=:$(head -n 1 "$WORK/display")
[[ $DISPLAY != : ]] || die "Xvfb gave no display: $(cat "$WORK/xvfb.log")"
SESSION=$(start_bus session)
SESSION_ADDR=$(read_address session)
BUS=$(start_bus system)
ADDR=$(read_address system)
"$PYMEMD" --address "$ADDR" --interval 2 > "$WORK/pymemd.log" 2>&1 &
DPID=$!

echo "waiting until pymemd lists them all..."
deadline=$((SECONDS + 120))
while :; do
  listed=$("$PYMEMCTL" --address "$ADDR" list --json 2>/dev/null | jq ".processes | length" 2>/dev/null || echo 0)
  (( listed >= N )) && break
  (( SECONDS < deadline )) || die "pymemd lists $listed of $N processes after 120 s: $(tail -n 5 "$WORK/pymemd.log")"
  sleep 0.5
done

export DISPLAY GSETTINGS_BACKEND=memory GTK_A11Y=none NO_AT_BRIDGE=1 DBUS_SESSION_BUS_ADDRESS=$SESSION_ADDR
# What pymemd sends the applet: its unicast signals and the object manager's.
dbus-monitor --address "$ADDR" --profile "type='signal',sender='org.pymemd.Monitor1'" \
  > "$WORK/signals.all" 2> "$WORK/monitor.log" &
MONITOR=$!

echo "pymemd-applet: ${SETTLE_SECONDS} s to settle, then ${IDLE_SECONDS} s measured..."
"$APPLET" --address "$ADDR" > "$WORK/pymemd-applet.log" 2>&1 &
APP=$!
applet_row=$(measure pymemd-applet "$APP" yes)
stop "$APP"; APP=''

gsm_row="gnome-system-monitor: not installed"
if command -v gnome-system-monitor >/dev/null; then
  echo "gnome-system-monitor -p: ${SETTLE_SECONDS} s to settle, then ${IDLE_SECONDS} s measured..."
  gnome-system-monitor -p > "$WORK/gnome-system-monitor.log" 2>&1 &
  APP=$!
  gsm_row=$(measure gnome-system-monitor "$APP" no)
  stop "$APP"; APP=''
fi

echo
echo "== idle for ${IDLE_SECONDS} s with N=$N python3 (pymemd watches $listed), kernel $(uname -r)," \
     "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) =="
printf '%-22s %11s %15s %13s %8s %9s\n' program "CPU seconds" "wakeups/minute" "main thread" threads signals
echo "$applet_row"
echo "$gsm_row"
echo "(gnome-system-monitor on its processes tab; signals: those pymemd sent meanwhile that the applet"
echo " listens to, which are the only reason it has to wake; a wakeup is a thread switched in)"
