//! The validated configuration, and its translation for the network layer.

use super::layers::Origins;
use super::raw::{Int, IntOrText, RawConfig};
use super::size::{format_size, parse_size, OutputLimitSetting};
use super::ConfigError;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Most shards accepted; far above any core count this runs on, low enough
/// to catch a typo such as `shards = 40000` before it spawns threads.
pub const MAX_SHARDS: i64 = 1024;
/// io_uring refuses larger submission queues (IORING_MAX_ENTRIES).
pub const MAX_RING_ENTRIES: i64 = 32768;
/// Redis refuses proto-max-bulk-len and client-query-buffer-limit below 1mb.
const MIN_BUFFER: u64 = 1 << 20;
const LOG_LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

#[derive(Debug)]
pub struct Settings {
    pub server: ServerSettings,
    pub limits: LimitSettings,
    pub security: SecuritySettings,
    pub log: LogSettings,
    pub persist: PersistSettings,
    /// Which layer set each non-default key.
    pub origins: Origins,
    pub config_file: Option<PathBuf>,
}

#[derive(Debug)]
pub struct ServerSettings {
    pub bind: IpAddr,
    pub port: u16,
    pub shards: Shards,
    pub pin_cores: bool,
    pub maxclients: usize,
    pub timeout_secs: u64,
    pub tcp_keepalive: u32,
    pub tcp_backlog: u32,
    pub hz: u32,
    pub io_ring_entries: u32,
    /// notify-keyspace-events, as written (validated).
    pub notify_keyspace_events: String,
    pub http_port: u16,
    pub grpc_port: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shards {
    /// One per available core, resolved at start-up.
    Auto,
    Count(usize),
}

impl Shards {
    pub fn resolve(self, cores: usize) -> usize {
        match self {
            Shards::Auto => cores.max(1),
            Shards::Count(n) => n,
        }
    }
}

#[derive(Debug)]
pub struct LimitSettings {
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub client_output_buffer_limit_normal: OutputLimitSetting,
    pub maxmemory: u64,
    pub maxmemory_policy: shard::evict::Policy,
    pub client_output_buffer_limit_pubsub: OutputLimitSetting,
}

#[derive(Debug)]
pub struct SecuritySettings {
    pub requirepass: Option<Secret>,
    pub requirepass_file: Option<PathBuf>,
}

/// A password. Its `Debug` is redacted so it can't leak through a log line
/// or an error that formats the settings.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug)]
pub struct PersistSettings {
    /// None: `dir = ""`, memory only.
    pub dir: Option<PathBuf>,
    pub appendfsync: net::AppendFsync,
    /// true for "truncate".
    pub truncate_on_corruption: bool,
    /// As written (validated).
    pub save: String,
    pub snapshot_wal_size: u64,
    pub wal_segment_size: u64,
    pub direct_io: bool,
}

#[derive(Debug)]
pub struct LogSettings {
    pub filter: LogFilter,
    pub format: LogFormat,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogFilter {
    /// One of `LOG_LEVELS`, from the config, the environment or --log-level.
    Level(String),
    /// Full tracing directives from RUST_LOG.
    Directives(String),
}

impl LogFilter {
    pub fn directives(&self) -> &str {
        match self {
            LogFilter::Level(s) | LogFilter::Directives(s) => s,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Checks every value of `raw` and builds the typed settings.
pub fn validate(
    raw: RawConfig,
    origins: Origins,
    config_file: Option<PathBuf>,
) -> Result<Settings, ConfigError> {
    let check = Checker { origins: &origins };
    let s = &raw.server;
    let port = check.port("server.port", s.port)?;
    let http_port = check.port("server.http_port", s.http_port)?;
    let grpc_port = check.port("server.grpc_port", s.grpc_port)?;
    check.distinct_ports(&[
        ("server.port", port),
        ("server.http_port", http_port),
        ("server.grpc_port", grpc_port),
    ])?;
    let server = ServerSettings {
        bind: s.bind.trim().parse().map_err(|_| {
            check.fail(
                "server.bind",
                &quote(&s.bind),
                "must be an IPv4 or IPv6 address, e.g. \"127.0.0.1\", \"0.0.0.0\" or \"::1\"",
            )
        })?,
        port,
        shards: check.shards(&s.shards)?,
        pin_cores: s.pin_cores,
        maxclients: check.range("server.maxclients", s.maxclients, 1, 1_000_000)? as usize,
        timeout_secs: check.range("server.timeout", s.timeout, 0, i32::MAX.into())? as u64,
        tcp_keepalive: check.range("server.tcp_keepalive", s.tcp_keepalive, 0, i32::MAX.into())?
            as u32,
        tcp_backlog: check.range("server.tcp_backlog", s.tcp_backlog, 1, 65535)? as u32,
        hz: check.range("server.hz", s.hz, 1, 500)? as u32,
        io_ring_entries: check.ring_entries(s.io_ring_entries)?,
        notify_keyspace_events: check.notify_events(&s.notify_keyspace_events)?,
        http_port,
        grpc_port,
    };
    let l = &raw.limits;
    let limits = LimitSettings {
        proto_max_bulk_len: check
            .buffer_size("limits.proto_max_bulk_len", &l.proto_max_bulk_len)?,
        client_query_buffer_limit: check.buffer_size(
            "limits.client_query_buffer_limit",
            &l.client_query_buffer_limit,
        )?,
        client_output_buffer_limit_normal: check.output_limit(
            "limits.client_output_buffer_limit_normal",
            &l.client_output_buffer_limit_normal,
        )?,
        client_output_buffer_limit_pubsub: check.output_limit(
            "limits.client_output_buffer_limit_pubsub",
            &l.client_output_buffer_limit_pubsub,
        )?,
        maxmemory: match &l.maxmemory {
            IntOrText::Int(n) => u64::try_from(*n).ok(),
            IntOrText::Text(text) => parse_size(text),
        }
        .filter(|&n| n <= i64::MAX as u64)
        .ok_or_else(|| {
            check.fail(
                "limits.maxmemory",
                &l.maxmemory.shown(),
                "must be a size: bytes, or a number with k, kb, m, mb, g or gb (0 = no limit)",
            )
        })?,
        maxmemory_policy: shard::evict::Policy::parse(l.maxmemory_policy.trim()).ok_or_else(
            || {
                let names: Vec<&str> = shard::evict::Policy::ALL.iter().map(|p| p.name()).collect();
                check.fail(
                    "limits.maxmemory_policy",
                    &quote(&l.maxmemory_policy),
                    &format!("must be one of {}", names.join(", ")),
                )
            },
        )?,
    };
    let security = check.security(&raw.security)?;
    let log = LogSettings {
        filter: LogFilter::Level(check.log_level(&raw.log.level)?),
        format: match raw.log.format.trim().to_ascii_lowercase().as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            _ => {
                return Err(check.fail(
                    "log.format",
                    &quote(&raw.log.format),
                    "must be \"text\" or \"json\"",
                ))
            }
        },
    };
    let persist = check.persist(&raw.persist)?;
    Ok(Settings {
        server,
        limits,
        security,
        log,
        persist,
        origins,
        config_file,
    })
}

fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

struct Checker<'a> {
    origins: &'a Origins,
}

impl Checker<'_> {
    fn fail(&self, key: &str, shown: &str, reason: &str) -> ConfigError {
        ConfigError::value(
            key,
            shown,
            self.origins.get(key).map(String::as_str),
            reason,
        )
    }

