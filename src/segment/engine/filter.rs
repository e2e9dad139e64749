//! An aggregate's `where` filter compiled against one event kind: names
//! resolved to parameter columns, text values to dictionary ids, so testing
//! an event compares integers.

use crate::error::{Error, Result};
use crate::model::{KindDef, ParamType, Source};
use crate::segment::ast::{BoolExpr, CmpOp, Cond, Filter, Lit, Value};
use crate::store::codec::{Columns, EventBlock, NUM_NONE, ParamData};
use std::collections::HashSet;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    Source,
    Utm(usize),
    Param(u16),
}

#[derive(Clone, Debug)]
enum Leaf {
    Const(bool),
    Present {
        target: Target,
        want: bool,
    },
    /// value among `codes` (sorted); with `negate`, present and not among them
    Codes {
        target: Target,
        codes: Vec<u32>,
        negate: bool,
    },
    /// numeric parameter: lo <= v <= hi (both inclusive), or one of `vals`, or != v
    NumRange {
        p: u16,
        lo: i64,
        hi: i64,
    },
    NumNe {
        p: u16,
        v: i64,
    },
    NumIn {
        p: u16,
        vals: Vec<i64>,
    },
    /// text value whose dictionary id is in the precomputed set
    TextSet {
        target: Target,
        ids: Arc<HashSet<u32>>,
    },
}

#[derive(Clone, Debug)]
enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
    Leaf(Leaf),
}

/// A compiled filter for one kind.
#[derive(Clone, Debug)]
pub struct BoundFilter {
    root: Node,
    max_param: usize,
}

/// A filter bound to one block's columns.
pub struct Bound<'b> {
    root: &'b Node,
    cols: Vec<Option<&'b ParamData>>,
}

/// Dictionary access the compiler needs: the ids of the values that
/// satisfy a test (exact values, ordering, substrings).
/// The dictionary as a filter sees it: the ids of the values of one text
/// column (`target`) that satisfy a predicate.
pub trait Dict {
    fn matching(&self, target: Target, pred: &mut dyn FnMut(&str) -> bool) -> Result<Vec<u32>>;
}

fn text_of(l: &Lit) -> Option<&str> {
    l.value.as_text()
}

fn num_of(l: &Lit) -> Option<i64> {
    match &l.value {
        Value::Number(d) => Some(d.units()),
        _ => None,
    }
}

impl BoundFilter {
    pub fn compile(f: &Filter, kind: &KindDef, dict: &dyn Dict) -> Result<BoundFilter> {
        let mut max_param = 0;
        let root = compile(f, kind, dict, &mut max_param)?;
        Ok(BoundFilter { root, max_param })
    }

    pub fn bind<'b>(&'b self, b: &'b EventBlock) -> Bound<'b> {
        let mut cols = vec![None; self.max_param + 1];
        for (p, d) in &b.params {
            if let Some(slot) = cols.get_mut(*p as usize) {
                *slot = Some(d);
            }
        }
        Bound { root: &self.root, cols }
    }
}

impl Bound<'_> {
    #[inline]
    pub fn test_bound(&self, b: &EventBlock, i: usize) -> bool {
        eval(self.root, &self.cols, b, i)
    }

    /// The filter over positions `from..to` at once, a column at a time
    /// (tight loops the compiler vectorises): `mask[i - from]` is the result.
    pub fn mask(&self, b: &EventBlock, from: usize, to: usize) -> Vec<bool> {
        mask(self.root, &self.cols, b, from, to)
    }
}

fn mask(n: &Node, cols: &[Option<&ParamData>], b: &EventBlock, from: usize, to: usize) -> Vec<bool> {
    let len = to - from;
    match n {
        Node::All(xs) => {
            let mut m = vec![true; len];
            for x in xs {
                let y = mask(x, cols, b, from, to);
                for (a, b) in m.iter_mut().zip(y) {
                    *a &= b;
                }
            }
            m
        }
        Node::Any(xs) => {
            let mut m = vec![false; len];
            for x in xs {
                let y = mask(x, cols, b, from, to);
                for (a, b) in m.iter_mut().zip(y) {
                    *a |= b;
                }
            }
            m
        }
        Node::Not(x) => {
            let mut m = mask(x, cols, b, from, to);
            for a in m.iter_mut() {
                *a = !*a;
            }
            m
        }
        Node::Leaf(l) => leaf_mask(l, cols, b, from, to),
    }
}

