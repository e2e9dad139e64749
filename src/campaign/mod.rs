//! Campaigns, the do-not-disturb policy and its decisions, the scheduler.

mod channel;
mod decide;
pub mod deliver;
mod deliver_net;
pub mod model;
mod policy;
mod policy_file;
mod quiet;
pub mod recent;
pub mod run;
pub mod template;
mod window;

pub use channel::{CapChannel, Channel, Priority};
pub use decide::{
    ChannelFlags, Contact, Decision, Message, PastSend, Reason, Request, ScheduledSend, Settled, decide,
    decide_until_settled,
};
pub use model::{Audience, Campaign, Delivery, DeliveryState, Every, Schedule, Status};
pub use policy::{Cap, OnQuiet, Policy, PriorityRules};
pub use policy_file::{PolicyError, parse_policy, stored_policy};
pub use quiet::{QuietRange, local_to_utc_after, quiet_until};
pub use window::{Window, WindowUnit};
