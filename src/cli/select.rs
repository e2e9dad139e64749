//! Choosing contacts on the command line: `--where EXPR`, `--segment NAME`,
//! `--tag`, `--contact` (all given must hold), turned into the application
//! layer's `ContactSelection` and resolved by the session.

use super::Ctx;
use crate::app::Session;
use crate::app::selection::ContactSelection;
use crate::error::Result;
use clap::Args;
use roaring::RoaringBitmap;
use std::sync::atomic::AtomicBool;

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

    /// The application layer's selection; the `--where` expression is
    /// checked first (its warnings go to the person running the command).
    pub fn to_app(&self, ctx: &Ctx, session: &Session) -> Result<ContactSelection> {
        let expr = match &self.where_ {
            Some(w) => Some(super::segment::checked(ctx, session, w, None)?),
            None => None,
        };
        Ok(ContactSelection {
            expr,
            segment: self.segment.clone(),
            tag: self.tag.clone(),
            contacts: self.contacts.clone(),
        })
    }

    /// The chosen contacts, or None for "everyone" when nothing was given.
    pub fn resolve_in(&self, ctx: &Ctx, session: &Session) -> Result<Option<RoaringBitmap>> {
        if self.is_empty() {
            return Ok(None);
        }
        let never = AtomicBool::new(false);
        Ok(session.select(&self.to_app(ctx, session)?, &never)?)
    }
}
