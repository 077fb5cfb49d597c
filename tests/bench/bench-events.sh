#!/bin/bash
# bench-events.sh [N] — event-driven discovery (issue 15): the time from an
# interpreter's exec to its InterfacesAdded on the bus, with the kernel's
# process events and, as the baseline in the same run, with them turned off
# ([monitor] events=false: /proc listed on every tick).  N interpreters
# (default 200) each run.
#
# Run as root from the build directory after `make` (or `make bench-events`).
# It prints figures side by side; it never fails on a figure (the target,
# p99 <= 50 ms, is shown for reading only).  Everything it starts is killed
# on exit.
#
# Set-up, per run: a private bus (dbus-daemon --session) and the real daemon,
# daemon/pymemd --address ADDR --interval 2, and dbus-monitor on the bus
# printing the ObjectManager's signals.  The driver (Python, below) starts N
# `$PYTHON -c 'import sys; sys.stdin.read()'` one after another, $SPACING_MS
# apart, taking time.monotonic() just before each spawn (so fork and exec
# count against pymemd), and takes it again when dbus-monitor's line naming
# that pid's object comes out of the pipe.  Reported: p50, p99 and max over
# the N, and how many never came within $WAIT_S s after the last spawn, with
# the daemon's own figures (GetStatistics: its CPU time, time spent in ticks,
# the interpreters it watched, which include every other one on the host).
# PYMEMD_ARGS adds options to the daemon's command line (-v for its debug
# log); KEEP_LOG=PREFIX keeps each run's daemon log as PREFIX.events and
# PREFIX.baseline.
set -u

N=${1:-200}
PYTHON=${PYTHON:-python3}
SPACING_MS=${SPACING_MS:-100}
WAIT_S=${WAIT_S:-10}
PYMEMD=${PYMEMD:-daemon/pymemd}

missing=()
[[ $(id -u) == 0 ]] || missing+=(root)
[[ -x $PYMEMD ]] || missing+=("$PYMEMD (run from the build directory after make)")
command -v dbus-daemon >/dev/null || missing+=(dbus-daemon)
command -v dbus-monitor >/dev/null || missing+=(dbus-monitor)
command -v "$PYTHON" >/dev/null || missing+=("$PYTHON")
if ((${#missing[@]})); then
  echo "bench-events: needs ${missing[*]}" >&2
  exit 77
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do [[ -n $p ]] && kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run NAME CONFIG-TEXT: one daemon, N spawns; prints "NAME p50 p99 max missed events"
run() {
  local name=$1 config=$2 addr bus daemon
  printf '%s' "$config" > "$work/$name.conf"
  dbus-daemon --session --nofork --print-address=3 3>"$work/$name.addr" >/dev/null 2>&1 &
  bus=$!
  pids+=("$bus")
  for _ in $(seq 100); do [[ -s $work/$name.addr ]] && break; sleep 0.05; done
  addr=$(head -n1 "$work/$name.addr")
  mkdir -p "$work/$name.state" "$work/$name.run"
  "$PYMEMD" ${PYMEMD_ARGS:-} --address "$addr" --interval 2 --config "$work/$name.conf" \
    --state-dir "$work/$name.state" --runtime-dir "$work/$name.run" > "$work/$name.log" 2>&1 &
  daemon=$!
  pids+=("$daemon")
  for _ in $(seq 200); do
    dbus-send --bus="$addr" --print-reply --dest=org.pymemd.Monitor1 /org/pymemd/Monitor1 \
      org.freedesktop.DBus.Properties.Get string:org.pymemd.Monitor1 string:Version \
      >/dev/null 2>&1 && break
    sleep 0.05
  done
  "$PYTHON" - "$addr" "$N" "$PYTHON" "$SPACING_MS" "$WAIT_S" "$name" <<'EOF'
import re, subprocess, sys, threading, time

addr, n, python, spacing_ms, wait_s, name = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
    float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
seen = {}
lock = threading.Lock()
monitor = subprocess.Popen(["stdbuf", "-oL", "dbus-monitor", "--address", addr,
                            "type='signal',interface='org.freedesktop.DBus.ObjectManager',"
                            "member='InterfacesAdded'"],
                           stdout=subprocess.PIPE, text=True, bufsize=1)
path = re.compile(r'object path "/org/pymemd/Monitor1/process/(\d+)_\d+"')

def reader():
    for line in monitor.stdout:
        m = path.search(line)
        if m:
            now = time.monotonic()
            with lock:
                seen.setdefault(int(m.group(1)), now)

threading.Thread(target=reader, daemon=True).start()
time.sleep(1.0)  # dbus-monitor's match rule in place
children, started = [], {}
for i in range(n):
    t0 = time.monotonic()
    child = subprocess.Popen([python, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    started[child.pid] = t0
    children.append(child)
    time.sleep(spacing_ms / 1000)
deadline = time.monotonic() + wait_s
while time.monotonic() < deadline:
    with lock:
        if all(p in seen for p in started):
            break
    time.sleep(0.05)
with lock:
    lat = sorted((seen[p] - t0) * 1000 for p, t0 in started.items() if p in seen)
missed = n - len(lat)
if missed:
    print("  (%s: not seen: pids %s)" % (name, " ".join(str(p) for p in started if p not in seen)))
for child in children:
    child.stdin.close()
for child in children:
    child.wait()
monitor.terminate()

def pct(q):
    return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")

print("%s %.1f %.1f %.1f %d" % (name, pct(0.5), pct(0.99), lat[-1] if lat else float("nan"), missed))
EOF
  local stats key figures=""
  stats=$(dbus-send --bus="$addr" --print-reply --dest=org.pymemd.Monitor1 /org/pymemd/Monitor1 \
    org.pymemd.Monitor1.GetStatistics 2>/dev/null)
  for key in process_events events event_losses event_overflows listings scans scan_seconds \
             last_full_scan_seconds processes cpu_seconds; do
    figures+=" $key=$(grep -A1 "\"$key\"" <<<"$stats" | tail -n1 | awk '{ print $NF }')"
  done
  echo "  ($name:$figures; load $(cut -d" " -f1-3 /proc/loadavg))"
  kill "$daemon" "$bus" 2>/dev/null
  wait "$daemon" "$bus" 2>/dev/null
  if [[ -n ${KEEP_LOG:-} ]]; then cp "$work/$name.log" "$KEEP_LOG.$name"; fi
}

echo "bench-events: $N x $PYTHON, one every $SPACING_MS ms; exec -> InterfacesAdded, ms"
{
  run events "$(printf '[monitor]\nevents=true\n')"
  run baseline "$(printf '[monitor]\nevents=false\n')"
} > "$work/out"
grep '^  (' "$work/out"
printf '%-28s %8s %8s %8s %8s\n' "" p50 p99 max missed
awk '!/^  \(/ { label = $1 == "events" ? "process events" : "listing /proc every tick (2 s)";
       printf "%-28s %8s %8s %8s %8s\n", label, $2, $3, $4, $5 }' "$work/out"
echo "target: p99 <= 50 ms with process events"
