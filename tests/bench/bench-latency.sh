#!/bin/bash
# bench-latency.sh [N [SECONDS]] — D-Bus latency of the service while it
# scans (issue 14): N idle Python processes (default 500), the real daemon at
# --interval 2 --detail-interval 30 on a private bus, and one client calling
# GetSamples, GetProcesses, GetHistory (a day at 1 min), GetProcessDetails
# and, as the baseline on the same daemon at the same moments,
# Properties.Get (Version), in turn, one call every $PACE_MS ms, for SECONDS
# (default 300).  Printed: p50/p90/p99/max of each, the daemon's CPU time
# (schedstat and utime+stime) and the client's over the run, the load
# average before and after, and what GDBus alone spends serialising and
# parsing the last GetProcesses and GetHistory replies (no bus, no daemon:
# the floor of those calls' shapes).  Targets (read, never enforced): p99 <= 5 ms for
# GetSamples, <= 10 ms for the others.
#
# The history: tests/bench/bench-history store writes $HISTORY_N processes
# (pids 100000 + i, start time 1000 + i) of 24 hours of 2 s ticks, with the
# daemon's own retention, into the state directory the daemon then uses, so
# that GetHistory reads a day of the per-minute tier in a store of real size
# while the daemon keeps writing N processes every tick.
#
# Run as root from the build directory after `make` (or `make bench-latency`).
# Everything it starts is killed on exit.
set -euo pipefail

BENCH=bench-latency
N=${1:-500}
DURATION=${2:-300}
PACE_MS=${PACE_MS:-20}
HISTORY_N=${HISTORY_N:-50}
PYTHON=/usr/bin/python3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STORE=tests/bench/bench-history
CLIENT=tests/bench/bench-client

# die, WORK, PIDS, BUS, DPID, ADDR, stop, clean-up on exit, bench_start_service
# shellcheck source=tests/bench/bench-lib.sh
. "$HERE/bench-lib.sh"
# shellcheck source=tests/bench/idle.sh
. "$HERE/idle.sh"
[[ $N =~ ^[0-9]+$ ]] && (( N > 0 )) && [[ $DURATION =~ ^[0-9]+$ ]] || die "usage: $0 [N [SECONDS]]"
[[ -x daemon/pymemd && -x $STORE ]] || die "run from the build directory after make tests/bench/bench-history"
(( EUID == 0 )) || die "must run as root (other processes' smaps_rollup)"
if [[ ! -x $CLIENT || $HERE/bench-client.c -nt $CLIENT ]]; then
  # shellcheck disable=SC2046
  gcc -std=gnu11 -O2 -g -Wall -o "$CLIENT" "$HERE/bench-client.c" $(pkg-config --cflags --libs gio-2.0 gio-unix-2.0)
fi
ulimit -n "$(ulimit -Hn)"

mkdir -p "$WORK/state"
echo "history: $STORE store \$DIR $HISTORY_N 24"
"$STORE" store "$WORK/state" "$HISTORY_N" 24 > "$WORK/store.out"

bench_start_service --state-dir "$WORK/state" --detail-interval 30
wait_idle "${PIDS[@]}"
"$CLIENT" wait "$ADDR" 120 || { cat "$WORK/pymemd.log" >&2; die "the daemon did not start"; }
# Past the start-up full pass and the first detail pass.
sleep 35

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "run: $CLIENT mix \$ADDR $DURATION $PACE_MS \$DPID $HISTORY_N \$PIDS_FILE (load average $load_before)"
printf '%s\n' "${PIDS[@]}" > "$WORK/pids"
out=$("$CLIENT" mix "$ADDR" "$DURATION" "$PACE_MS" "$DPID" "$HISTORY_N" "$WORK/pids")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

field () { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<< "$1"; }
base=$(grep 'call=Get(Version)' <<< "$out")
run=$(grep '^RESULT run' <<< "$out")
echo
echo "== pymemd D-Bus latency: $N idle python3, --interval 2 --detail-interval 30, $(field "$run" wall_s) s," \
     "one call every $PACE_MS ms; kernel $(uname -r), $(nproc) CPUs =="
echo "load average before: $load_before   after: $load_after"
printf '%-20s %6s %6s %8s %8s %8s %8s %10s   %s\n' call n errors p50_ms p90_ms p99_ms max_ms reply_B "p99 vs Get(Version), target"
for call in GetSamples GetProcesses GetHistory GetProcessDetails 'Get(Version)'; do
  r=$(grep "call=$call " <<< "$out")
  target='<= 10 ms'; [[ $call == GetSamples ]] && target='<= 5 ms'; [[ $call == 'Get(Version)' ]] && target='baseline'
  printf '%-20s %6s %6s %8s %8s %8s %8s %10s   %s\n' "$call" "$(field "$r" n)" "$(field "$r" errors)" \
    "$(field "$r" p50_ms)" "$(field "$r" p90_ms)" "$(field "$r" p99_ms)" "$(field "$r" max_ms)" \
    "$(field "$r" reply_bytes)" \
    "$(awk -v a="$(field "$r" p99_ms)" -v b="$(field "$base" p99_ms)" 'BEGIN { printf "%.1fx", (b > 0 ? a / b : 0) }'), $target"
done
echo "daemon CPU over the run: $(field "$run" daemon_cpu_ms) ms (schedstat), $(field "$run" daemon_stat_cpu_ms) ms" \
     "(utime+stime); client CPU $(field "$run" client_cpu_ms) ms;" \
     "$(field "$run" listed) processes listed (the machine's other interpreters too), $(field "$run" detailed) detailed in turn"
# The part of a call's time no daemon can save: GDBus's own serialising
# (the daemon's side) and parsing (the client's) of the same reply, one
# value at a time, with no bus in between.
for call in GetProcesses GetHistory; do
  wire=$(grep "^RESULT wire call=$call " <<< "$out" || true)
  [[ -n $wire ]] || continue
  echo "$call's reply through GDBus alone, no bus ($(field "$wire" bytes) bytes, median of 21):" \
       "serialise $(field "$wire" serialise_ms) ms + parse $(field "$wire" parse_ms) ms"
done
echo "-- history store --"; cat "$WORK/store.out"
if grep -qv '^$' "$WORK/pymemd.log"; then echo "-- pymemd.log (last 20 lines) --"; tail -n 20 "$WORK/pymemd.log"; fi
