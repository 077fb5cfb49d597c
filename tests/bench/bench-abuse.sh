#!/bin/bash
# bench-abuse.sh — one unprivileged user (nobody) takes on pymemd's shared
# resources, one way at a time (issue 11), while root checks that it is still
# served: the daemon's memory, CPU and log lines per second next to the same
# figures without the attacker.
#
# Run as root from the build directory with `make bench-abuse`.
# PYMEMD and PYMEMCTL name other binaries to compare (an older build).  It
# prints figures; it never fails on one.  Everything it starts is killed on exit;
# KEEP=1 keeps the logs; STEPS="flood rescan" runs only those.
#
# Set-up: a private bus configured like Debian's system bus (256 connections per
# user) with pymemd's policy from the source tree, the daemon on it with
# --interval 2, its log in $WORK/pymemd.log, and $TARGETS idle interpreters.
# The attacks (tests/abuse, run as nobody by setpriv):
#   1. hellos: 256 helper connections with valid hellos; root's helper probe.
#   2. frames: 256 connections, each a valid hello, then a 1 MiB frame header
#      and 1 MiB - 1 bytes (no request asked for it: refused on its header);
#      the daemon's RSS before, during and $SETTLE s after they leave; twice
#      (the second round is served from what the first left to malloc).
#   3. flood: connect + "\xff\xff\xff\xff" + close in a loop for $FLOOD s; log
#      lines per second and the daemon's CPU (utime+stime) over the loop.
#      bigframes: the same with a 1 MiB first frame (a JSON text) for $FLOOD s:
#      the daemon's CPU per connection, beside flood's 4-byte refused header.
#   elf: programs run by nobody whose ELF files cost the daemon what its
#      readers let them (a string table N symbols name, with no NUL at its
#      end; a compressed string table that claims 1 GiB), beside the same
#      program unchanged: the daemon's CPU and RSS from each one's start to
#      2 s after root's call, made 1 s in, and that call's latency.
#   looks: a program run by nobody through the dynamic loader (so pymemd
#      looks at it again and again for libpython) that maps $LOOK_FILES
#      sparse ELF files, each with a symbol table of 2^22 entries, and
#      touches them every 300 ms (a new mtime: no cached verdict); root's
#      GetStatistics every 0.25 s for 10 s: median and worst latency with
#      and without the program, and the daemon's CPU.
#   fatsmaps: $FAT interpreters run by nobody, each with $FAT_MAPS resident
#      mappings of one file whose path is about 3.8 KB long (a smaps file of
#      about 5 KB a mapping, RSS tiny); root's own idle interpreters' sample
#      age (now - sampled_at in `pymemctl list --json`, every 0.5 s for
#      $FAT_SECONDS s, two detail passes at the default 30 s) without them
#      and with them, the daemon's CPU meanwhile, its RSS after, and the log
#      lines about nobody's reads waiting. FAT_ACTIVE=1: each of them also
#      adds 32 pages of shared memory every 0.5 s (statm moves on every tick:
#      each tick reads its smaps_rollup).
#   4. subscriptions: 256 bus connections x 16 Subscribe x 4096 pids; root's
#      Subscribe and `pymemctl watch`; RSS.
#   5. rescan: 8 connections calling Rescan back to back for $RESCAN s; calls
#      answered and refused, full passes (opens of a process's smaps, under
#      strace), root's Rescan and how long it waited.
set -euo pipefail

TARGETS=${TARGETS:-10}
FLOOD=${FLOOD:-10}
RESCAN=${RESCAN:-5}
SETTLE=${SETTLE:-15}
LOOK_FILES=${LOOK_FILES:-20}
FAT=${FAT:-10}
FAT_MAPS=${FAT_MAPS:-32000}
FAT_SECONDS=${FAT_SECONDS:-60}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYMEMD=${PYMEMD:-daemon/pymemd}
PYMEMCTL=${PYMEMCTL:-client/pymemctl}
ABUSE=tests/abuse
PYTHON=/usr/bin/python3

