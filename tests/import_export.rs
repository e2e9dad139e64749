//! Import and export end to end: exact money, verbatim identifiers, the
//! presets with the headers those tools ship, a UCI Online Retail shaped
//! purchase log, round trips, JSONL, stdin, upserts and skip-invalid.

mod common;

use common::{Env, NOW, csv_records};
use serde_json::Value;

fn report(env: &Env, what: &str, name: &str, contents: &str, extra: &[&str]) -> Value {
    let mut args = extra.to_vec();
    args.push("--json");
    let out = env.import(what, name, contents, &args).ok();
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("report is not JSON ({e}): {out}"))
}

/// An exact decimal as integer hundredths (fails on more than two places).
/// Exports both tables to contacts.csv and events.csv and imports them,
/// contacts first, into a new database; returns both exports and its path.
fn restore(env: &Env, event_args: &[&str]) -> (String, String, std::path::PathBuf) {
    let contacts = env.export("contacts");
    let events = env.export("events");
    std::fs::write(env.path("contacts.csv"), &contacts).unwrap();
    std::fs::write(env.path("events.csv"), &events).unwrap();
    let fresh = env.path("fresh.redb");
    env.run_db(&fresh, &["import", "contacts", "contacts.csv"]).ok();
    let mut args = vec!["import", "events", "events.csv"];
    args.extend_from_slice(event_args);
    env.run_db(&fresh, &args).ok();
    (contacts, events, fresh)
}

fn cents(s: &str) -> i64 {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    assert!(frac.len() <= 2, "{s}");
    let frac = format!("{frac:0<2}");
    let sign = if int.starts_with('-') { -1 } else { 1 };
    int.parse::<i64>().unwrap() * 100 + sign * frac.parse::<i64>().unwrap()
}

