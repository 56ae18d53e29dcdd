#!/usr/bin/env bash
# Builds and runs one cargo-fuzz target (or all of them, one after the
# other) for a bounded time, then prints what it did.
#
#   fuzz/run.sh TARGET [SECONDS]     # 60 seconds by default
#   fuzz/run.sh all [SECONDS]        # each target for SECONDS
#   RUNS=10000000 fuzz/run.sh TARGET 1800   # stop at 10M executions or 30 min
#
# New corpus entries go to fuzz/corpus/TARGET (not committed), crashes to
# fuzz/artifacts/TARGET, the log to fuzz/logs/TARGET.log. The committed
# seeds (fuzz/seeds/TARGET) are read, never written. Runs under
# `nice -n ${NICE:-10}`; the one stable toolchain builds the sanitizer
# flags with RUSTC_BOOTSTRAP=1. Not part of CI.
set -euo pipefail

TARGETS=(to_function from_function handler checkpoint module_yaml local_input)

usage() {
    echo "usage: fuzz/run.sh TARGET|all [SECONDS]   (targets: ${TARGETS[*]})" >&2
    exit 2
}

[[ $# -ge 1 && $# -le 2 ]] || usage
what=$1
seconds=${2:-60}
[[ $seconds =~ ^[0-9]+$ ]] || usage

cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || {
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
    exit 1
}

run_one() {
    local target=$1
    local log=fuzz/logs/$target.log
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target" fuzz/logs
    echo "== $target: building" >&2
    nice -n "${NICE:-10}" cargo fuzz build "$target" ${SANITIZER:+--sanitizer "$SANITIZER"}
    local args=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1
                -artifact_prefix="fuzz/artifacts/$target/")
    [[ -n ${RUNS:-} ]] && args+=(-runs="$RUNS")
    echo "== $target: running for at most ${seconds}s${RUNS:+ or $RUNS executions}" >&2
    local status=0
    nice -n "${NICE:-10}" cargo fuzz run "$target" ${SANITIZER:+--sanitizer "$SANITIZER"} \
        "fuzz/corpus/$target" "fuzz/seeds/$target" -- "${args[@]}" 2>&1 | tee "$log" >&2 \
        || status=$?
    local execs time final
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    time=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1)
    final=$(grep -E '^#[0-9]+' "$log" | tail -1)
    echo "== $target: ${execs:-?} executions; ${time:-no Done line}; last: ${final:-?}"
    if ls "fuzz/artifacts/$target"/* >/dev/null 2>&1; then
        echo "== $target: ARTIFACTS in fuzz/artifacts/$target:"
        ls -l "fuzz/artifacts/$target"
    fi
    return "$status"
}

if [[ $what == all ]]; then
    failed=0
    for target in "${TARGETS[@]}"; do
        run_one "$target" || failed=1
    done
    exit "$failed"
elif [[ " ${TARGETS[*]} " == *" $what "* ]]; then
    run_one "$what"
else
    usage
fi
