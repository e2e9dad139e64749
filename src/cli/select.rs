//! Choosing contacts on the command line: `--tag`, `--contact` (and, with
//! the segment engine, `--where` and `--segment`).

use crate::error::{Error, Result};
use crate::store::Reader;
use clap::Args;
use roaring::RoaringBitmap;

#[derive(Args, Debug, Clone, Default)]
pub struct Selection {
    /// Only contacts with this tag
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Only these contacts (id, email or external id; repeatable)
    #[arg(long = "contact", value_name = "KEY")]
    pub contacts: Vec<String>,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.tag.is_none() && self.contacts.is_empty()
    }

    /// The chosen contacts, or None for "everyone" when nothing was given.
    pub fn resolve(&self, r: &Reader) -> Result<Option<RoaringBitmap>> {
        if self.is_empty() {
            return Ok(None);
        }
        let mut set: Option<RoaringBitmap> = None;
        let mut meet = |b: RoaringBitmap| {
            set = Some(match set.take() {
                Some(s) => s & b,
                None => b,
            })
        };
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
