//! Journey files (TOML) read and validated into a `Journey`; every error
//! is `FILE:line: reason`.

use serde::Deserialize;
use toml::Spanned;

use super::model::{Action, Branch, Dur, Goal, Journey, Promo, Reentry, Status, Step, Target, Trigger};
use crate::campaign::template::Templates;
use crate::campaign::{Channel, Priority};
use crate::model::time::Ts;
use crate::segment::{Catalog, FieldType, check, parse};

type S<T> = Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JourneyFile {
    name: S<String>,
    #[serde(default)]
    description: String,
    entry: S<EntryFile>,
    #[serde(default)]
    goal: Vec<S<GoalFile>>,
    #[serde(default)]
    step: Vec<S<StepFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    event: Option<S<String>>,
    segment: Option<S<String>>,
    after_last: Option<S<String>>,
    delay: Option<S<String>>,
    #[serde(rename = "where")]
    filter: Option<S<String>>,
    #[serde(rename = "if")]
    cond: Option<S<String>>,
    reentry: Option<S<String>>,
    lookback: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GoalFile {
    event: Option<S<String>>,
    #[serde(rename = "where")]
    filter: Option<S<String>>,
    segment: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
    name: Option<S<String>>,
    next: Option<S<String>>,
    // actions (exactly one)
    wait: Option<S<String>>,
    wait_until: Option<S<String>>,
    wait_for: Option<S<String>>,
    #[serde(rename = "if")]
    cond: Option<S<String>>,
    if_entry: Option<S<String>>,
    split: Option<S<Vec<S<BranchFile>>>>,
    send: Option<S<String>>,
    tag_add: Option<S<String>>,
    tag_remove: Option<S<String>>,
    score: Option<S<i64>>,
    set: Option<S<toml::Table>>,
    exit: Option<S<bool>>,
    // modifiers
    at: Option<S<String>>,
    #[serde(rename = "where")]
    filter: Option<S<String>>,
    timeout: Option<S<String>>,
    on_event: Option<S<String>>,
    then: Option<S<String>>,
    #[serde(rename = "else")]
    otherwise: Option<S<String>>,
    priority: Option<S<String>>,
    subject: Option<S<String>>,
    body: Option<S<String>>,
    promo: Option<S<PromoFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BranchFile {
    percent: S<i64>,
    next: Option<S<String>>,
    #[serde(default)]
    holdout: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PromoFile {
    percent: S<i64>,
    valid: S<String>,
    prefix: Option<S<String>>,
}

/// What a journey file is checked against: the store's fields, kinds,
/// parameters, tags and segments.
pub struct Checker<'a> {
    pub catalog: &'a dyn Catalog,
}

/// A refused file: the line and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.line, self.reason)
    }
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, pos: usize) -> usize {
    crate::config::line_of(text, pos)
}

struct Ctx<'a> {
    text: &'a str,
    checker: &'a Checker<'a>,
    warnings: Vec<String>,
}

