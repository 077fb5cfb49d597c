#!/bin/bash
# bench-graph.sh [N...] — retained sizes (issue 12) against the plain census
# of the same heap, for heaps of N objects each (default 100000 300000
# 1000000): a quarter each of lists of small ints, dicts of strings, class
# instances with an attribute dict, and strings (the collector tracks only
# the first three; the strings are reached through them).
#
# In one Python process per N, the helper's code on a thread of its own, as
# in the process it runs in, while the main thread ticks every 0.5 ms and
# records its longest stall (the GIL kept from it):
#
#   census        pymemd_helper's summary, what a plain request runs (the baseline)
#   floor         gc.get_objects () of the same heap: the one C call inside
#                 both that no chunking splits (the least GIL hold possible)
#   graph walk    pymemd_helper._graph.walk (), what --retained adds, its frames
#                 written to a file instead of the socket: wall time, the
#                 helper's longest GIL hold (and the CPU time its thread had
#                 in it: less means the machine kept it off a CPU while it
#                 held the GIL), the main thread's longest stall,
#                 the frames' bytes, and the process's extra resident memory
#                 during the walk (VmHWM after clear_refs 5, minus VmRSS before)
#
# then tests/bench/bench-graph (the daemon's code) on those frames: the
# analysis's wall time, its planned peak and bytes per object, the bench's
# resident memory before, at its highest and after.
#         targets (1M objects): walk + analysis <= 3 s, GIL hold <= 20 ms,
#         stall <= 25 ms, daemon <= 64 bytes an object, back to its baseline
#
# Run from the build directory (make bench-graph); PYTHON chooses the
# interpreter (default /usr/bin/python3). Needs no root; never fails on a figure.
set -euo pipefail

SIZES=("$@")
[[ ${#SIZES[@]} -gt 0 ]] || SIZES=(100000 300000 1000000)
PYTHON=${PYTHON:-/usr/bin/python3}
HELPER_DIR=$(cd "$(dirname "$0")/../../helper" && pwd)
BENCH=${BENCH_GRAPH:-tests/bench/bench-graph}
MEMORY_MIB=${MEMORY_MIB:-256}

die () { echo "bench-graph: $*" >&2; exit 1; }

[[ -x $PYTHON ]] || die "no $PYTHON"
[[ -x $BENCH ]] || die "no $BENCH: run from the build directory after make"
for n in "${SIZES[@]}"; do
  [[ $n =~ ^[0-9]+$ ]] && (( n >= 1000 )) || die "usage: $0 [N >= 1000 ...]"
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

for n in "${SIZES[@]}"; do
  PYTHONPATH=$HELPER_DIR PYTHONDONTWRITEBYTECODE=1 "$PYTHON" - "$n" "$TMP/graph.bin" "$MEMORY_MIB" <<'EOF'
import _thread
import gc
import sys
import time

from pymemd_helper import _frames, _graph, _summary
from pymemd_helper._pacer import Pacer

N, PATH, MEMORY_MIB = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])


class Record(object):
    def __init__(self, i):
        self.i = i
        self.name = "record%d" % i


def build(n):
    """About n objects: per step a list of small ints, a dict of strings
    (and its strings), an instance (and its attribute dict and name)."""
    lists, dicts, records = [], [], []
    for i in range(n // 8):
        lists.append(list(range(i % 10)))
        dicts.append({"key%d" % i: "value%d" % i})
        records.append(Record(i))
    return lists, dicts, records


def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


def on_thread(work):
    """WORK () on a thread of its own, the main thread ticking every 0.5 ms:
    its result, wall time and the main thread's longest stall."""
    box = {}
    done = _thread.allocate_lock()
    done.acquire()

    def run():
        began = time.perf_counter()
        try:
            box["result"] = work()
        except BaseException as e:
            box["error"] = e
        box["took"] = time.perf_counter() - began
        done.release()

    _thread.start_new_thread(run, ())
    stall = 0.0
    while not done.acquire(False):
        t = time.perf_counter()
        time.sleep(0.0005)
        stall = max(stall, time.perf_counter() - t - 0.0005)
    if "error" in box:
        raise box["error"]
    return box["result"], box["took"], stall


class FileSocket(object):
    def __init__(self, f):
        self.f = f
        self.bytes = 0

    def sendall(self, data):
        self.bytes += len(data)
        self.f.write(data)


heap = build(N)
gc.collect()
# What the daemon announces for MEMORY_MIB (pymemd_heap_graph_limits_for_memory).
limits = {"objects": (MEMORY_MIB << 20) // 52, "edges": (MEMORY_MIB << 20) // 8}
message = {"v": 1, "type": "request", "id": 1, "top": 20, "sites": 0, "trace": -1,
           "collect": False, "budget": 5.0}
census_request = _frames.parse_request(message)
graph_request = _frames.parse_request(dict(message, graph=limits))

summary, census_took, census_stall = on_thread(lambda: _summary.take(census_request, time.perf_counter()))

with open(PATH, "wb") as f:
    sock = FileSocket(f)
    pacer = Pacer(graph_request.budget)
    rss = status("VmRSS:")
    with open("/proc/self/clear_refs", "w") as c:
        c.write("5")  # VmHWM starts again from VmRSS
    _, walk_took, walk_stall = on_thread(lambda: _graph.walk(sock, graph_request, pacer))
    extra = status("VmHWM:") - rss

# The floor under any GIL hold: the interpreter's gc.get_objects (), one C
# call over every tracked object, which the census and the walk each make
# once; timed here warm, after both (the census's own, first, is cold).
floors = []
for _ in range(3):
    began = time.perf_counter()
    tracked = gc.get_objects()
    floors.append(time.perf_counter() - began)
    count = len(tracked)
    del tracked
print("N=%d python=%s tracked=%d" % (N, sys.version.split()[0], count))
print("  floor:      gc.get_objects () %.1f ms (least of 3, warm): one C call holding the GIL"
      % (min(floors) * 1e3))
print("  census:     %.3f s, GIL hold %.1f ms, main-thread stall %.1f ms, complete=%s"
      % (census_took, summary["gil_max_hold"] * 1e3, census_stall * 1e3, summary["complete"]))
print("  graph walk: %.3f s, GIL hold %.1f ms (the helper's thread ran %s of it), main-thread stall %.1f ms, "
      "frames %.1f MiB, extra resident %.1f MiB"
      % (walk_took, pacer.max_hold * 1e3,
         "?" if pacer.max_hold_cpu is None else "%.1f ms" % (pacer.max_hold_cpu * 1e3),
         walk_stall * 1e3, sock.bytes / 1048576.0, extra / 1048576.0))
EOF
  echo "  daemon:     $("$BENCH" "$TMP/graph.bin" "$MEMORY_MIB")"
done