#[test]
fn money_stays_exact_through_import_and_export() {
    let env = Env::new();
    env.import(
        "events",
        "p.csv",
        "contact,ts,kind,amount,currency\nm1,2026-03-01T10:00:00Z,purchase,11.77,EUR\nm1,2026-03-02T10:00:00Z,purchase,88.23,EUR\nm2,2026-03-02T10:00:00Z,purchase,0.10,EUR\nm2,2026-03-03T10:00:00Z,purchase,0.20,EUR\n",
        &[],
    )
    .ok();
    let rows = csv_records(&env.export("events"));
    let amounts: Vec<&str> = rows.iter().map(|r| r["amount"].as_str()).collect();
    assert_eq!(amounts, ["11.77", "88.23", "0.1", "0.2"]);
    let m1: i64 = rows.iter().filter(|r| r["contact_id"] == "1").map(|r| cents(&r["amount"])).sum();
    assert_eq!(m1, 10_000, "11.77 + 88.23 is exactly 100.00");
    let m2: i64 = rows.iter().filter(|r| r["contact_id"] == "2").map(|r| cents(&r["amount"])).sum();
    assert_eq!(m2, 30);
    // JSONL carries the decimal literally, not a binary float's rendering
    let jsonl = env.run(&["export", "events", "--format", "jsonl"]).ok();
    let lines: Vec<&str> = jsonl.lines().collect();
    assert!(lines[0].contains("\"amount\":11.77") && lines[1].contains("\"amount\":88.23"), "{jsonl}");
    assert!(lines[2].contains("\"amount\":0.1,") && lines[3].contains("\"amount\":0.2,"), "{jsonl}");
    // and the profile timeline shows the same values
    let show = env.json(&["contacts", "show", "m1"]);
    let shown: Vec<&str> = show["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["type"] == "event")
        .map(|t| t["params"]["amount"].as_str().unwrap())
        .collect();
    assert_eq!(shown, ["88.23", "11.77"]);
}

#[test]
fn identifiers_stay_verbatim() {
    let env = Env::new();
    env.import("contacts", "c.csv", "external_id,email\n00017,a@example.com\n0042,\n", &[]).ok();
    env.import("events", "e.csv", "contact,ts,kind,order_id\n000123,2026-01-01T00:00:00Z,purchase,000777\n", &[]).ok();
    env.import(
        "events",
        "e.jsonl",
        "{\"contact\":\"00017\",\"ts\":\"2026-01-02T00:00:00Z\",\"kind\":\"page_view\"}\n",
        &[],
    )
    .ok();
    let ids: Vec<String> = env.contacts().into_iter().map(|c| c["external_id"].clone()).collect();
    assert_eq!(ids, ["00017", "0042", "000123"]);
    assert_eq!(env.json(&["contacts", "show", "00017"])["external_id"], "00017");
    assert_eq!(env.json(&["contacts", "show", "000123"])["external_id"], "000123");
    // `17` is not `00017`, nor is `123` contact `000123`'s id (its internal id is 3)
    assert_eq!(env.run(&["contacts", "show", "17"]).fails(2).lines().next(), Some("error: no such contact: 17"));
    // text columns are quoted in CSV, so engines that infer types keep them text
    assert!(env.export("events").contains(",\"000777\","));
    // the JSONL event went to the existing contact, not a new one
    assert_eq!(env.contacts().len(), 3);
}

#[test]
fn events_create_unknown_contacts_keyed_by_email_or_external_id() {
    let env = Env::new();
    env.import("contacts", "c.csv", "external_id,email\nk1,known@example.com\n", &[]).ok();
    let r = report(
        &env,
        "events",
        "e.csv",
        "contact,ts,kind\nKNOWN@example.com,2026-01-01T00:00:00Z,page_view\nk1,2026-01-02T00:00:00Z,page_view\nnew@example.com,2026-01-03T00:00:00Z,page_view\nx9,2026-01-04T00:00:00Z,page_view\nx9,2026-01-02T00:00:00Z,page_view\n",
        &[],
    );
    assert_eq!((r["rows"].as_u64(), r["events"].as_u64(), r["contacts_created"].as_u64()), (Some(5), Some(5), Some(2)));
    let new = env.json(&["contacts", "show", "new@example.com"]);
    assert_eq!((new["email"].as_str(), new["external_id"].as_str()), (Some("new@example.com"), None));
    // created at its first event
    assert_eq!(env.json(&["contacts", "show", "x9"])["created_at"], "2026-01-02T00:00:00Z");
    let per: Vec<String> = env.event_rows().iter().map(|r| r.split(',').next().unwrap().to_string()).collect();
    assert_eq!(per.iter().filter(|c| *c == "1").count(), 2);
}

/// One instant as other tools export it: PostgreSQL's and DuckDB's
/// timestamptz (`+01`), BigQuery's ` UTC`, strftime's `%z`, Unix
/// milliseconds from a CSV and as a JSON number, microseconds, fractional
/// seconds; every one is stored as 2024-11-10T13:15:42Z, whatever `--tz`
/// says of times without an offset. A log with a bad one names its line.
#[test]
fn timestamps_as_databases_and_trackers_write_them() {
    let env = Env::new();
    let spellings = [
        "2024-11-10 14:15:42+01",
        "2024-11-10 08:15:42.250-05",
        "2024-11-10 13:15:42 UTC",
        "2024-11-10T14:15:42+0100",
        "2024-11-10 18:45:42+05:30",
        "1731244542123",
        "1731244542123456",
        "1731244542.5",
    ];
    let mut csv = String::from("contact,ts,kind\n");
    for s in spellings {
        csv.push_str(&format!("c1,{s},page_view\n"));
    }
    let r = report(&env, "events", "e.csv", &csv, &["--tz", "America/New_York"]);
    assert_eq!(r["events"].as_u64(), Some(spellings.len() as u64));
    let r =
        report(&env, "events", "e.jsonl", "{\"contact\":\"c1\",\"ts\":1731244542999,\"kind\":\"page_view\"}\n", &[]);
    assert_eq!(r["events"].as_u64(), Some(1));
    let times: Vec<String> = env.event_rows().iter().map(|r| r.split(',').nth(1).unwrap().to_string()).collect();
    assert_eq!(times.len(), spellings.len() + 1);
    assert!(times.iter().all(|t| t == "2024-11-10T13:15:42Z"), "{times:?}");
    let err = env
        .import(
            "events",
            "bad.csv",
            "contact,ts,kind\nc1,2024-11-10 13:15:42+01,page_view\nc1,2024-11-10 13:15:42+1,page_view\n",
            &[],
        )
        .fails(2);
    assert!(err.starts_with("error: bad.csv:3: `2024-11-10 13:15:42+1` is not a timestamp"), "{err}");
}

/// A database's NULL as its export writes it: `\N` (MySQL, PostgreSQL's
/// text format, ClickHouse) is empty by default, quoted or not; `--null`
/// names other spellings (and replaces the default); JSON has its own
/// null, so a JSON string `\N` is text.
#[test]
fn nulls_as_databases_write_them() {
    let env = Env::new();
    let r = report(
        &env,
        "contacts",
        "c.csv",
        "external_id,email,timezone,tags\nk1,\\N,\\N,\\N\nk2,b@x.io,Europe/Warsaw,\"\\N\"\n",
        &[],
    );
    assert_eq!(r["inserted"].as_u64(), Some(2), "{r}");
    let k1 = env.contact("k1");
    assert_eq!((k1["email"].as_str(), k1["tags"].as_str()), ("", ""), "{k1:?}");
    assert_eq!((env.contact("k2")["tags"].as_str(), env.contact("k2")["timezone"].as_str()), ("", "Europe/Warsaw"));

    let csv = "contact,ts,kind,amount,utm_source\n\
               k1,2024-11-10 14:15:42,purchase,\\N,\\N\n\
               k2,2024-11-10 14:15:43,purchase,12.5,\"\\N\"\n\
               k2,2024-11-10 14:15:44,purchase,NULL,NULL\n";
    let err = env.import("events", "e.csv", csv, &[]).fails(2);
    assert!(err.starts_with("error: e.csv:4: purchase.amount: `NULL` is not a number"), "{err}");
    assert!(err.contains("(if `NULL` means no value, `--null NULL` reads it as empty)"), "{err}");
    assert!(env.event_rows().is_empty());
    // a rejected row is written as it was read, `\N` and all
    let other = Env::new();
    other.import("events", "e.csv", csv, &["--skip-invalid", "--rejects", "r.csv"]).ok();
    assert_eq!(
        other.read("r.csv"),
        "contact,ts,kind,amount,utm_source,line,reason\n\
         k2,2024-11-10 14:15:44,purchase,NULL,NULL,4,purchase.amount: `NULL` is not a number\n"
    );
    let bad = csv.replace("NULL,NULL", "\\N,oops").replace("12.5", "twelve");
    other.import("events", "e.csv", &bad, &["--skip-invalid", "--rejects", "r.csv"]).ok();
    assert_eq!(
        other.read("r.csv"),
        "contact,ts,kind,amount,utm_source,line,reason\n\
         k2,2024-11-10 14:15:43,purchase,twelve,\\N,3,purchase.amount: `twelve` is not a number\n"
    );
    assert_eq!(other.event_rows().len(), 4, "the good rows of both imports");
    let r = report(&env, "events", "e.csv", csv, &["--null", "NULL", "--null", "\\N"]);
    assert_eq!(r["events"].as_u64(), Some(3), "{r}");
    let events = csv_records(&env.export("events"));
    let cols: Vec<(&str, &str)> = events.iter().map(|e| (e["amount"].as_str(), e["utm_source"].as_str())).collect();
    assert_eq!(cols, [("", ""), ("12.5", ""), ("", "")]);

    // `--null NULL` alone leaves `\N` as written; so does `--null ''`;
    // and so does JSON
    env.import(
        "events",
        "n.csv",
        "contact,ts,kind,utm_source\nk1,2024-11-11 00:00:00,visit,\\N\n",
        &["--null", "NULL"],
    )
    .ok();
    env.import("events", "n.csv", "contact,ts,kind,utm_source\nk1,2024-11-12 00:00:00,visit,\\N\n", &["--null", ""])
        .ok();
    env.import(
        "events",
        "n.jsonl",
        "{\"contact\":\"k1\",\"ts\":\"2024-11-13 00:00:00\",\"kind\":\"visit\",\"utm_source\":\"\\\\N\"}\n",
        &[],
    )
    .ok();
    let sources: Vec<String> =
        csv_records(&env.export("events")).iter().skip(3).map(|e| e["utm_source"].clone()).collect();
    assert_eq!(sources, ["\\N", "\\N", "\\N"]);
}

/// Amounts and times as shops' and spreadsheets' exports write them: a
/// `;`-separated file from a decimal-comma locale (`1.234,56`, `12,50 zł`,
/// `10.11.2024 14:15`), a US one (`$1,234.50`, `11/10/2024 2:15:42 PM`),
/// the decimal mark named where `1,234` could read either way; what is not
/// a number is refused at its line, nothing written.
#[test]
fn amounts_and_times_as_spreadsheets_write_them() {
    let env = Env::new();
    let pl = "contact;ts;kind;amount\n\
              k1;10.11.2024 14:15;purchase;1.234,56\n\
              k1;10.11.2024 14:16:30;purchase;12,50 zł\n\
              k1;10.11.2024;purchase;1,234\n\
              k1;Sun, 10 Nov 2024 15:00:00 +0100;purchase;1.234\n";
    assert_eq!(report(&env, "events", "pl.csv", pl, &[])["events"].as_u64(), Some(4));
    let us = "contact,ts,kind,amount\n\
              k2,11/10/2024 2:15:42 PM,purchase,\"$1,234.50\"\n\
              k2,11/10/2024 2:16 PM,purchase,\"1,234\"\n\
              k2,11/10/2024 2:17 PM,purchase,(5.00)\n";
    assert_eq!(report(&env, "events", "us.csv", us, &[])["events"].as_u64(), Some(3));
    let forced = "contact,ts,kind,amount\nk3,2024-11-10 14:15:42,purchase,\"1,234\"\n";
    assert_eq!(report(&env, "events", "f.csv", forced, &["--decimal-mark", ","])["events"].as_u64(), Some(1));
    let got: Vec<(String, String)> =
        csv_records(&env.export("events")).iter().map(|e| (e["ts"].clone(), e["amount"].clone())).collect();
    let want = [
        ("2024-11-10T00:00:00Z", "1.234"),
        ("2024-11-10T14:00:00Z", "1234"),
        ("2024-11-10T14:15:00Z", "1234.56"),
        ("2024-11-10T14:16:30Z", "12.5"),
        ("2024-11-10T14:15:42Z", "1234.5"),
        ("2024-11-10T14:16:00Z", "1234"),
        ("2024-11-10T14:17:00Z", "-5"),
        ("2024-11-10T14:15:42Z", "1.234"),
    ];
    let mut got_sorted = got.clone();
    let mut want: Vec<(String, String)> = want.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    got_sorted.sort();
    want.sort();
    assert_eq!(got_sorted, want, "{got:?}");

    let bad = "contact;ts;kind;amount\nk4;10.11.2024;purchase;1,5\nk4;10.11.2024;purchase;1,2,5\n";
    let err = env.import("events", "bad.csv", bad, &[]).fails(2);
    assert!(err.starts_with("error: bad.csv:3: purchase.amount: `1,2,5` is not a number"), "{err}");
    // Excel's `sep=` line names the delimiter (and so the decimal mark)
    // and counts as line 1
    let err = env.import("events", "sep.csv", &format!("sep=;\n{bad}"), &[]).fails(2);
    assert!(err.starts_with("error: sep.csv:4: purchase.amount: `1,2,5` is not a number"), "{err}");
    let sep = "sep=;\r\ncontact;ts;kind;amount;utm_source\r\nk5;10.11.2024;purchase;1,234;a,b\r\n";
    assert_eq!(report(&env, "events", "sep.csv", sep, &[])["events"].as_u64(), Some(1));
    let k5 = csv_records(&env.export("events")).into_iter().find(|e| e["utm_source"] == "a,b").unwrap();
    assert_eq!(k5["amount"], "1.234");
    let err = env.import("events", "y.csv", "contact,ts,kind\nk4,10.11.24 14:15,visit\n", &[]).fails(2);
    assert!(err.starts_with("error: y.csv:2: `10.11.24 14:15` is not a timestamp"), "{err}");
    assert_eq!(csv_records(&env.export("events")).len(), 9);

    // contacts: a number attribute and a date written the same ways
    env.run(&["schema", "add-attribute", "spend", "number"]).ok();
    let contacts = "external_id;spend;birth_date\nk1;1.234,50 €;03.02.1990\nk2;7,5;\n";
    assert_eq!(report(&env, "contacts", "c.csv", contacts, &[])["updated"].as_u64(), Some(2));
    let k1 = env.contact("k1");
    assert_eq!((k1["spend"].as_str(), k1["birth_date"].as_str()), ("1234.5", "1990-02-03"));
    assert_eq!(env.contact("k2")["spend"], "7.5");
}

/// The currency written beside an amount fills an empty `currency`: a
/// code as written, a symbol that names one currency; `$` names several
/// and fills nothing; a `currency` column given wins.
#[test]
fn currencies_written_beside_amounts() {
    let env = Env::new();
    let log = "contact;ts;kind;amount;currency;order_id\n\
               k1;2024-11-10 10:00;purchase;12,50 zł;;o1\n\
               k1;2024-11-10 10:01;purchase;EUR 3;;o2\n\
               k1;2024-11-10 10:02;purchase;US$4;;o3\n\
               k1;2024-11-10 10:03;purchase;5 €;CHF;o4\n\
               k1;2024-11-10 10:04;purchase;$6;;o5\n\
               k1;2024-11-10 10:05;purchase;7;;o6\n\
               k1;2024-11-10 10:06;purchase;(£8,00);;o7\n";
    assert_eq!(report(&env, "events", "log.csv", log, &[])["events"].as_u64(), Some(7));
    let mut got: Vec<(String, String, String)> = csv_records(&env.export("events"))
        .iter()
        .map(|e| (e["order_id"].clone(), e["amount"].clone(), e["currency"].clone()))
        .collect();
    got.sort();
    let want = [
        ("o1", "12.5", "PLN"),
        ("o2", "3", "EUR"),
        ("o3", "4", "USD"),
        ("o4", "5", "CHF"),
        ("o5", "6", ""),
        ("o6", "7", ""),
        ("o7", "-8", "GBP"),
    ];
    let want: Vec<(String, String, String)> =
        want.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    assert_eq!(got, want);
    // without a `currency` column at all
    let plain = "contact,ts,kind,amount\nk2,2024-11-10 11:00,purchase,9.99 EUR\n";
    assert_eq!(report(&env, "events", "plain.csv", plain, &[])["events"].as_u64(), Some(1));
    let k2 = csv_records(&env.export("events")).into_iter().find(|e| e["amount"] == "9.99").unwrap();
    assert_eq!(k2["currency"], "EUR");
}

/// Text in another encoding than UTF-8: UTF-16 with a byte order mark
/// (Excel's "Unicode text", tab-separated) is read as is; a Windows code
/// page is named with `--encoding`, and without it the first such byte is
/// refused at its line with a hint; a gzip of UTF-16 reads too.
#[test]
fn files_in_other_encodings() {
    let env = Env::new();
    let text = "external_id\tcity\nk1\tKraków\nk2\tŁódź\n";
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    env.write("u16.txt", &utf16);
    env.run(&["import", "contacts", "u16.txt", "--format", "csv"]).ok();
    let mut be = vec![0xFE, 0xFF];
    be.extend("external_id,city\nk3,Gdańsk\n".encode_utf16().flat_map(u16::to_be_bytes));
    env.write("be.csv", &be);
    env.run(&["import", "contacts", "be.csv"]).ok();
    // windows-1250, as Excel in Poland saves a CSV: ó is 0xF3, ś 0x9C
    let cp1250: &[u8] = b"external_id;city\nk4;Krak\xf3w\nk5;\x8cl\xb9sk\n";
    env.write("pl.csv", cp1250);
    let err = env.run(&["import", "contacts", "pl.csv"]).fails(2);
    assert!(
        err.starts_with(
            "error: pl.csv:2: invalid UTF-8 in column `city` (a file in another encoding reads with `--encoding NAME`"
        ),
        "{err}"
    );
    env.run(&["import", "contacts", "pl.csv", "--encoding", "windows-1250"]).ok();
    let err = env.run(&["import", "contacts", "pl.csv", "--encoding", "klingon"]).fails(2);
    assert!(err.starts_with("error: --encoding: unknown encoding `klingon`"), "{err}");
    let cities: Vec<(String, String)> =
        env.contacts().iter().map(|c| (c["external_id"].clone(), c["city"].clone())).collect();
    let want = [("k1", "Kraków"), ("k2", "Łódź"), ("k3", "Gdańsk"), ("k4", "Kraków"), ("k5", "Śląsk")];
    assert_eq!(cities, want.map(|(a, b)| (a.to_string(), b.to_string())));
}

/// Logs and contact lists as other tools name their columns import
/// without `--map`: reach's fields in any case (`Email`, `External_ID`),
/// and well-known other names where the file has no column named for the
/// field (REES46's `event_time,event_type,…,user_id`, Segment's `userId`,
/// `event`, `timestamp`), each said in the report; a file naming the
/// field itself keeps the other column as a parameter.
#[test]
fn columns_under_other_tools_names() {
    let env = Env::new();
    let rees = "event_time,event_type,product_id,brand,price,user_id,user_session\n\
                2019-10-01 00:00:00 UTC,view,44600062,shiseido,35.79,541312140,72d76fde\n\
                2019-10-01 00:00:04 UTC,purchase,3900821,aqua,33.20,554748717,9333dfbd\n";
    let out = env.import("events", "rees.csv", rees, &[]).ok();
    for line in
        ["read column `user_id` as contact", "read column `event_time` as ts", "read column `event_type` as kind"]
    {
        assert!(out.contains(line), "{out}");
    }
    let segment = "{\"userId\":\"541312140\",\"event\":\"visit\",\"timestamp\":\"2019-10-02T10:00:00Z\"}\n";
    env.import("events", "track.jsonl", segment, &[]).ok();
    let events = csv_records(&env.export("events"));
    let mut got: Vec<(&str, &str, &str)> =
        events.iter().map(|e| (e["contact_id"].as_str(), e["ts"].as_str(), e["kind"].as_str())).collect();
    got.sort_by_key(|e| e.1);
    assert_eq!(
        got,
        [
            ("1", "2019-10-01T00:00:00Z", "view"),
            ("2", "2019-10-01T00:00:04Z", "purchase"),
            ("1", "2019-10-02T10:00:00Z", "visit")
        ]
    );
    // `ts` named: `timestamp` is a parameter like any other column
    let out = env.import("events", "both.csv", "contact,ts,kind,timestamp\nc9,2024-01-01 00:00:00,visit,x\n", &[]).ok();
    assert!(!out.contains("read column"), "{out}");
    assert_eq!(csv_records(&env.export("events")).last().unwrap()["timestamp"], "x");

    let contacts = "External_ID,E-mail,Signup Date,TimeZone\nk1,Ann@x.io,2024-01-02,Europe/Rome\n";
    let out = env.import("contacts", "c.csv", contacts, &[]).ok();
    assert!(
        out.contains("read column `E-mail` as email") && out.contains("read column `Signup Date` as created_at"),
        "{out}"
    );
    let k1 = env.contact("k1");
    let got = (k1["email"].as_str(), k1["created_at"].as_str(), k1["timezone"].as_str());
    assert_eq!(got, ("Ann@x.io", "2024-01-02T00:00:00Z", "Europe/Rome"));
    // an attribute declared under an alias's name keeps its column
    env.run(&["schema", "add-attribute", "customer_id", "text"]).ok();
    let out = env.import("contacts", "d.csv", "email,customer_id\nbo@x.io,C-9\n", &[]).ok();
    assert!(!out.contains("read column"), "{out}");
    let bo = env.contacts().into_iter().find(|c| c["email"] == "bo@x.io").unwrap();
    assert_eq!((bo["external_id"].as_str(), bo["customer_id"].as_str()), ("", "C-9"));
}

/// A zip archive with `files` (name, text) in it, deflated.
fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    zip_of_bytes(&files.iter().map(|(name, text)| (*name, text.as_bytes())).collect::<Vec<_>>())
}

