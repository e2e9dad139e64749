//! Fixed material of the demo generator: names per country, regions, the
//! product catalogue, interests and tags.

/// (ISO2, weight %, language, phone prefix, email TLD)
pub const COUNTRIES: &[(&str, u32, &str, &str, &str)] = &[
    ("IT", 30, "it", "+39 3", "it"),
    ("DE", 22, "de", "+49 15", "de"),
    ("FR", 20, "fr", "+33 6", "fr"),
    ("ES", 16, "es", "+34 6", "es"),
    ("PL", 12, "pl", "+48 5", "pl"),
];

pub struct Names {
    pub female: &'static [&'static str],
    pub male: &'static [&'static str],
    pub last: &'static [&'static str],
}

pub fn names(country: usize) -> &'static Names {
    &NAMES[country]
}

#[rustfmt::skip]
static NAMES: [Names; 5] = [
    Names {
        female: &["Giulia", "Francesca", "Chiara", "Sara", "Martina", "Valentina", "Alessia", "Federica", "Elena", "Laura", "Anna", "Giorgia", "Silvia", "Paola", "Beatrice", "Sofia", "Aurora", "Elisa", "Roberta", "Ilaria"],
        male: &["Marco", "Luca", "Giuseppe", "Alessandro", "Andrea", "Francesco", "Matteo", "Lorenzo", "Davide", "Simone", "Stefano", "Paolo", "Giovanni", "Antonio", "Riccardo", "Federico", "Roberto", "Gabriele", "Tommaso", "Leonardo"],
        last: &["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo", "Lombardi", "Moretti", "Barbieri", "Fontana", "Santoro", "Mariani", "Rinaldi", "Caruso", "Ferrara", "Galli", "Martini", "Leone"],
    },
    Names {
        female: &["Anna", "Lena", "Lea", "Hannah", "Mia", "Laura", "Julia", "Sarah", "Katharina", "Lisa", "Sophie", "Marie", "Johanna", "Sabine", "Petra", "Claudia", "Jana", "Emma", "Ursula", "Katrin"],
        male: &["Lukas", "Maximilian", "Jonas", "Leon", "Felix", "Paul", "Tobias", "Stefan", "Michael", "Thomas", "Andreas", "Markus", "Florian", "Sebastian", "Daniel", "Alexander", "Matthias", "Jan", "Moritz", "Uwe"],
        last: &["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann"],
    },
    Names {
        female: &["Camille", "Léa", "Manon", "Chloé", "Inès", "Sarah", "Julie", "Emma", "Louise", "Marie", "Claire", "Élodie", "Amélie", "Sophie", "Céline", "Pauline", "Margaux", "Juliette", "Anaïs", "Lucie"],
        male: &["Lucas", "Hugo", "Louis", "Nathan", "Thomas", "Théo", "Julien", "Nicolas", "Antoine", "Maxime", "Pierre", "Alexandre", "Mathieu", "Guillaume", "Romain", "Olivier", "François", "Baptiste", "Clément", "Jérôme"],
        last: &["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Lefèvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez"],
    },
    Names {
        female: &["María", "Lucía", "Paula", "Laura", "Marta", "Andrea", "Alba", "Sara", "Carmen", "Ana", "Elena", "Cristina", "Isabel", "Raquel", "Nerea", "Julia", "Irene", "Claudia", "Pilar", "Rocío"],
        male: &["Hugo", "Martín", "Lucas", "Daniel", "Pablo", "Alejandro", "Javier", "David", "Carlos", "Jorge", "Sergio", "Manuel", "Antonio", "José", "Adrián", "Álvaro", "Diego", "Raúl", "Iván", "Mario"],
        last: &["García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Alonso", "Gutiérrez", "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos", "Gil", "Ramírez", "Serrano", "Blanco", "Molina"],
    },
    Names {
        female: &["Anna", "Maria", "Katarzyna", "Małgorzata", "Agnieszka", "Barbara", "Ewa", "Magdalena", "Joanna", "Aleksandra", "Zofia", "Monika", "Natalia", "Julia", "Karolina", "Marta", "Beata", "Dorota", "Zuzanna", "Alicja"],
        male: &["Piotr", "Krzysztof", "Andrzej", "Tomasz", "Paweł", "Marcin", "Michał", "Jakub", "Kamil", "Łukasz", "Mateusz", "Adam", "Marek", "Grzegorz", "Wojciech", "Jan", "Szymon", "Bartosz", "Rafał", "Dawid"],
        last: &["Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski", "Zieliński", "Szymański", "Woźniak", "Dąbrowski", "Kozłowski", "Jankowski", "Mazur", "Kwiatkowski", "Krawczyk", "Piotrowski", "Grabowski", "Nowakowski", "Pawłowski", "Michalski", "Nowicki", "Adamczyk", "Dudek", "Zając", "Wieczorek", "Jabłoński", "Król", "Majewski", "Olszewski"],
    },
];

