#!/usr/bin/env bash
# Whole-process timing of one build importing several files, run in turn
# (file A, file B, ... then again), each from a fresh copy of its starting
# database made outside the timed part: wall and CPU (user + system)
# seconds from /usr/bin/time, then the median and minimum for each file.
# The companion of scripts/import_pair.sh, which compares builds on one
# file; this compares spellings of one log on one build.
#
#   scripts/import_files.sh ROUNDS START_DB|"" events|contacts BUILD FILE...
#
# A FILE naming several files separated by spaces is one import of them
# all (`reach import events A B ...`, the shards of one log); a word of it
# starting `--` is an option of that import, in its `--name=value` form
# (`"log.txt --format=text"`).
#
# Example (the 5M-row log as exported, as a `;` spreadsheet, gzipped and
# zipped; files from scripts/bench_import.sh):
#   cd /tmp/reach-bench-import
#   $REPO/scripts/import_files.sh 5 base.redb events $REPO/target/release/reach \
#     log-5m-1000000.csv log-5m-eu-1000000.csv log-5m-1000000.csv.gz log-5m-1000000.zip
# or the log against its four shards (made by scripts/shard_csv.py) and
# against a directory partitioned by kind (DuckDB's `COPY … TO 'hive-5m'
# (FORMAT CSV, PARTITION_BY (kind))`):
#   $REPO/scripts/import_files.sh 5 half.redb events $REPO/target/release/reach \
#     log-5m-1000000.csv "$(echo shards/part-*.csv)" hive-5m
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/import_timing.sh
. "$here/import_timing.sh"
ROUNDS=${1:?rounds}
START=${2?start database or ""}
WHAT=${3:?events or contacts}
BIN=${4:?build}
shift 4
[ $# -ge 1 ] || { echo "name at least one file" >&2; exit 2; }
case "$WHAT" in
  events) extra=(--no-score-rules) ;;
  contacts) extra=() ;;
  *) echo "what to import: events or contacts, not $WHAT" >&2; exit 2 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for _ in $(seq "$ROUNDS"); do
  i=0
  for f in "$@"; do
    read -ra words <<< "$f"
    files=()
    opts=()
    for w in "${words[@]}"; do
      case "$w" in
        --*) opts+=("$w") ;;
        *) files+=("$w") ;;
      esac
    done
    warm "${files[@]}"
    timed_import "$tmp/times.$i" "$START" "${files[0]}" "$BIN" import "$WHAT" "${files[@]}" \
      ${opts[@]+"${opts[@]}"} ${extra[@]+"${extra[@]}"}
    i=$((i + 1))
  done
done
report file "$@"
