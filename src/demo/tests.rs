use super::*;
use crate::derived::{Lifecycle, ScoreRules, Thresholds};
use crate::model::{Channel, Contact};
use crate::store::codec::EventBlock;
use crate::store::codec::NUM_NONE;
use crate::store::{OpenMode, Store};
use std::time::Instant;

/// 2026-03-15T12:00:00Z
const NOW: i64 = 1_773_576_000;
const DAY: i64 = 86_400;

fn run_at(dir: &std::path::Path, contacts: u64, seed: u64, epc: f64) -> (Store, DemoSummary) {
    let store = Store::open(&dir.join("demo.redb"), OpenMode::Create).unwrap();
    let opts = DemoOptions { contacts, seed, now: NOW, events_per_contact: epc };
    let mut w = store.begin_write().unwrap();
    let sum = generate(&mut w, &opts, &mut |_, _, _| {}).unwrap();
    w.commit().unwrap();
    (store, sum)
}

fn run(contacts: u64, seed: u64) -> (tempfile::TempDir, Store, DemoSummary) {
    let dir = tempfile::tempdir().unwrap();
    let (store, sum) = run_at(dir.path(), contacts, seed, 20.0);
    (dir, store, sum)
}

fn contacts_bytes(store: &Store) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    store
        .begin_read()
        .unwrap()
        .for_each_contact(|c| {
            out.push(postcard::to_allocvec(&c).unwrap());
            Ok(true)
        })
        .unwrap();
    out
}

fn blocks(store: &Store) -> Vec<EventBlock> {
    let mut out = Vec::new();
    store
        .begin_read()
        .unwrap()
        .for_each_block(|_, b| {
            out.push(b);
            Ok(())
        })
        .unwrap();
    out
}

#[test]
fn same_seed_same_database() {
    let (_d1, s1, sum1) = run(1500, 42);
    let (_d2, s2, sum2) = run(1500, 42);
    assert_eq!(sum1, sum2);
    assert_eq!(contacts_bytes(&s1), contacts_bytes(&s2));
    assert_eq!(blocks(&s1), blocks(&s2));
    assert_eq!(s1.begin_read().unwrap().dict().unwrap(), s2.begin_read().unwrap().dict().unwrap());
    let (_d3, s3, _) = run(1500, 43);
    assert_ne!(contacts_bytes(&s1), contacts_bytes(&s3));
}

/// Per-contact view of the events, for hand-evaluating segment examples.
#[derive(Default, Clone)]
struct Ev {
    kind: String,
    ts: i64,
    source: u8,
    params: Vec<(String, Option<i64>, Option<String>)>,
}

impl Ev {
    fn text(&self, p: &str) -> Option<&str> {
        self.params.iter().find(|x| x.0 == p).and_then(|x| x.2.as_deref())
    }
    fn num(&self, p: &str) -> Option<i64> {
        self.params.iter().find(|x| x.0 == p).and_then(|x| x.1)
    }
}

type Loaded = (Vec<Contact>, Vec<Vec<Ev>>, Vec<(String, roaring::RoaringBitmap)>);

fn load(store: &Store) -> Loaded {
    let r = store.begin_read().unwrap();
    let schema = r.schema().unwrap();
    let dict = r.dict().unwrap();
    let mut contacts = Vec::new();
    r.for_each_contact(|c| {
        contacts.push(c);
        Ok(true)
    })
    .unwrap();
    let max = contacts.iter().map(|c| c.id).max().unwrap_or(0) as usize;
    let mut evs = vec![Vec::new(); max + 1];
    r.for_each_block(|_, b| {
        let def = &schema.kinds[b.kind as usize];
        for i in 0..b.len() {
            let params = b
                .params
                .iter()
                .map(|(pid, d)| {
                    let name = def.params[*pid as usize].name.clone();
                    match d {
                        ParamData::Num(v) => (name, (v[i] != NUM_NONE).then_some(v[i]), None),
                        ParamData::Text(v) => (name, None, (v[i] != 0).then(|| dict[v[i] as usize].clone())),
                    }
                })
                .collect();
            evs[b.contact[i] as usize].push(Ev { kind: def.name.clone(), ts: b.ts[i], source: b.source[i], params });
        }
        Ok(())
    })
    .unwrap();
    (contacts, evs, r.tags().unwrap())
}