/// A zip archive with `files` (name, bytes) in it, deflated.
fn zip_of_bytes(files: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let deflated = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        z.start_file(*name, deflated).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// A zip archive holding one export (as admin panels hand them out) is
/// read as that file, named `archive.zip/file` in messages; macOS's
/// additions are passed over; a cut or damaged archive or one inside
/// another is refused with nothing written; one on stdin is read whole,
/// then as from a file, its files (when several) as one import.
#[test]
fn zip_archives_of_one_file() {
    let env = Env::new();
    let rows: String = (0..3000).map(|i| format!("k{},2024-11-10 14:{:02}:00,visit\n", i % 7, i % 60)).collect();
    let csv = format!("contact,ts,kind\n{rows}");
    env.write("export.zip", zip_of(&[("orders/export.csv", &csv), ("__MACOSX/orders/._export.csv", "junk")]));
    let out = env.run(&["import", "events", "export.zip", "--json"]).ok();
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["events"], 3000, "{out}");
    let jsonl = "{\"contact\":\"k1\",\"ts\":\"2024-11-11T00:00:00Z\",\"kind\":\"visit\"}\n{\"contact\":\"k1\",\"ts\":\"soon\",\"kind\":\"visit\"}\n";
    env.write("j.zip", zip_of(&[("events.jsonl", jsonl)]));
    let err = env.run(&["import", "events", "j.zip"]).fails(2);
    assert!(err.starts_with("error: j.zip/events.jsonl:2: `soon` is not a timestamp"), "{err}");

    // an archive of several files on stdin is one import of them (see
    // `several_files_import_as_one` for one read from its path): a bad
    // row in the second refuses the whole, naming it
    let two = zip_of(&[("a.csv", &csv), ("b.csv", &format!("{csv}k1,later,visit\n"))]);
    let err = env.run_stdin(&["import", "events", "-"], &two).fails(2);
    assert!(err.starts_with("error: stdin/b.csv:3002: `later` is not a timestamp"), "{err}");
    let whole = zip_of(&[("export.csv", &csv)]);
    env.write("cut.zip", &whole[..whole.len() / 2]);
    let err = env.run(&["import", "events", "cut.zip"]).fails(2);
    assert!(err.starts_with("error: cut.zip: not a readable zip archive"), "{err}");
    // a byte of the deflated data changed: the CRC (or the inflater) says so
    let mut damaged = whole.clone();
    damaged[200] ^= 0x55;
    env.write("damaged.zip", &damaged);
    let err = env.run(&["import", "events", "damaged.zip"]).fails(2);
    assert!(err.starts_with("error: damaged.zip/export.csv: not a whole zip archive"), "{err}");
    // an archive inside an archive is not opened (an archive can hold
    // itself)
    env.write("nested.zip", zip_of_bytes(&[("inner.zip", &whole)]));
    let err = env.run(&["import", "events", "nested.zip"]).fails(2);
    assert!(err.starts_with("error: nested.zip/inner.zip: a zip archive inside a zip archive is not read"), "{err}");
    assert_eq!(env.event_rows().len(), 3000);
    // on stdin, the archive is read whole first, then as from a file
    let more = zip_of(&[("more.csv", "contact,ts,kind\nk1,2024-11-13 00:00:00,visit\nk1,later,visit\n")]);
    let err = env.run_stdin(&["import", "events", "-"], &more).fails(2);
    assert!(err.starts_with("error: stdin/more.csv:3: `later` is not a timestamp"), "{err}");
    assert_eq!(env.event_rows().len(), 3000);
    let more = zip_of(&[("more.csv", "contact,ts,kind\nk1,2024-11-13 00:00:00,visit\n")]);
    env.run_stdin(&["import", "events", "-"], &more).ok();
    assert_eq!(env.event_rows().len(), 3001);
    // a stream over 64 MiB is held in a temporary file rather than memory
    // (here refused at its long second line, read through that file)
    let long = format!("contact,ts,kind\nk1,{},visit\n", "x".repeat(70 << 20));
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    z.start_file(
        "long.csv",
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored),
    )
    .unwrap();
    std::io::Write::write_all(&mut z, long.as_bytes()).unwrap();
    let err = env
        .run_stdin(&["import", "events", "-", "--max-line-bytes", "1000"], &z.finish().unwrap().into_inner())
        .fails(2);
    assert!(err.starts_with("error: stdin/long.csv:2: line longer than 1000 bytes"), "{err}");

    // a named pipe (as `<(zcat log.gz)` gives) is read as it comes, not
    // looked at for a zip first
    let fifo = env.path("pipe.csv");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, "contact,ts,kind\nk1,2024-11-12 00:00:00,visit\n").unwrap())
    };
    env.run(&["import", "events", fifo.to_str().unwrap()]).ok();
    writer.join().unwrap();
    assert_eq!(env.event_rows().len(), 3002);

    // an archive of several on stdin, plain and gzipped: each file's rows
    let two = zip_of(&[
        ("a.csv", "contact,ts,kind\nk1,2024-11-14 00:00:00,visit\n"),
        ("b.csv", "contact,ts,kind\nk2,2024-11-14 00:00:00,visit\nk3,2024-11-14 00:00:00,visit\n"),
    ]);
    let out = env.run_stdin(&["import", "events", "-", "--json"], &two).ok();
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["events"], 3, "{out}");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &two).unwrap();
    let gz = gz.finish().unwrap();
    env.run_stdin(&["import", "events", "-"], &gz).ok();
    assert_eq!(env.event_rows().len(), 3008);
    // a gzip file holding such an archive is read alone, not among other files
    env.write("two.zip.gz", &gz);
    env.write("one.csv", "contact,ts,kind\nk4,2024-11-14 00:00:00,visit\n");
    for args in [["two.zip.gz", "one.csv"], ["one.csv", "two.zip.gz"]] {
        let err = env.run(&["import", "events", args[0], args[1]]).fails(2);
        assert!(
            err.starts_with("error: two.zip.gz: a zip archive of 2 files given as a stream is imported alone"),
            "{err}"
        );
    }
    env.run(&["import", "events", "two.zip.gz"]).ok();
    assert_eq!(env.event_rows().len(), 3011);
    assert!(env.run(&["audit"]).ok().contains("imported events from -: 3 events"));
}

/// `lines`' header and its rows cut into `n` files of about equal size,
/// the header on each (as BigQuery and Spark write a large export).
fn shards(text: &str, n: usize) -> Vec<String> {
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    assert!(rows.iter().all(|r| r.matches('"').count() % 2 == 0), "a field over two lines");
    rows.chunks(rows.len().div_ceil(n)).map(|c| format!("{header}\n{}\n", c.join("\n"))).collect()
}

/// Several files (the shards of one export, as BigQuery and Spark write
/// it, or a zip archive or a directory of several) import as one input in one
/// transaction, giving the database the whole file gives: CSV, gzip,
/// Parquet and JSON lines, empty shards passed over. Each file's columns
/// are checked against the first's; messages and the rejects file name
/// each row's file; a bad row in any file leaves nothing written.
#[test]
fn several_files_import_as_one() {
    use std::io::Write;
    let env = Env::new();
    env.run(&["--now", NOW, "demo", "--contacts", "300", "--seed", "7"]).ok();
    let (contacts, events, whole) = restore(&env, &["--no-score-rules"]);
    let (whole_contacts, whole_events) =
        (env.run_db(&whole, &["export", "contacts"]).ok(), env.run_db(&whole, &["export", "events"]).ok());

    // contacts: a file, a gzip file, a zip archive of two and an empty file
    let c = shards(&contacts, 4);
    env.write("c0.csv", &c[0]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(c[1].as_bytes()).unwrap();
    env.write("c1.csv.gz", gz.finish().unwrap());
    env.write("c23.zip", zip_of(&[("part-2.csv", &c[2]), ("part-3.csv", &c[3])]));
    env.write("empty.csv", "");
    // events: CSV shards and one as Parquet (exported by a database holding just its rows)
    let e = shards(&events, 3);
    for (i, part) in e.iter().enumerate() {
        env.write(&format!("e{i}.csv"), part);
    }
    let side = env.path("side.redb");
    env.run_db(&side, &["import", "contacts", "contacts.csv"]).ok();
    env.run_db(&side, &["import", "events", "e1.csv", "--no-score-rules"]).ok();
    let e1 = env.path("e1.parquet");
    env.run_db(&side, &["export", "events", "--format", "parquet", "--output", e1.to_str().unwrap()]).ok();

    let db = env.path("shards.redb");
    let out = env.run_db(&db, &["import", "contacts", "c0.csv", "c1.csv.gz", "empty.csv", "c23.zip", "--json"]).ok();
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["inserted"], 300, "{out}");
    let out =
        env.run_db(&db, &["import", "events", "e0.csv", "e1.parquet", "e2.csv", "--no-score-rules", "--json"]).ok();
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["events"].as_u64(), Some(events.lines().count() as u64 - 1), "{out}");
    assert_eq!(env.run_db(&db, &["export", "contacts"]).ok(), whole_contacts);
    assert_eq!(env.run_db(&db, &["export", "events"]).ok(), whole_events);
    // the import names its files in the timeline and the audit log
    let log = env.run_db(&db, &["audit"]).ok();
    assert!(log.contains("imported contacts from c0.csv, c1.csv.gz, empty.csv, 1 more: 300 new"), "{log}");
    assert!(log.contains("imported events from e0.csv, e1.parquet, e2.csv: "), "{log}");

    // a directory as Spark writes a table: its files by name, `_SUCCESS`
    // and checksums passed over
    std::fs::create_dir(env.path("table")).unwrap();
    for (i, part) in e.iter().enumerate() {
        env.write(&format!("table/part-{i:05}-a1b2.csv"), part);
    }
    env.write("table/_SUCCESS", "");
    env.write("table/.part-00000-a1b2.csv.crc", "junk");
    let tdb = env.path("table.redb");
    env.run_db(&tdb, &["import", "contacts", "contacts.csv"]).ok();
    env.run_db(&tdb, &["import", "events", "table", "--no-score-rules"]).ok();
    assert_eq!(env.run_db(&tdb, &["export", "events"]).ok(), whole_events);
    assert!(env.run_db(&tdb, &["audit"]).ok().contains("imported events from table: "));
    std::fs::create_dir(env.path("table/date=2024-11-10")).unwrap();
    let err = env.run_db(&tdb, &["import", "events", "table"]).fails(2);
    assert!(err.contains("table: holds files (part-00000-a1b2.csv) beside directories (date=2024-11-10)"), "{err}");
    std::fs::create_dir(env.path("nothing")).unwrap();
    let err = env.run_db(&tdb, &["import", "events", "nothing"]).fails(2);
    assert!(err.contains("nothing: the directory holds no file to import"), "{err}");

    // JSON lines in two files: one set of columns, lines counted per file
    let jsonl = env.run_db(&whole, &["export", "events", "--format", "jsonl"]).ok();
    let lines: Vec<&str> = jsonl.lines().collect();
    let half = lines.len() / 2;
    env.write("j0.jsonl", lines[..half].join("\n") + "\n");
    env.write("j1.jsonl", lines[half..].join("\n") + "\n");
    let jdb = env.path("jsonl.redb");
    env.run_db(&jdb, &["import", "contacts", "contacts.csv"]).ok();
    env.run_db(&jdb, &["import", "events", "j0.jsonl", "j1.jsonl", "--no-score-rules"]).ok();
    assert_eq!(env.run_db(&jdb, &["export", "events"]).ok(), whole_events);

    // refused whole, naming the file: other columns, a bad row, another
    // delimiter, JSON among CSV, a duplicate key across files
    let bad = env.path("bad.redb");
    env.run_db(&bad, &["import", "contacts", "contacts.csv"]).ok();
    let before = env.run_db(&bad, &["export", "events"]).ok();
    let other = e[2].replacen("contact_id,ts,kind", "contact_id,time,kind", 1);
    env.write("other.csv", other);
    let err = env.run_db(&bad, &["import", "events", "e0.csv", "other.csv"]).fails(2);
    assert!(
        err.starts_with("error: other.csv: its columns differ from e0.csv's: column 2 is `time` where e0.csv has `ts`"),
        "{err}"
    );
    let broken = e[2].replacen("\n", "\n1,soon,purchase\n", 1);
    let width = e[2].lines().next().unwrap().split(',').count();
    let broken = broken.replacen("1,soon,purchase\n", &format!("1,soon,purchase{}\n", ",".repeat(width - 3)), 1);
    env.write("broken.csv", &broken);
    let err = env.run_db(&bad, &["import", "events", "e0.csv", "e1.csv", "broken.csv"]).fails(2);
    assert!(err.starts_with("error: broken.csv:2: `soon` is not a timestamp"), "{err}");
    env.write("semi.csv", e[1].replace(',', ";"));
    let err = env.run_db(&bad, &["import", "events", "e0.csv", "semi.csv"]).fails(2);
    assert!(err.starts_with("error: semi.csv: its fields are separated by `;` where e0.csv's are by `,`"), "{err}");
    let err = env.run_db(&bad, &["import", "events", "e0.csv", "j1.jsonl"]).fails(2);
    assert!(err.starts_with("error: j1.jsonl: holds JSON lines where e0.csv holds rows with a header"), "{err}");
    assert_eq!(env.run_db(&bad, &["export", "events"]).ok(), before);
    let err = env.run(&["import", "contacts", "c0.csv", "c0.csv"]).fails(2);
    assert!(err.starts_with("error: c0.csv:2: duplicate external_id"), "{err}");
    assert!(err.contains("(first on line 2 of c0.csv)"), "{err}");
    let err = env.run(&["import", "events", "e0.csv", "-"]).fails(2);
    assert!(err.starts_with("error: `-` (stdin) is read alone"), "{err}");
    let err = env.run(&["import", "events", "empty.csv", "empty.csv"]).fails(2);
    assert!(err.starts_with("error: empty.csv, empty.csv: no rows to import in any of the files"), "{err}");

    // skipped rows go to one rejects file, with each row's file
    let rejects = env.path("rejects.csv");
    env.run_db(
        &bad,
        &["import", "events", "e0.csv", "broken.csv", "--skip-invalid", "--rejects", rejects.to_str().unwrap()],
    )
    .ok();
    let rows = csv_records(&std::fs::read_to_string(&rejects).unwrap());
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0]["file"].as_str(), rows[0]["line"].as_str()), ("broken.csv", "2"));
}

