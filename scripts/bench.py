#!/usr/bin/env python3
"""The benchmark of spec/quality.md, on demand (not part of CI).

For each size it builds `reach demo` data, measures generation, size after
compaction and open-to-first-count, runs the query set (benches/queries.txt)
through the engine (cargo bench --bench engine), and the same queries through
DuckDB (2 threads) and SQLite (indexed) over `reach export`, using
`reach segment sql`. It checks that every count agrees and prints p50/p95,
ratios, the edit recount time and peak memory, as JSON and a markdown table.

    pip install duckdb
    python3 scripts/bench.py                 # 100k and 1M contacts
    python3 scripts/bench.py --sizes 100000  # quick
    python3 scripts/bench.py --sizes 1000000 --events-per-contact 100   # 1M / ~100M
    python3 scripts/bench.py --no-sqlite     # skip the slow SQLite side
    python3 scripts/bench.py --sizes 200000 --keep /tmp/b --reuse   # again on the same data
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time, math, sqlite3, csv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOW = "2026-11-24T12:00:00Z"


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def reach(db, *args):
    return run([os.path.join(ROOT, "target/release/reach"), "--db", db, "--now", NOW, *args]).stdout


def timed(f, n):
    out, times = None, []
    for _ in range(n):
        t = time.perf_counter()
        out = f()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return out, times[len(times) // 2], times[min(len(times) - 1, round((len(times) - 1) * 0.95))]


def load_sqlite(dir_):
    con = sqlite3.connect(":memory:")
    for fn in ("sin", "cos", "asin", "sqrt", "radians"):
        con.create_function(fn, 1, getattr(math, fn), deterministic=True)
    for table in ("contacts", "events"):
        with open(os.path.join(dir_, table + ".csv"), newline="") as f:
            r = csv.reader(f)
            head = next(r)
            cols = ", ".join(f'"{c}" TEXT' for c in head)
            con.execute(f'CREATE TABLE {table} ({cols})')
            q = f'INSERT INTO {table} VALUES ({",".join("?" * len(head))})'
            batch = []
            for row in r:
                batch.append(row)
                if len(batch) >= 100000:
                    con.executemany(q, batch)
                    batch = []
            con.executemany(q, batch)
    con.execute("CREATE INDEX ev_kind_contact ON events(kind, contact_id)")
    con.execute("CREATE INDEX ev_contact ON events(contact_id)")
    con.execute("CREATE INDEX c_id ON contacts(id)")
    con.commit()
    return con


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--events-per-contact", type=float, default=20.0)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--no-duckdb", action="store_true")
    ap.add_argument("--keep", help="keep the databases in this folder")
    ap.add_argument("--fresh-runs", type=int, default=5, help="runs of each count from a fresh process")
    ap.add_argument("--reuse", action="store_true", help="use the demo database already in --keep")
    a = ap.parse_args()

    run(["cargo", "build", "--release", "--quiet"], cwd=ROOT)
    queries_file = os.path.join(ROOT, "benches/queries.txt")
    queries = [l.strip() for l in open(queries_file) if l.strip() and not l.startswith("#")]
    results = []
    for n in [int(x) for x in a.sizes.split(",")]:
        work = a.keep or tempfile.mkdtemp(prefix="reach-bench-")
        db = os.path.join(work, f"demo-{n}.redb")
        gen_s = compact_s = 0.0
        if not (a.reuse and os.path.exists(db)):
            if os.path.exists(db):
                os.remove(db)
            t = time.perf_counter()
            reach(db, "demo", "--contacts", str(n), "--seed", "7", "--events-per-contact", str(a.events_per_contact))
            gen_s = time.perf_counter() - t
            t = time.perf_counter()
            reach(db, "compact")
            compact_s = time.perf_counter() - t
        stats = {r["what"]: r for r in json.loads(reach(db, "stats", "--format", "json"))}
        events = stats["events (count)"]["rows"]
        size = stats["file"]["bytes"]
        # open: process start to the first count (cold, lazily loading what it needs)
        opens = []
        for q in queries:
            t = time.perf_counter()
            reach(db, "segment", "count", q, "--format", "json")
            opens.append((time.perf_counter() - t) * 1000)
        # a count from a fresh process, the figure a script sees while no
        # owner runs (median of --fresh-runs after one more run warms the
        # operating system's file cache)
        fresh = []
        for q in queries:
            reach(db, "segment", "count", q, "--format", "json")
            times = []
            for _ in range(a.fresh_runs):
                t = time.perf_counter()
                reach(db, "segment", "count", q, "--format", "json")
                times.append((time.perf_counter() - t) * 1000)
            fresh.append(statistics.median(times))
        eng = json.loads(run(["cargo", "bench", "--quiet", "--bench", "engine", "--", db, NOW, queries_file, str(a.runs)], cwd=ROOT).stdout)
        rows = []
        export_dir = os.path.join(work, f"export-{n}")
        os.makedirs(export_dir, exist_ok=True)
        t = time.perf_counter()
        if not (a.reuse and os.path.exists(os.path.join(export_dir, "events.csv"))):
            reach(db, "export", "contacts", "-o", os.path.join(export_dir, "contacts.csv"))
            reach(db, "export", "events", "-o", os.path.join(export_dir, "events.csv"))
        export_s = time.perf_counter() - t
        duck = None
        if not a.no_duckdb:
            import duckdb
            duck = duckdb.connect()
            duck.execute("SET threads TO 2")
            for table in ("contacts", "events"):
                duck.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv('{export_dir}/{table}.csv', all_varchar = true, header = true)")
        lite = None if a.no_sqlite else load_sqlite(export_dir)
        for q, e, f in zip(queries, eng["queries"], fresh):
            row = {"query": q, "count": e["count"], "reach_p50_ms": e["p50_ms"], "reach_p95_ms": e["p95_ms"], "fresh_ms": f}
            if duck is not None:
                sql = reach(db, "segment", "sql", q, "--dialect", "duckdb")
                res, p50, p95 = timed(lambda: duck.execute(sql).fetchall(), 5)
                row.update(duckdb_count=len(res), duckdb_p50_ms=p50, duckdb_p95_ms=p95)
            if lite is not None:
                sql = reach(db, "segment", "sql", q, "--dialect", "sqlite")
                res, p50, p95 = timed(lambda: lite.execute(sql).fetchall(), 1)
                row.update(sqlite_count=len(res), sqlite_p50_ms=p50)
            rows.append(row)
        agree = all(r.get("duckdb_count", r["count"]) == r["count"] and r.get("sqlite_count", r["count"]) == r["count"] for r in rows)
        ratio = lambda k: statistics.median(r[k] / max(r["reach_p50_ms"], 1e-3) for r in rows) if k in rows[0] else None
        fresh_ratio = statistics.median(r["duckdb_p50_ms"] / max(r["fresh_ms"], 1e-3) for r in rows) if "duckdb_p50_ms" in rows[0] else None
        res = {
            "contacts": n,
            "events": events,
            "demo_generation_s": round(gen_s, 2),
            "compact_s": round(compact_s, 2),
            "bytes_per_event_after_compaction": round(size / max(events, 1), 1),
            "open_to_first_count_ms": [round(x) for x in opens],
            "engine": {k: v for k, v in eng.items() if k != "queries"},
            "export_s": round(export_s, 2),
            "counts_agree": agree,
            "median_ratio_duckdb": ratio("duckdb_p50_ms"),
            "median_ratio_sqlite": ratio("sqlite_p50_ms"),
            "median_ratio_duckdb_fresh_process": fresh_ratio,
            "queries": rows,
        }
        results.append(res)
        print(json.dumps(res, indent=2), file=sys.stderr)
        print(f"\n### {n:,} contacts / {events:,} events\n")
        print(f"demo generation + write: {gen_s:.1f} s; after `reach compact`: {size / max(events, 1):.1f} bytes/event; "
              f"open to first count: {min(opens):.0f}–{max(opens):.0f} ms (process start, cold); warm-up ({eng['warm']}): {eng['warm_up_ms']:.0f} ms; "
              f"derived facts refresh: {eng['derived_refresh_ms']:.0f} ms; edit one criterion and recount: p50 {eng['edit_recount_p50_ms']:.2f} ms, p95 {eng['edit_recount_p95_ms']:.2f} ms; "
              f"peak RSS {eng['peak_rss_mb']} MB; counts agree: {agree}\n")
        print("| query | count | reach p50 | reach p95 | fresh process | DuckDB p50 | SQLite | x DuckDB | x DuckDB (fresh) | x SQLite |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in rows:
            d = r.get("duckdb_p50_ms"); s = r.get("sqlite_p50_ms")
            fmt = lambda v: f"{v:.1f} ms" if v is not None else "–"
            x = lambda v: f"{v / max(r['reach_p50_ms'], 1e-3):.0f}x" if v is not None else "–"
            xf = f"{d / max(r['fresh_ms'], 1e-3):.1f}x" if d is not None else "–"
            print(f"| `{r['query']}` | {r['count']:,} | {r['reach_p50_ms']:.2f} ms | {r['reach_p95_ms']:.2f} ms | {r['fresh_ms']:.0f} ms | {fmt(d)} | {fmt(s)} | {x(d)} | {xf} | {x(s)} |")
        if res["median_ratio_duckdb"]:
            print(f"\nmedian speed-up: {res['median_ratio_duckdb']:.0f}x DuckDB" + (f", {res['median_ratio_sqlite']:.0f}x SQLite" if res["median_ratio_sqlite"] else ""))
            print(f"median speed-up of a count from a fresh process (start to exit) over DuckDB with the export already in its memory: {fresh_ratio:.1f}x")
    json.dump(results, open(os.path.join(ROOT, "target/bench-results.json"), "w"), indent=2)


if __name__ == "__main__":
    main()
