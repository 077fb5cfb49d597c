#!/bin/sh
# usage: capture.sh <real-pid> <fake-pid> <fixture-root>
set -e
src=$1; dst=$2; root=$3
d="$root/$dst"
mkdir -p "$d" "$root/sys/kernel/random"
for f in smaps smaps_rollup status stat cmdline maps; do
    cat "/proc/$src/$f" > "$d/$f"
done
# pid renumbering: stat field 1; status Pid:/Tgid:/NStgid:/NSpid:
sed -i "1s/^$src /$dst /" "$d/stat"
sed -i -E "s/^(Tgid|Pid|NStgid|NSpid):(\t)$src\$/\1:\2$dst/" "$d/status"
cat /proc/sys/kernel/random/boot_id > "$root/sys/kernel/random/boot_id"
cat /proc/meminfo > "$root/meminfo"
readlink "/proc/$src/exe"
