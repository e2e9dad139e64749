//! Per-chunk generation: pure functions of (context, chunk index, ids), so
//! chunks can be generated on any thread and still give the same output.

use super::DemoOptions;
use super::data::{self, CATEGORIES, COUNTRIES, PRODUCTS, TAGS};
use crate::derived::{Engagement, Lifecycle, ScoreRules, Thresholds};
use crate::error::{Error, Result};
use crate::geo::{City, Gazetteer};
use crate::model::attribute::date_to_days;
use crate::model::{AttrValue, Channel, Consent, Contact, Decimal, KindDef, ParamType, Source};
use crate::store::Loader;
use crate::store::codec::{EventBlock, NUM_NONE, ParamData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;
/// Decimal units per euro cent.
const CENT: i64 = 10_000;

pub const K_PURCHASE: usize = 0;
const K_PAGE_VIEW: usize = 1;
const K_CART_ADD: usize = 2;
const K_CART_ABANDON: usize = 3;
const K_EMAIL_SENT: usize = 4;
const K_EMAIL_OPEN: usize = 5;
const K_EMAIL_CLICK: usize = 6;
const K_EMAIL_BOUNCE: usize = 7;
const K_UNSUBSCRIBE: usize = 8;
const K_SMS_SENT: usize = 9;
const K_PUSH_SENT: usize = 10;
const K_TICKET: usize = 11;
pub(super) const KINDS: [&str; 12] = [
    "purchase",
    "page_view",
    "cart_add",
    "cart_abandon",
    "email_sent",
    "email_open",
    "email_click",
    "email_bounce",
    "unsubscribe",
    "sms_sent",
    "push_sent",
    "ticket",
];
/// Kinds whose events carry utm columns.
const WITH_UTM: [bool; 12] = [true, true, true, false, false, false, false, false, false, false, false, false];

/// Mean events per contact of everything but browsing, and of browsing at
/// scale 1 (measured; used to reach `events_per_contact`).
const BASE_OTHER: f64 = 16.4;
const BASE_BROWSE: f64 = 3.3;
/// Of `BASE_OTHER`, what is not a campaign send or its opens and clicks
/// (orders, cart events, tickets; measured at 20,000 contacts) and does
/// not thin.
const SENDS_FIXED: f64 = 5.2;

struct Camp {
    ts: i64,
    name: u32,
    newsletter: bool,
}

struct Prod {
    name: u32,
    manufacturer: u32,
    category: usize,
    url: u32,
    price: i64,
}

/// Attribute indexes in the schema.
struct Attrs {
    first_name: u16,
    last_name: u16,
    phone: u16,
    gender: u16,
    birth_date: u16,
    city: u16,
    region: u16,
    country: u16,
    postal_code: u16,
    lat: u16,
    lon: u16,
    language: u16,
    interests: u16,
}

/// Parameter slots (= parameter index in the kind) used by the generator.
struct Slots {
    p_amount: usize,
    p_currency: usize,
    p_quantity: usize,
    p_order: usize,
    p_product: usize,
    p_manufacturer: usize,
    p_category: usize,
    pv_url: usize,
    pv_product: usize,
    pv_category: usize,
    ca_product: usize,
    ca_category: usize,
    ca_amount: usize,
    ca_quantity: usize,
    ab_amount: usize,
    ab_product: usize,
    campaign: [usize; 7],
    click_url: usize,
    bounce_type: usize,
    ticket_subject: usize,
    ticket_status: usize,
}

pub struct Ctx {
    seed: u64,
    now: i64,
    browse_scale: f64,
    /// the share of campaign sends (email, SMS, push) kept: 1 unless
    /// `events_per_contact` is below what everything but browsing makes
    sends_scale: f64,
    kinds: Vec<(u16, KindDef)>,
    attrs: Attrs,
    slots: Slots,
    /// per country: cities with cumulative population
    cities: Vec<Vec<(u64, &'static City)>>,
    products: Vec<Prod>,
    /// per product category: (cumulative weight, product index)
    by_category: Vec<Vec<(u32, usize)>>,
    all_products: Vec<(u32, usize)>,
    category_ids: Vec<u32>,
    category_urls: Vec<u32>,
    home_url: u32,
    cart_url: u32,
    emails: Vec<Camp>,
    sms: Vec<(i64, u32)>,
    push: Vec<(i64, u32)>,
    eur: u32,
    hard: u32,
    soft: u32,
    paid_utm: Vec<[u32; 2]>,
    paid_campaigns: Vec<u32>,
    social_utm: Vec<u32>,
    social_medium: u32,
    organic: u32,
    search_engines: [u32; 2],
    referrers: Vec<u32>,
    referral_medium: u32,
    newsletter_source: u32,
    email_medium: u32,
    ticket_subjects: Vec<u32>,
    ticket_statuses: Vec<u32>,
    scores: ScoreRules,
}

/// The output of one chunk.
pub struct Chunk {
    pub contacts: Vec<Contact>,
    /// one block per kind (in `KINDS` order); the purchase `order_id`
    /// column holds the contact's order sequence number until interned
    pub blocks: Vec<EventBlock>,
    /// per tag (in `TAGS` order): contact ids
    pub tags: Vec<Vec<u32>>,
    /// per contact category (in `contact_category_paths` order): contact ids
    pub categories: Vec<Vec<u32>>,
    pub lifecycle: [u64; 6],
    pub engagement: [u64; 4],
}

fn param_slot(def: &KindDef, name: &str) -> Result<usize> {
    def.param(name)
        .map(|p| p.0 as usize)
        .ok_or_else(|| Error::runtime(format!("event kind `{}` has no parameter `{name}`", def.name)))
}

fn ts_label(ts: i64, fmt: &str) -> String {
    chrono::DateTime::from_timestamp(ts, 0).map(|d| d.format(fmt).to_string()).unwrap_or_default()
}

impl Ctx {
    pub fn new(w: &mut Loader, opts: &DemoOptions) -> Result<Ctx> {
        let schema = w.schema().clone();
        let mut kinds = Vec::new();
        for k in KINDS {
            let (i, def) =
                schema.kind(k).ok_or_else(|| Error::runtime(format!("built-in event kind `{k}` is missing")))?;
            kinds.push((i, def.clone()));
        }
        let a =
            |n: &str| schema.attr(n).map(|x| x.0).ok_or_else(|| Error::runtime(format!("attribute `{n}` is missing")));
        let attrs = Attrs {
            first_name: a("first_name")?,
            last_name: a("last_name")?,
            phone: a("phone")?,
            gender: a("gender")?,
            birth_date: a("birth_date")?,
            city: a("city")?,
            region: a("region")?,
            country: a("country")?,
            postal_code: a("postal_code")?,
            lat: a("lat")?,
            lon: a("lon")?,
            language: a("language")?,
            interests: a("interests")?,
        };
        let d = |k: usize| &kinds[k].1;
        let mut campaign = [0; 7];
        for (slot, k) in campaign.iter_mut().zip([
            K_EMAIL_SENT,
            K_EMAIL_OPEN,
            K_EMAIL_CLICK,
            K_EMAIL_BOUNCE,
            K_UNSUBSCRIBE,
            K_SMS_SENT,
            K_PUSH_SENT,
        ]) {
            *slot = param_slot(d(k), "campaign")?;
        }
        let slots = Slots {
            p_amount: param_slot(d(K_PURCHASE), "amount")?,
            p_currency: param_slot(d(K_PURCHASE), "currency")?,
            p_quantity: param_slot(d(K_PURCHASE), "quantity")?,
            p_order: param_slot(d(K_PURCHASE), "order_id")?,
            p_product: param_slot(d(K_PURCHASE), "product")?,
            p_manufacturer: param_slot(d(K_PURCHASE), "manufacturer")?,
            p_category: param_slot(d(K_PURCHASE), "category")?,
            pv_url: param_slot(d(K_PAGE_VIEW), "url")?,
            pv_product: param_slot(d(K_PAGE_VIEW), "product")?,
            pv_category: param_slot(d(K_PAGE_VIEW), "category")?,
            ca_product: param_slot(d(K_CART_ADD), "product")?,
            ca_category: param_slot(d(K_CART_ADD), "category")?,
            ca_amount: param_slot(d(K_CART_ADD), "amount")?,
            ca_quantity: param_slot(d(K_CART_ADD), "quantity")?,
            ab_amount: param_slot(d(K_CART_ABANDON), "amount")?,
            ab_product: param_slot(d(K_CART_ABANDON), "product")?,
            campaign,
            click_url: param_slot(d(K_EMAIL_CLICK), "url")?,
            bounce_type: param_slot(d(K_EMAIL_BOUNCE), "type")?,
            ticket_subject: param_slot(d(K_TICKET), "subject")?,
            ticket_status: param_slot(d(K_TICKET), "status")?,
        };

        let gaz = Gazetteer::get();
        let mut cities = Vec::new();
        for (cc, ..) in COUNTRIES {
            let mut cum = 0u64;
            let mut list = Vec::new();
            for c in gaz.cities().iter().filter(|c| c.country == *cc) {
                cum += c.population;
                list.push((cum, c));
            }
            if list.is_empty() {
                return Err(Error::runtime(format!("the gazetteer has no cities of {cc}")));
            }
            cities.push(list);
        }

        let mut products = Vec::new();
        let mut by_category = vec![Vec::new(); CATEGORIES.len()];
        let mut all_products = Vec::new();
        let mut all_cum = 0;
        for (i, p) in PRODUCTS.iter().enumerate() {
            products.push(Prod {
                name: w.intern(p.name)?,
                manufacturer: w.intern(p.manufacturer)?,
                category: p.category,
                url: w.intern(&format!("/p/{}", data::slug(p.name)))?,
                price: p.price_cents * CENT,
            });
            let list: &mut Vec<(u32, usize)> = &mut by_category[p.category];
            let cum = list.last().map_or(0, |x| x.0) + p.weight;
            list.push((cum, i));
            all_cum += p.weight;
            all_products.push((all_cum, i));
        }
        let mut category_ids = Vec::new();
        let mut category_urls = Vec::new();
        for c in CATEGORIES {
            category_ids.push(w.intern(c)?);
            category_urls.push(w.intern(&format!("/c/{c}"))?);
        }

        let now = opts.now;
        let today = now - now.rem_euclid(DAY);
        let mut emails = Vec::new();
        for wk in 0..52 {
            let ts = today - DAY - wk * 7 * DAY + 8 * HOUR;
            emails.push(Camp {
                ts,
                name: w.intern(&format!("newsletter-{}", ts_label(ts, "%Y-%m-%d")))?,
                newsletter: true,
            });
        }
        for i in 0..26 {
            let ts = today - (i * 14 + 4) * DAY + 10 * HOUR;
            emails.push(Camp {
                ts,
                name: w.intern(&format!("promo-{}", ts_label(ts, "%Y-%m-%d")))?,
                newsletter: false,
            });
        }
        emails.sort_by_key(|c| c.ts);
        let mut sms = Vec::new();
        for i in 0..12 {
            let ts = today - (i * 30 + 9) * DAY + 17 * HOUR;
            sms.push((ts, w.intern(&format!("sms-{}", ts_label(ts, "%Y-%m-%d")))?));
        }
        sms.reverse();
        let mut push = Vec::new();
        for i in 0..26 {
            let ts = today - (i * 14 + 6) * DAY + 18 * HOUR;
            push.push((ts, w.intern(&format!("push-{}", ts_label(ts, "%Y-%m-%d")))?));
        }
        push.reverse();

        let mut paid_utm = Vec::new();
        for (s, m) in data::PAID_SOURCES {
            paid_utm.push([w.intern(s)?, w.intern(m)?]);
        }
        let mut intern_all = |list: &[&str]| -> Result<Vec<u32>> { list.iter().map(|s| w.intern(s)).collect() };
        let paid_campaigns = intern_all(data::PAID_CAMPAIGNS)?;
        let social_utm = intern_all(data::SOCIAL_SOURCES)?;
        let referrers =
            intern_all(&["blog.example.org", "forum.example.net", "news.example.com", "partner.example.com"])?;
        let ticket_subjects = intern_all(data::TICKET_SUBJECTS)?;
        let ticket_statuses = intern_all(data::TICKET_STATUSES)?;
        let events_per_contact = opts.events_per_contact;
        Ok(Ctx {
            seed: opts.seed,
            now,
            browse_scale: ((events_per_contact - BASE_OTHER) / BASE_BROWSE).max(0.05),
            // below the floor, fewer campaign sends (most of the rest):
            // 10M contacts at 10 events each make 10M/100M
            sends_scale: if events_per_contact < BASE_OTHER + 0.05 * BASE_BROWSE {
                ((events_per_contact - 0.05 * BASE_BROWSE) / (BASE_OTHER - SENDS_FIXED)
                    - SENDS_FIXED / (BASE_OTHER - SENDS_FIXED))
                    .clamp(0.0, 1.0)
            } else {
                1.0
            },
            kinds,
            attrs,
            slots,
            cities,
            products,
            by_category,
            all_products,
            category_ids,
            category_urls,
            home_url: w.intern("/")?,
            cart_url: w.intern("/cart")?,
            emails,
            sms,
            push,
            eur: w.intern("EUR")?,
            hard: w.intern("hard")?,
            soft: w.intern("soft")?,
            paid_utm,
            paid_campaigns,
            social_utm,
            social_medium: w.intern("social")?,
            organic: w.intern("organic")?,
            search_engines: [w.intern("google")?, w.intern("bing")?],
            referrers,
            referral_medium: w.intern("referral")?,
            newsletter_source: w.intern("newsletter")?,
            email_medium: w.intern("email")?,
            ticket_subjects,
            ticket_statuses,
            scores: ScoreRules::default(),
        })
    }

    pub fn contact_category_paths(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = data::INTEREST_CONTACT_CATEGORY.to_vec();
        v.push(data::CONTACT_CATEGORY_WHOLESALE);
        v.push(data::CONTACT_CATEGORY_PARTNER);
        v
    }

    pub fn order_slot(&self) -> usize {
        self.slots.p_order
    }

    pub fn kind_name(&self, k: usize) -> &'static str {
        KINDS[k]
    }

    pub fn empty_block(&self, k: usize) -> EventBlock {
        let (kind, def) = &self.kinds[k];
        let mut b = EventBlock::new(*kind);
        for (i, p) in def.params.iter().enumerate() {
            let data = match p.ty {
                ParamType::Number => ParamData::Num(Vec::new()),
                ParamType::Text | ParamType::Enum(_) => ParamData::Text(Vec::new()),
            };
            b.params.push((i as u16, data));
        }
        b
    }

    pub fn empty_blocks(&self) -> Vec<EventBlock> {
        (0..KINDS.len()).map(|k| self.empty_block(k)).collect()
    }

    /// Generates the contacts `ids` (chunk `index`) and their events.
    pub fn chunk(&self, index: u64, ids: &[u32]) -> Chunk {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(index);
        let mut g = Gen {
            ctx: self,
            rng,
            blocks: self.empty_blocks(),
            out: Chunk {
                contacts: Vec::with_capacity(ids.len()),
                blocks: Vec::new(),
                tags: vec![Vec::new(); TAGS.len()],
                categories: vec![Vec::new(); self.contact_category_paths().len()],
                lifecycle: [0; 6],
                engagement: [0; 4],
            },
            purchases: Vec::new(),
            score: 0,
            sent_90: 0,
            open_90: 0,
        };
        for &id in ids {
            g.contact(id);
        }
        g.out.blocks = g.blocks;
        g.out
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Stage {
    Prospect,
    New,
    Active,
    Loyal,
    Disengaging,
    Lapsed,
}

#[derive(Clone, Copy, PartialEq)]
enum Profile {
    Super,
    Moderate,
    Dormant,
}

struct Gen<'c> {
    ctx: &'c Ctx,
    rng: ChaCha8Rng,
    blocks: Vec<EventBlock>,
    out: Chunk,
    /// scratch: purchase times of the current contact
    purchases: Vec<i64>,
    score: i64,
    sent_90: u64,
    open_90: u64,
}

fn pick_cum<T: Copy>(list: &[(u32, T)], r: u32) -> T {
    let total = list.last().map_or(1, |x| x.0);
    let x = r % total;
    list[list.partition_point(|e| e.0 <= x)].1
}

impl Gen<'_> {
    fn f(&mut self) -> f64 {
        self.rng.random::<f64>()
    }
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random::<f64>() < p
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo { lo } else { self.rng.random_range(lo..hi) }
    }
    fn gauss(&mut self) -> f64 {
        let u1 = self.f().max(1e-12);
        let u2 = self.f();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda > 30.0 {
            return (lambda + lambda.sqrt() * self.gauss()).round().max(0.0) as u64;
        }
        let l = (-lambda).exp();
        let (mut k, mut p) = (0u64, 1.0);
        loop {
            p *= self.f();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }
    fn pick<'a, T>(&mut self, list: &'a [T]) -> &'a T {
        &list[self.rng.random_range(0..list.len())]
    }

    // ---------- events ----------

    fn ev(&mut self, k: usize, c: u32, ts: i64, src: u8, utm: [u32; 3]) {
        let b = &mut self.blocks[k];
        b.contact.push(c);
        b.ts.push(ts.min(self.ctx.now));
        b.source.push(src);
        if WITH_UTM[k] {
            for (col, v) in b.utm.iter_mut().zip(utm) {
                col.push(v);
            }
        }
        for (_, d) in &mut b.params {
            match d {
                ParamData::Num(v) => v.push(NUM_NONE),
                ParamData::Text(v) => v.push(0),
            }
        }
    }
    fn num(&mut self, k: usize, slot: usize, x: i64) {
        if let ParamData::Num(v) = &mut self.blocks[k].params[slot].1
            && let Some(last) = v.last_mut()
        {
            *last = x;
        }
    }
    fn text(&mut self, k: usize, slot: usize, x: u32) {
        if let ParamData::Text(v) = &mut self.blocks[k].params[slot].1
            && let Some(last) = v.last_mut()
        {
            *last = x;
        }
    }

    /// A traffic source and its utm values for a session at `ts`.
    fn source(&mut self, paid_only: bool, mailable: bool, ts: i64) -> (u8, [u32; 3]) {
        let c = self.ctx;
        let r = if paid_only { 0 } else { self.rng.random_range(0..100) };
        match r {
            0..12 => {
                let [s, m] = *self.pick(&c.paid_utm);
                let camp = *self.pick(&c.paid_campaigns);
                (Source::Paid.code(), [s, m, camp])
            }
            12..42 => (Source::Direct.code(), [0; 3]),
            42..67 => (Source::Search.code(), [*self.pick(&c.search_engines), c.organic, 0]),
            67..77 => (Source::Social.code(), [*self.pick(&c.social_utm), c.social_medium, 0]),
            77..85 => (Source::Referral.code(), [*self.pick(&c.referrers), c.referral_medium, 0]),
            _ if mailable => {
                let i = c.emails.partition_point(|e| e.ts <= ts).saturating_sub(1);
                let camp = c.emails.get(i).map_or(0, |e| e.name);
                (Source::Email.code(), [c.newsletter_source, c.email_medium, camp])
            }
            _ => (Source::Direct.code(), [0; 3]),
        }
    }

    fn product_in(&mut self, cat: usize) -> usize {
        let r = self.rng.random::<u32>();
        pick_cum(&self.ctx.by_category[cat], r)
    }

    /// A browsing session of `pages` page views in category `cat` from `t`;
    /// returns the time of the last page and the last product seen.
    fn session(&mut self, c: u32, mut t: i64, src: (u8, [u32; 3]), pages: u32, cat: usize) -> (i64, usize) {
        let ctx = self.ctx;
        let s = &ctx.slots;
        let mut product = self.product_in(cat);
        for p in 0..pages {
            self.ev(K_PAGE_VIEW, c, t, src.0, src.1);
            if p == 0 && pages > 1 {
                let url = if self.chance(0.3) { ctx.home_url } else { ctx.category_urls[cat] };
                self.text(K_PAGE_VIEW, s.pv_url, url);
                self.text(K_PAGE_VIEW, s.pv_category, ctx.category_ids[cat]);
            } else {
                product = self.product_in(cat);
                let pr = &ctx.products[product];
                self.text(K_PAGE_VIEW, s.pv_url, pr.url);
                self.text(K_PAGE_VIEW, s.pv_product, pr.name);
                self.text(K_PAGE_VIEW, s.pv_category, ctx.category_ids[cat]);
            }
            t += self.range(15, 240);
        }
        (t, product)
    }

    fn cart_add(&mut self, c: u32, t: i64, src: (u8, [u32; 3]), product: usize, qty: i64) {
        let ctx = self.ctx;
        let s = &ctx.slots;
        let pr = &ctx.products[product];
        self.ev(K_CART_ADD, c, t, src.0, src.1);
        self.text(K_CART_ADD, s.ca_product, pr.name);
        self.text(K_CART_ADD, s.ca_category, ctx.category_ids[pr.category]);
        self.num(K_CART_ADD, s.ca_amount, pr.price * qty);
        self.num(K_CART_ADD, s.ca_quantity, qty * Decimal::from_int(1).unwrap().units());
    }

    // ---------- one contact ----------

    fn contact(&mut self, id: u32) {
        let ctx = self.ctx;
        let now = ctx.now;
        let th = Thresholds::default();
        self.score = 0;
        self.sent_90 = 0;
        self.open_90 = 0;

        // who and where
        let r = self.rng.random_range(0..100u32);
        let country = COUNTRIES.iter().scan(0, |acc, c| {
            *acc += c.1;
            Some(*acc)
        });
        let ci = country.take_while(|&cum| cum <= r).count().min(COUNTRIES.len() - 1);
        let (cc, _, lang, phone_prefix, tld) = COUNTRIES[ci];
        let cities = &ctx.cities[ci];
        let x = self.rng.random_range(0..cities.last().map_or(1, |c| c.0));
        let city = cities[cities.partition_point(|c| c.0 <= x).min(cities.len() - 1)].1;
        let gender = match self.rng.random_range(0..100) {
            0..49 => 0u16,
            49..98 => 1,
            _ => 2,
        };
        let names = data::names(ci);
        let first = *if gender == 0 || (gender == 2 && self.chance(0.5)) {
            self.pick(names.female)
        } else {
            self.pick(names.male)
        };
        let last = *self.pick(names.last);
        let age_years = match self.rng.random_range(0..100) {
            0..12 => self.range(16, 25),
            12..82 => self.range(25, 56),
            _ => self.range(56, 86),
        };
        let birth = now - age_years * 365 * DAY - self.range(0, 365 * DAY);

        // lifecycle target and tenure
        let stage = match self.rng.random_range(0..100) {
            0..40 => Stage::Prospect,
            40..46 => Stage::New,
            46..60 => Stage::Active,
            60..70 => Stage::Loyal,
            70..82 => Stage::Disengaging,
            _ => Stage::Lapsed,
        };
        let last_purchase_age = match stage {
            Stage::Prospect => None,
            Stage::New => Some(self.range(HOUR, 89 * DAY)),
            Stage::Active => Some(self.range(2 * HOUR, 179 * DAY)),
            Stage::Loyal => Some((179.0 * DAY as f64 * self.f().powi(2)) as i64 + HOUR),
            Stage::Disengaging => Some(self.range(181 * DAY, 364 * DAY)),
            Stage::Lapsed => Some(self.range(366 * DAY, 700 * DAY)),
        };
        let mut tenure = (730.0 * DAY as f64 * self.f().powf(1.2)) as i64 + self.range(0, DAY);
        if let Some(age) = last_purchase_age {
            tenure = tenure.max(age + self.range(DAY, 45 * DAY));
        }
        let created = now - tenure;

        // keys, consent, attributes
        let has_email = self.chance(0.97);
        let email = has_email.then(|| {
            let domain = if self.chance(0.5) { "example.com" } else { tld };
            let domain = if domain == tld { format!("example.{tld}") } else { domain.to_string() };
            format!("{}.{}{}@{}", ascii_name(first), ascii_name(last), id, domain)
        });
        let has_phone = self.chance(0.7);
        let consent_at = |g: &mut Self| (created + g.range(0, 600)).min(now);
        let mut consent = [None; 3];
        if has_email {
            let r = self.f();
            if r < 0.87 {
                consent[Channel::Email as usize] = Some(Consent { opted_in: r < 0.75, at: consent_at(self) });
            }
        }
        if has_phone {
            let r = self.f();
            if r < 0.5 {
                consent[Channel::Sms as usize] = Some(Consent { opted_in: r < 0.35, at: consent_at(self) });
            }
        }
        let r = self.f();
        if r < 0.4 {
            consent[Channel::Push as usize] = Some(Consent { opted_in: r < 0.3, at: consent_at(self) });
        }
        let mut interests: Vec<u16> = Vec::new();
        for (i, &pm) in data::INTEREST_PERMILLE.iter().enumerate() {
            if self.rng.random_range(0..1000) < pm {
                interests.push(i as u16);
            }
        }
        let favourite = if interests.is_empty() {
            self.rng.random_range(0..CATEGORIES.len())
        } else {
            data::INTEREST_CATEGORY[interests[self.rng.random_range(0..interests.len())] as usize]
        };
        let wholesale = self.chance(0.01);
        let paid_only = self.chance(0.12);
        let mailable = has_email && consent[Channel::Email as usize].is_some_and(|c| c.opted_in);

        // purchases
        let n_purchases = match stage {
            Stage::Prospect => 0,
            Stage::New => 1,
            Stage::Active => {
                if last_purchase_age.is_some_and(|a| a < 90 * DAY) || self.chance(0.5) {
                    2
                } else {
                    1
                }
            }
            Stage::Loyal => {
                let pareto = 1.0 / self.f().max(1e-9).powf(1.0 / 1.2);
                3 + (pareto as u64 - 1).min(400)
            }
            Stage::Disengaging | Stage::Lapsed => 1 + (-(self.f().max(1e-9)).ln() * 1.2) as u64,
        };
        self.purchases.clear();
        if let Some(age) = last_purchase_age {
            let last = now - age;
            self.purchases.push(last);
            for _ in 1..n_purchases {
                let t = self.range(created + HOUR, last);
                self.purchases.push(t);
            }
            self.purchases.sort_unstable();
        }
        let purchases = std::mem::take(&mut self.purchases);
        let mut spent = 0i64;
        let mut bought_x100 = false;
        let last_active = match stage {
            Stage::Disengaging | Stage::Lapsed => purchases.last().copied().unwrap_or(now) + self.range(0, 90 * DAY),
            _ => now,
        }
        .min(now);
        for (seq, &t) in purchases.iter().enumerate() {
            let cat = if bought_x100 && self.chance(0.3) {
                data::X100_ACCESSORIES
            } else if self.chance(0.6) {
                favourite
            } else {
                let r = self.rng.random::<u32>();
                ctx.products[pick_cum(&ctx.all_products, r)].category
            };
            let product = self.product_in(cat);
            bought_x100 |= PRODUCTS[product].name == "X100";
            let qty = if wholesale {
                self.range(10, 51)
            } else {
                match self.rng.random_range(0..100) {
                    0..80 => 1,
                    80..93 => 2,
                    _ => self.range(3, 6),
                }
            };
            let src = self.source(paid_only, mailable, t);
            let pages = self.rng.random_range(1..3);
            let start = t - self.range(5 * 60, 40 * 60);
            let (end, _) = self.session(id, start, src, pages, ctx.products[product].category);
            self.cart_add(id, end.min(t - 30), src, product, qty);
            let pr = &ctx.products[product];
            let mut amount = pr.price * qty;
            if self.chance(0.15) {
                // 10% off, rounded to the cent
                amount = (amount * 9 / 10) / CENT * CENT;
            }
            spent += amount;
            let s = &ctx.slots;
            self.ev(K_PURCHASE, id, t, src.0, src.1);
            self.num(K_PURCHASE, s.p_amount, amount);
            self.text(K_PURCHASE, s.p_currency, ctx.eur);
            self.num(K_PURCHASE, s.p_quantity, qty * Decimal::from_int(1).unwrap().units());
            self.text(K_PURCHASE, s.p_order, seq as u32 + 1);
            self.text(K_PURCHASE, s.p_product, pr.name);
            self.text(K_PURCHASE, s.p_manufacturer, pr.manufacturer);
            self.text(K_PURCHASE, s.p_category, ctx.category_ids[pr.category]);
            self.score += ctx.scores.delta("purchase", None);
        }

        // browsing
        let power = self.chance(0.001);
        let activity = if power { self.range(150, 1000) as f64 } else { (1.1 * self.gauss() - 0.605).exp() };
        let span = (last_active - created).max(HOUR);
        let lambda = 1.4 * activity * ctx.browse_scale * (span as f64 / (365 * DAY) as f64).max(0.1);
        let sessions = self.poisson(lambda);
        for _ in 0..sessions {
            let t = self.range(created, last_active);
            self.browse(id, t, paid_only, mailable, favourite, 0.25);
        }
        if last_active == now && self.chance(0.04) {
            let t = self.range(now - 3 * DAY, now - 600);
            self.browse(id, t, paid_only, mailable, favourite, 0.6);
        }

        // email
        let mut unsubscribed_at = None;
        let mut bounced_at = None;
        let newsletter = mailable && self.chance(0.15);
        if mailable {
            let profile = match self.rng.random_range(0..100) {
                0..20 => Profile::Super,
                20..65 => Profile::Moderate,
                _ => Profile::Dormant,
            };
            let bounce_after = self.chance(0.015).then(|| self.range(0, 30));
            let unsub_after = self.chance(0.04).then(|| self.range(0, 30));
            let mut sends = 0i64;
            for camp in &ctx.emails {
                if camp.ts < created || !(camp.newsletter && newsletter || !camp.newsletter && self.chance(0.1)) {
                    continue;
                }
                if ctx.sends_scale < 1.0 && !self.chance(ctx.sends_scale) {
                    continue;
                }
                let t = camp.ts + self.range(0, HOUR);
                if t > now {
                    continue;
                }
                let s = &ctx.slots;
                self.ev(K_EMAIL_SENT, id, t, 0, [0; 3]);
                self.text(K_EMAIL_SENT, s.campaign[0], camp.name);
                let recent = t > now - th.engagement_window_days * DAY;
                self.sent_90 += recent as u64;
                if bounce_after == Some(sends) {
                    self.ev(K_EMAIL_BOUNCE, id, t + 60, 0, [0; 3]);
                    self.text(K_EMAIL_BOUNCE, s.bounce_type, ctx.hard);
                    self.text(K_EMAIL_BOUNCE, s.campaign[3], camp.name);
                    bounced_at = Some((t + 60).min(now));
                    self.score += ctx.scores.delta("email_bounce", Some("hard"));
                    break;
                }
                sends += 1;
                if self.chance(0.004) {
                    self.ev(K_EMAIL_BOUNCE, id, t + 60, 0, [0; 3]);
                    self.text(K_EMAIL_BOUNCE, s.bounce_type, ctx.soft);
                    self.text(K_EMAIL_BOUNCE, s.campaign[3], camp.name);
                    continue;
                }
                let p_open = match profile {
                    Profile::Super => 0.75,
                    Profile::Moderate => 0.15,
                    Profile::Dormant if t < now - 120 * DAY => 0.08,
                    Profile::Dormant => 0.0,
                };
                let mut t_last = t;
                if self.chance(p_open) {
                    let t_open = t + (-(self.f().max(1e-9)).ln() * 3.0 * HOUR as f64) as i64 + 30;
                    if t_open <= now {
                        self.ev(K_EMAIL_OPEN, id, t_open, Source::Email.code(), [0; 3]);
                        self.text(K_EMAIL_OPEN, s.campaign[1], camp.name);
                        self.open_90 += (t_open > now - th.engagement_window_days * DAY) as u64;
                        self.score += ctx.scores.delta("email_open", None);
                        t_last = t_open;
                        let p_click = if profile == Profile::Super { 0.35 } else { 0.15 };
                        if self.chance(p_click) {
                            let t_click = t_open + self.range(5, 600);
                            let cat =
                                if self.chance(0.8) { favourite } else { self.rng.random_range(0..CATEGORIES.len()) };
                            self.ev(K_EMAIL_CLICK, id, t_click, Source::Email.code(), [0; 3]);
                            self.text(K_EMAIL_CLICK, s.campaign[2], camp.name);
                            self.text(K_EMAIL_CLICK, s.click_url, ctx.category_urls[cat]);
                            self.score += ctx.scores.delta("email_click", None);
                            let src = (Source::Email.code(), [ctx.newsletter_source, ctx.email_medium, camp.name]);
                            let pages = self.rng.random_range(2..7);
                            let (end, product) = self.session(id, t_click + 5, src, pages, cat);
                            if self.chance(0.2) {
                                self.cart_add(id, end, src, product, 1);
                            }
                            t_last = end;
                        }
                    }
                }
                if unsub_after == Some(sends) {
                    let t_u = t_last + self.range(60, 48 * HOUR);
                    if t_u <= now {
                        self.ev(K_UNSUBSCRIBE, id, t_u, 0, [0; 3]);
                        self.text(K_UNSUBSCRIBE, s.campaign[4], camp.name);
                        unsubscribed_at = Some(t_u);
                        consent[Channel::Email as usize] = Some(Consent { opted_in: false, at: t_u });
                        break;
                    }
                }
            }
        }
        if consent[Channel::Sms as usize].is_some_and(|c| c.opted_in) {
            for &(ts, name) in &ctx.sms {
                if ts >= created && self.chance(0.4) && (ctx.sends_scale >= 1.0 || self.chance(ctx.sends_scale)) {
                    let t = ts + self.range(0, 1800);
                    self.ev(K_SMS_SENT, id, t, 0, [0; 3]);
                    self.text(K_SMS_SENT, ctx.slots.campaign[5], name);
                }
            }
        }
        if consent[Channel::Push as usize].is_some_and(|c| c.opted_in) {
            let slot = ctx.slots.campaign[6];
            for &(ts, name) in &ctx.push {
                if ts >= created && self.chance(0.2) && (ctx.sends_scale >= 1.0 || self.chance(ctx.sends_scale)) {
                    let t = ts + self.range(0, 1800);
                    self.ev(K_PUSH_SENT, id, t, 0, [0; 3]);
                    self.text(K_PUSH_SENT, slot, name);
                }
            }
        }
        // support tickets
        if !purchases.is_empty() && self.chance(0.06) {
            for _ in 0..self.rng.random_range(1..3) {
                let t = (*self.pick(&purchases) + self.range(HOUR, 10 * DAY)).min(now - 60);
                let status = if t > now - 3 * DAY {
                    self.rng.random_range(0..2)
                } else if t > now - 14 * DAY {
                    self.rng.random_range(1..3)
                } else if self.chance(0.95) {
                    2
                } else {
                    1
                };
                let subject = *self.pick(&ctx.ticket_subjects);
                self.ev(K_TICKET, id, t, 0, [0; 3]);
                self.text(K_TICKET, ctx.slots.ticket_subject, subject);
                self.text(K_TICKET, ctx.slots.ticket_status, ctx.ticket_statuses[status]);
            }
        }

        // tags and categories
        let lifecycle = th.lifecycle(purchases.len() as u64, purchases.last().copied(), now);
        let engagement = th.engagement(self.sent_90, self.open_90);
        self.out.lifecycle[Lifecycle::ALL.iter().position(|l| *l == lifecycle).unwrap_or(0)] += 1;
        self.out.engagement[Engagement::ALL.iter().position(|l| *l == engagement).unwrap_or(0)] += 1;
        let tags = &mut self.out.tags;
        if spent >= 1000 * 100 * CENT || purchases.len() >= 12 {
            tags[data::TAG_VIP].push(id);
        }
        let churn = (lifecycle == Lifecycle::Lapsed && self.rng.random::<f64>() < 0.6)
            || (unsubscribed_at.is_some() && self.rng.random::<f64>() < 0.3);
        if churn {
            self.out.tags[data::TAG_CHURNED].push(id);
        }
        if newsletter {
            self.out.tags[data::TAG_NEWSLETTER].push(id);
        }
        if self.chance(0.025) {
            self.out.tags[data::TAG_BETA].push(id);
        }
        if wholesale {
            self.out.tags[data::TAG_WHOLESALE].push(id);
        }
        if self.chance(0.003) {
            self.out.tags[data::TAG_EMPLOYEE].push(id);
        }
        if self.chance(0.005) {
            self.out.tags[data::TAG_INFLUENCER].push(id);
        }
        let paths = data::INTEREST_CONTACT_CATEGORY.len();
        let mut categories = Vec::new();
        for &i in interests.iter().take(2) {
            categories.push(leaf(data::INTEREST_CONTACT_CATEGORY[i as usize]));
            self.out.categories[i as usize].push(id);
        }
        if wholesale {
            categories.push(leaf(data::CONTACT_CATEGORY_WHOLESALE));
            self.out.categories[paths].push(id);
        } else if self.chance(0.005) {
            categories.push(leaf(data::CONTACT_CATEGORY_PARTNER));
            self.out.categories[paths + 1].push(id);
        }

        // the record
        let a = &ctx.attrs;
        let jitter_lat = (self.f() - 0.5) * 0.06;
        let jitter_lon = (self.f() - 0.5) * 0.08;
        let deg = |x: f64| AttrValue::Number(Decimal((x * 1e6).round() as i64));
        let mut attrs = vec![
            (a.first_name, AttrValue::Text(first.into())),
            (a.last_name, AttrValue::Text(last.into())),
            (a.gender, AttrValue::Enum(gender)),
            (
                a.birth_date,
                AttrValue::Date(date_to_days(
                    chrono::DateTime::from_timestamp(birth, 0).unwrap_or_default().date_naive(),
                )),
            ),
            (a.city, AttrValue::Text(city.name.into())),
            (a.country, AttrValue::Text(cc.into())),
            (a.postal_code, AttrValue::Text(postal_code(cc, city.population, self.rng.random()).into())),
            (a.lat, deg(city.lat + jitter_lat)),
            (a.lon, deg(city.lon + jitter_lon)),
            (a.language, AttrValue::Text(if self.chance(0.06) { "en" } else { lang }.into())),
        ];
        if let Some(r) = data::region(cc, city.admin1) {
            attrs.push((a.region, AttrValue::Text(r.into())));
        }
        if has_phone {
            let n: u64 = self.rng.random_range(10_000_000..100_000_000);
            attrs.push((a.phone, AttrValue::Text(compact_str::format_compact!("{phone_prefix}{n}"))));
        }
        if !interests.is_empty() {
            attrs.push((a.interests, AttrValue::Set(interests)));
        }
        attrs.sort_by_key(|x| x.0);
        let timezone = (!self.chance(0.05)).then(|| compact_str::CompactString::from(city.timezone));
        self.out.contacts.push(Contact {
            id,
            external_id: Some(compact_str::format_compact!("C{id:07}")),
            email: email.map(Into::into),
            created_at: created,
            timezone,
            score: self.score,
            consent,
            unsubscribed_at,
            bounced_at,
            categories,
            attrs,
        });
        self.purchases = purchases;
    }

    /// A browsing session at `t`, with a cart add with probability `p_cart`
    /// (half of which are abandoned).
    fn browse(&mut self, id: u32, t: i64, paid_only: bool, mailable: bool, favourite: usize, p_cart: f64) {
        let cat = if self.chance(0.7) { favourite } else { self.rng.random_range(0..CATEGORIES.len()) };
        let src = self.source(paid_only, mailable, t);
        let mut pages = 1;
        while pages < 12 && self.chance(0.55) {
            pages += 1;
        }
        let (end, product) = self.session(id, t, src, pages, cat);
        if self.chance(p_cart) {
            self.cart_add(id, end, src, product, 1);
            if self.chance(0.5) {
                let ta = end + self.range(HOUR, 3 * HOUR);
                if ta <= self.ctx.now {
                    let s = &self.ctx.slots;
                    let pr = &self.ctx.products[product];
                    self.ev(K_CART_ABANDON, id, ta, 0, [0; 3]);
                    self.num(K_CART_ABANDON, s.ab_amount, pr.price);
                    self.text(K_CART_ABANDON, s.ab_product, pr.name);
                }
            } else if self.chance(0.3) {
                self.ev(K_PAGE_VIEW, id, end + 20, src.0, src.1);
                self.text(K_PAGE_VIEW, self.ctx.slots.pv_url, self.ctx.cart_url);
            }
        }
    }
}

fn leaf(path: &str) -> compact_str::CompactString {
    path.rsplit('/').next().unwrap_or(path).into()
}

/// Lowercase ASCII letters of a name, for email local parts.
fn ascii_name(s: &str) -> String {
    crate::geo::fold(s).chars().filter(|c| c.is_ascii_lowercase()).collect()
}

/// A plausible postal code for the country (not the real one of the city).
fn postal_code(cc: &str, population: u64, r: u32) -> String {
    let base = (population.wrapping_mul(2_654_435_761) >> 7) as u32;
    let n = (base % 89_000 + 10_000 + r % 10) % 100_000;
    match cc {
        "PL" => format!("{:02}-{:03}", n / 1000 % 100, n % 1000),
        _ => format!("{n:05}"),
    }
}
