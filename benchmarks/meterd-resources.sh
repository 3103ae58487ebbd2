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
# The first reading is committed at the end of the first accumulation interval (1 s).
until curl -sf "$base/api/v1/readings" | grep -q '"instantaneous"'; do sleep 0.005; done
first_reading=$(( $(now_ms) - start ))

ticks_per_second=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
before=$(cpu_ticks)
sleep "$idle"
after=$(cpu_ticks)
rss_kb=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
hwm_kb=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
cpu_percent=$(awk -v t=$((after - before)) -v hz="$ticks_per_second" -v s="$idle" \
    'BEGIN { printf "%.2f", 100 * t / hz / s }')

echo "meterd --simulate ($meterd)"
echo "start-up to HTTP API answering:        ${http_ready} ms"
echo "start-up to first committed reading:   ${first_reading} ms (includes the 1 s first interval)"
echo "resident memory at idle:               $((rss_kb / 1024)) MB (peak $((hwm_kb / 1024)) MB)"
echo "CPU at idle over ${idle} s:               ${cpu_percent} % of one core"
