//! Campaigns and the do-not-disturb policy for front ends: the list with
//! delivery statistics, create and replace from file text, schedule, pause
//! and cancel (each a read and a write in one transaction), the forecast,
//! and the policy as text, validated before it is stored.

use super::{AppError, AppResult, Session};
use crate::campaign::run::{Forecast, Scheduler, Stats};
use crate::campaign::{Campaign, Status, parse_policy};
use crate::model::time::format_ts;
use std::collections::BTreeMap;

/// A campaign with what has happened to its recipients so far.
#[derive(Clone, Debug)]
pub struct CampaignSummary {
    pub campaign: Campaign,
    pub stats: Stats,
}

/// A status change an operator asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusChange {
    Schedule,
    Pause,
    Cancel,
}

impl Session {
    pub fn campaign(&self, name: &str) -> AppResult<Campaign> {
        self.store.begin_read()?.campaign(name)?.ok_or_else(|| AppError::not_found("campaign", name))
    }

    /// Every campaign, by name.
    pub fn campaign_list(&self) -> AppResult<Vec<Campaign>> {
        Ok(self.store.begin_read()?.campaigns()?)
    }

    /// One campaign's statistics from the deliveries.
    pub fn campaign_stats(&self, name: &str) -> AppResult<Stats> {
        Ok(crate::campaign::run::campaign_stats(&self.store, name)?)
    }

    /// Every campaign with its statistics, from one scan of the deliveries.
    pub fn campaigns(&self) -> AppResult<Vec<CampaignSummary>> {
        let r = self.store.begin_read()?;
        let list = r.campaigns()?;
        let mut stats: BTreeMap<String, Stats> = list.iter().map(|c| (c.name.clone(), Stats::new())).collect();
        r.for_each_delivery(|_, _, d| {
            if let Some(s) = stats.get_mut(&d.campaign) {
                s.add(&d);
            }
        })?;
        Ok(list
            .into_iter()
            .map(|c| {
                let stats = stats.remove(&c.name).unwrap_or_default();
                CampaignSummary { campaign: c, stats }
            })
            .collect())
    }

    /// Creates a draft from file text; `replace` lets it overwrite a draft
    /// or paused campaign of the same name (editing), keeping its history.
    pub fn put_campaign_text(&self, text: &str, file_name: &str, replace: bool) -> AppResult<(Campaign, Vec<String>)> {
        let (mut c, warnings) = self.parse_campaign(text, file_name)?;
        let mut w = self.store.begin_write()?;
        let existed = w.campaign(&c.name)?.is_some();
        if let Some(old) = w.campaign(&c.name)? {
            if !replace {
                return Err(AppError::invalid(format!("{file_name}: campaign `{}` already exists", c.name)));
            }
            if !matches!(old.status, Status::Draft | Status::Paused) {
                return Err(AppError::Conflict(format!(
                    "campaign {} is {}; only a draft or paused one can be edited",
                    c.name,
                    old.status.as_str()
                )));
            }
            c.status = old.status;
            c.created_at = old.created_at;
            c.cursor = old.cursor;
            c.runs = old.runs;
        }
        w.put_campaign(&c)?;
        let verb = if existed { "edited" } else { "created" };
        w.audit(&self.audit_entry(format!("campaign {} {verb} ({})", c.name, c.status.as_str())))?;
        w.commit()?;
        Ok((c, warnings))
    }

    /// Schedules, pauses or cancels a campaign: the read and the write in
    /// one transaction, so two operators cannot both act on a stale status.
    pub fn change_status(&self, name: &str, change: StatusChange) -> AppResult<Campaign> {
        let now = self.now();
        let mut w = self.store.begin_write()?;
        let mut c = w.campaign(name)?.ok_or_else(|| AppError::not_found("campaign", name))?;
        match change {
            StatusChange::Schedule => {
                if !matches!(c.status, Status::Draft | Status::Paused) {
                    return Err(AppError::Conflict(format!(
                        "campaign {name} is {}; only a draft or paused one can be scheduled",
                        c.status.as_str()
                    )));
                }
                if c.schedule.at.is_none() && c.schedule.every.is_none() {
                    return Err(AppError::invalid(format!("campaign {name} has no [schedule]")));
                }
                if let Some(at) = c.schedule.at
                    && at < now
                    && c.status == Status::Draft
                {
                    return Err(AppError::invalid(format!(
                        "campaign {name}: schedule.at {} is in the past (now is {})",
                        format_ts(at),
                        format_ts(now)
                    )));
                }
                // runs missed while paused are skipped
                c.cursor = Some(c.cursor.unwrap_or(now - 1).max(now - 1));
                c.status = Status::Scheduled;
                c.error = None;
            }
            StatusChange::Pause | StatusChange::Cancel => {
                let to = if change == StatusChange::Pause { Status::Paused } else { Status::Cancelled };
                let ok = match to {
                    Status::Paused => c.status.is_active(),
                    _ => !matches!(c.status, Status::Done | Status::Cancelled),
                };
                if !ok {
                    return Err(AppError::Conflict(format!(
                        "campaign {name} is {}; cannot make it {}",
                        c.status.as_str(),
                        to.as_str()
                    )));
                }
                c.status = to;
            }
        }
        c.updated_at = now;
        w.put_campaign(&c)?;
        let verb = match change {
            StatusChange::Schedule => "scheduled",
            StatusChange::Pause => "paused",
            StatusChange::Cancel => "cancelled",
        };
        w.audit(&self.audit_entry(format!("campaign {name} {verb}")))?;
        w.commit()?;
        Ok(c)
    }

    /// The forecast of a campaign's next run (or of a run at `at`).
    pub fn forecast(&self, name: &str, at: Option<i64>) -> AppResult<Forecast> {
        let now = self.now();
        let c = self.campaign(name)?;
        let mut s = Scheduler::open(&self.store, self.config.derived.clone(), now, None)?;
        let at = match at {
            Some(a) => a,
            None => {
                let from = c.cursor.unwrap_or(now - 1).max(now - 1);
                let zones = [s.policy().timezone];
                c.schedule.next_due(from, s.policy().timezone, &zones).map_or(now, |(t, _)| t)
            }
        };
        Ok(s.forecast(&c, at)?)
    }

    /// The policy as TOML text.
    pub fn policy_text(&self) -> AppResult<String> {
        Ok(crate::campaign::stored_policy(&self.store.begin_read()?)?.to_toml())
    }

    /// Validates policy text (`NAME:line: reason`) and stores it.
    pub fn set_policy_text(&self, text: &str, file_name: &str) -> AppResult<()> {
        parse_policy(text, file_name).map_err(|e| AppError::invalid(e.to_string()))?;
        let mut w = self.store.begin_write()?;
        w.put_policy(text)?;
        w.audit(&self.audit_entry("policy set"))?;
        w.commit()?;
        Ok(())
    }
}
