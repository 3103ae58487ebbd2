#!/usr/bin/env bash
# vend benchmarks (release build): sales per second through the HTTP API with signing and
# storage, and the inspection list for a large generated population.
# Usage: benchmarks/vend-bench.sh [sqlite|postgres-url]   (needs Debian's wrk for the sales part)
set -euo pipefail
cd "$(dirname "$0")/.."
storage=${1:-sqlite}
work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
# VEND_BIN: a release `vend` already built (e.g. with --scratch-path); otherwise build one.
if [ -z "${VEND_BIN:-}" ]; then
    swift build -c release --product vend >/dev/null
    VEND_BIN=.build/release/vend
fi
vend=$VEND_BIN
if [ "$storage" = sqlite ]; then database="$work/bench.sqlite"; else database="$storage"; fi
export VEND_DATABASE="$database" VEND_UTILITY_KEY="$work/utility.key" VEND_OPERATOR=bench

# 1. Inspection list: 100,000 customers × 24 months of write-backs (target ≤ 2 s).
$vend benchmark --customers "${VEND_BENCH_CUSTOMERS:-100000}"

# 2. Sales through the API (target ≥ 200/s): 16 connections for 20 s.
$vend operator add --username counter --name Counter --role cashier >/dev/null
echo 'benchmark-password' | $vend password counter >/dev/null
$vend serve --port 18080 >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:18080/login >/dev/null && break; sleep 0.2; done
token=$(curl -sf -H 'Content-Type: application/json' \
    -d '{"username":"counter","password":"benchmark-password"}' \
    http://127.0.0.1:18080/api/v1/sessions | sed -E 's/.*"token":"([0-9a-f]+)".*/\1/')
VEND_TOKEN=$token VEND_METERS=${VEND_BENCH_CUSTOMERS:-100000} \
    wrk -t2 -c16 -d20s -s benchmarks/vend-sales.lua http://127.0.0.1:18080
