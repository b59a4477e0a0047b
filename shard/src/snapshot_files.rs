//! Snapshot file names in the data directory, and the commit of finished
//! snapshots: the manifest first, then what it no longer needs.
//!
//! ```text
//! <dir>/MANIFEST
//! <dir>/shard-001-00000000000000004711.snap     shard 1, covers LSNs below 4711
//! <dir>/shard-001-00000000000000004711-1.snap   a second one at the same LSN
//! <dir>/shard-001.snap.tmp                      a snapshot being written
//! ```

use persist::snapshot::manifest::{self, Manifest, ShardSnapshot};
use persist::snapshot::SnapshotError;
use persist::wal::segment;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The name of a snapshot of `shard` covering LSNs below `lsn`, made unique
/// with a suffix if one already exists: a snapshot the manifest names is
/// never overwritten (a crash before the new manifest is stored must leave
/// the old data set whole).
pub fn new_snapshot_path(dir: &Path, shard: u32, lsn: u64) -> PathBuf {
    let base = format!("shard-{shard:03}-{lsn:020}");
    let mut path = dir.join(format!("{base}.snap"));
    let mut n = 0u32;
    while path.exists() {
        n += 1;
        path = dir.join(format!("{base}-{n}.snap"));
    }
    path
}

/// The shard and LSN of a snapshot file name (see [`new_snapshot_path`]).
pub fn parse_snapshot_name(name: &str) -> Option<(u32, u64)> {
    let rest = name.strip_prefix("shard-")?.strip_suffix(".snap")?;
    let mut parts = rest.split('-');
    let shard = parts.next()?;
    let lsn = parts.next()?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(shard) || lsn.len() != 20 || !digits(lsn) {
        return None;
    }
    match (parts.next(), parts.next()) {
        (None, _) => {}
        (Some(n), None) if digits(n) => {}
        _ => return None,
    }
    Some((shard.parse().ok()?, lsn.parse().ok()?))
}

/// Serializes commits made from several threads: each reads the manifest,
/// changes its own shards' lines and stores it whole.
static COMMIT: Mutex<()> = Mutex::new(());

/// Makes finished snapshots current: stores a manifest naming them (other
/// shards keep their lines), then deletes the WAL segments they cover and
/// those shards' older snapshot files the manifest no longer names (one
/// being written, `*.snap.tmp`, or finished at a later LSN is left alone).
/// A crash
/// before the manifest is stored leaves the old snapshots current; after
/// it, what is left behind is only covered data, deleted next time.
pub fn commit_snapshots(
    dir: &Path,
    shard_count: u32,
    snapshots: &[ShardSnapshot],
) -> Result<(), SnapshotError> {
    let _guard = COMMIT.lock().unwrap_or_else(|e| e.into_inner());
    let mut m = match manifest::load(dir)? {
        Some(m) if m.shard_count == shard_count => m,
        // Only re-sharding, before any loop runs, changes the count.
        Some(m) => {
            return Err(SnapshotError::Io {
                path: dir.join(manifest::MANIFEST),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "the manifest is for {} shards, the snapshots for {shard_count}",
                        m.shard_count
                    ),
                ),
            })
        }
        None => Manifest {
            shard_count,
            snapshots: Vec::new(),
        },
    };
    for s in snapshots {
        m.snapshots.retain(|old| old.shard != s.shard);
        m.snapshots.push(s.clone());
    }
    m.snapshots.sort_by_key(|s| s.shard);
    manifest::store(dir, &m)?;
    for s in snapshots {
        let wal = segment::shard_dir(dir, s.shard);
        segment::delete_covered(&wal, s.lsn).map_err(|source| SnapshotError::Io {
            path: wal.clone(),
            source,
        })?;
    }
    remove_unnamed(dir, &m, |shard, lsn| {
        snapshots.iter().any(|s| s.shard == shard && lsn <= s.lsn)
    })
}

/// Deletes the snapshot files `which(shard, lsn)` selects that `m` does not
/// name.
pub(crate) fn remove_unnamed(
    dir: &Path,
    m: &Manifest,
    which: impl Fn(u32, u64) -> bool,
) -> Result<(), SnapshotError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SnapshotError::Io { path, source }
    };
    let mut removed = false;
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((shard, lsn)) = parse_snapshot_name(name) else {
            continue;
        };
        if which(shard, lsn) && !m.snapshots.iter().any(|s| s.file == name) {
            std::fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
            removed = true;
        }
    }
    if removed {
        segment::sync_dir(dir).map_err(io(dir))?;
    }
    Ok(())
}
