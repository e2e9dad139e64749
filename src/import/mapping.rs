//! Column names → reach fields: `--map SRC=FIELD` and the presets for other
//! tools' contact exports (Mailchimp, Shopify, Mautic) as they ship.

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    Mailchimp,
    Shopify,
    Mautic,
}

impl Preset {
    pub fn parse(s: &str) -> Option<Preset> {
        match s {
            "mailchimp" => Some(Preset::Mailchimp),
            "shopify" => Some(Preset::Shopify),
            "mautic" => Some(Preset::Mautic),
            _ => None,
        }
    }

    /// (source column, field); `-` drops a column that has no reach equivalent.
    fn table(self) -> &'static [(&'static str, &'static str)] {
        match self {
            // Mailchimp audience export (subscribed, unsubscribed and cleaned files)
            Preset::Mailchimp => &[
                ("Email Address", "email"),
                ("First Name", "first_name"),
                ("Last Name", "last_name"),
                ("Address", "-"),
                ("Phone Number", "phone"),
                ("Birthday", "-"),
                ("MEMBER_RATING", "member_rating"),
                ("OPTIN_TIME", "-"),
                ("OPTIN_IP", "-"),
                ("CONFIRM_TIME", "consent_email_at"),
                ("CONFIRM_IP", "-"),
                ("LATITUDE", "lat"),
                ("LONGITUDE", "lon"),
                ("GMTOFF", "-"),
                ("DSTOFF", "-"),
                ("TIMEZONE", "timezone"),
                ("CC", "country"),
                ("REGION", "region"),
                ("LAST_CHANGED", "-"),
                ("LEID", "-"),
                ("EUID", "-"),
                ("NOTES", "-"),
                ("TAGS", "tags"),
                ("UNSUB_TIME", "unsubscribed_at"),
                ("UNSUB_CAMPAIGN_TITLE", "-"),
                ("UNSUB_CAMPAIGN_ID", "-"),
                ("UNSUB_REASON", "-"),
                ("UNSUB_REASON_OTHER", "-"),
                ("CLEAN_TIME", "bounced_at"),
                ("CLEAN_CAMPAIGN_TITLE", "-"),
                ("CLEAN_CAMPAIGN_ID", "-"),
            ],
            // Shopify customers export, current and older header sets
            Preset::Shopify => &[
                ("Customer ID", "external_id"),
                ("First Name", "first_name"),
                ("Last Name", "last_name"),
                ("Email", "email"),
                ("Accepts Email Marketing", "consent_email"),
                ("Accepts Marketing", "consent_email"),
                ("Accepts SMS Marketing", "consent_sms"),
                ("Default Address Company", "-"),
                ("Default Address Address1", "-"),
                ("Default Address Address2", "-"),
                ("Default Address City", "city"),
                ("Default Address Province Code", "region"),
                ("Default Address Country Code", "country"),
                ("Default Address Zip", "postal_code"),
                ("Default Address Phone", "-"),
                ("Company", "-"),
                ("Address1", "-"),
                ("Address2", "-"),
                ("City", "city"),
                ("Province", "-"),
                ("Province Code", "region"),
                ("Country", "-"),
                ("Country Code", "country"),
                ("Zip", "postal_code"),
                ("Phone", "phone"),
                ("Total Spent", "-"),
                ("Total Orders", "-"),
                ("Note", "-"),
                ("Tax Exempt", "-"),
                ("Tags", "tags"),
            ],
            // Mautic contacts export: field aliases
            Preset::Mautic => &[
                ("id", "external_id"),
                ("firstname", "first_name"),
                ("lastname", "last_name"),
                ("email", "email"),
                ("phone", "phone"),
                ("points", "score"),
                ("city", "city"),
                ("state", "region"),
                ("zipcode", "postal_code"),
                ("country", "country"),
                ("preferred_locale", "language"),
                ("timezone", "timezone"),
                ("date_added", "created_at"),
                ("dateAdded", "created_at"),
                ("tags", "tags"),
                ("title", "-"),
                ("company", "-"),
                ("position", "-"),
                ("fax", "-"),
                ("address1", "-"),
                ("address2", "-"),
                ("attribution", "-"),
                ("attribution_date", "-"),
                ("website", "-"),
                ("facebook", "-"),
                ("foursquare", "-"),
                ("googleplus", "-"),
                ("instagram", "-"),
                ("linkedin", "-"),
                ("skype", "-"),
                ("twitter", "-"),
                ("last_active", "-"),
                ("date_identified", "-"),
                ("date_modified", "-"),
                ("owner_id", "-"),
                ("stage", "-"),
                ("ip_address", "-"),
                ("ip_addresses", "-"),
            ],
        }
    }
}

