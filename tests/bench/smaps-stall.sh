#!/bin/bash
# smaps-stall.sh — how long does reading /proc/PID/smaps (or smaps_rollup, or
# a whole `pymemd --once`) of a multi-GiB process stall that process?
#
# Run as root from the repository root after `make`.  A measurement for the
# docs (docs/pymemd.8, BUDGETS); it never fails on a figure.
#
# Target: tests/bench/stall-target.py, a Python process holding SIZE_GIB
# (default 4) of touched anonymous memory in 4 KiB pages (MADV_NOHUGEPAGE;
# STALL_THP=1 leaves the region without it).  During each WINDOW-second case
# a worker thread in it loops mmap(4096) + munmap — both need the target's
# mmap write lock, which a smaps reader takes for read — and records every
# iteration's latency.  With 2+ CPUs the target is pinned to the last CPU and
# the readers to the others (taskset), so CPU contention does not pose as a stall.
#
# Baseline: the same loop with no reader (run first and last, to see drift).
# Cases: a reader loops, back to back, for the whole window:
#   cat /proc/PID/smaps, cat /proc/PID/smaps_rollup, pymemd --once;
# and the daemon as it runs: `pymemd --interval 2` on a private bus, started
# before its window (its first full pass done), ticking for DAEMON_WINDOW
# seconds (default 60) with its detail and exact passes on their cadence;
# its own baseline, no reader for the same DAEMON_WINDOW, comes right before.
# Printed per case: the target loop's iterations, median, p99, p99.9 and max
# latency (us), iterations over 1 ms and their summed time; the reader's runs and its median and max wall time per run
# (ms, fork+exec included: `cat /dev/null` is shown as the exec overhead).
set -euo pipefail

SIZE_GIB=${SIZE_GIB:-4}
WINDOW=${WINDOW:-8}
DAEMON_WINDOW=${DAEMON_WINDOW:-60}
PYTHON=/usr/bin/python3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYMEMD=daemon/pymemd

die () { echo "smaps-stall: $*" >&2; exit 1; }
[[ -x $PYMEMD ]] || die "run from the repository root after make"
(( EUID == 0 )) || die "must run as root"
[[ -x $PYTHON ]] || { apt-get update -qq && apt-get install -y -qq python3; }

WORK=$(mktemp -d /tmp/pymemd-stall.XXXXXX)
TPID= BUS= DPID=
cleanup () {
  [[ -n $TPID ]] && kill "$TPID" 2>/dev/null
  [[ -n $DPID ]] && kill "$DPID" 2>/dev/null
  [[ -n $BUS ]] && kill "$BUS" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# On 2+ CPUs the target gets the last CPU and everything else the others, so
# that its latencies show lock waits rather than CPU contention with readers.
last_cpu=$(( $(nproc) - 1 ))
pin_target=()
if (( last_cpu > 0 )) && command -v taskset >/dev/null; then
  taskset -pc "0-$(( last_cpu - 1 ))" $$ > /dev/null
  pin_target=(taskset -c "$last_cpu")
fi
coproc TGT { exec "${pin_target[@]}" "$PYTHON" -u "$HERE/stall-target.py" "$SIZE_GIB"; }
TPID=$TGT_PID
read -r -t 300 ready <&"${TGT[0]}" || die "target did not start"
[[ $ready == READY* ]] || die "target: $ready"
TPID=$(sed 's/.*pid=\([0-9]*\).*/\1/' <<< "$ready")   # the interpreter itself
rss_kib=$(sed 's/.*rss_kib=\([0-9]*\).*/\1/' <<< "$ready")
smaps_bytes=$(wc -c < "/proc/$TPID/smaps")

# reader OUT CMD...: runs CMD back to back for WINDOW - 0.5 s, one wall time (ms) a line.
reader () {
  local out=$1 t0 t1 end
  shift
  end=$(( ${EPOCHREALTIME/./} + (WINDOW * 1000 - 500) * 1000 ))
  : > "$out"
  while (( ${EPOCHREALTIME/./} < end )); do
    t0=${EPOCHREALTIME/./}
    "$@" > /dev/null 2>&1 || true
    t1=${EPOCHREALTIME/./}
    echo "$(( t1 - t0 ))" >> "$out"
  done
}

stats () {   # FILE of microseconds -> "runs median_ms max_ms"
  sort -n "$1" | awk '{ a[NR] = $1 } END {
    if (NR == 0) { print "- - -"; exit }
    printf "%d %.1f %.1f\n", NR, a[int((NR + 1) / 2)] / 1000, a[NR] / 1000 }'
}

