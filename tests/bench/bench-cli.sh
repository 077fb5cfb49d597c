#!/bin/bash
# bench-cli.sh [N] — the command line's wall time against smem on the same N
# idle Python processes (default 200), in the same run:
#
#   pymemctl top -b -n 1       one batch frame (GetSamples, GetProcesses for
#                              the names, GetGrowth per process)
#   pymemctl list --json       every process as JSON
#   smem -P python             the baseline: reads every process's smaps
#
# Each is run $REPEAT times (smem $SMEM_REPEAT times); the median wall time
# (bash $EPOCHREALTIME around the command, output to /dev/null) is reported
# with the minimum, and the ratio smem / pymemctl.      target: >= 20x faster
#
# Run as root from the build directory after `make` (or `make bench-cli`).
# Set-up as bench-service.sh: a private bus (`dbus-daemon --session`) and the
# real daemon, `daemon/pymemd --address ADDR --interval 2`, which must list
# all N processes before timing starts.  It never fails on a figure.
# Everything it starts is killed on exit.
set -euo pipefail

N=${1:-200}
REPEAT=${REPEAT:-21}
SMEM_REPEAT=${SMEM_REPEAT:-5}
PYTHON=/usr/bin/python3
PYMEMD=daemon/pymemd
PYMEMCTL=client/pymemctl

die () { echo "bench-cli: $*" >&2; exit 1; }

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

WORK=$(mktemp -d /tmp/pymemd-bench-cli.XXXXXX)
PIDS=()
BUS='' DPID=''
stop () {   # stop PID...: TERM, then reap
  local p
  for p in "$@"; do [[ -n $p ]] && kill "$p" 2>/dev/null; done
  for p in "$@"; do [[ -n $p ]] && { wait "$p" 2>/dev/null || true; }; done
  return 0
}
cleanup () {
  stop "$DPID"
  (( ${#PIDS[@]} )) && stop "${PIDS[@]}"
  stop "$BUS"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ms_since () { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", (b - a) * 1000 }'; }
median () { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
minimum () { sort -n | head -n 1; }

# time_runs COUNT COMMAND...: prints each run's wall ms, one per line
time_runs () {
  local count=$1 i t; shift
  for ((i = 0; i < count; i++)); do
    t=$EPOCHREALTIME
    "$@" > /dev/null 2>> "$WORK/errors" || die "failed: $* ($(tail -n 1 "$WORK/errors"))"
    ms_since "$t"; echo
  done
}

echo "starting $N idle Python processes..."
for ((i = 0; i < N; i++)); do
  "$PYTHON" -c 'import time; time.sleep(1e6)' &
  PIDS+=($!)
done

dbus-daemon --session --nofork --print-address > "$WORK/address" 2> "$WORK/bus.log" &
BUS=$!
for ((i = 0; i < 100; i++)); do [[ -s $WORK/address ]] && break; sleep 0.05; done
read -r ADDR < "$WORK/address" || die "dbus-daemon gave no address: $(cat "$WORK/bus.log")"
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
sleep 2   # a tick or two of steady state
smem_rows=$(smem -H -P python | wc -l)
top_rows=$("$PYMEMCTL" --address "$ADDR" top -b -n 1 | awk '$1 ~ /^[0-9]+$/' | wc -l)

echo "timing: pymemctl top -b -n 1 and list --json ($REPEAT runs each), smem -P python ($SMEM_REPEAT runs)"
# One warm-up each: page cache, the dynamic loader, the daemon's reply cache.
"$PYMEMCTL" --address "$ADDR" top -b -n 1 > /dev/null
"$PYMEMCTL" --address "$ADDR" list --json > /dev/null
smem -P python > /dev/null
top_runs=$(time_runs "$REPEAT" "$PYMEMCTL" --address "$ADDR" top -b -n 1)
list_runs=$(time_runs "$REPEAT" "$PYMEMCTL" --address "$ADDR" list --json)
smem_runs=$(time_runs "$SMEM_REPEAT" smem -P python)

smem_med=$(median <<< "$smem_runs")
row () {   # NAME RUNS
  local med min
  med=$(median <<< "$2"); min=$(minimum <<< "$2")
  printf '%-28s %10s %10s %12s %9s   %s\n' "$1" "$med" "$min" "$smem_med" \
    "$(awk -v s="$smem_med" -v m="$med" 'BEGIN { printf "%.1fx", (m > 0 ? s / m : 0) }')" \
    "target >= 20x"
}

echo
echo "== pymemctl vs smem: N=$N idle python3 (pymemctl top shows $top_rows rows, smem $smem_rows)," \
     "kernel $(uname -r), $(nproc) CPUs =="
printf '%-28s %10s %10s %12s %9s   %s\n' command "median ms" "min ms" "smem med ms" "smem/it" target
row "pymemctl top -b -n 1" "$top_runs"
row "pymemctl list --json" "$list_runs"
printf '%-28s %10s %10s\n' "smem -P python" "$smem_med" "$(minimum <<< "$smem_runs")"
