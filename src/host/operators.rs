//! The operators file of `reach serve --ssh`: who may log in, with which
//! public keys, in which role. TOML, one `[[operator]]` table each:
//!
//! ```toml
//! [[operator]]
//! name = "anna"
//! role = "admin"            # viewer | editor | admin
//! key = "ssh-ed25519 AAAA... anna@laptop"
//! # or: keys = ["ssh-ed25519 AAAA...", "ecdsa-sha2-nistp256 AAAA..."]
//! ```
//!
//! A file that cannot be used is refused whole, `file:line: reason`.

use crate::app::roles::Role;
use crate::config::line_of;
use russh::keys::PublicKey;
use serde::Deserialize;
use std::ops::Range;
use toml::Spanned;

/// One operator: a name (the audit log's "who"), a role, and the public
/// keys that log in as them.
#[derive(Clone, Debug)]
pub struct Operator {
    pub name: String,
    pub role: Role,
    pub keys: Vec<PublicKey>,
}

/// Everyone who may log in.
#[derive(Clone, Debug, Default)]
pub struct Operators {
    pub list: Vec<Operator>,
}

/// An operators file that cannot be used; `Display` is `file:line: reason`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct OperatorsError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    #[serde(default)]
    operator: Vec<Spanned<OperatorDoc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorDoc {
    name: Option<Spanned<String>>,
    role: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
    keys: Option<Spanned<Vec<Spanned<String>>>>,
}

type Bad = (Range<usize>, String);

impl Operators {
    /// Reads and checks an operators file.
    pub fn load(path: &std::path::Path) -> Result<Operators, OperatorsError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| OperatorsError {
            file: name.clone(),
            line: 1,
            reason: format!("cannot read it: {e}"),
        })?;
        Operators::parse(&text, &name)
    }

    /// Parses and checks operators from `text`; `file_name` is only used in errors.
    pub fn parse(text: &str, file_name: &str) -> Result<Operators, OperatorsError> {
        let err = |span: Option<Range<usize>>, reason: String| OperatorsError {
            file: file_name.to_string(),
            line: span.map_or(1, |s| line_of(text, s.start)),
            reason,
        };
        let doc: Doc = toml::from_str(text).map_err(|e| err(e.span(), e.message().trim().to_string()))?;
        let ops = check(doc).map_err(|(span, reason)| err(Some(span), reason))?;
        if ops.list.is_empty() {
            return Err(err(None, "no [[operator]]: nobody could log in".into()));
        }
        Ok(ops)
    }

    /// The operator a public key logs in as.
    pub fn find(&self, key: &PublicKey) -> Option<&Operator> {
        self.list.iter().find(|o| o.keys.iter().any(|k| k.key_data() == key.key_data()))
    }
}

fn check(doc: Doc) -> Result<Operators, Bad> {
    let mut list: Vec<Operator> = Vec::new();
    // every key with the operator that has it and where, to refuse a key given twice
    let mut seen: Vec<(PublicKey, String)> = Vec::new();
    for op in doc.operator {
        let at = op.span();
        let op = op.into_inner();
        let name = op.name.ok_or((at.clone(), "operator without `name`".to_string()))?;
        let role = op.role.ok_or((at.clone(), format!("operator {} without `role`", name.get_ref())))?;
        let n = name.get_ref().trim();
        if n.is_empty() || n.chars().any(|c| c.is_control()) {
            return Err((name.span(), "`name` must be a non-empty name on one line".into()));
        }
        if list.iter().any(|o| o.name == n) {
            return Err((name.span(), format!("operator {n} is named twice")));
        }
        let role = Role::parse(role.get_ref())
            .ok_or((role.span(), format!("unknown role `{}`: viewer, editor or admin", role.get_ref())))?;
        let texts: Vec<Spanned<String>> = match (op.key, op.keys) {
            (Some(_), Some(k)) => return Err((k.span(), "give `key` or `keys`, not both".into())),
            (Some(k), None) => vec![k],
            (None, Some(k)) => k.into_inner(),
            (None, None) => return Err((at, format!("operator {n} without `key` (or `keys`)"))),
        };
        if texts.is_empty() {
            return Err((at, format!("operator {n}: `keys` is empty")));
        }
        let mut keys = Vec::new();
        for t in texts {
            let key = parse_key(t.get_ref()).map_err(|r| (t.span(), r))?;
            if let Some((_, other)) = seen.iter().find(|(k, _)| k.key_data() == key.key_data()) {
                return Err((
                    t.span(),
                    format!("this key is already operator {other}'s: a key logs in as one operator"),
                ));
            }
            seen.push((key.clone(), n.to_string()));
            keys.push(key);
        }
        list.push(Operator { name: n.to_string(), role, keys });
    }
    Ok(Operators { list })
}

