#!/bin/bash
# run-bench.sh [N] — pymemd's cost and accuracy against baselines measured in
# the same run, with N idle Python processes (default 100; e.g. `500`).
#
# Run as root from the repository root after `make`.  It prints figures side
# by side; it never fails on a figure (targets are shown for reading only).
#
# What is measured, and against what baseline (medians of $REPEAT runs):
#   1. Rollup tick: CPU per pymemd_scanner_scan (PYMEMD_SCAN_ROLLUP), warm,
#      vs the floor: open + read (4 KiB) + close of /proc/PID/smaps_rollup for
#      the same pids (tests/bench/bench-scan).                target <= 1.25x
#   2. `pymemd --once` (one process: start, discovery, rollup, detail, exact,
#      JSON) wall and CPU time vs `smem -P python -c "pid pss uss"` (itself a
#      Python program, timed the same way: child rusage via bash `times`, wall
#      via $EPOCHREALTIME) and vs the floor: one in-process pass reading
#      smaps + pagemap of mappings with Rss/Swap > 0 (what a full pass reads), no
#      kpagecount/kpageflags (bench-scan --detail).   targets: >= 2x faster
#      than smem, <= 1.3x the floor.  Also shown: the warm in-daemon pass.
#   3. Agreement with smem for every spawned process: pymemd "pss" and "uss"
#      (smaps: Private_Clean + Private_Dirty) and exact "uss" (kpagecount)
#      vs smem's PSS and USS (kB); max relative difference, count within 1%.
#      And with the kernel: --once's "pss" vs /proc/PID/smaps_rollup's Pss
#      read right after it exited, for every process in the report (still
#      running), and whether pss_anon/pss_file/pss_shmem are filled in.
#                                                  target: all within 0.1%
#   4. Exact pass per GiB mapped: one Python process holding a touched 2 GiB
#      bytearray; pymemd_exact_begin/add_process/finish on it vs a floor that
#      only preads the same pagemap ranges (bench-scan --exact-only). <= 2x
#      Also shown: against pagemap + kpagecount + kpageflags over the same
#      frame windows pymemd reads, i.e. the same bytes.
set -euo pipefail

N=${1:-100}
REPEAT=${REPEAT:-5}
PYTHON=/usr/bin/python3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)   # sources; binaries are relative to $PWD
BENCH=tests/bench/bench-scan
PYMEMD=daemon/pymemd

die () { echo "run-bench: $*" >&2; exit 1; }

if ! [[ $N =~ ^[0-9]+$ ]] || (( N == 0 )); then die "usage: $0 [N]"; fi
[[ -x $PYMEMD && -f daemon/libpymemd.a ]] || die "run from the repository root after make"
(( EUID == 0 )) || die "must run as root (exact pass, other processes' smaps)"

# --- tools -------------------------------------------------------------------
missing=()
command -v smem >/dev/null || missing+=(smem)
[[ -x /usr/bin/time ]] || missing+=(time)
[[ -x $PYTHON ]] || missing+=(python3)
command -v pkg-config >/dev/null || missing+=(pkg-config)
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

