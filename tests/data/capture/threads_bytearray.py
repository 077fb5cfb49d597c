import mmap, threading, time
from multiprocessing import shared_memory

# 3 sleeping threads -> 3 pthread stacks with guard pages
for i in range(3):
    threading.Thread(target=time.sleep, args=(1e6,), daemon=True).start()

# 64 MiB bytearray, every page written -> private dirty anon
b = bytearray(64 << 20)
for off in range(0, len(b), 4096):
    b[off] = 1

# many small objects -> pymalloc arenas
objs = [{"i": i} for i in range(200000)]

# 1 MiB POSIX shared memory segment (/dev/shm/pymemd_fixture_shm), touched
shm = shared_memory.SharedMemory(name="pymemd_fixture_shm", create=True, size=1 << 20)
for off in range(0, shm.size, 4096):
    shm.buf[off] = 2

# 1 MiB regular data file under /tmp, mmapped read-only and read
f = open("/tmp/pymemd-data-1mib.bin", "rb")
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
s = sum(m[off] for off in range(0, len(m), 4096))

time.sleep(1e6)
