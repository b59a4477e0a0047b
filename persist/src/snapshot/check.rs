//! `check-data`'s look at snapshots: the MANIFEST's checksum, and every
//! block and file checksum of each snapshot it names, changing nothing.

use super::{manifest, SnapshotReader};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFileReport {
    pub path: PathBuf,
    pub shard: u32,
    /// The WAL position the manifest says it covers.
    pub lsn: u64,
    /// Records read and verified (all of them when `error` is None).
    pub records: u64,
    pub bytes: u64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotReport {
    /// The shard count the manifest records; None without a manifest.
    pub shards: Option<u32>,
    /// Why the manifest could not be read.
    pub manifest_error: Option<String>,
    pub files: Vec<SnapshotFileReport>,
}

impl SnapshotReport {
    pub fn is_clean(&self) -> bool {
        self.manifest_error.is_none() && self.files.iter().all(|f| f.error.is_none())
    }
}

/// Reads the manifest under `dir` and verifies every snapshot it names.
pub fn check_snapshots(dir: &Path) -> SnapshotReport {
    let mut report = SnapshotReport::default();
    let m = match manifest::load(dir) {
        Ok(Some(m)) => m,
        Ok(None) => return report,
        Err(e) => {
            report.manifest_error = Some(e.to_string());
            return report;
        }
    };
    report.shards = Some(m.shard_count);
    for s in &m.snapshots {
        let path = dir.join(&s.file);
        let mut file = SnapshotFileReport {
            path: path.clone(),
            shard: s.shard,
            lsn: s.lsn,
            records: 0,
            bytes: std::fs::metadata(&path).map_or(0, |m| m.len()),
            error: None,
        };
        match SnapshotReader::open(&path) {
            Err(e) => file.error = Some(e.to_string()),
            Ok(mut reader) => {
                let h = *reader.header();
                if h.shard_id != s.shard || h.lsn != s.lsn || h.shard_count != m.shard_count {
                    file.error = Some(format!(
                        "header says shard {} of {} at LSN {}, the manifest shard {} of {} at LSN {}",
                        h.shard_id, h.shard_count, h.lsn, s.shard, m.shard_count, s.lsn
                    ));
                }
                loop {
                    match reader.next_record() {
                        Ok(Some(_)) => file.records += 1,
                        Ok(None) => break,
                        Err(e) => {
                            file.error = Some(e.to_string());
                            break;
                        }
                    }
                }
            }
        }
        report.files.push(file);
    }
    report
}

impl fmt::Display for SnapshotReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.manifest_error, self.shards) {
            (Some(e), _) => return writeln!(f, "MANIFEST: DAMAGED: {e}"),
            (None, None) => return writeln!(f, "MANIFEST: none (no snapshot yet)"),
            (None, Some(n)) => writeln!(f, "MANIFEST: {n} shards, {} snapshots", self.files.len())?,
        }
        for file in &self.files {
            write!(
                f,
                "{}: shard {}, covers LSNs below {}, {} records, {} bytes",
                file.path.display(),
                file.shard,
                file.lsn,
                file.records,
                file.bytes
            )?;
            match &file.error {
                Some(e) => writeln!(f, ", DAMAGED: {e}")?,
                None => writeln!(f, ", ok")?,
            }
        }
        Ok(())
    }
}
