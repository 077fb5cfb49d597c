#!/bin/bash
# bench-export.sh [N] — pymemctl export beside pymemctl list --json on the same N idle
# Python processes (default 500), in the same run:
#
#   pymemctl export                        the default bound: the 100 largest processes
#   pymemctl export --max-processes N      every process
#   pymemctl list --json                   every process as JSON (GetProcesses alone)
#
# export makes three calls (GetProcesses, GetBreakdowns, GetStatistics) after the
# properties; list one.  In each of $ROUNDS rounds each command runs $PER_ROUND times,
# interleaved so that other load on the machine weighs on all alike.  Reported per
# command: the median and minimum wall time (bash $EPOCHREALTIME around it, output to
# /dev/null), the median CPU time of pymemctl itself (user + system, bash's time: the
# rest of the wall time is the daemon's and the bus's), the output's size in bytes,
# gzipped (what node-exporter sends to a Prometheus that asks for gzip), and for
# export the number of series.
#
# Run as root from the build directory after `make` (or `make bench-export`).  Set-up
# as bench-cli.sh: a private bus (`dbus-daemon --session`) and the real daemon,
# `daemon/pymemd --address ADDR --interval 2`, which must list all N processes, and the
# detail pass must have reached them, before timing starts.  It never fails on a
# figure.  Everything it starts is killed on exit.
set -euo pipefail

N=${1:-500}
ROUNDS=${ROUNDS:-7}
PER_ROUND=${PER_ROUND:-3}
PYTHON=/usr/bin/python3
PYMEMD=daemon/pymemd
PYMEMCTL=client/pymemctl

BENCH=bench-export
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench-lib.sh
. "$HERE/bench-lib.sh"

if ! [[ $N =~ ^[0-9]+$ ]] || (( N == 0 )); then die "usage: $0 [N]"; fi
[[ -x $PYMEMD && -x $PYMEMCTL ]] || die "run from the build directory after make"
(( EUID == 0 )) || die "must run as root (pymemd reads other processes' smaps)"
for tool in dbus-daemon jq gzip; do command -v $tool >/dev/null || die "needs $tool"; done
[[ -x $PYTHON ]] || die "needs $PYTHON"

bench_start_service
ctl () { "$PYMEMCTL" --address "$ADDR" "$@"; }
# cpu_runs COUNT COMMAND...: prints each run's user + system ms, one per line
cpu_runs () {
  local count=$1 i TIMEFORMAT='%3U %3S'; shift
  for ((i = 0; i < count; i++)); do
    { time "$@" > /dev/null 2>> "$WORK/errors"; } 2>&1 | awk '{ printf "%.0f\n", ($1 + $2) * 1000 }'
  done
}

echo "waiting until pymemd lists them all, with their categories..."
deadline=$((SECONDS + 180))
while :; do
  listed=$(ctl list --json 2>/dev/null | jq ".processes | length" 2>/dev/null || echo 0)
  detailed=$(ctl export --max-processes "$N" 2>/dev/null |
    grep -c '^pymemd_process_category_pss_bytes{.*category="pymalloc"' || true)
  (( listed >= N && detailed >= N )) && break
  (( SECONDS < deadline )) ||
    die "pymemd lists $listed of $N processes, $detailed with categories, after 180 s: $(tail -n 5 "$WORK/pymemd.log")"
  sleep 1
done
sleep 2   # a tick or two of steady state

echo "timing: $ROUNDS rounds of pymemctl export, export --max-processes $N and list --json," \
     "$PER_ROUND times each"
# One warm-up each: page cache, the dynamic loader, the daemon's reply caches.
ctl export > /dev/null; ctl export --max-processes "$N" > /dev/null; ctl list --json > /dev/null
export_runs='' all_runs='' list_runs='' export_cpu='' all_cpu='' list_cpu=''
for ((r = 0; r < ROUNDS; r++)); do
  export_runs+=$(time_runs "$PER_ROUND" ctl export)$'\n'
  all_runs+=$(time_runs "$PER_ROUND" ctl export --max-processes "$N")$'\n'
  list_runs+=$(time_runs "$PER_ROUND" ctl list --json)$'\n'
  export_cpu+=$(cpu_runs 1 ctl export)$'\n'
  all_cpu+=$(cpu_runs 1 ctl export --max-processes "$N")$'\n'
  list_cpu+=$(cpu_runs 1 ctl list --json)$'\n'
done
ctl export > "$WORK/export.prom"
ctl export --max-processes "$N" > "$WORK/all.prom"
ctl list --json > "$WORK/list.json"

series () { grep -vc '^#' "$1"; }
row () {   # NAME RUNS CPU FILE SERIES
  printf '%-34s %9s %9s %7s %10s %9s %8s\n' "$1" "$(grep . <<< "$2" | median)" "$(grep . <<< "$2" | minimum)" \
    "$(grep . <<< "$3" | median)" "$(wc -c < "$4")" "$(gzip -c "$4" | wc -c)" "$5"
}

echo
echo "== pymemctl export vs list --json: N=$N idle python3 (pymemd watches" \
     "$(jq '.processes | length' "$WORK/list.json")), kernel $(uname -r), $(nproc) CPUs," \
     "load $(cut -d' ' -f1-3 /proc/loadavg) =="
printf '%-34s %9s %9s %7s %10s %9s %8s\n' command "median ms" "min ms" "cpu ms" bytes gzipped series
row "pymemctl export" "$export_runs" "$export_cpu" "$WORK/export.prom" "$(series "$WORK/export.prom")"
row "pymemctl export --max-processes $N" "$all_runs" "$all_cpu" "$WORK/all.prom" "$(series "$WORK/all.prom")"
row "pymemctl list --json" "$list_runs" "$list_cpu" "$WORK/list.json" "-"
