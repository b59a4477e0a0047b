//! Snapshot files: one shard's keys at one point, compressed and checksummed.
//!
//! ```text
//! header  magic "TGXSNAP\0" | version u16 | 0 u16 | shard u32 | shards u32
//!         | covered WAL LSN u64 | created Unix ms u64 | CRC32C of the above u32
//! block*  kind u8 (1 raw, 2 lz4) | records u32 | raw length u32
//!         | stored length u32 | CRC32C of these 13 bytes and the stored bytes u32
//!         | stored bytes (records: LEB128 length, then the bytes)
//! trailer 0xFF | records u64 | blocks u64
//!         | CRC32C of everything between the header and this field u32
//! ```
//! All integers are little-endian. Entry records are opaque here (the
//! shard crate's codec makes them).
//!
//! The header has its own checksum and the file checksum starts after it,
//! so the header can be rewritten once the records are written: a snapshot
//! taken while the shard keeps serving learns the WAL position it covers
//! only when it completes ([`SnapshotWriter::finish_as`]).
//!
//! Why lz4 (`lz4_flex`) rather than zstd: a snapshot is taken while the
//! shard keeps serving, on the shard's own core, so compression must cost
//! little CPU; lz4 compresses at several hundred MB/s per core and
//! decompresses at GB/s, where zstd at a comparable ratio is several times
//! slower, and session tokens are mostly random bytes that no compressor
//! shrinks much. `lz4_flex` is pure Rust (no C toolchain in the build) and
//! its block format is enough, since blocks carry their own lengths and
//! checksums. A block that lz4 does not shrink is stored raw.
//!
//! Blocks gather records up to [`BLOCK_TARGET`] bytes; a larger record gets
//! a block of its own. Each block is checked before it is decompressed, so
//! a damaged length never reaches the allocator; a crafted file can ask at
//! most lz4's maximum ratio (255) times its stored bytes.
//!
//! A snapshot is written to a temporary name, fsynced, renamed into place,
//! and its directory fsynced: a file with the final name is always whole.
//! The data directory's manifest ([`manifest`]) names each shard's current
//! snapshot and the WAL position it covers.

mod check;
mod format;
pub mod manifest;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

pub use check::{check_snapshots, SnapshotFileReport, SnapshotReport};
pub use format::{SnapshotError, SnapshotHeader, BLOCK_TARGET};
pub use reader::SnapshotReader;
pub use writer::{SnapshotSummary, SnapshotWriter};
