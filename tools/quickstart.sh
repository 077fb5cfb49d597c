#!/bin/sh
# The README's first command: installs what is missing, builds pymemd, and
# shows the Python processes running now with what they cost.
set -eu
cd "$(dirname "$0")/.."

tools/install-deps.sh
[ -x configure ] || NOCONFIGURE=1 ./autogen.sh >/dev/null
[ -f Makefile ] || ./configure --quiet
make -s -j"$(nproc)" >/dev/null

./daemon/pymemd --once > pymemd-report.json
jq -r '
  def row: [.pid, (.python_version // "?"), .pss, (if .exact then .exact.uss else .uss end),
            .private_dirty, .shared_clean + .shared_dirty, .swap,
            (.cmdline | .[0:60])];
  (["PID", "PY", "PSS", "USS", "PRIV_DIRTY", "SHARED", "SWAP", "COMMAND"] | @tsv),
  (.processes | sort_by(-.pss) | .[] | row | @tsv)' pymemd-report.json |
  numfmt --header --field=3-7 --to=iec-i --suffix=B --invalid=ignore |
  column -t -s "$(printf '\t')"
jq -r '"\n\(.totals.processes) Python processes: PSS \(.totals.pss), USS \(.totals.uss) bytes; " +
       "freed if all exit: \(.python_set.freed_if_all_exit) bytes" +
       (if .exact then " (exact)" else " (smaps estimate: \(.exact_error))" end)' pymemd-report.json
echo "Full report: pymemd-report.json (./daemon/pymemd --once)"
