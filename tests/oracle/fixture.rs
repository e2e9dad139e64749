//! The oracle's data: demo contacts plus hand-made edge cases in a temp
//! store, exported as CSV and loaded into an in-memory SQLite as TEXT.

use reach::demo::{DemoOptions, generate};
use reach::export::{ExportFormat, export_contacts, export_events};
use reach::model::segment::SavedSegment;
use reach::model::{AttrValue, Channel, Consent, Contact, Decimal};
use reach::segment::engine::StoreCatalog;
use reach::store::codec::ParamVal;
use reach::store::{OpenMode, Store};
use roaring::RoaringBitmap;
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use std::collections::BTreeSet;

/// 2026-03-15T12:00:00Z
pub const NOW: i64 = 1_773_576_000;
pub const DAY: i64 = 86_400;

/// The instants the expressions are evaluated at: the data's now, a time
/// in the past (later events must not count), the day before a leap-day
/// birthday, an end of month (calendar windows clamp), a leap day.
pub const NOWS: [i64; 5] = [NOW, NOW - 40 * DAY - 5 * 3600 - 17, 1_740_783_600, 1_767_175_200, 1_709_186_400];

/// Window lengths the boundary contacts have events at (and one second after).
pub const BOUNDARY_DAYS: [i64; 8] = [0, 1, 2, 7, 14, 30, 90, 365];

/// The start of `n` calendar months back from `now`.
pub fn months_back(now: i64, n: u32) -> i64 {
    chrono::DateTime::from_timestamp(now, 0).unwrap().checked_sub_months(chrono::Months::new(n)).unwrap().timestamp()
}

/// Instants on window boundaries of every `now` the oracle uses.
pub fn boundary_instants() -> Vec<i64> {
    let mut out = Vec::new();
    for now in NOWS {
        for d in BOUNDARY_DAYS {
            out.push(now - d * DAY);
        }
        for h in [1, 36] {
            out.push(now - h * 3600);
        }
        for m in [1, 6, 12, 14] {
            out.push(months_back(now, m));
        }
        // midnights and last seconds of days (`since D`, `between D1 and D2`)
        let today = now - now.rem_euclid(DAY);
        for d in [0, 3, 30] {
            out.push(today - d * DAY);
            out.push(today - d * DAY - 1);
        }
    }
    out
}

/// Saved segments the expressions refer to.
pub const SEGMENTS: &[(&str, &str)] = &[
    ("big_spenders", "sum(purchase.amount) >= 500"),
    ("recent_buyers", "days_since_last(purchase) <= 30"),
    ("big_not_recent", "segment:big_spenders and not segment:recent_buyers"),
    ("milano_yoga", "near(\"Milano\") within 30km and interests contains \"yoga\""),
];

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub store: Store,
    pub path: std::path::PathBuf,
    pub sqlite: std::sync::Mutex<Connection>,
    pub cat: StoreCatalog,
    pub contacts_csv: Vec<u8>,
    pub events_csv: Vec<u8>,
    pub contacts: u64,
}

fn num(s: &str) -> i64 {
    s.parse::<Decimal>().unwrap().units()
}

