#!/bin/bash
# bench-cli.sh [N] — the command line's wall time against smem on the same N
# idle Python processes (default 200), in the same run:
#
#   pymemctl top -b -n 1       one batch frame (GetSamples, GetProcesses for
#                              the names, GetGrowth per process)
#   pymemctl list --json       every process as JSON (GetTable; names and
#                              command lines kept between runs, in
#                              $WORK/identities: what a second run finds)
#   list --json, none kept     the same with no identities kept
#                              (PYMEMCTL_CACHE=): GetTable and GetIdentities
#   smem -P python             the baseline: reads every process's smaps
#
# In each of $ROUNDS rounds smem runs once and each pymemctl command $PER_ROUND
# times, interleaved so that other load on the machine weighs on both sides
# alike.  Reported: the median and minimum wall time (bash $EPOCHREALTIME
# around the command, output to /dev/null) and the ratios smem / pymemctl of
# the medians and of the minima.                      target: >= 20x faster
#
# Run as root from the build directory after `make` (or `make bench-cli`).
# Set-up as bench-service.sh: a private bus (`dbus-daemon --session`) and the
# real daemon, `daemon/pymemd --address ADDR --interval 2`, which must list
# all N processes before timing starts.  It never fails on a figure.
# Everything it starts is killed on exit.
set -euo pipefail

N=${1:-200}
ROUNDS=${ROUNDS:-7}
PER_ROUND=${PER_ROUND:-3}
PYTHON=/usr/bin/python3
PYMEMD=${PYMEMD:-daemon/pymemd}   # another build to compare: PYMEMD=/path/to/pymemd
PYMEMCTL=client/pymemctl

BENCH=bench-cli
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench-lib.sh
. "$HERE/bench-lib.sh"

if ! [[ $N =~ ^[0-9]+$ ]] || (( N == 0 )); then die "usage: $0 [N]"; fi
[[ -x $PYMEMD && -x $PYMEMCTL ]] || die "run from the build directory after make"
(( EUID == 0 )) || die "must run as root (smem and pymemd read other processes' smaps)"

missing=()
command -v smem >/dev/null || missing+=(smem)
command -v dbus-daemon >/dev/null || missing+=(dbus-daemon)
command -v jq >/dev/null || missing+=(jq)
[[ -x $PYTHON ]] || missing+=(python3)
if (( ${#missing[@]} )); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

bench_start_service

echo "waiting until pymemd lists them all..."
deadline=$((SECONDS + 120))
while :; do
  listed=$("$PYMEMCTL" --address "$ADDR" list --json 2>/dev/null | jq ".processes | length" 2>/dev/null || echo 0)
  (( listed >= N )) && break
  (( SECONDS < deadline )) || die "pymemd lists $listed of $N processes after 120 s: $(tail -n 5 "$WORK/pymemd.log")"
  sleep 0.5
done
sleep 2   # a tick or two of steady state
smem_rows=$(smem -H -P python | wc -l)
top_rows=$("$PYMEMCTL" --address "$ADDR" top -b -n 1 | awk '$1 ~ /^[0-9]+$/' | wc -l)

echo "timing: $ROUNDS rounds of smem -P python once, pymemctl top -b -n 1 and list --json" \
     "$PER_ROUND times each"
# One warm-up each: page cache, the dynamic loader, the daemon's reply cache,
# and list's identities (kept in this run's directory, not root's home).
export PYMEMCTL_CACHE=$WORK/identities
"$PYMEMCTL" --address "$ADDR" top -b -n 1 > /dev/null
"$PYMEMCTL" --address "$ADDR" list --json > /dev/null
smem -P python > /dev/null
top_runs='' list_runs='' bare_runs='' smem_runs=''
for ((r = 0; r < ROUNDS; r++)); do
  smem_runs+=$(time_runs 1 smem -P python)$'\n'
  top_runs+=$(time_runs "$PER_ROUND" "$PYMEMCTL" --address "$ADDR" top -b -n 1)$'\n'
  list_runs+=$(time_runs "$PER_ROUND" "$PYMEMCTL" --address "$ADDR" list --json)$'\n'
  bare_runs+=$(PYMEMCTL_CACHE='' time_runs "$PER_ROUND" "$PYMEMCTL" --address "$ADDR" list --json)$'\n'
done

smem_med=$(grep . <<< "$smem_runs" | median)
smem_min=$(grep . <<< "$smem_runs" | minimum)
ratio () { awk -v s="$1" -v m="$2" 'BEGIN { printf "%.1fx", (m > 0 ? s / m : 0) }'; }
row () {   # NAME RUNS
  local med min
  med=$(grep . <<< "$2" | median); min=$(grep . <<< "$2" | minimum)
  printf '%-24s %9s %9s %9s %9s   %s\n' "$1" "$med" "$min" "$(ratio "$smem_med" "$med")" \
    "$(ratio "$smem_min" "$min")" "target >= 20x"
}

echo
echo "== pymemctl vs smem: N=$N idle python3 (pymemctl top shows $top_rows rows, smem $smem_rows)," \
     "kernel $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) =="
printf '%-24s %9s %9s %9s %9s   %s\n' command "median ms" "min ms" "med ratio" "min ratio" target
row "pymemctl top -b -n 1" "$top_runs"
row "pymemctl list --json" "$list_runs"
row "list --json, none kept" "$bare_runs"
printf '%-24s %9s %9s\n' "smem -P python" "$smem_med" "$smem_min"
