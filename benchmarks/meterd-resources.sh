#!/usr/bin/env bash
# Resource figures of `meterd --simulate` (issue 8): start-up time to the HTTP API and to the
# first committed reading, then resident memory and CPU use at idle (one accumulation per
# second, no load) over a measured window. Prints its figures; asserts nothing.
#
#   benchmarks/meterd-resources.sh [PATH-TO-meterd] [IDLE-SECONDS]
#
# Use a release build for the figures that matter: swift build -c release --product meterd
set -euo pipefail
meterd="${1:-.build/release/meterd}"
idle="${2:-30}"
port=$((20000 + RANDOM % 20000))
base="http://127.0.0.1:$port"
[ -x "$meterd" ] || { echo "no meterd at $meterd" >&2; exit 66; }

now_ms() { date +%s%3N; }
start=$(now_ms)
state=$(mktemp -d)   # a new meter: a blank FRAM image
"$meterd" --simulate --config /nonexistent/meterd.toml --port "$port" --state-directory "$state" 2>/dev/null &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -rf "$state"' EXIT

until curl -sf "$base/api/v1/state" >/dev/null; do sleep 0.005; done
http_ready=$(( $(now_ms) - start ))
# The first reading is committed at the end of the first accumulation interval (250 ms).
until curl -sf "$base/api/v1/readings" | grep -q '"instantaneous"'; do sleep 0.005; done
first_reading=$(( $(now_ms) - start ))

ticks_per_second=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
before=$(cpu_ticks)
sleep "$idle"
after=$(cpu_ticks)
rss_kb=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
hwm_kb=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
# Resident file pages are the binary's (and shared libraries') code and read-only data;
# anonymous ones are heap and stacks.
file_kb=$(awk '/^RssFile/ { print $2 }' "/proc/$pid/status")
anon_kb=$(awk '/^RssAnon/ { print $2 }' "/proc/$pid/status")
threads=$(awk '/^Threads/ { print $2 }' "/proc/$pid/status")
cpu_percent=$(awk -v t=$((after - before)) -v hz="$ticks_per_second" -v s="$idle" \
    'BEGIN { printf "%.2f", 100 * t / hz / s }')

# The idle working set: the pages the idle loop touches in 10 s (clear_refs(5), then smaps
# Referenced). Most resident file pages are start-up code and the kernel's fault-around
# neighbours of touched pages: clean, shared with the page cache, reclaimable.
echo 1 > "/proc/$pid/clear_refs"
sleep 10
referenced_kb=$(awk '/^Referenced:/ { r += $2 } END { print r }' "/proc/$pid/smaps")
dirty_kb=$(awk '/^Private_Dirty:/ { d += $2 } END { print d }' "/proc/$pid/smaps")

echo "meterd --simulate ($meterd)"
echo "start-up to HTTP API answering:        ${http_ready} ms"
echo "start-up to first committed reading:   ${first_reading} ms (includes the 250 ms first interval)"
echo "resident memory at idle:               $((rss_kb / 1024)) MiB, ${rss_kb} kB (peak $((hwm_kb / 1024)) MiB)"
echo "  of which file-backed (code, data):     $((file_kb / 1024)) MB; anonymous (heap, stacks): $((anon_kb / 1024)) MB; ${threads} threads"
echo "CPU at idle over ${idle} s:               ${cpu_percent} % of one core"
echo "private dirty (heap, stacks, relocated data): $((dirty_kb / 1024)) MB; pages touched in 10 s at idle: $((referenced_kb / 1024)) MB"
