//! What the network layer needs to know, already validated by the binary.

use std::net::IpAddr;
use std::time::Duration;

/// Output buffer limit for one class of clients, as Redis's
/// `client-output-buffer-limit`: disconnect when the pending output exceeds
/// `hard` bytes, or stays above `soft` bytes for `soft_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard: usize,
    pub soft: usize,
    pub soft_seconds: u64,
}

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub bind: IpAddr,
    /// RESP port; 0 picks a free one (tests), reported by `ServerHandle::port`.
    pub port: u16,
    /// Number of shards, one event loop thread each. Already resolved from "auto".
    pub shards: usize,
    /// Pin shard `i` to core `i mod cores`.
    pub pin_cores: bool,
    /// The default user's password (`requirepass`); `None` means no AUTH needed.
    pub requirepass: Option<String>,
    /// Most simultaneous clients (`maxclients`).
    pub maxclients: usize,
    /// proto-max-bulk-len.
    pub max_bulk_len: usize,
    /// client-query-buffer-limit: a client whose unparsed input exceeds this is closed.
    pub query_buffer_limit: usize,
    /// client-output-buffer-limit for normal clients (0 = unlimited, Redis's default).
    pub output_limit_normal: OutputLimit,
    /// client-output-buffer-limit for pub/sub clients (Redis: 32mb 8mb 60).
    pub output_limit_pubsub: OutputLimit,
    /// notify-keyspace-events at start-up, as class flags (`shard::class`).
    pub notify_keyspace_events: u32,
    /// Close connections idle this long; zero means never (`timeout`).
    pub idle_timeout: Duration,
    /// Active expiry cycles per second per shard (`hz`).
    pub hz: u32,
    /// Entries of each shard's io_uring submission queue.
    pub ring_entries: u32,
    /// tcp-keepalive seconds; 0 disables.
    pub tcp_keepalive: u32,
    /// TCP listen backlog (`tcp-backlog`).
    pub backlog: u32,
    /// `maxmemory` in bytes for the whole server (0 = no limit); each
    /// shard gets an equal share.
    pub maxmemory: u64,
    pub maxmemory_policy: shard::evict::Policy,
    /// Bytes the process has allocated, when the binary counts them (its
    /// global allocator); INFO's used_memory. Without it INFO reports the
    /// dataset estimate.
    pub allocated: Option<fn() -> u64>,
    /// Version and git hash reported by INFO (`tokenginx_version`, `tokenginx_git_sha1`).
    pub version: &'static str,
    pub git_sha: &'static str,
    /// Durability; None keeps the data in memory only.
    pub persist: Option<PersistConfig>,
}

/// When a write is acknowledged relative to its WAL record reaching the
/// disk: Redis's appendfsync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendFsync {
    /// After an fdatasync covering the record (group commit).
    Always,
    /// Written at once, synced once a second.
    EverySec,
    /// Written at once, synced when the kernel likes.
    No,
}

impl AppendFsync {
    pub const ALL: [AppendFsync; 3] = [AppendFsync::Always, AppendFsync::EverySec, AppendFsync::No];

    pub fn name(self) -> &'static str {
        match self {
            AppendFsync::Always => "always",
            AppendFsync::EverySec => "everysec",
            AppendFsync::No => "no",
        }
    }

    pub fn parse(text: &str) -> Option<AppendFsync> {
        AppendFsync::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(text))
    }
}

#[derive(Clone, Debug)]
pub struct PersistConfig {
    pub dir: std::path::PathBuf,
    pub appendfsync: AppendFsync,
    pub on_corruption: persist::wal::OnCorruption,
    /// Redis's `save` rules: (seconds, changes) pairs.
    pub save: Vec<(u64, u64)>,
    /// WAL growth since the last snapshot that triggers one (0 = never).
    pub snapshot_wal_size: u64,
    pub wal_segment_size: u64,
    pub direct_io: bool,
}

/// Parses Redis's `save` value: "" or "<seconds> <changes>" pairs.
pub fn parse_save_rules(text: &str) -> Option<Vec<(u64, u64)>> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if !words.len().is_multiple_of(2) {
        return None;
    }
    words
        .chunks(2)
        .map(|pair| Some((pair[0].parse().ok()?, pair[1].parse().ok()?)))
        .collect()
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 6380,
            shards: 1,
            pin_cores: true,
            requirepass: None,
            maxclients: 10_000,
            max_bulk_len: 512 * 1024 * 1024,
            query_buffer_limit: 1024 * 1024 * 1024,
            output_limit_normal: OutputLimit {
                hard: 0,
                soft: 0,
                soft_seconds: 0,
            },
            output_limit_pubsub: OutputLimit {
                hard: 32 * 1024 * 1024,
                soft: 8 * 1024 * 1024,
                soft_seconds: 60,
            },
            notify_keyspace_events: 0,
            idle_timeout: Duration::ZERO,
            hz: 10,
            ring_entries: 4096,
            tcp_keepalive: 300,
            backlog: 511,
            maxmemory: 0,
            maxmemory_policy: shard::evict::Policy::default(),
            allocated: None,
            version: env!("CARGO_PKG_VERSION"),
            git_sha: "unknown",
            persist: None,
        }
    }
}
