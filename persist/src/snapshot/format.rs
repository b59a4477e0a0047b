//! The snapshot file's fixed parts and errors (layout in the parent module).

use std::io;
use std::path::{Path, PathBuf};

pub const MAGIC: &[u8; 8] = b"TGXSNAP\0";
pub const VERSION: u16 = 1;
pub const HEADER_LEN: usize = 40;
pub const BLOCK_HEADER_LEN: usize = 17;
pub const TRAILER_LEN: usize = 21;
pub const KIND_RAW: u8 = 1;
pub const KIND_LZ4: u8 = 2;
pub const KIND_TRAILER: u8 = 0xff;
/// Records are gathered into blocks of about this many bytes before they
/// are compressed: big enough for lz4 to find repeats across records,
/// small enough to stay in cache.
pub const BLOCK_TARGET: usize = 64 * 1024;
/// lz4 cannot expand more than this (a match byte run of 255 per byte).
pub const LZ4_MAX_RATIO: u64 = 255;

/// What a snapshot covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotHeader {
    pub shard_id: u32,
    pub shard_count: u32,
    /// WAL records up to and including this one are in the snapshot.
    pub lsn: u64,
    /// Unix milliseconds.
    pub created_ms: u64,
}

impl SnapshotHeader {
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..8].copy_from_slice(MAGIC);
        b[8..10].copy_from_slice(&VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&self.shard_id.to_le_bytes());
        b[16..20].copy_from_slice(&self.shard_count.to_le_bytes());
        b[20..28].copy_from_slice(&self.lsn.to_le_bytes());
        b[28..36].copy_from_slice(&self.created_ms.to_le_bytes());
        let crc = crc32c::crc32c(&b[..36]);
        b[36..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// The header, or what is wrong with it.
    pub fn parse(b: &[u8; HEADER_LEN]) -> Result<SnapshotHeader, String> {
        if &b[..8] != MAGIC {
            return Err("not a snapshot file (bad magic)".into());
        }
        if crc32c::crc32c(&b[..36]) != u32_at(b, 36) {
            return Err("header checksum mismatch".into());
        }
        let version = u16::from_le_bytes([b[8], b[9]]);
        if version != VERSION {
            return Err(format!(
                "snapshot format version {version} is not supported"
            ));
        }
        Ok(SnapshotHeader {
            shard_id: u32_at(b, 12),
            shard_count: u32_at(b, 16),
            lsn: u64_at(b, 20),
            created_ms: u64_at(b, 28),
        })
    }
}

pub fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

pub fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

pub fn put_var(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A LEB128 number at the start of `b`: its value and length.
pub fn var_at(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        if i == 9 && byte > 1 {
            return None;
        }
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file is damaged: where, and what was found there.
    #[error("{}: corrupt at offset {offset}: {what}", path.display())]
    Corrupt {
        path: PathBuf,
        offset: u64,
        what: String,
    },
    #[error("a record of {0} bytes is too large for a snapshot")]
    RecordTooLarge(usize),
}

/// Tags an I/O error with its file.
pub fn io_at(path: &Path) -> impl FnOnce(io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Makes a rename or a new file in `dir` durable.
pub fn fsync_dir(dir: &Path) -> Result<(), SnapshotError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_at(dir))
}