    fn range(&self, key: &str, value: Int, min: i64, max: i64) -> Result<i64, ConfigError> {
        if (min..=max).contains(&value.0) {
            Ok(value.0)
        } else {
            Err(self.fail(key, &value.0.to_string(), &format!("must be {min}..={max}")))
        }
    }

    fn port(&self, key: &str, value: Int) -> Result<u16, ConfigError> {
        Ok(self.range(key, value, 0, 65535)? as u16)
    }

    /// Two doors on one port would fail at bind time with a vaguer message.
    fn distinct_ports(&self, ports: &[(&str, u16)]) -> Result<(), ConfigError> {
        for (i, (key, port)) in ports.iter().enumerate() {
            if *port == 0 {
                continue;
            }
            if let Some((other, _)) = ports[..i].iter().find(|(_, p)| p == port) {
                return Err(self.fail(
                    key,
                    &port.to_string(),
                    &format!("must differ from {other} (or be 0)"),
                ));
            }
        }
        Ok(())
    }

    fn shards(&self, value: &IntOrText) -> Result<Shards, ConfigError> {
        let count = match value {
            IntOrText::Text(text) if text.trim().eq_ignore_ascii_case("auto") => {
                return Ok(Shards::Auto)
            }
            IntOrText::Text(text) => text.trim().parse::<i64>().ok(),
            IntOrText::Int(n) => Some(*n),
        };
        match count {
            Some(n) if (1..=MAX_SHARDS).contains(&n) => Ok(Shards::Count(n as usize)),
            _ => Err(self.fail(
                "server.shards",
                &value.shown(),
                &format!("must be \"auto\" or 1..={MAX_SHARDS}"),
            )),
        }
    }