# --- processes ---------------------------------------------------------------
WORK=$(mktemp -d /tmp/pymemd-bench.XXXXXX)
PIDS=()
BIG=
cleanup () {
  (( ${#PIDS[@]} )) && kill "${PIDS[@]}" 2>/dev/null
  [[ -n $BIG ]] && kill "$BIG" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)"

# is_idle PID, wait_idle PID...
# shellcheck source=tests/bench/idle.sh
. "$HERE/idle.sh"

echo "starting $N idle Python processes..."
for ((i = 0; i < N; i++)); do
  "$PYTHON" -c 'import time; time.sleep(1e6)' &
  PIDS+=($!)
done
wait_idle "${PIDS[@]}"
sleep 1

# --- helpers -----------------------------------------------------------------
median () { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
  if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
div () { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
field () { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<< "$1"; }   # field LINE KEY

# measure CMD... -> "wall_ms cpu_ms" of the child (rusage of a fresh subshell's children)
measure () {
  local out
  out=$( t0=$EPOCHREALTIME; "$@" >/dev/null 2>&1; t1=$EPOCHREALTIME; echo "$t0 $t1"; times )
  awk 'NR == 1 { wall = ($2 - $1) * 1000 }
       NR == 3 { cpu = 0
                 for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); cpu += t[1] * 60 + t[2] }
                 printf "%.1f %.1f\n", wall, cpu * 1000 }' <<< "$out"
}

ROWS=()
num () { [[ $1 =~ ^[0-9.]+$ ]] && printf '%.2f' "$1" || printf '%s' "$1"; }
row () {   # MEASUREMENT PYMEMD BASELINE VALUE RATIO TARGET
  ROWS+=("$(printf '%-34s %10s  %-30s %10s %8s  %s' "$1" "$(num "$2")" "$3" "$(num "$4")" \
            "$(num "${5%x}")${5:+x}" "$6")")
}

# --- 1. rollup tick ----------------------------------------------------------
iters=$(( 20000 / N )); (( iters < 10 )) && iters=10
echo "1. rollup tick: $BENCH --iterations $iters --repeat $REPEAT"
rollup_out=$("$BENCH" --iterations "$iters" --repeat "$REPEAT" 2>/dev/null)
r=$(grep ^RESULT <<< "$rollup_out")
row "rollup scan per tick, CPU ms" "$(field "$r" scanner_cpu_ms)" "floor: read smaps_rollup" \
    "$(field "$r" floor_cpu_ms)" "$(field "$r" ratio)x" "target <= 1.25x"
row "rollup scan per tick, wall ms" "$(field "$r" scanner_wall_ms)" "floor: read smaps_rollup" \
    "$(field "$r" floor_wall_ms)" "$(div "$(field "$r" scanner_wall_ms)" "$(field "$r" floor_wall_ms)")x" ""

# --- 2. one full scan: pymemd --once vs smem vs floor --------------------------
echo "2. pymemd --once vs smem vs floor ($REPEAT runs each)"
ow=(); oc=(); sw=(); sc=()
for ((i = 0; i < REPEAT; i++)); do
  read -r w c < <(measure "$PYMEMD" --once); ow+=("$w"); oc+=("$c")
  read -r w c < <(measure smem -P python -c "pid pss uss" -H); sw+=("$w"); sc+=("$c")
done
once_wall=$(median "${ow[@]}"); once_cpu=$(median "${oc[@]}")
smem_wall=$(median "${sw[@]}"); smem_cpu=$(median "${sc[@]}")
diters=$(( 1000 / N )); (( diters < 2 )) && diters=2
detail_out=$("$BENCH" --detail --iterations "$diters" --repeat "$REPEAT" 2>/dev/null)
d=$(grep ^RESULT <<< "$detail_out")
floor_cpu=$(field "$d" floor_cpu_ms); floor_wall=$(field "$d" floor_wall_ms)
row "pymemd --once, wall ms" "$once_wall" "smem -P python" "$smem_wall" \
    "$(div "$smem_wall" "$once_wall")x" "faster; target >= 2x"
row "pymemd --once, CPU ms" "$once_cpu" "smem -P python" "$smem_cpu" \
    "$(div "$smem_cpu" "$once_cpu")x" "faster; target >= 2x"
row "pymemd --once, wall ms" "$once_wall" "floor: smaps+pagemap" "$floor_wall" \
    "$(div "$once_wall" "$floor_wall")x" "target <= 1.3x"
row "pymemd --once, CPU ms" "$once_cpu" "floor: smaps+pagemap" "$floor_cpu" \
    "$(div "$once_cpu" "$floor_cpu")x" "target <= 1.3x"
row "warm full pass in-process, CPU ms" "$(field "$d" scanner_cpu_ms)" \
    "floor: smaps+pagemap" "$floor_cpu" "$(field "$d" ratio)x" "(info: no exec/startup)"
row "warm rollup+detail, no exact, CPU" "$(field "$d" detail_cpu_ms)" \
    "floor: smaps" "$(field "$d" detail_floor_cpu_ms)" \
    "$(div "$(field "$d" detail_cpu_ms)" "$(field "$d" detail_floor_cpu_ms)")x" "(info)"

# --- 3. agreement with smem ----------------------------------------------------
echo "3. PSS/USS agreement with smem"
"$PYMEMD" --once > "$WORK/once.json"
# The kernel's figures at once, before smem's start moves the sharing.
for f in /proc/[0-9]*/smaps_rollup; do
  p=${f#/proc/}; p=${p%/smaps_rollup}
  pss=$(awk '/^Pss:/ { print $2; exit }' "$f" 2>/dev/null) && [[ -n $pss ]] && echo "$p $pss"
done > "$WORK/rollup.txt" || true
smem -P python -c "pid pss uss" -H > "$WORK/smem.txt"
others=$(( $(grep -c '"pid"' "$WORK/once.json") - N ))
printf '%s\n' "${PIDS[@]}" > "$WORK/pids.txt"
mapfile -t AGREE < <("$PYTHON" - "$WORK" <<'EOF'
import json, sys
work = sys.argv[1]
pids = {int(l) for l in open(f"{work}/pids.txt")}
report = {p["pid"]: p for p in json.load(open(f"{work}/once.json"))["processes"]}
smem = {}
for line in open(f"{work}/smem.txt"):
    f = line.split()
    if len(f) == 3 and f[0].isdigit():
        smem[int(f[0])] = (int(f[1]) * 1024, int(f[2]) * 1024)
both = sorted(pids & report.keys() & smem.keys())
def compare(name, ours, theirs):
    diffs = [abs(ours(report[p]) - theirs(smem[p])) / max(theirs(smem[p]), 1) for p in both]
    within = sum(d <= 0.01 for d in diffs)
    worst = max(diffs) if diffs else 0
    print(f"{name}|{worst * 100:.2f}%|{within}/{len(both)} within 1%")
compare("pss (smaps_rollup) vs smem PSS", lambda r: r["pss"], lambda s: s[0])
compare("uss (Private_*) vs smem USS", lambda r: r["uss"], lambda s: s[1])
compare("exact uss (kpagecount) vs smem USS", lambda r: r["exact"]["uss"], lambda s: s[1])
compare("exact pss (kpagecount) vs smem PSS", lambda r: r["exact"]["pss"], lambda s: s[0])
rollup = {}
for line in open(f"{work}/rollup.txt"):
    f = line.split()
    rollup[int(f[0])] = int(f[1]) * 1024
inreport = sorted(report.keys() & rollup.keys())
diffs = [abs(report[p]["pss"] - rollup[p]) / max(rollup[p], 1) for p in inreport]
split = sum(all(report[p][k] is not None for k in ("pss_anon", "pss_file", "pss_shmem"))
            for p in inreport)
print(f"--once pss vs smaps_rollup (all)|{max(diffs, default=0) * 100:.3f}%|"
      f"{sum(d <= 0.001 for d in diffs)}/{len(inreport)} within 0.1%, "
      f"{sum(d == 0 for d in diffs)} equal, pss_* split in {split}")
EOF
)
for a in "${AGREE[@]}"; do
  IFS='|' read -r what worst within <<< "$a"
  ROWS+=("$(printf '%-34s max rel. diff %-8s %s' "$what" "$worst" "$within")")
done

# --- 4. exact pass per GiB -------------------------------------------------------
echo "4. exact pass on a 2 GiB process"
"$PYTHON" -c 'import time
b = bytearray(2 << 30)
b[::4096] = b"x" * (len(b) // 4096)
time.sleep(1e6)' &
BIG=$!
wait_idle "$BIG"
exact_out=$("$BENCH" --exact-only "$BIG" --iterations 3 --repeat "$REPEAT" 2>/dev/null)
e=$(grep ^RESULT <<< "$exact_out")
row "exact pass, CPU ms per GiB" "$(field "$e" exact_cpu_ms_per_gib)" "floor: pread pagemap" \
    "$(field "$e" floor_cpu_ms_per_gib)" "$(field "$e" ratio)x" "target <= 2x"
row "exact pass, wall ms per GiB" "$(field "$e" exact_wall_ms_per_gib)" "floor: pread pagemap" \
    "$(field "$e" floor_wall_ms_per_gib)" \
    "$(div "$(field "$e" exact_wall_ms_per_gib)" "$(field "$e" floor_wall_ms_per_gib)")x" ""
row "  of which pagemap reading, CPU" "$(field "$e" add_cpu_ms_per_gib)" "" "" "" "(info)"
row "exact pass, CPU ms per GiB" "$(field "$e" exact_cpu_ms_per_gib)" \
    "pagemap+kpagecount+kpageflags" "$(field "$e" all_io_cpu_ms_per_gib)" \
    "$(field "$e" ratio_all_io)x" "(info: same frames read)"
kill "$BIG"; wait "$BIG" 2>/dev/null || true; BIG=

# --- table ---------------------------------------------------------------------
echo
echo "== pymemd benchmarks: N=$N idle python3 (+$others other Python processes)," \
     "kernel $(uname -r), $(nproc) CPUs, medians of $REPEAT =="
printf '%-34s %10s  %-30s %10s %8s  %s\n' measurement pymemd baseline value ratio target
for line in "${ROWS[@]}"; do echo "$line"; done
echo
echo "-- details: bench-scan (rollup) --";       grep -v ^RESULT <<< "$rollup_out"
echo "-- details: bench-scan --detail --";        grep -v ^RESULT <<< "$detail_out"
echo "-- details: bench-scan --exact-only --";    grep -v ^RESULT <<< "$exact_out"
echo "-- runs: --once wall ${ow[*]} / cpu ${oc[*]}; smem wall ${sw[*]} / cpu ${sc[*]} (ms)"
