#!/usr/bin/env bash
# Shows that the children of a crashing test process die with it (ChildProcess: setpriv
# --pdeathsig KILL from one long-lived thread) and that `swift test` then ends instead of
# hanging on their open output pipes. Run after `swift build --build-tests`:
#   bash Tests/TestProcesses/crash-check.sh
# It runs ChildProcessTests.crashLeavesNoChildren, which starts meterd --simulate and a sleep
# (the latter from a thread that exits first), writes their pids and SIGKILLs its own process;
# then it checks whether `swift test` ended and the children are gone. A control run starts
# the same children with a plain Process.run() (CHILD_PROCESS_CRASH_MODE=untied): there they
# survive, `swift test` hangs until the timeout, and the script kills them itself.
set -u
cd "$(dirname "$0")/../.."

# mode, seconds before `swift test` counts as hung; prints a line, returns 0 if no child survived
run() {
  local mode=$1 limit=$2 dir rc alive=0 pid
  dir=$(mktemp -d /tmp/child-process-crash.XXXXXX)
  CHILD_PROCESS_CRASH_DIR=$dir CHILD_PROCESS_CRASH_MODE=$mode timeout "$limit" \
    swift test --skip-build --filter ChildProcessTests.crashLeavesNoChildren >"$dir/log" 2>&1
  rc=$?
  local pids
  pids=$(cat "$dir/pids" 2>/dev/null) || { echo "$mode: the test wrote no pids (see $dir/log)"; return 2; }
  sleep 1
  for pid in $pids; do
    # A killed child not yet reaped by its new parent is a zombie: not running.
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)
    if [ -n "$state" ] && [ "$state" != Z ]; then
      alive=$((alive + 1))
      kill -KILL "$pid"
    fi
  done
  local ended="ended (rc=$rc)"
  [ "$rc" = 124 ] && ended="hung until the ${limit} s timeout"
  echo "$mode: swift test $ended; children $pids: $alive of 2 still running after the crash"
  rm -rf "$dir"
  [ "$alive" = 0 ] && [ "$rc" != 124 ]
}

run untied 30
case $? in
  0) echo "FAIL: the control left no child; the check cannot tell"; exit 1 ;;
  2) echo "FAIL: the control did not run (another swift build holding the build directory?)"; exit 2 ;;
esac
if run tied 120; then
  echo "PASS: the crashed test process's children died with it"
else
  echo "FAIL: a child survived the crashed test process, or swift test hung"
  exit 1
fi
