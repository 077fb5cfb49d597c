#!/usr/bin/python3
"""arenas.py PID LIBRARY: prints the arenas in use of the interpreter in
LIBRARY (an unstripped 2.7-3.11 build: obmalloc.c's arenas and maxarenas
from its .symtab), one "start-end" (hex) a line, read from /proc/PID/mem.
Run as root while the process is idle."""
import struct
import subprocess
import sys

pid, library = int(sys.argv[1]), sys.argv[2]
symbols = {}
for line in subprocess.run(["readelf", "-s", "-W", library], capture_output=True,
                           text=True, check=True).stdout.splitlines():
    fields = line.split()
    if len(fields) == 8 and fields[7] in ("arenas", "maxarenas"):
        symbols[fields[7]] = int(fields[1], 16)
version = subprocess.run(["readelf", "-l", "-W", library], capture_output=True, text=True,
                         check=True).stdout
first_load = min(int(l.split()[2], 16) for l in version.splitlines()
                 if l.strip().startswith("LOAD") and int(l.split()[1], 16) == 0)
base = None
with open(f"/proc/{pid}/maps") as maps:
    for line in maps:
        f = line.split()
        if len(f) >= 6 and f[5] == library and int(f[2], 16) == 0:
            base = int(f[0].split("-")[0], 16)
            break
bias = base - (first_load & ~0xfff)
arena_size = int(sys.argv[3]) if len(sys.argv) > 3 else 1 << 20
with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
    def read(address, size):
        mem.seek(address)
        return mem.read(size)
    table = struct.unpack("<Q", read(symbols["arenas"] + bias, 8))[0]
    count = struct.unpack("<I", read(symbols["maxarenas"] + bias, 4))[0]
    data = read(table, count * 48)
addresses = sorted(a for a in (struct.unpack_from("<Q", data, i * 48)[0] for i in range(count)) if a)
for a in addresses:
    print(f"{a:x}-{a + arena_size:x}")
