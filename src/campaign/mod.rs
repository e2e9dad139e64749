//! Campaigns, the do-not-disturb policy and its decisions, the scheduler.

mod channel;
mod decide;
mod policy;
mod policy_file;
mod quiet;
mod window;

pub use channel::{CapChannel, Channel, Priority};
pub use decide::{
    ChannelFlags, Contact, Decision, Message, PastSend, Reason, Request, ScheduledSend, Settled, decide,
    decide_until_settled,
};
pub use policy::{Cap, OnQuiet, Policy, PriorityRules};
pub use policy_file::{PolicyError, parse_policy};
pub use quiet::{QuietRange, local_to_utc_after, quiet_until};
pub use window::{Window, WindowUnit};