die () { echo "bench-abuse: $*" >&2; exit 1; }
[[ -x $PYMEMD && -x $PYMEMCTL && -x $ABUSE ]] ||
  die "run from the build directory after make bench-abuse (or make and make tests/abuse)"
(( EUID == 0 )) || die "must run as root"
for tool in dbus-daemon setpriv strace; do
  command -v $tool >/dev/null || die "needs $tool"
done
# shellcheck source=idle.sh
source "$HERE/idle.sh"

WORK=$(mktemp -d /tmp/pymemd-abuse.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup () {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n ${KEEP:-} ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

cat > "$WORK/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$WORK/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
  </policy>
  <include>$HERE/../../data/org.pymemd.Monitor1.conf</include>
</busconfig>
EOF
ADDRESS=unix:path=$WORK/bus
dbus-daemon --config-file="$WORK/bus.conf" --nofork & PIDS+=($!)
for _ in $(seq 100); do [[ -S $WORK/bus ]] && break; sleep 0.05; done

for _ in $(seq "$TARGETS"); do
  $PYTHON -c 'import time; b = bytearray(8 << 20); time.sleep(100000)' & PIDS+=($!)
done
wait_idle "${PIDS[@]:1}"

"$PYMEMD" --address "$ADDRESS" --interval 2 --runtime-dir "$WORK/run" 2> "$WORK/pymemd.log" &
DAEMON=$!
PIDS+=("$DAEMON")
SOCKET=$WORK/run/helper.sock
for _ in $(seq 300); do
  if "$ABUSE" call "$ADDRESS" Rescan >/dev/null 2>&1; then break; fi
  sleep 0.1
done
[[ -S $SOCKET ]] || die "no helper socket"
sleep 2

rss_kib () { awk '/^VmRSS/ { print $2 }' "/proc/$DAEMON/status"; }
cpu_ticks () { awk '{ print $14 + $15 }' "/proc/$DAEMON/stat"; }
log_lines () { wc -l < "$WORK/pymemd.log"; }
mib () { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
as_nobody () { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
result () { sed -n 's/^RESULT //p' "$1"; }
# Root's probes; a refusal is a figure, not an error.
probe () { { "$ABUSE" probe "$SOCKET" || true; } | sed -n 's/^RESULT //p'; }
root_call () { { "$ABUSE" call "$ADDRESS" "$1" || true; } | sed -n 's/^RESULT //p'; }

# Starts "bench-abuse ARGS" as nobody with its stdin a fifo; waits for "ready".
start_held () {
  local out=$1; shift
  rm -f "$WORK/hold"; mkfifo "$WORK/hold"
  as_nobody "$ABUSE" "$@" < "$WORK/hold" > "$out" 2>&1 &
  HELD=$!
  exec 9> "$WORK/hold"
  for _ in $(seq 1200); do grep -q '^ready' "$out" && return 0; sleep 0.1; done
  die "attacker $* not ready: $(cat "$out")"
}
stop_held () { exec 9>&-; wait "$HELD" || true; }

echo "daemon: $PYMEMD ($TARGETS idle interpreters)"
echo "baseline: RSS $(mib "$(rss_kib)")"

hellos () {
start_held "$WORK/hellos" hellos "$SOCKET" 256
echo "1. hellos: nobody's connections $(result "$WORK/hellos"); RSS $(mib "$(rss_kib)");" \
     "root's helper: $(probe)"
stop_held
sleep 1
}

frames () {
local round before during served
for round in 1 2; do
  before=$(rss_kib)
  start_held "$WORK/frames" frames "$SOCKET" 256
  during=$(rss_kib)
  served=$(probe)
  stop_held
  sleep "$SETTLE"
  echo "2. frames, round $round: nobody's connections $(result "$WORK/frames"); RSS before $(mib "$before")," \
       "during $(mib "$during"), ${SETTLE} s after they left $(mib "$(rss_kib)"); root's helper: $served"
done
}

flood () {
lines0=$(log_lines); cpu0=$(cpu_ticks); t0=$(date +%s.%N)
as_nobody "$ABUSE" flood "$SOCKET" "$FLOOD" > "$WORK/flood" 2>&1 &
flood=$!
sleep "$(awk -v f="$FLOOD" 'BEGIN { print f / 2 }')"
served=$(probe)
wait "$flood" || true
lines1=$(log_lines); cpu1=$(cpu_ticks); t1=$(date +%s.%N)
echo "3. flood: $(result "$WORK/flood"); log lines/s $(awk -v a="$lines0" -v b="$lines1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", (b - a) / (e - s) }');" \
     "daemon CPU $(awk -v a="$cpu0" -v b="$cpu1" -v s="$t0" -v e="$t1" -v hz="$hz" 'BEGIN { printf "%.0f%%", 100 * (b - a) / hz / (e - s) }');" \
     "root's helper during it: $served"
sleep 1
}

bigframes () {
local flooders=() i
cpu0=$(cpu_ticks); t0=$(date +%s.%N)
for i in 1 2 3 4; do
  as_nobody $PYTHON - "$SOCKET" "$FLOOD" > "$WORK/bigframes.$i" 2>&1 <<'PY' &
import socket, struct, sys, time
body = b'{"v": 1, "type": "hello", "pad": [' + b",".join([b"0"] * 500000) + b']}'
frame = struct.pack(">I", len(body)) + body
end, n = time.monotonic() + float(sys.argv[2]), 0
while time.monotonic() < end:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sys.argv[1]); s.sendall(frame); s.shutdown(socket.SHUT_WR)
        s.settimeout(5)
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close(); n += 1
print("connections", n)
PY
  flooders+=($!)
done
sleep "$(awk -v f="$FLOOD" 'BEGIN { print f / 2 }')"
served=$(probe)
wait "${flooders[@]}" 2>/dev/null || true
cpu1=$(cpu_ticks); t1=$(date +%s.%N)
n=$(cat "$WORK"/bigframes.* | awk '/^connections/ { s += $2 } END { print s + 0 }')
echo "3b. bigframes: $n connections, each a 1 MiB first frame; daemon CPU" \
     "$(awk -v a="$cpu0" -v b="$cpu1" -v s="$t0" -v e="$t1" -v hz="$hz" 'BEGIN { printf "%.0f%%", 100 * (b - a) / hz / (e - s) }')," \
     "$(awk -v a="$cpu0" -v b="$cpu1" -v n="$n" -v hz="$hz" 'BEGIN { printf "%.3f ms", n ? 1000 * (b - a) / hz / n : 0 }') a connection;" \
     "root's helper during it: $served"
sleep 1
}

elf () {
local kind cpu0 rss0 call prog
printf '#include <unistd.h>\nint main (void) { pause (); return 0; }\n' > "$WORK/wait.c"
cc -o "$WORK/plain" "$WORK/wait.c" || die "needs cc"
for kind in strtab zstrtab; do
  $PYTHON - "$WORK/plain" "$WORK/$kind" "$kind" <<'PY'
import struct, sys, zlib
src, dst, kind = sys.argv[1:]
b = bytearray(open(src, "rb").read())
shoff, = struct.unpack_from("<Q", b, 0x28)
shentsize, shnum = struct.unpack_from("<HH", b, 0x3a)
header = lambda i: shoff + i * shentsize
for i in range(shnum):
    if struct.unpack_from("<I", b, header(i) + 4)[0] != 2:  # SHT_SYMTAB
        continue
    strtab = header(struct.unpack_from("<I", b, header(i) + 40)[0])
    nsyms, size = (300000, 4000000) if kind == "strtab" else (20000, 1 << 30)
    b += bytes(-len(b) % 8)
    symbols = len(b)
    # Each names offset 0 of its string table, whose only NUL is its first byte.
    b += struct.pack("<IBBHQQ", 0, 0x11, 0, 1, 0, 0) * nsyms
    struct.pack_into("<QQ", b, header(i) + 24, symbols, nsyms * 24)
    b += bytes(-len(b) % 8)
    strings = len(b)
    if kind == "strtab":
        b += b"\0" + b"P" * (size - 1)
    else:
        z = zlib.compressobj(9)
        data = z.compress(b"\0") + b"".join(z.compress(b"P" * (1 << 20)) for _ in range(size >> 20)) + z.flush()
        b += struct.pack("<IIQQ", 1, 0, size, 1) + data  # Elf64_Chdr: zlib
        flags, = struct.unpack_from("<Q", b, strtab + 8)
        struct.pack_into("<Q", b, strtab + 8, flags | 0x800)  # SHF_COMPRESSED
    struct.pack_into("<QQ", b, strtab + 24, strings, len(b) - strings)
open(dst, "wb").write(b)
PY
done
chmod 755 "$WORK/plain" "$WORK/strtab" "$WORK/zstrtab"
for prog in plain strtab zstrtab; do
  cpu0=$(cpu_ticks); rss0=$(rss_kib)
  # Not through as_nobody: $! must be the program (setpriv execs it).
  setpriv --reuid=nobody --regid=nogroup --clear-groups "$WORK/$prog" &
  prog_pid=$!
  PIDS+=("$prog_pid")
  sleep 1
  call=$(root_call GetStatistics)
  sleep 2
  echo "elf $prog ($(stat -c %s "$WORK/$prog") bytes): daemon CPU $(awk -v a="$cpu0" -v b="$(cpu_ticks)" -v hz="$hz" 'BEGIN { printf "%.2f s", (b - a) / hz }')" \
       "from its start to 2 s after root's call; RSS $(mib "$rss0") -> $(mib "$(rss_kib)"); root's GetStatistics 1 s in: $call"
  kill "$prog_pid"; wait "$prog_pid" 2>/dev/null || true
done
}

# Root's GetStatistics every 0.25 s for 10 s: "median M ms, worst W ms".
call_latencies () {
  local ms=()
  for _ in $(seq 40); do
    ms+=("$(root_call GetStatistics | sed -n 's/.*ms=\([0-9.]*\).*/\1/p')")
    sleep 0.25
  done
  printf '%s\n' "${ms[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "median %s ms, worst %s ms", v[int((NR + 1) / 2)], v[NR] }'
}

looks () {
local before cpu0 t0 during cpu1 t1 i
mkdir -p "$WORK/elfs"
chmod 777 "$WORK/elfs"
cat > "$WORK/mapelf.c" <<'C'
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
/* Maps each file named, executable, then touches them all every 300 ms. */
int main (int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    int fd = open (argv[i], O_RDONLY);
    if (fd < 0 || mmap (NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0) == MAP_FAILED) return 1;
    close (fd);
  }
  for (;;) {
    usleep (300 * 1000);
    for (int i = 1; i < argc; i++) utimensat (AT_FDCWD, argv[i], NULL, 0);
  }
}
C
cc -o "$WORK/mapelf" "$WORK/mapelf.c" || die "needs cc"
as_nobody $PYTHON - "$WORK/elfs" "$LOOK_FILES" <<'PY'
import struct, sys
d, count = sys.argv[1], int(sys.argv[2])
strtab = b"\0.symtab\0.strtab\0"
symoff, symsize = 4096, (1 << 22) * 24
ehdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8) + struct.pack("<HHIQQQIHHHHHH", 3, 62, 1, 0, 0, 64, 0, 64, 56, 0, 64, 3, 2)
def sh(name, typ, off, size, link, entsize):
    return struct.pack("<IIQQQQIIQQ", name, typ, 0, 0, off, size, link, 0, 8, entsize)
shdrs = sh(0, 0, 0, 0, 0, 0) + sh(1, 2, symoff, symsize, 2, 24) + sh(9, 3, 256, len(strtab), 0, 0)
for i in range(count):
    with open(f"{d}/e{i}", "wb") as f:
        f.write(ehdr); f.write(shdrs); f.seek(256); f.write(strtab); f.truncate(symoff + symsize)
PY
before=$(call_latencies)
cpu0=$(cpu_ticks); t0=$(date +%s.%N)
setpriv --reuid=nobody --regid=nogroup --clear-groups /lib64/ld-linux-x86-64.so.2 "$WORK/mapelf" \
  $(for i in $(seq 0 $((LOOK_FILES - 1))); do echo "$WORK/elfs/e$i"; done) &
PIDS+=($!)
i=$!
during=$(call_latencies)
cpu1=$(cpu_ticks); t1=$(date +%s.%N)
kill "$i"; wait "$i" 2>/dev/null || true
echo "looks: root's GetStatistics without the program: $before; with it ($LOOK_FILES files): $during;" \
     "daemon CPU with it $(awk -v a="$cpu0" -v b="$cpu1" -v s="$t0" -v e="$t1" -v hz="$hz" 'BEGIN { printf "%.0f%%", 100 * (b - a) / hz / (e - s) }')"
rm -rf "$WORK/elfs"
}

# Root's interpreters' worst and median sample age over $1 seconds.
sample_ages () {
  local end=$((SECONDS + $1))
  while ((SECONDS < end)); do
    "$PYMEMCTL" --address "$ADDRESS" list --json 2>/dev/null |
      $PYTHON -c 'import json, sys, time
now = time.time() * 1e6
ages = [now - p["sampled_at"] for p in json.load(sys.stdin)["processes"] if p.get("uid") == 0 and "sampled_at" in p]
print(max(ages) / 1e6 if ages else "")' || true
    sleep 0.5
  done | sort -n | awk 'NF { v[++n] = $1 } END { if (!n) { print "no samples"; exit }
    printf "median %.1f s, worst %.1f s", v[int((n + 1) / 2)], v[n] }'
}

