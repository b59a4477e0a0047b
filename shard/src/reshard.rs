//! Changing the number of shards of a data directory, offline, at start-up
//! before the event loops run.
//!
//! Every old shard is loaded (snapshot and WAL tail, as a normal start
//! does), its keys are routed to the new shards by slot, and each new shard
//! is written as a snapshot. The new manifest is the commit point:
//!
//! ```text
//! 1. load old shards, write new snapshots   crash: old manifest, old files
//!                                           whole; new snapshots unnamed
//! 2. store MANIFEST (new shard count)       the new data set is current
//! 3. delete old segments, shard directories crash: leftovers are covered
//!    past the new count, unnamed snapshots  by the new snapshots
//! ```
//!
//! A new shard's snapshot covers LSNs below its directory's old next LSN, so
//! whatever old segment is left in that directory counts as covered and the
//! WAL continues with names after the old ones.

use crate::codec;
use crate::recover::{LoadError, LoadOptions, Loader};
use crate::shard::{shard_of_slot, Shard, DATABASES};
use crate::snapshot_files::{new_snapshot_path, remove_unnamed};
use persist::snapshot::manifest::{self, Manifest, ShardSnapshot};
use persist::snapshot::{SnapshotError, SnapshotHeader, SnapshotWriter};
use persist::wal::{segment, OnCorruption};
use std::io;
use std::path::Path;
use std::time::Duration;

/// What a re-sharding did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReshardSummary {
    pub from: u32,
    pub to: u32,
    /// Keys moved into the new shards.
    pub keys: u64,
    /// The new shards' snapshots, as the manifest names them.
    pub snapshots: Vec<ShardSnapshot>,
    /// What loading the old shards repaired or skipped.
    pub warnings: Vec<String>,
}

/// The shard count the data in `dir` was written with: the manifest's, or
/// without one the highest shard directory + 1; None for a fresh or empty
/// directory.
pub fn previous_shard_count(dir: &Path) -> io::Result<Option<u32>> {
    match manifest::load(dir) {
        Ok(Some(m)) => return Ok(Some(m.shard_count)),
        Ok(None) => {}
        Err(SnapshotError::Io { source, .. }) => return Err(source),
        Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
    }
    let shards = match segment::list_shards(dir) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(shards.last().map(|(id, _)| id + 1))
}

/// Writes a manifest with no snapshots in a fresh directory, so that the
/// shard count of the data written next is always known.
pub fn write_initial_manifest(dir: &Path, count: u32) -> Result<(), SnapshotError> {
    std::fs::create_dir_all(dir).map_err(|source| SnapshotError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    manifest::store(
        dir,
        &Manifest {
            shard_count: count,
            snapshots: Vec::new(),
        },
    )
}

/// Makes the data in `dir` a data set of `new_count` shards. Nothing to do
/// when it already is one (leftovers of an interrupted re-sharding are
/// removed then); a fresh directory gets an initial manifest. `progress`
/// receives one line per shard loaded or written, for the log.
pub fn reshard(
    dir: &Path,
    new_count: u32,
    on_corruption: OnCorruption,
    now: u64,
    progress: &mut dyn FnMut(&str),
) -> Result<ReshardSummary, LoadError> {
    reshard_until(dir, new_count, on_corruption, now, progress, None)
}

/// Where a test makes [`reshard`] stop, as a crash there would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    BeforeManifest,
    BeforeCleanup,
}

