#!/usr/bin/env bash
# Long run of the crash test (tests/crash_recovery.rs) in release: the
# server is SIGKILLed CRASH_ROUNDS times (default 1000) while clients write
# under appendfsync always, and every acknowledged write is checked after
# each restart. Runs it RUNS times (default 1), each with a fresh seed that
# is printed; CRASH_SEED=<seed> replays one.
#
#   scripts/crash-soak.sh               # 1000 crashes
#   CRASH_ROUNDS=5000 RUNS=3 scripts/crash-soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CRASH_ROUNDS="${CRASH_ROUNDS:-1000}"
runs="${RUNS:-1}"
for run in $(seq 1 "$runs"); do
    echo "== crash soak run $run/$runs: $CRASH_ROUNDS crashes"
    cargo test --release --test crash_recovery -- --nocapture
done