fatsmaps () {
local long file before cpu0 t0 during cpu1 t1 i waits
# A path of about 3.8 KB: 15 directories of 250 characters.
long=$WORK/fat
for i in $(seq 15); do long=$long/$(printf 'p%.0s' $(seq 250)); done
mkdir -p "$long"
file=$long/f
head -c 4096 /dev/zero > "$file"
chmod -R a+rX "$WORK/fat"
cat > "$WORK/fatsmaps.py" <<'PY'
import ctypes, sys, time
f = open(sys.argv[1], "rb")
fd = f.fileno()
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
for _ in range(int(sys.argv[2])):
    p = libc.mmap(None, 4096, 1, 2, fd, 0)
    if p in (None, ctypes.c_void_p(-1).value):
        sys.exit("mmap failed: %s" % ctypes.get_errno())
    ctypes.c_char.from_address(p).value  # resident: not merged, each a mapping
print("ready", flush=True)
if len(sys.argv) < 4:
    time.sleep(100000)
# Active: 32 more shared pages every 0.5 s (anonymous shared memory), all
# given back every 50 s, so that statm's shared count moves on every tick
# and each tick reads smaps_rollup, a walk of all the mappings.
import mmap
held = []
while True:
    for _ in range(100):
        m = mmap.mmap(-1, 32 * 4096)
        m[::4096] = b"x" * 32
        held.append(m)
        time.sleep(0.5)
    for m in held:
        m.close()
    held = []
PY
before=$(sample_ages "$FAT_SECONDS")
for i in $(seq "$FAT"); do
  as_nobody $PYTHON "$WORK/fatsmaps.py" "$file" "$FAT_MAPS" ${FAT_ACTIVE:+active} > "$WORK/fat.$i" 2>&1 &
  PIDS+=($!)
done
for i in $(seq "$FAT"); do
  for _ in $(seq 600); do grep -q '^ready' "$WORK/fat.$i" && break; sleep 0.1; done
  grep -q '^ready' "$WORK/fat.$i" || die "nobody's interpreter $i not ready: $(head -c 300 "$WORK/fat.$i")"
done
cpu0=$(cpu_ticks); t0=$(date +%s.%N)
during=$(sample_ages "$FAT_SECONDS")
cpu1=$(cpu_ticks); t1=$(date +%s.%N)
waits=$(grep -c "reads of uid .* wait\|Samples of uid .* wait" "$WORK/pymemd.log" || true)
echo "fatsmaps${FAT_ACTIVE:+ (active)}: root's sample age without nobody's $FAT interpreters: $before; with them" \
     "($FAT_MAPS mappings each, smaps $(awk -v n="$FAT_MAPS" 'BEGIN { printf "~%.0f MiB", n * 5000 / 1048576 }') each): $during;" \
     "daemon CPU with them $(awk -v a="$cpu0" -v b="$cpu1" -v s="$t0" -v e="$t1" -v hz="$hz" 'BEGIN { printf "%.0f%%", 100 * (b - a) / hz / (e - s) }');" \
     "RSS after $(mib "$(rss_kib)"); '... wait' log lines: $waits"
pkill -u nobody -f "$WORK/fatsmaps.py" || true
}

