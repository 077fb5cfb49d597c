#!/bin/sh
# pymemd under a real systemd: the build is installed (make install DESTDIR)
# into an overlay of the host's root whose upper layer is a tmpfs, and the
# host's systemd boots there as PID 1 of fresh PID, mount, UTS, IPC, network
# and cgroup namespaces (cgroup2 from a directory of the host's unified
# hierarchy, container= set); tests/systemd-checks.sh runs inside as a unit and
# its TAP lines are numbered and passed on here. Nothing is left behind:
# the mounts live in namespaces that end with the run, the processes in a
# PID namespace and a cgroup that are emptied and removed.
#
# Runs once per test suite, in the plain build (skipped under valgrind and
# the sanitizers, and where PYMEMD_SYSTEMD_TEST=0, as make distcheck sets);
# skipped, with the reason, where the kernel or the machine does not allow it.
set -u

script=$(readlink -f "$0")

# ---- inside: the PID 1 stage (new PID, mount, ... namespaces) ----

# $2: the overlay to boot. Mounts the API file systems systemd expects from a
# container manager, makes the overlay the root and becomes systemd.
if [ "${1-}" = --pid1 ]; then
  set -e
  root=$2
  mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
  mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
  # In the new cgroup namespace, whose root is the delegated directory.
  mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$root/sys/fs/cgroup"
  mount -t tmpfs -o mode=0755,nosuid,size=4m dev "$root/dev"
  for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r name major minor <<EOF
$node
EOF
    mknod -m 0666 "$root/dev/$name" c "$major" "$minor"
  done
  mkdir "$root/dev/pts" "$root/dev/shm"
  mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
  ln -s pts/ptmx "$root/dev/ptmx"
  # systemd's own messages go to the console: a file the namespace stage shows.
  touch "$root/dev/console"
  mount --bind "$root/../console" "$root/dev/console"
  cd "$root"
  mkdir -p .pymemd-old-root
  pivot_root . .pymemd-old-root
  umount -l /.pymemd-old-root
  rmdir /.pymemd-old-root
  exec env -i container=pymemd-test /lib/systemd/systemd --unit=pymemd-e2e.target \
    --show-status=no --log-color=no
fi

# ---- inside: the namespace stage (a new mount namespace) ----

# $2: the work directory (DEST holds the installed build), $3: the cgroup.
# Builds the overlay, boots it and prints what the checks printed.
if [ "${1-}" = --namespace ]; then
  set -e
  t=$2
  cgroup=$3
  mount -t tmpfs -o mode=0755,size=512m pymemd-systemd-test "$t/ns"
  root=$t/ns/root
  mkdir "$t/ns/upper" "$t/ns/work" "$root"
  : >"$t/ns/console"
  mount -t overlay -o "lowerdir=/,upperdir=$t/ns/upper,workdir=$t/ns/work" pymemd-systemd-test "$root"
  # Into the root's own directories, whichever are symlinks (/lib on a merged /usr).
  tar -C "$t/dest" -cf - . | tar -C "$root" -xf - --keep-directory-symlink
  # The checks and tools/python3.14 from the source tree, and the cached
  # interpreter, wherever they live.
  for dir in "$PYMEMD_SRCDIR" ${PYMEMD_PYTHON314_DIR:+"$PYMEMD_PYTHON314_DIR"}; do
    mkdir -p "$root$dir"
    mount --bind -o ro "$dir" "$root$dir"
  done
  mkdir -p "$root/etc/systemd/system"
  # What the checks need to know, as an EnvironmentFile= (no specifiers).
  for var in PYMEMD_SRCDIR PYMEMD_BINDIR PYMEMD_SYSCONFDIR PYMEMD_PKGDATADIR \
             PYMEMD_PYTHON314_DIR PYMEMD_PYTHON314_MISSING; do
    eval "value=\${$var-}"
    printf '%s="%s"\n' "$var" "$value"
  done >"$root/etc/pymemd-checks.env"
  cat >"$root/etc/systemd/system/pymemd-e2e.target" <<EOF
