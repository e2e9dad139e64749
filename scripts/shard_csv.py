#!/usr/bin/env python3
"""Cuts a CSV file into N files of about equal size, the header on each,
as BigQuery and Spark write a large export (part-00000.csv, ...), for
scripts/import_files.sh. A row is never cut: each file ends at a line
break (the file must not hold line breaks inside quoted fields).

    python3 scripts/shard_csv.py FILE N OUT_DIR
"""
import os
import sys


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    src, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.makedirs(out, exist_ok=True)
    with open(src, "rb") as f:
        header = f.readline()
        data = f.read()
    cuts = [0]
    for k in range(1, n):
        cuts.append(data.index(b"\n", max(len(data) * k // n, cuts[-1])) + 1)
    cuts.append(len(data))
    for k in range(n):
        with open(os.path.join(out, f"part-{k:05d}.csv"), "wb") as o:
            o.write(header)
            o.write(data[cuts[k] : cuts[k + 1]])


if __name__ == "__main__":
    main()
