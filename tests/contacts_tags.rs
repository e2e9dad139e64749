//! `reach contacts list|show|delete` and `reach tags list|add|remove`.

mod common;

use common::Env;
use serde_json::{Value, json};

fn people() -> Env {
    let env = Env::new();
    env.import(
        "contacts",
        "c.csv",
        "external_id,email,first_name,score,tags\n\
         00017,ann@example.com,Ann,5,vip\n\
         b2,bob@example.com,Bob,40,\n\
         c3,,Cy,-2,vip;trial\n\
         ,dee@example.com,Dee,40,trial\n\
         e5,eve@example.com,Eve,12,\n",
        &[],
    )
    .ok();
    env
}

fn ids(v: &Value) -> Vec<u64> {
    v.as_array().unwrap().iter().map(|c| c["id"].as_u64().unwrap()).collect()
}

#[test]
fn list_sorts_by_score_descending_with_a_limit() {
    let env = people();
    // ties keep id order
    assert_eq!(ids(&env.json(&["contacts", "list", "--sort", "-score", "--limit", "3"])), [2, 4, 5]);
    assert_eq!(ids(&env.json(&["contacts", "list", "--sort", "score", "--limit", "2"])), [3, 1]);
    assert_eq!(ids(&env.json(&["contacts", "list", "--sort=-score"])), [2, 4, 5, 1, 3]);
    // missing values sort last either way
    assert_eq!(ids(&env.json(&["contacts", "list", "--sort", "-external_id"])), [5, 3, 2, 1, 4]);
    assert_eq!(ids(&env.json(&["contacts", "list", "--sort", "first_name", "--limit", "2"])), [1, 2]);
    assert_eq!(ids(&env.json(&["contacts", "list", "--limit", "2"])), [1, 2]);
    assert_eq!(ids(&env.json(&["contacts", "list", "--tag", "vip", "--sort", "-score"])), [1, 3]);
    let err = env.run(&["contacts", "list", "--sort", "shoe_size"]).fails(2);
    assert!(err.starts_with("error: --sort: unknown field `shoe_size` (one of: id, score, "), "{err}");
    // CSV output for scripts
    let csv = env.run(&["contacts", "list", "--sort", "-score", "--limit", "1", "--format", "csv"]).ok();
    let rows = common::csv_records(&csv);
    assert_eq!((rows.len(), rows[0]["email"].as_str(), rows[0]["score"].as_str()), (1, "bob@example.com", "40"));
}

#[test]
fn show_finds_a_contact_by_id_email_or_external_id() {
    let env = people();
    for key in ["1", "ann@example.com", "ANN@Example.com", "00017"] {
        let c = env.json(&["contacts", "show", key]);
        assert_eq!((c["id"].as_u64(), c["external_id"].as_str()), (Some(1), Some("00017")), "{key}");
        assert_eq!(c["tags"], json!(["vip"]));
        assert_eq!(c["first_name"], "Ann");
        assert!(c["timeline"].is_array() && c["derived"].is_object(), "{c}");
    }
    // the readable card
    let card = env.run(&["contacts", "show", "00017", "--format", "table"]).ok();
    assert!(card.starts_with("ann@example.com  (id 1)\n") || card.contains("(id 1)"), "{card}");
    assert!(card.contains("  external_id 00017\n"), "{card}");
    assert!(card.contains("  score       5\n"), "{card}");
}

#[test]
fn unknown_contact_keys_are_input_errors() {
    let env = people();
    let before = env.export("contacts");
    for (args, msg) in [
        (&["contacts", "show", "nobody@example.com"][..], "error: no such contact: nobody@example.com"),
        (&["contacts", "show", "17"], "error: no such contact: 17"),
        (&["contacts", "show", "99"], "error: no such contact: 99"),
        (&["contacts", "delete", "b2", "ghost", "99"], "error: no such contact: ghost, 99"),
        (&["tags", "add", "x", "--contact", "ghost"], "error: no such contact: ghost"),
        (&["export", "events", "--contact", "ghost"], "error: no such contact: ghost"),
    ] {
        let err = env.run(args).fails(2);
        assert_eq!(err.lines().next(), Some(msg), "{args:?}");
    }
    // the partly valid delete removed nobody
    assert_eq!(env.export("contacts"), before);
}

