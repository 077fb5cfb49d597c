#!/bin/sh
# The tree's layering (README.md, Layout): the daemon's stages run
#   common -> accounting -> history -> inspect -> service
# and a file may include pymemd headers of its own stage and earlier ones
# only; pymemctl (client/) and the applet include common/ alone. One TAP
# line per folder, each wrong include printed as a comment. Needs no build.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)

# The stage of the folder holding pymemd header $1 (by file name), or
# "unknown".
stage_of () {
  for folder in common daemon/accounting daemon/history daemon/inspect daemon/service; do
    if [ -f "$top/$folder/$1" ]; then
      echo "$folder"
      return
    fi
  done
  case $1 in
    pymemd-dbus-generated.h) echo common ;;  # made in the build tree from data/
    *) echo unknown ;;
  esac
}

rank () {
  case $1 in
    common) echo 0 ;;
    daemon/accounting) echo 1 ;;
    daemon/history) echo 2 ;;
    daemon/inspect) echo 3 ;;
    daemon/service) echo 4 ;;
    *) echo 9 ;;
  esac
}

# check FOLDER HIGHEST: every pymemd include of FOLDER's files is of a stage
# no later than HIGHEST (a rank) and is known.
n=0
failed=0
check () {
  folder=$1
  highest=$2
  n=$((n + 1))
  bad=
  for file in "$top/$folder"/*.c "$top/$folder"/*.h; do
    [ -f "$file" ] || continue
    for header in $(sed -n 's/^#include "\(pymemd-[a-z0-9-]*\.h\)".*/\1/p' "$file"); do
      [ -f "$top/$folder/$header" ] && continue  # the folder's own
      stage=$(stage_of "$header")
      if [ "$stage" = unknown ] || [ "$(rank "$stage")" -gt "$highest" ]; then
        bad="$bad
# ${file#"$top"/} includes $header ($stage)"
      fi
    done
  done
  if [ -z "$bad" ]; then
    echo "ok $n - $folder includes only its own and earlier stages"
  else
    echo "not ok $n - $folder includes a later stage$bad"
    failed=1
  fi
}

echo "1..7"
check common 0
check daemon/accounting 1
check daemon/history 2
check daemon/inspect 3
check daemon/service 4
check client 0
check applet 0
exit $failed
