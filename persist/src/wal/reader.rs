//! Recovery: a shard's records in LSN order, across its segments.
//!
//! What a crash can leave, and what the reader makes of it:
//!
//! - Zeros after the last record of a segment: the padding of a block write.
//!   Nothing is reported.
//! - An incomplete or failing record at the end of the newest segment, with
//!   no valid record after it: a write cut short. It is cut off and reported
//!   in [`Recovery::torn_tail`]; the records before it are yielded.
//! - Anything else (a bad record followed by valid ones, a torn end of an
//!   older segment, a bad segment header, a missing segment between two
//!   others) is damage a crash does not explain. With [`OnCorruption::Fail`]
//!   the iterator yields an error naming the file and offset; with
//!   [`OnCorruption::Truncate`] it ends there, reporting it in
//!   [`Recovery::truncated`], and the rest of the log is dropped.
//!
//! Reading changes nothing on disk. Before a writer continues the log,
//! [`Recovery::repair`] cuts the files to what was yielded, so the next start
//! does not find the same damage again behind newer segments.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::record::{self, End, Found, RecordType};
use super::segment::{self, SegmentFile, SegmentHeader};

/// What to do with damage in the middle of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnCorruption {
    /// Stop with an error naming the file and offset.
    #[default]
    Fail,
    /// Keep the records before the damage and drop the rest.
    Truncate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub lsn: u64,
    pub kind: RecordType,
    pub payload: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: corrupt at offset {offset}: {reason}", path.display())]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{}: records missing: expected LSN {expected}, segment starts at {found}", path.display())]
    Gap {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
}

/// Where the log was cut, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub path: PathBuf,
    pub offset: u64,
    pub reason: String,
}

/// What recovery found, beyond the records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// A torn record cut off the end of the newest segment.
    pub torn_tail: Option<Cut>,
    /// Damage the reader stopped at (with [`OnCorruption::Truncate`]).
    pub truncated: Option<Cut>,
    /// Segments after the damage, whose records were not read.
    pub dropped: Vec<PathBuf>,
    /// LSN for the next record: the writer continues from here.
    pub next_lsn: u64,
}

impl Recovery {
    /// Makes the files hold exactly what was yielded: cuts the torn or
    /// damaged file at its offset (removing it if nothing of it is left)
    /// and deletes the dropped segments.
    pub fn repair(&self) -> io::Result<()> {
        for cut in self.torn_tail.iter().chain(self.truncated.iter()) {
            if cut.offset <= segment::HEADER_LEN as u64 {
                fs::remove_file(&cut.path)?;
            } else {
                let file = fs::OpenOptions::new().write(true).open(&cut.path)?;
                file.set_len(cut.offset)?;
                file.sync_all()?;
            }
        }
        for path in &self.dropped {
            fs::remove_file(path)?;
        }
        if let Some(dir) = self
            .torn_tail
            .iter()
            .chain(self.truncated.iter())
            .next()
            .and_then(|c| c.path.parent())
        {
            segment::sync_dir(dir)?;
        }
        Ok(())
    }
}

/// Whether a bad header of the newest segment is the trace of a crash: the
/// first write to a new segment (header and first records) was cut short,
/// so no valid record follows it. Otherwise it is damage.
pub(super) fn header_torn(data: &[u8]) -> bool {
    let (found, end) = record::scan(data, segment::HEADER_LEN.min(data.len()));
    found.is_empty() && !matches!(end, End::Corrupt { .. })
}

/// How the records of the loaded segment end.
enum Finish {
    Next,
    Torn(Cut),
    Damage(Cut),
    Gap {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
}

pub struct WalReader {
    shard: u32,
    on_corruption: OnCorruption,
    segments: Vec<SegmentFile>,
    /// Index of the next segment to load.
    next_segment: usize,
    data: Vec<u8>,
    records: std::vec::IntoIter<Found>,
    finish: Finish,
    next_lsn: Option<u64>,
    recovery: Recovery,
    done: bool,
}

impl WalReader {
    /// Reads shard `shard` of the log under `dir` (`<dir>/shard-NNN/`).
    pub fn open(dir: &Path, shard: u32, on_corruption: OnCorruption) -> io::Result<WalReader> {
        let segments = segment::list_segments(&segment::shard_dir(dir, shard))?;
        Ok(WalReader {
            shard,
            on_corruption,
            segments,
            next_segment: 0,
            data: Vec::new(),
            records: Vec::new().into_iter(),
            finish: Finish::Next,
            next_lsn: None,
            recovery: Recovery::default(),
            done: false,
        })
    }

