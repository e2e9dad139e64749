//! Segments for front ends: check an expression (errors at their column),
//! count, explain and preview it with a cancel flag, save and delete named
//! segments, list them with live counts and size history, and the
//! vocabulary (fields, kinds, parameters, tags, values) for completion.

use super::{AppError, AppResult, Session};
use crate::model::segment::SavedSegment;
use crate::segment::engine::{ExplainNode, StoreCatalog};
use crate::segment::{Expr, ParseError, check, check_segment, parse, print};
use std::sync::atomic::AtomicBool;

/// A parsed and checked expression.
#[derive(Clone, Debug)]
pub struct Checked {
    pub expr: Expr,
    /// canonical text
    pub text: String,
    /// names that do not exist yet (a tag nobody has)
    pub warnings: Vec<String>,
}

/// A saved segment with its live count and size history.
#[derive(Clone, Debug)]
pub struct SegmentSummary {
    pub saved: SavedSegment,
    /// the count now, or why it cannot be counted
    pub count: Result<u64, String>,
    /// (time, count) points, oldest first
    pub history: Vec<(i64, u64)>,
}

fn invalid(e: ParseError, src: &str) -> AppError {
    AppError::Invalid { at: Some(e.column), reason: e.to_string(), source: Some(src.to_string()) }
}

impl Session {
    /// Parses and checks `src` against what the store holds.
    pub fn check_expr(&self, src: &str) -> AppResult<Checked> {
        self.check_as(src, None)
    }

    /// The same, for a segment about to be saved as `name` (no self reference).
    pub fn check_as(&self, src: &str, saving: Option<&str>) -> AppResult<Checked> {
        let e = parse(src).map_err(|e| invalid(e, src))?;
        let cat = self.catalog()?;
        let warnings = match saving {
            Some(name) => check_segment(name, &e, src, &cat),
            None => check(&e, src, &cat),
        }
        .map_err(|e| invalid(e, src))?;
        Ok(Checked { text: print(&e), expr: e, warnings: warnings.into_iter().map(|w| w.to_string()).collect() })
    }

    /// What the checker and completion know: fields, kinds, tags, segments.
    pub fn catalog(&self) -> AppResult<StoreCatalog> {
        Ok(StoreCatalog::load(&self.store.begin_read()?)?)
    }

    /// (matching, all contacts).
    pub fn count(&self, e: &Expr, cancel: &AtomicBool) -> AppResult<(u64, u64)> {
        let now = self.now();
        let mut eng = self.engine()?;
        let n = eng.count(e, now, cancel)?;
        Ok((n, eng.total()?))
    }

    /// The tree with each node's own count, and all contacts.
    pub fn explain(&self, e: &Expr, cancel: &AtomicBool) -> AppResult<(ExplainNode, u64)> {
        let now = self.now();
        let mut eng = self.engine()?;
        let tree = eng.explain(e, now, cancel)?;
        Ok((tree, eng.total()?))
    }

    /// How the members of `e` spread over the lifecycle stages.
    pub fn lifecycle_spread(&self, e: &Expr, cancel: &AtomicBool) -> AppResult<Vec<(&'static str, u64)>> {
        let now = self.now();
        let mut eng = self.engine()?;
        let m = eng.members(e, now, cancel)?;
        Ok(eng.lifecycle_spread(&m, now)?)
    }

    /// The first `n` matching contacts: id and label (email, else external id).
    pub fn preview(&self, e: &Expr, n: usize, cancel: &AtomicBool) -> AppResult<Vec<(u32, String)>> {
        let now = self.now();
        let ids: Vec<u32> = self.engine()?.members(e, now, cancel)?.iter().take(n).collect();
        let r = self.store.begin_read()?;
        Ok(r.contacts(&ids)?.into_iter().flatten().map(|c| (c.id, c.label())).collect())
    }