[Unit]
Description=pymemd end-to-end checks
Requires=basic.target pymemd-e2e.service
After=basic.target
EOF
  cat >"$root/etc/systemd/system/pymemd-e2e.service" <<EOF
[Unit]
Description=pymemd end-to-end checks
Wants=dbus.socket
After=basic.target dbus.socket
# The container's systemd exits with the checks' status when they end.
SuccessAction=exit
FailureAction=exit

[Service]
# Started, not waited for: the boot is over while the checks run.
Type=exec
EnvironmentFile=/etc/pymemd-checks.env
ExecStart=/bin/sh $PYMEMD_SRCDIR/tests/systemd-checks.sh
StandardOutput=file:/pymemd-e2e.tap
StandardError=journal
RuntimeMaxSec=480
EOF
  status=0
  sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cgroup" \
    unshare --mount --propagation private --pid --uts --ipc --net --cgroup --fork --kill-child \
    /bin/sh "$script" --pid1 "$root" || status=$?
  if [ -s "$root/pymemd-e2e.tap" ]; then
    cat "$root/pymemd-e2e.tap"
  else
    echo "not ok - systemd booted and ran the checks"
  fi
  if [ $status -ne 0 ]; then
    echo "not ok - the container's systemd exited with status $status"
    sed 's/^/# console: /' "$t/ns/console" | tail -n 40
  fi
  exit 0
fi

# ---- outside: the test program ----

skip_all() {
  echo "1..0 # SKIP $*"
  exit 0
}

[ "${PYMEMD_SYSTEMD_TEST:-1}" != 0 ] || skip_all "PYMEMD_SYSTEMD_TEST=0 (tools/run-tests.sh sets it for make distcheck: the plain build ran it)"
[ "${PYMEMD_VALGRIND:-0}" != 1 ] || skip_all "runs once, in the plain build, not under valgrind"
[ -z "${PYMEMD_SANITIZERS:-}" ] || skip_all "runs once, in the plain build, not under the sanitizers"
[ "$(id -u)" = 0 ] || skip_all "needs root (namespaces, mounts, cgroups)"
[ -x /lib/systemd/systemd ] || skip_all "needs systemd (/lib/systemd/systemd)"
for tool in unshare pivot_root mount make; do
  command -v $tool >/dev/null || skip_all "needs $tool"
done
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
  skip_all "the kernel has no overlayfs"
[ -e /proc/self/ns/cgroup ] || skip_all "the kernel has no cgroup namespaces"
# A cgroup2 hierarchy: the host's unified one (/sys/fs/cgroup on a pure
# cgroup2 host, /sys/fs/cgroup/unified on a hybrid one).
unified=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$unified" ] || skip_all "no cgroup2 hierarchy is mounted"
own=$(sed -n 's/^0:://p' /proc/self/cgroup)
parent=$unified${own%/}
[ -w "$parent/cgroup.procs" ] || skip_all "cannot write to the cgroup2 directory $parent"

# make check gives these (tests/Makefile.am.inc).
: "${G_TEST_SRCDIR:?}" "${G_TEST_BUILDDIR:?}" "${PYMEMD_BINDIR:?}"
: "${PYMEMD_SYSCONFDIR:?}" "${PYMEMD_PKGDATADIR:?}"
srcdir=$(cd "$G_TEST_SRCDIR/.." && pwd)
builddir=$(cd "$G_TEST_BUILDDIR/.." && pwd)
t=$(mktemp -d "${TMPDIR:-/tmp}/pymemd-systemd-XXXXXX")
cgroup=$parent/pymemd-systemd-test-$$
n=0

ok() {
  n=$((n + 1))
  echo "ok $n - $*"
}

not_ok() {
  n=$((n + 1))
  echo "not ok $n - $*"
}

# Whatever happens, the cgroup and the work directory go.
remove_cgroup() {
  [ -d "$cgroup" ] || return 0
  [ -e "$cgroup/cgroup.kill" ] && echo 1 >"$cgroup/cgroup.kill" 2>/dev/null
  i=0
  while grep -q '^populated 1' "$cgroup/cgroup.events" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  find "$cgroup" -depth -type d -exec rmdir {} + 2>/dev/null
}
trap 'remove_cgroup; rm -rf "$t"' EXIT
trap 'exit 1' HUP INT TERM

