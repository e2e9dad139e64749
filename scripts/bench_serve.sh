#!/usr/bin/env bash
# Live imports while an owner runs (issue 12, BENCHMARKS.md "Sharing a
# database"): `reach serve` owns a demo database of CONTACTS contacts with its
# engine warm; a cron-style script imports EVENTS events (a shop's log: time
# order, contacts interleaved) through it, then counts.
#
#   scripts/bench_serve.sh [CONTACTS] [EVENTS] [RUNS]   (defaults: 1000000 1000000 3)
#
# For each run, on a fresh copy of the database: the import's throughput
# (events / the `reach import events` process's wall time, start to exit,
# forwarded to the owner and committed there), then the time from the
# import's exit until a count through the owner's warm engine (what every
# console's live count uses) shows the new events. Before the import, the
# same count is asked once so the engine holds the kind's events (as an
# open console's would). Prints every run and the medians.
# Files live in $WORK (default /tmp/reach-bench-serve); REACH=path picks
# the binary (default target/release/reach, built first).
set -euo pipefail
N=${1:-1000000}
E=${2:-1000000}
RUNS=${3:-3}
WORK=${WORK:-/tmp/reach-bench-serve}
NOW=2026-11-24T12:00:00Z
cd "$(dirname "$0")/.."
if [ -z "${REACH:-}" ]; then
  cargo build --release --quiet
fi
BIN=${REACH:-$PWD/target/release/reach}
mkdir -p "$WORK"
cd "$WORK"
if [ ! -f "demo-$N.redb" ]; then
  echo "building the demo ($N contacts)..." >&2
  "$BIN" --db "demo-$N.redb" --now "$NOW" demo --contacts "$N" --seed 7 >/dev/null
fi
if [ ! -f "log-$E.csv" ]; then
  # E events in the hour before NOW, one per 3.6/E s, contacts interleaved
  python3 - "$E" "$N" > "log-$E.csv" <<'PY'
import sys, datetime
e, n = int(sys.argv[1]), int(sys.argv[2])
base = datetime.datetime(2026, 11, 24, 11, 0, 0)
out = ["contact,ts,kind"]
for i in range(e):
    t = base + datetime.timedelta(seconds=i * 3600 // e)
    out.append("C%07d,%sZ,bench_ping" % ((i * 7919) % n + 1, t.isoformat()))
sys.stdout.write("\n".join(out) + "\n")
PY
fi
Q='count(bench_ping, last 1d) >= 1'
ms() { date +%s%3N; }
count() { "$BIN" --db run.redb --now "$NOW" segment count "$Q" --format json | sed -n 's/.*"count": \([0-9]*\).*/\1/p'; }

RATE=()
SEEN=()
for r in $(seq 1 "$RUNS"); do
  rm -rf run.redb run.redb.lock run.redb.run outbox
  cp "demo-$N.redb" run.redb
  # the kind exists before the owner starts (a shop's log is not its first)
  printf 'contact,ts,kind\nC0000001,2026-11-24T10:00:00Z,bench_ping\n' > first.csv
  "$BIN" --db run.redb --now "$NOW" import events first.csv --no-score-rules >/dev/null
  "$BIN" --db run.redb --now "$NOW" serve >serve.log 2>&1 &
  serve=$!
  for _ in $(seq 1 600); do
    [ -S run.redb.run/socket ] && break
    sleep 0.05
  done
  [ -S run.redb.run/socket ] || { echo "serve did not start: $(cat serve.log)" >&2; kill $serve; exit 1; }
  before=$(count)
  t0=$(ms)
  "$BIN" --db run.redb --now "$NOW" import events "log-$E.csv" --no-score-rules >/dev/null
  t1=$(ms)
  while :; do
    c=$(count)
    [ "$c" != "$before" ] && break
    [ $(( $(ms) - t1 )) -gt 30000 ] && { echo "the count did not change within 30 s" >&2; exit 1; }
  done
  t2=$(ms)
  kill -TERM $serve
  wait $serve || true
  rate=$(( E * 1000 / (t1 - t0) ))
  printf '  run %d: import %6d ms (%8d events/s); count %s -> %s visible %5d ms after the import\n' \
    "$r" $(( t1 - t0 )) "$rate" "$before" "$c" $(( t2 - t1 ))
  RATE+=("$rate")
  SEEN+=($(( t2 - t1 )))
done
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "medians over $RUNS runs ($N contacts, $E events): $(median "${RATE[@]}") events/s, visible after $(median "${SEEN[@]}") ms"
