//! Segment files: names, header, listing and removal.
//!
//! A shard's log lives in `<dir>/shard-NNN/` as files named
//! `wal-<first LSN, 20 digits>.log`, so that a name sort is an LSN sort. A
//! record's LSN is not stored: it is the segment's first LSN plus the
//! record's index in the segment, which makes a missing segment visible as a
//! gap between one segment's last LSN and the next one's first.
//!
//! # Header layout (32 bytes at offset 0, little-endian)
//!
//! ```text
//! offset  size  field
//!      0     8  magic      b"TGXWAL\0\0"
//!      8     2  version    1
//!     10     2  reserved   0
//!     12     4  shard      shard index (same as the directory's)
//!     16     8  first_lsn  LSN of the first record (same as the name's)
//!     24     4  reserved   0
//!     28     4  crc        CRC32C of bytes 0..28
//! ```
//!
//! Records start right after the header, at offset 32.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub const MAGIC: [u8; 8] = *b"TGXWAL\0\0";
pub const VERSION: u16 = 1;
pub const HEADER_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    pub shard: u32,
    pub first_lsn: u64,
}

/// Why a segment header is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("segment shorter than its header")]
    Short,
    #[error("not a WAL segment (bad magic)")]
    Magic,
    #[error("segment header CRC mismatch")]
    Crc,
    #[error("segment format version {0} is not supported")]
    Version(u16),
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..8].copy_from_slice(&MAGIC);
        out[8..10].copy_from_slice(&VERSION.to_le_bytes());
        out[12..16].copy_from_slice(&self.shard.to_le_bytes());
        out[16..24].copy_from_slice(&self.first_lsn.to_le_bytes());
        let crc = crc32c::crc32c(&out[0..28]);
        out[28..32].copy_from_slice(&crc.to_le_bytes());
        out
    }

    pub fn decode(data: &[u8]) -> Result<SegmentHeader, HeaderError> {
        let h = data.get(..HEADER_LEN).ok_or(HeaderError::Short)?;
        if h[0..8] != MAGIC {
            return Err(HeaderError::Magic);
        }
        let crc = u32::from_le_bytes(h[28..32].try_into().expect("4 bytes"));
        if crc32c::crc32c(&h[0..28]) != crc {
            return Err(HeaderError::Crc);
        }
        let version = u16::from_le_bytes(h[8..10].try_into().expect("2 bytes"));
        if version != VERSION {
            return Err(HeaderError::Version(version));
        }
        Ok(SegmentHeader {
            shard: u32::from_le_bytes(h[12..16].try_into().expect("4 bytes")),
            first_lsn: u64::from_le_bytes(h[16..24].try_into().expect("8 bytes")),
        })
    }
}

/// The directory of one shard's log.
pub fn shard_dir(dir: &Path, shard: u32) -> PathBuf {
    dir.join(format!("shard-{shard:03}"))
}

/// The shard index a directory name stands for, if it is a shard directory.
pub fn parse_shard_dir(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("shard-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub fn segment_name(first_lsn: u64) -> String {
    format!("wal-{first_lsn:020}.log")
}

/// The first LSN a segment file name stands for, if it is a segment's name.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("wal-")?.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// One segment file found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFile {
    pub path: PathBuf,
    pub first_lsn: u64,
}

/// The segments of one shard directory, in LSN order. Other files are
/// ignored; a missing directory has no segments.
pub fn list_segments(shard_dir: &Path) -> io::Result<Vec<SegmentFile>> {
    let entries = match fs::read_dir(shard_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if let Some(first_lsn) = name.to_str().and_then(parse_segment_name) {
            out.push(SegmentFile {
                path: entry.path(),
                first_lsn,
            });
        }
    }
    out.sort_by_key(|s| s.first_lsn);
    Ok(out)
}

/// The shard directories under `dir`, by shard index.
pub fn list_shards(dir: &Path) -> io::Result<Vec<(u32, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(shard) = entry.file_name().to_str().and_then(parse_shard_dir) {
            if entry.file_type()?.is_dir() {
                out.push((shard, entry.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Deletes the segments whose records all come before `lsn` (a snapshot
/// holds everything below it). A segment is covered when the next one starts
/// at or below `lsn`; the newest segment is never deleted, since the writer
/// appends to it. Returns the deleted paths, oldest first.
pub fn delete_covered(shard_dir: &Path, lsn: u64) -> io::Result<Vec<PathBuf>> {
    let segments = list_segments(shard_dir)?;
    let mut deleted = Vec::new();
    for pair in segments.windows(2) {
        if pair[1].first_lsn > lsn {
            break;
        }
        fs::remove_file(&pair[0].path)?;
        deleted.push(pair[0].path.clone());
    }
    if !deleted.is_empty() {
        sync_dir(shard_dir)?;
    }
    Ok(deleted)
}

/// Makes a directory's entries (a created or removed file) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_checks() {
        let h = SegmentHeader {
            shard: 7,
            first_lsn: 123_456,
        };
        let bytes = h.encode();
        assert_eq!(SegmentHeader::decode(&bytes), Ok(h));
        let mut bad = bytes;
        bad[17] ^= 1;
        assert_eq!(SegmentHeader::decode(&bad), Err(HeaderError::Crc));
        bad = bytes;
        bad[0] = b'X';
        assert_eq!(SegmentHeader::decode(&bad), Err(HeaderError::Magic));
        assert_eq!(SegmentHeader::decode(&bytes[..31]), Err(HeaderError::Short));
    }

    #[test]
    fn names_sort_by_lsn() {
        let a = segment_name(9);
        let b = segment_name(10);
        assert!(a < b);
        assert_eq!(a, "wal-00000000000000000009.log");
        assert_eq!(parse_segment_name(&b), Some(10));
        assert_eq!(parse_segment_name("wal-1.log"), None);
        assert_eq!(parse_segment_name("wal-0000000000000000000x.log"), None);
        assert_eq!(parse_shard_dir("shard-003"), Some(3));
        assert_eq!(parse_shard_dir("shard-"), None);
        assert_eq!(shard_dir(Path::new("/d"), 3), Path::new("/d/shard-003"));
    }

    #[test]
    fn delete_covered_keeps_what_a_snapshot_lacks() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        for lsn in [0u64, 10, 20] {
            fs::write(dir.join(segment_name(lsn)), b"").unwrap();
        }
        fs::write(dir.join("notes.txt"), b"").unwrap();
        // Below 10 nothing is whole: segment 0 may hold LSN 9.
        assert!(delete_covered(dir, 9).unwrap().is_empty());
        assert_eq!(
            delete_covered(dir, 15).unwrap(),
            vec![dir.join(segment_name(0))]
        );
        // The newest segment stays even when the snapshot is past it.
        assert_eq!(
            delete_covered(dir, 100).unwrap(),
            vec![dir.join(segment_name(10))]
        );
        let left: Vec<u64> = list_segments(dir)
            .unwrap()
            .iter()
            .map(|s| s.first_lsn)
            .collect();
        assert_eq!(left, vec![20]);
    }
}