impl Ctx<'_> {
    fn err<T>(&self, at: std::ops::Range<usize>, reason: impl Into<String>) -> Result<T, FileError> {
        Err(FileError { line: line_of(self.text, at.start), reason: reason.into() })
    }

    fn dur(&self, s: &S<String>, what: &str) -> Result<Dur, FileError> {
        Dur::parse(s.get_ref()).or_else(|e| self.err(s.span(), format!("{what}: {e}")))
    }

    /// A segment expression (`since entry` allowed when `relative`).
    fn expr(&mut self, s: &S<String>, what: &str, relative: bool) -> Result<String, FileError> {
        let src = s.get_ref().trim();
        let (text, shifts) = if relative {
            super::model::replace_since_entry(src, "2000-01-01T00:00:00Z")
        } else {
            (src.to_string(), Vec::new())
        };
        let back = |col: usize| -> usize {
            let mut c = col as isize;
            for &(at, grow) in shifts.iter().rev() {
                if col > at + grow.max(0) as usize {
                    c -= grow;
                }
            }
            c.max(1) as usize
        };
        let e = match parse(&text) {
            Ok(e) => e,
            Err(e) => return self.err(s.span(), format!("{what} `{src}`: column {}: {}", back(e.column), msg(&e))),
        };
        match check(&e, &text, self.checker.catalog) {
            Ok(w) => {
                self.warnings.extend(w.into_iter().map(|w| format!("{what} `{src}`: {w}")));
                Ok(src.to_string())
            }
            Err(e) => self.err(s.span(), format!("{what} `{src}`: column {}: {}", back(e.column), msg(&e))),
        }
    }

    /// An event kind and an optional filter over its parameters.
    fn event(
        &mut self,
        kind: &S<String>,
        filter: Option<&S<String>>,
        what: &str,
    ) -> Result<(String, Option<String>), FileError> {
        let k = kind.get_ref().trim();
        if self.checker.catalog.kind_params(k).is_none() {
            let names = self.checker.catalog.kind_names();
            let hint = crate::segment::suggest(k, &names).map(|s| format!(", did you mean `{s}`?")).unwrap_or_default();
            return self.err(kind.span(), format!("{what}: unknown event kind `{k}`{hint}"));
        }
        let Some(f) = filter else { return Ok((k.to_string(), None)) };
        let fsrc = f.get_ref().trim();
        let prefix = format!("count({k} where ");
        let full = format!("{prefix}{fsrc}) >= 0");
        let col = |c: usize| c.saturating_sub(prefix.chars().count()).max(1);
        let e = match parse(&full) {
            Ok(e) => e,
            Err(e) => {
                return self.err(f.span(), format!("{what}.where `{fsrc}`: column {}: {}", col(e.column), msg(&e)));
            }
        };
        if let Err(e) = check(&e, &full, self.checker.catalog) {
            return self.err(f.span(), format!("{what}.where `{fsrc}`: column {}: {}", col(e.column), msg(&e)));
        }
        Ok((k.to_string(), Some(fsrc.to_string())))
    }
}

fn msg(e: &crate::segment::ParseError) -> String {
    match &e.suggestion {
        Some(s) => format!("{}, did you mean `{s}`?", e.message),
        None => e.message.clone(),
    }
}

/// `HH:MM` → minutes after midnight.
fn time_of_day(s: &str) -> Option<u32> {
    let t = chrono::NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()?;
    use chrono::Timelike;
    Some(t.hour() * 60 + t.minute())
}

/// The names of a step's action keys that are present.
fn actions_of(s: &StepFile) -> Vec<(&'static str, std::ops::Range<usize>)> {
    let mut v = Vec::new();
    macro_rules! has {
        ($f:ident, $n:expr) => {
            if let Some(x) = &s.$f {
                v.push(($n, x.span()));
            }
        };
    }
    has!(wait, "wait");
    has!(wait_until, "wait_until");
    has!(wait_for, "wait_for");
    has!(cond, "if");
    has!(if_entry, "if_entry");
    has!(split, "split");
    has!(send, "send");
    has!(tag_add, "tag_add");
    has!(tag_remove, "tag_remove");
    has!(score, "score");
    has!(set, "set");
    has!(exit, "exit");
    v
}

