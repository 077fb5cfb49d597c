#!/bin/sh
# The README's second command: installs what is missing, then builds and
# runs every test twice, in _build (warnings are errors) and in _build-asan
# (AddressSanitizer + UndefinedBehaviorSanitizer), each out of tree.
# Set PYMEMD_DISTCHECK=1 to also run make distcheck.
set -eu
cd "$(dirname "$0")/.."
src=$(pwd)

tools/install-deps.sh
NOCONFIGURE=1 ./autogen.sh >/dev/null 2>&1
[ -f Makefile ] && make -s distclean >/dev/null 2>&1 || true

status=0
for variant in plain asan; do
  dir="$src/_build"
  flags="--enable-werror"
  if [ "$variant" = asan ]; then
    dir="$src/_build-asan"
    flags="$flags --enable-sanitizers"
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  (cd "$dir" && "$src/configure" --quiet $flags && make -s -j"$(nproc)" &&
   make -s -j"$(nproc)" check) || status=1
done

if [ "${PYMEMD_DISTCHECK:-0}" = 1 ]; then
  (cd "$src/_build" && make -s distcheck) || status=1
fi
exit $status
