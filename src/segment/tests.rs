//! Parser and printer tests: the spec's examples, canonical forms, errors.

use super::*;

/// Every example from spec/segments.md "Examples that must work".
pub(crate) const EXAMPLES: &[&str] = &[
    r#"tag:vip and not tag:churned"#,
    r#"age between 18 and 35 and near("Milano") within 20km"#,
    r#"sum(purchase.amount where manufacturer = "Acme", last 6mo) > 300"#,
    r#"sum(purchase.amount) >= 500 and sum(purchase.amount) < 1000"#,
    r#"count(purchase where source = paid) >= 1 and count(purchase where source != paid) = 0"#,
    r#"count(purchase where product = "X100", last 1mo) >= 1 and count(purchase where category = "x100-accessories") = 0"#,
    r#"count(cart_add, last 1d) >= 1 and days_since_last(purchase) > 15"#,
    r#"days_since_last(purchase) > 90 and sum(purchase.amount, last 1y) > 150"#,
    r#"count(email_open, last 30d) = 0 and count(email_sent, last 30d) >= 2"#,
    r#"engagement = dormant or lifecycle in ["disengaging", "lapsed"]"#,
    r#"count(page_view where category = "running" and source = email, last 14d) >= 3"#,
    r#"interests contains "yoga" and consent.email = true"#,
    r#"segment:big_spenders and not segment:recent_buyers"#,
];

#[test]
fn spec_examples_parse_print_canonically_and_round_trip() {
    for src in EXAMPLES {
        let e = parse(src).unwrap_or_else(|err| panic!("{src}: {err}"));
        // the examples are already written in canonical form
        assert_eq!(print(&e), *src);
        assert_eq!(parse(&print(&e)).unwrap(), e);
    }
}

fn canon(src: &str) -> String {
    print(&parse(src).unwrap_or_else(|e| panic!("{src}: {e}")))
}

