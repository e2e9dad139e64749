#!/usr/bin/env python3
"""Counts from a fresh process, two (or more) builds run in turn.

For each query of the set, every build runs `segment count` once per round
(builds alternating, so a drift in the machine's speed hits them alike),
after one warm-up round that is not counted. Prints the median wall time
(process start to exit) and the median user CPU time of each build per
query, then the median over the set. On demand, not part of CI.

    python3 scripts/fresh_pair.py --db DB --builds /tmp/reach-old,target/release/reach
    python3 scripts/fresh_pair.py --db DB --builds A,B --rounds 21 --queries benches/queries.txt
"""
import argparse, os, resource, statistics, subprocess, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--builds", required=True, help="comma-separated reach binaries")
    ap.add_argument("--queries", default=os.path.join(ROOT, "benches/queries.txt"))
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--now", default="2026-11-24T12:00:00Z")
    a = ap.parse_args()
    builds = a.builds.split(",")
    queries = [l.strip() for l in open(a.queries) if l.strip() and not l.startswith("#")]
    wall_med = {b: [] for b in builds}
    print("| query | " + " | ".join(f"{b} wall / user" for b in builds) + " |")
    print("| --- |" + " ---: |" * len(builds))
    for q in queries:
        wall = {b: [] for b in builds}
        user = {b: [] for b in builds}
        for r in range(a.rounds + 1):
            for b in builds:
                u0 = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
                t = time.perf_counter()
                subprocess.run([b, "--db", a.db, "--now", a.now, "segment", "count", q], stdout=subprocess.DEVNULL, check=True)
                w = time.perf_counter() - t
                u1 = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
                if r:
                    wall[b].append(w * 1000)
                    user[b].append((u1 - u0) * 1000)
        cells = []
        for b in builds:
            wm = statistics.median(wall[b])
            wall_med[b].append(wm)
            cells.append(f"{wm:.0f} / {statistics.median(user[b]):.0f} ms")
        print(f"| `{q}` | " + " | ".join(cells) + " |", flush=True)
    print("| median over the set | " + " | ".join(f"{statistics.median(wall_med[b]):.0f} ms" for b in builds) + " |")


if __name__ == "__main__":
    main()