/// The modifiers present and the actions each belongs to.
fn modifiers_of(s: &StepFile) -> Vec<(&'static str, &'static [&'static str], std::ops::Range<usize>)> {
    let mut v = Vec::new();
    macro_rules! m {
        ($f:ident, $n:expr, $ok:expr) => {
            if let Some(x) = &s.$f {
                v.push(($n, &$ok[..], x.span()));
            }
        };
    }
    m!(at, "at", ["wait"]);
    m!(filter, "where", ["wait_for"]);
    m!(timeout, "timeout", ["wait_for"]);
    m!(on_event, "on_event", ["wait_for"]);
    m!(then, "then", ["if", "if_entry"]);
    m!(otherwise, "else", ["if", "if_entry"]);
    m!(priority, "priority", ["send"]);
    m!(subject, "subject", ["send"]);
    m!(body, "body", ["send"]);
    m!(promo, "promo", ["send"]);
    v
}

/// Reads and validates journey file text. `name` is the file name for
/// messages (the caller prefixes it: `FILE:line: reason`). Returns the
/// journey (a draft) and warnings (tags or segments that do not exist yet).
pub fn parse_journey(text: &str, checker: &Checker<'_>, now: Ts) -> Result<(Journey, Vec<String>), FileError> {
    let f: JourneyFile = toml::from_str(text).map_err(|e| FileError {
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        reason: e.message().trim().to_string(),
    })?;
    let mut cx = Ctx { text, checker, warnings: Vec::new() };
    let name = f.name.get_ref().trim().to_string();
    if !crate::model::schema::valid_name(&name) {
        return cx.err(f.name.span(), format!("`{name}` is not a valid journey name (letters, digits, _ and -)"));
    }
    // entry
    let entry_span = f.entry.span();
    let e = f.entry.into_inner();
    let given: Vec<&str> =
        [("event", e.event.is_some()), ("segment", e.segment.is_some()), ("after_last", e.after_last.is_some())]
            .into_iter()
            .filter(|x| x.1)
            .map(|x| x.0)
            .collect();
    if given.len() != 1 {
        return cx.err(
            entry_span,
            if given.is_empty() {
                "entry: give one of `event`, `segment` or `after_last`".to_string()
            } else {
                format!("entry: give only one of `event`, `segment` or `after_last` (found {})", given.join(", "))
            },
        );
    }
    if let (Some(d), None) = (&e.delay, &e.after_last) {
        return cx.err(d.span(), "entry.delay goes with `after_last`");
    }
    if let (Some(w), Some(_)) = (&e.filter, &e.segment) {
        return cx.err(w.span(), "entry.where filters an event; a segment entry has none");
    }
    let trigger = if let Some(k) = &e.event {
        let (kind, filter) = cx.event(k, e.filter.as_ref(), "entry.event")?;
        Trigger::Event { kind, filter }
    } else if let Some(s) = &e.segment {
        Trigger::Segment { expr: cx.expr(s, "entry.segment", false)? }
    } else {
        let k = e.after_last.as_ref().expect("one of three");
        let (kind, filter) = cx.event(k, e.filter.as_ref(), "entry.after_last")?;
        let Some(d) = &e.delay else {
            return cx.err(k.span(), "entry.after_last needs `delay` (how long after the last event: `90d`)");
        };
        Trigger::AfterLast { kind, filter, delay: cx.dur(d, "entry.delay")? }
    };
    let lookback = match (&e.lookback, &e.event) {
        (None, _) => None,
        (Some(d), Some(_)) => Some(cx.dur(d, "entry.lookback")?),
        (Some(d), None) => {
            return cx.err(d.span(), "entry.lookback goes with `event` (events before the start that also enter)");
        }
    };
    let entry_if = match &e.cond {
        Some(c) => Some(cx.expr(c, "entry.if", false)?),
        None => None,
    };
    let reentry = match &e.reentry {
        None => Reentry::AfterExit,
        Some(r) => match r.get_ref().trim() {
            "once" => Reentry::Once,
            "after_exit" => Reentry::AfterExit,
            other => match other.strip_prefix("after ") {
                Some(d) => Reentry::AfterWindow(
                    Dur::parse(d).or_else(|err| cx.err(r.span(), format!("entry.reentry: {err}")))?,
                ),
                None => {
                    return cx.err(
                        r.span(),
                        format!(
                            "entry.reentry `{other}` is not `once`, `after_exit` or `after DURATION` (`after 30d`)"
                        ),
                    );
                }
            },
        },
    };
    // goals
    let mut goals = Vec::new();
    for g in &f.goal {
        let gf = g.get_ref();
        goals.push(match (&gf.event, &gf.segment) {
            (Some(k), None) => {
                let (kind, filter) = cx.event(k, gf.filter.as_ref(), "goal.event")?;
                Goal::Event { kind, filter }
            }
            (None, Some(s)) => {
                if let Some(w) = &gf.filter {
                    return cx.err(w.span(), "goal.where filters an event; a segment goal has none");
                }
                Goal::Segment { expr: cx.expr(s, "goal.segment", true)? }
            }
            _ => return cx.err(g.span(), "goal: give one of `event` or `segment`"),
        });
    }
    // steps: names first, so targets can be resolved
    if f.step.is_empty() {
        return cx.err(0..0, "a journey needs at least one [[step]]");
    }
    let mut names: Vec<String> = Vec::new();
    for (i, s) in f.step.iter().enumerate() {
        let n = match &s.get_ref().name {
            Some(n) => {
                let t = n.get_ref().trim().to_string();
                if !crate::model::schema::valid_name(&t) || t == "exit" || t == "end" {
                    return cx.err(
                        n.span(),
                        format!("step name `{t}` is not valid (letters, digits, _ and -; not `exit` or `end`)"),
                    );
                }
                if names.contains(&t) {
                    return cx.err(n.span(), format!("two steps are named `{t}`"));
                }
                t
            }
            None => format!("step{}", i + 1),
        };
        names.push(n);
    }
    let end = f.step.len();
    // a target: a later step's name, `exit` or `end`
    let target = |cx: &Ctx<'_>, from: usize, t: &S<String>, what: &str| -> Result<Target, FileError> {
        let n = t.get_ref().trim();
        if n == "exit" || n == "end" {
            return Ok(end);
        }
        match names.iter().position(|x| x == n) {
            Some(j) if j > from => Ok(j),
            Some(_) => cx.err(
                t.span(),
                format!("step {}: {what} `{n}` points back to an earlier step (journeys go forward only)", names[from]),
            ),
            None => {
                cx.err(t.span(), format!("step {}: {what} `{n}` points nowhere (no step has that name)", names[from]))
            }
        }
    };
    let mut steps = Vec::new();
    for (i, sp) in f.step.iter().enumerate() {
        let s = sp.get_ref();
        let line = line_of(text, sp.span().start) as u32;
        let sname = names[i].clone();
        let acts = actions_of(s);
        let kind = match acts.as_slice() {
            [] => {
                return cx.err(
                    sp.span(),
                    format!(
                        "step {sname}: say what it does (wait, wait_until, wait_for, if, if_entry, split, send, tag_add, tag_remove, score, set or exit)"
                    ),
                );
            }
            [(k, _)] => *k,
            [_, (k2, sp2), ..] => {
                return cx.err(sp2.clone(), format!("step {sname}: one action per step (`{}` and `{k2}`)", acts[0].0));
            }
        };
        for (m, ok, msp) in modifiers_of(s) {
            if !ok.contains(&kind) {
                return cx.err(
                    msp,
                    format!(
                        "step {sname}: `{m}` goes with {}, not with `{kind}`",
                        ok.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(" or ")
                    ),
                );
            }
        }
        let next = match &s.next {
            Some(t) => target(&cx, i, t, "next")?,
            None => i + 1,
        };
        let action = match kind {
            "wait" | "wait_until" => {
                let dur = match &s.wait {
                    Some(w) => Some(cx.dur(w, &format!("step {sname}: wait"))?),
                    None => None,
                };
                let at_src = s.wait_until.as_ref().or(s.at.as_ref());
                let at = match at_src {
                    Some(a) => Some(time_of_day(a.get_ref()).map_or_else(
                        || {
                            cx.err(
                                a.span(),
                                format!("step {sname}: `{}` is not a local time of day (HH:MM)", a.get_ref()),
                            )
                        },
                        Ok,
                    )?),
                    None => None,
                };
                Action::Wait { dur, at }
            }
            "wait_for" => {
                let k = s.wait_for.as_ref().expect("present");
                let (kind, filter) = cx.event(k, s.filter.as_ref(), &format!("step {sname}: wait_for"))?;
                let Some(t) = &s.timeout else {
                    return cx.err(k.span(), format!("step {sname}: wait_for needs `timeout` (`24h`)"));
                };
                let timeout = cx.dur(t, &format!("step {sname}: timeout"))?;
                let on_event = match &s.on_event {
                    Some(t) => target(&cx, i, t, "on_event")?,
                    None => next,
                };
                Action::WaitFor { kind, filter, timeout, on_event }
            }
            "if" => {
                let c = s.cond.as_ref().expect("present");
                let expr = cx.expr(c, &format!("step {sname}: if"), true)?;
                let then = match &s.then {
                    Some(t) => target(&cx, i, t, "then")?,
                    None => next,
                };
                let otherwise = match &s.otherwise {
                    Some(t) => target(&cx, i, t, "else")?,
                    None => next,
                };
                Action::If { expr, then, otherwise }
            }
            "if_entry" => {
                let c = s.if_entry.as_ref().expect("present");
                let kind = match &trigger {
                    Trigger::Event { kind, .. } | Trigger::AfterLast { kind, .. } => kind.clone(),
                    Trigger::Segment { .. } => {
                        return cx.err(
                            c.span(),
                            format!(
                                "step {sname}: if_entry needs an entry on an event (this journey enters on a segment)"
                            ),
                        );
                    }
                };
                let kspan = c.span();
                let (_, filter) = cx.event(&Spanned::new(kspan, kind), Some(c), &format!("step {sname}: if_entry"))?;
                let then = match &s.then {
                    Some(t) => target(&cx, i, t, "then")?,
                    None => next,
                };
                let otherwise = match &s.otherwise {
                    Some(t) => target(&cx, i, t, "else")?,
                    None => next,
                };
                Action::IfEntry { filter: filter.unwrap_or_default(), then, otherwise }
            }
            "split" => {
                let list = s.split.as_ref().expect("present");
                let mut branches = Vec::new();
                let mut sum = 0i64;
                for b in list.get_ref() {
                    let bf = b.get_ref();
                    let p = *bf.percent.get_ref();
                    if !(1..=100).contains(&p) {
                        return cx.err(
                            bf.percent.span(),
                            format!("step {sname}: a branch's percent must be 1 to 100, not {p}"),
                        );
                    }
                    sum += p;
                    let to = match (&bf.next, bf.holdout) {
                        (Some(n), false) => Some(target(&cx, i, n, "split next")?),
                        (None, false) => Some(next),
                        (None, true) => None,
                        (Some(n), true) => {
                            return cx.err(
                                n.span(),
                                format!("step {sname}: a holdout branch goes nowhere (drop its `next`)"),
                            );
                        }
                    };
                    branches.push(Branch { percent: p as u8, next: to });
                }
                if branches.len() < 2 {
                    return cx.err(list.span(), format!("step {sname}: a split needs at least two branches"));
                }
                if sum != 100 {
                    return cx.err(list.span(), format!("step {sname}: the split's percentages sum to {sum}, not 100"));
                }
                Action::Split { branches }
            }
            "send" => {
                let c = s.send.as_ref().expect("present");
                let channel: Channel = c.get_ref().trim().parse().or_else(|_| {
                    cx.err(
                        c.span(),
                        format!(
                            "step {sname}: no delivery adapter for channel `{}` (channels: email, sms, push)",
                            c.get_ref()
                        ),
                    )
                })?;
                let priority: Priority = match &s.priority {
                    Some(p) => p
                        .get_ref()
                        .trim()
                        .parse()
                        .or_else(|e: String| cx.err(p.span(), format!("step {sname}: {e}")))?,
                    None => Priority::Normal,
                };
                let subject = s.subject.as_ref().map(|x| x.get_ref().clone()).unwrap_or_default();
                let Some(body) = &s.body else {
                    return cx.err(c.span(), format!("step {sname}: a send needs a `body`"));
                };
                if channel == Channel::Email && subject.trim().is_empty() {
                    return cx.err(c.span(), format!("step {sname}: an email needs a `subject`"));
                }
                if let Err(e) = Templates::compile(channel, &subject, body.get_ref()) {
                    return cx.err(body.span(), format!("step {sname}: {}", e.message));
                }
                let promo = match &s.promo {
                    None => None,
                    Some(p) => {
                        let pf = p.get_ref();
                        let pc = *pf.percent.get_ref();
                        if !(1..=100).contains(&pc) {
                            return cx.err(
                                pf.percent.span(),
                                format!("step {sname}: promo.percent must be 1 to 100, not {pc}"),
                            );
                        }
                        let valid = cx.dur(&pf.valid, &format!("step {sname}: promo.valid"))?;
                        let prefix = match &pf.prefix {
                            Some(x) => {
                                let t = x.get_ref().trim().to_string();
                                if t.is_empty() || t.len() > 16 || !t.chars().all(|c| c.is_ascii_alphanumeric()) {
                                    return cx.err(
                                        x.span(),
                                        format!("step {sname}: promo.prefix `{t}` must be 1 to 16 letters or digits"),
                                    );
                                }
                                t
                            }
                            None => format!("P{pc}"),
                        };
                        Some(Promo { percent: pc as u8, valid, prefix })
                    }
                };
                Action::Send { channel, priority, subject, body: body.get_ref().clone(), promo }
            }
            "tag_add" | "tag_remove" => {
                let t = s.tag_add.as_ref().or(s.tag_remove.as_ref()).expect("present");
                let tag = t.get_ref().trim().to_string();
                if !crate::model::schema::valid_name(&tag) {
                    return cx.err(t.span(), format!("step {sname}: `{tag}` is not a valid tag"));
                }
                if kind == "tag_add" { Action::TagAdd(tag) } else { Action::TagRemove(tag) }
            }
            "score" => {
                let d = s.score.as_ref().expect("present");
                if *d.get_ref() == 0 {
                    return cx.err(d.span(), format!("step {sname}: a score change of 0 does nothing"));
                }
                Action::Score(*d.get_ref())
            }
            "set" => {
                let t = s.set.as_ref().expect("present");
                let mut it = t.get_ref().iter();
                let (Some((attr, value)), None) = (it.next(), it.next()) else {
                    return cx.err(
                        t.span(),
                        format!("step {sname}: set one attribute per step (`set = {{ tier = \"gold\" }}`)"),
                    );
                };
                let value = set_value(cx.checker.catalog, attr, value)
                    .or_else(|e| cx.err(t.span(), format!("step {sname}: {e}")))?;
                Action::Set { attribute: attr.clone(), value }
            }
            "exit" => {
                let x = s.exit.as_ref().expect("present");
                if !*x.get_ref() {
                    return cx.err(x.span(), format!("step {sname}: `exit = false` does nothing (leave it out)"));
                }
                if let Some(n) = &s.next {
                    return cx.err(n.span(), format!("step {sname}: an exit has no `next`"));
                }
                Action::Exit
            }
            _ => unreachable!("every action key is listed"),
        };
        steps.push(Step { name: sname, action, next, line });
    }
    let journey = Journey {
        name,
        description: f.description,
        trigger,
        entry_if,
        reentry,
        lookback,
        goals,
        steps,
        status: Status::Draft,
        created_at: now,
        updated_at: now,
        started_at: None,
        source: text.to_string(),
    };
    Ok((journey, cx.warnings))
}

