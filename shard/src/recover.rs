//! Loading one shard at start-up: its snapshot, then the WAL after it.
//!
//! ```text
//! MANIFEST        -> shard N's snapshot file and the LSN it covers (L)
//! snapshot file   -> every record, applied in order
//! shard-NNN/wal-* -> records with LSN >= L, applied in order
//! ```
//!
//! Loading is incremental: the event loop calls [`Loader::step`] with a time
//! budget and answers -LOADING in between, so a large data set does not
//! leave the process deaf. A damaged snapshot always stops the load (the WAL
//! it covers is gone, so loading without it would lose keys silently); the
//! WAL's torn tail is cut off with a warning, and damage in its middle stops
//! the load unless `on_corruption` says to keep what precedes it.

mod error;
#[cfg(test)]
mod tests;

pub use error::{LoadError, TRUNCATE_HINT};

use crate::codec::{self, DecodeError};
use crate::restore::{self, Applied};
use crate::shard::Shard;
use persist::snapshot::{manifest, SnapshotReader};
use persist::wal::{record, segment, OnCorruption, RecordType, Recovery, WalReader};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct LoadOptions {
    pub dir: PathBuf,
    pub shard: u32,
    pub shards: u32,
    pub on_corruption: OnCorruption,
}

/// How far a load has come, for "x%, MB/s" logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Records applied (snapshot entries and WAL records).
    pub keys: u64,
    pub bytes_read: u64,
    /// Size of the snapshot and of the WAL segments.
    pub bytes_total: u64,
}

/// What a completed load found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// Where this shard's WAL writer continues.
    pub next_lsn: u64,
    /// Keys the shard holds after loading.
    pub keys: u64,
    /// Records of keys that expired while the server was down.
    pub expired: u64,
    /// Bytes read (snapshot and WAL).
    pub bytes: u64,
    /// The LSN the loaded snapshot covers, if there was one.
    pub snapshot_lsn: Option<u64>,
    /// What was repaired or skipped, one sentence each, for the log.
    pub warnings: Vec<String>,
}

enum Phase {
    Snapshot(Box<SnapshotReader>),
    Wal(Box<WalReader>),
    Done,
}

/// Records applied between two looks at the clock.
const CLOCK_EVERY: u32 = 64;

pub struct Loader {
    opts: LoadOptions,
    phase: Phase,
    snapshot_lsn: Option<u64>,
    snapshot_bytes: u64,
    /// Records read from the snapshot so far (to name a bad one).
    snapshot_index: u64,
    /// The WAL segments, to name the file of a bad record.
    segments: Vec<segment::SegmentFile>,
    wal_bytes: u64,
    next_lsn: u64,
    progress: Progress,
    expired: u64,
    not_owned: u64,
    empty: u64,
    warnings: Vec<String>,
    /// Keys in the shard, once everything is loaded.
    keys: Option<u64>,
}

impl Loader {
    /// Reads the manifest and opens this shard's snapshot, if it has one.
    pub fn open(opts: LoadOptions) -> Result<Loader, LoadError> {
        let manifest = manifest::load(&opts.dir).map_err(LoadError::Manifest)?;
        let mut loader = Loader {
            phase: Phase::Done,
            snapshot_lsn: None,
            snapshot_bytes: 0,
            snapshot_index: 0,
            segments: Vec::new(),
            wal_bytes: 0,
            next_lsn: 0,
            progress: Progress::default(),
            expired: 0,
            not_owned: 0,
            empty: 0,
            warnings: Vec::new(),
            keys: None,
            opts,
        };
        let wal_dir = segment::shard_dir(&loader.opts.dir, loader.opts.shard);
        loader.segments = segment::list_segments(&wal_dir).map_err(LoadError::io(&wal_dir))?;
        for s in &loader.segments {
            let len = std::fs::metadata(&s.path)
                .map_err(LoadError::io(&s.path))?
                .len();
            loader.wal_bytes += len;
        }
        let snapshot = match &manifest {
            Some(m) if m.shard_count != loader.opts.shards => {
                return Err(LoadError::ShardCount {
                    dir: loader.opts.dir.clone(),
                    found: m.shard_count,
                    expected: loader.opts.shards,
                });
            }
            Some(m) => m.snapshot_of(loader.opts.shard).cloned(),
            None => None,
        };
        loader.phase = match snapshot {
            Some(s) => {
                let reader = loader.open_snapshot(&loader.opts.dir.join(&s.file), s.lsn)?;
                loader.snapshot_lsn = Some(s.lsn);
                loader.snapshot_bytes = reader.file_len();
                Phase::Snapshot(Box::new(reader))
            }
            None => loader.open_wal()?,
        };
        loader.progress.bytes_total = loader.snapshot_bytes + loader.wal_bytes;
        Ok(loader)
    }