    fn ring_entries(&self, value: Int) -> Result<u32, ConfigError> {
        let n = value.0;
        if (1..=MAX_RING_ENTRIES).contains(&n) && (n as u64).is_power_of_two() {
            Ok(n as u32)
        } else {
            Err(self.fail(
                "server.io_ring_entries",
                &n.to_string(),
                &format!("must be a power of two in 1..={MAX_RING_ENTRIES}"),
            ))
        }
    }

    fn buffer_size(&self, key: &str, value: &IntOrText) -> Result<u64, ConfigError> {
        let bytes = match value {
            IntOrText::Int(n) => u64::try_from(*n).ok(),
            IntOrText::Text(text) => parse_size(text),
        };
        match bytes {
            Some(b) if b >= MIN_BUFFER => Ok(b),
            _ => Err(self.fail(
                key,
                &value.shown(),
                &format!(
                    "must be a size of at least {}: bytes, or a number with k, kb, m, mb, g or gb",
                    format_size(MIN_BUFFER)
                ),
            )),
        }
    }

    fn output_limit(&self, key: &str, text: &str) -> Result<OutputLimitSetting, ConfigError> {
        OutputLimitSetting::parse(text).ok_or_else(|| {
            self.fail(
                key,
                &quote(text),
                "must be \"<hard> <soft> <soft-seconds>\", sizes with optional units, e.g. \"256mb 64mb 60\" or \"0 0 0\"",
            )
        })
    }

    fn notify_events(&self, text: &str) -> Result<String, ConfigError> {
        match net::parse_notify_flags(text.as_bytes()) {
            Some(_) => Ok(text.to_string()),
            None => Err(self.fail(
                "server.notify_keyspace_events",
                &quote(text),
                "must be \"\" or classes among \"Ag$lshzxeKEtmdn\", e.g. \"Ex\"",
            )),
        }
    }

    fn security(&self, raw: &super::raw::RawSecurity) -> Result<SecuritySettings, ConfigError> {
        let file = (!raw.requirepass_file.is_empty()).then(|| PathBuf::from(&raw.requirepass_file));
        let requirepass = match (&file, raw.requirepass.is_empty()) {
            (None, true) => None,
            (None, false) => Some(Secret(raw.requirepass.clone())),
            (Some(_), false) => {
                return Err(self.fail(
                    "security.requirepass_file",
                    &quote(&raw.requirepass_file),
                    "set either security.requirepass or security.requirepass_file, not both",
                ))
            }
            (Some(path), true) => Some(self.read_secret(path, &raw.requirepass_file)?),
        };
        Ok(SecuritySettings {
            requirepass,
            requirepass_file: file,
        })
    }

    fn read_secret(&self, path: &PathBuf, shown: &str) -> Result<Secret, ConfigError> {
        let key = "security.requirepass_file";
        let text = std::fs::read_to_string(path)
            .map_err(|err| self.fail(key, &quote(shown), &format!("cannot read: {err}")))?;
        // Editors and `echo` add a final newline that is not part of the password.
        let password = text
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(&text);
        if password.is_empty() {
            return Err(self.fail(key, &quote(shown), "file is empty; expected the password"));
        }
        Ok(Secret(password.to_string()))
    }

