//! Writing a snapshot as a stream of records.

use super::format::*;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// What a finished snapshot holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotSummary {
    pub path: PathBuf,
    pub records: u64,
    pub blocks: u64,
    /// Raw record bytes (with their length prefixes) and the file's size.
    pub raw_bytes: u64,
    pub file_bytes: u64,
}

/// Appends records, compressing them a block at a time, into a temporary
/// file that [`SnapshotWriter::finish`] makes durable and renames; dropped
/// unfinished, it removes the temporary file.
pub struct SnapshotWriter {
    out: BufWriter<File>,
    dir: PathBuf,
    tmp: PathBuf,
    path: PathBuf,
    block: Vec<u8>,
    block_records: u32,
    compressed: Vec<u8>,
    records: u64,
    blocks: u64,
    raw_bytes: u64,
    file_bytes: u64,
    file_crc: u32,
    header: SnapshotHeader,
    finished: bool,
}

impl SnapshotWriter {
    /// Starts `dir/name` (written as `dir/name.tmp` until finished).
    pub fn create(
        dir: &Path,
        name: &str,
        header: SnapshotHeader,
    ) -> Result<SnapshotWriter, SnapshotError> {
        let path = dir.join(name);
        let tmp = dir.join(format!("{name}.tmp"));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io_at(&tmp))?;
        let mut w = SnapshotWriter {
            out: BufWriter::with_capacity(256 * 1024, file),
            dir: dir.to_path_buf(),
            tmp,
            path,
            block: Vec::with_capacity(BLOCK_TARGET + 1024),
            block_records: 0,
            compressed: Vec::new(),
            records: 0,
            blocks: 0,
            raw_bytes: 0,
            file_bytes: 0,
            file_crc: 0,
            header,
            finished: false,
        };
        w.write(&header.to_bytes())?;
        // The file checksum covers what follows the header (see the module
        // documentation): the header may be rewritten at the end.
        w.file_crc = 0;
        Ok(w)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        self.file_crc = crc32c::crc32c_append(self.file_crc, bytes);
        self.file_bytes += bytes.len() as u64;
        self.out.write_all(bytes).map_err(io_at(&self.tmp))
    }

    /// Adds one record.
    pub fn append(&mut self, record: &[u8]) -> Result<(), SnapshotError> {
        // A block's raw length is a u32, prefix included.
        if record.len() > u32::MAX as usize - 16 {
            return Err(SnapshotError::RecordTooLarge(record.len()));
        }
        let needed = record.len() + 10;
        if !self.block.is_empty() && self.block.len() + needed > BLOCK_TARGET {
            self.flush_block()?;
        }
        let before = self.block.len();
        put_var(&mut self.block, record.len() as u64);
        self.block.extend_from_slice(record);
        self.raw_bytes += (self.block.len() - before) as u64;
        self.block_records += 1;
        self.records += 1;
        if self.block.len() >= BLOCK_TARGET {
            self.flush_block()?;
        }
        Ok(())
    }

    fn flush_block(&mut self) -> Result<(), SnapshotError> {
        if self.block.is_empty() {
            return Ok(());
        }
        self.compressed.resize(
            lz4_flex::block::get_maximum_output_size(self.block.len()),
            0,
        );
        let packed = lz4_flex::block::compress_into(&self.block, &mut self.compressed)
            .ok()
            .filter(|&n| n < self.block.len());
        let (kind, stored_len) = match packed {
            Some(n) => (KIND_LZ4, n),
            None => (KIND_RAW, self.block.len()),
        };
        let mut head = [0u8; BLOCK_HEADER_LEN];
        head[0] = kind;
        head[1..5].copy_from_slice(&self.block_records.to_le_bytes());
        head[5..9].copy_from_slice(&(self.block.len() as u32).to_le_bytes());
        head[9..13].copy_from_slice(&(stored_len as u32).to_le_bytes());
        let stored = std::mem::take(if kind == KIND_LZ4 {
            &mut self.compressed
        } else {
            &mut self.block
        });
        let crc = crc32c::crc32c_append(crc32c::crc32c(&head[..13]), &stored[..stored_len]);
        head[13..].copy_from_slice(&crc.to_le_bytes());
        let result = self
            .write(&head)
            .and_then(|_| self.write(&stored[..stored_len]));
        // Give the buffer back, emptied, so its capacity is reused.
        if kind == KIND_LZ4 {
            self.compressed = stored;
        } else {
            self.block = stored;
        }
        self.block.clear();
        self.block_records = 0;
        self.blocks += 1;
        result
    }

    /// Writes the last block and the trailer, fsyncs, renames the file into
    /// place and fsyncs the directory.
    pub fn finish(self) -> Result<SnapshotSummary, SnapshotError> {
        let (lsn, path) = (self.header.lsn, self.path.clone());
        self.finish_as(lsn, &path)
    }

    /// [`SnapshotWriter::finish`], with the header's covered LSN set to
    /// `lsn` and the file renamed to `path` (in the same directory) rather
    /// than the name it was created with. An existing file of that name is
    /// replaced.
    pub fn finish_as(mut self, lsn: u64, path: &Path) -> Result<SnapshotSummary, SnapshotError> {
        self.path = path.to_path_buf();
        self.flush_block()?;
        let mut trailer = [0u8; TRAILER_LEN];
        trailer[0] = KIND_TRAILER;
        trailer[1..9].copy_from_slice(&self.records.to_le_bytes());
        trailer[9..17].copy_from_slice(&self.blocks.to_le_bytes());
        let crc = crc32c::crc32c_append(self.file_crc, &trailer[..17]);
        trailer[17..].copy_from_slice(&crc.to_le_bytes());
        self.write(&trailer)?;
        self.out.flush().map_err(io_at(&self.tmp))?;
        if lsn != self.header.lsn {
            self.header.lsn = lsn;
            self.out
                .get_ref()
                .write_all_at(&self.header.to_bytes(), 0)
                .map_err(io_at(&self.tmp))?;
        }
        self.out.get_ref().sync_all().map_err(io_at(&self.tmp))?;
        std::fs::rename(&self.tmp, &self.path).map_err(io_at(&self.path))?;
        self.finished = true;
        fsync_dir(&self.dir)?;
        Ok(SnapshotSummary {
            path: self.path.clone(),
            records: self.records,
            blocks: self.blocks,
            raw_bytes: self.raw_bytes,
            file_bytes: self.file_bytes,
        })
    }
}

impl Drop for SnapshotWriter {
    fn drop(&mut self) {
        if !self.finished {
            // An abandoned snapshot leaves nothing behind; a failure to
            // remove it is harmless (the next one truncates it).
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
