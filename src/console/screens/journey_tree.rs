//! A journey's steps laid out as a tree for the Journeys screen. Steps go
//! forward only, so they form a graph without cycles whose branches may
//! meet again; the layout nests a branch's steps under the branch when
//! nothing else leads to them, keeps a step's default path (its `next`) in
//! the same column, and places a step where branches meet after the step
//! that split them (its immediate dominator). Every other edge is a jump
//! (`→ reminder`). Pure data: the screen draws the rows.

use crate::journey::model::{Action, Journey, Target};

/// Where a branch goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum To {
    /// its steps are nested under it
    Nested,
    /// to the step drawn right below the branching step's branches
    Below,
    /// to a step drawn elsewhere
    Step(usize),
    /// the end of the journey
    End,
    /// nowhere: the holdout leaves the journey
    Leaves,
}

/// One line of the tree, with its guides (one per ancestor level).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub guides: Vec<Guide>,
    pub kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guide {
    /// an ancestor's branch continues below: `│`
    Pipe,
    Space,
    /// this row is a branch with more after it: `├─`
    Branch,
    /// the last branch: `└─`
    Last,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// a step by index; `goto` when its successor is not the row below it
    Step { index: usize, goto: Option<Target> },
    /// a branch of step `from`: its label (`then`, `else`, `event`,
    /// `timeout`, `branch 1 (90%)`, `holdout (10%)`), the outcome code its
    /// runs are counted under, and where it goes
    Branch { from: usize, label: String, outcome: String, to: To },
}

