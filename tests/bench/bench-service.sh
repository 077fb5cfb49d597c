#!/bin/bash
# bench-service.sh [N] — the running service (issue 3): the daemon's CPU per
# tick, GetProcesses latency, and its own memory while processes come and go,
# each next to a baseline measured in the same run.  N idle Python processes
# (default 200).
#
# Run as root from the repository root after `make` (or `make bench-service`).
# It prints figures side by side; it never fails on a figure (targets are
# shown for reading only).  Everything it starts is killed on exit.
#
# Set-up: a private bus (`dbus-daemon --session --nofork --print-address`:
# the session policy is fine here) and the real daemon,
# `daemon/pymemd --address ADDR --interval 2 --detail-interval 30`.
# The client is tests/bench/bench-client (C, built here): a Python client
# would be watched by the daemon too.
#
#   a) CPU per tick: bench-client samples the daemon's threads' CPU time
#      (/proc/PID/task/*/schedstat, ns) every 2 ms for 31 s, starting after
#      the start-up full pass, and splits it into bursts, one per tick; the
#      detail pass (at 30 s) shows as one large burst with its tick.
#      Reported: median CPU per rollup tick, and amortised over every tick
#      of the window including the detail pass; also utime+stime from
#      /proc/PID/stat over the window (10 ms resolution).  Baseline: the
#      floor, open + read + close of /proc/PID/smaps_rollup of the same
#      processes (tests/bench/bench-scan, run before the daemon starts;
#      medians of $REPEAT).                                 target <= 1.3x
#   b) GetProcesses latency over one connection, each call timed with
#      CLOCK_MONOTONIC: $CALLS calls paced every $PACE_MS ms (they land on
#      ticks as a client's would: the daemon is single-threaded, a call that
#      arrives during a tick waits for it), and $CALLS back to back.
#      Baseline: Properties.Get (Version), the cheapest round trip through
#      the daemon's main loop, timed the same way.        target p99 <= 5 ms
#      Also CPU per call, back to back: the daemon's (all threads, ticks
#      during the run included) and the client's.
#   c) The daemon's memory (smaps_rollup Private_Dirty and Rss) and open
#      fds, every 2 s, while $SHORT short-lived interpreters (each
#      `python3 -c 'import time; time.sleep(0.3)'`, $CONC at a time) start
#      and end, with a new daemon at --interval 0.5 and one subscribed
#      client calling GetProcesses every second.  The idle ones are stopped
#      first.  Flat after warm-up: no growth per process seen.
set -euo pipefail

N=${1:-200}
REPEAT=${REPEAT:-5}
CALLS=${CALLS:-500}
PACE_MS=${PACE_MS:-20}
SHORT=${SHORT:-1000}
CONC=${CONC:-20}
PYTHON=/usr/bin/python3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)   # sources; binaries are relative to $PWD
BENCH=tests/bench/bench-scan
CLIENT=tests/bench/bench-client
PYMEMD=daemon/pymemd

die () { echo "bench-service: $*" >&2; exit 1; }

if ! [[ $N =~ ^[0-9]+$ ]] || (( N == 0 )); then die "usage: $0 [N]"; fi
[[ -x $PYMEMD && -f daemon/libpymemd.a ]] || die "run from the repository root after make"
(( EUID == 0 )) || die "must run as root (other processes' smaps_rollup)"

