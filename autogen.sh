#!/bin/sh
# Regenerates the build system from configure.ac and the Makefile.am fragments.
set -e
srcdir=$(dirname "$0")
test -n "$srcdir" || srcdir=.
(cd "$srcdir" && autoreconf --force --install --verbose)
if test -z "$NOCONFIGURE"; then
  exec "$srcdir/configure" "$@"
fi