    fn persist(&self, raw: &super::raw::RawPersist) -> Result<PersistSettings, ConfigError> {
        let appendfsync = net::AppendFsync::parse(raw.appendfsync.trim()).ok_or_else(|| {
            self.fail(
                "persist.appendfsync",
                &quote(&raw.appendfsync),
                "must be \"always\", \"everysec\" or \"no\"",
            )
        })?;
        let truncate_on_corruption = match raw.on_corruption.trim().to_ascii_lowercase().as_str() {
            "stop" => false,
            "truncate" => true,
            _ => {
                return Err(self.fail(
                    "persist.on_corruption",
                    &quote(&raw.on_corruption),
                    "must be \"stop\" or \"truncate\"",
                ))
            }
        };
        if net::parse_save_rules(&raw.save).is_none() {
            return Err(self.fail(
                "persist.save",
                &quote(&raw.save),
                "must be \"\" or \"<seconds> <changes>\" pairs of whole numbers, e.g. \"3600 1 300 100\"",
            ));
        }
        let size = |key: &str, value: &IntOrText, min: u64| {
            let bytes = match value {
                IntOrText::Int(n) => u64::try_from(*n).ok(),
                IntOrText::Text(text) => parse_size(text),
            };
            bytes.filter(|&b| b >= min && b <= i64::MAX as u64).ok_or_else(|| {
                self.fail(
                    key,
                    &value.shown(),
                    &format!(
                        "must be a size of at least {}: bytes, or a number with k, kb, m, mb, g or gb",
                        format_size(min)
                    ),
                )
            })
        };
        let dir = raw.dir.trim();
        Ok(PersistSettings {
            dir: (!dir.is_empty()).then(|| PathBuf::from(dir)),
            appendfsync,
            truncate_on_corruption,
            save: raw.save.split_whitespace().collect::<Vec<_>>().join(" "),
            snapshot_wal_size: size("persist.snapshot_wal_size", &raw.snapshot_wal_size, 0)?,
            wal_segment_size: size("persist.wal_segment_size", &raw.wal_segment_size, 1 << 20)?,
            direct_io: raw.direct_io,
        })
    }

    fn log_level(&self, level: &str) -> Result<String, ConfigError> {
        let lower = level.trim().to_ascii_lowercase();
        if LOG_LEVELS.contains(&lower.as_str()) {
            Ok(lower)
        } else {
            Err(self.fail(
                "log.level",
                &quote(level),
                &format!("must be one of {}", LOG_LEVELS.join(", ")),
            ))
        }
    }
}

impl Settings {
    /// What the network layer needs; `cores` resolves `shards = "auto"`.
    pub fn server_config(&self, cores: usize) -> net::ServerConfig {
        let s = &self.server;
        let l = &self.limits;
        let limit = |o: OutputLimitSetting| net::OutputLimit {
            hard: to_usize(o.hard),
            soft: to_usize(o.soft),
            soft_seconds: o.soft_seconds,
        };
        net::ServerConfig {
            bind: s.bind,
            port: s.port,
            shards: s.shards.resolve(cores),
            pin_cores: s.pin_cores,
            requirepass: self
                .security
                .requirepass
                .as_ref()
                .map(|p| p.expose().to_string()),
            maxclients: s.maxclients,
            max_bulk_len: to_usize(l.proto_max_bulk_len),
            query_buffer_limit: to_usize(l.client_query_buffer_limit),
            output_limit_normal: limit(l.client_output_buffer_limit_normal),
            output_limit_pubsub: limit(l.client_output_buffer_limit_pubsub),
            notify_keyspace_events: net::parse_notify_flags(s.notify_keyspace_events.as_bytes())
                .unwrap_or(0),
            idle_timeout: Duration::from_secs(s.timeout_secs),
            hz: s.hz,
            ring_entries: s.io_ring_entries,
            tcp_keepalive: s.tcp_keepalive,
            backlog: s.tcp_backlog,
            maxmemory: l.maxmemory,
            maxmemory_policy: l.maxmemory_policy,
            allocated: Some(crate::alloc_count::allocated),
            version: crate::build_info::VERSION,
            git_sha: crate::build_info::GIT_SHA,
            persist: self.persist.dir.as_ref().map(|dir| {
                let p = &self.persist;
                net::PersistConfig {
                    dir: dir.clone(),
                    appendfsync: p.appendfsync,
                    on_corruption: if p.truncate_on_corruption {
                        persist::wal::OnCorruption::Truncate
                    } else {
                        persist::wal::OnCorruption::Fail
                    },
                    save: net::parse_save_rules(&p.save).unwrap_or_default(),
                    snapshot_wal_size: p.snapshot_wal_size,
                    wal_segment_size: p.wal_segment_size,
                    direct_io: p.direct_io,
                }
            }),
        }
    }
}

/// Saturates: a limit beyond the address space is as good as unlimited.
fn to_usize(bytes: u64) -> usize {
    usize::try_from(bytes).unwrap_or(usize::MAX)
}
