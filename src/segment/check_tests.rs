//! Checker tests: the spec's examples pass; unknown names and wrong types fail
//! with positions and suggestions; missing tags warn; segment cycles fail.

use super::tests::EXAMPLES;
use super::*;

fn catalog() -> StaticCatalog {
    StaticCatalog::builtin()
        .with_field("interests", FieldType::Set(vec!["yoga".into(), "running".into()]))
        .with_tags(&["vip", "churned"])
        .with_categories(&["shoes"])
        .with_segment("big_spenders", "sum(purchase.amount) >= 500")
        .with_segment("recent_buyers", "days_since_last(purchase) < 30")
        .with_places(&["Milano", "Roma"])
}

fn fails(src: &str) -> ParseError {
    let e = parse(src).unwrap_or_else(|e| panic!("{src}: does not parse: {e}"));
    match check(&e, src, &catalog()) {
        Ok(w) => panic!("{src}: passed the check ({w:?})"),
        Err(e) => e,
    }
}

fn passes(src: &str) -> Vec<Warning> {
    parse_checked(src, &catalog()).unwrap_or_else(|e| panic!("{src}: {e}")).1
}

#[test]
fn spec_examples_pass_the_check_without_warnings() {
    for src in EXAMPLES {
        assert_eq!(passes(src), vec![], "{src}");
    }
}

#[test]
fn more_valid_expressions() {
    for src in [
        "created_at >= 2024-01-01 and created_at < 2024-06-01T12:00:00Z",
        "birth_date between 1980-01-01 and 1990-12-31",
        "rfm = \"555\" and rfm.r >= 4",
        "gender in [female, \"other\"] and consent.sms != false",
        "city contains \"Mil\" and phone is not set",
        "count(email_bounce where type = hard) >= 1",
        "avg(purchase.quantity, since 2024-01-01) > 2",
        "count(purchase where utm_campaign = \"spring\" and not source in [paid, social]) = 0",
        "near(45.46, 9.19) within 5mi and category:shoes",
        "segment:big_spenders or tag:vip",
    ] {
        assert_eq!(passes(src), vec![], "{src}");
    }
}

fn at(e: &ParseError) -> (usize, Option<&str>) {
    (e.column, e.suggestion.as_deref())
}

#[test]
fn unknown_names_are_errors_with_suggestions() {
    let e = fails("citty = \"Milano\"");
    assert_eq!(at(&e), (1, Some("city")));
    assert_eq!(e.to_string(), "column 1: unknown field `citty`, did you mean `city`?");

    let e = fails("count(purchse) > 1");
    assert_eq!(at(&e), (7, Some("purchase")));
    assert_eq!(e.message, "unknown event kind `purchse`");

    let e = fails("tag:vip and sum(purchase.amout) > 1");
    assert_eq!(at(&e), (26, Some("amount")));

    let e = fails("count(purchase where manufactrer = \"Acme\") > 1");
    assert_eq!(at(&e), (22, Some("manufacturer")));

    let e = fails("count(purchase where sorce = paid) > 1");
    assert_eq!(at(&e), (22, Some("source")));

    let e = fails("engagement = dormnt");
    assert_eq!(at(&e), (14, Some("dormant")));

    let e = fails("count(purchase where source = payd) > 0");
    assert_eq!(at(&e), (31, Some("paid")));

    let e = fails("consent.emial = true");
    assert_eq!(at(&e), (1, Some("consent.email")));

    let e = fails("near(\"Milan\") within 20km");
    assert_eq!(at(&e), (6, Some("Milano")));

    let e = fails("interests contains \"yogaa\"");
    assert_eq!(at(&e), (20, Some("yoga")));
}

