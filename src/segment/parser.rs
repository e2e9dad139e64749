//! Recursive-descent parser from source text to [`Expr`], per spec/segments.md.

use super::ast::*;
use super::error::ParseError;
use super::lexer::{Tok, Token, lex};
use super::suggest::suggest;

/// Deepest nesting of `not` and parentheses accepted (guards the stack).
pub const MAX_DEPTH: usize = 200;

/// Parses a segment expression. Keywords are case-insensitive; the result is
/// normalised (nested `and`/`or` flattened) and carries byte spans.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let toks = lex(src)?;
    let mut p = Parser { src, toks, i: 0, depth: 0 };
    let e = p.or(Parser::predicate)?;
    if !p.at_end() {
        return Err(p.unexpected_after_expr("end of input"));
    }
    Ok(e)
}

type Leaf<'a, P> = fn(&mut Parser<'a>) -> Result<P, ParseError>;

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

const CMP_HELP: &str = "a comparison (=, !=, <, <=, >, >=), `in`, `between`, `contains` or `is`";
const VALUE_HELP: &str = "a value (number, \"text\", true, false, date or name)";

impl<'a> Parser<'a> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].tok
    }
    fn peek_at(&self, k: usize) -> &Tok {
        &self.toks[(self.i + k).min(self.toks.len() - 1)].tok
    }
    fn span(&self) -> Span {
        self.toks[self.i].span
    }
    fn prev_span(&self) -> Span {
        self.toks[self.i.saturating_sub(1)].span
    }
    fn bump(&mut self) -> Token {
        let t = self.toks[self.i].clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }
    fn at_end(&self) -> bool {
        matches!(self.peek(), Tok::Eof)
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w.eq_ignore_ascii_case(kw))
    }
    fn is_sym(&self, s: &str) -> bool {
        matches!(self.peek(), Tok::Sym(t) if *t == s)
    }
    fn eat_kw(&mut self, kw: &str) -> bool {
        let yes = self.is_kw(kw);
        if yes {
            self.bump();
        }
        yes
    }
    fn eat_sym(&mut self, s: &str) -> bool {
        let yes = self.is_sym(s);
        if yes {
            self.bump();
        }
        yes
    }
    fn text(&self, sp: Span) -> &'a str {
        &self.src[sp.start..sp.end]
    }
    fn found(&self) -> String {
        self.peek().describe(self.src, self.span())
    }
    /// `expected {what} after `{after}`, found {current}`, at the current token.
    fn expected(&self, what: &str, after: &str) -> ParseError {
        let msg = if after.is_empty() {
            format!("expected {what}, found {}", self.found())
        } else {
            format!("expected {what} after `{after}`, found {}", self.found())
        };
        ParseError::new(self.src, self.span().start, msg)
    }
    fn expected_after_prev(&self, what: &str) -> ParseError {
        let prev = if self.i == 0 { "" } else { self.text(self.prev_span()) };
        self.expected(what, prev)
    }
    /// The current identifier, if it is close to one of `words`.
    fn suggest_kw(&self, words: &[&str]) -> Option<String> {
        match self.peek() {
            Tok::Ident(w) => suggest(w, &words.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
            _ => None,
        }
    }
    fn unexpected_after_expr(&self, closer: &str) -> ParseError {
        let msg = format!("expected `and`, `or` or {closer}, found {}", self.found());
        ParseError::new(self.src, self.span().start, msg).with_suggestion(self.suggest_kw(&["and", "or"]))
    }

    // ---- boolean structure, shared by expressions and filters ----

    fn or<P>(&mut self, leaf: Leaf<'a, P>) -> Result<BoolExpr<P>, ParseError> {
        let mut xs = Vec::new();
        loop {
            match self.and(leaf)? {
                BoolExpr::Or(ys) => xs.extend(ys),
                y => xs.push(y),
            }
            if !self.eat_kw("or") {
                break;
            }
        }
        Ok(if xs.len() == 1 { xs.pop().expect("one") } else { BoolExpr::Or(xs) })
    }

    fn and<P>(&mut self, leaf: Leaf<'a, P>) -> Result<BoolExpr<P>, ParseError> {
        let mut xs = Vec::new();
        loop {
            match self.unary(leaf)? {
                BoolExpr::And(ys) => xs.extend(ys),
                y => xs.push(y),
            }
            if !self.eat_kw("and") {
                break;
            }
        }
        Ok(if xs.len() == 1 { xs.pop().expect("one") } else { BoolExpr::And(xs) })
    }

    fn unary<P>(&mut self, leaf: Leaf<'a, P>) -> Result<BoolExpr<P>, ParseError> {
        let nests = self.is_kw("not") || self.is_sym("(");
        if !nests {
            return Ok(BoolExpr::Pred(leaf(self)?));
        }
        if self.depth >= MAX_DEPTH {
            return Err(ParseError::new(
                self.src,
                self.span().start,
                format!("expression nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
        }
        self.depth += 1;
        let r = if self.eat_kw("not") {
            self.unary(leaf).map(|e| BoolExpr::Not(Box::new(e)))
        } else {
            let open = self.bump().span;
            self.or(leaf).and_then(|e| {
                if self.eat_sym(")") {
                    Ok(e)
                } else {
                    let col = super::error::column_of(self.src, open.start);
                    Err(self.unexpected_after_expr(&format!("`)` (to close `(` at column {col})")))
                }
            })
        };
        self.depth -= 1;
        r
    }

    // ---- leaves ----

    fn predicate(&mut self) -> Result<Predicate, ParseError> {
        if let Tok::Ident(w) = self.peek().clone() {
            let next = self.peek_at(1).clone();
            let lw = w.to_ascii_lowercase();
            if next == Tok::Sym(":") && matches!(lw.as_str(), "tag" | "category" | "segment") {
                self.bump();
                self.bump();
                let name = self.name(&format!("{lw}:"))?;
                return Ok(match lw.as_str() {
                    "tag" => Predicate::Tag(name),
                    "category" => Predicate::Category(name),
                    _ => Predicate::Segment(name),
                });
            }
            if next == Tok::Sym("(") {
                if lw == "near" {
                    return self.near();
                }
                if let Some(func) = AggFunc::from_name(&w) {
                    return self.agg(func).map(Predicate::Agg);
                }
                let mut known: Vec<String> = AggFunc::ALL.iter().map(|f| f.as_str().to_string()).collect();
                known.push("near".into());
                return Err(ParseError::new(
                    self.src,
                    self.span().start,
                    format!(
                        "unknown function `{w}` (expected near or one of count, sum, avg, min, max, days_since_last, days_since_first)"
                    ),
                )
                .with_suggestion(suggest(&w, &known)));
            }
            if next == Tok::Sym(":") {
                return Err(ParseError::new(
                    self.src,
                    self.span().start,
                    format!("unknown prefix `{w}:` (expected tag:, category: or segment:)"),
                )
                .with_suggestion(suggest(&w, &["tag".to_string(), "category".into(), "segment".into()])));
            }
        }
        if matches!(self.peek(), Tok::Ident(_) | Tok::Str(_)) {
            return self.cond().map(Predicate::Cond);
        }
        Err(self.expected(
            "a condition (a field, tag:, category:, segment:, near(…) or an aggregate such as count(…))",
            if self.i == 0 { "" } else { self.text(self.prev_span()) },
        ))
    }

    fn filter_leaf(&mut self) -> Result<Cond, ParseError> {
        if matches!(self.peek(), Tok::Ident(_) | Tok::Str(_)) {
            return self.cond();
        }
        Err(self.expected_after_prev("a condition on an event parameter or `source`"))
    }

    /// NAME: identifier or quoted string.
    fn name(&mut self, after: &str) -> Result<Name, ParseError> {
        match self.peek().clone() {
            Tok::Ident(s) | Tok::Str(s) => Ok(Name { text: s, span: self.bump().span }),
            _ => Err(self.expected("a name", after)),
        }
    }

    /// field := NAME ("." NAME)*, joined with `.`.
    fn field(&mut self) -> Result<Name, ParseError> {
        let mut n = self.name("")?;
        while self.eat_sym(".") {
            let part = self.name(&format!("{}.", n.text))?;
            n.text.push('.');
            n.text.push_str(&part.text);
            n.span = n.span.to(part.span);
        }
        Ok(n)
    }

    fn cmp_op(&self) -> Option<CmpOp> {
        match self.peek() {
            Tok::Sym(s) => CmpOp::ALL.into_iter().find(|o| o.as_str() == *s),
            _ => None,
        }
    }

    fn cond(&mut self) -> Result<Cond, ParseError> {
        let field = self.field()?;
        if let Some(op) = self.cmp_op() {
            self.bump();
            let value = self.value()?;
            return Ok(Cond::Cmp { field, op, value });
        }
        if self.eat_kw("in") {
            if !self.eat_sym("[") {
                return Err(self.expected("`[`", "in"));
            }
            let mut values = vec![self.value()?];
            while self.eat_sym(",") {
                values.push(self.value()?);
            }
            if !self.eat_sym("]") {
                return Err(self.expected_after_prev("`,` or `]`"));
            }
            return Ok(Cond::In { field, values });
        }
        if self.eat_kw("between") {
            let lo = self.value()?;
            if !self.eat_kw("and") {
                return Err(self.expected_after_prev("`and`").with_suggestion(self.suggest_kw(&["and"])));
            }
            let hi = self.value()?;
            return Ok(Cond::Between { field, lo, hi });
        }
        if self.eat_kw("contains") {
            let value = self.value()?;
            return Ok(Cond::Contains { field, value });
        }
        if self.eat_kw("is") {
            let negated = self.eat_kw("not");
            if !self.eat_kw("set") {
                let what = if negated { "`set`" } else { "`set` or `not set`" };
                return Err(self.expected_after_prev(what).with_suggestion(self.suggest_kw(&["set", "not"])));
            }
            return Ok(Cond::IsSet { field, negated });
        }
        let sugg = self.suggest_kw(&["in", "between", "contains", "is"]);
        Err(self.expected(CMP_HELP, &field.text).with_suggestion(sugg))
    }

    fn value(&mut self) -> Result<Lit, ParseError> {
        let value = match self.peek().clone() {
            Tok::Number(d) => Value::Number(d),
            Tok::Str(s) => Value::Str(s),
            Tok::Date(d) => Value::Date(d),
            Tok::DateTime(t) => Value::DateTime(t),
            Tok::Ident(w) if w.eq_ignore_ascii_case("true") => Value::Bool(true),
            Tok::Ident(w) if w.eq_ignore_ascii_case("false") => Value::Bool(false),
            Tok::Ident(w) => Value::Ident(w),
            _ => return Err(self.expected_after_prev(VALUE_HELP)),
        };
        Ok(Lit { value, span: self.bump().span })
    }

    fn number(&mut self, what: &str) -> Result<crate::model::Decimal, ParseError> {
        match self.peek() {
            Tok::Number(d) => {
                let d = *d;
                self.bump();
                Ok(d)
            }
            _ => Err(self.expected_after_prev(what)),
        }
    }

    fn near(&mut self) -> Result<Predicate, ParseError> {
        let start = self.bump().span; // near
        self.bump(); // (
        let place = match self.peek().clone() {
            Tok::Str(s) => Place::City(Name { text: s, span: self.bump().span }),
            Tok::Number(lat) => {
                self.bump();
                if !self.eat_sym(",") {
                    return Err(self.expected_after_prev("`,` and a longitude"));
                }
                let lon = self.number("a longitude")?;
                Place::Coords { lat, lon }
            }
            _ => return Err(self.expected("a city in double quotes or `lat, lon`", "near(")),
        };
        if !self.eat_sym(")") {
            return Err(self.expected_after_prev("`)`"));
        }
        if !self.eat_kw("within") {
            return Err(self.expected_after_prev("`within`").with_suggestion(self.suggest_kw(&["within"])));
        }
        let radius = self.number("a distance (e.g. 20km)")?;
        let unit = match self.peek() {
            Tok::Ident(u) if u.eq_ignore_ascii_case("km") => DistUnit::Km,
            Tok::Ident(u) if u.eq_ignore_ascii_case("mi") => DistUnit::Mi,
            _ => {
                let s = self.suggest_kw(&["km", "mi"]);
                return Err(self.expected_after_prev("a distance unit (`km` or `mi`)").with_suggestion(s));
            }
        };
        let span = start.to(self.bump().span);
        Ok(Predicate::Near { span, place, radius, unit })
    }

    fn agg(&mut self, func: AggFunc) -> Result<Agg, ParseError> {
        self.bump(); // func
        self.bump(); // (
        let kind = self
            .name(&format!("{}(", func.as_str()))
            .map_err(|e| ParseError { message: e.message.replace("a name", "an event kind"), ..e })?;
        let param = if self.eat_sym(".") { Some(self.name(&format!("{}.", kind.text))?) } else { None };
        let filter = if self.eat_kw("where") { Some(Box::new(self.or(Parser::filter_leaf)?)) } else { None };
        let window = if self.eat_sym(",") { Some(self.window()?) } else { None };
        if !self.eat_sym(")") {
            let what = match (param.is_some() || filter.is_some(), filter.is_some(), window.is_some()) {
                (_, _, true) => "`)`",
                (_, true, false) => "`and`, `or`, `,` or `)`",
                _ => "`.`, `where`, `,` or `)`",
            };
            let s = self.suggest_kw(&["where"]);
            return Err(self.expected_after_prev(what).with_suggestion(s));
        }
        let Some(op) = self.cmp_op() else {
            return Err(self.expected("a comparison (=, !=, <, <=, >, >=)", &format!("{}(…)", func.as_str())));
        };
        self.bump();
        let value = self.value()?;
        Ok(Agg { func, kind, param, filter, window, op, value })
    }

    fn date(&mut self) -> Result<DateLit, ParseError> {
        let d = match self.peek() {
            Tok::Date(d) => DateLit::Date(*d),
            Tok::DateTime(t) => DateLit::DateTime(*t),
            _ => return Err(self.expected_after_prev("a date (YYYY-MM-DD or RFC 3339)")),
        };
        self.bump();
        Ok(d)
    }

    fn window(&mut self) -> Result<Window, ParseError> {
        if self.eat_kw("last") {
            let at = self.span().start;
            let n = self.number("a duration (e.g. 30d)")?;
            let n = n
                .as_int()
                .and_then(|i| u32::try_from(i).ok())
                .ok_or_else(|| ParseError::new(self.src, at, "a duration must be a whole number of units"))?;
            let unit = match self.peek() {
                Tok::Ident(u) => DurUnit::ALL.into_iter().find(|x| x.as_str().eq_ignore_ascii_case(u)),
                _ => None,
            };
            let Some(unit) = unit else {
                let s = match self.peek() {
                    Tok::Ident(u) => {
                        let u = u.to_ascii_lowercase();
                        if u.starts_with("mo") {
                            Some("mo")
                        } else {
                            ["h", "d", "w", "y"].into_iter().find(|x| u.starts_with(x))
                        }
                    }
                    _ => None,
                };
                return Err(self
                    .expected_after_prev("a duration unit (h, d, w, mo or y)")
                    .with_suggestion(s.map(|x| format!("{n}{x}"))));
            };
            self.bump();
            return Ok(Window::Last { n, unit });
        }
        if self.eat_kw("since") {
            return Ok(Window::Since(self.date()?));
        }
        if self.eat_kw("between") {
            let lo = self.date()?;
            if !self.eat_kw("and") {
                return Err(self.expected_after_prev("`and`"));
            }
            return Ok(Window::Between(lo, self.date()?));
        }
        let s = self.suggest_kw(&["last", "since", "between"]);
        Err(self
            .expected_after_prev("a window (last N(h|d|w|mo|y), since DATE or between DATE and DATE)")
            .with_suggestion(s))
    }
}
