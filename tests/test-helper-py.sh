#!/bin/sh
# The helper's pure Python parts (tests/helper/test_*.py, unittest) under
# every CPython the machine has that pymemd attaches to: Debian's python3,
# pyenv's 3.6 and later, and 3.14 (PYMEMD_TEST_PYTHON314, or tools/python3.14
# where it can run). One TAP line per interpreter; unittest's report is
# printed as TAP comments. Nothing is written into the source tree
# (PYTHONDONTWRITEBYTECODE), so that it runs from a read-only distcheck tree.
set -u

here=$(cd "$(dirname "$0")" && pwd)
helper=$here/../helper
work=$(mktemp -d "${TMPDIR:-/tmp}/pymemd-helper-py.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

# The interpreters, one command a line ("sh .../python3.14" for 3.14).
list=$work/pythons
: > "$list"
[ -x /usr/bin/python3 ] && echo /usr/bin/python3 >> "$list"
for py in "${HOME:-/root}"/.pyenv/versions/*/bin/python3; do
  [ -x "$py" ] || continue
  "$py" -c 'import sys; sys.exit(sys.version_info < (3, 6))' 2>/dev/null && echo "$py" >> "$list"
done
why314=
if [ -n "${PYMEMD_TEST_PYTHON314:-}" ]; then
  echo "$PYMEMD_TEST_PYTHON314" >> "$list"
elif why314=$(sh "$here/../tools/python3.14" --check 2>&1 >/dev/null); then
  echo "sh $here/../tools/python3.14" >> "$list"
  why314=
fi

count=$(wc -l < "$list")
if [ "$count" -eq 0 ]; then
  echo "1..0 # SKIP no CPython 3.6 or later on this machine"
  exit 0
fi
[ -n "$why314" ] && total=$((count + 1)) || total=$count
echo "1..$total"
n=0
while read -r python; do
  n=$((n + 1))
  # shellcheck disable=SC2086 # "sh PATH" is two words on purpose
  version=$($python -c 'import sys; print(sys.version.split()[0])' 2>&1 | tail -n 1)
  if PYTHONPATH=$helper PYTHONDONTWRITEBYTECODE=1 PYTHONHASHSEED=0 \
       $python -m unittest discover -s "$here/helper" -p 'test_*.py' -v > "$work/out" 2>&1; then
    echo "ok $n - $version ($python): $(grep '^Ran ' "$work/out")"
  else
    echo "not ok $n - $version ($python)"
  fi
  sed 's/^/# /' "$work/out"
done < "$list"
[ -n "$why314" ] && echo "ok $total # SKIP CPython 3.14: $why314"
exit 0
