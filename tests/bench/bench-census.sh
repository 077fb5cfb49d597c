#!/bin/bash
# bench-census.sh [N] — the helper's census against objgraph.typestats() on
# the same heap of N gc-tracked objects (default 1000000: dicts, lists, class
# instances), in the same Python process and the same run:
#
#   helper census        pymemd_helper's summary code (what a request runs),
#                        on a thread of its own like the helper's, while the
#                        main thread ticks every 0.5 ms and records its
#                        longest stall: the GIL the census kept from it
#   objgraph.typestats() the baseline: counts by type name, without sizes
#
# $ROUNDS rounds (default 5), alternating the two, so that other load on the
# machine weighs on both alike; reported: the median and the minimum, and the
# census's own figures (duration, gil_max_hold, types with sizes).
#         targets: census <= 1 s, gil_max_hold <= 50 ms, faster than objgraph
# With LIGHT=1 the census is the light one of [heap] interval (the tracked
# objects alone, issue 12): make bench-light runs it on 200 000 objects.
#         targets: census <= 100 ms, gil_max_hold <= 10 ms
#
# Needs python3-objgraph (tools/install-deps.sh); PYTHON chooses the
# interpreter (default /usr/bin/python3, whose objgraph Debian packages).
# Needs no build and no root; it never fails on a figure.
set -euo pipefail

N=${1:-1000000}
ROUNDS=${ROUNDS:-5}
LIGHT=${LIGHT:-0}
PYTHON=${PYTHON:-/usr/bin/python3}
HELPER_DIR=$(cd "$(dirname "$0")/../../helper" && pwd)

die () { echo "bench-census: $*" >&2; exit 1; }

if ! [[ $N =~ ^[0-9]+$ ]] || (( N < 1000 )); then die "usage: $0 [N >= 1000]"; fi
[[ -x $PYTHON ]] || die "no $PYTHON"
[[ -f $HELPER_DIR/pymemd_helper/__init__.py ]] || die "no helper in $HELPER_DIR"
if ! "$PYTHON" -c 'import objgraph' 2>/dev/null; then
  echo "bench-census: objgraph is missing: apt-get install python3-objgraph (the baseline is skipped)" >&2
fi

PYTHONPATH=$HELPER_DIR PYTHONDONTWRITEBYTECODE=1 exec "$PYTHON" - "$N" "$ROUNDS" "$LIGHT" <<'EOF'
import _thread
import gc
import statistics
import sys
import time

from pymemd_helper import _frames, _summary

try:
    import objgraph
except ImportError:
    objgraph = None

N, ROUNDS, LIGHT = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
DURATION_TARGET, HOLD_TARGET = ("<= 100 ms", "<= 10 ms") if LIGHT else ("<= 1000 ms", "<= 50 ms")


class Record(object):
    def __init__(self, i):
        self.i = i
        self.tags = [i]


class Point(object):
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y


def build(n):
    """n gc-tracked objects, five per step: an instance and its list, a dict
    and the list in it, an instance with slots."""
    heap = []
    for i in range(n // 5):
        heap.append(Record(i))
        heap.append({"id": i, "refs": [i]})
        heap.append(Point(i, i))
    return heap


def census(ticking):
    """One summary, as a request with the default budget asks for it, on a
    thread of its own as the helper's.  The main thread either waits (so
    the census has the process to itself, as objgraph has) or ticks every
    0.5 ms and records its longest stall: the GIL the census kept from it."""
    request = _frames.parse_request({"v": 1, "type": "request", "id": 1, "top": 10,
                                     "sites": 0, "trace": -1, "collect": False,
                                     "budget": 5.0, "light": LIGHT})
    box = {}
    done = _thread.allocate_lock()
    done.acquire()

    def run():
        try:
            box["summary"] = _summary.take(request, time.perf_counter())
        except BaseException as e:
            box["error"] = e
        done.release()

    _thread.start_new_thread(run, ())
    stall = 0.0
    if ticking:
        while not done.acquire(False):
            t = time.perf_counter()
            time.sleep(0.0005)
            stall = max(stall, time.perf_counter() - t - 0.0005)
    else:
        done.acquire()
    if "error" in box:
        raise box["error"]
    return box["summary"], stall


def typestats():
    began = time.perf_counter()
    stats = objgraph.typestats()
    return stats, time.perf_counter() - began


heap = build(N)
gc.collect()
print("Python %s, %d gc-tracked objects (%d built), %d rounds, %s census"
      % (sys.version.split()[0], len(gc.get_objects()), N, ROUNDS, "light" if LIGHT else "full"))

runs, ticked, baseline = [], [], []
for _ in range(ROUNDS):
    runs.append(census(False)[0])
    ticked.append(census(True))
    if objgraph is not None:
        baseline.append(typestats())

durations = [s["duration"] for s in runs]
holds = [s["gil_max_hold"] for s in runs]
ticked_durations = [s["duration"] for s, _ in ticked]
ticked_holds = [s["gil_max_hold"] for s, _ in ticked]
stalls = [stall for _, stall in ticked]
last = runs[-1]
c = last["census"]


def ms(values, how):
    return "%8.1f ms" % (how(values) * 1000)


print()
print("%-34s %14s %14s   %s" % ("", "median", "min", "target"))
print("%-34s %14s %14s   %s" % ("helper census: duration", ms(durations, statistics.median),
                                 ms(durations, min), DURATION_TARGET))
print("%-34s %14s %14s   %s" % ("helper census: gil_max_hold", ms(holds, statistics.median),
                                 ms(holds, min), HOLD_TARGET))
print("with the main thread ticking:")
print("%-34s %14s %14s" % ("  helper census: duration", ms(ticked_durations, statistics.median),
                           ms(ticked_durations, min)))
print("%-34s %14s %14s   %s" % ("  helper census: gil_max_hold",
                                 ms(ticked_holds, statistics.median), ms(ticked_holds, min),
                                 HOLD_TARGET))
print("%-34s %14s %14s" % ("  main thread's longest stall", ms(stalls, statistics.median),
                           ms(stalls, min)))
if baseline:
    times = [t for _, t in baseline]
    print("%-34s %14s %14s" % ("objgraph.typestats()", ms(times, statistics.median),
                               ms(times, min)))
    ratio = statistics.median(times) / statistics.median(durations)
    print("%-34s %13.2fx %13.2fx   %s" % ("objgraph / census", ratio,
                                          min(times) / min(durations), "> 1x"))
print()
print("census: %d objects, %d bytes (%d small, %d large), complete %s"
      % (c["objects"], c["bytes"], c["small_bytes"], c["large_bytes"], last["complete"]))
if baseline:
    stats = baseline[-1][0]
    print("objgraph: %d objects in %d types (names only, no sizes)"
          % (sum(stats.values()), len(stats)))
print("pymalloc: %s" % (last["pymalloc"],))
print()
print("%-40s %10s %14s" % ("type", "count", "bytes"))
for entry in c["types"]:
    print("%-40s %10d %14d" % (entry["type"], entry["count"], entry["bytes"]))
print("%-40s %10d %14d" % ("(other)", c["other"]["count"], c["other"]["bytes"]))
del heap
EOF