/// The branches of a step: (label, outcome code, target; `None` for a holdout).
pub fn branches(j: &Journey, i: usize) -> Vec<(String, String, Option<Target>)> {
    let s = &j.steps[i];
    match &s.action {
        Action::If { then, otherwise, .. } | Action::IfEntry { then, otherwise, .. } => {
            vec![("then".into(), "then".into(), Some(*then)), ("else".into(), "else".into(), Some(*otherwise))]
        }
        Action::WaitFor { on_event, .. } => {
            vec![("event".into(), "event".into(), Some(*on_event)), ("timeout".into(), "timeout".into(), Some(s.next))]
        }
        Action::Split { branches } => branches
            .iter()
            .enumerate()
            .map(|(k, b)| match b.next {
                Some(t) => (format!("branch {} ({}%)", k + 1, b.percent), format!("branch {}", k + 1), Some(t)),
                None => (format!("holdout ({}%)", b.percent), "holdout".into(), None),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Where a step's runs can go next (the end is `steps.len()`).
fn successors(j: &Journey, i: usize) -> Vec<Target> {
    let b = branches(j, i);
    if !b.is_empty() {
        return b.into_iter().filter_map(|(_, _, t)| t).collect();
    }
    match j.steps[i].action {
        Action::Exit => Vec::new(),
        _ => vec![j.steps[i].next],
    }
}

/// The journey's steps as rows, first step first.
pub fn layout(j: &Journey) -> Vec<Row> {
    let n = j.steps.len();
    if n == 0 {
        return Vec::new();
    }
    // predecessors of the steps reached from the first one
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut reached = vec![false; n];
    reached[0] = true;
    for i in 0..n {
        if !reached[i] {
            continue;
        }
        for t in successors(j, i).into_iter().filter(|&t| t < n) {
            reached[t] = true;
            if !preds[t].contains(&i) {
                preds[t].push(i);
            }
        }
    }
    // immediate dominators: targets are later steps, so index order is a
    // topological order and a dominator has a smaller index
    let mut idom: Vec<Option<usize>> = vec![None; n];
    for i in 1..n {
        let mut it = preds[i].iter().copied();
        let Some(mut d) = it.next() else { continue };
        for mut p in it {
            while p != d {
                if p > d {
                    p = idom[p].unwrap_or(0);
                } else {
                    d = idom[d].unwrap_or(0);
                }
            }
        }
        idom[i] = Some(d);
    }
    let mut b = Builder { j, preds, idom, placed: vec![false; n], rows: Vec::new() };
    b.seq(0, &[]);
    // steps nothing leads to (a journey file allows them): at the end, flat
    for i in 0..n {
        if !b.placed[i] {
            b.seq(i, &[]);
        }
    }
    b.mark_jumps();
    b.rows
}

struct Builder<'a> {
    j: &'a Journey,
    preds: Vec<Vec<usize>>,
    idom: Vec<Option<usize>>,
    placed: Vec<bool>,
    rows: Vec<Row>,
}

impl Builder<'_> {
    /// Whether `t` is drawn under the step `from` (nothing else leads to it).
    fn owned(&self, t: usize, from: usize) -> bool {
        self.idom[t] == Some(from) && self.preds[t] == [from]
    }

    /// Step `i` with its branches, then the steps it dominates that no
    /// branch took (its default path, and where its branches meet).
    fn seq(&mut self, i: usize, guides: &[Guide]) {
        let n = self.j.steps.len();
        self.placed[i] = true;
        self.rows.push(Row { guides: guides.to_vec(), kind: Kind::Step { index: i, goto: None } });
        let branches = branches(self.j, i);
        let mut nested = Vec::new();
        let rest_first = |nested: &[usize], b: &Builder| {
            (i + 1..n).find(|&c| b.idom[c] == Some(i) && !nested.contains(&c) && !b.placed[c])
        };
        // branches that nest claim their steps first; the rest is known then
        for (_, _, t) in &branches {
            if let Some(t) = *t
                && t < n
                && t != self.j.steps[i].next
                && self.owned(t, i)
                && !nested.contains(&t)
            {
                nested.push(t);
            }
        }
        let below = rest_first(&nested, self);
        let count = branches.len();
        let mut drawn: Vec<usize> = Vec::new();
        for (k, (label, outcome, t)) in branches.into_iter().enumerate() {
            let last = k + 1 == count;
            let to = match t {
                None => To::Leaves,
                Some(t) if t >= n => To::End,
                Some(t) if nested.contains(&t) && !drawn.contains(&t) => To::Nested,
                Some(t) if Some(t) == below => To::Below,
                Some(t) => To::Step(t),
            };
            let mut g = guides.to_vec();
            g.push(if last { Guide::Last } else { Guide::Branch });
            let nest = (to == To::Nested).then(|| t.unwrap_or(0));
            self.rows.push(Row { guides: g, kind: Kind::Branch { from: i, label, outcome, to } });
            if let Some(t) = nest {
                drawn.push(t);
                let mut g = guides.to_vec();
                g.push(if last { Guide::Space } else { Guide::Pipe });
                self.seq(t, &g);
            }
        }
        while let Some(c) = rest_first(&nested, self) {
            self.seq(c, guides);
        }
    }

    /// A step whose successor is not the next step row at its level gets a
    /// jump (`→ reminder`); the last step of the journey needs none to end.
    fn mark_jumps(&mut self) {
        let n = self.j.steps.len();
        for r in 0..self.rows.len() {
            let Kind::Step { index, .. } = self.rows[r].kind else { continue };
            if !branches(self.j, index).is_empty() || matches!(self.j.steps[index].action, Action::Exit) {
                continue;
            }
            let depth = self.rows[r].guides.len();
            let next = self.j.steps[index].next;
            let below = self.rows[r + 1..]
                .iter()
                .find(|row| row.guides.len() <= depth && matches!(row.kind, Kind::Step { .. }))
                .map(|row| (row.guides.len(), &row.kind));
            let follows = match below {
                Some((d, Kind::Step { index: b, .. })) => d == depth && *b == next,
                _ => next >= n && depth == 0,
            };
            if !follows && let Kind::Step { goto, .. } = &mut self.rows[r].kind {
                *goto = Some(next);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journey(file: &str) -> Journey {
        let text =
            std::fs::read_to_string(format!("{}/demo_data/journeys/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let cat = crate::segment::StaticCatalog::builtin();
        crate::journey::parse_journey(&text, &crate::journey::Checker { catalog: &cat }, 0).unwrap().0
    }

    /// The rows as text: guides, then `name` (with `→ jump`) or `label ↓`.
    fn text(j: &Journey) -> Vec<String> {
        layout(j)
            .iter()
            .map(|r| {
                let mut s: String = r
                    .guides
                    .iter()
                    .map(|g| match g {
                        Guide::Pipe => "| ",
                        Guide::Space => "  ",
                        Guide::Branch => "+ ",
                        Guide::Last => "` ",
                    })
                    .collect();
                match &r.kind {
                    Kind::Step { index, goto } => {
                        s.push_str(&j.steps[*index].name);
                        if let Some(t) = goto {
                            s.push_str(&format!(" -> {}", j.target_name(*t)));
                        }
                    }
                    Kind::Branch { label, to, .. } => {
                        s.push_str(label);
                        match to {
                            To::Nested => {}
                            To::Below => s.push_str(" v"),
                            To::Step(t) => s.push_str(&format!(" -> {}", j.steps[*t].name)),
                            To::End => s.push_str(" -> end"),
                            To::Leaves => s.push_str(" leaves"),
                        }
                    }
                }
                s
            })
            .collect()
    }

    #[test]
    fn abandoned_cart_nests_the_24h_wait_and_meets_at_the_reminder() {
        let j = journey("abandoned_cart.toml");
        assert_eq!(
            text(&j),
            [
                "last_order_old",
                "+ then v",
                "` else -> end",
                "recent_customer",
                "+ then",
                "| wait_24h -> reminder",
                "` else v",
                "wait_4h",
                "reminder",
                "wait_second",
                "still_no_order",
                "+ then v",
                "` else -> end",
                "second_email",
            ]
        );
    }

    #[test]
    fn reactivation_and_nurture_nest_their_branches() {
        let j = journey("reactivation.toml");
        let t = text(&j);
        // `news` is reached only through `else`: nested, then a jump to where both meet
        assert_eq!(&t[..6], ["big_last_order", "+ then v", "` else", "  news -> wait_6m", "code_3m", "wait_6m"]);
        // every step is drawn once
        let steps = layout(&j).iter().filter(|r| matches!(r.kind, Kind::Step { .. })).count();
        assert_eq!(steps, j.steps.len());
        let j = journey("prospect_nurture.toml");
        let t = text(&j);
        assert_eq!(&t[..3], ["young_city", "+ then", "| y_d1"]);
        assert!(t.contains(&"middle".to_string()), "{t:#?}");
        let steps = layout(&j).iter().filter(|r| matches!(r.kind, Kind::Step { .. })).count();
        assert_eq!(steps, j.steps.len());
    }
}