/// One public key in the `authorized_keys` form: `TYPE BASE64 [comment]`.
fn parse_key(text: &str) -> Result<PublicKey, String> {
    let t = text.trim();
    let algo = t.split_whitespace().next().unwrap_or("");
    if !(algo == "ssh-ed25519" || algo.starts_with("ecdsa-sha2-nistp")) {
        return Err(format!(
            "bad key `{}`: an ssh-ed25519 or ecdsa-sha2-nistp* public key as in authorized_keys (`ssh-ed25519 AAAA… comment`)",
            short(t)
        ));
    }
    PublicKey::from_openssh(t).map_err(|e| format!("bad key `{}`: {e}", short(t)))
}

fn short(t: &str) -> String {
    if t.chars().count() > 40 { format!("{}…", t.chars().take(40).collect::<String>()) } else { t.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANNA: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAVcx8WALyRyqeraoqPt8i254O9NsoNsOVqXGeZZVJlC anna@laptop";
    const BO: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFHrGceIHDGHtavW5BUR3tU0YHVSeHwtNENaOgpbjZrK bo@desk";

    fn parse(text: &str) -> Result<Operators, String> {
        Operators::parse(text, "ops.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn operators_with_one_key_or_several() {
        let text = format!(
            "[[operator]]\nname = \"anna\"\nrole = \"admin\"\nkey = \"{ANNA}\"\n\n[[operator]]\nname = \"bo\"\nrole = \"viewer\"\nkeys = [\"{BO}\"]\n"
        );
        let ops = parse(&text).unwrap();
        assert_eq!(ops.list.len(), 2);
        let bo = PublicKey::from_openssh(BO).unwrap();
        let found = ops.find(&bo).unwrap();
        assert_eq!((found.name.as_str(), found.role), ("bo", Role::Viewer));
        // the comment does not matter
        let anna = PublicKey::from_openssh(&ANNA.replace("anna@laptop", "other")).unwrap();
        assert_eq!(ops.find(&anna).unwrap().name, "anna");
    }

    #[test]
    fn bad_files_name_the_line_and_the_reason() {
        let op = |name: &str, role: &str, key: &str| {
            format!("[[operator]]\nname = \"{name}\"\nrole = \"{role}\"\nkey = \"{key}\"\n")
        };
        let unknown_role = op("anna", "root", ANNA);
        assert_eq!(parse(&unknown_role).unwrap_err(), "ops.toml:3: unknown role `root`: viewer, editor or admin");
        let bad_key = op("anna", "admin", "ssh-ed25519 AAAAnotakey");
        let e = parse(&bad_key).unwrap_err();
        assert!(e.starts_with("ops.toml:4: bad key `ssh-ed25519 AAAAnotakey`"), "{e}");
        let rsa = op("anna", "admin", "ssh-rsa AAAAB3NzaC1yc2E x");
        assert!(parse(&rsa).unwrap_err().starts_with("ops.toml:4: bad key"));
        let twice = format!("{}{}", op("anna", "admin", ANNA), op("anna", "viewer", BO));
        assert_eq!(parse(&twice).unwrap_err(), "ops.toml:6: operator anna is named twice");
        let same_key = format!("{}{}", op("anna", "admin", ANNA), op("bo", "viewer", ANNA));
        let e = parse(&same_key).unwrap_err();
        assert!(e.starts_with("ops.toml:8: this key is already operator anna's"), "{e}");
        let no_role = format!("[[operator]]\nname = \"anna\"\nkey = \"{ANNA}\"\n");
        let e = parse(&no_role).unwrap_err();
        assert!(e.ends_with("operator anna without `role`"), "{e}");
        assert!(e.starts_with("ops.toml:1:") || e.starts_with("ops.toml:2:"), "{e}");
        let no_key = "[[operator]]\nname = \"anna\"\nrole = \"admin\"\n";
        assert!(parse(no_key).unwrap_err().ends_with("operator anna without `key` (or `keys`)"));
        let unknown_field = format!("{}colour = \"red\"\n", op("anna", "admin", ANNA));
        assert!(parse(&unknown_field).unwrap_err().starts_with("ops.toml:5: unknown field `colour`"));
        assert_eq!(parse("").unwrap_err(), "ops.toml:1: no [[operator]]: nobody could log in");
        assert!(parse("[[operator]\n").unwrap_err().starts_with("ops.toml:1: "));
    }
}