/// The renaming of source columns to field names.
#[derive(Clone, Debug, Default)]
pub struct Mapping {
    maps: Vec<(String, String)>,
    preset: Option<Preset>,
}

impl Mapping {
    /// `maps` are `SRC=FIELD` strings (the last `=` splits, so a source
    /// column may itself contain `=`). `option` is how the front end calls
    /// the option that gives them, for the message about a malformed one.
    pub fn new(maps: &[String], preset: Option<Preset>, option: &str) -> Result<Mapping> {
        let mut out = Vec::new();
        for m in maps {
            let (src, field) = m
                .rsplit_once('=')
                .filter(|(s, f)| !s.trim().is_empty() && !f.trim().is_empty())
                .ok_or_else(|| Error::input(format!("{option} `{m}`: expected SOURCE=FIELD")))?;
            out.push((src.trim().to_string(), field.trim().to_string()));
        }
        Ok(Mapping { maps: out, preset })
    }

    /// The field a source column feeds; `None` drops the column.
    pub fn field_for(&self, column: &str) -> Option<String> {
        let c = column.trim();
        let hit = self
            .maps
            .iter()
            .find(|(s, _)| s == c)
            .or_else(|| self.maps.iter().find(|(s, _)| s.eq_ignore_ascii_case(c)))
            .map(|(_, f)| f.as_str())
            .or_else(|| {
                self.preset.and_then(|p| p.table().iter().find(|(s, _)| s.eq_ignore_ascii_case(c)).map(|(_, f)| *f))
            });
        match hit {
            Some("-") | Some("ignore") => None,
            Some(f) => Some(f.to_string()),
            None => Some(c.to_string()),
        }
    }

