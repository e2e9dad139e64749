#!/usr/bin/env bash
# Journeys at scale (issue 13, BENCHMARKS.md "Journeys"): on a demo of
# CONTACTS contacts (default 1,000,000),
#   entry    100,000 contacts entering one journey at once: 100k cart
#            abandons at one instant, one `scheduler run --until` that instant
#            (each run: if on the order history, a 4 h wait);
#   start    every contact entering a segment journey when it starts;
#   timers   the same journey's CONTACTS timers due at once, advanced in one
#            scheduler step (each run: tagged, then completed).
# For each, RUNS times on a fresh copy of the database: the scheduler's
# time in journeys (its `journeys: N steps, M ms` line) and the whole
# process, start to exit (opening the store, loading contacts and the
# deliveries ledger, fsync included). Prints every run and the medians.
#
#   scripts/bench_journeys.sh [CONTACTS] [RUNS]     (defaults: 1000000 3)
#
# Files live in $WORK (default /tmp/reach-bench-journeys); REACH=path picks
# the binary (default target/release/reach, built first).
set -euo pipefail
N=${1:-1000000}
RUNS=${2:-3}
WORK=${WORK:-/tmp/reach-bench-journeys}
NOW=2026-11-24T12:00:00Z
AT=2026-11-24T13:00:00Z
NEXT_DAY=2026-11-25T13:00:00Z
cd "$(dirname "$0")/.."
if [ -z "${REACH:-}" ]; then
  cargo build --release --quiet
fi
BIN=${REACH:-$PWD/target/release/reach}
mkdir -p "$WORK"
cd "$WORK"
ENTER=$(( N < 100000 ? N : 100000 ))
if [ ! -f "demo-$N.redb" ]; then
  echo "building the demo ($N contacts)..." >&2
  "$BIN" --db "demo-$N.redb" --now "$NOW" demo --contacts "$N" --seed 7 >/dev/null
fi
awk -v n="$ENTER" -v at="$AT" 'BEGIN { print "contact,ts,kind"; for (i = 1; i <= n; i++) printf "C%07d,%s,cart_abandon\n", i, at }' \
  > abandons.csv
cat > entry.toml <<'EOF'
name = "bench_entry"
[entry]
event = "cart_abandon"
[[goal]]
event = "purchase"
[[step]]
name = "recent"
if = "count(purchase, last 6mo) >= 1"
then = "wait_24h"
[[step]]
name = "wait_4h"
wait = "4h"
next = "mail"
[[step]]
name = "wait_24h"
wait = "24h"
[[step]]
name = "mail"
send = "email"
subject = "your cart"
body = "hi"
EOF
cat > timers.toml <<'EOF'
name = "bench_timers"
[entry]
segment = "score > -1000000000"
[[step]]
name = "wait"
wait = "1d"
[[step]]
name = "tag"
tag_add = "advanced"
EOF

# run LABEL ARGS...: the scheduler's journey milliseconds and the whole
# process's, appended to the LABEL lists
declare -A STEP WALL
run() {
  local label=$1
  shift
  local t0 t1 out ms
  # the previous step's writes are on disk before this one is timed
  sync
  t0=$(date +%s%N)
  out=$("$BIN" --db run.redb "$@" --format table)
  t1=$(date +%s%N)
  ms=$(sed -n 's/^journeys: \([0-9]*\) steps, \([0-9]*\) ms$/\1 \2/p' <<<"$out")
  [ -n "$ms" ] || { echo "no journey line in: $out" >&2; exit 1; }
  printf '  %-7s %8s steps  journeys %6s ms  process %6s ms\n' "$label" ${ms% *} ${ms#* } $(( (t1 - t0) / 1000000 ))
  STEP[$label]+="${ms#* } "
  WALL[$label]+="$(( (t1 - t0) / 1000000 )) "
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

for r in $(seq 1 "$RUNS"); do
  echo "run $r" >&2
  rm -f run.redb run.redb.lock
  rm -rf outbox
  cp "demo-$N.redb" run.redb
  "$BIN" --db run.redb --now "$NOW" import events abandons.csv --no-score-rules >/dev/null
  "$BIN" --db run.redb --now "$NOW" journey create entry.toml >/dev/null
  "$BIN" --db run.redb --now "$NOW" journey start bench_entry >/dev/null
  run entry --now "$NOW" scheduler run --until "$AT"
  "$BIN" --db run.redb --now "$AT" journey stop bench_entry >/dev/null
  "$BIN" --db run.redb --now "$AT" journey create timers.toml >/dev/null
  "$BIN" --db run.redb --now "$AT" journey start bench_timers >/dev/null
  run start --now "$AT" scheduler run --until "$AT"
  run timers --now "$AT" scheduler run --until "$NEXT_DAY"
done
echo "medians over $RUNS runs ($N contacts; $ENTER entering):"
for l in entry start timers; do
  printf '  %-7s journeys %6s ms  process %6s ms\n' "$l" "$(median "${STEP[$l]}")" "$(median "${WALL[$l]}")"
done
