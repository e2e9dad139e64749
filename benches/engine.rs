//! The engine side of the benchmark (scripts/bench.py runs it): opens a
//! database, times the first count, then every query of a file (one
//! expression per line) with the result caches cleared before each run
//! (`Engine::clear_caches`: lifetime unfiltered aggregates stay, like the
//! summaries they equal), and a one-criterion edit with the caches warm.
//! Prints one JSON object. Before the timed runs every query is counted
//! once, so what they read is loaded (REACH_BENCH_WARM=all loads every
//! field and event column instead).
//!
//! cargo bench --bench engine -- DB NOW QUERIES_FILE [RUNS]

use reach::derived::Thresholds;
use reach::segment::engine::Engine;
use reach::store::{OpenMode, Store};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// The allocator the `reach` binary runs with, tuned the same way and as
/// early: from an ELF constructor, before the runtime's first allocation
/// (tuned later, in `main`, mimalloc's first arena had already been given
/// transparent huge pages, which the binary's never gets).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

reach::tune_allocator_at_load!();

#[path = "common/status.rs"]
mod status;
use status::status_kb;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

fn main() {
    #[cfg(not(target_os = "linux"))]
    reach::allocator::tune();
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    if args.len() < 4 {
        eprintln!("usage: engine DB NOW QUERIES_FILE [RUNS]");
        std::process::exit(2);
    }
    let (db, now, file) = (&args[1], &args[2], &args[3]);
    let runs: usize = args.get(4).and_then(|r| r.parse().ok()).unwrap_or(20);
    let now = reach::cli::parse_now(now).expect("now");
    let queries: Vec<String> = std::fs::read_to_string(file)
        .expect("queries")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    let never = AtomicBool::new(false);

    // open: from nothing to the first count of the first query
    let t0 = Instant::now();
    let store = Store::open(std::path::Path::new(db), OpenMode::Existing).expect("open");
    let mut eng = Engine::new(store.begin_read().expect("read"), Thresholds::default()).expect("engine");
    let first = reach::segment::parse(&queries[0]).expect("parse");
    let first_count = eng.count(&first, now, &never).expect("count");
    let open_ms = t0.elapsed().as_secs_f64() * 1000.0;
    // load what the queries touch, as a long-lived console that ran them
    // once holds it: each query counted once (the contact fields, event
    // columns and time spans it names are read on demand); with
    // REACH_BENCH_WARM=all, every field, every column of every event and
    // the whole dictionary instead (`Engine::warm`, the method of the
    // figures before 2026-12-04)
    let t1 = Instant::now();
    let warm_all = std::env::var("REACH_BENCH_WARM").is_ok_and(|v| v == "all");
    if warm_all {
        eng.warm().expect("warm");
    } else {
        for q in &queries {
            let e = reach::segment::parse(q).unwrap_or_else(|err| panic!("{q}: {err}"));
            eng.count(&e, now, &never).expect("count");
        }
        eng.clear_caches();
    }
    let warm_ms = t1.elapsed().as_secs_f64() * 1000.0;
    // resident memory held once everything is loaded, and the peak so far
    // (what loading itself needed on top)
    let (rss_warm_kb, peak_warm_kb) = (status_kb("VmRSS:"), status_kb("VmHWM:"));
    // derived facts (engagement, lifecycle, RFM, age) for this now: kept
    // like data until events arrive or now moves
    let t2 = Instant::now();
    eng.refresh_derived(now).expect("derived");
    let derived_ms = t2.elapsed().as_secs_f64() * 1000.0;

    let mut out = Vec::new();
    for q in &queries {
        let e = reach::segment::parse(q).unwrap_or_else(|err| panic!("{q}: {err}"));
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..runs {
            eng.clear_caches();
            let t = Instant::now();
            count = eng.count(&e, now, &never).expect("count");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        // each run's time in order (the first pays for what the query
        // is the first to need)
        let runs_ms = times.clone();
        let p50 = pct(&mut times, 0.5);
        let p95 = pct(&mut times, 0.95);
        out.push(serde_json::json!({"query": q, "count": count, "p50_ms": p50, "p95_ms": p95, "runs_ms": runs_ms}));
    }

    // one criterion edited: the first leaf of the last (nested) query changes
    // its threshold; everything else stays cached
    let edit_base = queries.last().expect("queries").clone();
    let e0 = reach::segment::parse(&edit_base).expect("parse");
    eng.clear_caches();
    eng.count(&e0, now, &never).expect("count");
    let mut edits = Vec::new();
    for k in 0..runs {
        let edited =
            edit_base.replacen(">= 1", &format!(">= {}", 2 + k % 3), 1).replacen("> 300", &format!("> {}", 301 + k), 1);
        let e = reach::segment::parse(&edited).expect("parse");
        let t = Instant::now();
        eng.count(&e, now, &never).expect("count");
        edits.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let rss_kb = status_kb("VmHWM:");
    let total = eng.total().expect("total");
    println!(
        "{}",
        serde_json::json!({
            "contacts": total,
            "open_to_first_count_ms": open_ms,
            "first_count": first_count,
            "warm": if warm_all { "all" } else { "queries" },
            "warm_up_ms": warm_ms,
            "derived_refresh_ms": derived_ms,
            "queries": out,
            "edit_recount_p50_ms": pct(&mut edits.clone(), 0.5),
            "edit_recount_p95_ms": pct(&mut edits, 0.95),
            "peak_rss_mb": rss_kb / 1024,
            "rss_after_warm_mb": rss_warm_kb / 1024,
            "peak_after_warm_mb": peak_warm_kb / 1024,
            "rss_end_mb": status_kb("VmRSS:") / 1024,
        })
    );
}
