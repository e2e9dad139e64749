//! Campaign files as people write them (TOML or JSON, campaigns.md):
//! parsed and validated against the store into a draft `Campaign`.

use super::{AppError, AppResult, Session};
use crate::campaign::template::Templates;
use crate::campaign::{Audience, Campaign, Channel, Every, Priority, Schedule, Status};
use crate::model::time::{TimeFormat, Ts, format_ts};
use serde::Deserialize;

/// A campaign file as written by people (see campaigns.md).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignFile {
    name: String,
    channel: String,
    #[serde(default = "normal")]
    priority: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    audience: AudienceFile,
    schedule: Option<ScheduleFile>,
}

fn normal() -> String {
    "normal".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AudienceFile {
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleFile {
    at: Option<String>,
    every: Option<String>,
    time: Option<String>,
    timezone: Option<String>,
    #[serde(default)]
    local_time: bool,
    #[serde(default)]
    once_per_contact: bool,
}

/// Reads and validates a campaign file against the store; every error is
/// an input error `FILE: reason` (or `FILE:line: reason` for syntax).
impl Session {
    /// Reads and validates campaign file text against the store; every error
    /// is invalid input `NAME: reason` (or `NAME:line: reason` for syntax).
    /// Returns the draft campaign and warnings about its audience expressions.
    pub fn parse_campaign(&self, text: &str, name: &str) -> AppResult<(Campaign, Vec<String>)> {
        let now = self.now();
        let text = text.to_string();
        let is_json = name.ends_with(".json") || text.trim_start().starts_with('{');
        let f: CampaignFile = if is_json {
            serde_json::from_str(&text).map_err(|e| AppError::invalid(format!("{name}:{}: {e}", e.line())))?
        } else {
            toml::from_str(&text).map_err(|e| {
                let line = e.span().map_or(1, |s| crate::config::line_of(&text, s.start));
                AppError::invalid(format!("{name}:{line}: {}", e.message().trim()))
            })?
        };
        let bad = |reason: String| AppError::invalid(format!("{name}: {reason}"));
        if !crate::model::schema::valid_name(&f.name) {
            return Err(bad(format!("`{}` is not a valid campaign name (letters, digits, _ and -)", f.name)));
        }
        let channel: Channel = f.channel.parse().map_err(bad)?;
        let priority: Priority = f.priority.parse().map_err(bad)?;
        if f.audience.include.is_empty() {
            return Err(bad("audience.include is empty (name at least one segment, tag or expression)".into()));
        }
        let mut warnings = Vec::new();
        for (list, what) in [(&f.audience.include, "include"), (&f.audience.exclude, "exclude")] {
            for e in list {
                let c = self.check_expr(e).map_err(|err| bad(format!("audience.{what} `{e}`: {err}")))?;
                warnings.extend(c.warnings);
            }
        }
        Templates::compile(channel, &f.subject, &f.body).map_err(|e| bad(e.message))?;
        let schedule = match f.schedule {
            None => None,
            Some(s) => Some(read_schedule(s, now).map_err(bad)?),
        };
        let schedule = schedule.unwrap_or(Schedule {
            at: None,
            every: None,
            time: None,
            timezone: None,
            local_time: false,
            once_per_contact: false,
        });
        Ok((
            Campaign {
                name: f.name,
                channel,
                priority,
                status: Status::Draft,
                subject: f.subject,
                body: f.body,
                audience: Audience { include: f.audience.include, exclude: f.audience.exclude },
                schedule,
                created_at: now,
                updated_at: now,
                cursor: None,
                runs: Vec::new(),
                error: None,
            },
            warnings,
        ))
    }
}

fn read_schedule(s: ScheduleFile, now: Ts) -> std::result::Result<Schedule, String> {
    if let Some(z) = &s.timezone {
        z.parse::<chrono_tz::Tz>().map_err(|_| {
            format!("schedule.timezone: unknown timezone `{z}` (expected an IANA name such as Europe/Rome)")
        })?;
    }
    let out = Schedule {
        at: None,
        every: None,
        time: None,
        timezone: s.timezone,
        local_time: s.local_time,
        once_per_contact: s.once_per_contact,
    };
    match (s.at, s.every) {
        (Some(_), Some(_)) => Err("schedule: give either `at` or `every`, not both".into()),
        (None, None) => Err("schedule: give `at` (a time) or `every` (day, monday … sunday) with `time`".into()),
        (Some(at), None) => {
            if s.time.is_some() {
                return Err("schedule.time goes with `every`, not with `at`".into());
            }
            let at = TimeFormat::default().parse(&at).map_err(|e| format!("schedule.at: {e}"))?;
            if at < now {
                return Err(format!("schedule.at {} is in the past (now is {})", format_ts(at), format_ts(now)));
            }
            Ok(Schedule { at: Some(at), ..out })
        }
        (None, Some(every)) => {
            let every = Every::parse(&every)?;
            let time = s.time.ok_or("schedule.time is required with `every` (HH:MM)")?;
            let t = chrono::NaiveTime::parse_from_str(&time, "%H:%M")
                .map_err(|_| format!("schedule.time `{time}` is not HH:MM"))?;
            use chrono::Timelike;
            Ok(Schedule { every: Some(every), time: Some(t.hour() * 60 + t.minute()), ..out })
        }
    }
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A campaign written back as the TOML file people edit (the console's
/// "edit in $EDITOR"); parsing it again gives the same campaign.
pub fn campaign_file_text(c: &Campaign) -> String {
    let mut t = String::new();
    t.push_str(&format!("name = {}\n", quoted(&c.name)));
    t.push_str(&format!("channel = {}\n", quoted(&c.channel.to_string())));
    t.push_str(&format!("priority = {}\n", quoted(&c.priority.to_string())));
    t.push_str(&format!("subject = {}\n", quoted(&c.subject)));
    t.push_str(&format!("body = {}\n", quoted(&c.body)));
    let list = |v: &[String]| v.iter().map(|s| quoted(s)).collect::<Vec<_>>().join(", ");
    t.push_str(&format!("\n[audience]\ninclude = [{}]\n", list(&c.audience.include)));
    if !c.audience.exclude.is_empty() {
        t.push_str(&format!("exclude = [{}]\n", list(&c.audience.exclude)));
    }
    let s = &c.schedule;
    if s.at.is_some() || s.every.is_some() {
        t.push_str("\n[schedule]\n");
        if let Some(at) = s.at {
            t.push_str(&format!("at = {}\n", quoted(&format_ts(at))));
        }
        if let Some(e) = s.every {
            t.push_str(&format!("every = {}\n", quoted(&e.name())));
        }
        if let Some(m) = s.time {
            t.push_str(&format!("time = \"{:02}:{:02}\"\n", m / 60, m % 60));
        }
        if let Some(z) = &s.timezone {
            t.push_str(&format!("timezone = {}\n", quoted(z)));
        }
        if s.local_time {
            t.push_str("local_time = true\n");
        }
        if s.once_per_contact {
            t.push_str("once_per_contact = true\n");
        }
    }
    t
}

/// The file a new campaign starts from in the editor.
pub fn new_campaign_template(now: Ts) -> String {
    format!(
        "# A new campaign (see the README's campaign files). Save to create it as a draft;\n\
         # save an empty file to give up.\n\
         name = \"new_campaign\"\n\
         channel = \"email\"\n\
         priority = \"normal\"\n\
         subject = \"Hello {{{{ first_name }}}}\"\n\
         body = \"Hi {{{{ first_name }}}}, ...\"\n\
         \n[audience]\ninclude = [\"tag:vip\"]\nexclude = []\n\
         \n[schedule]\nat = \"{}\"\n",
        format_ts(now + 86_400)
    )
}
