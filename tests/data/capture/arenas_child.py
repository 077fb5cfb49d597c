"""Small objects (pymalloc arenas) next to a 64 MiB private anonymous
mapping (mmap) or after a 64 MiB bytearray whose malloc'd block the later
arenas merge with (merged); prints ready and idles."""
import mmap
import sys
import time

if sys.argv[1] == "mmap":
    m = mmap.mmap(-1, 64 << 20, flags=mmap.MAP_PRIVATE)
    for i in range(0, len(m), 4096):
        m[i:i + 1] = b"x"
else:
    big = bytearray(64 << 20)
    for i in range(0, len(big), 4096):
        big[i] = 1
objs = [{"a": i} for i in range(100000)]
print("ready", flush=True)
time.sleep(1000)