#[test]
fn every_kind_every_stage_and_consistent_records() {
    let (_d, store, sum) = run(5000, 7);
    let schema = store.begin_read().unwrap().schema().unwrap();
    for k in crate::model::event::builtin_kinds() {
        assert!(sum.events_by_kind.get(&k.name).copied().unwrap_or(0) > 0, "no {} events: {sum:?}", k.name);
    }
    let (contacts, evs, _) = load(&store);
    assert_eq!(contacts.len(), 5000);
    let th = Thresholds::default();
    let rules = ScoreRules::default();
    let mut stages = std::collections::BTreeMap::new();
    for c in &contacts {
        let e = &evs[c.id as usize];
        let purchases: Vec<i64> = e.iter().filter(|e| e.kind == "purchase").map(|e| e.ts).collect();
        let stage = th.lifecycle(purchases.len() as u64, purchases.iter().max().copied(), NOW);
        *stages.entry(stage.name()).or_insert(0u64) += 1;
        let score: i64 = e.iter().map(|e| rules.delta(&e.kind, e.text("type"))).sum();
        assert_eq!(c.score, score, "score of {}", c.id);
        assert!(e.iter().all(|e| e.ts <= NOW && e.ts >= c.created_at), "event times of {}", c.id);
        assert!(c.external_id.as_deref().is_some_and(|x| x.starts_with('C')));
        if c.unsubscribed_at.is_some() {
            assert!(!c.consented(Channel::Email));
        }
    }
    for l in Lifecycle::ALL {
        assert!(stages.get(l.name()).copied().unwrap_or(0) > 0, "no {} contacts: {stages:?}", l.name());
    }
    assert_eq!(stages.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<BTreeMap<_, _>>(), sum.lifecycle);
    assert!(sum.engagement.values().all(|&n| n > 0), "{:?}", sum.engagement);
    assert!(schema.attr("interests").is_some());
    let mean = sum.events as f64 / sum.contacts as f64;
    assert!((15.0..25.0).contains(&mean), "mean events per contact {mean}");
}