# make install, as a user of the build would run it, into a fresh DESTDIR that
# already holds an administrator's configuration (the install must keep it).
admin_config=$t/dest$PYMEMD_SYSCONFDIR/pymemd/pymemd.conf
mkdir -p "$(dirname "$admin_config")" "$t/ns"
printf '# the administrator was here\n[monitor]\ninterval=5\n' >"$admin_config"
cp "$admin_config" "$t/admin.conf"
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$builddir" install DESTDIR="$t/dest" \
     >"$t/install.log" 2>&1; then
  ok "make install DESTDIR"
else
  not_ok "make install DESTDIR"
  sed 's/^/# /' "$t/install.log"
  echo "1..$n"
  exit 1
fi
if cmp -s "$admin_config" "$t/admin.conf"; then
  ok "make install keeps the administrator's $PYMEMD_SYSCONFDIR/pymemd/pymemd.conf"
else
  not_ok "make install keeps the administrator's $PYMEMD_SYSCONFDIR/pymemd/pymemd.conf"
  diff "$t/admin.conf" "$admin_config" | sed 's/^/# /'
fi
if cmp -s "$t/dest$PYMEMD_PKGDATADIR/pymemd.conf" "$srcdir/data/pymemd.conf"; then
  ok "make install puts the default configuration in $PYMEMD_PKGDATADIR/pymemd.conf"
else
  not_ok "make install puts the default configuration in $PYMEMD_PKGDATADIR/pymemd.conf"
fi
# The container starts without one: the daemon falls back to the default.
rm -rf "$t/dest$PYMEMD_SYSCONFDIR/pymemd"

# CPython 3.14 from the cache tools/python3.14 fills (never fetched here).
export PYMEMD_SRCDIR="$srcdir"
if PYMEMD_PYTHON314_MISSING=$("$srcdir/tools/python3.14" --check 2>&1); then
  PYMEMD_PYTHON314_DIR=${PYMEMD_PYTHON314_DIR:-/var/tmp/pymemd-cpython3.14}
  export PYMEMD_PYTHON314_DIR
else
  unset PYMEMD_PYTHON314_DIR
  export PYMEMD_PYTHON314_MISSING
fi

if ! mkdir "$cgroup" 2>"$t/cgroup.err"; then
  echo "# $(cat "$t/cgroup.err")"
  echo "ok $((n + 1)) # SKIP cannot create a cgroup under $parent"
  echo "1..$((n + 1))"
  exit 0
fi
start=$(date +%s)
timeout -k 10 600 unshare --mount --propagation private /bin/sh "$script" --namespace "$t" "$cgroup" \
  >"$t/results" 2>"$t/namespace.err"
status=$?
while IFS= read -r line; do
  case $line in
  "ok "* | "ok") ok "${line#ok - }" ;;
  "not ok "*) not_ok "${line#not ok - }" ;;
  *) echo "$line" ;;
  esac
done <"$t/results"
if [ $status -ne 0 ]; then
  not_ok "the container was set up and torn down (status $status)"
  sed 's/^/# /' "$t/namespace.err"
fi
echo "# the container ran for $(($(date +%s) - start)) s"

# Nothing left behind: no process, no cgroup, no mount.
if grep -q '^populated 1' "$cgroup/cgroup.events" 2>/dev/null; then
  sleep 1
fi
if grep -q '^populated 1' "$cgroup/cgroup.events" 2>/dev/null; then
  not_ok "no process is left in the container's cgroup"
  sed 's/^/# left: /' "$cgroup/cgroup.procs"
else
  ok "no process is left in the container's cgroup"
fi
remove_cgroup
if [ -d "$cgroup" ]; then
  not_ok "the container's cgroup is removed"
else
  ok "the container's cgroup is removed"
fi
if grep -F "$t" /proc/self/mountinfo >"$t/mounts"; then
  not_ok "no mount is left"
  sed 's/^/# /' "$t/mounts"
else
  ok "no mount is left"
fi
echo "1..$n"
