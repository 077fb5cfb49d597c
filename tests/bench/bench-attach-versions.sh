#!/bin/sh
# Attach latency per way and CPython version (3.6-3.14, idle and busy):
# make bench-attach-versions [BENCH_ATTACH_VERSIONS_N=5]. Needs root,
# dbus-daemon and python3-gi; 3.14 when PYMEMD_TEST_PYTHON314 names it.
set -eu
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
exec /usr/bin/python3 "$srcdir/tests/bench/bench-attach-versions.py" "$PWD/daemon/pymemd" "$srcdir/helper" "${1:-5}"
