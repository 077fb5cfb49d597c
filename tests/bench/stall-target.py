#!/usr/bin/python3
"""Target process for smaps-stall.sh.

Holds SIZE_GIB (default 4) of touched anonymous private memory in 4 KiB
pages (MADV_NOHUGEPAGE, so that reading its page tables costs what it costs
without THP), then obeys commands on stdin, one per line:

  measure SECONDS LABEL   a worker thread loops mmap(4096) + munmap
                          (anonymous private; both take the mmap write lock)
                          for SECONDS, timing each iteration with
                          perf_counter_ns; prints one line
                          "RESULT label=LABEL n=... median_us=... p99_us=...
                          p999_us=... max_us=... stalls=... stalled_ms=..."
                          (stalls: iterations over 1 ms; stalled_ms: their sum)
  quit                    exits

It prints "READY pid=PID rss_kib=..." once the region is touched.  The
main thread only waits (blocked in a read or a join, GIL released), so the
loop is the only Python code running.
"""
import mmap
import os
import sys
import threading
import time

PAGE = mmap.PAGESIZE


def loop(seconds, out):
    make, ns = mmap.mmap, time.perf_counter_ns
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
    end = ns() + int(seconds * 1e9)
    while True:
        t0 = ns()
        make(-1, PAGE, flags=flags).close()
        t1 = ns()
        out.append(t1 - t0)
        if t1 > end:
            break


def main():
    size = int(float(sys.argv[1] if len(sys.argv) > 1 else 4) * (1 << 30))
    region = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if os.environ.get("STALL_THP") != "1":
        region.madvise(mmap.MADV_NOHUGEPAGE)
    region[::PAGE] = b"x" * (size // PAGE)
    with open("/proc/self/status") as f:
        rss = next(l.split()[1] for l in f if l.startswith("VmRSS:"))
    print(f"READY pid={os.getpid()} rss_kib={rss}", flush=True)

    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        seconds, label = float(words[1]), words[2]
        lat = []
        worker = threading.Thread(target=loop, args=(seconds, lat))
        worker.start()
        worker.join()
        lat.sort()
        n = len(lat)
        q = lambda f: lat[min(n - 1, int(f * n))] / 1000
        stalls = [x for x in lat if x > 1_000_000]
        print(f"RESULT label={label} n={n} median_us={q(0.5):.1f} p99_us={q(0.99):.1f} "
              f"p999_us={q(0.999):.1f} max_us={lat[-1] / 1000:.1f} "
              f"stalls={len(stalls)} stalled_ms={sum(stalls) / 1e6:.0f}", flush=True)
    region.close()


if __name__ == "__main__":
    main()