    /// Adds (or removes) `tag` on `ids` in one transaction, each change on
    /// the contact's timeline with its `source`; returns how many changed.
    pub fn change_tag(&self, tag: &str, ids: &roaring::RoaringBitmap, add: bool, source: &str) -> AppResult<u64> {
        use crate::model::contact::{Action, ActionKind};
        let now = self.now();
        let mut w = self.store.begin_write()?;
        let changed = if add { w.tag_add(tag, ids)? } else { w.tag_remove(tag, ids)? };
        let what = if add { ActionKind::TagAdded(tag.to_string()) } else { ActionKind::TagRemoved(tag.to_string()) };
        w.add_action_to_each(changed.iter(), &Action { ts: now, what, detail: source.into() })?;
        let verb = if add { "added to" } else { "removed from" };
        w.audit(&self.audit_entry(format!("tag {tag} {verb} {} contacts", changed.len())))?;
        w.commit()?;
        Ok(changed.len())
    }

    /// Every tag with its number of contacts, most used first, and all contacts.
    pub fn tag_counts(&self) -> AppResult<(Vec<(String, u64)>, u64)> {
        let mut eng = self.engine()?;
        let mut tags: Vec<(String, u64)> = eng.tags()?.iter().map(|(k, v)| (k.clone(), v.len())).collect();
        tags.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok((tags, eng.total()?))
    }

    /// Saves (or replaces) a named segment and records a size history point.
    pub fn save_segment(&self, name: &str, src: &str) -> AppResult<(String, u64)> {
        if !crate::model::schema::valid_name(name) {
            return Err(AppError::invalid(format!("`{name}` is not a valid segment name (letters, digits, _ and -)")));
        }
        let c = self.check_as(src, Some(name))?;
        let never = AtomicBool::new(false);
        let (count, _) = self.count(&c.expr, &never)?;
        let now = self.now();
        let mut w = self.store.begin_write()?;
        let created_at = w.segment(name)?.map(|s| s.created_at).unwrap_or(now);
        w.put_segment(&SavedSegment { name: name.to_string(), expr: c.text.clone(), created_at, updated_at: now })?;
        w.add_history_point(name, now, count)?;
        w.audit(&self.audit_entry(format!("segment {name} saved: {}", c.text)))?;
        w.commit()?;
        Ok((c.text, count))
    }

    /// Deletes a saved segment and its history; refused while another
    /// segment refers to it.
    pub fn delete_segment(&self, name: &str) -> AppResult<()> {
        let users: Vec<String> = self
            .store
            .begin_read()?
            .segments()?
            .into_iter()
            .filter(|s| {
                s.name != name
                    && parse(&s.expr).is_ok_and(|e| crate::segment::segment_refs(&e).iter().any(|r| r.text == name))
            })
            .map(|s| s.name)
            .collect();
        if !users.is_empty() {
            return Err(AppError::Conflict(format!("segment `{name}` is used by: {}", users.join(", "))));
        }
        let mut w = self.store.begin_write()?;
        if !w.delete_segment(name)? {
            return Err(AppError::not_found("segment", name));
        }
        w.audit(&self.audit_entry(format!("segment {name} deleted")))?;
        w.commit()?;
        Ok(())
    }

    pub fn segment(&self, name: &str) -> AppResult<SavedSegment> {
        self.store.begin_read()?.segment(name)?.ok_or_else(|| AppError::not_found("segment", name))
    }

    /// Every saved segment with its live count and history.
    pub fn segments(&self, cancel: &AtomicBool) -> AppResult<Vec<SegmentSummary>> {
        let r = self.store.begin_read()?;
        let saved = r.segments()?;
        let now = self.now();
        let mut out = Vec::with_capacity(saved.len());
        for s in saved {
            self.let_others_in();
            let count = match parse(&s.expr) {
                Ok(e) => match self.engine()?.count(&e, now, cancel) {
                    Ok(n) => Ok(n),
                    Err(e) if e.message == "cancelled" => return Err(AppError::Cancelled),
                    Err(e) => Err(e.message),
                },
                Err(e) => Err(e.to_string()),
            };
            let history = r.segment_history(&s.name)?;
            out.push(SegmentSummary { saved: s, count, history });
        }
        Ok(out)
    }

    pub fn total_contacts(&self) -> AppResult<u64> {
        Ok(self.engine()?.total()?)
    }
}
