//! Contact fields as columns indexed by contact id: each field read from
//! the store's columns the first time a criterion names it, then kept
//! current contact by contact.

use super::bits::Bits;
use crate::error::Result;
use crate::model::Schema;
use crate::model::attribute::AttrType;
use crate::model::contact::{AttrValueView as AttrValue, ContactView};
use crate::store::Reader;
use crate::store::codec::NUM_NONE;
pub use crate::store::contact_columns::Field as ColField;
use crate::store::contact_columns::{CHUNK as STORE_CHUNK, Col};
use std::collections::HashSet;

pub const DATE_NONE: i32 = i32::MIN;
pub const ENUM_NONE: u16 = u16::MAX;

/// Text by contact: every value in one arena, addressed by (start, len);
/// len `NONE` is "no value". Building it is a copy, and comparing scans the
/// arena in order, which beats hashing a million distinct emails.
#[derive(Clone, Default)]
pub struct TextCol {
    start: Vec<u32>,
    len: Vec<u32>,
    arena: String,
}

const NONE: u32 = u32::MAX;

impl std::fmt::Debug for TextCol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextCol").field("bytes", &self.arena.len()).finish()
    }
}

impl TextCol {
    fn new(n: usize) -> TextCol {
        TextCol { start: vec![0; n], len: vec![NONE; n], arena: String::new() }
    }
    fn grow(&mut self, n: usize) {
        self.start.resize(n, 0);
        self.len.resize(n, NONE);
    }
    fn set(&mut self, id: usize, v: Option<&str>) {
        match v {
            None => self.len[id] = NONE,
            Some(s) => {
                // an unchanged value keeps its place; a changed one is appended
                if self.get(id) == Some(s) {
                    return;
                }
                self.start[id] = self.arena.len() as u32;
                self.len[id] = s.len() as u32;
                self.arena.push_str(s);
            }
        }
    }
    #[inline]
    pub fn get(&self, id: usize) -> Option<&str> {
        match self.len.get(id) {
            Some(&NONE) | None => None,
            Some(&l) => {
                let s = self.start[id] as usize;
                Some(&self.arena[s..s + l as usize])
            }
        }
    }
}

#[derive(Clone, Debug)]
pub enum AttrCol {
    Number(Vec<i64>),
    Text(TextCol),
    /// 0 none, 1 false, 2 true
    Bool(Vec<u8>),
    Date(Vec<i32>),
    Enum(Vec<u16>),
    /// one set per declared value, and the contacts with any value
    Set(Vec<Bits>, Bits),
}

impl AttrCol {
    fn new(ty: &AttrType, n: usize) -> AttrCol {
        match ty {
            AttrType::Number => AttrCol::Number(vec![NUM_NONE; n]),
            AttrType::Text => AttrCol::Text(TextCol::new(n)),
            AttrType::Bool => AttrCol::Bool(vec![0; n]),
            AttrType::Date => AttrCol::Date(vec![DATE_NONE; n]),
            AttrType::Enum(_) => AttrCol::Enum(vec![ENUM_NONE; n]),
            AttrType::Set(vals) => AttrCol::Set(vals.iter().map(|_| Bits::new(n)).collect(), Bits::new(n)),
        }
    }

    fn grow(&mut self, n: usize) {
        match self {
            AttrCol::Number(v) => v.resize(n, NUM_NONE),
            AttrCol::Text(t) => t.grow(n),
            AttrCol::Bool(v) => v.resize(n, 0),
            AttrCol::Date(v) => v.resize(n, DATE_NONE),
            AttrCol::Enum(v) => v.resize(n, ENUM_NONE),
            AttrCol::Set(sets, any) => {
                for s in sets {
                    s.grow(n);
                }
                any.grow(n);
            }
        }
    }