    /// LSN of the first record the log holds (older ones were deleted after
    /// a snapshot), or None if there are no segments.
    pub fn first_lsn(&self) -> Option<u64> {
        self.segments.first().map(|s| s.first_lsn)
    }

    /// What was found; complete once the iterator has ended.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    pub fn into_recovery(self) -> Recovery {
        self.recovery
    }

    /// Loads the next segment: its records and how they end.
    fn load(&mut self) -> Result<(), RecoveryError> {
        let seg = self.segments[self.next_segment].clone();
        self.next_segment += 1;
        let last = self.next_segment == self.segments.len();
        let path = seg.path.clone();
        let data = fs::read(&path).map_err(|source| RecoveryError::Io {
            path: path.clone(),
            source,
        })?;
        let cut = |offset: usize, reason: String| Cut {
            path: path.clone(),
            offset: offset as u64,
            reason,
        };
        let expected = self.next_lsn.unwrap_or(seg.first_lsn);
        self.next_lsn = Some(expected);
        if seg.first_lsn != expected {
            self.records = Vec::new().into_iter();
            self.finish = Finish::Gap {
                path,
                expected,
                found: seg.first_lsn,
            };
            return Ok(());
        }
        let header = match SegmentHeader::decode(&data) {
            Ok(h) if h.shard != self.shard || h.first_lsn != seg.first_lsn => Err(format!(
                "segment header says shard {} LSN {}",
                h.shard, h.first_lsn
            )),
            Ok(h) => Ok(h),
            Err(e) => Err(e.to_string()),
        };
        if let Err(reason) = header {
            self.records = Vec::new().into_iter();
            self.finish = if last && header_torn(&data) {
                Finish::Torn(cut(0, reason))
            } else {
                Finish::Damage(cut(0, reason))
            };
            return Ok(());
        }
        let (found, end) = record::scan(&data, segment::HEADER_LEN);
        self.finish = match end {
            End::Clean | End::Padding { .. } => Finish::Next,
            End::Torn { offset, why } if last => Finish::Torn(cut(offset, why.to_string())),
            End::Torn { offset, why } => {
                Finish::Damage(cut(offset, format!("{why}, and newer segments follow")))
            }
            End::Corrupt { offset, why } => {
                Finish::Damage(cut(offset, format!("{why}, and valid records follow")))
            }
        };
        self.data = data;
        self.records = found.into_iter();
        Ok(())
    }

    /// Handles the end of a segment's records. Returns an error to yield,
    /// or None to go on (or stop, if `done` was set).
    fn finish_segment(&mut self) -> Option<RecoveryError> {
        match std::mem::replace(&mut self.finish, Finish::Next) {
            Finish::Next => None,
            Finish::Torn(cut) => {
                self.recovery.torn_tail = Some(cut);
                self.stop_here();
                None
            }
            Finish::Damage(cut) => {
                if self.on_corruption == OnCorruption::Fail {
                    self.done = true;
                    return Some(RecoveryError::Corrupt {
                        path: cut.path,
                        offset: cut.offset,
                        reason: cut.reason,
                    });
                }
                self.recovery.truncated = Some(cut);
                self.stop_here();
                None
            }
            Finish::Gap {
                path,
                expected,
                found,
            } => {
                if self.on_corruption == OnCorruption::Fail {
                    self.done = true;
                    return Some(RecoveryError::Gap {
                        path,
                        expected,
                        found,
                    });
                }
                // The segment after the gap goes as a whole (offset 0).
                self.recovery.truncated = Some(Cut {
                    path,
                    offset: 0,
                    reason: format!("records missing from LSN {expected}"),
                });
                self.stop_here();
                None
            }
        }
    }

    /// Ends the iteration; later segments are dropped.
    fn stop_here(&mut self) {
        self.recovery.dropped.extend(
            self.segments[self.next_segment..]
                .iter()
                .map(|s| s.path.clone()),
        );
        self.next_segment = self.segments.len();
        self.done = true;
    }
}

impl Iterator for WalReader {
    type Item = Result<Record, RecoveryError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(found) = self.records.next() {
                let lsn = self.next_lsn.expect("set when a segment loads");
                self.next_lsn = Some(lsn + 1);
                self.recovery.next_lsn = lsn + 1;
                return Some(Ok(Record {
                    lsn,
                    kind: found.kind,
                    payload: found.payload(&self.data).to_vec(),
                }));
            }
            if let Some(err) = self.finish_segment() {
                return Some(Err(err));
            }
            if self.done || self.next_segment == self.segments.len() {
                self.done = true;
                if let Some(lsn) = self.next_lsn {
                    self.recovery.next_lsn = lsn;
                }
                return None;
            }
            if let Err(e) = self.load() {
                self.done = true;
                return Some(Err(e));
            }
        }
    }
}
