#!/usr/bin/env bash
# Builds the card-decoder fuzz target with libFuzzer (SANITIZE=fuzzer,address adds ASan), then
# fuzzes.
# Usage: Fuzz/run.sh [libFuzzer options...]   e.g. Fuzz/run.sh -runs=10000000
# The corpus in Fuzz/corpus is the seed; new inputs go to a scratch corpus, not the repository.
set -euo pipefail
cd "$(dirname "$0")"
swift build -c release --scratch-path ../.build-fuzz \
    -Xswiftc -sanitize=${SANITIZE:-fuzzer} -Xswiftc -use-ld=lld
work=${FUZZ_WORK:-/tmp/meter-cards-fuzz}
mkdir -p "$work/corpus"
exec ../.build-fuzz/release/FuzzCardDecoders "$work/corpus" corpus -max_len=2048 "$@"
