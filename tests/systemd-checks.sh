#!/bin/sh
# What tests/test-systemd.sh checks inside its container, run as a unit of
# the container's systemd: pymemd.service enabled, started, sandboxed,
# reloaded, stopped, started again by a client through D-Bus activation and
# restarted by the watchdog; pymemctl list and heap --attach, as root and as
# another user, for idle and busy Python 3.11 and 3.14 processes of both.
# Prints TAP lines without numbers (the test numbers them) and # comments.
set -u
export LC_ALL=C.UTF-8

unit=pymemd.service
pymemctl=$PYMEMD_BINDIR/pymemctl
conf=$PYMEMD_SYSCONFDIR/pymemd/pymemd.conf
vendor_conf=$PYMEMD_PKGDATADIR/pymemd.conf
# The source tree may be closed to other users; the script is copied out.
python314=/usr/local/lib/pymemd-checks/python3.14
install -D -m 0755 "$PYMEMD_SRCDIR/tools/python3.14" "$python314"
# Another user: the targets and callers that are not root.
user=nobody
as_user="setpriv --reuid=$user --regid=nogroup --clear-groups"
work=$(mktemp -d /tmp/pymemd-checks-XXXXXX)
# How long pymemctl heap --attach may take in all (the issue's goal is 1 s;
# CI's machine is shared, and a helper that never connects takes 15 s).
attach_limit=3

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; }
comment() { sed 's/^/# /'; }

