//! Contact fields as columns indexed by contact id: built once from the
//! store's contact records, then kept current contact by contact.

use super::bits::Bits;
use crate::error::Result;
use crate::model::attribute::AttrType;
use crate::model::{AttrValue, Contact, Schema};
use crate::store::Reader;
use crate::store::codec::NUM_NONE;
use std::collections::HashMap;

pub const DATE_NONE: i32 = i32::MIN;
pub const ENUM_NONE: u16 = u16::MAX;

/// Dictionary-encoded text: code 0 is "no value".
#[derive(Clone, Debug, Default)]
pub struct TextCol {
    pub codes: Vec<u32>,
    pub dict: Vec<String>,
    index: HashMap<String, u32>,
}

impl TextCol {
    fn new(n: usize) -> TextCol {
        TextCol { codes: vec![0; n], dict: vec![String::new()], index: HashMap::new() }
    }
    fn set(&mut self, id: usize, v: Option<&str>) {
        self.codes[id] = match v {
            None => 0,
            Some(s) => match self.index.get(s) {
                Some(c) => *c,
                None => {
                    let c = self.dict.len() as u32;
                    self.dict.push(s.to_string());
                    self.index.insert(s.to_string(), c);
                    c
                }
            },
        };
    }
    pub fn code(&self, s: &str) -> Option<u32> {
        self.index.get(s).copied()
    }
    pub fn get(&self, id: usize) -> Option<&str> {
        match self.codes.get(id) {
            Some(0) | None => None,
            Some(c) => Some(&self.dict[*c as usize]),
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
            AttrCol::Text(t) => t.codes.resize(n, 0),
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
            AttrCol::Text(c) => c.set(id, if let Some(AttrValue::Text(s)) = v { Some(s) } else { None }),
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
    pub alive: Bits,
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
            alive: Bits::new(n),
            score: vec![0; n],
            created_at: vec![0; n],
            email: TextCol::new(n),
            external_id: TextCol::new(n),
            timezone: TextCol::new(n),
            consent: [vec![0; n], vec![0; n], vec![0; n]],
            attrs: schema.attributes.iter().map(|a| AttrCol::new(&a.ty, n)).collect(),
        }
    }

    pub fn load(r: &Reader, schema: &Schema) -> Result<ContactColumns> {
        let n = (r.meta("next_contact")?.max(1)) as usize;
        let mut cols = ContactColumns::empty(schema, n);
        r.for_each_contact(|c| {
            cols.upsert(schema, &c);
            Ok(true)
        })?;
        Ok(cols)
    }

    /// Makes room for ids below `n`.
    pub fn grow(&mut self, n: usize) {
        if n <= self.n {
            return;
        }
        self.n = n;
        self.alive.grow(n);
        self.score.resize(n, 0);
        self.created_at.resize(n, 0);
        for t in [&mut self.email, &mut self.external_id, &mut self.timezone] {
            t.codes.resize(n, 0);
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

    pub fn upsert(&mut self, schema: &Schema, c: &Contact) {
        let id = c.id as usize;
        if id >= self.n {
            self.grow((id + 1).max(self.n * 5 / 4));
        }
        self.sync_schema(schema);
        self.alive.set(id);
        self.score[id] = c.score;
        self.created_at[id] = c.created_at;
        self.email.set(id, c.email.as_deref());
        self.external_id.set(id, c.external_id.as_deref());
        self.timezone.set(id, c.timezone.as_deref());
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
        let id = id as usize;
        if id >= self.n {
            return;
        }
        self.alive.clear(id);
        let blank = Contact { id: id as u32, ..Default::default() };
        self.upsert(schema, &blank);
        self.alive.clear(id);
    }
}