    fn open_snapshot(&self, path: &Path, lsn: u64) -> Result<SnapshotReader, LoadError> {
        let (shard, count) = (self.opts.shard, self.opts.shards);
        let reader =
            SnapshotReader::open(path).map_err(|source| LoadError::Snapshot { shard, source })?;
        let h = *reader.header();
        if h.shard_id != shard || h.shard_count != count || h.lsn != lsn {
            return Err(LoadError::SnapshotMismatch {
                path: path.to_path_buf(),
                shard,
                count,
                lsn,
                found_shard: h.shard_id,
                found_count: h.shard_count,
                found_lsn: h.lsn,
            });
        }
        Ok(reader)
    }

    /// Starts the WAL phase, after checking that the log goes on where the
    /// snapshot stops.
    fn open_wal(&mut self) -> Result<Phase, LoadError> {
        let covered = self.snapshot_lsn.unwrap_or(0);
        if let Some(first) = self.segments.first().filter(|s| s.first_lsn > covered) {
            let err = LoadError::WalStartsLate {
                shard: self.opts.shard,
                path: first.path.clone(),
                first_lsn: first.first_lsn,
                covered,
            };
            if self.opts.on_corruption == OnCorruption::Fail {
                return Err(err);
            }
            // Records after a gap cannot be applied over the state before
            // it: the whole log goes, as the reader drops what follows a gap.
            for s in std::mem::take(&mut self.segments) {
                std::fs::remove_file(&s.path).map_err(LoadError::io(&s.path))?;
            }
            self.warnings.push(format!("{err}: deleted the log"));
        }
        let reader =
            WalReader::open(&self.opts.dir, self.opts.shard, self.opts.on_corruption).map_err(
                LoadError::io(segment::shard_dir(&self.opts.dir, self.opts.shard)),
            )?;
        Ok(Phase::Wal(Box::new(reader)))
    }

    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// Applies records for about `budget` (at least a few records, and at
    /// least one WAL segment read); `Ok(true)` once everything is loaded.
    pub fn step(
        &mut self,
        shard: &mut Shard,
        now: u64,
        budget: Duration,
    ) -> Result<bool, LoadError> {
        let start = Instant::now();
        let mut since_clock = 0;
        loop {
            since_clock += 1;
            if since_clock == CLOCK_EVERY {
                since_clock = 0;
                if start.elapsed() >= budget {
                    return Ok(false);
                }
            }
            match &mut self.phase {
                Phase::Done => return Ok(true),
                Phase::Snapshot(reader) => {
                    let path = reader.path().to_path_buf();
                    let shard_id = self.opts.shard;
                    let next = reader.next_record().map_err(|source| LoadError::Snapshot {
                        shard: shard_id,
                        source,
                    })?;
                    let Some(bytes) = next else {
                        self.progress.bytes_read = self.snapshot_bytes;
                        self.phase = self.open_wal()?;
                        continue;
                    };
                    let result = codec::decode(bytes);
                    self.progress.bytes_read = reader.bytes_read();
                    let index = self.snapshot_index;
                    self.snapshot_index += 1;
                    self.apply(shard, result, now)
                        .map_err(|source| LoadError::SnapshotRecord {
                            path,
                            index,
                            source,
                        })?;
                }
                Phase::Wal(reader) => {
                    let Some(next) = reader.next() else {
                        let Phase::Wal(reader) = std::mem::replace(&mut self.phase, Phase::Done)
                        else {
                            unreachable!("in the WAL phase")
                        };
                        self.end_wal(reader.into_recovery())?;
                        self.keys = Some(shard.dbs().map(|(_, db)| db.len() as u64).sum());
                        return Ok(true);
                    };
                    let rec = next.map_err(LoadError::wal)?;
                    self.progress.bytes_read += record::framed_len(rec.payload.len()) as u64;
                    if rec.lsn < self.snapshot_lsn.unwrap_or(0) {
                        continue;
                    }
                    self.apply_wal(shard, rec.kind, &rec.payload, now)
                        .map_err(|source| LoadError::WalRecord {
                            path: self.segment_of(rec.lsn),
                            lsn: rec.lsn,
                            source,
                        })?;
                }
            }
        }
    }