# check DESCRIPTION COMMAND...: ok when COMMAND succeeds, else its output.
check() {
  description=$1
  shift
  if "$@" >"$work/out" 2>&1; then
    ok "$description"
  else
    not_ok "$description"
    comment <"$work/out"
  fi
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds, at most SECONDS.
wait_for() {
  end=$(($(date +%s) + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.1
  done
}

prop() { systemctl show -P "$1" $unit; }
interval_is() {
  [ "$(busctl get-property org.pymemd.Monitor1 /org/pymemd/Monitor1 org.pymemd.Monitor1 Interval)" = "d $1" ]
}
# journal_has PATTERN JOURNALCTL-ARGS...: a line matching PATTERN appears
# (within 5 s) in the journal since mark_journal.
mark_journal() { journalctl -n 1 --show-cursor --no-pager -o cat | sed -n 's/^-- cursor: //p' >"$work/cursor"; }
journal_has() {
  pattern=$1
  shift
  wait_for 5 sh -c 'cursor=$1; shift; journalctl --no-pager -o cat --after-cursor="$cursor" "$@" | grep -q -- "$0"' \
    "$pattern" "$(cat "$work/cursor")" "$@"
}
now() { date +%s.%N; }
started_at=$(now)
# A comment saying how long the checks have run, for CI's time budget.
section() { echo "# $(elapsed "$started_at" "$(now)") s: $*"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
on_exit() {
  for pid in $children; do kill -9 "$pid" 2>/dev/null; done
  systemctl stop $unit
  rm -rf "$work"
}
children=""
trap on_exit EXIT

echo "# the container is $(systemctl is-system-running) (systemd $(systemctl --version | sed -n 's/^systemd \([0-9]*\).*/\1/p'))"
systemctl --failed --no-legend --plain | comment

# ---- the unit as the quick start installs it ----
section "the unit"

check "systemctl enable $unit (as tools/quickstart.sh does)" systemctl enable $unit
check "$unit is enabled (multi-user.target wants it)" \
  test -L /etc/systemd/system/multi-user.target.wants/$unit
mark_journal
check "systemctl start $unit" systemctl start $unit
check "$unit is active and owns org.pymemd.Monitor1" \
  sh -c "systemctl is-active $unit && busctl status org.pymemd.Monitor1"
pid=$(prop MainPID)

# ---- the sandbox ----
section "the sandbox"

# Every mount the daemon sees is read-only, but the kernel's /proc, its
# private /tmp, /var/tmp and /dev/mqueue (PrivateTmp=, PrivateIPC=), and its
# state and runtime directories.
awk '$6 !~ /^ro(,|$)/ && $5 != "/proc" && $5 != "/tmp" && $5 != "/var/tmp" && $5 != "/dev/mqueue" &&
     $5 != "/var/lib/pymemd" && $5 != "/run/pymemd" { print "writable:", $5, $6 }' \
  "/proc/$pid/mountinfo" >"$work/writable"
if [ -s "$work/writable" ]; then
  not_ok "the daemon sees the system read-only, but for its own directories"
  comment <"$work/writable"
else
  ok "the daemon sees the system read-only, but for its own directories"
fi
check "/run is read-only and /run/pymemd writable inside the unit" sh -c "
  awk '\$5 == \"/run\" { print \$6 }' /proc/$pid/mountinfo | grep -q '^ro' &&
  awk '\$5 == \"/run/pymemd\" { print \$6 }' /proc/$pid/mountinfo | grep -q '^rw'"
exposure=$(systemd-analyze security $unit 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 2.5) }'; then
  ok "systemd-analyze security: exposure $exposure (at most 2.5)"
else
  not_ok "systemd-analyze security: exposure ${exposure:-unknown} (at most 2.5)"
  systemd-analyze security $unit 2>&1 | grep -v '^  ✓' | comment
fi

# ---- reload ----
section "reload"

mkdir -p "${conf%/*}"
printf '[monitor]\ninterval=3\n' >"$conf"
mark_journal
check "systemctl reload $unit" systemctl reload $unit
# systemd 252 ends the reload job when ExecReload= (kill -HUP) returns; the
# daemon's RELOADING=1 ... READY=1 may come a moment later.
if interval_is 3; then
  echo "# the new settings were in effect when systemctl reload returned"
fi
check "the reload took effect (Interval 3)" wait_for 5 interval_is 3
check "the daemon says it read $conf" journal_has "Configuration reloaded from $conf" -u $unit
printf '[monitor]\ninterval=0.1\n' >"$conf"
mark_journal
systemctl reload $unit
check "an invalid file is refused on reload" journal_has "not reloaded" -u $unit
check "and the old settings kept (Interval 3)" interval_is 3
rm -f "$conf"
mark_journal
systemctl reload $unit
check "without $conf the reload reads $vendor_conf" \
  journal_has "Configuration reloaded from $vendor_conf" -u $unit
check "and Interval is back to the default, 2" wait_for 5 interval_is 2
check "$unit stayed up through the reloads (the same PID)" test "$(prop MainPID)" = "$pid"

# ---- Python processes of root and of another user ----
section "Python processes of root and of another user"

idle_code='import time
print("ready", flush=True)
time.sleep(3000)'
busy_code='print("ready", flush=True)
n = 0
while True:
    n += 1'

# start NAME OWNER PYTHON CODE: a Python process, once it printed "ready";
# its PID is in $started.
start() {
  name=$1 owner=$2 python=$3 code=$4
  prefix=""
  [ "$owner" = root ] || prefix=$as_user
  # shellcheck disable=SC2086
  env -i PATH=/usr/bin:/bin PYMEMD_PYTHON314_DIR="$PYMEMD_PYTHON314_DIR" \
    $prefix $python -c "$code" >"$work/$name.out" 2>"$work/$name.err" </dev/null &
  started=$!
  children="$children $started"
  echo "$name $started $owner" >>"$work/processes"
  if ! wait_for 30 grep -q ready "$work/$name.out"; then
    not_ok "$name started"
    comment <"$work/$name.err"
  fi
}

# attach CALLER NAME PID: pymemctl heap --attach PID as CALLER, timed.
attach() {
  caller=$1 name=$2 target=$3
  prefix=""
  [ "$caller" = root ] || prefix=$as_user
  before=$(now)
  # shellcheck disable=SC2086
  $prefix "$pymemctl" heap --attach --json "$target" >"$work/heap.json" 2>"$work/heap.err"
  status=$?
  seconds=$(elapsed "$before" "$(now)")
  what="heap --attach by $caller to $name"
  if [ $status -ne 0 ]; then
    not_ok "$what ($seconds s): $(head -c 300 "$work/heap.err")"
    return
  fi
  how=$(python3 -c 'import json, sys; s = json.load(sys.stdin); print(s.get("attached_by", "none"), s.get("attach_seconds", -1))' \
          <"$work/heap.json")
  if awk -v s="$seconds" -v limit=$attach_limit 'BEGIN { exit !(s <= limit) }'; then
    ok "$what: $how s by the daemon, $seconds s in all"
  else
    not_ok "$what: $how s by the daemon, $seconds s in all (more than $attach_limit s)"
  fi
}

start py311-root-idle root /usr/bin/python3 "$idle_code"
py311_root_idle=$started
start py311-user-idle $user /usr/bin/python3 "$idle_code"
py311_user_idle=$started
start py311-user-busy $user /usr/bin/python3 "$busy_code"
py311_user_busy=$started
if [ -n "$PYMEMD_PYTHON314_DIR" ]; then
  start py314-root-idle root "sh $python314" "$idle_code"
  py314_root_idle=$started
  start py314-root-busy root "sh $python314" "$busy_code"
  py314_root_busy=$started
  start py314-user-idle $user "sh $python314" "$idle_code"
  py314_user_idle=$started
  start py314-user-busy $user "sh $python314" "$busy_code"
  py314_user_busy=$started
fi

# pymemctl list: root sees every process, the user its own.
listed() {
  python3 -c 'import json, sys; print("\n".join(str(p["pid"]) for p in json.load(sys.stdin)["processes"]))'
}
# The daemon finds new processes on its next tick (2 s).
wait_for 10 sh -c "'$pymemctl' list --json | python3 -c 'import json, sys; sys.exit(len(json.load(sys.stdin)[\"processes\"]) < $(wc -l <"$work/processes"))'"
"$pymemctl" list --json | listed >"$work/listed-root"
$as_user "$pymemctl" list --json | listed >"$work/listed-user"
missing=""
while read -r name target owner; do
  grep -qx "$target" "$work/listed-root" || missing="$missing $name"
done <"$work/processes"
if [ -z "$missing" ]; then
  ok "pymemctl list as root lists every Python process ($(wc -l <"$work/processes"))"
else
  not_ok "pymemctl list as root lists every Python process; missing:$missing"
  "$pymemctl" list | comment
fi
missing=""
while read -r name target owner; do
  [ "$owner" = root ] || grep -qx "$target" "$work/listed-user" || missing="$missing $name"
done <"$work/processes"
if [ -z "$missing" ]; then
  ok "pymemctl list as $user lists $user's Python processes"
else
  not_ok "pymemctl list as $user lists $user's Python processes; missing:$missing"
fi

section "heap --attach"
attach root "root's idle 3.11" "$py311_root_idle"
attach $user "$user's own idle 3.11" "$py311_user_idle"
attach root "$user's busy 3.11" "$py311_user_busy"
if [ -n "$PYMEMD_PYTHON314_DIR" ]; then
  attach root "root's idle 3.14" "$py314_root_idle"
  attach root "root's busy 3.14" "$py314_root_busy"
  attach $user "$user's own idle 3.14" "$py314_user_idle"
  attach $user "$user's own busy 3.14" "$py314_user_busy"
else
  ok "heap --attach to CPython 3.14 # SKIP $PYMEMD_PYTHON314_MISSING"
fi
# The targets go on undisturbed, and nothing of ours reaches their stderr.
while read -r name target owner; do
  if ! kill -0 "$target" 2>/dev/null; then
    not_ok "$name still runs"
  elif [ -s "$work/$name.err" ]; then
    not_ok "$name still runs and printed nothing on its stderr"
    head -n 20 "$work/$name.err" | comment
  else
    ok "$name still runs and printed nothing on its stderr"
  fi
done <"$work/processes"
check "no PEP 768 script is left in /run/pymemd" \
  sh -c '! ls /run/pymemd/ | grep -v "^helper.sock$"'

# ---- Prometheus: the export timer into node-exporter's textfile directory ----
section "pymemd-export"
textfile=/var/lib/prometheus/node-exporter
# export_has PID...: node-exporter's file holds a PSS series of each.
export_has() {
  for p in "$@"; do
    grep -q "^pymemd_process_pss_bytes{.*pid=\"$p\"" "$textfile/pymemd.prom" || return 1
  done
}
mkdir -p "$textfile"
rm -f "$textfile/pymemd.prom"
check "systemctl start pymemd-export.service" systemctl start pymemd-export.service
check "it wrote $textfile/pymemd.prom with every interpreter's PSS" \
  export_has $(awk '{ print $2 }' "$work/processes")
check "the file is readable by node-exporter (0644) and no temporary file of ours is left beside it" \
  sh -c "test \"\$(stat -c %a '$textfile/pymemd.prom')\" = 644 && test \"\$(ls -A '$textfile' | grep pymemd)\" = pymemd.prom"
rm -f "$textfile/pymemd.prom"
check "systemctl enable --now pymemd-export.timer" systemctl enable --now pymemd-export.timer
check "the timer writes the file again (every 15 s)" wait_for 40 test -s "$textfile/pymemd.prom"
systemctl disable --now pymemd-export.timer >/dev/null 2>&1
rm -f "$textfile/pymemd.prom"

# ---- stop, D-Bus activation, watchdog ----
section "stop"

check "systemctl stop $unit" systemctl stop $unit
check "$unit is inactive and /run/pymemd gone" sh -c "! systemctl is-active $unit && test ! -e /run/pymemd"
mark_journal
check "pymemctl list starts $unit through D-Bus activation" \
  sh -c "'$pymemctl' list >/dev/null && systemctl is-active $unit"
check "the bus activated it through systemd" \
  journal_has "Activating via systemd: service name='org.pymemd.Monitor1' unit='$unit'"

mkdir -p /run/systemd/system/$unit.d
printf '[Service]\nWatchdogSec=2\n' >/run/systemd/system/$unit.d/50-watchdog.conf
systemctl daemon-reload
systemctl restart $unit
pid=$(prop MainPID)
restarts=$(prop NRestarts)
sleep 3
check "it feeds the watchdog (WatchdogSec=2: the same PID after 3 s)" \
  sh -c "systemctl is-active $unit && test \"\$(systemctl show -P MainPID $unit)\" = $pid"
mark_journal
kill -STOP "$pid"
check "a daemon that stops answering is killed by the watchdog and restarted" \
  wait_for 30 sh -c "systemctl is-active $unit && test \"\$(systemctl show -P MainPID $unit)\" != $pid &&
                     test \"\$(systemctl show -P NRestarts $unit)\" = $((restarts + 1))"
check "the journal says why (watchdog timeout)" journal_has "[Ww]atchdog timeout" -u $unit
rm -r /run/systemd/system/$unit.d
systemctl daemon-reload
section "done"
exit 0
