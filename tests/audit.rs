//! The audit log through the real binary: every change says who made it,
//! when and through which way in; an erasure is logged without any of the
//! erased contact's data.

mod common;

use common::{Env, NOW};

fn demo() -> Env {
    let env = Env::new();
    env.run(&["--now", NOW, "demo", "--contacts", "200", "--seed", "7"]).ok();
    env
}

fn log(env: &Env) -> Vec<serde_json::Value> {
    let v = env.json(&["audit"]);
    v.as_array().expect("a list").clone()
}

#[test]
fn changes_are_logged_with_who_and_how() {
    let env = demo();
    assert!(log(&env).is_empty(), "the demo itself is not an operator's change");
    env.run(&["tags", "add", "audited", "--where", "tag:vip"]).ok();
    env.run(&["segment", "save", "audited_vips", "tag:audited"]).ok();
    env.write("p.toml", "timezone = \"Europe/Rome\"\n");
    env.run(&["policy", "set", "p.toml"]).ok();
    env.write("e.csv", "contact,ts,kind\n1,2026-11-24T08:00:00Z,page_view\n");
    env.run(&["import", "events", "e.csv"]).ok();
    env.write("j.toml", "name = \"j\"\n[entry]\nevent = \"page_view\"\n[[step]]\nname = \"t\"\ntag_add = \"seen\"\n");
    env.run(&["journey", "create", "j.toml"]).ok();
    env.run(&["journey", "start", "j"]).ok();
    env.run(&["schema", "add-attribute", "loyalty", "number"]).ok();
    // a refused change leaves no entry
    env.run(&["segment", "save", "broken", "tag:"]).fails(2);
    let entries = log(&env);
    let what: Vec<&str> = entries.iter().map(|e| e["what"].as_str().unwrap()).collect();
    assert_eq!(what.len(), 7, "{what:?}");
    assert_eq!(what[4..], ["journey j created from j.toml", "journey j active", "attribute loyalty declared"]);
    assert!(what[0].starts_with("tag audited added to ") && what[0].ends_with(" contacts"), "{what:?}");
    assert_eq!(what[1], "segment audited_vips saved: tag:audited");
    assert_eq!(what[2], "policy set");
    assert_eq!(what[3], "imported events from e.csv: 1 events, 1 new contacts");
    for e in &entries {
        assert_eq!(e["via"], "cli");
        assert_eq!(e["ts"], "2026-11-24T12:00:00Z");
        assert!(!e["who"].as_str().unwrap().is_empty());
    }
    // --since keeps the later ones; a bad time is refused
    assert_eq!(env.json(&["audit", "--since", "2026-11-25"]).as_array().unwrap().len(), 0);
    let err = env.run(&["audit", "--since", "yesterday"]).fails(2);
    assert!(err.contains("--since"), "{err}");
}

#[test]
fn an_erasure_is_logged_without_the_contacts_data() {
    let env = demo();
    let c = env.json(&["contacts", "show", "5"]);
    let email = c["contact"]["email"].as_str().or_else(|| c["email"].as_str()).expect("an email").to_string();
    env.run(&["contacts", "delete", &email]).ok();
    let entries = log(&env);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["what"], "erased 1 contact");
    let all = env.run(&["audit", "--format", "csv"]).ok();
    assert!(!all.contains(&email), "{all}");
}
