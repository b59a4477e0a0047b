//! Reading a snapshot back, checking every checksum on the way.

use super::format::*;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Yields a snapshot's records in order. Each block is verified before its
/// records are handed out; the record count and the whole-file checksum
/// are verified when [`SnapshotReader::next_record`] returns `Ok(None)`,
/// so a loader commits what it read only after that.
pub struct SnapshotReader {
    path: PathBuf,
    input: BufReader<File>,
    file_len: u64,
    header: SnapshotHeader,
    /// Offset of the next byte to read from the file.
    offset: u64,
    file_crc: u32,
    block: Vec<u8>,
    stored: Vec<u8>,
    /// Where the current block starts in the file, and how far into its
    /// raw bytes the next record is.
    block_offset: u64,
    pos: usize,
    block_records_left: u32,
    records: u64,
    blocks: u64,
    done: bool,
}

impl SnapshotReader {
    pub fn open(path: &Path) -> Result<SnapshotReader, SnapshotError> {
        let file = File::open(path).map_err(io_at(path))?;
        let file_len = file.metadata().map_err(io_at(path))?.len();
        let mut r = SnapshotReader {
            path: path.to_path_buf(),
            input: BufReader::with_capacity(256 * 1024, file),
            file_len,
            header: SnapshotHeader {
                shard_id: 0,
                shard_count: 0,
                lsn: 0,
                created_ms: 0,
            },
            offset: 0,
            file_crc: 0,
            block: Vec::new(),
            stored: Vec::new(),
            block_offset: 0,
            pos: 0,
            block_records_left: 0,
            records: 0,
            blocks: 0,
            done: false,
        };
        let mut head = [0u8; HEADER_LEN];
        r.read_exact(&mut head)?;
        r.header = SnapshotHeader::parse(&head).map_err(|what| r.corrupt(0, what))?;
        // The file checksum starts after the header, which has its own.
        r.file_crc = 0;
        Ok(r)
    }

    pub fn header(&self) -> &SnapshotHeader {
        &self.header
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of the file read so far, and its size (for progress reports).
    pub fn bytes_read(&self) -> u64 {
        self.offset
    }

    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    fn corrupt(&self, offset: u64, what: impl Into<String>) -> SnapshotError {
        SnapshotError::Corrupt {
            path: self.path.clone(),
            offset,
            what: what.into(),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), SnapshotError> {
        if self.file_len - self.offset < buf.len() as u64 {
            return Err(self.corrupt(self.offset, "file ends early (truncated)"));
        }
        self.input.read_exact(buf).map_err(io_at(&self.path))?;
        self.file_crc = crc32c::crc32c_append(self.file_crc, buf);
        self.offset += buf.len() as u64;
        Ok(())
    }

    /// The next record, `Ok(None)` once the trailer has been verified.
    pub fn next_record(&mut self) -> Result<Option<&[u8]>, SnapshotError> {
        while self.block_records_left == 0 {
            if self.pos != self.block.len() {
                return Err(self.corrupt(self.block_offset, "bytes after the block's records"));
            }
            if self.done || !self.next_block()? {
                return Ok(None);
            }
        }
        let rest = &self.block[self.pos..];
        let at = self.pos;
        let Some((len, prefix)) = var_at(rest) else {
            return Err(self.corrupt(
                self.block_offset,
                format!("bad record length at {at} in block"),
            ));
        };
        if len > (rest.len() - prefix) as u64 {
            return Err(self.corrupt(
                self.block_offset,
                format!("record at {at} overruns its block"),
            ));
        }
        let start = self.pos + prefix;
        self.pos = start + len as usize;
        self.block_records_left -= 1;
        Ok(Some(&self.block[start..self.pos]))
    }

    /// Reads and verifies the next block; false at the (verified) trailer.
    fn next_block(&mut self) -> Result<bool, SnapshotError> {
        let at = self.offset;
        let mut kind = [0u8; 1];
        self.read_exact(&mut kind)?;
        if kind[0] == KIND_TRAILER {
            self.finish(at)?;
            return Ok(false);
        }
        let mut rest = [0u8; BLOCK_HEADER_LEN - 1];
        self.read_exact(&mut rest)?;
        let mut head = [0u8; BLOCK_HEADER_LEN];
        head[0] = kind[0];
        head[1..].copy_from_slice(&rest);
        let (records, raw_len, stored_len) = (u32_at(&head, 1), u32_at(&head, 5), u32_at(&head, 9));
        if stored_len as u64 > self.file_len - self.offset {
            return Err(self.corrupt(at, "block longer than the file (truncated or damaged)"));
        }
        let mut stored = std::mem::take(&mut self.stored);
        stored.resize(stored_len as usize, 0);
        let read = self.read_exact(&mut stored);
        self.stored = stored;
        read?;
        let crc = crc32c::crc32c_append(crc32c::crc32c(&head[..13]), &self.stored);
        if crc != u32_at(&head, 13) {
            return Err(self.corrupt(at, "block checksum mismatch"));
        }
        match head[0] {
            KIND_RAW if raw_len == stored_len => {
                std::mem::swap(&mut self.block, &mut self.stored);
            }
            KIND_LZ4 if raw_len as u64 <= stored_len as u64 * LZ4_MAX_RATIO => {
                self.block.resize(raw_len as usize, 0);
                match lz4_flex::block::decompress_into(&self.stored, &mut self.block) {
                    Ok(n) if n == raw_len as usize => {}
                    _ => return Err(self.corrupt(at, "block does not decompress")),
                }
            }
            kind => return Err(self.corrupt(at, format!("bad block (kind {kind})"))),
        }
        if records == 0 {
            return Err(self.corrupt(at, "empty block"));
        }
        self.block_offset = at;
        self.pos = 0;
        self.block_records_left = records;
        self.records += u64::from(records);
        self.blocks += 1;
        Ok(true)
    }

    fn finish(&mut self, at: u64) -> Result<(), SnapshotError> {
        let mut rest = [0u8; TRAILER_LEN - 1];
        // The checksum field is not part of what it covers.
        self.read_exact(&mut rest[..16])?;
        let expected = self.file_crc;
        self.read_exact(&mut rest[16..])?;
        if u32_at(&rest, 16) != expected {
            return Err(self.corrupt(at, "file checksum mismatch"));
        }
        if u64_at(&rest, 0) != self.records || u64_at(&rest, 8) != self.blocks {
            return Err(self.corrupt(at, "trailer counts do not match the blocks"));
        }
        if self.offset != self.file_len {
            return Err(self.corrupt(self.offset, "bytes after the trailer"));
        }
        self.done = true;
        Ok(())
    }
}