/// GeoNames admin1 code → region name, per country.
pub fn region(country: &str, admin1: &str) -> Option<&'static str> {
    REGIONS.iter().find(|(c, a, _)| *c == country && *a == admin1).map(|(_, _, n)| *n)
}

#[rustfmt::skip]
const REGIONS: &[(&str, &str, &str)] = &[
    ("IT", "01", "Abruzzo"), ("IT", "02", "Basilicata"), ("IT", "03", "Calabria"), ("IT", "04", "Campania"),
    ("IT", "05", "Emilia-Romagna"), ("IT", "06", "Friuli-Venezia Giulia"), ("IT", "07", "Lazio"), ("IT", "08", "Liguria"),
    ("IT", "09", "Lombardia"), ("IT", "10", "Marche"), ("IT", "11", "Molise"), ("IT", "12", "Piemonte"),
    ("IT", "13", "Puglia"), ("IT", "14", "Sardegna"), ("IT", "15", "Sicilia"), ("IT", "16", "Toscana"),
    ("IT", "17", "Trentino-Alto Adige"), ("IT", "18", "Umbria"), ("IT", "19", "Valle d'Aosta"), ("IT", "20", "Veneto"),
    ("DE", "01", "Baden-Württemberg"), ("DE", "02", "Bayern"), ("DE", "03", "Bremen"), ("DE", "04", "Hamburg"),
    ("DE", "05", "Hessen"), ("DE", "06", "Niedersachsen"), ("DE", "07", "Nordrhein-Westfalen"), ("DE", "08", "Rheinland-Pfalz"),
    ("DE", "09", "Saarland"), ("DE", "10", "Schleswig-Holstein"), ("DE", "11", "Brandenburg"), ("DE", "12", "Mecklenburg-Vorpommern"),
    ("DE", "13", "Sachsen"), ("DE", "14", "Sachsen-Anhalt"), ("DE", "15", "Thüringen"), ("DE", "16", "Berlin"),
    ("FR", "11", "Île-de-France"), ("FR", "24", "Centre-Val de Loire"), ("FR", "27", "Bourgogne-Franche-Comté"), ("FR", "28", "Normandie"),
    ("FR", "32", "Hauts-de-France"), ("FR", "44", "Grand Est"), ("FR", "52", "Pays de la Loire"), ("FR", "53", "Bretagne"),
    ("FR", "75", "Nouvelle-Aquitaine"), ("FR", "76", "Occitanie"), ("FR", "84", "Auvergne-Rhône-Alpes"), ("FR", "93", "Provence-Alpes-Côte d'Azur"),
    ("FR", "94", "Corse"),
    ("ES", "07", "Illes Balears"), ("ES", "27", "La Rioja"), ("ES", "29", "Comunidad de Madrid"), ("ES", "31", "Región de Murcia"),
    ("ES", "32", "Navarra"), ("ES", "34", "Asturias"), ("ES", "39", "Cantabria"), ("ES", "51", "Andalucía"),
    ("ES", "52", "Aragón"), ("ES", "53", "Canarias"), ("ES", "54", "Castilla-La Mancha"), ("ES", "55", "Castilla y León"),
    ("ES", "56", "Cataluña"), ("ES", "57", "Extremadura"), ("ES", "58", "Galicia"), ("ES", "59", "País Vasco"),
    ("ES", "60", "Comunitat Valenciana"), ("ES", "CE", "Ceuta"), ("ES", "ML", "Melilla"),
    ("PL", "72", "Dolnośląskie"), ("PL", "73", "Kujawsko-Pomorskie"), ("PL", "74", "Łódzkie"), ("PL", "75", "Lubelskie"),
    ("PL", "76", "Lubuskie"), ("PL", "77", "Małopolskie"), ("PL", "78", "Mazowieckie"), ("PL", "79", "Opolskie"),
    ("PL", "80", "Podkarpackie"), ("PL", "81", "Podlaskie"), ("PL", "82", "Pomorskie"), ("PL", "83", "Śląskie"),
    ("PL", "84", "Świętokrzyskie"), ("PL", "85", "Warmińsko-Mazurskie"), ("PL", "86", "Wielkopolskie"), ("PL", "87", "Zachodniopomorskie"),
];

