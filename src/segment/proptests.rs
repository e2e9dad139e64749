//! Property tests: printing round-trips through the parser; parsing never panics.
//!
//! Normalisation: the generator deliberately produces *un-normalised* trees
//! too (an `And` directly inside an `And`, one-child `And`/`Or`), and the
//! round-trip property is `parse(print(t)) == normalize(t)`; for normalised
//! trees `normalize(t) == t`, which is checked as well. Only empty
//! `And`/`Or` are never generated (they have no text form).

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

use super::*;
use crate::model::Decimal;

fn ident() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_-]{0,8}"
}

/// Any NAME text: identifiers, keywords, and awkward strings needing quotes.
fn name_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => ident(),
        1 => prop::sample::select(vec![
            "not", "NOT", "and", "or", "tag", "in", "is", "set", "true", "where", "last", "near",
            "count", "between", "", "a b", "\"", "\\", "a.b", "é", "1x", "-",
        ])
        .prop_map(String::from),
        2 => any::<String>(),
    ]
}

fn name() -> impl Strategy<Value = Name> {
    name_text().prop_map(Name::new)
}

fn field() -> impl Strategy<Value = Name> {
    prop_oneof![prop::collection::vec(name_text(), 1..4).prop_map(|v| Name::new(v.join("."))), name(),]
}

fn decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (i64::MIN + 1..=i64::MAX).prop_map(Decimal),
        (-1000i64..1000).prop_map(|i| Decimal(i * 1_000_000)),
        (-1_000_000i64..1_000_000).prop_map(Decimal),
    ]
}

fn date() -> impl Strategy<Value = NaiveDate> {
    let lo = NaiveDate::from_ymd_opt(1000, 1, 1).unwrap().num_days_from_ce();
    let hi = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap().num_days_from_ce();
    (lo..=hi).prop_map(|d| NaiveDate::from_num_days_from_ce_opt(d).unwrap())
}

fn datetime() -> impl Strategy<Value = DateTime<Utc>> {
    let lo = NaiveDate::from_ymd_opt(1000, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let hi = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap().and_hms_opt(23, 59, 59).unwrap().and_utc();
    (lo.timestamp()..=hi.timestamp(), prop_oneof![Just(0u32), 0u32..1_000_000_000])
        .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap())
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        decimal().prop_map(Value::Number),
        any::<String>().prop_map(Value::Str),
        name_text().prop_map(Value::Str),
        any::<bool>().prop_map(Value::Bool),
        date().prop_map(Value::Date),
        datetime().prop_map(Value::DateTime),
        ident()
            .prop_filter("true/false are Bool", |s| {
                !s.eq_ignore_ascii_case("true") && !s.eq_ignore_ascii_case("false")
            })
            .prop_map(Value::Ident),
    ]
}

fn lit() -> impl Strategy<Value = Lit> {
    value().prop_map(Lit::new)
}

fn op() -> impl Strategy<Value = CmpOp> {
    prop::sample::select(CmpOp::ALL.to_vec())
}

fn cond() -> impl Strategy<Value = Cond> {
    prop_oneof![
        (field(), op(), lit()).prop_map(|(field, op, value)| Cond::Cmp { field, op, value }),
        (field(), prop::collection::vec(lit(), 1..4)).prop_map(|(field, values)| Cond::In { field, values }),
        (field(), lit(), lit()).prop_map(|(field, lo, hi)| Cond::Between { field, lo, hi }),
        (field(), lit()).prop_map(|(field, value)| Cond::Contains { field, value }),
        (field(), any::<bool>()).prop_map(|(field, negated)| Cond::IsSet { field, negated }),
    ]
}

fn tree<P: Clone + std::fmt::Debug + 'static>(
    leaf: impl Strategy<Value = P> + 'static,
    depth: u32,
) -> impl Strategy<Value = BoolExpr<P>> {
    leaf.prop_map(BoolExpr::Pred).prop_recursive(depth, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| BoolExpr::Not(Box::new(e))),
            prop::collection::vec(inner.clone(), 1..4).prop_map(BoolExpr::And),
            prop::collection::vec(inner, 1..4).prop_map(BoolExpr::Or),
        ]
    })
}

fn date_lit() -> impl Strategy<Value = DateLit> {
    prop_oneof![date().prop_map(DateLit::Date), datetime().prop_map(DateLit::DateTime)]
}

