//! Choosing contacts on the command line: `--where EXPR`, `--segment NAME`,
//! `--tag`, `--contact` (all given must hold).

use super::Ctx;
use crate::error::{Error, Result};
use crate::store::{Reader, Store};
use clap::Args;
use roaring::RoaringBitmap;

#[derive(Args, Debug, Clone, Default)]
pub struct Selection {
    /// Only contacts matching this segment expression
    #[arg(long = "where", value_name = "EXPR")]
    pub where_: Option<String>,
    /// Only contacts in this saved segment
    #[arg(long, value_name = "NAME")]
    pub segment: Option<String>,
    /// Only contacts with this tag
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Only these contacts (id, email or external id; repeatable)
    #[arg(long = "contact", value_name = "KEY")]
    pub contacts: Vec<String>,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.tag.is_none() && self.contacts.is_empty() && self.where_.is_none() && self.segment.is_none()
    }

    /// The chosen contacts, or None for "everyone" when nothing was given.
    pub fn resolve(&self, ctx: &Ctx, store: &Store, r: &Reader) -> Result<Option<RoaringBitmap>> {
        if self.is_empty() {
            return Ok(None);
        }
        let mut exprs = Vec::new();
        if let Some(w) = &self.where_ {
            exprs.push(super::segment::parse_expr(store, w, None)?);
        }
        if let Some(name) = &self.segment {
            if r.segment(name)?.is_none() {
                return Err(Error::input(format!("no segment named `{name}`")));
            }
            exprs.push(crate::segment::Expr::Pred(crate::segment::Predicate::Segment(crate::segment::Name::new(
                name.clone(),
            ))));
        }
        let mut set: Option<RoaringBitmap> = None;
        let mut meet = |b: RoaringBitmap| {
            set = Some(match set.take() {
                Some(s) => s & b,
                None => b,
            })
        };
        if !exprs.is_empty() {
            let mut eng = super::segment::engine(ctx, store)?;
            let never = std::sync::atomic::AtomicBool::new(false);
            for e in &exprs {
                meet(eng.members(e, ctx.now, &never)?);
            }
        }
        if let Some(t) = &self.tag {
            meet(r.tag(t)?.unwrap_or_default());
        }
        if !self.contacts.is_empty() {
            meet(resolve_keys(r, &self.contacts)?);
        }
        Ok(set)
    }
}

/// Resolves contact keys; any unknown key is an input error naming it.
pub fn resolve_keys(r: &Reader, keys: &[String]) -> Result<RoaringBitmap> {
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
        return Err(Error::input(format!("no such contact: {}", missing.join(", "))));
    }
    Ok(bm)
}
