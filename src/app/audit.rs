//! Who is acting, for the audit log and the role checks: a front end
//! names the actor of the calls it makes on its thread (the console's
//! worker: `console`; the owner's socket: `cli via owner`; an SSH login:
//! the operator, `ssh`; otherwise `cli`), and the session's changes write
//! an audit entry with it in their own transaction.

use super::roles::Role;
use super::{AppResult, Session};
use crate::store::audit::AuditEntry;
use std::cell::RefCell;

/// Who does something, and through which way in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub who: String,
    pub via: String,
    /// what they may do (see `roles`)
    pub role: Role,
}

impl Actor {
    /// This process's user, through `via`: the database file's owner,
    /// an admin.
    pub fn local(via: impl Into<String>) -> Actor {
        // SAFETY: geteuid has no preconditions.
        Actor { who: user_name(unsafe { libc::geteuid() }), via: via.into(), role: Role::Admin }
    }

    /// An operator on another machine (an SSH login): names no file here.
    pub fn is_remote(&self) -> bool {
        self.via == "ssh"
    }
}

thread_local! {
    static ACTOR: RefCell<Option<Actor>> = const { RefCell::new(None) };
}

/// Runs `f` with `actor` as the actor of this thread's changes.
pub fn acting_as<T>(actor: Actor, f: impl FnOnce() -> T) -> T {
    let before = ACTOR.with(|a| a.replace(Some(actor)));
    let out = f();
    ACTOR.with(|a| *a.borrow_mut() = before);
    out
}

/// The actor of this thread: as set by `acting_as`, else this process's
/// user on the command line.
pub fn current() -> Actor {
    ACTOR.with(|a| a.borrow().clone()).unwrap_or_else(|| Actor::local("cli"))
}

/// The name of a user id (the id itself when it has none).
pub fn user_name(uid: u32) -> String {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: an all-zero passwd is a valid value for getpwuid_r to fill in.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: the buffers outlive the call; `found` is null or points at `pw`.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc == 0 && !found.is_null() && !pw.pw_name.is_null() {
        // SAFETY: getpwuid_r set pw_name to a NUL-terminated string in `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(pw.pw_name) };
        return name.to_string_lossy().into_owned();
    }
    format!("uid {uid}")
}

impl Session {
    /// An audit entry of this thread's actor, now.
    pub(crate) fn audit_entry(&self, what: impl Into<String>) -> AuditEntry {
        let a = current();
        AuditEntry { ts: self.now(), who: a.who, via: a.via, what: what.into() }
    }

    /// The audit log from `since`, oldest first.
    pub fn audit_log(&self, since: i64) -> AppResult<Vec<AuditEntry>> {
        Ok(self.store.begin_read()?.audit(since)?)
    }

    /// The newest `limit` entries of the audit log, newest first, and how
    /// many it holds (the console's Audit screen).
    pub fn audit_latest(&self, limit: usize) -> AppResult<(Vec<AuditEntry>, u64)> {
        Ok(self.store.begin_read()?.audit_latest(limit)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_actor_is_the_threads_and_comes_back() {
        assert_eq!(current().via, "cli");
        let inner = acting_as(Actor { who: "anna".into(), via: "console".into(), role: Role::Admin }, || {
            let nested = acting_as(Actor { who: "bo".into(), via: "ssh".into(), role: Role::Viewer }, current);
            (current(), nested)
        });
        assert_eq!(inner.0.who, "anna");
        assert_eq!(inner.1.via, "ssh");
        assert_eq!(current().via, "cli");
        // SAFETY: getuid has no preconditions.
        assert!(!user_name(unsafe { libc::getuid() }).is_empty());
    }
}
