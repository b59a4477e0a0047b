//! Logging to standard error, as text for people or JSON lines for
//! collectors. Standard output stays free for `--check-config`.

use crate::config::{LogFormat, Settings};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

pub fn init(settings: &Settings) -> anyhow::Result<()> {
    let filter = EnvFilter::builder()
        .parse(settings.log.filter.directives())
        .map_err(|err| anyhow::anyhow!("log filter: {err}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only help a person at a terminal; in a file or a
        // journal they are noise.
        .with_ansi(std::io::stderr().is_terminal());
    let installed = match settings.log.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.map_err(|err| anyhow::anyhow!("cannot install the logger: {err}"))
}

/// Validates RUST_LOG-style directives, so a typo is a configuration error
/// at start-up rather than a silently ignored filter.
pub fn check_directives(directives: &str) -> Result<(), String> {
    EnvFilter::builder()
        .parse(directives)
        .map(drop)
        .map_err(|err| format!("invalid log filter: {err}"))
}
