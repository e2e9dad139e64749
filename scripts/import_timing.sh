# What scripts/import_pair.sh and scripts/import_files.sh share (sourced):
# one timed import from a fresh start, and the figures of each series.

# warm PATH...: each file read once into the page cache (a directory's
# files, for an import of a directory).
warm() {
  local p
  for p in "$@"; do
    if [ -d "$p" ]; then
      find "$p" -type f -exec cat {} + > /dev/null
    else
      cat "$p" > /dev/null
    fi
  done
}

# timed_import TIMES START INPUT BUILD ARGS...: a fresh copy of START in
# $tmp/run.redb ("" for an empty database) and INPUT read once into the
# page cache, both untimed; then `BUILD --db $tmp/run.redb ARGS...`, its
# wall, user and system seconds appended to TIMES.
timed_import() {
  local times=$1 start=$2 input=$3 build=$4
  shift 4
  rm -f "$tmp/run.redb" "$tmp/run.redb.lock"
  if [ -n "$start" ]; then cp "$start" "$tmp/run.redb"; fi
  sync
  warm "$input"
  /usr/bin/time -f '%e %U %S' -a -o "$times" "$build" --db "$tmp/run.redb" "$@" > /dev/null 2>&1 \
    || { echo "failed: $build $*" >&2; exit 1; }
}

# report HEADING NAME...: a line of figures per series ($tmp/times.0, .1,
# ... in the order of the names; scripts/medians.awk).
report() {
  local heading=$1 i=0 name
  shift
  printf '%-40s %12s %12s %12s\n' "$heading" "wall median" "wall min" "cpu median"
  for name in "$@"; do
    awk -v name="$name" -f "$here/medians.awk" "$tmp/times.$i"
    i=$((i + 1))
  done
}