/// The rows of CSV `text` filed by the value of its column `by`, that
/// column taken out: value -> the file's text.
fn partitioned(text: &str, by: &str) -> std::collections::BTreeMap<String, String> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().clone();
    let at = header.iter().position(|h| h == by).unwrap();
    let keep = |rec: &csv::StringRecord| -> csv::StringRecord {
        rec.iter().enumerate().filter(|(i, _)| *i != at).map(|(_, f)| f).collect()
    };
    let mut files: std::collections::BTreeMap<String, csv::Writer<Vec<u8>>> = Default::default();
    for rec in r.records() {
        let rec = rec.unwrap();
        let w = files.entry(rec[at].to_string()).or_insert_with(|| {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(&keep(&header)).unwrap();
            w
        });
        w.write_record(&keep(&rec)).unwrap();
    }
    files.into_iter().map(|(k, w)| (k, String::from_utf8(w.into_inner().unwrap()).unwrap())).collect()
}

/// A directory partitioned as Hive, Spark and DuckDB write a table
/// (`kind=purchase/part-0.csv`: the column's value in the directory's
/// name, not in the files) imports with each partition's value as a
/// column of its rows: the same database as the whole export. Escapes
/// are decoded, Hive's default partition is an empty value, a file's own
/// column stands; mixed or unnamed directories and JSON lines under a
/// partition are refused, naming the path, with nothing written.
#[test]
fn partitioned_directories_import_their_values_as_columns() {
    let env = Env::new();
    env.run(&["--now", NOW, "demo", "--contacts", "300", "--seed", "7"]).ok();
    let (_, events, whole) = restore(&env, &["--no-score-rules"]);
    let whole_events = env.run_db(&whole, &["export", "events"]).ok();

    // by kind, one level (as `COPY … (PARTITION_BY (kind))` writes it)
    let by_kind = partitioned(&events, "kind");
    assert!(by_kind.len() >= 5, "{:?}", by_kind.keys());
    for (kind, text) in &by_kind {
        env.write(&format!("hive/kind={kind}/data_0.csv"), text);
    }
    env.write("hive/_SUCCESS", "");
    let db = env.path("hive.redb");
    env.run_db(&db, &["import", "contacts", "contacts.csv"]).ok();
    let out = env.run_db(&db, &["import", "events", "hive", "--no-score-rules", "--json"]).ok();
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["events"].as_u64(), Some(events.lines().count() as u64 - 1), "{out}");
    assert_eq!(env.run_db(&db, &["export", "events"]).ok(), whole_events);

    // two levels, an escaped value, Hive's default partition, a file
    // keeping its own `kind` column, one partition in a single file
    env.write("two/kind=purchase/product=Swift%203%2FX/a.csv", "contact_id,ts,amount\n1,2024-11-10T10:00:00Z,5\n");
    env.write(
        "two/kind=purchase/product=__HIVE_DEFAULT_PARTITION__/b.csv",
        "contact_id,ts,amount\n2,2024-11-10T11:00:00Z,7\n",
    );
    let tdb = env.path("two.redb");
    env.run_db(&tdb, &["import", "contacts", "contacts.csv"]).ok();
    env.run_db(&tdb, &["import", "events", "two", "--no-score-rules"]).ok();
    let rows = csv_records(&env.run_db(&tdb, &["export", "events"]).ok());
    let got: Vec<(&str, &str, &str)> =
        rows.iter().map(|r| (r["kind"].as_str(), r["product"].as_str(), r["amount"].as_str())).collect();
    assert_eq!(got, [("purchase", "Swift 3/X", "5"), ("purchase", "", "7")]);
    env.write("own/kind=wrong/a.csv", "contact_id,ts,kind\n1,2024-11-10T10:00:00Z,page_view\n");
    env.run_db(&tdb, &["import", "events", "own/kind=wrong", "--no-score-rules"]).ok();
    env.run_db(&tdb, &["import", "events", "own", "--no-score-rules"]).ok();
    let kinds = csv_records(&env.run_db(&tdb, &["export", "events"]).ok());
    assert_eq!(kinds.iter().filter(|r| r["kind"] == "page_view").count(), 2);
    assert!(kinds.iter().all(|r| r["kind"] != "wrong"));

    // refused whole, naming the path
    let before = env.run_db(&tdb, &["export", "events"]).ok();
    let refused = |dir: &str, want: &str| {
        let err = env.run_db(&tdb, &["import", "events", dir]).fails(2);
        assert!(err.starts_with("error: ") && err.contains(want), "{err}");
    };
    env.write("mixed/kind=purchase/a.csv", "contact_id,ts\n1,2024-11-10T10:00:00Z\n");
    env.write("mixed/loose.csv", "contact_id,ts,kind\n1,2024-11-10T10:00:00Z,purchase\n");
    refused("mixed", "holds files (loose.csv) beside directories (kind=purchase)");
    env.write("unnamed/2024/a.csv", "contact_id,ts,kind\n1,2024-11-10T10:00:00Z,purchase\n");
    refused("unnamed", "2024: a directory inside");
    env.write("uneven/kind=purchase/a.csv", "contact_id,ts\n1,2024-11-10T10:00:00Z\n");
    env.write("uneven/kind=page_view/day=1/b.csv", "contact_id,ts\n1,2024-11-10T10:00:00Z\n");
    refused("uneven", "uneven/kind=purchase/a.csv: its partition columns (kind) differ from");
    env.write("json/kind=purchase/a.jsonl", "{\"contact_id\":1,\"ts\":\"2024-11-10T10:00:00Z\"}\n");
    refused("json", "JSON lines under a partition directory (`kind=purchase`)");
    assert_eq!(env.run_db(&tdb, &["export", "events"]).ok(), before);
}

/// A JSON array of objects, as `mongoexport --jsonArray`, `jq -s` and
/// APIs write a file, imports as JSON lines do; messages name the line an
/// element starts on; a malformed array is refused whole at its line.
#[test]
fn json_arrays_import_as_json_lines() {
    let env = Env::new();
    let pretty = "[\n  {\n    \"contact\": \"c1\",\n    \"ts\": \"2024-11-10T13:15:42Z\",\n    \"kind\": \"visit\",\n    \"properties\": {\"url\": \"/a\"}\n  },\n  {\"contact\": \"c2\", \"ts\": \"2024-11-10T13:16:00Z\", \"kind\": \"visit\"}\n]\n";
    let r = report(&env, "events", "visits.json", pretty, &["--map", "properties.url=url"]);
    assert_eq!(r["events"].as_u64(), Some(2), "{r}");
    let one_line = "[{\"contact\":\"c3\",\"ts\":\"2024-11-10T13:17:00Z\",\"kind\":\"visit\"}]";
    let out = env.run_stdin(&["import", "events", "-", "--json"], one_line.as_bytes()).ok();
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["events"], 1, "{out}");
    let events = csv_records(&env.export("events"));
    let got: Vec<(&str, &str)> = events.iter().map(|e| (e["ts"].as_str(), e["url"].as_str())).collect();
    assert_eq!(got, [("2024-11-10T13:15:42Z", "/a"), ("2024-11-10T13:16:00Z", ""), ("2024-11-10T13:17:00Z", "")]);

    let bad_ts = pretty.replace("2024-11-10T13:16:00Z", "yesterday");
    let err = env.import("events", "b.json", &bad_ts, &[]).fails(2);
    assert!(err.starts_with("error: b.json:8: `yesterday` is not a timestamp"), "{err}");
    let err = env.import("events", "c.json", &pretty.replace("}\n]", "},\n]"), &[]).fails(2);
    assert!(err.starts_with("error: c.json:9: a `,` before `]` in the JSON array"), "{err}");
    assert_eq!(csv_records(&env.export("events")).len(), 3);
}

