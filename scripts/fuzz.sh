#!/usr/bin/env bash
# Coverage-guided fuzzing of everything reach reads from users (fuzz/):
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# runs each target (all of them by default) for SECONDS_PER_TARGET seconds
# (default 1800: half an hour each), one after the other, with
# `cargo +nightly fuzz run TARGET -- -max_total_time=N`. Each target starts
# from its corpus (fuzz/corpus/TARGET, kept between runs, not committed) and
# the committed seeds (fuzz/seeds/TARGET). An input running longer than 10 s
# counts as a hang, one needing more than 2 GB as a crash. Leak detection is
# off: threads the import spawns register thread-local destructors, which
# LeakSanitizer reports as a 32-byte leak whatever the input.
#
# Installs cargo-fuzz (and the nightly toolchain) when missing. Prints one
# line per target (time, executions and executions per second, coverage,
# corpus size, and ok or the crashing input under fuzz/artifacts/TARGET/)
# and exits 1 if any target crashed. The full libFuzzer output of each
# target is in fuzz/logs/TARGET.log.
#
# A crasher is replayed with `cargo +nightly fuzz run TARGET FILE`; once it
# is fixed it belongs in tests/fuzz_regressions/TARGET/ (see
# tests/fuzz_regressions.rs), where `cargo test` replays it.
set -uo pipefail
cd "$(dirname "$0")/.."

secs=1800
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
    secs=$1
    shift
fi

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "installing the nightly toolchain (cargo fuzz needs it)" >&2
    rustup toolchain install nightly --profile minimal || exit 2
fi
if ! command -v cargo-fuzz > /dev/null; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz || exit 2
fi

all=$(cd fuzz && cargo +nightly fuzz list) || exit 2
if [ $# -gt 0 ]; then
    targets=("$@")
    for t in "${targets[@]}"; do
        if ! grep -qx "$t" <<< "$all"; then
            echo "scripts/fuzz.sh: no fuzz target \`$t\` (targets: $(echo $all))" >&2
            exit 2
        fi
    done
else
    mapfile -t targets <<< "$all"
fi

# one build of every target, before the clock of the first one starts
(cd fuzz && cargo +nightly fuzz build) || exit 2

mkdir -p fuzz/logs
failed=0
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t"
    log="fuzz/logs/$t.log"
    start=$(date +%s)
    (cd fuzz && cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -detect_leaks=0 -print_final_stats=1) > "$log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<< "$last")
    summary="$t: ${took} s, ${runs:-?} runs (${rate:-?}/s), cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
    if [ $rc -eq 0 ]; then
        echo "$summary: ok"
    else
        failed=1
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        kind=$(grep -m1 -oE 'ERROR: libFuzzer: [a-z-]+|panicked at [^ ]+' "$log" || true)
        [ -n "$artifact" ] && [[ $artifact != /* ]] && artifact="fuzz/$artifact"
        echo "$summary: CRASHED (${kind:-exit $rc}) ${artifact} (see $log)"
    fi
done
exit $failed
