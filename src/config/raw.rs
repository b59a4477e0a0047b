//! The configuration as written, before validation.
//!
//! Numbers are kept as wide integers here so that an out-of-range value
//! reaches validation, which can say "server.port = 70000: must be
//! 0..=65535" instead of serde's "expected u16".

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a configuration table")]
pub struct RawConfig {
    pub server: RawServer,
    pub limits: RawLimits,
    pub security: RawSecurity,
    pub log: RawLog,
    pub persist: RawPersist,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [server] table")]
pub struct RawServer {
    pub bind: String,
    pub port: Int,
    pub shards: IntOrText,
    pub pin_cores: bool,
    pub maxclients: Int,
    pub timeout: Int,
    pub tcp_keepalive: Int,
    pub tcp_backlog: Int,
    pub hz: Int,
    pub io_ring_entries: Int,
    pub notify_keyspace_events: String,
    pub http_port: Int,
    pub grpc_port: Int,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [limits] table")]
pub struct RawLimits {
    pub proto_max_bulk_len: IntOrText,
    pub client_query_buffer_limit: IntOrText,
    pub client_output_buffer_limit_normal: String,
    pub client_output_buffer_limit_pubsub: String,
    pub maxmemory: IntOrText,
    pub maxmemory_policy: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [security] table")]
pub struct RawSecurity {
    pub requirepass: String,
    pub requirepass_file: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [log] table")]
pub struct RawLog {
    pub level: String,
    pub format: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [persist] table")]
pub struct RawPersist {
    pub dir: String,
    pub appendfsync: String,
    pub on_corruption: String,
    pub save: String,
    pub snapshot_wal_size: IntOrText,
    pub wal_segment_size: IntOrText,
    pub direct_io: bool,
}

/// An integer, with "expected an integer" in type errors rather than "i64".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Int(pub i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_i64(IntVisitor).map(Int)
    }
}

struct IntVisitor;

impl Visitor<'_> for IntVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }
}

/// A key that takes a number or a word: `shards = 4` or `shards = "auto"`,
/// `proto_max_bulk_len = 1048576` or `"1mb"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntOrText {
    Int(i64),
    Text(String),
}

impl IntOrText {
    /// The value as the user wrote it, for messages.
    pub fn shown(&self) -> String {
        match self {
            IntOrText::Int(n) => n.to_string(),
            IntOrText::Text(s) => toml::Value::String(s.clone()).to_string(),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(IntOrTextVisitor)
    }
}

struct IntOrTextVisitor;

impl Visitor<'_> for IntOrTextVisitor {
    type Value = IntOrText;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer or a string")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrText, E> {
        Ok(IntOrText::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrText, E> {
        IntVisitor.visit_u64(v).map(IntOrText::Int)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrText, E> {
        Ok(IntOrText::Text(v.to_string()))
    }
}
