//! The gazetteer: GeoNames cities (see demo_data/README.md) embedded in the
//! binary and parsed once on first use, with case- and accent-insensitive
//! lookup over names and alternate names, and great-circle distances.

use std::collections::HashMap;
use std::sync::OnceLock;

const DATA: &str = include_str!("../../demo_data/gazetteer.csv");

/// Mean Earth radius (IUGG), km.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

#[derive(Clone, Debug, PartialEq)]
pub struct City {
    /// the local name (Milano, München, Kraków)
    pub name: &'static str,
    /// ISO 3166-1 alpha-2
    pub country: &'static str,
    /// GeoNames admin1 code (region)
    pub admin1: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// IANA timezone
    pub timezone: &'static str,
    pub population: u64,
    /// Latin-script alternate names (exonyms and endonyms)
    pub alternates: Vec<&'static str>,
}

pub struct Gazetteer {
    /// most populous first
    cities: Vec<City>,
    /// folded name or alternate → index of the most populous city with it
    index: HashMap<String, usize>,
}

static GAZETTEER: OnceLock<Gazetteer> = OnceLock::new();

impl Gazetteer {
    /// The embedded gazetteer (parsed on first call).
    pub fn get() -> &'static Gazetteer {
        GAZETTEER.get_or_init(|| Gazetteer::parse(DATA))
    }

    fn parse(data: &'static str) -> Gazetteer {
        let mut cities = Vec::new();
        for line in data.lines().skip(1).filter(|l| !l.is_empty()) {
            // the build script writes plain fields (no quoting); a malformed
            // row is a build error caught by the tests, so skip it here
            if let Some(c) = parse_city(line) {
                cities.push(c);
            }
        }
        cities.sort_by(|a, b| b.population.cmp(&a.population).then(a.name.cmp(b.name)));
        let mut index = HashMap::new();
        for (i, c) in cities.iter().enumerate() {
            for n in std::iter::once(&c.name).chain(c.alternates.iter()) {
                index.entry(fold(n)).or_insert(i);
            }
        }
        Gazetteer { cities, index }
    }

    /// Every city, most populous first.
    pub fn cities(&self) -> &[City] {
        &self.cities
    }

    /// The city called `name` (or with `name` among its alternates), ignoring
    /// case and accents; the most populous one when several share the name.
    pub fn lookup(&self, name: &str) -> Option<&City> {
        self.index.get(&fold(name.trim())).map(|&i| &self.cities[i])
    }

    /// The primary names, most populous first (for completion and suggestions).
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.cities.iter().map(|c| c.name)
    }
}

/// Looks a city up in the embedded gazetteer. A process that has not
/// needed the whole gazetteer yet (a script's `near("Milano")`) scans its
/// text for the name instead of parsing and indexing every city first.
pub fn lookup(name: &str) -> Option<City> {
    match GAZETTEER.get() {
        Some(g) => g.lookup(name).cloned(),
        None => scan(DATA, &fold(name.trim())),
    }
}

/// Parses and indexes the gazetteer now (a long-lived process, on a
/// helper thread), so that later look-ups and completions find it ready.
pub fn warm() {
    Gazetteer::get();
}

/// The city whose folded name or alternate is `folded`, read from the
/// gazetteer's text: the most populous, then the first by name, as
/// `Gazetteer::lookup` picks.
fn scan(data: &'static str, folded: &str) -> Option<City> {
    let mut buf = String::new();
    let mut best: Option<City> = None;
    for line in data.lines().skip(1).filter(|l| !l.is_empty()) {
        let (Some(name), Some(alternates)) = (line.split(',').next(), line.rsplit(',').next()) else {
            continue;
        };
        let hit = std::iter::once(name).chain(alternates.split('|').filter(|a| !a.is_empty())).any(|n| {
            buf.clear();
            fold_into(n, &mut buf);
            buf == folded
        });
        if !hit {
            continue;
        }
        let Some(c) = parse_city(line) else { continue };
        if best
            .as_ref()
            .is_none_or(|b| (c.population, std::cmp::Reverse(c.name)) > (b.population, std::cmp::Reverse(b.name)))
        {
            best = Some(c);
        }
    }
    best
}

/// Primary city names of the embedded gazetteer, most populous first.
pub fn names() -> impl Iterator<Item = &'static str> {
    Gazetteer::get().names()
}

/// Great-circle distance in km (haversine, mean Earth radius).
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// One row of the gazetteer's text.
fn parse_city(line: &'static str) -> Option<City> {
    let f: Vec<&'static str> = line.split(',').collect();
    if f.len() != 8 {
        return None;
    }
    let (Ok(lat), Ok(lon), Ok(population)) = (f[3].parse(), f[4].parse(), f[6].parse()) else {
        return None;
    };
    Some(City {
        name: f[0],
        country: f[1],
        admin1: f[2],
        lat,
        lon,
        timezone: f[5],
        population,
        alternates: f[7].split('|').filter(|a| !a.is_empty()).collect(),
    })
}

