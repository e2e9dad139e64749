//! Who may do what: the three operator roles and the one table of which
//! role each operation needs. Every way in asks here before it acts: the
//! command line (local, the owner's socket, `ssh HOST reach …`) by the
//! command's dotted name, the console by the name of the job it submits.
//! The role is the thread's actor's (see `audit`); local processes of the
//! database file's owner act as admin.

use super::audit::current;
use super::{AppError, AppResult};

/// An operator's role; each includes what the one before it may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// browse, count, explain, export
    Viewer,
    /// also tags, segments, campaign and journey drafts
    Editor,
    /// also schedule, pause and cancel campaigns, the policy, imports,
    /// schema changes, contact deletion, compaction, journeys' start,
    /// pause and stop
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];

    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == s)
    }

    /// Whether this role may carry out `op` (a dotted operation name).
    pub fn allows(self, op: &str) -> bool {
        self >= needs(op)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Operations an editor may do (beyond a viewer's).
const EDITOR: &[&str] = &[
    "tags.add",
    "tags.remove",
    "segment.save",
    "segment.delete",
    "campaign.create",
    "campaign.edit",
    "journey.create",
];

/// Operations only an admin may do.
const ADMIN: &[&str] = &[
    "campaign.schedule",
    "campaign.pause",
    "campaign.cancel",
    "policy.set",
    "import.contacts",
    "import.events",
    "contacts.delete",
    "compact",
    "journey.start",
    "journey.pause",
    "journey.stop",
    "schema.add-attribute",
    "schema.add-param",
    "categories.add",
    "scheduler.run",
    "demo",
    "serve",
    "console",
];

/// The role an operation needs: a dotted name such as `campaign.schedule`
/// (a command and its subcommand, or a console job's name). Anything not
/// named above only reads, and a viewer may do it.
pub fn needs(op: &str) -> Role {
    if ADMIN.contains(&op) {
        Role::Admin
    } else if EDITOR.contains(&op) {
        Role::Editor
    } else {
        Role::Viewer
    }
}

/// Refuses `op` unless this thread's actor's role allows it; the error
/// names the role needed (the CLI's exit code 4).
pub fn authorize(op: &str) -> AppResult<()> {
    let actor = current();
    let need = needs(op);
    if actor.role >= need {
        return Ok(());
    }
    Err(AppError::Denied(format!(
        "{op} needs the {need} role; {} is {} {}",
        actor.who,
        article(actor.role),
        actor.role
    )))
}

fn article(r: Role) -> &'static str {
    match r {
        Role::Viewer => "a",
        Role::Editor | Role::Admin => "an",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::audit::{Actor, acting_as};

    fn as_role(role: Role, op: &str) -> AppResult<()> {
        acting_as(Actor { who: "bo".into(), via: "ssh".into(), role }, || authorize(op))
    }

    #[test]
    fn each_role_includes_the_one_below() {
        for op in ["segment.count", "contacts.list", "export.events", "audit"] {
            assert_eq!(needs(op), Role::Viewer, "{op}");
        }
        assert_eq!(needs("segment.save"), Role::Editor);
        assert_eq!(needs("campaign.create"), Role::Editor);
        assert_eq!(needs("campaign.schedule"), Role::Admin);
        assert_eq!(needs("import.events"), Role::Admin);
        assert!(as_role(Role::Viewer, "segment.count").is_ok());
        assert!(as_role(Role::Editor, "tags.add").is_ok());
        assert!(as_role(Role::Admin, "compact").is_ok());
        assert!(as_role(Role::Viewer, "tags.add").is_err());
        assert!(as_role(Role::Editor, "policy.set").is_err());
    }

    #[test]
    fn a_refusal_names_the_role_needed() {
        let e = as_role(Role::Viewer, "campaign.schedule").unwrap_err();
        assert_eq!(e.to_string(), "campaign.schedule needs the admin role; bo is a viewer");
        let e = as_role(Role::Viewer, "segment.save").unwrap_err();
        assert!(e.to_string().contains("needs the editor role"), "{e}");
    }

    #[test]
    fn local_processes_act_as_admin() {
        assert_eq!(current().role, Role::Admin);
        assert!(authorize("compact").is_ok());
    }

    #[test]
    fn roles_parse_by_name() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.name()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