    fn apply_wal(
        &mut self,
        shard: &mut Shard,
        kind: RecordType,
        payload: &[u8],
        now: u64,
    ) -> Result<(), DecodeError> {
        match kind {
            RecordType::Checkpoint => Ok(()),
            RecordType::Batch => {
                // Decoded whole before anything is applied: a batch is one
                // command, applied entirely or not at all.
                let mut records = Vec::new();
                for bytes in codec::decode_batch(payload)? {
                    match codec::decode(bytes) {
                        Err(DecodeError::EmptyCollection) => self.empty += 1,
                        r => records.push(r?),
                    }
                }
                for r in records {
                    self.apply(shard, Ok(r), now)?;
                }
                Ok(())
            }
            _ => self.apply(shard, codec::decode(payload), now),
        }
    }

    fn apply(
        &mut self,
        shard: &mut Shard,
        record: Result<codec::Record, DecodeError>,
        now: u64,
    ) -> Result<(), DecodeError> {
        let record = match record {
            Ok(r) => r,
            // Redis's loader skips an empty collection with a warning too.
            Err(DecodeError::EmptyCollection) => {
                self.empty += 1;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        match restore::apply(shard, record, now) {
            Applied::Done => self.progress.keys += 1,
            Applied::Expired => self.expired += 1,
            Applied::NotOwned(_) => self.not_owned += 1,
        }
        Ok(())
    }

    /// The segment file holding record `lsn`.
    fn segment_of(&self, lsn: u64) -> PathBuf {
        self.segments
            .iter()
            .rev()
            .find(|s| s.first_lsn <= lsn)
            .map(|s| s.path.clone())
            .unwrap_or_else(|| segment::shard_dir(&self.opts.dir, self.opts.shard))
    }

    /// Repairs what the reader cut off and decides where the log goes on.
    fn end_wal(&mut self, recovery: Recovery) -> Result<(), LoadError> {
        self.progress.bytes_read = self.progress.bytes_total;
        let shard_dir = segment::shard_dir(&self.opts.dir, self.opts.shard);
        if recovery.torn_tail.is_some()
            || recovery.truncated.is_some()
            || !recovery.dropped.is_empty()
        {
            recovery.repair().map_err(LoadError::io(&shard_dir))?;
        }
        if let Some(cut) = &recovery.torn_tail {
            self.warnings.push(format!(
                "{}: incomplete record at offset {} ({}), the trace of a write cut short: cut off",
                cut.path.display(),
                cut.offset,
                cut.reason
            ));
        }
        if let Some(cut) = &recovery.truncated {
            self.warnings.push(format!(
                "{}: corrupt at offset {} ({}): the log was cut there, as persist.on_corruption = \"truncate\" asks",
                cut.path.display(),
                cut.offset,
                cut.reason
            ));
        }
        for path in &recovery.dropped {
            self.warnings
                .push(format!("{}: after the damage, deleted", path.display()));
        }
        let covered = self.snapshot_lsn.unwrap_or(0);
        self.next_lsn = recovery.next_lsn.max(covered);
        if recovery.next_lsn < covered {
            // The snapshot was made durable before the WAL records it
            // covers: every record left is older than it. New segments start
            // at its LSN, so the old ones go (a gap between them would read
            // as damage on the next start).
            let left = segment::list_segments(&shard_dir).map_err(LoadError::io(&shard_dir))?;
            if !left.is_empty() {
                for s in &left {
                    std::fs::remove_file(&s.path).map_err(LoadError::io(&s.path))?;
                }
                segment::sync_dir(&shard_dir).map_err(LoadError::io(&shard_dir))?;
                self.warnings.push(format!(
                    "{}: the log ends at LSN {}, before the snapshot's {covered}: its segments are covered, deleted",
                    shard_dir.display(),
                    recovery.next_lsn
                ));
            }
        }
        Ok(())
    }

    /// After [`Loader::step`] returned true: where the WAL goes on, and what
    /// was repaired or skipped.
    pub fn finish(mut self) -> Result<Loaded, LoadError> {
        let Some(keys) = self.keys else {
            return Err(LoadError::Unfinished {
                shard: self.opts.shard,
            });
        };
        if self.not_owned > 0 {
            self.warnings.push(format!(
                "shard {}: {} records for keys another shard owns were skipped (written with another shard count?)",
                self.opts.shard, self.not_owned
            ));
        }
        if self.empty > 0 {
            self.warnings.push(format!(
                "shard {}: {} empty collections skipped",
                self.opts.shard, self.empty
            ));
        }
        Ok(Loaded {
            next_lsn: self.next_lsn,
            keys,
            expired: self.expired,
            bytes: self.progress.bytes_read,
            snapshot_lsn: self.snapshot_lsn,
            warnings: self.warnings,
        })
    }
}
