#!/usr/bin/env bash
# CSV import throughput, end to end (spec/quality.md: >= 2M events/s).
#
#   scripts/bench_import.sh [CONTACTS] [RUNS]      (defaults: 1000000 5)
#
# Builds a demo database of CONTACTS contacts once, exports its contacts and
# every event, and rewrites the events' `contact_id` column as the contact's
# external id (`C0000001`), as an event log from another system would name
# its customers. Then, RUNS times: a fresh database holding the contacts,
# and `reach import events events.csv --no-score-rules` into it, timed from
# process start to exit (open, key loading, parsing, commit). Prints every
# run and the median. Then the same RUNS times into an empty database, where
# the events create their ~N contacts. Files live in $WORK (default
# /tmp/reach-bench-import).
set -euo pipefail
N=${1:-1000000}
RUNS=${2:-5}
WORK=${WORK:-/tmp/reach-bench-import}
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN=$PWD/target/release/reach
mkdir -p "$WORK"
cd "$WORK"
if [ ! -f "events-$N.csv" ]; then
  rm -f demo.redb demo.redb.lock
  "$BIN" --db demo.redb --now 2026-11-24T12:00:00Z demo --contacts "$N" --seed 1 >/dev/null
  "$BIN" --db demo.redb export contacts > "contacts-$N.csv"
  "$BIN" --db demo.redb export events |
    awk -F, 'BEGIN { OFS = "," } NR == 1 { $1 = "contact" } NR > 1 { $1 = sprintf("C%07d", $1) } { print }' \
      > "events-$N.csv"
  rm -f base.redb base.redb.lock
  "$BIN" --db base.redb import contacts "contacts-$N.csv" >/dev/null
fi
rows=$(($(wc -l < "events-$N.csv") - 1))
echo "events-$N.csv: $rows events, $(du -m "events-$N.csv" | cut -f1) MB; $(nproc) cores"
bench() { # $1: label, $2: database to start from ("" for an empty one)
  local secs=() s start end median best
  for i in $(seq "$RUNS"); do
    rm -f run.redb run.redb.lock
    if [ -n "$2" ]; then cp "$2" run.redb; fi
    sync
    start=$(date +%s.%N)
    "$BIN" --db run.redb import events "events-$N.csv" --no-score-rules > run.out 2>&1
    end=$(date +%s.%N)
    s=$(echo "$end - $start" | bc -l)
    secs+=("$s")
    printf '%s run %d: %.2f s, %.0f events/s   (%s)\n' "$1" "$i" "$s" "$(echo "$rows / $s" | bc -l)" "$(tail -1 run.out)"
  done
  median=$(printf '%s\n' "${secs[@]}" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
  best=$(printf '%s\n' "${secs[@]}" | sort -n | head -1)
  printf '%s: median %.2f s = %.0f events/s; best %.2f s = %.0f events/s\n' \
    "$1" "$median" "$(echo "$rows / $median" | bc -l)" "$best" "$(echo "$rows / $best" | bc -l)"
}
bench "known contacts" base.redb
bench "new contacts" ""
rm -f run.redb run.redb.lock run.out