/// Declared values of the `interests` attribute.
pub const INTERESTS: &[&str] =
    &["yoga", "running", "cycling", "cooking", "travel", "fashion", "tech", "gaming", "books", "outdoor"];
/// Probability (‰) that a contact has each interest.
pub const INTEREST_PERMILLE: &[u32] = &[180, 220, 150, 200, 300, 250, 280, 150, 200, 180];
/// Product category that each interest leads to (index into CATEGORIES).
pub const INTEREST_CATEGORY: &[usize] = &[2, 0, 1, 9, 10, 4, 5, 7, 8, 3];
/// Contact category (declared hierarchy) of each interest.
pub const INTEREST_CONTACT_CATEGORY: &[&str] = &[
    "sport/yoga",
    "sport/running",
    "sport/cycling",
    "lifestyle/cooking",
    "lifestyle/travel",
    "lifestyle/fashion",
    "tech/gadgets",
    "tech/gaming",
    "lifestyle/books",
    "sport/outdoor",
];

/// Product categories (event parameter `category`).
pub const CATEGORIES: &[&str] = &[
    "running",
    "cycling",
    "yoga",
    "outdoor",
    "fashion",
    "tech",
    "x100-accessories",
    "gaming",
    "books",
    "cooking",
    "travel",
];
pub const X100_ACCESSORIES: usize = 6;

pub struct Product {
    pub name: &'static str,
    pub manufacturer: &'static str,
    pub category: usize,
    /// euro cents
    pub price_cents: i64,
    /// relative popularity within the category
    pub weight: u32,
}

const fn p(name: &'static str, manufacturer: &'static str, category: usize, price_cents: i64, weight: u32) -> Product {
    Product { name, manufacturer, category, price_cents, weight }
}

