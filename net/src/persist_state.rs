//! What the shards share about persistence: plain atomics, read by INFO,
//! LASTSAVE and the save rules, written by the shard that knows.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

pub struct PersistState {
    /// Shards still loading their data at start-up; commands get -LOADING
    /// until it is zero.
    pub loading: AtomicUsize,
    /// A snapshot round is running (SAVE, BGSAVE, BGREWRITEAOF, a save rule).
    pub saving: AtomicBool,
    /// Shards whose part of the running round has not finished.
    pub saving_shards: AtomicUsize,
    /// BGSAVE SCHEDULE (or BGREWRITEAOF) asked during a round: one more after it.
    pub scheduled: AtomicBool,
    /// The round failed on some shard.
    pub round_failed: AtomicBool,
    pub round_started_ms: AtomicU64,
    /// Unix ms of the last successful snapshot round (start-up time before
    /// the first, as Redis's LASTSAVE).
    pub last_save_ms: AtomicU64,
    pub last_save_ok: AtomicBool,
    /// How long the last round took, seconds (-1 before the first).
    pub last_save_secs: AtomicU64,
    /// Successful rounds since start-up (INFO's rdb_saves; a round is
    /// also what BGREWRITEAOF runs, counted again as aof_rewrites).
    pub saves: AtomicU64,
    /// Whether the running round was started by BGREWRITEAOF.
    pub round_is_rewrite: AtomicBool,
    /// The scheduled round was asked for by BGREWRITEAOF.
    pub scheduled_rewrite: AtomicBool,
    pub rewrites: AtomicU64,
    /// Per shard: changes since its last snapshot and WAL bytes appended
    /// since, refreshed by each shard's tick, for the save rules.
    pub changes: Vec<AtomicU64>,
    pub wal_bytes: Vec<AtomicU64>,
    /// Shards whose last WAL write or sync failed, and its errno: writes
    /// (and PING) are refused with -MISCONF meanwhile, as Redis does.
    pub wal_failing: AtomicUsize,
    pub wal_errno: std::sync::atomic::AtomicI32,
    /// BACKUP: a copy is running (it holds `saving` too), and how the last
    /// one ended.
    pub backup_in_progress: AtomicBool,
    pub last_backup_ok: AtomicBool,
    /// Unix ms the last backup ended (0: none yet).
    pub last_backup_ms: AtomicU64,
}

impl PersistState {
    pub fn new(shards: usize, now_ms: u64, persistent: bool) -> PersistState {
        PersistState {
            loading: AtomicUsize::new(if persistent { shards } else { 0 }),
            saving: AtomicBool::new(false),
            saving_shards: AtomicUsize::new(0),
            scheduled: AtomicBool::new(false),
            round_failed: AtomicBool::new(false),
            round_started_ms: AtomicU64::new(0),
            last_save_ms: AtomicU64::new(now_ms),
            last_save_ok: AtomicBool::new(true),
            last_save_secs: AtomicU64::new(u64::MAX),
            saves: AtomicU64::new(0),
            round_is_rewrite: AtomicBool::new(false),
            scheduled_rewrite: AtomicBool::new(false),
            rewrites: AtomicU64::new(0),
            changes: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            wal_bytes: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            wal_failing: AtomicUsize::new(0),
            wal_errno: std::sync::atomic::AtomicI32::new(0),
            backup_in_progress: AtomicBool::new(false),
            last_backup_ok: AtomicBool::new(true),
            last_backup_ms: AtomicU64::new(0),
        }
    }

    pub fn total_changes(&self) -> u64 {
        self.changes.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    pub fn total_wal_bytes(&self) -> u64 {
        self.wal_bytes
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}
