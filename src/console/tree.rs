//! The builder's expression tree: groups (AND/OR, negatable) of conditions,
//! converted from and to the segment language's text so the tree and the
//! text area stay in sync both ways. Pure data, no terminal.

use crate::segment::{BoolExpr, Expr, print};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    And,
    Or,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Group { op: Op, negated: bool, children: Vec<Node> },
    Cond { text: String, negated: bool },
}

impl Node {
    pub fn empty() -> Node {
        Node::Group { op: Op::And, negated: false, children: Vec::new() }
    }

    /// The tree of a parsed expression; the root is always a group.
    pub fn from_expr(e: &Expr) -> Node {
        match convert(e, false) {
            g @ Node::Group { .. } => g,
            c => Node::Group { op: Op::And, negated: false, children: vec![c] },
        }
    }

    /// The text of the tree in the segment language ("" for an empty tree).
    pub fn to_text(&self) -> String {
        self.text()
    }

    fn text(&self) -> String {
        match self {
            Node::Cond { text, negated } => {
                if *negated {
                    format!("not {}", wrap(text))
                } else {
                    text.clone()
                }
            }
            Node::Group { op, negated, children } => {
                let sep = if *op == Op::And { " and " } else { " or " };
                let parts: Vec<String> = children
                    .iter()
                    .map(|c| c.text())
                    .filter(|t| !t.is_empty())
                    .map(|t| if children.len() > 1 && needs_parens(&t) { format!("({t})") } else { t })
                    .collect();
                let inner = parts.join(sep);
                if inner.is_empty() {
                    String::new()
                } else if *negated {
                    format!("not ({inner})")
                } else {
                    inner
                }
            }
        }
    }

    /// Nodes in display order with their depth and path (child indexes).
    pub fn flatten(&self) -> Vec<(usize, Vec<usize>, &Node)> {
        let mut out = Vec::new();
        fn walk<'a>(n: &'a Node, depth: usize, path: &mut Vec<usize>, out: &mut Vec<(usize, Vec<usize>, &'a Node)>) {
            out.push((depth, path.clone(), n));
            if let Node::Group { children, .. } = n {
                for (i, c) in children.iter().enumerate() {
                    path.push(i);
                    walk(c, depth + 1, path, out);
                    path.pop();
                }
            }
        }
        walk(self, 0, &mut Vec::new(), &mut out);
        out
    }

    pub fn get_mut(&mut self, path: &[usize]) -> Option<&mut Node> {
        let mut n = self;
        for &i in path {
            n = match n {
                Node::Group { children, .. } => children.get_mut(i)?,
                Node::Cond { .. } => return None,
            };
        }
        Some(n)
    }

    pub fn get(&self, path: &[usize]) -> Option<&Node> {
        let mut n = self;
        for &i in path {
            n = match n {
                Node::Group { children, .. } => children.get(i)?,
                Node::Cond { .. } => return None,
            };
        }
        Some(n)
    }

    /// Adds `node` to the group at `path`, or after the condition at
    /// `path` in its parent group; returns the new node's path.
    pub fn add(&mut self, path: &[usize], node: Node) -> Vec<usize> {
        let is_group = matches!(self.get(path), Some(Node::Group { .. }));
        if is_group && let Some(Node::Group { children, .. }) = self.get_mut(path) {
            children.push(node);
            let mut p = path.to_vec();
            p.push(children.len() - 1);
            return p;
        }
        let (parent, idx) = match path.split_last() {
            Some((i, parent)) => (parent.to_vec(), *i + 1),
            None => (Vec::new(), 0),
        };
        if let Some(Node::Group { children, .. }) = self.get_mut(&parent) {
            let idx = idx.min(children.len());
            children.insert(idx, node);
            let mut p = parent;
            p.push(idx);
            return p;
        }
        Vec::new()
    }

    /// Removes the node at `path` (never the root); returns the path to select next.
    pub fn remove(&mut self, path: &[usize]) -> Vec<usize> {
        let Some((&i, parent)) = path.split_last() else {
            if let Node::Group { children, .. } = self {
                children.clear();
            }
            return Vec::new();
        };
        if let Some(Node::Group { children, .. }) = self.get_mut(parent) {
            if i < children.len() {
                children.remove(i);
            }
            let mut p = parent.to_vec();
            if !children.is_empty() {
                p.push(i.min(children.len() - 1));
            }
            return p;
        }
        path.to_vec()
    }

