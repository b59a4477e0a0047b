//! Hot backup: `BACKUP <dir> [INCREMENTAL]` copies the data to a directory
//! a server can start from, consistent across shards, while serving.
//!
//! ```text
//! 1. claim the snapshot round (no snapshot may delete files meanwhile)
//! 2. hold every shard at once (atomic.rs): each logs what it has and
//!    reports its WAL's next LSN, its cut; no cross-shard command is half
//!    done at that moment, so the cuts form one consistent point
//! 3. release, and copy on a thread of its own:
//!    full:        MANIFEST + the snapshot files it names + each shard's
//!                 WAL records from its snapshot up to the cut
//!    incremental: each shard's WAL records from the previous backup's cut
//!                 up to the new one, as new segments (a full copy instead
//!                 if a snapshot has compacted those records away)
//!    and BACKUP, a text file with the cuts, for the next incremental run
//! ```
//!
//! The copy reads only what is in files (committed snapshots, WAL records
//! below the cut, which the loop writes within one fsync), so it never
//! touches a shard's memory. Progress and outcome show in INFO persistence.

use crate::server::Shared;
use persist::snapshot::manifest::{self, Manifest};
use persist::wal::{segment, OnCorruption, WalReader, WalWriter, WriterOptions};
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// File in a backup directory with the cuts it was taken at.
pub const BACKUP_FILE: &str = "BACKUP";
/// How long the copy waits for records below a cut to reach the file.
const CUT_WAIT: Duration = Duration::from_secs(10);

/// What BACKUP asked for, carried through the hold to the copy.
pub struct BackupRequest {
    pub dest: PathBuf,
    pub incremental: bool,
    pub shared: Arc<Shared>,
}

/// Starts the copy on its own thread, given each shard's cut.
pub fn spawn(req: BackupRequest, cuts: Vec<u64>) {
    let started = Instant::now();
    let spawned = std::thread::Builder::new()
        .name("backup".into())
        .spawn(move || {
            let Some(cfg) = req.shared.config.persist.clone() else {
                return;
            };
            let result = copy(&cfg.dir, &req.dest, &cuts, req.incremental);
            let ps = &req.shared.persist;
            match &result {
                Ok(kind) => tracing::info!(
                    dest = %req.dest.display(),
                    "{kind} backup done in {:.3} s",
                    started.elapsed().as_secs_f64()
                ),
                Err(e) => tracing::error!(dest = %req.dest.display(), "backup failed: {e}"),
            }
            ps.last_backup_ok.store(result.is_ok(), Ordering::Release);
            ps.last_backup_ms
                .store(crate::event_loop::unix_ms(), Ordering::Release);
            ps.backup_in_progress.store(false, Ordering::Release);
            ps.saving.store(false, Ordering::Release);
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the backup thread: {e}");
    }
}

/// Copies the data at the cuts; says whether the backup was full or
/// incremental.
pub fn copy(data: &Path, dest: &Path, cuts: &[u64], incremental: bool) -> io::Result<&'static str> {
    let shards = cuts.len() as u32;
    let previous = if incremental {
        read_cuts(dest, shards)?
    } else {
        None
    };
    fs::create_dir_all(dest)?;
    if let Some(previous) = previous {
        // Each shard's log must still reach back to the previous cut.
        let reachable = (0..shards)
            .all(|s| first_lsn(data, s).is_none_or(|first| first <= previous[s as usize]));
        if reachable {
            for s in 0..shards {
                copy_wal(data, dest, s, previous[s as usize], cuts[s as usize])?;
            }
            write_cuts(dest, cuts)?;
            return Ok("incremental");
        }
        tracing::info!(
            "the WAL since the last backup was compacted by a snapshot: taking a full backup"
        );
    } else if dir_has_files(dest)? {
        // Never clear a directory that is not a backup of this server.
        let why = if incremental {
            format!("holds no backup of {shards} shards to add to")
        } else {
            "is not empty; back up into a new directory".to_string()
        };
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} {why}", dest.display()),
        ));
    }
    full(data, dest, cuts)?;
    Ok("full")
}