    /// The fields the columns `added` read as ([`Mapping::field_for`],
    /// then [`recognize`] with the fields earlier columns read as,
    /// `present`, and what the user declared, `declared`); each column an
    /// alias took is noted in `read_as`
    /// (`column \`event_time\` as ts`).
    pub fn fields_for(
        &self,
        added: &[String],
        present: &[&str],
        builtins: &[&str],
        aliases: &[(&'static str, &[&str])],
        declared: &dyn Fn(&str) -> bool,
        read_as: &mut Vec<String>,
    ) -> Vec<Option<String>> {
        let fields: Vec<Option<String>> = added.iter().map(|c| self.field_for(c)).collect();
        let (fields, taken) = recognize(&fields, present, builtins, aliases, declared);
        read_as.extend(taken.iter().map(|&(i, field)| format!("column `{}` as {field}", added[i])));
        fields
    }

    /// Source names given to --map that the input does not have.
    pub fn unused(&self, columns: &[String]) -> Vec<String> {
        self.maps
            .iter()
            .filter(|(s, _)| !columns.iter().any(|c| c.trim().eq_ignore_ascii_case(s)))
            .map(|(s, _)| s.clone())
            .collect()
    }
}

/// An event's own fields under the names other tools give them, in order
/// of preference (as `field_name` writes them): trackers' `userId`,
/// `event`, `timestamp`; shops' `customer_id`, `event_type`,
/// `event_time`, `InvoiceDate`.
pub const EVENT_ALIASES: &[(&str, &[&str])] = &[
    (
        "contact",
        &[
            "user_id",
            "userid",
            "customer_id",
            "customerid",
            "client_id",
            "clientid",
            "visitor_id",
            "distinct_id",
            "person_id",
            "profile_id",
            "member_id",
            "subscriber_id",
            "external_id",
            "email",
            "email_address",
            "customer",
            "user",
        ],
    ),
    (
        "ts",
        &[
            "timestamp",
            "event_time",
            "event_timestamp",
            "time",
            "datetime",
            "date_time",
            "occurred_at",
            "created_at",
            "event_date",
            "invoicedate",
            "invoice_date",
            "order_date",
            "sent_at",
            "date",
        ],
    ),
    ("kind", &["event", "event_type", "event_name", "eventtype", "eventname", "type", "action", "activity"]),
];

/// A contact's own fields under the names other tools give them.
pub const CONTACT_ALIASES: &[(&str, &[&str])] = &[
    (
        "external_id",
        &[
            "customer_id",
            "customerid",
            "user_id",
            "userid",
            "client_id",
            "clientid",
            "member_id",
            "subscriber_id",
            "person_id",
            "profile_id",
        ],
    ),
    ("email", &["email_address", "emailaddress", "e_mail", "mail"]),
    ("created_at", &["signup_date", "signed_up_at", "registered_at", "registration_date", "date_created"]),
    ("timezone", &["time_zone", "tz"]),
];

/// The fields columns read as, given the field each names (`fields`, as
/// [`Mapping::field_for`] gives them; `None`: dropped) and the fields
/// earlier columns read as (`present`): a reach field (`builtins`) named
/// in any case and spelling (`Email`, `External ID`) is that field; a
/// column named as an alias reads as the field when no column names the
/// field, the first of the aliases present in the order above, unless it
/// names something the user declared (`declared`: an attribute of that
/// name keeps its column); any other column keeps its name. Also the
/// columns an alias took, by index.
pub fn recognize(
    fields: &[Option<String>],
    present: &[&str],
    builtins: &[&str],
    aliases: &[(&'static str, &[&str])],
    declared: &dyn Fn(&str) -> bool,
) -> (Vec<Option<String>>, Vec<(usize, &'static str)>) {
    let mut out: Vec<Option<String>> = fields
        .iter()
        .map(|f| {
            f.as_ref().map(|f| {
                let n = field_name(f);
                if !builtins.contains(&f.as_str()) && builtins.contains(&n.as_str()) { n } else { f.clone() }
            })
        })
        .collect();
    let mut taken = Vec::new();
    for &(field, names) in aliases {
        if present.contains(&field) || out.iter().flatten().any(|f| f == field) {
            continue;
        }
        let normalized: Vec<Option<String>> = out.iter().map(|f| f.as_deref().map(field_name)).collect();
        let hit = names
            .iter()
            .filter(|a| !declared(a))
            .find_map(|a| normalized.iter().position(|n| n.as_deref() == Some(*a)));
        if let Some(i) = hit.filter(|&i| !builtins.contains(&out[i].as_deref().unwrap_or(""))) {
            out[i] = Some(field.to_string());
            taken.push((i, field));
        }
    }
    (out, taken)
}

/// A column name made into a valid attribute or parameter name:
/// `Default Address Company` → `default_address_company`.
pub fn field_name(column: &str) -> String {
    let mut out = String::new();
    for ch in column.trim().chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_then_presets_then_self() {
        let m =
            Mapping::new(&["CustomerID=contact".into(), "a=b=c".into()], Some(Preset::Shopify), "the mapping").unwrap();
        assert_eq!(m.field_for("CustomerID").as_deref(), Some("contact"));
        assert_eq!(m.field_for("customerid").as_deref(), Some("contact"));
        assert_eq!(m.field_for("a=b").as_deref(), Some("c"));
        assert_eq!(m.field_for("Accepts Email Marketing").as_deref(), Some("consent_email"));
        assert_eq!(m.field_for("Total Spent"), None);
        assert_eq!(m.field_for("shoe_size").as_deref(), Some("shoe_size"));
        let e = Mapping::new(&["nofield".into()], None, "--map").unwrap_err();
        assert_eq!(e.message, "--map `nofield`: expected SOURCE=FIELD");
        assert_eq!(field_name("Default Address Company"), "default_address_company");
        assert_eq!(field_name("2nd phone"), "_2nd_phone");
    }

    #[test]
    fn fields_under_other_names() {
        let builtins = ["contact", "ts", "kind"];
        let f = |names: &[&str]| names.iter().map(|n| Some(n.to_string())).collect::<Vec<_>>();
        // REES46's e-commerce log
        let (got, taken) =
            recognize(&f(&["event_time", "event_type", "price", "user_id"]), &[], &builtins, EVENT_ALIASES, &|_| false);
        assert_eq!(got, f(&["ts", "kind", "price", "contact"]));
        assert_eq!(taken, [(3, "contact"), (0, "ts"), (1, "kind")]);
        // a field named in another case; an alias where the field is named is a column as any other
        let (got, taken) =
            recognize(&f(&["Contact", "TS", "timestamp", "Event"]), &[], &builtins, EVENT_ALIASES, &|_| false);
        assert_eq!(got, f(&["contact", "ts", "timestamp", "kind"]));
        assert_eq!(taken, [(3, "kind")]);
        // the preferred alias wins; a field present before takes none; a dropped column none
        let mut cols = f(&["date", "timestamp", "event"]);
        cols.push(None);
        let (got, _) = recognize(&cols, &["kind"], &builtins, EVENT_ALIASES, &|_| false);
        assert_eq!(got[..3], f(&["date", "ts", "event"]));
        assert_eq!(got[3], None);
        // a declared attribute keeps its column; the next alias present is taken
        let (got, _) = recognize(&cols, &["kind"], &builtins, EVENT_ALIASES, &|n| n == "timestamp");
        assert_eq!(got[..3], f(&["ts", "timestamp", "event"]));
    }
}