/// Lowercases and strips the diacritics of Latin letters (`Kraków` → `krakow`,
/// `Straße` → `strasse`), so that lookups ignore case and accents.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold_into(s, &mut out);
    out
}

/// `fold`, appending to `out`.
fn fold_into(s: &str, out: &mut String) {
    for ch in s.chars() {
        if ch.is_ascii() {
            out.push(ch.to_ascii_lowercase());
            continue;
        }
        for l in ch.to_lowercase() {
            match fold_char(l) {
                Some(r) => out.push_str(r),
                None => out.push(l),
            }
        }
    }
}

fn fold_char(c: char) -> Option<&'static str> {
    const TABLE: &[(&str, &str)] = &[
        ("àáâãäåāăą", "a"),
        ("æ", "ae"),
        ("çćĉċč", "c"),
        ("ďđ", "d"),
        ("èéêëēĕėęě", "e"),
        ("ĝğġģ", "g"),
        ("ĥħ", "h"),
        ("ìíîïĩīĭįı", "i"),
        ("ĵ", "j"),
        ("ķ", "k"),
        ("ĺļľŀł", "l"),
        ("ñńņňŉ", "n"),
        ("òóôõöøōŏő", "o"),
        ("œ", "oe"),
        ("ŕŗř", "r"),
        ("śŝşšș", "s"),
        ("ß", "ss"),
        ("ţťŧț", "t"),
        ("ùúûüũūŭůűų", "u"),
        ("ŵ", "w"),
        ("ýÿŷ", "y"),
        ("źżž", "z"),
        ("þ", "th"),
        ("’‘`", "'"),
    ];
    TABLE.iter().find(|(from, _)| from.contains(c)).map(|(_, to)| *to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_parses() {
        let rows = DATA.lines().skip(1).filter(|l| !l.is_empty()).count();
        assert_eq!(Gazetteer::get().cities().len(), rows);
        assert!(rows > 2000);
    }

    #[test]
    fn milano_in_every_spelling() {
        let m = lookup("Milano").unwrap();
        assert!((m.lat - 45.46).abs() < 0.01 && (m.lon - 9.19).abs() < 0.01, "{m:?}");
        assert_eq!(m.country, "IT");
        assert_eq!(m.timezone, "Europe/Rome");
        for n in ["Milan", "milano", "MILANO", " Mailand ", "Milán"] {
            assert_eq!(lookup(n).as_ref(), Some(&m), "{n}");
        }
        assert!(lookup("Atlantis").is_none());
    }

    #[test]
    fn accents_and_exonyms() {
        let k = lookup("Kraków").unwrap();
        assert_eq!(lookup("Krakow").as_ref(), Some(&k));
        assert_eq!(lookup("krakau").as_ref(), Some(&k));
        assert_eq!(lookup("Cracovia").as_ref(), Some(&k));
        let m = lookup("München").unwrap();
        for n in ["Munich", "Muenchen", "munchen", "Monaco di Baviera"] {
            assert_eq!(lookup(n).as_ref(), Some(&m), "{n}");
        }
        assert_eq!(lookup("Köln"), lookup("Cologne"));
        assert_eq!(lookup("Warsaw").unwrap().name, "Warszawa");
        assert_eq!(fold("Łódź"), "lodz");
    }

    #[test]
    fn ties_go_to_the_most_populous() {
        // "Sesto" is an alternate of both Sesto San Giovanni and Sesto Fiorentino
        assert_eq!(lookup("Sesto").unwrap().name, "Sesto San Giovanni");
    }

    /// The scan of the text (before the gazetteer is parsed) finds what the
    /// index finds: names and alternates of a sample of cities, in other
    /// cases and spellings, a name two cities share, and a miss.
    #[test]
    fn the_scan_agrees_with_the_index() {
        let g = Gazetteer::get();
        let mut names: Vec<String> = vec!["Sesto".into(), "Atlantis".into(), "Milán".into(), " MAILAND ".into()];
        for c in g.cities().iter().step_by(97) {
            names.push(c.name.to_string());
            names.push(c.name.to_uppercase());
            names.extend(c.alternates.iter().map(|a| a.to_string()));
        }
        for n in &names {
            assert_eq!(scan(DATA, &fold(n.trim())), g.lookup(n).cloned(), "{n}");
        }
        assert_eq!(scan(DATA, &fold("Sesto")).unwrap().name, "Sesto San Giovanni");
    }

    #[test]
    fn distances() {
        let (m, mz, t) = (lookup("Milano").unwrap(), lookup("Monza").unwrap(), lookup("Torino").unwrap());
        let d = haversine_km(m.lat, m.lon, mz.lat, mz.lon);
        assert!((d - 15.0).abs() < 1.0, "{d}");
        let d = haversine_km(m.lat, m.lon, t.lat, t.lon);
        assert!((d - 126.0).abs() < 2.0, "{d}");
        assert_eq!(haversine_km(10.0, 20.0, 10.0, 20.0), 0.0);
    }

    #[test]
    fn names_for_completion() {
        let names: Vec<&str> = names().take(50).collect();
        assert!(names.contains(&"Milano") && names.contains(&"Berlin"));
    }
}
