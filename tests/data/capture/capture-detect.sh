#!/bin/bash
# capture-detect.sh FIXTURE-ROOT: captures tests/data/proc-detect (see its
# README) from real processes. Root, Debian 12, pyenv's 2.7.18, 3.6.15 and
# 3.11.7 under $PYENV_ROOT (~/.pyenv); run from the repository's tests/data/capture.
set -eu
root=$1
here=$(cd "$(dirname "$0")" && pwd)
work=/tmp/pymemd-capture
rm -rf "$work" && mkdir -p "$work"
pyenv=${PYENV_ROOT:-$HOME/.pyenv}/versions
cp "$pyenv/2.7.18/bin/python2.7" "$work/myapp"
cp "$pyenv/3.6.15/bin/python3.6" "$work/myapp36"
cp /bin/sleep "$work/python3"
cp "$here/arenas_child.py" "$work/"
cd "$work"
export PATH=/usr/bin:/bin
wait_ready () { while ! grep -q . "$1" 2>/dev/null; do sleep 0.2; done; }
pids=()
start () { # out-file command...
  local out=$1; shift
  (sleep 1000 | "$@" > "$out") & pids+=($!)
}
start "$work/o1" ./myapp -c "import sys, time; sys.stdout.write('ready\n'); sys.stdout.flush(); time.sleep(1000)"
start "$work/o2" ./myapp36 -c "import sys, time; print('ready', flush=True); time.sleep(1000)"
./python3 1000 & sleeper=$!
start "$work/o4" /lib64/ld-linux-x86-64.so.2 /usr/bin/python3.11 -c "import time; print('ready', flush=True); time.sleep(1000)"
start "$work/o5" "$pyenv/3.11.7/bin/python3.11" arenas_child.py mmap
start "$work/o6" "$pyenv/3.11.7/bin/python3.11" arenas_child.py merged
for i in 1 2 4 5 6; do wait_ready "$work/o$i"; done
sleep 1
real () { pgrep -n -f "$1"; }
p1=$(real "^./myapp -c"); p2=$(real "^./myapp36 -c"); p4=$(real "ld-linux-x86-64.so.2 /usr/bin/python3.11")
p5=$(real "arenas_child.py mmap"); p6=$(real "arenas_child.py merged")
n=3001
for p in $p1 $p2 $sleeper $p4 $p5 $p6; do
  mkdir -p "$root/$n"
  sh "$here/capture.sh" "$p" "$n" "$root" > "$root/$n/exe-target"
  n=$((n + 1))
done
python3 "$here/arenas.py" "$p5" "$pyenv/3.11.7/lib/libpython3.11.so.1.0" > "$root/3005/arenas"
python3 "$here/arenas.py" "$p6" "$pyenv/3.11.7/lib/libpython3.11.so.1.0" > "$root/3006/arenas"
kill "$sleeper" "$p1" "$p2" "$p4" "$p5" "$p6"