/// Hand-made contacts and events for the edge cases.
fn edge_cases(store: &Store) {
    let mut wr = store.begin_write().unwrap();
    let mut w = reach::store::Loader::new(&mut wr);
    w.load_dict().unwrap();
    let schema = w.schema().clone();
    let attr = |n: &str| schema.attr(n).unwrap().0;
    let kind = |n: &str| schema.kind(n).unwrap();
    let (pk, pdef) = kind("purchase");
    let pp = |n: &str| pdef.param(n).unwrap().0;
    let mk = |w: &mut reach::store::Loader, email: Option<&str>| -> Contact {
        let id = w.alloc_contact_id(None).unwrap();
        Contact {
            id,
            email: email.map(Into::into),
            external_id: Some(format!("EDGE{id}").into()),
            created_at: NOW - 400 * DAY,
            ..Default::default()
        }
    };
    let mut list = Vec::new();
    // A: exact money and window boundaries, events after now, missing params
    let mut a = mk(&mut w, Some("o'brien+edge@example.com"));
    a.set_attr(attr("city"), Some(AttrValue::Text("50%_off \"city\"".into())));
    a.set_attr(
        attr("birth_date"),
        Some(AttrValue::Date(reach::model::attribute::date_to_days(
            chrono::NaiveDate::from_ymd_opt(2000, 2, 29).unwrap(),
        ))),
    );
    a.score = -7;
    a.consent[Channel::Email as usize] = Some(Consent { opted_in: false, at: NOW - 10 * DAY });
    a.created_at = NOW - 30 * DAY; // exactly now − 30 days
    let acme = w.intern("Acme").unwrap();
    let x100 = w.intern("X100").unwrap();
    let src_paid = reach::model::Source::Paid.code();
    for (ts, amount, product) in [
        (NOW - 30 * DAY, Some("11.77"), Some(x100)),
        (NOW - 30 * DAY + 1, Some("88.23"), None),
        (NOW - 10 * DAY, None, Some(x100)),     // no amount
        (NOW + 3600, Some("1000"), Some(x100)), // after now
        (NOW, Some("0.000001"), None),          // exactly now
    ] {
        let mut ps = vec![(pp("manufacturer"), ParamVal::Text(acme))];
        if let Some(a) = amount {
            ps.push((pp("amount"), ParamVal::Num(num(a))));
        }
        if let Some(p) = product {
            ps.push((pp("product"), ParamVal::Text(p)));
        }
        w.append_event(pk, a.id, ts, if ts == NOW { 0 } else { src_paid }, [0, 0, 0], &ps).unwrap();
    }
    list.push(a);
    // B: nothing at all
    let b = mk(&mut w, None);
    list.push(b);
    // C: birthday today and tomorrow; leap-day birthday with a purchase exactly 365 days ago
    for (y, m, d) in [(2008, 3, 15), (2008, 3, 16), (1996, 2, 29)] {
        let mut c = mk(&mut w, Some(&format!("born{y}{m}{d}@example.com")));
        c.set_attr(
            attr("birth_date"),
            Some(AttrValue::Date(reach::model::attribute::date_to_days(
                chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap(),
            ))),
        );
        c.set_attr(attr("lat"), Some(AttrValue::Number(Decimal(num("45.464211")))));
        c.set_attr(attr("lon"), Some(AttrValue::Number(Decimal(num("9.191383")))));
        let ts = NOW - 365 * DAY;
        w.append_event(pk, c.id, ts, 0, [0, 0, 0], &[(pp("amount"), ParamVal::Num(num("100")))]).unwrap();
        list.push(c);
    }
    // D: email sends and opens around the engagement window's edge
    let (sk, _) = kind("email_sent");
    let (ok, _) = kind("email_open");
    let mut dcon = mk(&mut w, Some("UPPER@Example.com"));
    dcon.timezone = Some("Europe/Rome".into());
    for k in 0..4 {
        w.append_event(sk, dcon.id, NOW - 90 * DAY + k, 0, [0, 0, 0], &[]).unwrap();
    }
    w.append_event(ok, dcon.id, NOW - 90 * DAY + 1, 0, [0, 0, 0], &[]).unwrap();
    w.append_event(ok, dcon.id, NOW - 90 * DAY, 0, [0, 0, 0], &[]).unwrap();
    list.push(dcon);
    // E: events exactly on window boundaries (and one second later) of every now
    let (pv, pvdef) = kind("page_view");
    let pv_cat = pvdef.param("category").unwrap().0;
    let running = w.intern("running").unwrap();
    let instants = boundary_instants();
    for j in 0..6u32 {
        let c = mk(&mut w, Some(&format!("boundary{j}@example.com")));
        for (i, &t) in instants.iter().enumerate() {
            if (i as u32 + j).is_multiple_of(3) {
                continue;
            }
            let t = t + (j as i64 % 2);
            let amount = num(["9.99", "0.01", "100", "33.333333"][(i + j as usize) % 4]);
            w.append_event(pk, c.id, t, src_paid, [0, 0, 0], &[(pp("amount"), ParamVal::Num(amount))]).unwrap();
            w.append_event(pv, c.id, t, 0, [0, 0, 0], &[(pv_cat, ParamVal::Text(running))]).unwrap();
            if i.is_multiple_of(2) {
                w.append_event(sk, c.id, t, 0, [0, 0, 0], &[]).unwrap();
            } else {
                w.append_event(ok, c.id, t, 0, [0, 0, 0], &[]).unwrap();
            }
        }
        list.push(c);
    }
    w.finish().unwrap();
    let mut w = wr;
    w.put_contacts(&list).unwrap();
    let ids: RoaringBitmap = list.iter().map(|c| c.id).collect();
    w.tag_add("vip-gold", &ids).unwrap();
    let leaf = w.ensure_category("sport/yoga/hatha").unwrap();
    let mut c0 = list[0].clone();
    w.set_category_members(c0.id, &[], std::slice::from_ref(&leaf)).unwrap();
    c0.categories = vec![leaf.into()];
    w.put_contacts(&[c0]).unwrap();
    for (name, expr) in SEGMENTS {
        w.put_segment(&SavedSegment {
            name: name.to_string(),
            expr: expr.to_string(),
            created_at: NOW,
            updated_at: NOW,
        })
        .unwrap();
    }
    w.commit().unwrap();
}

