//! The demo generator: a realistic, deterministic marketing database
//! (contacts across Italy, Germany, France, Spain and Poland with a product
//! catalogue, purchases, browsing, email engagement, SMS/push, tickets, tags
//! and categories), written through a bulk `Loader` over the caller's `Writer`.
//!
//! Deterministic per (seed, now, contacts): contacts are generated in fixed
//! chunks, each with its own ChaCha8 stream, so the output does not depend
//! on how many threads generate them. Distributions are documented in
//! demo_data/README.md.

mod data;
mod generate;

use crate::error::{Error, Result};
use crate::model::AttrType;
use crate::store::codec::ParamData;
use crate::store::{Loader, Writer};
use roaring::RoaringBitmap;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::mpsc::sync_channel;

pub use data::{CATEGORIES, INTERESTS, TAGS};
use generate::{Chunk, Ctx};

#[derive(Clone, Debug, PartialEq)]
pub struct DemoOptions {
    pub contacts: u64,
    pub seed: u64,
    /// unix seconds; every generated timestamp is at or before it
    pub now: i64,
    /// mean events per contact (default 20)
    pub events_per_contact: f64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions { contacts: 5_000, seed: 7, now: crate::model::time::now_ts(), events_per_contact: 20.0 }
    }
}

/// What `generate` wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub contacts: u64,
    pub events: u64,
    pub events_by_kind: BTreeMap<String, u64>,
    /// tag → contacts
    pub tags: BTreeMap<String, u64>,
    /// declared categories (including parents)
    pub categories: u64,
    /// purchases (each has its own order id)
    pub orders: u64,
    /// lifecycle stage → contacts (default thresholds, at `now`)
    pub lifecycle: BTreeMap<String, u64>,
    /// engagement level → contacts (default thresholds, at `now`)
    pub engagement: BTreeMap<String, u64>,
}

/// Contacts per generation chunk (one ChaCha8 stream each).
const CHUNK: usize = 4096;

/// The most contacts `generate` makes (ids stay well inside 32 bits).
pub const MAX_CONTACTS: u64 = u32::MAX as u64 / 2;

/// Generates the demo data into an open write transaction (the caller
/// commits). Meant for an empty database: the demo's external ids
/// (`C0000001`) and emails must not exist yet. `progress(stage, done, total)`
/// is called after each chunk.
pub fn generate(w: &mut Writer, opts: &DemoOptions, progress: &mut dyn FnMut(&str, u64, u64)) -> Result<DemoSummary> {
    if opts.contacts > MAX_CONTACTS {
        return Err(Error::input(format!("{} contacts is too many (at most {MAX_CONTACTS})", opts.contacts)));
    }
    if !(opts.events_per_contact.is_finite() && opts.events_per_contact >= 0.0) {
        return Err(Error::input("events per contact must be a non-negative number"));
    }
    let interests = INTERESTS.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match w.schema().attr("interests") {
        Some((_, a)) if a.ty == AttrType::Set(interests.clone()) => {}
        Some((_, a)) => {
            return Err(Error::input(format!(
                "attribute `interests` already exists as {}, the demo needs many-of",
                a.ty.name()
            )));
        }
        None => {
            w.schema_mut().add_attribute("interests", AttrType::Set(interests)).map_err(Error::input)?;
        }
    }
    let mut load = Loader::new(w);
    let sum = fill(&mut load, opts, progress)?;
    // the generator's state is gone before the load writes what it holds
    load.finish()?;
    Ok(sum)
}

