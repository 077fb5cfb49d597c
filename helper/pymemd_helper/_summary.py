"""The summary a request asks for (docs/helper-protocol.md, "The summary"):
gc state, the census, pymalloc, tracemalloc, and what it cost."""

import gc
import os
import sys
import time

from pymemd_helper import _census, _mallocstats
from pymemd_helper._frames import cut, dumps, implementation, loads, python_version
from pymemd_helper._pacer import Pacer

FILE_LIMIT = 4096

try:
    import _tracemalloc
except ImportError:  # pragma: no cover - CPython always builds it in
    _tracemalloc = None


def _length(value, kind):
    """len(VALUE) when it is exactly KIND: a program may rebind gc.garbage
    or sys.modules to an object whose __len__ is its own code."""
    return kind.__len__(value) if type(value) is kind else 0


def _padded(values, n=3):
    values = [max(int(v), 0) for v in values][:n]
    return values + [0] * (n - len(values))


def gc_state(last_full_collection):
    generations = []
    for stats in gc.get_stats()[:4]:
        generations.append({name: max(int(stats.get(name, 0)), 0)
                            for name in ("collections", "collected", "uncollectable")})
    freeze_count = getattr(gc, "get_freeze_count", None)
    return {
        "enabled": gc.isenabled(),
        "count": _padded(gc.get_count()),
        "threshold": _padded(gc.get_threshold()),
        "generations": generations,
        "garbage": _length(gc.garbage, list),
        "frozen": freeze_count() if freeze_count is not None else 0,
        "last_full_collection": last_full_collection,
    }


def collect(pacer):
    """gc.collect() as asked; a collection is one long hold of the GIL."""
    pacer.breathe()
    began = time.perf_counter()
    freed = gc.collect()
    duration = time.perf_counter() - began
    pacer.breathe()
    return {"freed": freed, "duration": duration, "garbage": _length(gc.garbage, list)}


def _set_tracing(trace):
    """Starts or stops tracemalloc as asked (-1: leave it)."""
    if trace == 0:
        if _tracemalloc.is_tracing():
            _tracemalloc.stop()
    elif trace > 0 and not _tracemalloc.is_tracing():
        _tracemalloc.start(trace)


# The helper's own allocations (its census, this grouping) are not the
# program's: their sites are left out.
_OWN_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _group_sites(traces, pacer):
    """(site, count, bytes) per allocation site: the most recent frame of each
    trace, as tracemalloc's "lineno" statistics.  A trace is (domain, size,
    traceback[, total frames]) with the most recent frame first.  False
    instead when the budget ran out."""
    counts = {}
    sizes = {}
    step = 16384
    for start in range(0, len(traces), step):
        if pacer.over_budget():
            return counts, sizes, False
        for trace in traces[start:start + step]:
            frames = trace[2]
            if any(str(frame[0]).startswith(_OWN_DIR) for frame in frames):
                continue
            site = frames[0] if frames else ("<unknown>", 0)
            counts[site] = counts.get(site, 0) + 1
            sizes[site] = sizes.get(site, 0) + trace[1]
        pacer.breathe()
    return counts, sizes, True


def tracemalloc_state(request, pacer):
    """The "tracemalloc" member, and whether its sites are complete."""
    if _tracemalloc is None:
        raise RuntimeError("tracemalloc is not available")
    _set_tracing(request.trace)
    tracing = _tracemalloc.is_tracing()
    if not tracing and request.trace == -1:
        return None, True
    traced, peak = _tracemalloc.get_traced_memory()
    state = {
        "tracing": tracing,
        "frames": _tracemalloc.get_traceback_limit() if tracing else 0,
        "traced_bytes": traced,
        "peak_bytes": peak,
        "overhead_bytes": _tracemalloc.get_tracemalloc_memory(),
        "sites": [],
    }
    complete = True
    if tracing and request.sites > 0:
        pacer.breathe()
        traces = _tracemalloc._get_traces()  # one long C call, like take_snapshot()
        pacer.breathe()
        counts, sizes, complete = _group_sites(traces, pacer)
        del traces
        ranked = sorted(sizes, key=lambda site: (-sizes[site], -counts[site]))
        state["sites"] = [{"file": cut(str(site[0]), FILE_LIMIT), "line": max(int(site[1]), 0),
                           "count": counts[site], "bytes": sizes[site]}
                          for site in ranked[:request.sites]]
    return state, complete


def take(request, received, helper_state=None):
    """The summary for REQUEST, received at perf_counter() RECEIVED;
    HELPER_STATE holds what the helper's gc hook saw (read after the
    collection the request may ask for)."""
    pacer = Pacer(request.budget, received)
    taken_at = time.time()
    collected = collect(pacer) if request.collect else None
    census = _census.Census(pacer, walk=not request.light)
    census.run()
    # The result is held as text while pymalloc's figures are read: made
    # while the census's tables fill the newest arenas, its objects would
    # keep those arenas from being released when the tables go, and the
    # figures would count arenas the process gives back once the answer is
    # sent. The text is one string, malloc's, outside the arenas.
    census_text = dumps(census.result(request.top))
    census_complete = census.complete
    del census
    pacer.breathe()
    tracemalloc, sites_complete = tracemalloc_state(request, pacer)
    pacer.breathe()
    pymalloc = _mallocstats.take()
    pacer.breathe()
    census_result = loads(census_text)
    del census_text
    threads = len(sys._current_frames())
    summary = {
        "python": python_version(),
        "implementation": implementation(),
        "taken_at": taken_at,
        "duration": 0.0,
        "gil_max_hold": 0.0,
        "complete": census_complete and sites_complete,
        "threads": min(threads, 1000000),
        "modules": min(_length(sys.modules, dict), 10000000),
        "allocated_blocks": max(sys.getallocatedblocks(), 0),
        "gc": gc_state(getattr(helper_state, "last_full_collection", None)),
        "census": census_result,
        "pymalloc": pymalloc,
        "tracemalloc": tracemalloc,
        "collect": collected,
    }
    pacer.breathe()
    summary["duration"] = pacer.elapsed()
    summary["gil_max_hold"] = pacer.max_hold
    return summary