#[test]
fn spec_examples_match_someone() {
    let (_d, store, _) = run(5000, 7);
    let schema = store.begin_read().unwrap().schema().unwrap();
    let (contacts, evs, tags) = load(&store);
    let attr = |c: &Contact, n: &str| c.attr(schema.attr(n).unwrap().0).cloned();
    let num = |c: &Contact, n: &str| match attr(c, n) {
        Some(crate::model::AttrValue::Number(d)) => d.to_f64(),
        _ => f64::NAN,
    };
    let tag = |n: &str, id: u32| tags.iter().any(|(t, bm)| t == n && bm.contains(id));
    let milano = crate::geo::lookup("Milano").unwrap();
    let yoga = INTERESTS.iter().position(|i| *i == "yoga").unwrap() as u16;
    let paid = crate::model::Source::Paid.code();
    let email = crate::model::Source::Email.code();
    let mo = |n: i64| n * 30 * DAY;
    let mut hits = BTreeMap::<&str, u64>::new();
    for c in &contacts {
        let e = &evs[c.id as usize];
        let within = |k: &'static str, secs: i64| e.iter().filter(move |x| x.kind == k && x.ts > NOW - secs);
        let all = |k: &'static str| e.iter().filter(move |x| x.kind == k);
        let days_since_last = |k: &'static str| all(k).map(|x| x.ts).max().map(|t| (NOW - t) / DAY);
        let sum_amount =
            |it: &mut dyn Iterator<Item = &Ev>| it.filter_map(|x| x.num("amount")).sum::<i64>() / 1_000_000;
        let mut hit = |name: &'static str, yes: bool| *hits.entry(name).or_insert(0) += yes as u64;
        hit("vip and not churned", tag("vip", c.id) && !tag("churned", c.id));
        let age = match attr(c, "birth_date") {
            Some(crate::model::AttrValue::Date(d)) => (NOW / DAY - d as i64) / 365,
            _ => -1,
        };
        let d = crate::geo::haversine_km(milano.lat, milano.lon, num(c, "lat"), num(c, "lon"));
        hit("age 18-35 near Milano 20km", (18..=35).contains(&age) && d <= 20.0);
        hit(
            "acme 6mo > 300",
            sum_amount(&mut within("purchase", mo(6)).filter(|x| x.text("manufacturer") == Some("Acme"))) > 300,
        );
        let total = sum_amount(&mut all("purchase"));
        hit("loyalty tier", (500..1000).contains(&total));
        hit("paid-only buyers", all("purchase").any(|x| x.source == paid) && all("purchase").all(|x| x.source == paid));
        hit(
            "x100 cross-sell",
            within("purchase", mo(1)).any(|x| x.text("product") == Some("X100"))
                && !all("purchase").any(|x| x.text("category") == Some("x100-accessories")),
        );
        hit(
            "abandoned cart",
            within("cart_add", DAY).count() >= 1 && days_since_last("purchase").is_some_and(|d| d > 15),
        );
        hit(
            "reactivation",
            days_since_last("purchase").is_some_and(|d| d > 90) && sum_amount(&mut within("purchase", 365 * DAY)) > 150,
        );
        hit(
            "no opens, 2 sends in 30d",
            within("email_open", 30 * DAY).count() == 0 && within("email_sent", 30 * DAY).count() >= 2,
        );
        hit(
            "running from email 14d",
            within("page_view", 14 * DAY)
                .filter(|x| x.text("category") == Some("running") && x.source == email)
                .count()
                >= 3,
        );
        let yoga_fan = matches!(attr(c, "interests"), Some(crate::model::AttrValue::Set(s)) if s.contains(&yoga));
        hit("yoga and consent", yoga_fan && c.consented(Channel::Email));
        hit("hard bounced", c.bounced_at.is_some());
        hit("unsubscribed", c.unsubscribed_at.is_some());
        hit("no timezone", c.timezone.is_none());
    }
    eprintln!("{hits:#?}");
    for (name, n) in &hits {
        assert!(*n > 0, "no contact matches `{name}`");
    }
}

/// Release timing: `cargo test --release --lib demo::tests::timing -- --ignored --nocapture`
/// (REACH_DEMO_CONTACTS overrides the 1M default).
#[test]
#[ignore]
fn timing() {
    let n: u64 = std::env::var("REACH_DEMO_CONTACTS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let store = Store::open(&dir.path().join("demo.redb"), OpenMode::Create).unwrap();
    let opts = DemoOptions { contacts: n, seed: 7, now: NOW, events_per_contact: 20.0 };
    let mut w = store.begin_write().unwrap();
    let sum = generate(&mut w, &opts, &mut |_, _, _| {}).unwrap();
    let t_gen = t0.elapsed();
    w.commit().unwrap();
    let t_all = t0.elapsed();
    let size = std::fs::metadata(dir.path().join("demo.redb")).unwrap().len();
    eprintln!(
        "demo {n} contacts, {} events ({} orders): generate+write {:.2}s, commit {:.2}s, total {:.2}s, file {} MB",
        sum.events,
        sum.orders,
        t_gen.as_secs_f64(),
        (t_all - t_gen).as_secs_f64(),
        t_all.as_secs_f64(),
        size / 1_000_000
    );
    eprintln!("{sum:#?}");
}

/// Below the 16.4 events per contact that everything but browsing makes,
/// campaign sends thin out, so 10M contacts at 10 events each are 10M/100M.
#[test]
fn events_per_contact_below_the_floor_is_reached() {
    for epc in [6.0, 10.0, 14.0] {
        let dir = tempfile::tempdir().unwrap();
        let (_store, sum) = run_at(dir.path(), 4000, 7, epc);
        let got = sum.events as f64 / 4000.0;
        assert!((got - epc).abs() < epc * 0.1, "asked {epc} events per contact, got {got:.2}");
    }
}
