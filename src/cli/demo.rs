//! `reach demo`: build a realistic demo database.

use super::Ctx;
use super::data::Progress;
use crate::error::{Error, Result};
use crate::store::{OpenMode, Store};
use clap::Args;
use std::io::Write;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Number of contacts
    #[arg(long, default_value_t = 5000)]
    pub contacts: u64,
    /// Random seed: the same seed (and --now) gives the same data
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Mean number of events per contact
    #[arg(long, default_value_t = 20.0)]
    pub events_per_contact: f64,
    /// Replace a database that holds data other than a previous demo
    #[arg(long)]
    pub force: bool,
    /// Open the console on the new database
    #[arg(long)]
    pub open: bool,
}

pub fn demo(ctx: &Ctx, a: DemoArgs, out: &mut dyn Write) -> Result<()> {
    if a.contacts == 0 {
        return Err(Error::input("--contacts must be at least 1"));
    }
    if a.contacts > crate::demo::MAX_CONTACTS {
        return Err(Error::input(format!("--contacts {} is too many", a.contacts)));
    }
    if !(a.events_per_contact >= 0.0 && a.events_per_contact <= 10_000.0) {
        return Err(Error::input("--events-per-contact must be between 0 and 10000"));
    }
    if ctx.db.exists() {
        let was_demo = {
            let s = Store::open(&ctx.db, OpenMode::Existing)?;
            let r = s.begin_read()?;
            r.meta("demo")? == 1 || r.contact_count()? == 0
        };
        if !was_demo && !a.force {
            return Err(Error::input(format!(
                "{} already holds data that is not a demo; pass --force to replace it, or choose another --db",
                ctx.db.display()
            )));
        }
        std::fs::remove_file(&ctx.db)?;
    }
    let started = std::time::Instant::now();
    let store = ctx.open_with_cache(OpenMode::Create, crate::store::BULK_CACHE_BYTES)?;
    let opts = crate::demo::DemoOptions {
        contacts: a.contacts,
        seed: a.seed,
        now: ctx.now,
        events_per_contact: a.events_per_contact,
    };
    let mut bar = Progress::new("demo");
    let result = (|| -> Result<crate::demo::DemoSummary> {
        let mut w = store.begin_write()?;
        let s = crate::demo::generate(&mut w, &opts, &mut |stage, done, total| bar.set(stage, done, Some(total)))?;
        w.mark_demo()?;
        w.commit()?;
        Ok(s)
    })();
    bar.finish();
    let summary = match result.and_then(|s| save_example_segments(&store, ctx).map(|_| s)) {
        Ok(s) => s,
        Err(e) => {
            drop(store);
            let _ = std::fs::remove_file(&ctx.db);
            return Err(e);
        }
    };
    writeln!(
        out,
        "demo database {}: {} contacts, {} events, {} tags ({:.1} s)",
        ctx.db.display(),
        summary.contacts,
        summary.events,
        summary.tags.len(),
        started.elapsed().as_secs_f64()
    )?;
    if a.open {
        drop(store);
        use std::io::IsTerminal;
        if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
            // with --now the console's clock stands at it; else it runs on
            return super::open_console(ctx, None);
        }
        writeln!(out, "not on a terminal: the console did not open (run `reach` on a terminal)")?;
    }
    Ok(())
}

/// The saved segments that spec/segments.md's examples refer to.
pub const EXAMPLE_SEGMENTS: &[(&str, &str)] = &[
    ("big_spenders", "sum(purchase.amount) >= 500"),
    ("recent_buyers", "count(purchase, last 30d) >= 1"),
    ("dormant_subscribers", "engagement = dormant and consent.email = true"),
];

fn save_example_segments(store: &Store, ctx: &Ctx) -> Result<()> {
    let never = std::sync::atomic::AtomicBool::new(false);
    let mut eng = crate::segment::engine::Engine::new(store.begin_read()?, ctx.config.derived.clone())?;
    let mut w = store.begin_write()?;
    for (name, src) in EXAMPLE_SEGMENTS {
        let e = crate::segment::parse(src).map_err(|e| Error::runtime(format!("{name}: {e}")))?;
        let count = eng.count(&e, ctx.now, &never)?;
        w.put_segment(&crate::model::segment::SavedSegment {
            name: name.to_string(),
            expr: crate::segment::print(&e),
            created_at: ctx.now,
            updated_at: ctx.now,
        })?;
        w.add_history_point(name, ctx.now, count)?;
    }
    w.commit()?;
    Ok(())
}