/// The raw column a target reads: source bytes, or 32-bit dictionary ids.
enum Col<'b> {
    Bytes(&'b [u8]),
    Ids(&'b [u32]),
    Nums(&'b [i64]),
    Missing,
}

fn column<'b>(cols: &[Option<&'b ParamData>], b: &'b EventBlock, t: Target) -> Col<'b> {
    match t {
        Target::Source => Col::Bytes(&b.source),
        Target::Utm(j) if b.utm[j].is_empty() => Col::Missing,
        Target::Utm(j) => Col::Ids(&b.utm[j]),
        Target::Param(p) => match cols.get(p as usize).copied().flatten() {
            Some(ParamData::Text(v)) => Col::Ids(v),
            Some(ParamData::Num(v)) => Col::Nums(v),
            None => Col::Missing,
        },
    }
}

fn ids_map(col: &Col, from: usize, to: usize, f: impl Fn(u32) -> bool) -> Vec<bool> {
    match col {
        Col::Bytes(v) => v[from..to].iter().map(|&x| f(x as u32)).collect(),
        Col::Ids(v) => v[from..to].iter().map(|&x| f(x)).collect(),
        Col::Nums(v) => v[from..to].iter().map(|&x| f((x != NUM_NONE) as u32)).collect(),
        Col::Missing => vec![f(0); to - from],
    }
}

fn nums(col: Col, from: usize, to: usize, f: impl Fn(i64) -> bool) -> Vec<bool> {
    match col {
        Col::Nums(v) => v[from..to].iter().map(|&x| (x != NUM_NONE) & f(x)).collect(),
        _ => vec![false; to - from],
    }
}

fn leaf_mask(l: &Leaf, cols: &[Option<&ParamData>], b: &EventBlock, from: usize, to: usize) -> Vec<bool> {
    let col = |t: Target| column(cols, b, t);
    match l {
        Leaf::Const(v) => vec![*v; to - from],
        Leaf::Present { target, want } => {
            let w = *want;
            ids_map(&col(*target), from, to, move |x| (x != 0) == w)
        }
        Leaf::Codes { target, codes, negate } => {
            let neg = *negate;
            match codes.as_slice() {
                [one] => {
                    let one = *one;
                    // `&`, not `&&`, and the values copied into the closure
                    // (`move`): no branch and nothing to reload per event, so
                    // the compiler tests many events at once
                    ids_map(&col(*target), from, to, move |x| (x != 0) & ((x == one) != neg))
                }
                _ => ids_map(&col(*target), from, to, |x| x != 0 && (codes.binary_search(&x).is_ok() != neg)),
            }
        }
        Leaf::NumRange { p, lo, hi } => {
            let (lo, hi) = (*lo, *hi);
            nums(col(Target::Param(*p)), from, to, move |v| (lo <= v) & (v <= hi))
        }
        Leaf::NumNe { p, v } => {
            let v = *v;
            nums(col(Target::Param(*p)), from, to, move |x| x != v)
        }
        Leaf::NumIn { p, vals } => nums(col(Target::Param(*p)), from, to, |x| vals.contains(&x)),
        Leaf::TextSet { target, ids } => ids_map(&col(*target), from, to, |x| x != 0 && ids.contains(&x)),
    }
}

fn code(cols: &[Option<&ParamData>], b: &EventBlock, t: Target, i: usize) -> Option<u32> {
    let v = match t {
        Target::Source => b.source[i] as u32,
        Target::Utm(j) => b.utm_at(i)[j],
        Target::Param(p) => match cols.get(p as usize).copied().flatten() {
            Some(ParamData::Text(v)) => v[i],
            Some(ParamData::Num(v)) => return (v[i] != NUM_NONE).then_some(0),
            None => 0,
        },
    };
    (v != 0).then_some(v)
}

fn num(cols: &[Option<&ParamData>], p: u16, i: usize) -> Option<i64> {
    match cols.get(p as usize).copied().flatten() {
        Some(ParamData::Num(v)) if v[i] != NUM_NONE => Some(v[i]),
        _ => None,
    }
}

fn eval(n: &Node, cols: &[Option<&ParamData>], b: &EventBlock, i: usize) -> bool {
    match n {
        Node::All(xs) => xs.iter().all(|x| eval(x, cols, b, i)),
        Node::Any(xs) => xs.iter().any(|x| eval(x, cols, b, i)),
        Node::Not(x) => !eval(x, cols, b, i),
        Node::Leaf(l) => match l {
            Leaf::Const(v) => *v,
            Leaf::Present { target: Target::Param(p), want }
                if matches!(cols.get(*p as usize).copied().flatten(), Some(ParamData::Num(_))) =>
            {
                num(cols, *p, i).is_some() == *want
            }
            Leaf::Present { target, want } => code(cols, b, *target, i).is_some() == *want,
            Leaf::Codes { target, codes, negate } => match code(cols, b, *target, i) {
                None => false,
                Some(c) => codes.binary_search(&c).is_ok() != *negate,
            },
            Leaf::NumRange { p, lo, hi } => num(cols, *p, i).is_some_and(|v| *lo <= v && v <= *hi),
            Leaf::NumNe { p, v } => num(cols, *p, i).is_some_and(|x| x != *v),
            Leaf::NumIn { p, vals } => num(cols, *p, i).is_some_and(|x| vals.contains(&x)),
            Leaf::TextSet { target, ids } => code(cols, b, *target, i).is_some_and(|c| ids.contains(&c)),
        },
    }
}

enum Ty {
    Source,
    Text,
    Num,
}

fn target_of(name: &str, kind: &KindDef) -> Result<(Target, Ty)> {
    match name {
        "source" => Ok((Target::Source, Ty::Source)),
        "utm_source" => Ok((Target::Utm(0), Ty::Text)),
        "utm_medium" => Ok((Target::Utm(1), Ty::Text)),
        "utm_campaign" => Ok((Target::Utm(2), Ty::Text)),
        p => match kind.param(p) {
            Some((i, d)) => Ok((Target::Param(i), if d.ty == ParamType::Number { Ty::Num } else { Ty::Text })),
            None => Err(Error::input(format!("`{}` has no parameter `{p}`", kind.name))),
        },
    }
}

/// The ids of a text value: dictionary id, or the source code.
fn ids_for(ty: &Ty, target: Target, lits: &[&Lit], dict: &dyn Dict) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    for l in lits {
        let Some(t) = text_of(l) else { continue };
        match ty {
            Ty::Source => {
                if let Some(s) = Source::parse(t) {
                    out.push(s.code() as u32)
                }
            }
            _ => {
                let t = t.to_string();
                out.extend(dict.matching(target, &mut |s| s == t)?);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn text_set(dict: &dyn Dict, target: Target, pred: impl Fn(&str) -> bool) -> Result<Arc<HashSet<u32>>> {
    Ok(Arc::new(dict.matching(target, &mut |s| pred(s))?.into_iter().collect()))
}

/// The block columns an aggregate over `kind` reads beyond contacts and
/// times: the parameter it sums, takes the min or max of (`param`), and
/// those its filter names.
pub fn aggregate_columns(kind: &KindDef, param: Option<u16>, filter: Option<&Filter>) -> Columns {
    let mut out = Columns::default();
    if let Some(p) = param {
        out.add_param(p);
    }
    if let Some(f) = filter {
        columns(f, kind, &mut out);
    }
    out
}

/// The block columns `f` reads for events of `kind` (names it cannot
/// resolve are left to the compiler to report).
fn columns(f: &Filter, kind: &KindDef, out: &mut Columns) {
    match f {
        BoolExpr::And(xs) | BoolExpr::Or(xs) => xs.iter().for_each(|x| columns(x, kind, out)),
        BoolExpr::Not(x) => columns(x, kind, out),
        BoolExpr::Pred(c) => match target_of(&c.field().text, kind) {
            Ok((Target::Source, _)) => out.source = true,
            Ok((Target::Utm(_), _)) => out.utm = true,
            Ok((Target::Param(p), _)) => out.add_param(p),
            Err(_) => {}
        },
    }
}

fn compile(f: &Filter, kind: &KindDef, dict: &dyn Dict, max_param: &mut usize) -> Result<Node> {
    Ok(match f {
        BoolExpr::And(xs) => Node::All(xs.iter().map(|x| compile(x, kind, dict, max_param)).collect::<Result<_>>()?),
        BoolExpr::Or(xs) => Node::Any(xs.iter().map(|x| compile(x, kind, dict, max_param)).collect::<Result<_>>()?),
        BoolExpr::Not(x) => Node::Not(Box::new(compile(x, kind, dict, max_param)?)),
        BoolExpr::Pred(c) => {
            let (target, ty) = target_of(&c.field().text, kind)?;
            if let Target::Param(p) = target {
                *max_param = (*max_param).max(p as usize);
            }
            Node::Leaf(match (c, &ty, target) {
                (Cond::IsSet { negated, .. }, _, t) => Leaf::Present { target: t, want: !negated },
                (Cond::Cmp { op, value, .. }, Ty::Num, Target::Param(p)) => {
                    let Some(v) = num_of(value) else { return Ok(Node::Leaf(Leaf::Const(false))) };
                    match op {
                        CmpOp::Eq => Leaf::NumRange { p, lo: v, hi: v },
                        CmpOp::Ne => Leaf::NumNe { p, v },
                        CmpOp::Lt => Leaf::NumRange { p, lo: i64::MIN + 1, hi: v.saturating_sub(1) },
                        CmpOp::Le => Leaf::NumRange { p, lo: i64::MIN + 1, hi: v },
                        CmpOp::Gt => Leaf::NumRange { p, lo: v.saturating_add(1), hi: i64::MAX },
                        CmpOp::Ge => Leaf::NumRange { p, lo: v, hi: i64::MAX },
                    }
                }
                (Cond::In { values, .. }, Ty::Num, Target::Param(p)) => {
                    Leaf::NumIn { p, vals: values.iter().filter_map(num_of).collect() }
                }
                (Cond::Between { lo, hi, .. }, Ty::Num, Target::Param(p)) => match (num_of(lo), num_of(hi)) {
                    (Some(a), Some(b)) => Leaf::NumRange { p, lo: a, hi: b },
                    _ => Leaf::Const(false),
                },
                (Cond::Cmp { op: CmpOp::Eq, value, .. }, _, t) => {
                    Leaf::Codes { target: t, codes: ids_for(&ty, t, &[value], dict)?, negate: false }
                }
                (Cond::Cmp { op: CmpOp::Ne, value, .. }, _, t) => {
                    Leaf::Codes { target: t, codes: ids_for(&ty, t, &[value], dict)?, negate: true }
                }
                (Cond::In { values, .. }, _, t) => {
                    let refs: Vec<&Lit> = values.iter().collect();
                    Leaf::Codes { target: t, codes: ids_for(&ty, t, &refs, dict)?, negate: false }
                }
                (Cond::Cmp { op, value, .. }, Ty::Text, t) => {
                    let v = text_of(value).unwrap_or("").to_string();
                    let op = *op;
                    Leaf::TextSet {
                        target: t,
                        ids: text_set(dict, t, |s| match op {
                            CmpOp::Lt => s < v.as_str(),
                            CmpOp::Le => s <= v.as_str(),
                            CmpOp::Gt => s > v.as_str(),
                            CmpOp::Ge => s >= v.as_str(),
                            CmpOp::Eq => s == v,
                            CmpOp::Ne => s != v,
                        })?,
                    }
                }
                (Cond::Between { lo, hi, .. }, Ty::Text, t) => {
                    let (a, b) = (text_of(lo).unwrap_or("").to_string(), text_of(hi).unwrap_or("").to_string());
                    Leaf::TextSet { target: t, ids: text_set(dict, t, |s| a.as_str() <= s && s <= b.as_str())? }
                }
                (Cond::Contains { value, .. }, Ty::Text, t) => {
                    let v = text_of(value).unwrap_or("").to_string();
                    Leaf::TextSet { target: t, ids: text_set(dict, t, |s| s.contains(v.as_str()))? }
                }
                _ => return Err(Error::input(format!("unsupported condition on `{}` in a filter", c.field().text))),
            })
        }
    })
}
