#!/usr/bin/env bash
# Peak memory of one import per file of a directory (a fuzz corpus, say),
# each into a fresh database: what a damaged or crafted input costs
# before it is refused.
#
#   scripts/peak_rss.sh BUILD contacts|events DIR [COUNT]
#
# Prints the COUNT files (default 5) with the highest peak RSS
# (/usr/bin/time's %M, in KB) and their exit codes, then how many files
# were read and the highest peak. Example, the Parquet fuzz corpus:
#   scripts/peak_rss.sh target/release/reach contacts fuzz/corpus/import_parquet
set -euo pipefail
BUILD=${1:?build}
WHAT=${2:?contacts or events}
DIR=${3:?directory}
COUNT=${4:-5}
case "$WHAT" in
  contacts | events) ;;
  *) echo "what to import: contacts or events, not $WHAT" >&2; exit 2 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "$DIR"/*; do
  [ -f "$f" ] || continue
  rm -f "$tmp/db.redb" "$tmp/db.redb.lock"
  set +e
  /usr/bin/time -o "$tmp/t" -f '%M' "$BUILD" --db "$tmp/db.redb" import "$WHAT" "$f" > /dev/null 2>&1
  rc=$?
  set -e
  echo "$(tail -1 "$tmp/t") $rc $f"
done | sort -n > "$tmp/all"
echo "peak KB, exit code, file (the $COUNT highest):"
tail -n "$COUNT" "$tmp/all"
echo "$(wc -l < "$tmp/all") files; highest peak $(tail -1 "$tmp/all" | cut -d' ' -f1) KB"