/// Writes the contacts, events, tags and categories through the load.
fn fill(w: &mut Loader, opts: &DemoOptions, progress: &mut dyn FnMut(&str, u64, u64)) -> Result<DemoSummary> {
    w.load_dict()?;
    let ctx = Ctx::new(w, opts)?;
    let mut category_leaf = Vec::new();
    let mut declared = std::collections::BTreeSet::new();
    for path in ctx.contact_category_paths() {
        category_leaf.push(w.ensure_category(path)?);
        let mut prefix = String::new();
        for part in path.split('/') {
            prefix.push_str(part);
            declared.insert(prefix.clone());
            prefix.push('/');
        }
    }

    let n = opts.contacts as usize;
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        ids.push(w.alloc_contact_id(None)?);
    }
    let nchunks = n.div_ceil(CHUNK);
    let workers = std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1).clamp(1, 2);

    let mut sum = DemoSummary { categories: declared.len() as u64, ..Default::default() };
    let mut tag_bm: Vec<RoaringBitmap> = vec![RoaringBitmap::new(); TAGS.len()];
    let mut cat_bm: Vec<RoaringBitmap> = vec![RoaringBitmap::new(); category_leaf.len()];
    let mut kind_counts = vec![0u64; generate::KINDS.len()];
    let mut lifecycle = [0u64; 6];
    let mut engagement = [0u64; 4];
    let mut order_buf = String::new();

    std::thread::scope(|s| -> Result<()> {
        let mut rxs = Vec::new();
        for wk in 0..workers {
            let (tx, rx) = sync_channel::<Chunk>(1);
            rxs.push(rx);
            let (ctx, ids) = (&ctx, &ids);
            s.spawn(move || {
                for ci in (wk..nchunks).step_by(workers) {
                    let lo = ci * CHUNK;
                    let hi = (lo + CHUNK).min(ids.len());
                    if tx.send(ctx.chunk(ci as u64, &ids[lo..hi])).is_err() {
                        break;
                    }
                }
            });
        }
        for ci in 0..nchunks {
            let mut chunk = rxs[ci % workers].recv().map_err(|_| Error::runtime("demo generator thread failed"))?;
            w.put_contacts(&chunk.contacts)?;
            // order ids are unique text values: interned here, in chunk order
            let (pk, order_slot) = (generate::K_PURCHASE, ctx.order_slot());
            let b = &mut chunk.blocks[pk];
            if let ParamData::Text(col) = &mut b.params[order_slot].1 {
                for (i, seq) in col.iter_mut().enumerate() {
                    order_buf.clear();
                    let _ = write!(order_buf, "O{:07}-{}", b.contact[i], *seq);
                    *seq = w.intern(&order_buf)?;
                }
                sum.orders += col.len() as u64;
            }
            // the loader files the events by time span
            for (k, src) in chunk.blocks.into_iter().enumerate() {
                kind_counts[k] += src.len() as u64;
                w.write_block(src)?;
            }
            for (t, list) in chunk.tags.iter().enumerate() {
                tag_bm[t].extend(list.iter().copied());
            }
            for (c, list) in chunk.categories.iter().enumerate() {
                cat_bm[c].extend(list.iter().copied());
            }
            for (a, b) in lifecycle.iter_mut().zip(chunk.lifecycle) {
                *a += b;
            }
            for (a, b) in engagement.iter_mut().zip(chunk.engagement) {
                *a += b;
            }
            sum.contacts += chunk.contacts.len() as u64;
            progress("contacts", sum.contacts, opts.contacts);
        }
        Ok(())
    })?;

    for (k, &count) in kind_counts.iter().enumerate() {
        let name = ctx.kind_name(k).to_string();
        sum.events += count;
        sum.events_by_kind.insert(name, count);
    }
    for (t, bm) in tag_bm.iter().enumerate() {
        if !bm.is_empty() {
            w.tag_add(TAGS[t], bm)?;
            sum.tags.insert(TAGS[t].to_string(), bm.len());
        }
    }
    let members: HashMap<String, RoaringBitmap> =
        category_leaf.into_iter().zip(cat_bm).filter(|(_, bm)| !bm.is_empty()).collect();
    w.add_category_members(&members)?;
    for (stage, n) in crate::derived::Lifecycle::ALL.iter().zip(lifecycle) {
        sum.lifecycle.insert(stage.name().to_string(), n);
    }
    for (level, n) in crate::derived::Engagement::ALL.iter().zip(engagement) {
        sum.engagement.insert(level.name().to_string(), n);
    }
    progress("events", sum.events, sum.events);
    Ok(sum)
}

/// Appends rows `lo..hi` of `src` to `dst` (same kind and column layout).
#[cfg(test)]
mod tests;
