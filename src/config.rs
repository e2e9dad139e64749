//! The configuration file (`$XDG_CONFIG_HOME/reach/config.toml`): score
//! rules, derived-fact thresholds, import limits, and the delivery adapter
//! of each channel (`[delivery]`, see [`crate::delivery_config`]). Every
//! key has a default,
//! so no file is needed; a bad file is refused with `file:line: reason`.

use crate::delivery_config::DeliveryConfig;
use crate::derived::{ScoreRules, Thresholds};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub score: ScoreRules,
    pub derived: Thresholds,
    pub import: ImportConfig,
    /// Which adapter delivers each channel, and retries.
    pub delivery: DeliveryConfig,
    pub console: ConsoleConfig,
}

/// `[console]`: the keymap (a shipped NAME or a PATH; `--keymap` wins).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    pub keymap: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImportConfig {
    /// longest accepted input line in bytes
    pub max_line_bytes: usize,
}

impl Default for ImportConfig {
    fn default() -> Self {
        ImportConfig { max_line_bytes: crate::import::input::DEFAULT_MAX_LINE }
    }
}

pub fn default_config_path() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("reach").join("config.toml")
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

impl Config {
    /// Loads `path`; a missing file gives the defaults unless `must_exist`.
    pub fn load(path: &Path, must_exist: bool) -> Result<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => return Ok(Config::default()),
            Err(e) => return Err(Error::input(format!("{}: {e}", path.display()))),
        };
        Config::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, name: &str) -> Result<Config> {
        let c: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
            Error::input(format!("{name}:{line}: {}", e.message()))
        })?;
        c.delivery.validate(text, name)?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_located_errors() {
        assert_eq!(Config::parse("", "c.toml").unwrap(), Config::default());
        let c = Config::parse("[score]\npurchase = 20\n", "c.toml").unwrap();
        assert_eq!(c.score.purchase, 20);
        let e = Config::parse("[score]\npurchase = 20\nbogus = 1\n", "c.toml").unwrap_err();
        assert!(e.message.starts_with("c.toml:3: unknown field `bogus`"), "{}", e.message);
        let e = Config::parse("[derived]\nnew_within_days = \"x\"\n", "c.toml").unwrap_err();
        assert!(e.message.starts_with("c.toml:2:"), "{}", e.message);
    }
}
