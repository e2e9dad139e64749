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
# (default /tmp/reach-bench-import); SHAPES=grouped|log|contacts|spellings (space
# separated, default all three; `spellings` adds the 5M-row log as other
# tools write it, see below) picks what runs. Each run starts with the
# input read once into the page cache, untimed. After each log and the
# contacts, DuckDB loads the same file into a table of its own database
# file, timed the same way (DUCKDB=0 skips it).
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
EXTRA=() # more arguments of `reach import events` (the nested JSON lines' maps)
bench() { # $1: label, $2: database to start from ("" for an empty one), $3: the file (events-N.csv), $4: what (events)
  local file=${3:-events-$N.csv} what=${4:-events}
  local rows secs=() s start end median best
  rows=$(wc -l < "$file")
  case "$file" in
    *.jsonl) ;;
    *.json) rows=$((rows - 2)) ;; # `[` and `]`
    *.zip) rows=$(($(unzip -p "$file" | wc -l) - 1)) ;;
    *.parquet) rows=$(($(wc -l < "${file%.parquet}.csv") - 1)) ;; # made from the CSV of its name
    *) rows=$((rows - 1)) ;; # a CSV header
  esac
  for i in $(seq "$RUNS"); do
    rm -f run.redb run.redb.lock
    if [ -n "$2" ]; then cp "$2" run.redb; fi
    sync
    # the input as a file just written or downloaded is: in the page cache
    # (this machine's memory reclaim otherwise drops it between runs at random)
    cat "$file" > /dev/null
    start=$(date +%s.%N)
    case "$what" in
      events) "$BIN" --db run.redb import events "$file" --no-score-rules ${EXTRA[@]+"${EXTRA[@]}"} > run.out 2>&1 ;;
      contacts) "$BIN" --db run.redb import contacts "$file" > run.out 2>&1 ;;
      rows) # DuckDB loading the same file into its own database file
        rm -f run.duckdb run.duckdb.wal
        python3 -c "$DUCKDB_LOAD" "$file" run.duckdb > run.out 2>&1 ;;
    esac
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
# DuckDB next to reach (DUCKDB=0 skips it): the same file loaded with its own
# type inference into a new database file, from process start (Python and
# the duckdb module's import included, about 0.1 s) to exit, its
# checkpoint and fsync included.
DUCKDB=${DUCKDB:-1}
if [ "$DUCKDB" = 1 ] && ! python3 -c 'import duckdb' 2>/dev/null; then
  echo "no duckdb Python module (pip install duckdb): DuckDB's figures skipped" >&2
  DUCKDB=0
fi
DUCKDB_LOAD='
import sys, duckdb
c = duckdb.connect(sys.argv[2])
# JSON lines: keys are inferred from every line (`sample_size=-1`), as
# DuckDB asks when a key first appears past its sample
read = "read_json(?, sample_size=-1)" if sys.argv[1].endswith((".jsonl", ".json")) else "read_csv(?)"
read = "read_parquet(?)" if sys.argv[1].endswith(".parquet") else read
c.execute(f"CREATE TABLE t AS SELECT * FROM {read}", [sys.argv[1]])
print(c.execute("SELECT count(*) FROM t").fetchone()[0], "rows loaded by DuckDB", duckdb.__version__)
c.close()'
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
    if [ "$DUCKDB" = 1 ]; then bench "log $size, DuckDB" "" "log-$size-$N.csv" rows; fi
  done
fi
# The 5M-row log as other tools write it (made once from the log above):
# times as `2024-11-10 13:15:42` (no zone), as `11/10/2024 13:15` (US, no
# seconds), as Unix seconds, with an offset as PostgreSQL and DuckDB write
# a timestamptz (`2024-11-10 14:15:42+01`) and as Unix milliseconds;
# contacts named by email (by id where a contact has none); as a
# spreadsheet in a decimal-comma locale writes it (`;`-separated, times as
# `10.11.2024 13:15:42`, amounts as `12,5`); zipped; as Parquet; and the whole log as
# JSON lines. Each into the database holding every contact, then DuckDB
# loading the same file (not the zip, which DuckDB does not read).
if [[ " $SHAPES " == *" spellings "* ]]; then
  if [ ! -f "log-5m-$N.jsonl" ]; then
    echo "writing the log's other spellings..." >&2
    python3 - "$N" <<'PY'
import calendar, csv, json, sys
n = sys.argv[1]
email = {}
with open(f"contacts-{n}.csv", newline="") as f:
    r = csv.reader(f)
    next(r)
    for row in r:
        email[row[1]] = row[2] or row[1]
outs = {k: open(f"log-5m-{k}-{n}.csv", "w", newline="") for k in ("space", "us", "epoch", "email")}
writers = {k: csv.writer(f, lineterminator="\n") for k, f in outs.items()}
with open(f"log-5m-{n}.csv", newline="") as f, open(f"log-5m-{n}.jsonl", "w") as j:
    r = csv.reader(f)
    head = next(r)
    for w in writers.values():
        w.writerow(head)
    for row in r:
        ts = row[1]
        y, mo, d, h, mi, s = int(ts[0:4]), int(ts[5:7]), int(ts[8:10]), int(ts[11:13]), int(ts[14:16]), int(ts[17:19])
        for k, t in (("space", f"{ts[:10]} {ts[11:19]}"), ("us", f"{mo}/{d}/{y} {h}:{mi:02}"),
                     ("epoch", str(calendar.timegm((y, mo, d, h, mi, s))))):
            writers[k].writerow([row[0], t] + row[2:])
        writers["email"].writerow([email[row[0]]] + row[1:])
        j.write(json.dumps({k: v for k, v in zip(head, row) if v != ""}) + "\n")
