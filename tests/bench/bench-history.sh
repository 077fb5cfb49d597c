#!/bin/bash
# bench-history.sh [N [HOURS]] — the history store (issue 4), each figure
# next to a baseline measured in the same run. N processes (default 200),
# HOURS of history (default 24) at a 2-second interval.
#
# Run as root from the build directory after `make` (or `make bench-history`).
# It prints figures; it never fails on one (targets are shown for reading).
#
#   a-c) tests/bench/bench-history store DIR N HOURS: CPU per tick of the
#        store's writes vs writing the same figures as text, and of it the
#        check for a file damaged, deleted or replaced (a'); disk bytes per
#        process-day; a 24-hour query at 1-minute resolution vs the bare
#        SELECT of the same rows (see bench-history.c).
#   d)   the real daemon (--address on a private bus, --state-dir DIR,
#        --interval 2) on that store with N idle Python processes alive:
#        GetHistory of 24 hours at 60 s over D-Bus for the stored processes
#        vs Properties.Get round trips.
#   e)   that daemon's memory (VmRSS, VmHWM) after 30 s, vs the same daemon
#        on an empty store.                               target <= 16 MiB RSS
set -euo pipefail

N=${1:-200}
HOURS=${2:-24}
PYTHON=/usr/bin/python3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYMEMD=daemon/pymemd
BENCH=tests/bench/bench-history
CLIENT=tests/bench/bench-client

die () { echo "bench-history: $*" >&2; exit 1; }
[[ $N =~ ^[0-9]+$ ]] && (( N > 0 )) || die "usage: $0 [N [HOURS]]"
[[ -x $PYMEMD && -x $BENCH ]] || die "run from the build directory after make tests/bench/bench-history"
(( EUID == 0 )) || die "must run as root"
if [[ ! -x $CLIENT || $HERE/bench-client.c -nt $CLIENT ]]; then
  # shellcheck disable=SC2046
  gcc -std=gnu11 -O2 -g -Wall -o "$CLIENT" "$HERE/bench-client.c" $(pkg-config --cflags --libs gio-2.0 gio-unix-2.0)
fi

WORK=$(mktemp -d /tmp/pymemd-bench-history.XXXXXX)
PIDS=()
BUS='' DPID=''
stop () { local p; for p in "$@"; do [[ -n $p ]] && kill "$p" 2>/dev/null; done
          for p in "$@"; do [[ -n $p ]] && { wait "$p" 2>/dev/null || true; }; done; return 0; }
cleanup () { stop "$DPID"; (( ${#PIDS[@]} )) && stop "${PIDS[@]}"; stop "$BUS"; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)"

mkdir -p "$WORK/full" "$WORK/empty"
echo "a-c) $BENCH store \$DIR $N $HOURS"
"$BENCH" store "$WORK/full" "$N" "$HOURS"

echo "starting $N idle Python processes and a private bus..."
for ((i = 0; i < N; i++)); do
  "$PYTHON" -c 'import time; time.sleep(1e6)' &
  PIDS+=($!)
done
dbus-daemon --session --nofork --print-address > "$WORK/address" 2> "$WORK/bus.log" &
BUS=$!
for ((i = 0; i < 100; i++)); do [[ -s $WORK/address ]] && break; sleep 0.05; done
read -r ADDR < "$WORK/address" || die "dbus-daemon gave no address"

memory () {   # memory STATE_DIR: sets RSS and HWM (KiB) after 30 s; leaves DPID running
  "$PYMEMD" --address "$ADDR" --state-dir "$1" --interval 2 > "$WORK/pymemd.log" 2>&1 &
  DPID=$!
  "$CLIENT" wait "$ADDR" 60 || { cat "$WORK/pymemd.log" >&2; die "the daemon did not start"; }
  sleep 30
  RSS=$(awk '/^VmRSS/ { print $2 }' "/proc/$DPID/status")
  HWM=$(awk '/^VmHWM/ { print $2 }' "/proc/$DPID/status")
}

memory "$WORK/full"
rss_full=$RSS hwm_full=$HWM
echo "d) $BENCH dbus \$ADDR $N"
"$BENCH" dbus "$ADDR" "$N"
stop "$DPID"; DPID=''
memory "$WORK/empty"
rss_empty=$RSS hwm_empty=$HWM
stop "$DPID"; DPID=''
printf 'e) daemon memory after 30 s, %s live processes: with %s h of history VmRSS %s KiB (peak %s)   |   ' \
  "$N" "$HOURS" "$rss_full" "$hwm_full"
printf 'empty store VmRSS %s KiB (peak %s)   (target <= 16384 KiB)\n' "$rss_empty" "$hwm_empty"
