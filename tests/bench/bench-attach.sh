#!/bin/sh
# Attach latency for an idle GTK app (issue 6), next to gdb's attach in the
# same run: make bench-attach [BENCH_ATTACH_N=10]. Needs root, Xvfb,
# python3-gi, gir1.2-gtk-3.0, gdb and dbus-daemon.
set -eu
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
exec /usr/bin/python3 "$srcdir/tests/bench/bench-attach.py" "$PWD/daemon/pymemd" "$srcdir/helper" "${1:-10}"
