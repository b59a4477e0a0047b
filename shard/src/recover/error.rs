//! Why a shard's data could not be loaded, worded for the operator who has
//! to decide what to do about it.

use crate::codec::DecodeError;
use persist::snapshot::SnapshotError;
use persist::wal::RecoveryError;
use std::io;
use std::path::PathBuf;

/// What the operator can set to start despite damage in the log.
pub const TRUNCATE_HINT: &str = "set persist.on_corruption = \"truncate\" to start with the \
     records before the damage (the rest of this shard's log is then deleted)";

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read the data directory's manifest: {0}")]
    Manifest(#[source] SnapshotError),
    #[error(
        "{}: the data was written with {found} shards, not {expected}; \
         it must be re-sharded before it is loaded",
        dir.display()
    )]
    ShardCount {
        dir: PathBuf,
        found: u32,
        expected: u32,
    },
    /// The manifest names a snapshot that cannot be read: its keys are not
    /// in the WAL any more, so starting without it would lose them.
    #[error(
        "snapshot of shard {shard} cannot be loaded: {source}; the WAL before it was \
         deleted, so restore this file (from a backup) rather than start without it"
    )]
    Snapshot {
        shard: u32,
        #[source]
        source: SnapshotError,
    },
    #[error(
        "{}: snapshot is of shard {found_shard} of {found_count} up to LSN {found_lsn}, but \
         the manifest names it for shard {shard} of {count} up to LSN {lsn}",
        path.display()
    )]
    SnapshotMismatch {
        path: PathBuf,
        shard: u32,
        count: u32,
        lsn: u64,
        found_shard: u32,
        found_count: u32,
        found_lsn: u64,
    },
    #[error("{}: record {index} cannot be decoded: {source}", path.display())]
    SnapshotRecord {
        path: PathBuf,
        index: u64,
        #[source]
        source: DecodeError,
    },
    /// Damage in the middle of the log (with `on_corruption = "fail"`).
    #[error("{source}; {TRUNCATE_HINT}")]
    WalCorrupt {
        #[source]
        source: RecoveryError,
    },
    #[error("{0}")]
    WalIo(#[source] RecoveryError),
    #[error(
        "{}: the log of shard {shard} starts at LSN {first_lsn} but the snapshot covers only \
         up to LSN {covered}: records are missing; {TRUNCATE_HINT}",
        path.display()
    )]
    WalStartsLate {
        shard: u32,
        path: PathBuf,
        first_lsn: u64,
        covered: u64,
    },
    #[error("{}: record LSN {lsn} cannot be decoded: {source}", path.display())]
    WalRecord {
        path: PathBuf,
        lsn: u64,
        #[source]
        source: DecodeError,
    },
    #[error("shard {shard}: the load was finished before every record was applied")]
    Unfinished { shard: u32 },
    #[error("{}: cannot write the re-sharded snapshot: {source}", dir.display())]
    SnapshotWrite {
        dir: PathBuf,
        #[source]
        source: SnapshotError,
    },
}

impl LoadError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> LoadError {
        let path = path.into();
        move |source| LoadError::Io { path, source }
    }

    pub(crate) fn wal(source: RecoveryError) -> LoadError {
        match source {
            RecoveryError::Io { .. } => LoadError::WalIo(source),
            _ => LoadError::WalCorrupt { source },
        }
    }
}