    fn set(&mut self, id: usize, v: Option<&AttrValue>, ty: &AttrType) {
        match self {
            AttrCol::Number(c) => c[id] = if let Some(AttrValue::Number(d)) = v { d.units() } else { NUM_NONE },
            AttrCol::Text(c) => c.set(id, if let Some(AttrValue::Text(s)) = v { Some(*s) } else { None }),
            AttrCol::Bool(c) => c[id] = if let Some(AttrValue::Bool(b)) = v { 1 + *b as u8 } else { 0 },
            AttrCol::Date(c) => c[id] = if let Some(AttrValue::Date(d)) = v { *d } else { DATE_NONE },
            AttrCol::Enum(c) => c[id] = if let Some(AttrValue::Enum(e)) = v { *e } else { ENUM_NONE },
            AttrCol::Set(sets, any) => {
                if let AttrType::Set(vals) = ty
                    && sets.len() < vals.len()
                {
                    let n = any.len();
                    sets.resize_with(vals.len(), || Bits::new(n));
                }
                for s in sets.iter_mut() {
                    s.clear(id);
                }
                any.clear(id);
                if let Some(AttrValue::Set(vs)) = v {
                    for &x in vs.iter() {
                        if let Some(s) = sets.get_mut(x as usize) {
                            s.set(id);
                            any.set(id);
                        }
                    }
                }
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct ContactColumns {
    /// id space: max id + 1
    pub n: usize,
    pub score: Vec<i64>,
    pub created_at: Vec<i64>,
    pub email: TextCol,
    pub external_id: TextCol,
    pub timezone: TextCol,
    /// per channel: 0 none, 1 opted out, 2 opted in
    pub consent: [Vec<u8>; 3],
    /// per schema attribute
    pub attrs: Vec<AttrCol>,
    /// the fields read so far; the others are empty until `ensure` reads them
    loaded: HashSet<ColField>,
}

impl ContactColumns {
    /// Columns of `n` ids with no field read yet.
    pub fn new(schema: &Schema, n: usize) -> ContactColumns {
        ContactColumns {
            n,
            score: Vec::new(),
            created_at: Vec::new(),
            email: TextCol::new(0),
            external_id: TextCol::new(0),
            timezone: TextCol::new(0),
            consent: [Vec::new(), Vec::new(), Vec::new()],
            attrs: schema.attributes.iter().map(|a| AttrCol::new(&a.ty, 0)).collect(),
            loaded: HashSet::new(),
        }
    }

    pub fn is_loaded(&self, f: ColField) -> bool {
        self.loaded.contains(&f)
    }

    /// Reads the fields of `fields` not read yet from the store's columns
    /// (each a range of rows of 4,096 contacts, see `store::contact_columns`).
    pub fn ensure(&mut self, r: &Reader, schema: &Schema, fields: &[ColField]) -> Result<()> {
        self.sync_schema(schema);
        for &f in fields {
            if self.loaded.contains(&f) {
                continue;
            }
            if let ColField::Attr(i) = f
                && i as usize >= self.attrs.len()
            {
                continue;
            }
            self.loaded.insert(f);
            if let ColField::Attr(i) = f {
                // values declared since the columns were made count too
                self.attrs[i as usize] = AttrCol::new(&schema.attributes[i as usize].ty, 0);
            }
            self.resize_field(f, self.n);
            let n = self.n;
            let ty = match f {
                ColField::Attr(i) => Some(schema.attributes[i as usize].ty.clone()),
                _ => None,
            };
            r.for_each_column_row(f, |first, col| self.fill(f, ty.as_ref(), first as usize, n, &col))?;
        }
        Ok(())
    }

    /// Copies one stored row of field `f` (ids from `first`) into its column.
    fn fill(&mut self, f: ColField, ty: Option<&AttrType>, first: usize, n: usize, col: &Col) {
        let slots = (n.saturating_sub(first)).min(STORE_CHUNK as usize);
        match col {
            Col::Numbers(v) => {
                let v = &v[..slots];
                let ids = first..first + slots;
                let none = crate::store::contact_columns::NONE;
                match f {
                    ColField::Score => {
                        self.score[ids].iter_mut().zip(v).for_each(|(d, &x)| *d = if x == none { 0 } else { x })
                    }
                    ColField::CreatedAt => {
                        self.created_at[ids].iter_mut().zip(v).for_each(|(d, &x)| *d = if x == none { 0 } else { x })
                    }
                    ColField::Consent(ch) => self.consent[ch as usize][ids]
                        .iter_mut()
                        .zip(v)
                        .for_each(|(d, &x)| *d = if x == none { 0 } else { 1 + (x != 0) as u8 }),
                    ColField::Attr(i) => match &mut self.attrs[i as usize] {
                        AttrCol::Number(c) => c[ids].copy_from_slice(v),
                        AttrCol::Bool(c) => c[ids]
                            .iter_mut()
                            .zip(v)
                            .for_each(|(d, &x)| *d = if x == none { 0 } else { 1 + (x != 0) as u8 }),
                        AttrCol::Date(c) => c[ids].iter_mut().zip(v).for_each(|(d, &x)| {
                            *d =
                                if x == none { DATE_NONE } else { x.clamp(i32::MIN as i64 + 1, i32::MAX as i64) as i32 }
                        }),
                        AttrCol::Enum(c) => c[ids].iter_mut().zip(v).for_each(|(d, &x)| {
                            *d = if x == none { ENUM_NONE } else { x.clamp(0, ENUM_NONE as i64 - 1) as u16 }
                        }),
                        _ => {}
                    },
                    _ => {}
                }
            }
            Col::Texts(t) => {
                let target = match f {
                    ColField::Email => &mut self.email,
                    ColField::ExternalId => &mut self.external_id,
                    ColField::Timezone => &mut self.timezone,
                    ColField::Attr(i) => match &mut self.attrs[i as usize] {
                        AttrCol::Text(c) => c,
                        _ => return,
                    },
                    _ => return,
                };
                for slot in 0..slots {
                    if let Some(s) = t.get(slot) {
                        target.set(first + slot, Some(s));
                    }
                }
            }
            Col::Sets(sets) => {
                if let (ColField::Attr(i), Some(AttrType::Set(_))) = (f, ty)
                    && let AttrCol::Set(bits, any) = &mut self.attrs[i as usize]
                {
                    for (slot, vals) in sets[..slots].iter().enumerate() {
                        for &x in vals {
                            if let Some(b) = bits.get_mut(x as usize) {
                                b.set(first + slot);
                                any.set(first + slot);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Sizes field `f`'s column for `n` ids.
    fn resize_field(&mut self, f: ColField, n: usize) {
        match f {
            ColField::Score => self.score.resize(n, 0),
            ColField::CreatedAt => self.created_at.resize(n, 0),
            ColField::Email => self.email.grow(n),
            ColField::ExternalId => self.external_id.grow(n),
            ColField::Timezone => self.timezone.grow(n),
            ColField::Consent(ch) => self.consent[ch as usize].resize(n, 0),
            ColField::Attr(i) => {
                if let Some(a) = self.attrs.get_mut(i as usize) {
                    a.grow(n)
                }
            }
        }
    }

    /// Makes room for ids below `n` in the fields read.
    pub fn grow(&mut self, n: usize) {
        if n <= self.n {
            return;
        }
        self.n = n;
        let loaded: Vec<ColField> = self.loaded.iter().copied().collect();
        for f in loaded {
            self.resize_field(f, n);
        }
    }

    /// New attributes declared since load (not read until asked for).
    pub fn sync_schema(&mut self, schema: &Schema) {
        for a in schema.attributes.iter().skip(self.attrs.len()) {
            self.attrs.push(AttrCol::new(&a.ty, 0));
        }
    }

    /// Brings the fields read up to date with contact `c`.
    pub fn upsert(&mut self, schema: &Schema, c: &ContactView) {
        let id = c.id as usize;
        if id >= self.n {
            self.grow((id + 1).max(self.n * 5 / 4));
        }
        if self.attrs.len() < schema.attributes.len() {
            self.sync_schema(schema);
        }
        let loaded = |f| self.loaded.contains(&f);
        let (score, created, email, xid, tz) = (
            loaded(ColField::Score),
            loaded(ColField::CreatedAt),
            loaded(ColField::Email),
            loaded(ColField::ExternalId),
            loaded(ColField::Timezone),
        );
        let consent = [0u8, 1, 2].map(|ch| loaded(ColField::Consent(ch)));
        if score {
            self.score[id] = c.score;
        }
        if created {
            self.created_at[id] = c.created_at;
        }
        if email {
            self.email.set(id, c.email);
        }
        if xid {
            self.external_id.set(id, c.external_id);
        }
        if tz {
            self.timezone.set(id, c.timezone);
        }
        for ((col, read), given) in self.consent.iter_mut().zip(consent).zip(c.consent) {
            if read {
                col[id] = match given {
                    None => 0,
                    Some(x) => 1 + x.opted_in as u8,
                };
            }
        }
        for (i, def) in schema.attributes.iter().enumerate() {
            if self.loaded.contains(&ColField::Attr(i as u16)) {
                self.attrs[i].set(id, c.attr(i as u16), &def.ty);
            }
        }
    }

    pub fn remove(&mut self, schema: &Schema, id: u32) {
        if id as usize >= self.n {
            return;
        }
        let blank = crate::model::Contact { id, ..Default::default() };
        self.upsert(schema, &ContactView::of(&blank));
    }
}