#[test]
fn wrong_types_are_errors() {
    let e = fails("score > \"abc\"");
    assert_eq!(e.column, 9);
    assert_eq!(e.message, "`score` is a number, found text \"abc\"");
    assert_eq!(fails("score > \"12\"").suggestion.as_deref(), Some("12"));

    let e = fails("consent.email = 3");
    assert_eq!(e.column, 17);
    assert!(e.message.contains("true or false"), "{e}");

    let e = fails("birth_date > 18");
    assert!(e.message.contains("a date"), "{e}");
    fails("birth_date > 2024-01-01T00:00:00Z");
    fails("created_at > \"yesterday\"");

    let e = fails("city = Milano");
    assert_eq!(at(&e), (8, Some("\"Milano\"")));
    assert_eq!(fails("rfm = 555").suggestion.as_deref(), Some("\"555\""));

    fails("consent.email > true");
    fails("engagement < dormant");
    fails("interests = \"yoga\"");
    fails("score contains 3");
    fails("lifecycle between new and lapsed");
    fails("count(purchase) > \"many\"");
    fails("count(purchase where amount > \"x\") > 0");
    fails("near(95, 9) within 5km");
    fails("near(\"Roma\") within 0km");
}

#[test]
fn aggregate_parameters() {
    let e = fails("sum(purchase) > 3");
    assert_eq!(at(&e), (5, Some("sum(purchase.amount)")));
    let e = fails("count(purchase.amount) > 3");
    assert_eq!(e.column, 16);
    assert!(e.message.contains("takes no parameter"), "{e}");
    let e = fails("max(purchase.currency) > 3");
    assert_eq!(at(&e), (14, Some("amount")));
    fails("days_since_first(purchase.amount) > 3");
    fails("sum(unsubscribe.x) > 0");
}

#[test]
fn missing_tags_categories_segments_are_warnings() {
    let w = passes("tag:vipp or category:shoe or segment:big_spender");
    let got: Vec<(usize, &str, Option<&str>)> =
        w.iter().map(|w| (w.column, w.message.as_str(), w.suggestion.as_deref())).collect();
    assert_eq!(
        got,
        vec![
            (5, "tag `vipp` does not exist yet", Some("vip")),
            (22, "category `shoe` does not exist yet", Some("shoes")),
            (38, "segment `big_spender` does not exist yet", Some("big_spenders")),
        ]
    );
    assert_eq!(w[0].to_string(), "column 5: tag `vipp` does not exist yet, did you mean `vip`?");
}

#[test]
fn segment_cycles_are_errors() {
    let cat = catalog()
        .with_segment("a", "segment:b and tag:vip")
        .with_segment("b", "score > 1 or segment:c")
        .with_segment("c", "not segment:a")
        .with_segment("d", "segment:big_spenders and segment:recent_buyers")
        .with_segment("broken", "score >");
    let src = "tag:vip and segment:a";
    let e = check(&parse(src).unwrap(), src, &cat).unwrap_err();
    assert_eq!(e.column, 21);
    assert_eq!(e.message, "segment cycle: a → b → c → a");

    // saving `x` whose body reaches `x` again
    let cat2 = cat.clone().with_segment("x", "segment:y").with_segment("y", "segment:x");
    let src = "segment:y";
    let e = check_segment("x", &parse(src).unwrap(), src, &cat2).unwrap_err();
    assert_eq!(e.message, "segment cycle: x → y → x");
    let e = check_segment("x", &parse("segment:x").unwrap(), "segment:x", &cat2).unwrap_err();
    assert_eq!(e.message, "segment cycle: x → x");

    // shared references and broken saved segments are not cycles
    for src in ["segment:d and segment:d", "segment:broken", "segment:big_spenders"] {
        assert!(check(&parse(src).unwrap(), src, &cat).is_ok(), "{src}");
    }
    assert!(check_segment("new", &parse("segment:d").unwrap(), "segment:d", &cat).is_ok());
}

#[test]
fn hand_built_trees_check_without_a_source() {
    let e = Expr::Pred(Predicate::Cond(Cond::Cmp {
        field: Name::new("citty"),
        op: CmpOp::Eq,
        value: Lit::new(Value::Str("x".into())),
    }));
    let err = check(&e, "", &catalog()).unwrap_err();
    assert_eq!((err.pos, err.column), (0, 1));
}