#[test]
fn tags_add_remove_and_list() {
    let env = people();
    assert_eq!(env.json(&["tags", "list"]), json!([{"tag": "trial", "count": 2}, {"tag": "vip", "count": 2}]));

    let out =
        env.json(&["tags", "add", "winback", "--contact", "b2", "--contact", "dee@example.com", "--contact", "3"]);
    assert_eq!(out, json!({"tag": "winback", "changed": 3, "selected": 3}));
    // adding again changes nobody
    assert_eq!(env.json(&["tags", "add", "winback", "--contact", "b2"])["changed"], 0);
    // a tag on everyone tagged trial
    assert_eq!(env.json(&["tags", "add", "vip", "--tag", "trial"]), json!({"tag": "vip", "changed": 1, "selected": 2}));
    assert_eq!(
        env.json(&["tags", "list"]),
        json!([{"tag": "vip", "count": 3}, {"tag": "winback", "count": 3}, {"tag": "trial", "count": 2}])
    );
    assert_eq!(env.contact("b2")["tags"], "winback");

    let out = env.json(&["tags", "remove", "winback", "--tag", "vip"]);
    assert_eq!(out, json!({"tag": "winback", "changed": 2, "selected": 3}));
    assert_eq!(env.json(&["tags", "remove", "trial", "--all"])["changed"], 2);
    // an emptied tag disappears
    assert_eq!(env.json(&["tags", "list"]), json!([{"tag": "vip", "count": 3}, {"tag": "winback", "count": 1}]));
    // the segment checker knows the tags left, by name
    let gone = env.run(&["segment", "count", "tag:trial"]);
    assert_eq!(gone.code, 0);
    assert!(gone.stderr.contains("tag `trial` does not exist yet"), "{}", gone.stderr);
    let kept = env.run(&["segment", "count", "tag:winbak"]);
    assert!(kept.stderr.contains("did you mean `winback`?"), "{}", kept.stderr);
    assert_eq!(env.run(&["segment", "count", "tag:winback"]).stderr, "");
    // the timeline records the changes
    let tl = env.json(&["contacts", "show", "dee@example.com"])["timeline"].clone();
    let what: Vec<&str> = tl.as_array().unwrap().iter().filter_map(|t| t["what"].as_str()).collect();
    assert!(what.iter().any(|w| w.contains("winback")) && what.iter().any(|w| w.contains("trial")), "{what:?}");

    // the table form
    let table = env.run(&["tags", "list", "--format", "csv"]).ok();
    assert_eq!(table, "tag,count\nvip,3\nwinback,1\n");
}

#[test]
fn tag_commands_refuse_bad_usage() {
    let env = people();
    let err = env.run(&["tags", "add", "x"]).fails(2);
    assert_eq!(err.lines().next(), Some("error: choose contacts with --tag, --contact, or --all"));
    let err = env.run(&["tags", "add", "a;b", "--all"]).fails(2);
    assert_eq!(err.lines().next(), Some("error: `a;b` is not a valid tag (no empty tags, no ; , or |)"));
    assert_eq!(env.json(&["tags", "list"]).as_array().unwrap().len(), 2);
}

#[test]
fn commands_on_a_missing_database_say_so() {
    let env = Env::new();
    let err = env.run(&["contacts", "list"]).fails(2);
    assert!(err.starts_with("error: no database at "), "{err}");
    assert!(!env.db.exists(), "a read command created the database");
}

#[test]
fn where_and_segment_select_the_same_contacts_as_segment_count() {
    let env = Env::new();
    env.run(&["demo", "--contacts", "600"]).ok();
    let expr = "sum(purchase.amount) >= 100 or tag:vip";
    let count = env.json(&["segment", "count", expr])["count"].as_u64().unwrap();
    assert!(count > 0);
    let listed = env.json(&["contacts", "list", "--where", expr, "--limit", "100000"]);
    assert_eq!(listed.as_array().unwrap().len() as u64, count);
    let exported = env.run(&["export", "contacts", "--where", expr]).ok();
    assert_eq!(exported.lines().count() as u64 - 1, count);
    env.run(&["segment", "save", "picked", expr]).ok();
    let by_segment = env.json(&["contacts", "list", "--segment", "picked", "--limit", "100000"]);
    assert_eq!(by_segment, listed);
    let out = env.json(&["tags", "add", "picked-tag", "--where", expr]);
    assert_eq!(out["changed"].as_u64().unwrap(), count);
    assert_eq!(env.json(&["segment", "count", "tag:picked-tag"])["count"].as_u64().unwrap(), count);
    let err = env.run(&["contacts", "list", "--where", "scor > 1"]).fails(2);
    assert!(err.starts_with("error: column 1: unknown field `scor`, did you mean `score`?"), "{err}");
}
