#!/usr/bin/env bash
# Whole-process timing of one import by several builds, run in turn
# (A B A B ...), each from a fresh copy of its starting database made
# outside the timed part: wall and CPU (user + system) seconds from
# /usr/bin/time, then the median and minimum of each build's runs.
#
#   scripts/import_pair.sh ROUNDS START_DB|"" FILE events|contacts BUILD...
#
# START_DB is copied to a scratch file before each run ("" for an empty
# database); events are imported with --no-score-rules, as
# scripts/bench_import.sh does. Example (a new build against an old one,
# in the directory scripts/bench_import.sh fills; REPO is this checkout):
#   cd /tmp/reach-bench-import
#   $REPO/scripts/import_pair.sh 5 half.redb log-5m-1000000.csv events /tmp/reach-old $REPO/target/release/reach
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/import_timing.sh
. "$here/import_timing.sh"
ROUNDS=${1:?rounds}
START=${2?start database or ""}
FILE=${3:?input file}
WHAT=${4:?events or contacts}
shift 4
[ $# -ge 1 ] || { echo "name at least one build" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
case "$WHAT" in
  events) args=(import events "$FILE" --no-score-rules) ;;
  contacts) args=(import contacts "$FILE") ;;
  *) echo "what to import: events or contacts, not $WHAT" >&2; exit 2 ;;
esac
for _ in $(seq "$ROUNDS"); do
  i=0
  for b in "$@"; do
    timed_import "$tmp/times.$i" "$START" "$FILE" "$b" "${args[@]}"
    i=$((i + 1))
  done
done
report build "$@"
