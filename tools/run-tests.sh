#!/bin/sh
# The README's second command: installs what is missing, then builds and
# runs every test three times, each out of tree: in _build (warnings are
# errors), in _build-asan (AddressSanitizer + UndefinedBehaviorSanitizer) and
# in _build-valgrind (every test program under valgrind).
# Set PYMEMD_DISTCHECK=1 to also run make distcheck (without the systemd test,
# which the plain build ran).
set -eu
cd "$(dirname "$0")/.."
src=$(pwd)

tools/install-deps.sh
# A real CPython 3.14 for the tests (Debian 12 packages none), fetched once into
# a cache folder; without it (no network the first time) its tests skip.
tools/python3.14 --fetch >/dev/null || echo "run-tests: no CPython 3.14, its tests skip" >&2
NOCONFIGURE=1 ./autogen.sh >/dev/null 2>&1
[ -f Makefile ] && make -s distclean >/dev/null 2>&1 || true

status=0
for variant in plain asan valgrind; do
  dir="$src/_build"
  flags="--enable-werror"
  valgrind=0
  case $variant in
    asan) dir="$src/_build-asan"; flags="$flags --enable-sanitizers" ;;
    valgrind) dir="$src/_build-valgrind"; valgrind=1 ;;
  esac
  rm -rf "$dir"
  mkdir -p "$dir"
  (cd "$dir" && "$src/configure" --quiet $flags && make -s -j"$(nproc)" &&
   make -s -j"$(nproc)" check PYMEMD_VALGRIND=$valgrind) || status=1
done

if [ "${PYMEMD_DISTCHECK:-0}" = 1 ]; then
  (cd "$src/_build" && make -s distcheck PYMEMD_SYSTEMD_TEST=0) || status=1
fi
exit $status