ROWS=()
run_case () {   # LABEL [CMD...]; the window is CASE_WINDOW (default WINDOW) s
  local label=$1 result r=("-" "-" "-") window=${CASE_WINDOW:-$WINDOW}
  shift
  echo "measure $window $label" >&"${TGT[1]}"
  if (( $# )); then
    reader "$WORK/$label" "$@"
    read -r -a r < <(stats "$WORK/$label")
  fi
  read -r -t $((window + 60)) result <&"${TGT[0]}" || die "no result for $label"
  f () { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$result"; }
  ROWS+=("$(printf '%-18s %8s %7s %7s %9s %9s %7s %8s | %5s %8s %8s' "$label" "$(f n)" \
            "$(f median_us)" "$(f p99_us)" "$(f p999_us)" "$(f max_us)" "$(f stalls)" \
            "$(f stalled_ms)" "${r[@]}")")
  echo "  $label done" >&2
}

echo "target pid $TPID: ${SIZE_GIB} GiB touched, VmRSS $rss_kib KiB, smaps $smaps_bytes bytes;" \
     "$WINDOW s per case" >&2
reader "$WORK/exec" cat /dev/null & wait $!   # (also warms the page cache)
read -r -a exec_stats < <(stats "$WORK/exec")

run_case "no-reader"
run_case "cat-smaps"        cat "/proc/$TPID/smaps"
run_case "cat-smaps_rollup" cat "/proc/$TPID/smaps_rollup"
run_case "pymemd-once"      "$PYMEMD" --once
run_case "no-reader-again"

# The daemon as it runs, against no reader over the same window.
CASE_WINDOW=$DAEMON_WINDOW run_case "no-reader-${DAEMON_WINDOW}s"
dbus-daemon --session --nofork --print-address > "$WORK/address" 2> "$WORK/bus.log" &
BUS=$!
for ((i = 0; i < 100; i++)); do [[ -s $WORK/address ]] && break; sleep 0.05; done
read -r address < "$WORK/address" || die "dbus-daemon gave no address"
"$PYMEMD" --address "$address" --interval 2 --state-dir "$WORK/state" --runtime-dir "$WORK/run" \
  > "$WORK/pymemd.log" 2>&1 &
DPID=$!
sleep 5   # its first full pass, over every process, done before the window
kill -0 "$DPID" 2>/dev/null || die "pymemd did not start: $(tail -n 3 "$WORK/pymemd.log")"
CASE_WINDOW=$DAEMON_WINDOW run_case "pymemd-ticking"
kill "$DPID"; wait "$DPID" 2>/dev/null; DPID=

echo "quit" >&"${TGT[1]}"
echo
echo "== smaps stall: target ${SIZE_GIB} GiB touched anon (4 KiB pages$( [[ ${STALL_THP:-} == 1 ]] \
     && echo ", no MADV_NOHUGEPAGE")), VmRSS $rss_kib KiB, smaps $smaps_bytes bytes," \
     "kernel $(uname -r), THP $(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled)," \
     "$WINDOW s per case, target ${pin_target[*]:-not pinned}, readers on the other CPUs =="
printf '%-18s %-60s | %s\n' "" "target's mmap+munmap loop: latency (us), stalls > 1 ms" \
       "reader (ms/run)"
printf '%-18s %8s %7s %7s %9s %9s %7s %8s | %5s %8s %8s\n' "reader" "loops" "median" "p99" \
       "p99.9" "max" "stalls" "stall ms" "runs" "median" "max"
for line in "${ROWS[@]}"; do echo "$line"; done
echo "exec overhead per reader run (cat /dev/null): median ${exec_stats[1]} ms, max ${exec_stats[2]} ms"