#[rustfmt::skip]
pub const PRODUCTS: &[Product] = &[
    p("Acme Swift 3", "Acme", 0, 11990, 6),
    p("Acme Trail Pro", "Acme", 0, 14900, 4),
    p("Sportiva Road Runner", "Sportiva", 0, 8999, 5),
    p("Sportiva Tempo Shorts", "Sportiva", 0, 2450, 4),
    p("Nordwind Running Jacket", "Nordwind", 0, 7900, 3),
    p("Acme Run Socks 3-pack", "Acme", 0, 1299, 5),
    p("Velo Italia Strada", "Velo Italia", 1, 129900, 1),
    p("Velo Italia Aero Helmet", "Velo Italia", 1, 8900, 4),
    p("Nordwind Bike Lights", "Nordwind", 1, 3490, 5),
    p("Acme Bottle Cage", "Acme", 1, 995, 4),
    p("Lumen Yoga Mat", "Lumen", 2, 3990, 6),
    p("Lumen Block Set", "Lumen", 2, 1990, 4),
    p("Bellavita Yoga Leggings", "Bellavita", 2, 4900, 5),
    p("Terra Hiking Boots", "Terra", 3, 15900, 4),
    p("Terra Tent 2P", "Terra", 3, 24900, 2),
    p("Nordwind Backpack 30L", "Nordwind", 3, 8990, 4),
    p("Acme Headlamp", "Acme", 3, 2999, 5),
    p("Bellavita Linen Shirt", "Bellavita", 4, 5900, 5),
    p("Bellavita Summer Dress", "Bellavita", 4, 7990, 4),
    p("Bellavita Sneakers", "Bellavita", 4, 9900, 4),
    p("X100", "Acme", 5, 49900, 5),
    p("Gigabit Earbuds", "Gigabit", 5, 7999, 5),
    p("Gigabit Smartwatch GW2", "Gigabit", 5, 19900, 3),
    p("Acme Power Bank", "Acme", 5, 3995, 4),
    p("X100 Case", "Acme", 6, 2990, 5),
    p("X100 Charger", "Acme", 6, 2499, 4),
    p("X100 Screen Protector", "Gigabit", 6, 1499, 4),
    p("X100 Car Mount", "Gigabit", 6, 1990, 2),
    p("Gigabit Controller", "Gigabit", 7, 5999, 5),
    p("Gigabit Headset", "Gigabit", 7, 8900, 4),
    p("Pixel Quest", "Gamewerk", 7, 6999, 4),
    p("Running Science", "Pagina", 8, 2490, 4),
    p("The Italian Kitchen", "Pagina", 8, 2900, 5),
    p("Alpine Trails", "Pagina", 8, 1990, 3),
    p("Kuchnia Chef Knife", "Kuchnia", 9, 6900, 4),
    p("Kuchnia Cast Iron Pan", "Kuchnia", 9, 5490, 4),
    p("Acme Espresso Maker", "Acme", 9, 8900, 4),
    p("Terra Carry-On", "Terra", 10, 12900, 4),
    p("Terra Travel Pillow", "Terra", 10, 1999, 4),
    p("Nordwind Packing Cubes", "Nordwind", 10, 2990, 4),
];

pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for ch in crate::geo::fold(s).chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Paid, social and referral utm_source values.
pub const PAID_SOURCES: &[(&str, &str)] =
    &[("google", "cpc"), ("bing", "cpc"), ("facebook", "paid_social"), ("instagram", "paid_social")];
pub const PAID_CAMPAIGNS: &[&str] =
    &["brand", "spring-sale", "summer-sale", "black-friday", "retargeting", "running-season"];
pub const SOCIAL_SOURCES: &[&str] = &["facebook", "instagram", "tiktok", "pinterest"];

pub const TICKET_SUBJECTS: &[&str] = &[
    "Order not received",
    "Return request",
    "Wrong size",
    "Payment issue",
    "Account access",
    "Product question",
    "Damaged item",
    "Invoice request",
];
pub const TICKET_STATUSES: &[&str] = &["open", "pending", "closed"];

/// Tags the generator assigns.
pub const TAGS: &[&str] = &["vip", "churned", "newsletter", "beta", "wholesale", "employee", "influencer"];
pub const TAG_VIP: usize = 0;
pub const TAG_CHURNED: usize = 1;
pub const TAG_NEWSLETTER: usize = 2;
pub const TAG_BETA: usize = 3;
pub const TAG_WHOLESALE: usize = 4;
pub const TAG_EMPLOYEE: usize = 5;
pub const TAG_INFLUENCER: usize = 6;

/// Contact categories besides the interest ones.
pub const CONTACT_CATEGORY_WHOLESALE: &str = "b2b/wholesale";
pub const CONTACT_CATEGORY_PARTNER: &str = "b2b/partner";
