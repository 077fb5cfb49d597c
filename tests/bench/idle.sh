# Sourced by the benchmark scripts: waiting until the interpreters they
# start are up and idle, so that start-up work is not measured. The caller
# defines die ().

# Sleeping in clock_nanosleep: the interpreter is up and idle.
is_idle () {
  local w s
  w=$(< "/proc/$1/wchan") 2>/dev/null || return 1    # no trailing newline
  [[ $w == *nanosleep* ]] && return 0
  read -r s _ < "/proc/$1/syscall" 2>/dev/null || return 1
  [[ $s == 230 ]]   # clock_nanosleep on x86-64
}

wait_idle () {
  local deadline=$((SECONDS + 120)) pending=("$@") still
  while (( ${#pending[@]} )); do
    still=()
    for p in "${pending[@]}"; do
      [[ -d /proc/$p ]] || die "process $p died"
      is_idle "$p" || still+=("$p")
    done
    pending=("${still[@]}")
    (( ${#pending[@]} == 0 )) && break
    (( SECONDS < deadline )) || die "${#pending[@]} processes not idle after 120 s"
    sleep 0.2
  done
}
