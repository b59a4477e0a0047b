//! `check_data`: verifies every record of every segment of every shard,
//! changing nothing, and says per file what it found. Judgements are the
//! reader's (see [`super::reader`]): a torn end of the newest segment is a
//! crash's normal trace; anything else is damage.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::record::{self, End};
use super::segment::{self, SegmentHeader};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    pub path: PathBuf,
    pub shard: u32,
    pub first_lsn: u64,
    /// Whole records whose CRC checks, before any damage.
    pub records: u64,
    /// Size of the file.
    pub bytes: u64,
    /// The segment does not start where the previous one ended: LSNs from
    /// this one up to `first_lsn` are missing.
    pub gap_from: Option<u64>,
    /// A bad header, a torn end of an older segment, or a bad record with
    /// valid ones after it: (offset, reason).
    pub corruption: Option<(u64, String)>,
    /// An incomplete record ending the newest segment: (offset, reason).
    pub torn_tail: Option<(u64, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub files: Vec<FileReport>,
}

impl Report {
    /// No damage and no gap (a torn tail is allowed: recovery cuts it).
    pub fn is_clean(&self) -> bool {
        self.files
            .iter()
            .all(|f| f.corruption.is_none() && f.gap_from.is_none())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for file in &self.files {
            write!(
                f,
                "{}: {} records, {} bytes",
                file.path.display(),
                file.records,
                file.bytes
            )?;
            if let Some(from) = file.gap_from {
                write!(f, ", GAP: LSNs {from}..{} missing", file.first_lsn)?;
            }
            if let Some((offset, why)) = &file.corruption {
                write!(f, ", CORRUPT at offset {offset}: {why}")?;
            }
            if let Some((offset, why)) = &file.torn_tail {
                write!(f, ", torn tail at offset {offset}: {why}")?;
            }
            writeln!(f)?;
        }
        let verdict = if self.is_clean() { "ok" } else { "DAMAGED" };
        writeln!(f, "{} segment files checked: {verdict}", self.files.len())
    }
}

/// Checks the log under `dir` (every `shard-NNN/` in it).
pub fn check_data(dir: &Path) -> io::Result<Report> {
    let mut report = Report::default();
    for (shard, shard_dir) in segment::list_shards(dir)? {
        let segments = segment::list_segments(&shard_dir)?;
        let mut expected: Option<u64> = None;
        for (i, seg) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            let data = fs::read(&seg.path)?;
            let mut file = FileReport {
                path: seg.path.clone(),
                shard,
                first_lsn: seg.first_lsn,
                records: 0,
                bytes: data.len() as u64,
                gap_from: expected.filter(|&e| e != seg.first_lsn),
                corruption: None,
                torn_tail: None,
            };
            match SegmentHeader::decode(&data) {
                Ok(h) if h.shard != shard || h.first_lsn != seg.first_lsn => {
                    file.corruption = Some((
                        0,
                        format!("segment header says shard {} LSN {}", h.shard, h.first_lsn),
                    ));
                }
                Ok(_) => {
                    let (found, end) = record::scan(&data, segment::HEADER_LEN);
                    file.records = found.len() as u64;
                    match end {
                        End::Clean | End::Padding { .. } => {}
                        End::Torn { offset, why } if last => {
                            file.torn_tail = Some((offset as u64, why.to_string()))
                        }
                        End::Torn { offset, why } => {
                            file.corruption =
                                Some((offset as u64, format!("{why}, and newer segments follow")))
                        }
                        End::Corrupt { offset, why } => {
                            file.corruption =
                                Some((offset as u64, format!("{why}, and valid records follow")))
                        }
                    }
                }
                Err(e) => {
                    if last && super::reader::header_torn(&data) {
                        file.torn_tail = Some((0, e.to_string()));
                    } else {
                        file.corruption = Some((0, e.to_string()));
                    }
                }
            }
            expected = Some(seg.first_lsn + file.records);
            report.files.push(file);
        }
    }
    Ok(report)
}
