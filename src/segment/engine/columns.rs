//! Contact fields as columns indexed by contact id: built once from the
//! store's contact records, then kept current contact by contact.

use super::bits::Bits;
use crate::error::Result;
use crate::model::Schema;
use crate::model::attribute::AttrType;
use crate::model::contact::{AttrValueView as AttrValue, ContactView};
use crate::store::Reader;
use crate::store::codec::NUM_NONE;

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
    /// Moves the values of ids `from..to` from `other` into self.
    fn take_range(&mut self, other: &TextCol, from: usize, to: usize) {
        let shift = self.arena.len() as u32;
        self.arena.push_str(&other.arena);
        for id in from..to {
            self.len[id] = other.len[id];
            self.start[id] = other.start[id] + shift;
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
                    for &x in vs {
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
}

impl ContactColumns {
    fn empty(schema: &Schema, n: usize) -> ContactColumns {
        ContactColumns {
            n,
            score: vec![0; n],
            created_at: vec![0; n],
            email: TextCol::new(n),
            external_id: TextCol::new(n),
            timezone: TextCol::new(n),
            consent: [vec![0; n], vec![0; n], vec![0; n]],
            attrs: schema.attributes.iter().map(|a| AttrCol::new(&a.ty, n)).collect(),
        }
    }

    /// Loads every contact: two threads each read and decode half of the
    /// id range straight from the store, then the halves are joined.
    pub fn load(r: &Reader, schema: &Schema) -> Result<ContactColumns> {
        let n = (r.meta("next_contact")?.max(1)) as usize;
        let mid = (n / 2) as u32;
        let decode = |range: std::ops::Range<u32>| -> Result<ContactColumns> {
            let mut cols = ContactColumns::empty(schema, n);
            r.for_each_contact_view_in(range, |c| cols.upsert(schema, &c))?;
            Ok(cols)
        };
        let (a, b) = std::thread::scope(|s| {
            let hb = s.spawn(|| decode(mid..u32::MAX));
            let a = decode(0..mid);
            (a, hb.join().unwrap_or_else(|_| Err(crate::error::Error::runtime("contact decoder panicked"))))
        });
        let mut cols = a?;
        cols.take_range(b?, mid as usize, n);
        Ok(cols)
    }

    /// Moves the values of ids `from..to` from `other` (same shape) into self.
    fn take_range(&mut self, other: ContactColumns, from: usize, to: usize) {
        let to = to.min(self.n).min(other.n);
        self.score[from..to].copy_from_slice(&other.score[from..to]);
        self.created_at[from..to].copy_from_slice(&other.created_at[from..to]);
        for ch in 0..3 {
            self.consent[ch][from..to].copy_from_slice(&other.consent[ch][from..to]);
        }
        self.email.take_range(&other.email, from, to);
        self.external_id.take_range(&other.external_id, from, to);
        self.timezone.take_range(&other.timezone, from, to);
        for (a, b) in self.attrs.iter_mut().zip(other.attrs) {
            match (a, b) {
                (AttrCol::Number(x), AttrCol::Number(y)) => x[from..to].copy_from_slice(&y[from..to]),
                (AttrCol::Text(x), AttrCol::Text(y)) => x.take_range(&y, from, to),
                (AttrCol::Bool(x), AttrCol::Bool(y)) => x[from..to].copy_from_slice(&y[from..to]),
                (AttrCol::Date(x), AttrCol::Date(y)) => x[from..to].copy_from_slice(&y[from..to]),
                (AttrCol::Enum(x), AttrCol::Enum(y)) => x[from..to].copy_from_slice(&y[from..to]),
                (AttrCol::Set(xs, xany), AttrCol::Set(ys, yany)) => {
                    for (x, y) in xs.iter_mut().zip(&ys) {
                        x.or_with(y);
                    }
                    xany.or_with(&yany);
                }
                _ => {}
            }
        }
    }

    /// Makes room for ids below `n`.
    pub fn grow(&mut self, n: usize) {
        if n <= self.n {
            return;
        }
        self.n = n;
        self.score.resize(n, 0);
        self.created_at.resize(n, 0);
        for t in [&mut self.email, &mut self.external_id, &mut self.timezone] {
            t.grow(n);
        }
        for c in &mut self.consent {
            c.resize(n, 0);
        }
        for a in &mut self.attrs {
            a.grow(n);
        }
    }

    /// New attributes declared since load.
    pub fn sync_schema(&mut self, schema: &Schema) {
        for a in schema.attributes.iter().skip(self.attrs.len()) {
            self.attrs.push(AttrCol::new(&a.ty, self.n));
        }
    }

    pub fn upsert(&mut self, schema: &Schema, c: &ContactView) {
        let id = c.id as usize;
        if id >= self.n {
            self.grow((id + 1).max(self.n * 5 / 4));
        }
        if self.attrs.len() < schema.attributes.len() {
            self.sync_schema(schema);
        }
        self.score[id] = c.score;
        self.created_at[id] = c.created_at;
        self.email.set(id, c.email);
        self.external_id.set(id, c.external_id);
        self.timezone.set(id, c.timezone);
        for ch in 0..3 {
            self.consent[ch][id] = match c.consent[ch] {
                None => 0,
                Some(x) => 1 + x.opted_in as u8,
            };
        }
        for (i, def) in schema.attributes.iter().enumerate() {
            self.attrs[i].set(id, c.attr(i as u16), &def.ty);
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