    /// Moves the node at `path` one place up (-1) or down (+1) among its siblings.
    pub fn shift(&mut self, path: &[usize], by: isize) -> Vec<usize> {
        let Some((&i, parent)) = path.split_last() else { return Vec::new() };
        if let Some(Node::Group { children, .. }) = self.get_mut(parent) {
            let j = i as isize + by;
            if j >= 0 && (j as usize) < children.len() {
                children.swap(i, j as usize);
                let mut p = parent.to_vec();
                p.push(j as usize);
                return p;
            }
        }
        path.to_vec()
    }

    pub fn toggle_op(&mut self, path: &[usize]) {
        // a condition switches its parent group
        let target = match self.get(path) {
            Some(Node::Group { .. }) => path.to_vec(),
            _ => path[..path.len().saturating_sub(1)].to_vec(),
        };
        if let Some(Node::Group { op, .. }) = self.get_mut(&target) {
            *op = if *op == Op::And { Op::Or } else { Op::And };
        }
    }

    pub fn negate(&mut self, path: &[usize]) {
        match self.get_mut(path) {
            Some(Node::Group { negated, .. }) | Some(Node::Cond { negated, .. }) => *negated = !*negated,
            None => {}
        }
    }
}

fn wrap(t: &str) -> String {
    if needs_parens(t) { format!("({t})") } else { t.to_string() }
}

/// Text with a top-level `and`/`or` needs parentheses inside another group.
fn needs_parens(t: &str) -> bool {
    let mut depth = 0i32;
    let mut quote = None;
    let b = t.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(c),
            (None, b'(') => depth += 1,
            (None, b')') => depth -= 1,
            (None, b' ') if depth == 0 => {
                let rest = &t[i + 1..];
                if rest.starts_with("and ") || rest.starts_with("or ") {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

fn convert(e: &Expr, negated: bool) -> Node {
    match e {
        BoolExpr::Not(x) => convert(x, !negated),
        BoolExpr::And(v) => {
            Node::Group { op: Op::And, negated, children: v.iter().map(|c| convert(c, false)).collect() }
        }
        BoolExpr::Or(v) => Node::Group { op: Op::Or, negated, children: v.iter().map(|c| convert(c, false)).collect() },
        p @ BoolExpr::Pred(_) => Node::Cond { text: print(p), negated },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::parse;

    fn round(src: &str) -> String {
        Node::from_expr(&parse(src).unwrap()).to_text()
    }

    #[test]
    fn text_round_trips_through_the_tree() {
        for src in [
            "tag:vip",
            "tag:vip and score > 10",
            "tag:vip or (score > 10 and not tag:churned)",
            "not (tag:a or tag:b) and tag:c",
        ] {
            let once = round(src);
            assert_eq!(parse(&once).unwrap(), parse(src).unwrap(), "{src} -> {once}");
        }
    }

    #[test]
    fn edits_change_the_text() {
        let mut t = Node::from_expr(&parse("tag:a and tag:b").unwrap());
        t.toggle_op(&[]);
        assert_eq!(t.to_text(), "tag:a or tag:b");
        t.negate(&[1]);
        assert_eq!(t.to_text(), "tag:a or not tag:b");
        let p = t.add(&[], Node::Group { op: Op::And, negated: false, children: vec![] });
        t.add(&p, Node::Cond { text: "score > 1".into(), negated: false });
        t.add(&p, Node::Cond { text: "score < 9".into(), negated: false });
        assert_eq!(t.to_text(), "tag:a or not tag:b or (score > 1 and score < 9)");
        let p = t.shift(&[2], -1);
        assert_eq!(p, vec![1]);
        assert_eq!(t.to_text(), "tag:a or (score > 1 and score < 9) or not tag:b");
        t.remove(&[1]);
        assert_eq!(t.to_text(), "tag:a or not tag:b");
        assert!(parse(&t.to_text()).is_ok());
    }
}
