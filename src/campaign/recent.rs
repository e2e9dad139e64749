//! `recent` in message templates: each contact's latest events of the
//! kinds a template names (`{% for v in recent.page_view %}`), newest
//! first, at most [`RECENT_MAX`] and none after the message's instant,
//! each a map of its parameters by name and `at`. Read only for the kinds
//! a template mentions, and only from those kinds' blocks.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use minijinja::Value;

use crate::error::Result;
use crate::model::Schema;
use crate::model::time::{Ts, format_ts};
use crate::store::Reader;
use crate::store::codec::{NUM_NONE, ParamData};

/// Events per kind a template sees.
pub const RECENT_MAX: usize = 5;

/// One event as a template sees it: its instant and parameters.
struct Seen {
    at: Ts,
    params: Vec<(String, ParamValue)>,
}

enum ParamValue {
    Num(i64),
    Text(u32),
}

/// The events of `kinds` (unknown kinds are left out: they render empty)
/// of the contacts `ids`, at or before `until`.
pub struct Recent {
    by: HashMap<u32, Vec<(String, Vec<Seen>)>>,
    dict: HashMap<u32, String>,
}

impl Recent {
    pub fn read(r: &Reader, schema: &Schema, ids: &[u32], kinds: &[String], until: Ts) -> Result<Recent> {
        let wanted: HashMap<u16, usize> = kinds
            .iter()
            .filter_map(|k| {
                schema.kinds.iter().position(|d| &d.name == k).map(|i| (i as u16, schema.kinds[i].params.len()))
            })
            .collect();
        let blocks = r.events_of_kinds(ids, |k| wanted.get(&k).map(|&n| (0..n as u16).collect()))?;
        let mut by: HashMap<u32, BTreeMap<u16, Vec<Seen>>> = HashMap::new();
        let mut texts = BTreeSet::new();
        for b in &blocks {
            let def = &schema.kinds[b.kind as usize];
            for i in 0..b.contact.len() {
                if b.ts[i] > until {
                    continue;
                }
                let mut params = Vec::new();
                for (pid, d) in &b.params {
                    let name = def.params[*pid as usize].name.clone();
                    match d {
                        ParamData::Num(v) if v[i] != NUM_NONE => params.push((name, ParamValue::Num(v[i]))),
                        ParamData::Text(v) if v[i] != 0 => {
                            texts.insert(v[i]);
                            params.push((name, ParamValue::Text(v[i])));
                        }
                        _ => {}
                    }
                }
                by.entry(b.contact[i]).or_default().entry(b.kind).or_default().push(Seen { at: b.ts[i], params });
            }
        }
        let by = by
            .into_iter()
            .map(|(c, kinds)| {
                let kinds = kinds
                    .into_iter()
                    .map(|(k, mut seen)| {
                        seen.sort_by_key(|s| std::cmp::Reverse(s.at));
                        (schema.kinds[k as usize].name.clone(), seen)
                    })
                    .collect();
                (c, kinds)
            })
            .collect();
        Ok(Recent { by, dict: r.dict_values(&texts)? })
    }

    /// What `recent` holds for contact `c` in a message at `at`.
    pub fn of(&self, c: u32, at: Ts) -> Value {
        let mut out: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for (kind, seen) in self.by.get(&c).into_iter().flatten() {
            let list = out.entry(kind).or_default();
            for s in seen.iter().filter(|s| s.at <= at).take(RECENT_MAX) {
                let mut m: BTreeMap<&str, Value> = BTreeMap::new();
                m.insert("at", Value::from(format_ts(s.at)));
                for (name, v) in &s.params {
                    let v = match v {
                        ParamValue::Num(x) => Value::from(crate::model::Decimal(*x).to_string()),
                        ParamValue::Text(id) => Value::from(self.dict.get(id).cloned().unwrap_or_default()),
                    };
                    m.insert(name, v);
                }
                list.push(Value::from(m));
            }
        }
        Value::from(out)
    }
}
