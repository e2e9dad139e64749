#!/usr/bin/env bash
# Whole-process timing of two commands run in turn (A B A B ...), so that a
# comparison holds while the machine's speed drifts: each run's wall
# seconds and peak memory from /usr/bin/time, then min / median / max of
# each and the median of the A/B ratios taken pair by pair.
#
#   scripts/time_pair.sh RUNS 'COMMAND A' 'COMMAND B'
#
# Each command is run by `sh -c` with its output thrown away; one warm-up
# run of each is not counted. Example (a count from a fresh process, new
# build against old, same data):
#   scripts/time_pair.sh 5 "target/release/reach --db new.redb segment count 'tag:vip'" \
#                          "/tmp/reach-old --db old.redb segment count 'tag:vip'"
set -euo pipefail
RUNS=${1:?runs}
A=${2:?command A}
B=${3:?command B}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
one() { # $1: command, $2: file to append "wall peak_kb" to
  /usr/bin/time -f '%e %M' -o "$tmp/t" sh -c "$1" > /dev/null 2>&1 || { echo "failed: $1" >&2; exit 1; }
  cat "$tmp/t" >> "$2"
}
one "$A" /dev/null
one "$B" /dev/null
for _ in $(seq "$RUNS"); do
  one "$A" "$tmp/a"
  one "$B" "$tmp/b"
done
stats() { # column of a file: min median max
  sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%10.3f %10.3f %10.3f", v[1], m, v[NR] }'
}
printf '%-14s %10s %10s %10s\n' "" min median max
printf '%-14s %s\n' "A wall s" "$(cut -d' ' -f1 "$tmp/a" | stats)"
printf '%-14s %s\n' "B wall s" "$(cut -d' ' -f1 "$tmp/b" | stats)"
printf '%-14s %s\n' "A peak MiB" "$(awk '{ print $2 / 1024 }' "$tmp/a" | stats)"
printf '%-14s %s\n' "B peak MiB" "$(awk '{ print $2 / 1024 }' "$tmp/b" | stats)"
printf '%-14s %s\n' "A/B wall" "$(paste -d' ' "$tmp/a" "$tmp/b" | awk '{ print ($3 > 0) ? $1 / $3 : 0 }' | stats)"
