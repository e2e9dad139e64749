//! Campaigns, the do-not-disturb policy and its decisions, the scheduler.
