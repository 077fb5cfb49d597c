# Sourced by the bench scripts that time pymemctl against N idle interpreters
# (bench-cli.sh, bench-export.sh), after they set BENCH (their name), N and
# PYTHON: the helpers they share, and bench_start_service, which starts the N
# interpreters (PIDS), a private bus (`dbus-daemon --session`: its policy is fine
# here) and the real daemon on it (DPID, `daemon/pymemd --address ADDR --interval
# 2` and the arguments given to bench_start_service, bench-latency.sh's
# --state-dir and --detail-interval). Everything they start is killed, and WORK
# removed, on exit.

die () { echo "$BENCH: $*" >&2; exit 1; }

WORK=$(mktemp -d "/tmp/pymemd-$BENCH.XXXXXX")
PIDS=()
BUS='' DPID='' ADDR=''
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

bench_start_service () {
  local i
  echo "starting $N idle Python processes..."
  for ((i = 0; i < N; i++)); do
    "$PYTHON" -c 'import time; time.sleep(1e6)' &
    PIDS+=($!)
  done
  dbus-daemon --session --nofork --print-address > "$WORK/address" 2> "$WORK/bus.log" &
  BUS=$!
  for ((i = 0; i < 100; i++)); do [[ -s $WORK/address ]] && break; sleep 0.05; done
  read -r ADDR < "$WORK/address" || die "dbus-daemon gave no address: $(cat "$WORK/bus.log")"
  "${PYMEMD:-daemon/pymemd}" --address "$ADDR" --interval 2 "$@" > "$WORK/pymemd.log" 2>&1 &
  DPID=$!
}