/// Fields a journey may set: attributes, not contact columns or derived facts.
const NOT_SETTABLE: &[&str] = &[
    "email",
    "external_id",
    "created_at",
    "score",
    "timezone",
    "age",
    "engagement",
    "lifecycle",
    "rfm",
    "rfm.r",
    "rfm.f",
    "rfm.m",
    "consent.email",
    "consent.sms",
    "consent.push",
];

/// Checks a `set` value against the attribute's type; returns it as text.
fn set_value(cat: &dyn Catalog, attr: &str, v: &toml::Value) -> Result<String, String> {
    if NOT_SETTABLE.contains(&attr) {
        return Err(format!("`{attr}` is not an attribute a journey can set (use `score` for the score)"));
    }
    let Some(ty) = cat.field(attr) else {
        let names = cat.field_names();
        let hint = crate::segment::suggest(attr, &names).map(|s| format!(", did you mean `{s}`?")).unwrap_or_default();
        return Err(format!("unknown attribute `{attr}`{hint} (declare it with `reach schema add-attribute`)"));
    };
    let text = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        other => return Err(format!("`{attr}`: {other} is not a value (a string, number or boolean)")),
    };
    let ok = match &ty {
        FieldType::Number => text.parse::<crate::model::Decimal>().is_ok(),
        FieldType::Bool => matches!(text.as_str(), "true" | "false"),
        FieldType::Date => chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").is_ok(),
        FieldType::Enum(vals) => vals.contains(&text),
        FieldType::Set(vals) => text.split([';', ',']).all(|x| vals.is_empty() || vals.iter().any(|v| v == x.trim())),
        FieldType::Text | FieldType::DateTime => true,
    };
    if !ok {
        return Err(format!("`{text}` is not a value of `{attr}` ({ty:?})"));
    }
    Ok(text)
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