fn window() -> impl Strategy<Value = Window> {
    prop_oneof![
        (any::<u32>(), prop::sample::select(DurUnit::ALL.to_vec())).prop_map(|(n, unit)| Window::Last { n, unit }),
        date_lit().prop_map(Window::Since),
        (date_lit(), date_lit()).prop_map(|(a, b)| Window::Between(a, b)),
    ]
}

fn agg() -> impl Strategy<Value = Agg> {
    (
        prop::sample::select(AggFunc::ALL.to_vec()),
        name(),
        prop::option::of(name()),
        prop::option::of(tree(cond(), 3).prop_map(Box::new)),
        prop::option::of(window()),
        op(),
        lit(),
    )
        .prop_map(|(func, kind, param, filter, window, op, value)| Agg {
            func,
            kind,
            param,
            filter,
            window,
            op,
            value,
        })
}

fn predicate() -> impl Strategy<Value = Predicate> {
    let place = prop_oneof![
        any::<String>().prop_map(|s| Place::City(Name::new(s))),
        (decimal(), decimal()).prop_map(|(lat, lon)| Place::Coords { lat, lon }),
    ];
    let unit = prop_oneof![Just(DistUnit::Km), Just(DistUnit::Mi)];
    prop_oneof![
        1 => name().prop_map(Predicate::Tag),
        1 => name().prop_map(Predicate::Category),
        1 => name().prop_map(Predicate::Segment),
        3 => cond().prop_map(Predicate::Cond),
        1 => (place, decimal(), unit).prop_map(|(place, radius, unit)| Predicate::Near { place, radius, unit, span: Span::default() }),
        2 => agg().prop_map(Predicate::Agg),
    ]
}

/// Source fragments that exercise the grammar more than random text does.
fn token_soup() -> impl Strategy<Value = String> {
    let toks = vec![
        "tag",
        ":",
        "vip",
        "and",
        "or",
        "not",
        "(",
        ")",
        "[",
        "]",
        ",",
        ".",
        "=",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "in",
        "between",
        "contains",
        "is",
        "set",
        "near",
        "within",
        "20km",
        "count",
        "sum",
        "days_since_last",
        "purchase",
        "amount",
        "where",
        "last",
        "30d",
        "6mo",
        "since",
        "2024-01-01",
        "2024-01-01T10:00:00Z",
        "\"x\"",
        "\"",
        "\\",
        "1",
        "-2.5",
        "0.1234567",
        "é",
        "score",
        "source",
        "paid",
        "true",
        "segment",
        "category",
        "city",
        "consent.email",
        "interests",
        "lifecycle",
        "new",
        "birth_date",
        "avg",
        "quantity",
        "\"Milano\"",
        "big_spenders",
        "loop",
    ];
    prop::collection::vec(prop::sample::select(toks), 0..24).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parsing_any_string_never_panics(s in any::<String>()) {
        let _ = parse(&s);
    }

    #[test]
    fn parsing_token_soup_never_panics_and_is_stable(s in token_soup()) {
        if let Ok(e) = parse(&s) {
            let cat = StaticCatalog::builtin()
                .with_segment("big_spenders", "segment:loop")
                .with_segment("loop", "segment:big_spenders or score > 1")
                .with_places(&["Milano"]);
            let _ = check(&e, &s, &cat);
            let text = print(&e);
            prop_assert_eq!(parse(&text).unwrap(), e, "{} -> {}", s, text);
        }
    }
}

/// Checks one generated tree: `parse(print(t)) == normalize(t)`, the
/// canonical text is a fixed point, and checking it does not panic.
fn round_trip(t: BoolExpr<Predicate>) -> Result<(), TestCaseError> {
    let text = print(&t);
    let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}\n{e}")))?;
    let n = normalize(&t);
    prop_assert_eq!(&back, &n, "text: {}", text);
    prop_assert_eq!(normalize(&n), n.clone());
    let canonical = print(&n);
    prop_assert_eq!(print(&back), canonical.clone());
    prop_assert_eq!(parse(&canonical).unwrap(), n);
    // the checker never panics either, whatever the names and values
    let _ = check(&back, &text, &StaticCatalog::builtin().with_places(&["Milano"]));
    Ok(())
}

/// Proptest's nested strategies need more stack than a debug test thread's
/// 2 MiB when generating trees of trees, so this one runs on its own thread.
#[test]
fn print_then_parse_round_trips() {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            let config = ProptestConfig { cases: 1024, ..ProptestConfig::default() };
            let mut runner = TestRunner::new(config);
            if let Err(e) = runner.run(&tree(predicate(), 5), round_trip) {
                panic!("{e}");
            }
        })
        .expect("spawn")
        .join()
        .expect("round trip property");
}
