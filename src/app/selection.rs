//! Choosing contacts for an operation on many of them (export, tagging,
//! listing): a checked segment expression, a saved segment, a tag and
//! contact keys, all given must hold; and resolving contact keys (id, email
//! or external id) to ids.

use super::{AppError, AppResult, Session};
use crate::segment::{Expr, Name, Predicate};
use crate::store::Reader;
use roaring::RoaringBitmap;
use std::sync::atomic::AtomicBool;

/// The contacts an operation applies to; every part given must hold.
#[derive(Clone, Debug, Default)]
pub struct ContactSelection {
    /// members of this (checked) expression
    pub expr: Option<Expr>,
    /// members of this saved segment
    pub segment: Option<String>,
    /// contacts with this tag
    pub tag: Option<String>,
    /// these contacts (id, email or external id)
    pub contacts: Vec<String>,
}

impl ContactSelection {
    /// Nothing narrows it: everyone.
    pub fn is_everyone(&self) -> bool {
        self.expr.is_none() && self.segment.is_none() && self.tag.is_none() && self.contacts.is_empty()
    }
}

/// Resolves contact keys in one snapshot; unknown keys are refused, all
/// named in one error.
pub fn contacts_by_key(r: &Reader, keys: &[String]) -> AppResult<RoaringBitmap> {
    let mut bm = RoaringBitmap::new();
    let mut missing = Vec::new();
    for k in keys {
        match r.find_contact(k)? {
            Some(id) => {
                bm.insert(id);
            }
            None => missing.push(k.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(AppError::invalid(format!("no such contact: {}", missing.join(", "))));
    }
    Ok(bm)
}

impl Session {
    /// The chosen contacts, or None for everyone when nothing narrows the
    /// selection. Expressions are counted on the warm engine at the
    /// session's clock; a saved segment that does not exist is `NotFound`.
    pub fn select(&self, sel: &ContactSelection, cancel: &AtomicBool) -> AppResult<Option<RoaringBitmap>> {
        if sel.is_everyone() {
            return Ok(None);
        }
        let r = self.store.begin_read()?;
        let mut exprs: Vec<Expr> = sel.expr.iter().cloned().collect();
        if let Some(name) = &sel.segment {
            if r.segment(name)?.is_none() {
                return Err(AppError::not_found("segment", name.clone()));
            }
            exprs.push(Expr::Pred(Predicate::Segment(Name::new(name.clone()))));
        }
        let mut set: Option<RoaringBitmap> = None;
        let mut meet = |b: RoaringBitmap| {
            set = Some(match set.take() {
                Some(s) => s & b,
                None => b,
            })
        };
        if !exprs.is_empty() {
            let now = self.now();
            let mut eng = self.engine()?;
            for e in &exprs {
                meet(eng.members(e, now, cancel)?);
            }
        }
        if let Some(t) = &sel.tag {
            meet(r.tag(t)?.unwrap_or_default());
        }
        if !sel.contacts.is_empty() {
            meet(contacts_by_key(&r, &sel.contacts)?);
        }
        Ok(set)
    }

    /// Resolves contact keys (id, email or external id); any unknown key
    /// is refused.
    pub fn find_contacts(&self, keys: &[String]) -> AppResult<RoaringBitmap> {
        contacts_by_key(&self.store.begin_read()?, keys)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::app::Clock;
    use crate::config::Config;
    use crate::import::{ImportOptions, What};
    use crate::store::{OpenMode, Store};
    use std::sync::Arc;

    /// A session on a new database in `dir` holding one contact per email,
    /// imported through the session; returns their ids in that order.
    pub(crate) fn session_with(dir: &tempfile::TempDir, emails: &[&str]) -> (Session, Vec<u32>) {
        let store = Store::open(&dir.path().join("t.redb"), OpenMode::Create).unwrap();
        let s = Session::over(Arc::new(store), Config::default(), Clock::Fixed(1_700_000_000));
        let csv = dir.path().join("contacts.csv");
        std::fs::write(&csv, format!("email\n{}\n", emails.join("\n"))).unwrap();
        let never = AtomicBool::new(false);
        s.import(What::Contacts, csv.to_str().unwrap(), &ImportOptions::default(), &mut |_| {}, &never).unwrap();
        let ids = emails.iter().map(|e| s.find_contact(e).unwrap()).collect();
        (s, ids)
    }

    /// Ten contacts c0..c9@example.com (`ids` in that order); even ones
    /// tagged `even`, the first five `low`; a saved segment `evens`.
    fn fixture(dir: &tempfile::TempDir) -> (Session, Vec<u32>) {
        let emails: Vec<String> = (0..10).map(|i| format!("c{i}@example.com")).collect();
        let (s, ids) = session_with(dir, &emails.iter().map(String::as_str).collect::<Vec<_>>());
        s.change_tag("even", &ids.iter().step_by(2).copied().collect(), true, "test").unwrap();
        s.change_tag("low", &ids[..5].iter().copied().collect(), true, "test").unwrap();
        s.save_segment("evens", "tag:even").unwrap();
        (s, ids)
    }
    fn bm(ids: &[u32]) -> RoaringBitmap {
        ids.iter().copied().collect()
    }

    #[test]
    fn every_part_given_must_hold() {
        let dir = tempfile::tempdir().unwrap();
        let (s, ids) = fixture(&dir);
        let never = AtomicBool::new(false);
        assert_eq!(s.select(&ContactSelection::default(), &never).unwrap(), None, "nothing given: everyone");
        let low = ContactSelection { expr: Some(s.check_expr("tag:low").unwrap().expr), ..Default::default() };
        assert_eq!(s.select(&low, &never).unwrap(), Some(bm(&ids[..5])));
        let low_evens = ContactSelection { segment: Some("evens".into()), ..low.clone() };
        assert_eq!(s.select(&low_evens, &never).unwrap(), Some(bm(&[ids[0], ids[2], ids[4]])));
        let one = ContactSelection { contacts: vec!["c2@example.com".into(), "c3@example.com".into()], ..low_evens };
        assert_eq!(s.select(&one, &never).unwrap(), Some(bm(&[ids[2]])));
        let nobody = ContactSelection { tag: Some("nobody-has-it".into()), ..Default::default() };
        assert_eq!(s.select(&nobody, &never).unwrap(), Some(RoaringBitmap::new()));
    }

    #[test]
    fn unknown_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (s, ids) = fixture(&dir);
        let never = AtomicBool::new(false);
        let missing = ContactSelection { segment: Some("nope".into()), ..Default::default() };
        assert_eq!(s.select(&missing, &never).unwrap_err(), AppError::not_found("segment", "nope"));
        let keys = vec!["c1@example.com".to_string(), "x@example.com".into(), "y".into()];
        let e = s.find_contacts(&keys).unwrap_err();
        assert_eq!(e, AppError::invalid("no such contact: x@example.com, y"));
        assert_eq!(s.find_contacts(&keys[..1]).unwrap(), bm(&[ids[1]]));
    }
}
