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
# the events create their ~N contacts.
#
# Then the shape of a real shop's log (issue: scale, part 4): the same
# events sorted by time, so contacts come interleaved, cut at 5M and 20M
# rows; each imported into the database holding every contact ("known")
# and into one holding every other contact, so about half the contacts the
# log names are new ("half new"). Then the contacts themselves, the
# N-row export imported into an empty database. Files live in $WORK
# (default /tmp/reach-bench-import); SHAPES=grouped|log|contacts (space
# separated, default all three) picks what runs. Each run starts with the
# input read once into the page cache, untimed.
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
echo "events-$N.csv: $(($(wc -l < "events-$N.csv") - 1)) events, $(du -m "events-$N.csv" | cut -f1) MB; $(nproc) cores"
bench() { # $1: label, $2: database to start from ("" for an empty one), $3: the file (events-N.csv), $4: what (events)
  local file=${3:-events-$N.csv} what=${4:-events}
  local rows secs=() s start end median best
  rows=$(($(wc -l < "$file") - 1))
  for i in $(seq "$RUNS"); do
    rm -f run.redb run.redb.lock
    if [ -n "$2" ]; then cp "$2" run.redb; fi
    sync
    # the input as a file just written or downloaded is: in the page cache
    # (this machine's memory reclaim otherwise drops it between runs at random)
    cat "$file" > /dev/null
    start=$(date +%s.%N)
    if [ "$what" = events ]; then
      "$BIN" --db run.redb import events "$file" --no-score-rules > run.out 2>&1
    else
      "$BIN" --db run.redb import contacts "$file" > run.out 2>&1
    fi
    end=$(date +%s.%N)
    s=$(echo "$end - $start" | bc -l)
    secs+=("$s")
    printf '%s run %d: %.2f s, %.0f %s/s   (%s)\n' "$1" "$i" "$s" "$(echo "$rows / $s" | bc -l)" "$what" "$(tail -1 run.out)"
  done
  median=$(printf '%s\n' "${secs[@]}" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
  best=$(printf '%s\n' "${secs[@]}" | sort -n | head -1)
  printf '%s: median %.2f s = %.0f %s/s; best %.2f s = %.0f %s/s\n' \
    "$1" "$median" "$(echo "$rows / $median" | bc -l)" "$what" "$best" "$(echo "$rows / $best" | bc -l)" "$what"
}
SHAPES=${SHAPES:-grouped log contacts}
if [[ " $SHAPES " == *" grouped "* ]]; then
  bench "known contacts" base.redb
  bench "new contacts" ""
fi
if [[ " $SHAPES " == *" log "* ]]; then
  if [ ! -f "log-20m-$N.csv" ]; then
    echo "sorting the events by time..." >&2
    { head -1 "events-$N.csv"; tail -n +2 "events-$N.csv" | LC_ALL=C sort -t, -k2,2 -s -S 2G; } > "log-$N.csv"
    head -n 5000001 "log-$N.csv" > "log-5m-$N.csv"
    head -n 20000001 "log-$N.csv" > "log-20m-$N.csv"
    rm -f "log-$N.csv" half.redb half.redb.lock
    awk 'NR == 1 || NR % 2 == 0' "contacts-$N.csv" > "contacts-half-$N.csv"
    "$BIN" --db half.redb import contacts "contacts-half-$N.csv" >/dev/null
  fi
  for size in 5m 20m; do
    echo "log-$size-$N.csv: $(($(wc -l < "log-$size-$N.csv") - 1)) events in time order, $(du -m "log-$size-$N.csv" | cut -f1) MB"
    bench "log $size, known contacts" base.redb "log-$size-$N.csv"
    bench "log $size, half new" half.redb "log-$size-$N.csv"
  done
fi
if [[ " $SHAPES " == *" contacts "* ]]; then
  echo "contacts-$N.csv: $(($(wc -l < "contacts-$N.csv") - 1)) contacts, $(du -m "contacts-$N.csv" | cut -f1) MB"
  bench "contacts" "" "contacts-$N.csv" contacts
fi
rm -f run.redb run.redb.lock run.out