/// A tracker's log nests an event's details (Segment's `track` calls:
/// `properties`, `context`): the nested fields are columns named by their
/// path, mapped like any other; a list of objects (Segment's `products`)
/// is kept as its JSON text.
#[test]
fn nested_json_fields_are_columns_named_by_their_path() {
    let env = Env::new();
    env.run(&["schema", "add-param", "purchase", "amount", "number"]).ok();
    let log = "\
{\"userId\":\"u1\",\"event\":\"purchase\",\"timestamp\":\"2024-11-10T13:15:42.120Z\",\"properties\":{\"revenue\":12.5,\"product\":{\"brand\":\"Acme\"}},\"context\":{\"campaign\":{\"source\":\"news\"}}}
{\"userId\":\"u2\",\"event\":\"purchase\",\"timestamp\":\"2024-11-10T14:00:00Z\",\"properties\":{\"revenue\":7,\"product\":{\"brand\":\"Nordwind\"}}}
{\"userId\":\"u1\",\"event\":\"purchase\",\"timestamp\":\"2024-11-11T09:00:00Z\",\"properties\":{\"revenue\":1,\"product\":{}}}
{\"userId\":\"u3\",\"event\":\"purchase\",\"timestamp\":\"2024-11-11T10:00:00Z\",\"properties\":{\"items\":[{\"sku\":\"x\"}]}}
";
    env.write("track.jsonl", log);
    let maps = [
        "userId=contact",
        "event=kind",
        "timestamp=ts",
        "properties.revenue=amount",
        "properties.product.brand=manufacturer",
        "context.campaign.source=utm_source",
    ];
    let mut args = vec!["import", "events", "track.jsonl", "--skip-invalid", "--rejects", "r.csv"];
    for m in &maps {
        args.extend(["--map", m]);
    }
    env.run(&args).ok();
    assert_eq!(csv_records(&env.read("r.csv")).len(), 0);
    let events = csv_records(&env.export("events"));
    let items: Vec<&str> = events.iter().map(|e| e["properties_items"].as_str()).collect();
    assert_eq!(items, ["", "", "", "[{\"sku\":\"x\"}]"]);
    let count = |q: &str| env.json(&["segment", "count", q])["count"].to_string();
    assert_eq!(count("sum(purchase.amount) > 13"), "1");
    assert_eq!(count("count(purchase where manufacturer = \"Acme\") >= 1"), "1");
    assert_eq!(count("count(purchase where utm_source = \"news\") >= 1"), "1");
    assert_eq!(count("count(purchase) >= 1"), "3");
    // contacts as a tracker's `identify` calls nest them
    env.write(
        "identify.jsonl",
        "{\"userId\":\"u1\",\"traits\":{\"email\":\"U1@Example.com\",\"address\":{\"city\":\"Rome\"}}}\n",
    );
    let maps = ["userId=external_id", "traits.email=email", "traits.address.city=city"];
    let mut args = vec!["import", "contacts", "identify.jsonl"];
    for m in &maps {
        args.extend(["--map", m]);
    }
    env.run(&args).ok();
    let u1 = env.contact("u1");
    assert_eq!((u1["email"].as_str(), u1["city"].as_str()), ("U1@Example.com", "Rome"), "{u1:?}");
}

/// Exports are often downloaded compressed: a gzip file, or a zstd file
/// (`events.csv.zst`, as DuckDB, ClickHouse and Snowflake compress
/// them), or either on stdin, is read as what it holds, CSV or JSON lines
/// by the name inside or the content, members or frames one after
/// another; a cut one is refused as bad input with nothing written.
#[test]
fn compressed_files_import_as_their_content() {
    use std::io::Write;
    let gz = |text: &str| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let zst = |text: &str| zstd::encode_all(text.as_bytes(), 3).unwrap();
    type Pack<'a> = &'a dyn Fn(&str) -> Vec<u8>;
    let packers: [(&str, &str, Pack); 2] = [("gz", "gzip", &gz), ("zst", "zstd", &zst)];
    for (ext, what, pack) in packers {
        let env = Env::new();
        env.write(&format!("e.csv.{ext}"), pack("contact,ts,kind\nc1,2024-11-10T13:15:42Z,page_view\n"));
        // two members one after the other, as `cat a.gz b.gz` makes
        let mut two = pack("{\"contact\":\"c2\",\"ts\":\"2024-11-10T13:15:42Z\",\"kind\":\"page_view\"}\n");
        two.extend(pack("{\"contact\":\"c3\",\"ts\":\"2024-11-10T13:15:42Z\",\"kind\":\"page_view\"}\n"));
        env.write(&format!("e.jsonl.{ext}"), &two);
        env.run(&["import", "events", &format!("e.csv.{ext}")]).ok();
        env.run(&["import", "events", &format!("e.jsonl.{ext}")]).ok();
        let one = pack("contact,ts,kind\nc4,2024-11-10T13:15:42Z,page_view\n");
        let out = env.run_stdin(&["import", "events", "-", "--json"], &one).ok();
        assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["events"], 1, "{what}");
        assert_eq!(env.event_rows().len(), 4, "{what}");
        let mut cut = pack(&format!("contact,ts,kind\n{}", "c5,2024-11-10T13:15:42Z,page_view\n".repeat(5000)));
        cut.truncate(cut.len() / 2);
        env.write(&format!("cut.csv.{ext}"), &cut);
        let err = env.run(&["import", "events", &format!("cut.csv.{ext}")]).fails(2);
        assert!(
            err.starts_with(&format!("error: cut.csv.{ext}")) && err.contains(&format!("not a whole {what} file")),
            "{err}"
        );
        assert_eq!(env.event_rows().len(), 4, "{what}");
    }
}

/// A CSV file without a header line (as PostgreSQL's `COPY`, MySQL's
/// `INTO OUTFILE`, Snowflake's and Redshift's unloads write one by
/// default) imports with its columns given (`--columns`), its first line
/// a row: the same database as the export with its header, also as
/// several files; a row of another width names `--columns`; Parquet and
/// JSON, which name their own columns, are refused.
#[test]
fn headerless_csv_imports_with_its_columns_given() {
    let env = Env::new();
    env.run(&["--now", NOW, "demo", "--contacts", "300", "--seed", "7"]).ok();
    let (contacts, events, whole) = restore(&env, &["--no-score-rules"]);
    let whole_events = env.run_db(&whole, &["export", "events"]).ok();
    let whole_contacts = env.run_db(&whole, &["export", "contacts"]).ok();
    let headless = |text: &str| -> (String, String) {
        let (head, rows) = text.split_once('\n').unwrap();
        (head.to_string(), rows.to_string())
    };
    let (chead, crows) = headless(&contacts);
    let (ehead, erows) = headless(&events);
    // a byte order mark before the first row, as Excel saves
    env.write("c.csv", format!("\u{feff}{crows}"));
    let half = erows.len() / 2;
    let cut = half + erows[half..].find('\n').unwrap() + 1;
    env.write("e0.csv", &erows[..cut]);
    env.write("e1.csv", &erows[cut..]);
    let db = env.path("headless.redb");
    let out = env.run_db(&db, &["import", "contacts", "c.csv", "--columns", &chead, "--json"]).ok();
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["inserted"], 300, "{out}");
    env.run_db(&db, &["import", "events", "e0.csv", "e1.csv", "--columns", &ehead, "--no-score-rules"]).ok();
    assert_eq!(env.run_db(&db, &["export", "contacts"]).ok(), whole_contacts);
    assert_eq!(env.run_db(&db, &["export", "events"]).ok(), whole_events);

    // refused, nothing written
    let before = env.run_db(&db, &["export", "events"]).ok();
    env.write("short.csv", "1,2024-11-10T10:00:00Z,purchase,5\n2,2024-11-10T11:00:00Z\n");
    let err = env.run_db(&db, &["import", "events", "short.csv", "--columns", "contact_id,ts,kind,amount"]).fails(2);
    assert!(err.starts_with("error: short.csv:2: expected 4 columns as --columns names, found 2"), "{err}");
    env.run_db(&whole, &["export", "events", "--format", "parquet", "-o", "e.parquet"]).ok();
    let err = env.run_db(&db, &["import", "events", "e.parquet", "--columns", &ehead]).fails(2);
    assert!(err.contains("e.parquet: --columns names the columns of CSV files without a header line"), "{err}");
    env.write("e.jsonl", "{\"contact_id\":1,\"ts\":\"2024-11-10T10:00:00Z\",\"kind\":\"purchase\"}\n");
    let err = env.run_db(&db, &["import", "events", "e.jsonl", "--columns", &ehead]).fails(2);
    assert!(err.contains("e.jsonl: --columns names the columns of CSV files"), "{err}");
    env.write("blank.csv", "\n\n");
    let err = env.run_db(&db, &["import", "events", "blank.csv", "--columns", &ehead]).fails(2);
    assert!(err.starts_with("error: blank.csv: no rows to import"), "{err}");
    assert_eq!(env.run_db(&db, &["export", "events"]).ok(), before);
}

/// Text as PostgreSQL's `COPY … TO` (text format), MySQL's `INTO
/// OUTFILE` and ClickHouse's `TabSeparated` write it (`--format text`):
/// tab-separated, no quoting (a `"` is a character), backslash escapes,
/// `\N` for NULL, no header unless the tool adds one. The demo's export
/// written so imports as its CSV does; escapes, MySQL's escaped line
/// break and the lines after it are read as those tools mean them.
#[test]
fn text_as_databases_dump_it_imports_with_its_escapes() {
    let env = Env::new();
    env.run(&["--now", NOW, "demo", "--contacts", "300", "--seed", "7"]).ok();
    let (contacts, events, whole) = restore(&env, &["--no-score-rules"]);
    let whole_events = env.run_db(&whole, &["export", "events"]).ok();
    let escape = |f: &str| -> String {
        if f.is_empty() {
            return "\\N".into();
        }
        f.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n").replace('\r', "\\r")
    };
    let dump = |csv: &str| -> (String, String) {
        let mut r = csv::Reader::from_reader(csv.as_bytes());
        let head = r.headers().unwrap().iter().collect::<Vec<_>>().join(",");
        let rows: String =
            r.records().map(|rec| rec.unwrap().iter().map(escape).collect::<Vec<_>>().join("\t") + "\n").collect();
        (head, rows)
    };
    let (chead, crows) = dump(&contacts);
    let (ehead, erows) = dump(&events);
    env.write("contacts.txt", &crows);
    env.write("events.txt", &erows);
    let db = env.path("text.redb");
    env.run_db(&db, &["import", "contacts", "contacts.txt", "--format", "text", "--columns", &chead]).ok();
    env.run_db(&db, &["import", "events", "events.txt", "--format", "text", "--columns", &ehead, "--no-score-rules"])
        .ok();
    assert_eq!(env.run_db(&db, &["export", "events"]).ok(), whole_events);
    assert_eq!(env.run_db(&db, &["export", "contacts"]).ok(), env.run_db(&whole, &["export", "contacts"]).ok());

    // escapes; a header line (ClickHouse's TabSeparatedWithNames); a
    // quote as a character; MySQL's line break as `\` and the break
    let text = "contact\tts\tkind\tproduct\tamount\n\
                k1\t2024-11-10 10:00:00\tpurchase\t\"Best\" shoe\\twith tab\t5\n\
                k2\t2024-11-10 11:00:00\tpurchase\tLine1\\nLine2 \\\\ back\t\\N\n\
                k3\t2024-11-10 12:00:00\tpurchase\tmysql\\\nbreak\t7\n\
                k4\t2024-11-10 13:00:00\tpurchase\tZ\\303\\274rich \\x41\t8\n";
    env.write("dump.txt", text);
    let tdb = env.path("dump.redb");
    env.run_db(&tdb, &["import", "events", "dump.txt", "--format", "text"]).ok();
    let rows = csv_records(&env.run_db(&tdb, &["export", "events"]).ok());
    let got: Vec<(&str, &str)> = rows.iter().map(|r| (r["product"].as_str(), r["amount"].as_str())).collect();
    assert_eq!(
        got,
        [("\"Best\" shoe\twith tab", "5"), ("Line1\nLine2 \\ back", ""), ("mysql\nbreak", "7"), ("Zürich A", "8")]
    );
    // lines counted as written: the row after a two-line one is on line 6
    env.write("late.txt", text.replace("2024-11-10 13:00:00", "soon"));
    let err = env.run_db(&tdb, &["import", "events", "late.txt", "--format", "text"]).fails(2);
    assert!(err.starts_with("error: late.txt:6: `soon` is not a timestamp"), "{err}");
}

#[test]
fn contacts_upsert_on_external_id_then_email() {
    let env = Env::new();
    env.import(
        "contacts",
        "a.csv",
        "external_id,email,first_name,tags\nu1,u1@example.com,Ann,a\n,u2@example.com,Bob,b\n",
        &[],
    )
    .ok();
    let r = report(
        &env,
        "contacts",
        "b.csv",
        "external_id,email,first_name,city,tags\nu1,,Anne,Rome,c\nu2x,U2@example.com,,Milan,\nu3,u3@example.com,Cy,,\n",
        &[],
    );
    assert_eq!((r["inserted"].as_u64(), r["updated"].as_u64()), (Some(1), Some(2)));
    let c = env.contact("u1");
    // empty cells never erase; tags are added
    assert_eq!(
        (c["email"].as_str(), c["first_name"].as_str(), c["city"].as_str(), c["tags"].as_str()),
        ("u1@example.com", "Anne", "Rome", "a;c")
    );
    let c = env.contact("u2x");
    assert_eq!((c["id"].as_str(), c["email"].as_str(), c["first_name"].as_str()), ("2", "U2@example.com", "Bob"));
    // the plain text summary
    let out = env.import("contacts", "c.csv", "external_id,score\nu1,5\nu9,1\n", &[]).ok();
    assert!(out.starts_with("2 rows: 1 inserted, 1 updated, 0 rejected ("), "{out}");
    // a contact an import created (written apart from the updated ones) is
    // found by both keys later, and its timeline says it was created
    let r = report(
        &env,
        "contacts",
        "d.csv",
        "email,city
U3@EXAMPLE.com,Oslo
",
        &[],
    );
    assert_eq!((r["inserted"].as_u64(), r["updated"].as_u64()), (Some(0), Some(1)));
    assert_eq!(env.contact("u3")["city"].as_str(), "Oslo");
    let taken = env
        .import(
            "contacts",
            "e.csv",
            "external_id,email
u4,u3@example.com
",
            &[],
        )
        .fails(2);
    assert!(taken.contains("u3@example.com"), "{taken}");
    let shown = env.json(&["contacts", "show", "u3"]).to_string();
    assert!(shown.contains("created") && shown.contains("import b.csv"), "{shown}");
}

#[test]
fn mailchimp_preset_accepts_the_audience_export() {
    let env = Env::new();
    let file = "Email Address,First Name,Last Name,Address,Phone Number,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,LEID,EUID,NOTES,TAGS\n\
anna@example.com,Anna,Rossi,\"Via Roma 1  Milano MI 20100 IT\",+39 02 1234567,4,2023-03-01 10:00:00,1.2.3.4,2023-03-01 10:05:00,1.2.3.4,45.4642,9.1900,1,2,Europe/Rome,IT,MI,2024-01-15 08:30:00,123456789,abc123def,,\"\"\"VIP\"\",\"\"Newsletter\"\"\"\n\
ben@example.com,Ben,Smith,,,2,2023-04-01 11:00:00,,2023-04-01 11:01:00,,,,,,,US,,2024-02-01 09:00:00,223456789,bcd234efa,Met at fair,\n";
    let r = report(&env, "contacts", "subscribed_members_export.csv", file, &["--preset", "mailchimp"]);
    assert_eq!((r["inserted"].as_u64(), r["rejected"].as_u64()), (Some(2), Some(0)));
    let cs = env.contacts();
    let anna = cs.iter().find(|c| c["email"] == "anna@example.com").unwrap();
    for (k, v) in [
        ("first_name", "Anna"),
        ("last_name", "Rossi"),
        ("phone", "+39 02 1234567"),
        ("timezone", "Europe/Rome"),
        ("country", "IT"),
        ("region", "MI"),
        ("lat", "45.4642"),
        ("lon", "9.19"),
        ("consent_email", "true"),
        ("consent_email_at", "2023-03-01T10:05:00Z"),
        ("tags", "Newsletter;VIP"),
        ("member_rating", "4"),
    ] {
        assert_eq!(anna[k], v, "{k}");
    }
    // columns with no reach equivalent are dropped, not declared
    for dropped in ["address", "optin_ip", "leid", "euid", "notes", "gmtoff", "last_changed"] {
        assert!(!anna.contains_key(dropped), "{dropped} was imported");
    }
    let ben = cs.iter().find(|c| c["email"] == "ben@example.com").unwrap();
    assert_eq!((ben["country"].as_str(), ben["tags"].as_str()), ("US", ""));
}

#[test]
fn shopify_preset_accepts_the_customers_export() {
    let env = Env::new();
    let file = "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,Default Address Address1,Default Address Address2,Default Address City,Default Address Province Code,Default Address Country Code,Default Address Zip,Default Address Phone,Phone,Accepts SMS Marketing,Total Spent,Total Orders,Note,Tax Exempt,Tags\n\
7012345678901,Jane,Doe,jane@example.com,yes,Acme,1 Main St,,Ottawa,ON,CA,K1A 0B1,+16135550100,+16135550101,no,120.50,3,,no,\"wholesale, repeat\"\n\
0070123,John,Roe,john@example.com,no,,,,Toronto,ON,CA,M5H 2N2,,,yes,0.00,0,likes cats,no,\n\
0070124,Ann,Poe,ann@example.com,no,,,,Toronto,ON,CA,M5H 2N2,,'+16135550199,no,0.00,0,,no,\n\
0070125,Bob,Moe,bob@example.com,no,,,,Toronto,ON,CA,M5H 2N2,,',no,0.00,0,,no,\n";
    let r = report(&env, "contacts", "customers_export.csv", file, &["--preset", "shopify"]);
    assert_eq!((r["inserted"].as_u64(), r["created"].as_array().map(Vec::len)), (Some(4), Some(0)));
    // Shopify's `'` before a phone number is not part of it; a lone `'` is no number
    assert_eq!(
        (env.contact("0070124")["phone"].as_str(), env.contact("0070125")["phone"].as_str()),
        ("+16135550199", "")
    );
    let jane = env.contact("7012345678901");
    for (k, v) in [
        ("email", "jane@example.com"),
        ("first_name", "Jane"),
        ("city", "Ottawa"),
        ("region", "ON"),
        ("country", "CA"),
        ("postal_code", "K1A 0B1"),
        ("phone", "+16135550101"),
        ("consent_email", "true"),
        ("consent_sms", "false"),
        ("tags", "repeat;wholesale"),
    ] {
        assert_eq!(jane[k], v, "{k}");
    }
    let john = env.contact("0070123");
    assert_eq!((john["consent_email"].as_str(), john["consent_sms"].as_str()), ("false", "true"));
}

#[test]
fn mautic_preset_accepts_the_contacts_export() {
    let env = Env::new();
    let file = "id,title,firstname,lastname,company,position,email,mobile,phone,points,fax,address1,address2,city,state,zipcode,country,preferred_locale,timezone,last_active,date_added,tags\n\
17,Mr,Luca,Bianchi,ACME,CTO,luca@example.com,+393331234567,+39021234567,25,,Via Po 2,,Torino,Piemonte,10100,Italy,it_IT,Europe/Rome,2024-05-01 10:00:00,2023-01-10 09:00:00,\"lead|italy\"\n\
18,,Eva,Green,,,eva@example.com,,,0,,,,,,,,en_US,,,2023-02-11 12:00:00,\n";
    let r = report(&env, "contacts", "contacts.csv", file, &["--preset", "mautic"]);
    assert_eq!(r["inserted"].as_u64(), Some(2));
    let luca = env.contact("17");
    for (k, v) in [
        ("email", "luca@example.com"),
        ("first_name", "Luca"),
        ("last_name", "Bianchi"),
        ("score", "25"),
        ("city", "Torino"),
        ("region", "Piemonte"),
        ("postal_code", "10100"),
        ("country", "Italy"),
        ("language", "it_IT"),
        ("timezone", "Europe/Rome"),
        ("created_at", "2023-01-10T09:00:00Z"),
        ("tags", "italy;lead"),
        ("phone", "+39021234567"),
    ] {
        assert_eq!(luca[k], v, "{k}");
    }
    assert_eq!(env.contact("18")["created_at"], "2023-02-11T12:00:00Z");
}

const RETAIL: &str = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom
536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom
536366,22633,HAND WARMER UNION JACK,6,12/1/2010 8:28,1.85,,United Kingdom
536367,84879,ASSORTED COLOUR BIRD ORNAMENT,32,12/1/2010 8:34,1.69,13047,United Kingdom
536414,22139,,56,12/1/2010 11:52,0,,United Kingdom
C536379,D,Discount,-1,12/1/2010 9:41,27.50,14527,United Kingdom
536370,22728,ALARM CLOCK BAKELIKE PINK,24,12/1/2010 8:45,3.75,12583,France
536370,POST,POSTAGE,3,12/1/2010 8:45,18,012583,France
";

const RETAIL_MAP: &[&str] = &[
    "--map",
    "CustomerID=contact",
    "--map",
    "InvoiceDate=ts",
    "--map",
    "UnitPrice=amount",
    "--map",
    "StockCode=product",
    "--map",
    "InvoiceNo=order_id",
    "--map",
    "Quantity=quantity",
    "--kind",
    "purchase",
];

#[test]
fn an_online_retail_purchase_log_imports_with_rejects() {
    let env = Env::new();
    let mut args = RETAIL_MAP.to_vec();
    args.extend_from_slice(&["--skip-invalid", "--rejects", "r.csv"]);
    let r = report(&env, "events", "Online Retail.csv", RETAIL, &args);
    assert_eq!(
        (r["rows"].as_u64(), r["events"].as_u64(), r["contacts_created"].as_u64(), r["rejected"].as_u64()),
        (Some(8), Some(6), Some(5), Some(2))
    );
    // every customer became a contact, id verbatim (012583 is not 12583)
    let mut ids: Vec<String> = env.contacts().into_iter().map(|c| c["external_id"].clone()).collect();
    ids.sort();
    assert_eq!(ids, ["012583", "12583", "13047", "14527", "17850"]);
    let contacts = env.contacts();
    let id_of = |x: &str| contacts.iter().find(|c| c["external_id"] == x).unwrap()["id"].clone();
    let events = csv_records(&env.export("events"));
    let of = |x: &str| -> Vec<(String, String, String, String, String)> {
        let id = id_of(x);
        let mut v: Vec<_> = events
            .iter()
            .filter(|e| e["contact_id"] == id)
            .map(|e| {
                (
                    e["ts"].clone(),
                    e["amount"].clone(),
                    e["product"].clone(),
                    e["order_id"].clone(),
                    e["quantity"].clone(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let t = |ts: &str, a: &str, p: &str, o: &str, q: &str| (ts.into(), a.into(), p.into(), o.into(), q.into());
    assert_eq!(
        of("17850"),
        [
            t("2010-12-01T08:26:00Z", "2.55", "85123A", "536365", "6"),
            t("2010-12-01T08:26:00Z", "3.39", "71053", "536365", "6")
        ]
    );
    assert_eq!(of("14527"), [t("2010-12-01T09:41:00Z", "27.5", "D", "C536379", "-1")]);
    assert_eq!(of("012583"), [t("2010-12-01T08:45:00Z", "18", "POST", "536370", "3")]);
    let total: i64 = events.iter().map(|e| cents(&e["amount"])).sum();
    assert_eq!(total, 255 + 339 + 169 + 2750 + 375 + 1800);
    // the rejects: the input's columns, then line and reason
    let rejects = env.read("r.csv");
    assert_eq!(
        rejects,
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country,line,reason\n\
         536366,22633,HAND WARMER UNION JACK,6,12/1/2010 8:28,1.85,,United Kingdom,4,empty contact key\n\
         536414,22139,,56,12/1/2010 11:52,0,,United Kingdom,6,empty contact key\n"
    );
    assert!(!env.path("r.csv.partial").exists());
}

#[test]
fn skip_invalid_without_rejects_counts_and_imports_the_good_rows() {
    let env = Env::new();
    let r = report(&env, "contacts", "c.csv", "external_id,score\ng1,1\nb1,one\ng2,2\n,3\n", &["--skip-invalid"]);
    assert_eq!((r["rows"].as_u64(), r["inserted"].as_u64(), r["rejected"].as_u64()), (Some(4), Some(2), Some(2)));
    let ids: Vec<String> = env.contacts().into_iter().map(|c| c["external_id"].clone()).collect();
    assert_eq!(ids, ["g1", "g2"]);
    // all rows bad: nothing is written, but it is not an error
    let r = report(&env, "contacts", "d.csv", "external_id,score\nb2,x\n", &["--skip-invalid"]);
    assert_eq!((r["inserted"].as_u64(), r["rejected"].as_u64()), (Some(0), Some(1)));
    assert_eq!(env.contacts().len(), 2);
}

#[test]
fn contacts_round_trip_through_export() {
    let env = Env::new();
    env.run(&["schema", "add-attribute", "plan", "one-of", "--values", "free,pro"]).ok();
    env.run(&["schema", "add-attribute", "interests", "many-of", "--values", "ski,golf,chess"]).ok();
    env.run(&["schema", "add-attribute", "vip_since", "date"]).ok();
    env.run(&["schema", "add-attribute", "newsletter", "bool"]).ok();
    env.import(
        "contacts",
        "c.csv",
        "external_id,email,created_at,score,timezone,consent_email,consent_sms,tags,first_name,lat,plan,interests,vip_since,newsletter,birth_date\n\
         00017,a@example.com,2025-01-02T03:04:05Z,-3,Europe/Rome,true,false,\"vip;new\",\"Ann, \"\"the\"\" first\",45.4642,pro,ski;chess,2025-06-01,true,1990-02-03\n\
         x2,,2025-02-02T00:00:00Z,7,,,,,Émile,,free,,,false,\n\
         ,only@example.com,,,,,,,,,,,,,\n",
        &[],
    )
    .ok();
    env.import("events", "e.csv", "contact,ts,kind,amount\n00017,2025-03-01T00:00:00Z,purchase,5.5\n", &[]).ok();
    let first = env.export("contacts");
    std::fs::write(env.path("contacts.csv"), &first).unwrap();
    let schema = env.run(&["schema", "show", "--format", "json"]).ok();

    let fresh = env.path("fresh.redb");
    // the typed attributes are declared first, as a restore would
    for a in [
        &["plan", "one-of", "--values", "free,pro"][..],
        &["interests", "many-of", "--values", "ski,golf,chess"],
        &["vip_since", "date"],
        &["newsletter", "bool"],
    ] {
        let mut args = vec!["schema", "add-attribute"];
        args.extend_from_slice(a);
        env.run_db(&fresh, &args).ok();
    }
    env.run_db(&fresh, &["import", "contacts", "contacts.csv"]).ok();
    assert_eq!(env.run_db(&fresh, &["export", "contacts"]).ok(), first);
    assert_eq!(
        env.run_db(&fresh, &["schema", "show", "--format", "json"])
            .ok()
            .lines()
            .filter(|l| l.contains("\"name\""))
            .count(),
        schema.lines().filter(|l| l.contains("\"name\"")).count()
    );
    // importing the same export again changes nothing
    env.run_db(&fresh, &["import", "contacts", "contacts.csv"]).ok();
    assert_eq!(env.run_db(&fresh, &["export", "contacts"]).ok(), first);
}

#[test]
fn events_round_trip_through_export_by_internal_id() {
    let env = Env::new();
    let mut args = RETAIL_MAP.to_vec();
    args.push("--skip-invalid");
    env.import("events", "retail.csv", RETAIL, &args).ok();
    env.import(
        "events",
        "more.csv",
        "contact,ts,kind,source,utm_source,utm_medium,utm_campaign,url,type\n\
         17850,2011-01-01T00:00:00Z,page_view,paid,google,cpc,\"winter, sale\",https://shop.example.com/a?b=1,\n\
         13047,2011-01-02T00:00:00Z,email_bounce,,,,,,hard\n",
        &[],
    )
    .ok();
    let (_, events, fresh) = restore(&env, &[]);
    assert_eq!(env.run_db(&fresh, &["export", "events"]).ok(), events);
    // JSONL the same way
    let jsonl = env.run(&["export", "events", "--format", "jsonl"]).ok();
    std::fs::write(env.path("events.jsonl"), &jsonl).unwrap();
    let fresh2 = env.path("fresh2.redb");
    env.run_db(&fresh2, &["import", "contacts", "contacts.csv"]).ok();
    env.run_db(&fresh2, &["import", "events", "events.jsonl"]).ok();
    assert_eq!(env.run_db(&fresh2, &["export", "events", "--format", "jsonl"]).ok(), jsonl);
    // the CSV holds the same records (parameter columns follow declaration order, which JSONL's sorted keys change)
    let sorted = |t: &str| {
        let mut v: Vec<std::collections::BTreeMap<String, String>> =
            csv_records(t).into_iter().map(|r| r.into_iter().collect()).collect();
        v.sort();
        v
    };
    assert_eq!(sorted(&env.run_db(&fresh2, &["export", "events"]).ok()), sorted(&events));
}

#[test]
fn jsonl_contacts_import_and_export() {
    let env = Env::new();
    env.import(
        "contacts",
        "c.jsonl",
        "{\"external_id\":\"00017\",\"email\":\"a@example.com\",\"tags\":[\"vip\",\"new\"],\"score\":3,\"first_name\":\"Ann\"}\n\
         \n\
         {\"email\":\"b@example.com\",\"consent_email\":true,\"lat\":45.5,\"last_name\":null}\n",
        &[],
    )
    .ok();
    let out = env.run(&["export", "contacts", "--format", "jsonl"]).ok();
    let rows: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["external_id"], "00017");
    assert_eq!(rows[0]["score"], 3);
    assert_eq!(rows[0]["tags"], serde_json::json!(["new", "vip"]));
    assert_eq!(rows[1]["consent_email"], true);
    assert_eq!(rows[1]["lat"].to_string(), "45.5");
    // and the JSONL export re-imports unchanged
    std::fs::write(env.path("out.jsonl"), &out).unwrap();
    let fresh = env.path("fresh.redb");
    env.run_db(&fresh, &["import", "contacts", "out.jsonl"]).ok();
    assert_eq!(env.run_db(&fresh, &["export", "contacts", "--format", "jsonl"]).ok(), out);
}

#[test]
fn jsonl_errors_name_the_line() {
    let env = Env::new();
    env.write(
        "e.jsonl",
        "{\"contact\":\"a\",\"ts\":\"2026-01-01T00:00:00Z\",\"kind\":\"page_view\"}\n{\"contact\":\"b\",\n",
    );
    let err = env.run(&["import", "events", "e.jsonl"]).fails(2);
    assert!(err.starts_with("error: e.jsonl:2: invalid JSON object: "), "{err}");
    assert!(!env.db.exists());
}

#[test]
fn stdin_import_of_csv_and_jsonl() {
    let env = Env::new();
    let out = env
        .run_stdin(&["import", "contacts", "-", "--json"], b"external_id,email\ns1,s1@example.com\ns2,s2@example.com\n")
        .ok();
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["inserted"], 2);
    // JSONL on stdin is detected from its content
    let out = env
        .run_stdin(
            &["import", "events", "-", "--json"],
            b"{\"contact\":\"s1\",\"ts\":\"2026-01-01T00:00:00Z\",\"kind\":\"purchase\",\"amount\":\"11.77\"}\n",
        )
        .ok();
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["events"], 1);
    assert_eq!(env.event_rows().len(), 1);
    // errors on stdin are located as stdin:LINE
    let err = env.run_stdin(&["import", "contacts", "-"], b"external_id,score\ns3,x\n").fails(2);
    assert_eq!(err.lines().next(), Some("error: stdin:2: score `x` is not a whole number"));
    assert_eq!(env.contacts().len(), 2);
}

#[test]
fn a_whole_database_restores_from_its_export_with_no_score_rules() {
    let env = Env::new();
    env.import("contacts", "c.csv", "external_id,email,tags\nA1,a@example.com,vip\nB2,b@example.com,\n", &[]).ok();
    env.import(
        "events",
        "e.csv",
        "contact,ts,kind,amount,type\nA1,2026-01-01T00:00:00Z,purchase,11.77,\nA1,2026-01-02T00:00:00Z,email_open,,\nB2,2026-01-03T00:00:00Z,email_bounce,,hard\n",
        &[],
    )
    .ok();
    let (contacts, events, fresh) = restore(&env, &["--no-score-rules"]);
    let again = env.run_db(&fresh, &["export", "contacts"]).ok();
    let again_events = env.run_db(&fresh, &["export", "events"]).ok();
    // scores come from the contacts file, not from the rules applied a second time
    assert_eq!(again, contacts);
    assert_eq!(again_events, events);
}

/// Thousands of unknown contacts, each named again after it was created
/// (those later rows are resolved ahead by the reader thread once the
/// writer reports the new keys): every contact is created once, holds all
/// its events, and exists since its earliest event even when that comes last.
/// Keys no contact had, as the import numbers them ahead of writing: an
/// email written in two cases is one contact; a bad row creates nothing,
/// so a key's contact comes from its first good row and its creation time
/// from its good rows only; a key named by a contact's email from before
/// is that contact.
#[test]
fn new_keys_in_two_cases_and_after_a_bad_row() {
    let env = Env::new();
    env.import(
        "contacts",
        "c.csv",
        "external_id,email
k1,old@example.com
",
        &[],
    )
    .ok();
    let f = "contact,ts,kind,amount\n\
             Mixed@Example.com,2026-02-01T00:00:00Z,page_view,\n\
             z1,2026-01-01T00:00:00Z,purchase,not-a-number\n\
             mixed@example.com,2026-01-15T00:00:00Z,page_view,\n\
             z1,2026-03-01T00:00:00Z,page_view,\n\
             OLD@example.com,2026-03-02T00:00:00Z,page_view,\n\
             z1,2026-02-01T00:00:00Z,page_view,\n";
    let r = report(&env, "events", "e.csv", f, &["--skip-invalid"]);
    let counts = (r["rows"].as_u64(), r["events"].as_u64(), r["rejected"].as_u64(), r["contacts_created"].as_u64());
    assert_eq!(counts, (Some(6), Some(5), Some(1), Some(2)), "{r}");
    let mixed = env.json(&["contacts", "show", "MIXED@example.com"]);
    assert_eq!(
        (mixed["email"].as_str(), mixed["created_at"].as_str()),
        (Some("Mixed@Example.com"), Some("2026-01-15T00:00:00Z"))
    );
    assert_eq!(env.json(&["contacts", "show", "z1"])["created_at"], "2026-02-01T00:00:00Z");
    let per: Vec<String> = env.event_rows().iter().map(|r| r.split(',').next().unwrap().to_string()).collect();
    assert_eq!(per.iter().filter(|c| *c == "1").count(), 1, "the contact from before has its event: {per:?}");
    assert_eq!(env.contacts().len(), 3);
}

#[test]
fn many_new_contacts_named_again_later() {
    let env = Env::new();
    let n = 20_000;
    let mut f = String::from("contact,ts,kind\n");
    for round in 0..3 {
        for i in 0..n {
            // rounds go back in time: the last row of each contact is its earliest
            let day = 20 - round * 5;
            let who = if i % 2 == 0 { format!("n{i}") } else { format!("n{i}@example.com") };
            f.push_str(&format!("{who},2026-03-{day:02}T10:00:00Z,page_view\n"));
        }
    }
    let out = env.import("events", "new.csv", &f, &[]).ok();
    assert!(out.contains(&format!("{n} contacts created")), "{out}");
    let contacts = env.contacts();
    assert_eq!(contacts.len(), n);
    assert!(contacts.iter().all(|c| c["created_at"] == "2026-03-10T10:00:00Z"), "{:?}", &contacts[..2]);
    let mut per_contact = std::collections::HashMap::new();
    for row in env.event_rows() {
        *per_contact.entry(row.split(',').next().unwrap_or_default().to_string()).or_insert(0) += 1;
    }
    assert_eq!(per_contact.len(), n);
    assert!(per_contact.values().all(|&c| c == 3));
    // their keys were stored: found by `contacts show`, and a second import reuses them
    assert_eq!(env.json(&["contacts", "show", "n0"])["external_id"], "n0");
    assert_eq!(env.json(&["contacts", "show", "N1@Example.com"])["email"], "n1@example.com");
    let out = env
        .import(
            "events",
            "again.csv",
            "contact,ts,kind\nn2,2026-04-01T00:00:00Z,page_view\nn3@example.com,2026-04-01T00:00:00Z,page_view\n",
            &[],
        )
        .ok();
    assert!(out.contains("0 contacts created"), "{out}");
}

/// Rows naming their ids out of order: each keeps its id (the new records
/// are written in id order, whatever the file's).
#[test]
fn contacts_with_ids_out_of_order_keep_their_ids() {
    let env = Env::new();
    env.import("contacts", "c.csv", "id,external_id\n5,b\n3,a\n200,c\n70,d\n", &[]).ok();
    let out = env.export("contacts");
    let ids: Vec<(String, String)> =
        csv_records(&out).iter().map(|r| (r["id"].clone(), r["external_id"].clone())).collect();
    let want = [("3", "a"), ("5", "b"), ("70", "d"), ("200", "c")];
    assert_eq!(ids, want.map(|(i, x)| (i.to_string(), x.to_string())));
}

/// An id handed out to a row without one is not given again to a later
/// row that asks for it: every contact of the file is kept.
#[test]
fn a_wanted_id_already_handed_out_in_the_same_import_is_not_reused() {
    let env = Env::new();
    env.import("contacts", "a.csv", "external_id\nx\n", &[]).ok();
    env.import("contacts", "b.csv", "id,external_id\n1,new1\n2,new2\n", &[]).ok();
    let out = env.export("contacts");
    let mut xids: Vec<String> = csv_records(&out).iter().map(|r| r["external_id"].clone()).collect();
    xids.sort();
    assert_eq!(xids, ["new1", "new2", "x"], "{out}");
}

/// Events change contacts from before in place (neighbouring rows,
/// effects summed), and their timeline shows the score changes.
#[test]
fn events_change_contacts_from_before_in_place() {
    let env = Env::new();
    let mut csv = String::from("external_id,email,score\n");
    for i in 1..=200 {
        csv.push_str(&format!("u{i},u{i}@example.com,{i}\n"));
    }
    env.import("contacts", "c.csv", &csv, &[]).ok();
    let ev = "contact,ts,kind,type\n\
        u3,2026-01-01T00:00:00Z,purchase,\n\
        u70,2026-01-01T00:00:00Z,purchase,\n\
        u3,2026-01-02T00:00:00Z,email_click,\n\
        u64,2026-01-03T00:00:00Z,email_bounce,hard\n\
        U65@example.com,2026-01-03T00:00:00Z,email_open,\n\
        u200,2026-01-04T00:00:00Z,unsubscribe,\n\
        new1,2026-01-05T00:00:00Z,purchase,\n";
    env.import("events", "e.csv", ev, &[]).ok();
    let score = |k: &str| env.json(&["contacts", "show", k])["score"].as_i64().unwrap();
    assert_eq!(score("u3"), 3 + 13);
    assert_eq!(score("u70"), 80);
    assert_eq!(score("u64"), 64 - 5);
    assert_eq!(score("u65"), 66);
    assert_eq!(score("u4"), 4);
    assert_eq!(score("new1"), 10);
    let c = env.json(&["contacts", "show", "u64"]);
    assert!(c["bounced_at"].as_str().is_some_and(|s| s.starts_with("2026-01-03")), "{c}");
    let c = env.json(&["contacts", "show", "u200"]);
    assert!(c["unsubscribed_at"].as_str().is_some_and(|s| s.starts_with("2026-01-04")), "{c}");
    // the unchanged contacts and the keys are as they were
    assert_eq!(env.json(&["contacts", "show", "u65@example.com"])["external_id"], "u65");
}

/// A categories cell is split once and its leaves remembered: the same cell
/// on later rows, the same leaves written otherwise, and rows updating a
/// contact that already has some of them all place each contact once.
#[test]
fn repeated_categories_cells_place_each_contact_once() {
    let env = Env::new();
    env.import(
        "contacts",
        "c.csv",
        "external_id,categories\n\
         a,\"shoes;bags\"\n\
         b,\"shoes;bags\"\n\
         c,\"bags ; shoes\"\n\
         d,shoes\n\
         e,\n",
        &[],
    )
    .ok();
    env.import("contacts", "u.csv", "external_id,categories\na,\"shoes;hats\"\ne,\"shoes;bags\"\n", &[]).ok();
    let list = env.run(&["categories", "list", "--format", "json"]).ok();
    let v: Value = serde_json::from_str(&list).unwrap();
    let count = |name: &str| {
        v.as_array().unwrap().iter().find(|c| c["category"] == name).map(|c| c["contacts"].clone()).unwrap()
    };
    assert_eq!(count("shoes"), 5, "{list}");
    assert_eq!(count("bags"), 4, "{list}");
    assert_eq!(count("hats"), 1, "{list}");
    let cats = |key: &str| {
        let shown: Value = serde_json::from_str(&env.run(&["contacts", "show", key]).ok()).unwrap();
        shown["categories"].clone()
    };
    assert_eq!(cats("a"), serde_json::json!(["shoes", "bags", "hats"]));
    assert_eq!(cats("c"), serde_json::json!(["bags", "shoes"]));
    assert_eq!(cats("e"), serde_json::json!(["shoes", "bags"]));
}

/// JSON lines whose keys appear over the file (past the first batches of
/// rows the reader thread hands over) import as the same rows written as
/// CSV under every column do, contacts created by the events included.
#[test]
fn jsonl_keys_that_appear_late_import_as_csv_does() {
    let env = Env::new();
    env.import("contacts", "c.csv", "external_id,email\nk1,k1@example.com\nk2,k2@example.com\n", &[]).ok();
    let (mut jsonl, mut csv) = (String::new(), String::from("contact,kind,ts,amount,coupon\n"));
    for i in 0..10_000 {
        // known contacts, new ones by id and by email, a contact repeated
        let contact = match i % 5 {
            0 => "k1".to_string(),
            1 => format!("n{}", i % 700),
            2 => format!("m{}@example.com", i % 300),
            3 => format!("n{i}"),
            _ => "K2@example.COM".to_string(),
        };
        let ts = format!("2026-01-{:02}T{:02}:{:02}:00Z", 1 + i % 28, i % 24, i % 60);
        let amount = if i >= 5_000 && i % 3 == 0 { format!("{}.{:02}", i % 97, i % 100) } else { String::new() };
        let coupon = if i >= 9_000 && i % 4 == 0 { format!("C{}", i % 9) } else { String::new() };
        let mut line = format!("{{\"contact\":\"{contact}\",\"kind\":\"purchase\",\"ts\":\"{ts}\"");
        if !amount.is_empty() {
            line += &format!(",\"amount\":{amount}");
        }
        if !coupon.is_empty() {
            line += &format!(",\"coupon\":\"{coupon}\"");
        }
        jsonl += &line;
        jsonl += "}\n";
        csv += &format!("{contact},purchase,{ts},{amount},{coupon}\n");
    }
    let json_db = env.path("json.redb");
    let csv_db = env.path("csv.redb");
    for db in [&json_db, &csv_db] {
        std::fs::copy(&env.db, db).unwrap();
    }
    env.write("e.jsonl", &jsonl);
    env.write("e.csv", &csv);
    env.run_db(&json_db, &["import", "events", "e.jsonl"]).ok();
    env.run_db(&csv_db, &["import", "events", "e.csv"]).ok();
    for what in ["events", "contacts"] {
        let json_out = env.run_db(&json_db, &["export", what]).ok();
        assert_eq!(json_out, env.run_db(&csv_db, &["export", what]).ok(), "export {what}");
        assert!(json_out.lines().count() > 1_000, "{what}: {json_out}");
    }
    let events = env.run_db(&json_db, &["export", "events"]).ok();
    assert!(events.lines().next().unwrap().contains("coupon"), "the late coupon column was imported");
    assert!(events.contains("\"C1\""), "the late coupon column was imported");
}

/// Contacts in JSON lines: an attribute first seen on a later line, and
/// bad lines written whole to the rejects file.
#[test]
fn jsonl_contacts_with_a_late_attribute_and_bad_lines() {
    let env = Env::new();
    env.write(
        "c.jsonl",
        "{\"external_id\":\"a1\",\"email\":\"a1@example.com\"}\n\
         {\"external_id\":\"a2\",\"first_name\":\"Bo\"}\n\
         {\"external_id\":\"a3\",\"loyalty\":\"gold\",\"city\":\"Rome\"}\n\
         {\"external_id\":\"a4\",\n\
         {\"external_id\":\"a5\",\"loyalty\":\"silver\",\"nested\":[{\"x\":1}]}\n\
         {\"external_id\":\"a6\",\"loyalty\":\"bronze\"}\n",
    );
    env.run(&["import", "contacts", "c.jsonl", "--skip-invalid", "--rejects", "r.csv"]).ok();
    assert_eq!(env.contact("a3")["loyalty"], "gold");
    assert_eq!(env.contact("a3")["city"], "Rome");
    assert_eq!(env.contact("a6")["loyalty"], "bronze");
    assert_eq!(env.contact("a2")["first_name"], "Bo");
    let rejects = csv_records(&env.read("r.csv"));
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(rejects[0]["line"], "4");
    assert_eq!(rejects[0]["record"], "{\"external_id\":\"a4\",");
    assert!(rejects[0]["reason"].starts_with("invalid JSON object: "), "{rejects:?}");
    assert_eq!(env.contact("a5")["nested"], "[{\"x\":1}]");
    // the same rows as CSV, columns in the order the lines added them (the
    // keys of a line refused for its values still name columns, as a CSV
    // header's do)
    let fresh = env.path("fresh.redb");
    env.write(
        "c.csv",
        "email,external_id,first_name,city,loyalty,nested\na1@example.com,a1,,,,\n,a2,Bo,,,\n,a3,,Rome,gold,\n,a5,,,silver,\"[{\"\"x\"\":1}]\"\n,a6,,,bronze,\n",
    );
    env.run_db(&fresh, &["import", "contacts", "c.csv"]).ok();
    assert_eq!(env.run_db(&fresh, &["export", "contacts"]).ok(), env.export("contacts"));
}