#[test]
fn canonical_form() {
    assert_eq!(canon("TAG:vip AND NOT Tag:\"churned\""), "tag:vip and not tag:churned");
    assert_eq!(canon("(a = 1 and b = 2) and c = 3"), "a = 1 and b = 2 and c = 3");
    assert_eq!(canon("((a = 1))"), "a = 1");
    assert_eq!(canon("a = 1 or b = 2 and c = 3"), "a = 1 or b = 2 and c = 3");
    assert_eq!(canon("(a = 1 or b = 2) and c = 3"), "(a = 1 or b = 2) and c = 3");
    assert_eq!(canon("not (a = 1 and b = 2)"), "not (a = 1 and b = 2)");
    assert_eq!(canon("not not a=1"), "not not a = 1");
    assert_eq!(canon("\"first name\" = \"A \\\"B\\\" \\\\ C\""), r#""first name" = "A \"B\" \\ C""#);
    assert_eq!(canon("\"consent\".\"email\" = TRUE"), "consent.email = true");
    assert_eq!(canon("\"not\" = 1"), r#""not" = 1"#);
    assert_eq!(canon("score >= -1.50"), "score >= -1.5");
    assert_eq!(canon("d = 0999-01-01"), "d = 0999-01-01");
    assert_eq!(canon("created_at >= 2024-01-05T10:00:00+02:00"), "created_at >= 2024-01-05T08:00:00Z");
    assert_eq!(canon("birth_date between 1990-01-01 and 1999-12-31"), "birth_date between 1990-01-01 and 1999-12-31");
    assert_eq!(canon("phone is  set or phone IS NOT SET"), "phone is set or phone is not set");
    assert_eq!(canon("near(45.4642, 9.19) within 5 MI"), "near(45.4642, 9.19) within 5mi");
    assert_eq!(
        canon("COUNT(purchase WHERE (a = 1 or b = 2) and not c is set, SINCE 2024-01-01) > 0"),
        "count(purchase where (a = 1 or b = 2) and not c is set, since 2024-01-01) > 0"
    );
    assert_eq!(
        canon("max(\"my kind\".\"a b\", between 2024-01-01 and 2024-02-01) <= 3"),
        r#"max("my kind"."a b", between 2024-01-01 and 2024-02-01) <= 3"#
    );
}

#[test]
fn structure_and_precedence() {
    let e = parse("a = 1 or b = 2 and not c = 3").unwrap();
    let BoolExpr::Or(xs) = &e else { panic!("{e:?}") };
    assert_eq!(xs.len(), 2);
    let BoolExpr::And(ys) = &xs[1] else { panic!("{e:?}") };
    assert!(matches!(ys[1], BoolExpr::Not(_)));
    // flattened: one And with three children
    assert!(matches!(parse("a=1 and b=2 and c=3").unwrap(), BoolExpr::And(v) if v.len() == 3));
    // bare identifiers and strings are different values
    let id = parse("source = paid").unwrap();
    let st = parse("source = \"paid\"").unwrap();
    assert_ne!(id, st);
    assert_eq!(print(&id), "source = paid");
    assert_eq!(print(&st), "source = \"paid\"");
}

#[test]
fn spans_point_at_tokens() {
    let src = "score > 3 and consent.email = true";
    let BoolExpr::And(xs) = parse(src).unwrap() else { panic!() };
    let BoolExpr::Pred(Predicate::Cond(Cond::Cmp { field, value, .. })) = &xs[1] else { panic!() };
    assert_eq!(&src[field.span.start..field.span.end], "consent.email");
    assert_eq!(&src[value.span.start..value.span.end], "true");
}

fn err(src: &str) -> ParseError {
    match parse(src) {
        Ok(e) => panic!("{src} parsed as {e:?}"),
        Err(e) => e,
    }
}

#[test]
fn errors_have_columns_and_messages() {
    let e = err("score >");
    assert_eq!(e.column, 8);
    assert!(e.message.contains("expected a value"), "{e}");
    assert!(e.message.contains("found end of input"), "{e}");

    let e = err("tag:vip and score");
    assert_eq!(e.column, 18);
    assert!(e.to_string().starts_with("column 18: expected a comparison (=, !=, <, <=, >, >=)"), "{e}");
    assert!(e.message.contains("after `score`"), "{e}");

    let e = err("tag:vip adn tag:x");
    assert_eq!((e.column, e.suggestion.as_deref()), (9, Some("and")));
    assert_eq!(e.to_string(), "column 9: expected `and`, `or` or end of input, found `adn`, did you mean `and`?");

    let e = err("cuont(purchase) > 1");
    assert_eq!((e.column, e.suggestion.as_deref()), (1, Some("count")));

    let e = err("count(purchase, last 30 days) > 1");
    assert_eq!((e.column, e.suggestion.as_deref()), (25, Some("30d")));

    let e = err("(a = 1 or b = 2");
    assert_eq!(e.column, 16);
    assert!(e.message.contains("`)` (to close `(` at column 1)"), "{e}");

    let e = err("near(\"Milano\") within 20 miles");
    assert_eq!(e.column, 26);

    let e = err("lifecycle in [\"new\" \"lapsed\"]");
    assert_eq!(e.column, 21);
    assert!(e.message.contains("expected `,` or `]`"), "{e}");

    let e = err("count(purchase wher source = paid) > 1");
    assert_eq!((e.column, e.suggestion.as_deref()), (16, Some("where")));

    let e = err("");
    assert_eq!(e.column, 1);
    assert!(e.message.contains("expected a condition"), "{e}");

    let e = err("city = 'Milano'");
    assert_eq!(e.column, 8);

    let e = err("x = \"é");
    assert_eq!(e.column, 5);

    // column counts characters, pos counts bytes
    let e = err("\"città\" = ");
    assert_eq!((e.pos, e.column), (11, 11));
    let e = err("\"città\" =  )");
    assert_eq!((e.pos, e.column), (12, 12));
    let e = err("\"ééé\" > )");
    assert_eq!((e.pos, e.column), (11, 9));

    let e = err("count(purchase) > 1 and tagg:vip");
    assert_eq!((e.column, e.suggestion.as_deref()), (25, Some("tag")));

    let e = err("count(purchase, last 1.5d) > 1");
    assert!(e.message.contains("whole number"), "{e}");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}a = 1{}", "(".repeat(100_000), ")".repeat(100_000));
    assert!(err(&deep).message.contains("nested too deeply"));
    let nots = format!("{}a = 1", "not ".repeat(100_000));
    assert!(err(&nots).message.contains("nested too deeply"));
    let ok = format!("{}a = 1{}", "(".repeat(150), ")".repeat(150));
    assert!(parse(&ok).is_ok());
    let long = vec!["a = 1"; 50_000].join(" and ");
    assert!(matches!(parse(&long).unwrap(), BoolExpr::And(v) if v.len() == 50_000));
}

#[test]
fn deepest_accepted_tree_prints_and_round_trips() {
    let mut src = String::from("a = 1");
    for k in 0..MAX_DEPTH / 2 {
        src = if k % 2 == 0 { format!("not ({src} or b = 2)") } else { format!("({src} and c = 3)") };
    }
    let e = parse(&src).unwrap();
    assert_eq!(parse(&print(&e)).unwrap(), e);
    let nots = format!("{}a = 1", "not ".repeat(MAX_DEPTH));
    assert_eq!(print(&parse(&nots).unwrap()), nots);
    assert!(parse(&format!("not {nots}")).is_err());
}