/// Loads one CSV export as a table of TEXT columns (empty cells as '').
pub fn load_csv(conn: &Connection, table: &str, data: &[u8]) {
    let mut r = csv::Reader::from_reader(data);
    let head: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let cols: Vec<String> = head.iter().map(|h| format!("\"{h}\" TEXT")).collect();
    conn.execute_batch(&format!("CREATE TABLE \"{table}\" ({})", cols.join(", "))).unwrap();
    let marks: Vec<&str> = head.iter().map(|_| "?").collect();
    let tx = conn.unchecked_transaction().unwrap();
    {
        let mut st = tx.prepare(&format!("INSERT INTO \"{table}\" VALUES ({})", marks.join(", "))).unwrap();
        for rec in r.records() {
            let rec = rec.unwrap();
            st.execute(rusqlite::params_from_iter(rec.iter())).unwrap();
        }
    }
    tx.commit().unwrap();
}

/// The math functions `segment sql` uses, for SQLite builds without them
/// (rusqlite's bundled SQLite has no SQLITE_ENABLE_MATH_FUNCTIONS).
pub fn add_math(conn: &Connection) {
    let has = conn.query_row("SELECT sin(1)", [], |r| r.get::<_, f64>(0)).is_ok();
    if has {
        return;
    }
    let f = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    for (name, op) in [("sin", f64::sin as fn(f64) -> f64), ("cos", f64::cos), ("asin", f64::asin), ("sqrt", f64::sqrt)]
    {
        conn.create_scalar_function(name, 1, f, move |ctx| {
            let x: Option<f64> = ctx.get(0)?;
            Ok(x.map(op))
        })
        .unwrap();
    }
}

pub fn sqlite_from(contacts_csv: &[u8], events_csv: &[u8]) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    add_math(&conn);
    load_csv(&conn, "contacts", contacts_csv);
    load_csv(&conn, "events", events_csv);
    conn
}

pub fn build(contacts: u64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oracle.redb");
    let store = Store::open(&path, OpenMode::Create).unwrap();
    let mut w = store.begin_write().unwrap();
    let opts = DemoOptions { contacts, seed: 11, now: NOW, events_per_contact: 20.0 };
    generate(&mut w, &opts, &mut |_, _, _| {}).unwrap();
    w.commit().unwrap();
    edge_cases(&store);
    let r = store.begin_read().unwrap();
    let mut contacts_csv = Vec::new();
    let n = export_contacts(&r, &mut contacts_csv, ExportFormat::Csv, None).unwrap();
    let mut events_csv = Vec::new();
    export_events(&r, &mut events_csv, ExportFormat::Csv, None).unwrap();
    let cat = StoreCatalog::load(&r).unwrap();
    drop(r);
    let conn = sqlite_from(&contacts_csv, &events_csv);
    Fixture { _dir: dir, store, path, sqlite: std::sync::Mutex::new(conn), cat, contacts_csv, events_csv, contacts: n }
}

/// Runs a query returning ids.
pub fn sql_ids(conn: &Connection, sql: &str) -> rusqlite::Result<BTreeSet<u32>> {
    let mut st = conn.prepare(sql)?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = BTreeSet::new();
    for id in rows {
        out.insert(id?.parse().expect("numeric id"));
    }
    Ok(out)
}