for f in outs.values():
    f.close()
PY
  fi
  if [ ! -f "log-5m-offset-$N.csv" ]; then
    python3 - "$N" <<'PY'
import calendar, csv, sys, time
n = sys.argv[1]
with open(f"log-5m-{n}.csv", newline="") as f, open(f"log-5m-offset-{n}.csv", "w", newline="") as o, \
        open(f"log-5m-epochms-{n}.csv", "w", newline="") as m:
    r = csv.reader(f)
    wo, wm = csv.writer(o, lineterminator="\n"), csv.writer(m, lineterminator="\n")
    head = next(r)
    wo.writerow(head)
    wm.writerow(head)
    for i, row in enumerate(r):
        ts = row[1]
        secs = calendar.timegm((int(ts[0:4]), int(ts[5:7]), int(ts[8:10]), int(ts[11:13]), int(ts[14:16]), int(ts[17:19])))
        local = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(secs + 3600))
        wo.writerow([row[0], local + "+01"] + row[2:])
        wm.writerow([row[0], str(secs * 1000 + i % 1000)] + row[2:])
PY
  fi
  # and the JSON lines as a tracker nests them (Segment's `track` calls:
  # userId, event, timestamp, the details under `properties`, the traffic
  # under `context.campaign`), imported with a --map for each field
  if [ ! -f "log-5m-nested-$N.jsonl" ]; then
    python3 - "$N" <<'PY'
import json, sys
n = sys.argv[1]
traffic = ("source", "utm_source", "utm_medium", "utm_campaign")
with open(f"log-5m-{n}.jsonl") as f, open(f"log-5m-nested-{n}.jsonl", "w") as o:
    for line in f:
        e = json.loads(line)
        o.write(json.dumps({
            "userId": e.pop("contact"), "event": e.pop("kind"), "timestamp": e.pop("ts"),
            "context": {"campaign": {k: e.pop(k) for k in traffic if k in e}},
            "properties": e,
        }) + "\n")
PY
  fi
  if [ ! -f "log-5m-eu-$N.csv" ]; then
    python3 - "$N" <<'PY'
import csv, re, sys
n = sys.argv[1]
decimal = re.compile(r"-?[0-9]+\.[0-9]+")
with open(f"log-5m-{n}.csv", newline="") as f, open(f"log-5m-eu-{n}.csv", "w", newline="") as o:
    r = csv.reader(f)
    w = csv.writer(o, delimiter=";", lineterminator="\n")
    w.writerow(next(r))
    for row in r:
        ts = row[1]
        row[1] = f"{ts[8:10]}.{ts[5:7]}.{ts[0:4]} {ts[11:19]}"
        w.writerow([v.replace(".", ",") if decimal.fullmatch(v) else v for v in row])
PY
  fi
  if [ ! -f "log-5m-$N.zip" ]; then
    python3 -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z: z.write(sys.argv[2])' "log-5m-$N.zip" "log-5m-$N.csv"
  fi
  # as Parquet, as DuckDB writes a table loaded from the CSV (its own
  # types: TIMESTAMPTZ times, DOUBLE amounts, BIGINT quantities; Snappy)
  if [ ! -f "log-5m-$N.parquet" ]; then
    python3 -c 'import sys, duckdb
duckdb.connect().execute(f"COPY (SELECT * FROM read_csv(?)) TO {chr(39)}{sys.argv[1]}{chr(39)} (FORMAT parquet)", [sys.argv[2]])' \
      "log-5m-$N.parquet" "log-5m-$N.csv"
  fi
  # the same JSON lines as one JSON array, an element a line (as `jq -s`
  # or `mongoexport --jsonArray` write a file)
  if [ ! -f "log-5m-array-$N.json" ]; then
    { echo "["; sed '$!s/$/,/' "log-5m-$N.jsonl"; echo "]"; } > "log-5m-array-$N.json"
  fi
  for file in "log-5m-space-$N.csv" "log-5m-us-$N.csv" "log-5m-epoch-$N.csv" "log-5m-offset-$N.csv" \
    "log-5m-epochms-$N.csv" "log-5m-email-$N.csv" "log-5m-eu-$N.csv" "log-5m-$N.zip" "log-5m-$N.parquet" "log-5m-$N.jsonl" \
    "log-5m-nested-$N.jsonl" "log-5m-array-$N.json"; do
    echo "$file: $(du -m "$file" | cut -f1) MB"
    EXTRA=()
    if [ "$file" = "log-5m-nested-$N.jsonl" ]; then
      EXTRA=(--map userId=contact --map event=kind --map timestamp=ts)
      for k in source utm_source utm_medium utm_campaign; do EXTRA+=(--map "context.campaign.$k=$k"); done
      for k in $(head -1 "log-5m-$N.csv" | cut -d, -f8- | tr , ' '); do EXTRA+=(--map "properties.$k=$k"); done
    fi
    bench "$file, known contacts" base.redb "$file"
    EXTRA=()
    if [ "$DUCKDB" = 1 ] && [[ $file != *.zip ]]; then bench "$file, DuckDB" "" "$file" rows; fi
  done
fi
if [[ " $SHAPES " == *" contacts "* ]]; then
  echo "contacts-$N.csv: $(($(wc -l < "contacts-$N.csv") - 1)) contacts, $(du -m "contacts-$N.csv" | cut -f1) MB"
  bench "contacts" "" "contacts-$N.csv" contacts
  if [ "$DUCKDB" = 1 ]; then bench "contacts, DuckDB" "" "contacts-$N.csv" rows; fi
fi
rm -f run.redb run.redb.lock run.out run.duckdb run.duckdb.wal