fn full(data: &Path, dest: &Path, cuts: &[u64]) -> io::Result<()> {
    let shards = cuts.len() as u32;
    // Whatever an earlier backup left here is replaced.
    for entry in fs::read_dir(dest)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
        } else {
            fs::remove_file(entry.path())?;
        }
    }
    let m = manifest::load(data)
        .map_err(io::Error::other)?
        .unwrap_or(Manifest {
            shard_count: shards,
            snapshots: Vec::new(),
        });
    for snap in &m.snapshots {
        let to = dest.join(&snap.file);
        fs::copy(data.join(&snap.file), &to)?;
        fs::File::open(&to)?.sync_all()?;
    }
    for s in 0..shards {
        let from = m.snapshot_of(s).map_or(0, |snap| snap.lsn);
        copy_wal(data, dest, s, from, cuts[s as usize])?;
    }
    manifest::store(dest, &m).map_err(io::Error::other)?;
    write_cuts(dest, cuts)
}

/// Appends shard `shard`'s records with `from <= LSN < to` to the backup,
/// in a new segment starting at `from`.
fn copy_wal(data: &Path, dest: &Path, shard: u32, from: u64, to: u64) -> io::Result<()> {
    if to <= from {
        return Ok(());
    }
    let deadline = Instant::now() + CUT_WAIT;
    let records = loop {
        let mut records = Vec::new();
        let mut failure = None;
        for record in WalReader::open(data, shard, OnCorruption::Fail)? {
            match record {
                Ok(r) if r.lsn >= to => break,
                Ok(r) if r.lsn >= from => records.push(r),
                Ok(_) => {}
                // The tail block may be half rewritten while we read it.
                Err(e) => {
                    failure = Some(e.to_string());
                    break;
                }
            }
        }
        let have = records.last().map_or(from, |r| r.lsn + 1);
        if have >= to {
            break records;
        }
        // The loop writes what precedes the cut within one group commit.
        if Instant::now() >= deadline {
            return Err(io::Error::other(format!(
                "shard {shard}: the WAL holds records up to LSN {have}, not {to}{}",
                failure.map(|f| format!(" ({f})")).unwrap_or_default()
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if records.first().map(|r| r.lsn) != Some(from) {
        return Err(io::Error::other(format!(
            "shard {shard}: the WAL does not reach back to LSN {from}"
        )));
    }
    let opts = WriterOptions {
        segment_size: u64::MAX,
        direct: false,
    };
    let mut writer = WalWriter::create(dest, shard, from, opts)?;
    for r in &records {
        writer.append(r.kind, &r.payload)?;
    }
    writer.flush_sync()?;
    segment::sync_dir(&segment::shard_dir(dest, shard))
}

fn first_lsn(data: &Path, shard: u32) -> Option<u64> {
    segment::list_segments(&segment::shard_dir(data, shard))
        .ok()?
        .first()
        .map(|s| s.first_lsn)
}

fn dir_has_files(dir: &Path) -> io::Result<bool> {
    Ok(fs::read_dir(dir)?.next().is_some())
}

fn write_cuts(dest: &Path, cuts: &[u64]) -> io::Result<()> {
    let mut text = format!("tokenginx-backup 1\nshards {}\n", cuts.len());
    for (s, cut) in cuts.iter().enumerate() {
        let _ = writeln!(text, "shard {s} cut {cut}");
    }
    let tmp = dest.join(format!("{BACKUP_FILE}.tmp"));
    fs::write(&tmp, text)?;
    fs::File::open(&tmp)?.sync_all()?;
    fs::rename(&tmp, dest.join(BACKUP_FILE))?;
    segment::sync_dir(dest)
}

/// The cuts of the backup in `dest`, if it holds one for `shards` shards.
fn read_cuts(dest: &Path, shards: u32) -> io::Result<Option<Vec<u64>>> {
    let text = match fs::read_to_string(dest.join(BACKUP_FILE)) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut lines = text.lines();
    if lines.next() != Some("tokenginx-backup 1") {
        return Ok(None);
    }
    if lines.next() != Some(&format!("shards {shards}")) {
        return Ok(None);
    }
    let cuts: Option<Vec<u64>> = lines
        .enumerate()
        .map(|(i, line)| {
            line.strip_prefix(&format!("shard {i} cut "))
                .and_then(|n| n.parse().ok())
        })
        .collect();
    Ok(cuts.filter(|c| c.len() == shards as usize))
}