subscriptions () {
before=$(rss_kib)
start_held "$WORK/subscribe" subscribe "$ADDRESS" 256 16 4096
during=$(rss_kib)
root_call=$(root_call Subscribe)
set +e
timeout 3 "$PYMEMCTL" --address "$ADDRESS" watch > /dev/null 2> "$WORK/watch.err"
watch_status=$?
set -e
stop_held
sleep 2
echo "4. subscriptions: nobody's Subscribe $(result "$WORK/subscribe"); RSS before $(mib "$before")," \
     "during $(mib "$during"), after $(mib "$(rss_kib)"); root's Subscribe: $root_call;" \
     "root's pymemctl watch: $( ((watch_status == 124)) && echo "watching (stopped after 3 s)" || echo "exit $watch_status: $(head -c 200 "$WORK/watch.err")")"
}

rescan () {
strace -qq -f -e trace=openat -e signal=none -p "$DAEMON" -o "$WORK/strace" &
tracer=$!
sleep 1
cpu0=$(cpu_ticks); t0=$(date +%s.%N)
as_nobody "$ABUSE" rescan "$ADDRESS" 8 "$RESCAN" > "$WORK/rescan" 2>&1 &
rescan=$!
sleep "$(awk -v f="$RESCAN" 'BEGIN { print f / 2 }')"
root_call=$(root_call Rescan)
wait "$rescan" || true
cpu1=$(cpu_ticks); t1=$(date +%s.%N)
kill "$tracer"; wait "$tracer" 2>/dev/null || true
# Each watched process's /proc/PID is held open: the opens of "smaps" under
# one directory fd are the full passes that reached that process.
passes=$(sed -n 's/.*openat(\([0-9]*\), "smaps",.*/\1/p' "$WORK/strace" | sort | uniq -c |
         sort -rn | awk 'NR == 1 { print $1 } END { if (NR == 0) print 0 }')
echo "5. rescan: nobody's calls $(result "$WORK/rescan"); full passes $passes" \
     "(under strace); daemon CPU $(awk -v a="$cpu0" -v b="$cpu1" -v s="$t0" -v e="$t1" -v hz="$hz" 'BEGIN { printf "%.0f%%", 100 * (b - a) / hz / (e - s) }');" \
     "root's Rescan: $root_call"
}

hz=$(getconf CLK_TCK)
for step in ${STEPS:-hellos frames flood subscriptions rescan}; do
  "$step"
done

echo "log: $(log_lines) lines in all; daemon alive: $([[ -d /proc/$DAEMON ]] && echo yes || echo no)"
