//! TokenginX configuration: the embedded `config.toml`, a user file laid over
//! it, `TOKENGINX_<SECTION>_<KEY>` environment variables, then flags, in
//! rising precedence; validated into [`Settings`] before anything starts.

mod layers;
mod raw;
mod render;
mod settings;
mod size;

pub use render::render;
pub use settings::{LogFilter, LogFormat, Settings};

use layers::Origins;
use raw::RawConfig;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use toml::Table;

/// The repository's `config.toml`: every key with its default and its
/// documentation, so the defaults and their description can't drift apart.
pub const EMBEDDED: &str = include_str!("../config.toml");

/// An invalid setting. Start-up stops with exit code 2 and this one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(message: impl Into<String>) -> ConfigError {
        ConfigError(message.into())
    }

    /// "server.port = 70000 (from --port): must be 0..=65535".
    pub fn value(key: &str, shown: &str, origin: Option<&str>, reason: &str) -> ConfigError {
        let origin = origin.map(|o| format!(" (from {o})")).unwrap_or_default();
        ConfigError(format!("{key} = {shown}{origin}: {reason}"))
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Values given on the command line, the highest layer.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub bind: Option<String>,
    pub port: Option<String>,
    pub shards: Option<String>,
    pub log_level: Option<String>,
}

/// Builds the effective settings. `env` is the process environment, passed
/// in so tests can supply their own without touching the real one.
pub fn load(
    overrides: &Overrides,
    env: &BTreeMap<String, String>,
) -> Result<Settings, ConfigError> {
    let mut origins = Origins::new();
    let mut table = layers::parse_table(EMBEDDED, "built-in config.toml")?;

    if let Some(path) = &overrides.config_file {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|err| ConfigError::new(format!("--config {shown}: cannot read: {err}")))?;
        let user = layers::parse_table(&text, &shown)?;
        layers::merge(&mut table, user, &shown, &mut origins);
    }

    layers::apply_env(&mut table, env, &mut origins)?;

    let flags = [
        ("--bind", ["server", "bind"], &overrides.bind),
        ("--port", ["server", "port"], &overrides.port),
        ("--shards", ["server", "shards"], &overrides.shards),
        ("--log-level", ["log", "level"], &overrides.log_level),
    ];
    for (flag, [section, key], value) in flags {
        if let Some(value) = value {
            let path = [section.to_string(), key.to_string()];
            layers::set_text(&mut table, &path, value, flag, &mut origins)?;
        }
    }

    let raw = deserialize(&table, &origins)?;
    let mut settings = settings::validate(raw, origins, overrides.config_file.clone())?;

    // RUST_LOG is the convention every Rust tool honours, and it allows
    // per-module directives that a single level can't express; an explicit
    // --log-level still wins.
    if let Some(directives) = env.get("RUST_LOG").filter(|d| !d.trim().is_empty()) {
        if overrides.log_level.is_none() {
            crate::logging::check_directives(directives).map_err(|reason| {
                ConfigError::value("RUST_LOG", &format!("{directives:?}"), None, &reason)
            })?;
            settings.log.filter = LogFilter::Directives(directives.clone());
            settings
                .origins
                .insert("log.level".into(), "RUST_LOG".into());
        }
    }
    Ok(settings)
}

/// Types the merged table, naming the key in any error (serde alone would
/// only say "invalid type" without saying where).
fn deserialize(table: &Table, origins: &Origins) -> Result<RawConfig, ConfigError> {
    let value = toml::Value::Table(table.clone());
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().message().trim_end().replace('\n', "; ");
        let origin = origins
            .get(&path)
            .map(|o| format!(" (from {o})"))
            .unwrap_or_default();
        if path == "." || path.is_empty() {
            ConfigError::new(format!("config: {message}"))
        } else {
            ConfigError::new(format!("{path}{origin}: {message}"))
        }
    })
}

#[cfg(test)]
mod tests;
