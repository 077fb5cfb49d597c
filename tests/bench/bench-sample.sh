#!/bin/bash
# bench-sample.sh [N] [TICKS] — sampling what moved (issue 15): the rollup
# tick's CPU when it reads smaps_rollup only where statm moved, against
# reading every interpreter's smaps_rollup, in the same run, with N idle
# interpreters (default 500), then with 10% of them allocating 1 MiB/s.
#
# Per phase, TICKS (default 10) rollup ticks 2 s apart in bench-scan
# --moved (pymemd's scanner in-process, as the daemon's tick runs it):
#   tick CPU          CPU of pymemd_scanner_scan (PYMEMD_SCAN_ROLLUP), which
#                     includes discovery (a readdir of /proc, one fstatat per
#                     pid, ELF checks of new processes), two stats per
#                     interpreter (who it runs as; its status only when they
#                     moved or at its refresh; one stat and no refresh with
#                     KNOWN_ONLY, where events say what changed), a pread of
#                     its statm, and the
#                     smaps_rollup reads the rule asks for (the "reads"
#                     column; "est." counts figures worked out from statm);
#   floor CPU         right after each tick, open + read + close of the
#                     smaps_rollup of every process the tick watches;
#                                            target: tick <= 0.1x idle,
#                                                    <= 0.3x with 10% active
#   check             those reads compared with the figures the tick let
#                     stand or worked out: RSS within 16 pages (docs/pymemd.8,
#                     SAMPLING), PSS's worst difference shown.
# With KNOWN_ONLY=1 the ticks do not list /proc, as the daemon's do when it
# hears process events ([monitor] events=true: a listing once a minute);
# UNHEARD=1 as well has them look at who each runs as the way they do
# without events (bench-scan --unheard), for comparison.
# Also, once per phase: `cat` of the N interpreters' smaps_rollup, CPU from
# bash `times` (the issue's baseline).
#
# The interpreters run a copy of /usr/bin/python3 made for this run, so
# that interpreters other programs start and end on the host (other
# benchmarks, test suites) do not count as a change of their sharers; those
# others are watched and counted in the tick all the same.
#
# Run as root from the build directory after `make` (needs
# tests/bench/bench-scan).  It never fails on a figure.  Everything it
# starts is killed on exit.
set -euo pipefail

N=${1:-500}
TICKS=${2:-10}
BENCH=tests/bench/bench-scan
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die () { echo "bench-sample: $*" >&2; exit 1; }

if ! [[ $N =~ ^[0-9]+$ && $TICKS =~ ^[0-9]+$ ]] || (( N < 10 || TICKS == 0 )); then
  die "usage: $0 [N>=10] [TICKS]"
fi
[[ -x $BENCH ]] || die "run from the build directory after make"
(( EUID == 0 )) || die "must run as root (other users' smaps_rollup)"
[[ -x /usr/bin/python3 ]] || die "needs /usr/bin/python3"

WORK=$(mktemp -d /tmp/pymemd-bench-sample.XXXXXX)
PIDS=()
cleanup () {
  (( ${#PIDS[@]} )) && kill "${PIDS[@]}" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)"

# shellcheck source=tests/bench/idle.sh
. "$HERE/idle.sh"

PY=$WORK/python3
cp /usr/bin/python3 "$PY"

# cat_floor: CPU ms of cat reading every pid's smaps_rollup once
cat_floor () {
  local out
  out=$( cat "${@/%/\/smaps_rollup}" > /dev/null 2>&1; times )
  awk 'NR == 2 { cpu = 0
                 for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); cpu += t[1] * 60 + t[2] }
                 printf "%.1f\n", cpu * 1000 }' <<< "$out"
}

phase () {   # NAME
  local procs=() p out
  for p in "${PIDS[@]}"; do procs+=("/proc/$p"); done
  echo "== $1: $BENCH --moved $TICKS --interval 2 ${KNOWN_ONLY:+--known-only} ${UNHEARD:+--unheard} =="
  out=$("$BENCH" --moved "$TICKS" --interval 2 ${KNOWN_ONLY:+--known-only} ${UNHEARD:+--unheard})
  echo "$out"
  echo "cat of the ${#procs[@]} interpreters' smaps_rollup: $(cat_floor "${procs[@]}") ms CPU"
  echo
}

echo "starting $N idle interpreters ($PY)..."
for ((i = 0; i < N; i++)); do
  "$PY" -c 'import time; time.sleep(1e6)' &
  PIDS+=($!)
done
wait_idle "${PIDS[@]}"
sleep 2
echo "kernel $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)," \
     "$(ls -d /proc/[0-9]* | wc -l) processes on the host"
phase "$N idle"

ACTIVE=$((N / 10))
echo "replacing $ACTIVE idle interpreters by $ACTIVE that allocate 1 MiB/s..."
kill "${PIDS[@]:0:ACTIVE}"
PIDS=("${PIDS[@]:ACTIVE}")
for ((i = 0; i < ACTIVE; i++)); do
  "$PY" -c 'import time
keep = []
while True:
    b = bytearray(1 << 20)
    b[::4096] = b"x" * (len(b) // 4096)
    keep.append(b)
    time.sleep(1)' &
  PIDS+=($!)
done
sleep 3
phase "$((N - ACTIVE)) idle + $ACTIVE allocating"
