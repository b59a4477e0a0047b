//! A snapshot of a shard taken while it keeps serving, a few slots at a
//! time.
//!
//! The job walks the shard's slots in order, writing every live key of
//! every database in each (`step`). Commands keep running in between, and
//! every change record they produce is shown to the job (`observe`). Since
//! a record is a key's whole state after the command:
//!
//! - a record for a key whose slot was already written is appended: it
//!   supersedes the value written earlier;
//! - a record for a slot not reached yet is dropped: the walk will read the
//!   key's state as it is then;
//! - FLUSHDB and FLUSHALL records are always appended: they clear what was
//!   written before them, and slots written later are read after the flush.
//!
//! Applying the file in order therefore gives the shard as it is when the
//! job finishes, which is the state before the WAL's next LSN at that
//! moment: the LSN written into the header then.

use crate::codec;
use crate::shard::Shard;
use crate::snapshot_files::new_snapshot_path;
use persist::snapshot::{SnapshotError, SnapshotHeader, SnapshotSummary, SnapshotWriter};
use persist::wal::RecordType;
use std::io;
use std::path::{Path, PathBuf};

pub struct SnapshotJob {
    writer: SnapshotWriter,
    dir: PathBuf,
    shard: u32,
    /// The next slot to write, and the end of the shard's range.
    cursor: u16,
    end: u16,
    buf: Vec<u8>,
}

impl SnapshotJob {
    /// Starts a snapshot of `shard` in `dir` (written to
    /// `shard-NNN.snap.tmp` until finished; a leftover of that name from an
    /// earlier run is overwritten).
    pub fn start(dir: &Path, shard: &Shard, created_ms: u64) -> Result<SnapshotJob, SnapshotError> {
        let header = SnapshotHeader {
            shard_id: shard.id as u32,
            shard_count: shard.count as u32,
            lsn: 0,
            created_ms,
        };
        let name = format!("shard-{:03}.snap", shard.id);
        let slots = shard.slots();
        Ok(SnapshotJob {
            writer: SnapshotWriter::create(dir, &name, header)?,
            dir: dir.to_path_buf(),
            shard: shard.id as u32,
            cursor: slots.start,
            end: slots.end,
            buf: Vec::new(),
        })
    }

    /// Writes the live keys of the next slots, at least one slot, stopping
    /// once about `max_keys` were written; true once every slot is written.
    pub fn step(
        &mut self,
        shard: &Shard,
        now: u64,
        max_keys: usize,
    ) -> Result<bool, SnapshotError> {
        let mut written = 0;
        while self.cursor < self.end {
            for (db, d) in shard.dbs() {
                for (key, entry) in d.slot_entries(self.cursor) {
                    if entry.is_expired(now) {
                        continue;
                    }
                    self.buf.clear();
                    codec::encode_put(&mut self.buf, db, key, entry);
                    self.writer.append(&self.buf)?;
                    written += 1;
                }
            }
            self.cursor += 1;
            if written >= max_keys {
                break;
            }
        }
        Ok(self.cursor == self.end)
    }

    /// Takes one change record the shard produced while the job runs (each
    /// record of a batch on its own), in the order they were made. Call it
    /// for every record drained after each command, before the next
    /// [`SnapshotJob::step`].
    pub fn observe(&mut self, record: &[u8]) -> Result<(), SnapshotError> {
        let keep = match codec::record_key(record) {
            Some(key) => proto::slot::key_slot(key) < self.cursor,
            None => matches!(
                codec::wal_type(record),
                RecordType::FlushDb | RecordType::FlushAll
            ),
        };
        if keep {
            self.writer.append(record)?;
        }
        Ok(())
    }

    /// Slots left to walk, of the shard's range.
    pub fn slots_left(&self) -> usize {
        usize::from(self.end - self.cursor)
    }

    /// Completes the file once every slot is written: `lsn` is the WAL's
    /// next LSN now (the snapshot holds exactly the state before it). The
    /// file is named `shard-NNN-<lsn>.snap` (see
    /// [`crate::snapshot_files::new_snapshot_path`]); the caller then
    /// commits it with [`crate::snapshot_files::commit_snapshots`].
    pub fn finish(self, lsn: u64) -> Result<SnapshotSummary, SnapshotError> {
        let path = new_snapshot_path(&self.dir, self.shard, lsn);
        if self.cursor < self.end {
            return Err(SnapshotError::Io {
                path,
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "snapshot finished before every slot was written",
                ),
            });
        }
        self.writer.finish_as(lsn, &path)
    }
}