pub(crate) fn reshard_until(
    dir: &Path,
    new_count: u32,
    on_corruption: OnCorruption,
    now: u64,
    progress: &mut dyn FnMut(&str),
    stop: Option<Stop>,
) -> Result<ReshardSummary, LoadError> {
    let old_count = previous_shard_count(dir).map_err(LoadError::io(dir))?;
    let mut summary = ReshardSummary {
        from: old_count.unwrap_or(new_count),
        to: new_count,
        ..ReshardSummary::default()
    };
    let Some(old_count) = old_count else {
        write_initial_manifest(dir, new_count).map_err(write_error(dir))?;
        return Ok(summary);
    };
    // Shard directories past the manifest's count are what an interrupted
    // re-sharding left: its new snapshots cover them.
    remove_shard_dirs(dir, old_count)?;
    if old_count == new_count {
        if manifest::load(dir).map_err(LoadError::Manifest)?.is_none() {
            write_initial_manifest(dir, new_count).map_err(write_error(dir))?;
        }
        return Ok(summary);
    }
    let mut new: Vec<Shard> = (0..new_count as usize)
        .map(|id| Shard::new(id, new_count as usize))
        .collect();
    let mut next_lsns = Vec::new();
    for id in 0..old_count {
        let mut loader = Loader::open(LoadOptions {
            dir: dir.to_path_buf(),
            shard: id,
            shards: old_count,
            on_corruption,
        })?;
        let mut old = Shard::new(id as usize, old_count as usize);
        while !loader.step(&mut old, now, Duration::from_secs(3600))? {}
        let loaded = loader.finish()?;
        let moved = move_keys(&mut old, &mut new, now);
        summary.keys += moved;
        summary.warnings.extend(loaded.warnings);
        next_lsns.push(loaded.next_lsn);
        progress(&format!(
            "re-sharding {old_count} -> {new_count}: old shard {id} loaded, {moved} keys"
        ));
    }
    for shard in &new {
        let id = shard.id as u32;
        let lsn = next_lsns.get(id as usize).copied().unwrap_or(0);
        let (file, keys) = write_snapshot(dir, shard, lsn, now).map_err(write_error(dir))?;
        progress(&format!(
            "re-sharding {old_count} -> {new_count}: new shard {id} written, {keys} keys"
        ));
        summary.snapshots.push(ShardSnapshot {
            shard: id,
            lsn,
            file,
        });
    }
    let m = Manifest {
        shard_count: new_count,
        snapshots: summary.snapshots.clone(),
    };
    if stop == Some(Stop::BeforeManifest) {
        return Ok(summary);
    }
    manifest::store(dir, &m).map_err(write_error(dir))?;
    if stop == Some(Stop::BeforeCleanup) {
        return Ok(summary);
    }
    // The new data set is current; what follows only removes covered data.
    remove_shard_dirs(dir, new_count)?;
    for id in 0..new_count.min(old_count) {
        let wal = segment::shard_dir(dir, id);
        for s in segment::list_segments(&wal).map_err(LoadError::io(&wal))? {
            std::fs::remove_file(&s.path).map_err(LoadError::io(&s.path))?;
        }
    }
    remove_unnamed(dir, &m, |_, _| true).map_err(write_error(dir))?;
    Ok(summary)
}

fn write_error(dir: &Path) -> impl FnOnce(SnapshotError) -> LoadError + '_ {
    move |source| LoadError::SnapshotWrite {
        dir: dir.to_path_buf(),
        source,
    }
}

/// Removes the shard directories `from` and above.
fn remove_shard_dirs(dir: &Path, from: u32) -> Result<(), LoadError> {
    let shards = segment::list_shards(dir).map_err(LoadError::io(dir))?;
    for (_, path) in shards.iter().filter(|(id, _)| *id >= from) {
        std::fs::remove_dir_all(path).map_err(LoadError::io(path))?;
    }
    if shards.iter().any(|(id, _)| *id >= from) {
        segment::sync_dir(dir).map_err(LoadError::io(dir))?;
    }
    Ok(())
}

/// Moves every live key of `old` into the new shard owning its slot.
fn move_keys(old: &mut Shard, new: &mut [Shard], now: u64) -> u64 {
    let mut moved = 0;
    let slots = old.slots();
    for db in 0..DATABASES {
        for slot in slots.clone() {
            let Some(d) = old.existing_db(db) else {
                break;
            };
            let keys: Vec<Box<[u8]>> = d.slot_entries(slot).map(|(k, _)| k.into()).collect();
            let target = &mut new[shard_of_slot(slot, new.len())];
            for key in keys {
                // Expired keys are dropped here.
                if let Some(entry) = old.db(db).remove(&key, now) {
                    target.db(db).insert(&key, entry, now);
                    moved += 1;
                }
            }
        }
    }
    moved
}

/// Writes `shard`'s keys as its snapshot covering LSNs below `lsn`.
fn write_snapshot(
    dir: &Path,
    shard: &Shard,
    lsn: u64,
    now: u64,
) -> Result<(String, u64), SnapshotError> {
    let header = SnapshotHeader {
        shard_id: shard.id as u32,
        shard_count: shard.count as u32,
        lsn,
        created_ms: now,
    };
    let path = new_snapshot_path(dir, shard.id as u32, lsn);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let mut writer = SnapshotWriter::create(dir, &name, header)?;
    let mut keys = 0;
    let mut buf = Vec::new();
    for (db, d) in shard.dbs() {
        for slot in d.slots() {
            for (key, entry) in d.slot_entries(slot) {
                if !entry.is_expired(now) {
                    buf.clear();
                    codec::encode_put(&mut buf, db, key, entry);
                    writer.append(&buf)?;
                    keys += 1;
                }
            }
        }
    }
    writer.finish()?;
    Ok((name, keys))
}