# --- tools -------------------------------------------------------------------
missing=()
command -v dbus-daemon >/dev/null || missing+=(dbus-daemon)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v gcc >/dev/null || missing+=(gcc)
[[ -x $PYTHON ]] || missing+=(python3)
if (( ${#missing[@]} )); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# bench-scan: built by make (tests/bench/Makefile.am.inc) or here by hand.
if [[ ! -x $BENCH || $HERE/bench-scan.c -nt $BENCH || daemon/libpymemd.a -nt $BENCH ]]; then
  src=$HERE/../..
  # shellcheck disable=SC2046
  gcc -std=gnu11 -O2 -g -Wall -I. -Icommon -I"$src/common" -I"$src/daemon/accounting" \
      -I"$src/daemon/history" -I"$src/daemon/inspect" -I"$src/daemon/service" \
      -o "$BENCH" "$HERE/bench-scan.c" daemon/libpymemd.a common/libpymemd-common.a \
      $(pkg-config --cflags --libs glib-2.0 gio-2.0 gio-unix-2.0 json-glib-1.0 libelf)
fi
if [[ ! -x $CLIENT || $HERE/bench-client.c -nt $CLIENT ]]; then
  # shellcheck disable=SC2046
  gcc -std=gnu11 -O2 -g -Wall -o "$CLIENT" "$HERE/bench-client.c" \
      $(pkg-config --cflags --libs gio-2.0 gio-unix-2.0)
fi

# --- clean-up ------------------------------------------------------------------
WORK=$(mktemp -d /tmp/pymemd-bench-service.XXXXXX)
PIDS=()
BUS='' DPID='' SUB='' SPAWNER=''
stop () {   # stop PID...: TERM, then reap
  local p
  for p in "$@"; do [[ -n $p ]] && kill "$p" 2>/dev/null; done
  for p in "$@"; do [[ -n $p ]] && { wait "$p" 2>/dev/null || true; }; done
  return 0
}
cleanup () {
  stop "$SPAWNER" "$SUB" "$DPID"
  (( ${#PIDS[@]} )) && stop "${PIDS[@]}"
  stop "$BUS"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)"

# is_idle PID, wait_idle PID...
# shellcheck source=tests/bench/idle.sh
. "$HERE/idle.sh"

field () { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<< "$1"; }   # field LINE KEY
div () { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
ROWS=()
row () {   # MEASUREMENT PYMEMD BASELINE VALUE RATIO TARGET
  ROWS+=("$(printf '%-36s %10s  %-30s %10s %7s  %s' "$1" "$2" "$3" "$4" "$5" "$6")")
}

start_daemon () {   # start_daemon LOG ARGS...: sets DPID, waits for the bus name
  local log=$WORK/$1; shift
  "$PYMEMD" --address "$ADDR" "$@" > "$log" 2>&1 &
  DPID=$!
  "$CLIENT" wait "$ADDR" 60 || { cat "$log" >&2; die "the daemon did not start"; }
}

# --- processes and bus ---------------------------------------------------------
echo "starting $N idle Python processes..."
for ((i = 0; i < N; i++)); do
  "$PYTHON" -c 'import time; time.sleep(1e6)' &
  PIDS+=($!)
done
wait_idle "${PIDS[@]}"
sleep 1

iters=$(( 20000 / N )); (( iters < 10 )) && iters=10
echo "a) floor: $BENCH --iterations $iters --repeat $REPEAT"
floor_out=$("$BENCH" --iterations "$iters" --repeat "$REPEAT" 2>/dev/null)
f=$(grep ^RESULT <<< "$floor_out")
floor_cpu=$(field "$f" floor_cpu_ms)
watched=$(field "$f" pids)

dbus-daemon --session --nofork --print-address > "$WORK/address" 2> "$WORK/bus.log" &
BUS=$!
for ((i = 0; i < 100; i++)); do [[ -s $WORK/address ]] && break; sleep 0.05; done
read -r ADDR < "$WORK/address" || die "dbus-daemon gave no address: $(cat "$WORK/bus.log")"

# --- a) CPU per tick -------------------------------------------------------------
echo "a) daemon: $PYMEMD --address \$ADDR --interval 2 --detail-interval 30; sampling 31 s"
t0=$EPOCHREALTIME
start_daemon pymemd-a.log --interval 2 --detail-interval 30
t1=$EPOCHREALTIME
read -r -a st < <(sed 's/.*) //' "/proc/$DPID/stat")
startup_ms=$(awk -v u="${st[11]}" -v s="${st[12]}" -v hz="$(getconf CLK_TCK)" \
             'BEGIN { printf "%.0f", (u + s) * 1000 / hz }')
sleep 0.5
cpu_out=$("$CLIENT" cpu "$DPID" 31 2)
c=$(grep ^RESULT <<< "$cpu_out")
tick_cpu=$(field "$c" tick_cpu_ms_median)
amort_cpu=$(field "$c" amortised_cpu_ms)
stat_amort=$(field "$c" stat_amortised_cpu_ms)
row "daemon CPU per rollup tick, ms" "$tick_cpu" "floor: read smaps_rollup" "$floor_cpu" \
    "$(div "$tick_cpu" "$floor_cpu")x" "target <= 1.3x"
row "  mean / min / max" "$(field "$c" tick_cpu_ms_mean)" \
    "$(field "$c" tick_cpu_ms_min) / $(field "$c" tick_cpu_ms_max)" "" "" \
    "($(field "$c" rollup_ticks) ticks)"
row "daemon CPU amortised incl. detail" "$amort_cpu" "floor: read smaps_rollup" "$floor_cpu" \
    "$(div "$amort_cpu" "$floor_cpu")x" "(info: $(field "$c" ticks_in_window) ticks, 1 detail)"
row "  same from /proc/PID/stat" "$stat_amort" "floor: read smaps_rollup" "$floor_cpu" \
    "$(div "$stat_amort" "$floor_cpu")x" "(info: 10 ms resolution)"
row "  detail pass + its tick, CPU ms" "$(field "$c" detail_cpu_ms_mean)" "" "" "" "(info)"
row "in-process scanner tick (bench-scan)" "$(field "$f" scanner_cpu_ms)" \
    "floor: read smaps_rollup" "$floor_cpu" "$(field "$f" ratio)x" "(info: no D-Bus)"
row "daemon start-up to ready, CPU ms" "$startup_ms" "" "" "" \
    "(info: exec + full pass; wall $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }') ms)"

# --- b) GetProcesses latency ---------------------------------------------------------
echo "b) latency: $CLIENT latency \$ADDR $CALLS $PACE_MS \$PID; then back to back (pace 0)"
paced=$("$CLIENT" latency "$ADDR" "$CALLS" "$PACE_MS" "$DPID")
b2b=$("$CLIENT" latency "$ADDR" "$CALLS" 0 "$DPID")
# GetSamples is the bulk call top polls (columns of numbers); GetProcesses
# adds names and command lines in dictionaries; GetTable has every figure of
# GetProcesses in columns, without the strings (pymemctl list's call).
for mode in paced b2b; do
  out=${!mode}
  v=$(grep 'call=Get(Version)' <<< "$out")
  label="every ${PACE_MS} ms"; [[ $mode == b2b ]] && label="back to back"
  for call in GetSamples GetProcesses GetTable; do
    g=$(grep "call=$call " <<< "$out")
    row "$call p50 ms, $label" "$(field "$g" p50_ms)" "Get(Version) p50" \
        "$(field "$v" p50_ms)" "$(div "$(field "$g" p50_ms)" "$(field "$v" p50_ms)")x" "(info)"
    row "$call p99 ms, $label" "$(field "$g" p99_ms)" "Get(Version) p99" \
        "$(field "$v" p99_ms)" "$(div "$(field "$g" p99_ms)" "$(field "$v" p99_ms)")x" \
        "target p99 <= 5 ms"
    row "$call max ms, $label" "$(field "$g" max_ms)" "Get(Version) max" \
        "$(field "$v" max_ms)" "" \
        "($(field "$g" items) items, $(field "$g" reply_bytes) B, $(field "$g" errors) errors)"
  done
done
g=$(grep 'call=GetProcesses ' <<< "$b2b"); v=$(grep 'call=Get(Version)' <<< "$b2b")
# Ticks that fell in the run, charged per call (the daemon's CPU includes them).
tick_share=$(awk -v w="$(field "$g" wall_s)" -v t="$tick_cpu" -v n="$CALLS" \
             'BEGIN { printf "%.2f", w / 2 * t / n }')
row "  daemon CPU per call, ms" "$(field "$g" daemon_cpu_ms_per_call)" "Get(Version)" \
    "$(field "$v" daemon_cpu_ms_per_call)" "" "(info: back to back; ~$tick_share of it ticks)"
row "  client CPU per call (GDBus), ms" "$(field "$g" client_cpu_ms_per_call)" "Get(Version)" \
    "$(field "$v" client_cpu_ms_per_call)" "" "(info: parsing the reply)"
stop "$DPID"; DPID=

# --- c) memory while processes come and go ---------------------------------------------
echo "c) $SHORT short-lived interpreters, $CONC at a time; daemon --interval 0.5"
stop "${PIDS[@]}"; PIDS=()
start_daemon pymemd-c.log --interval 0.5
"$CLIENT" subscribe "$ADDR" 3600 > "$WORK/subscribe.out" &
SUB=$!
sleep 2

echo 0 > "$WORK/spawned"
(
  trap 'kill $(jobs -p) 2>/dev/null; exit 0' TERM
  running=0
  for ((i = 1; i <= SHORT; i++)); do
    if (( running >= CONC )); then wait -n || true; running=$((running - 1)); fi
    "$PYTHON" -c 'import time; time.sleep(0.3)' &
    running=$((running + 1))
    echo "$i" > "$WORK/spawned"
  done
  wait
) &
SPAWNER=$!

last_n=0
sample () {   # appends "t started rss_kB private_dirty_kB fds" to SERIES
  local k v _ rss=0 pd=0 n='' fds
  while read -r k v _; do
    case $k in Rss:) rss=$v ;; Private_Dirty:) pd=$v ;; esac
  done < "/proc/$DPID/smaps_rollup"
  read -r n < "$WORK/spawned" || true   # empty while the spawner rewrites it
  [[ $n =~ ^[0-9]+$ ]] && last_n=$n
  fds=(/proc/"$DPID"/fd/*)
  SERIES+=("$(printf '%6.1f %6s %8s %8s %5s' \
              "$(awk -v a="$c0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" \
              "$last_n" "$rss" "$pd" "${#fds[@]}")")
}
c0=$EPOCHREALTIME
SERIES=()
sample
while kill -0 "$SPAWNER" 2>/dev/null; do
  sleep 2
  sample
done
wait "$SPAWNER" 2>/dev/null || true; SPAWNER=''
spawn_s=$(awk -v a="$c0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
for _ in 1 2 3; do sleep 2; sample; done
stop "$SUB"; SUB=
s=$(grep ^RESULT "$WORK/subscribe.out" || true)

# Warm-up: until a fifth of the processes have been started.
read -r first_n first_rss first_pd < <(printf '%s\n' "${SERIES[@]}" |
  awk -v w=$((SHORT / 5)) '$2 >= w { print $2, $3, $4; exit }') || true
read -r _ last_n last_rss last_pd last_fds <<< "${SERIES[-1]}"
read -r _ _ _ _ start_fds <<< "${SERIES[0]}"
read -r max_pd < <(printf '%s\n' "${SERIES[@]}" | awk '$4 > m { m = $4 } END { print m }') || true
grow=$((last_pd - first_pd))
row "daemon Private_Dirty kB, end" "$last_pd" "after warm-up ($first_n started)" "$first_pd" \
    "$(printf "%+d kB" "$grow")" "flat: $(awk -v g="$grow" -v n=$((last_n - first_n)) \
    'BEGIN { printf "%.0f B per process started", (n > 0 ? g * 1024 / n : 0) }')"
row "daemon Private_Dirty kB, max" "$max_pd" "" "" "" "(info)"
row "daemon Rss kB, end" "$last_rss" "after warm-up ($first_n started)" "$first_rss" \
    "$(printf "%+d kB" $((last_rss - first_rss)))" "(info)"
row "daemon open fds, end" "$last_fds" "before the first" "$start_fds" "" "equal"
row "MemoryChanged / GetProcesses calls" "$(field "$s" memory_changed)" "" \
    "$(field "$s" get_processes)" "" "(info: ~processes seen; $(field "$s" errors) errors)"
stop "$DPID"; DPID=

# --- table ---------------------------------------------------------------------
echo
echo "== pymemd service benchmarks: N=$N idle python3 ($watched Python processes watched)," \
     "kernel $(uname -r), $(nproc) CPUs =="
printf '%-36s %10s  %-30s %10s %7s  %s\n' measurement pymemd baseline value ratio target
for line in "${ROWS[@]}"; do echo "$line"; done
echo
echo "-- a) bursts of daemon CPU (ticks every 2 s; after the start-up pass) --"
grep -v ^RESULT <<< "$cpu_out"
echo "-- a) bench-scan (rollup floor) --"
grep -v ^RESULT <<< "$floor_out"
echo "-- b) bench-client latency --"
echo "$paced"; echo "$b2b"
echo "-- c) daemon memory, every 2 s ($SHORT started in $spawn_s s, $CONC at a time) --"
printf '%6s %6s %8s %8s %5s\n' t_s started rss_kB pd_kB fds
printf '%s\n' "${SERIES[@]}"
for log in pymemd-a pymemd-c; do
  if grep -qv '^$' "$WORK/$log.log"; then
    echo "-- $log.log (last 20 lines) --"; tail -n 20 "$WORK/$log.log"
  fi
done
