//! The appending side of a shard's log, shaped for direct I/O and group
//! commit.
//!
//! Records are encoded straight into a 4 KiB-aligned buffer. A flush writes
//! whole blocks: from the block holding the first unwritten byte to the end
//! of the last record, rounded up with zeros. The partial last block stays in
//! the buffer, so the next flush writes it again, at the same file offset,
//! with the new records after the old ones; the zeros a flush leaves after
//! the last record are overwritten, never skipped, and a segment holds no
//! padding except at its end. (Rewriting that block risks little: a torn
//! rewrite can only damage records of the same unacknowledged group, since
//! records already in the block were synced with identical bytes.)
//!
//! Group commit is the caller's: append every record of an event-loop turn,
//! then take [`WalWriter::start_write`] (file descriptor, offset, aligned
//! bytes), submit the write and an fdatasync on the loop's own ring, and call
//! [`WalWriter::complete`] once both are done. One write is in flight at a
//! time; records appended meanwhile wait in a staging buffer (the aligned
//! buffer is the kernel's until completion) and make the next group. [`WalWriter::flush_sync`] does
//! the same with `pwrite` and `fdatasync`, for tests and tools.
//!
//! A segment is rotated at the first append after a completed flush that
//! finds it at or past the size limit, so rotation never splits a group and
//! the old segment is fully synced before the new one starts.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::aligned::{round_down, AlignedBuf};
use super::record::{self, RecordType};
use super::segment::{self, SegmentHeader};

#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// A segment is closed once it reaches this size (it may exceed it by
    /// one group of records).
    pub segment_size: u64,
    /// Open segments with O_DIRECT (falls back to buffered I/O on file
    /// systems that refuse it, such as tmpfs).
    pub direct: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            segment_size: 64 << 20,
            direct: true,
        }
    }
}

/// One write to submit: `bytes` at `offset` of the file `fd`. Offset and
/// length are multiples of 4 KiB and the bytes are 4 KiB-aligned in memory.
#[derive(Debug)]
pub struct PendingWrite<'a> {
    pub fd: RawFd,
    pub offset: u64,
    pub bytes: &'a [u8],
}

pub struct WalWriter {
    shard_dir: PathBuf,
    shard: u32,
    opts: WriterOptions,
    file: File,
    path: PathBuf,
    /// Bytes from `file_base` on: the tail block already on disk followed by
    /// records not yet written.
    buf: AlignedBuf,
    /// File offset of `buf[0]`, a multiple of BLOCK.
    file_base: u64,
    /// How much of `buf` is durable.
    durable: usize,
    /// A write of `buf` was handed out and has not completed.
    in_flight: bool,
    /// Records appended while a write is in flight.
    staged: Vec<u8>,
    /// Records in the current segment.
    records: u64,
    /// How many of them are staged.
    staged_records: u64,
    /// LSN of the current segment's first record.
    first_lsn: u64,
    /// Close the segment at the next chance, whatever its size.
    rotate_requested: bool,
    next_lsn: u64,
}

impl WalWriter {
    /// Starts a new segment at `next_lsn` in `<dir>/shard-NNN/`. After a
    /// recovery, `next_lsn` is the reader's next LSN; the log then goes on in
    /// a fresh segment and the recovered ones stay as they are.
    pub fn create(
        dir: &Path,
        shard: u32,
        next_lsn: u64,
        opts: WriterOptions,
    ) -> io::Result<WalWriter> {
        let shard_dir = segment::shard_dir(dir, shard);
        fs::create_dir_all(&shard_dir)?;
        remove_if_empty(&shard_dir.join(segment::segment_name(next_lsn)))?;
        let (file, path) = open_segment(&shard_dir, next_lsn, opts.direct)?;
        let mut writer = WalWriter {
            shard_dir,
            shard,
            opts,
            file,
            path,
            buf: AlignedBuf::with_capacity(64 * 1024),
            file_base: 0,
            durable: 0,
            in_flight: false,
            staged: Vec::new(),
            records: 0,
            staged_records: 0,
            first_lsn: next_lsn,
            rotate_requested: false,
            next_lsn,
        };
        writer.buf.extend_from_slice(
            &SegmentHeader {
                shard,
                first_lsn: next_lsn,
            }
            .encode(),
        );
        Ok(writer)
    }

    /// LSN the next appended record will get.
    pub fn next_lsn(&self) -> u64 {
        self.next_lsn
    }

    /// LSN of the current segment's first record (the one it is named by).
    pub fn segment_first_lsn(&self) -> u64 {
        self.first_lsn
    }

    /// Asks for the current segment to be closed at the next chance (a
    /// snapshot then covers it whole), whatever its size: at once if no
    /// write is owed, else when the write in flight completes.
    pub fn request_rotation(&mut self) -> io::Result<()> {
        if self.records == 0 {
            return Ok(());
        }
        self.rotate_requested = true;
        if !self.in_flight && self.durable == self.buf.len() {
            self.rotate(self.next_lsn)?;
            // The new segment's header goes to disk now: a segment file
            // left empty would read as a torn write at the next start.
            self.flush_sync()?;
        }
        Ok(())
    }

    fn rotation_due(&self) -> bool {
        self.records > 0 && (self.rotate_requested || self.segment_len() >= self.opts.segment_size)
    }

    pub fn segment_path(&self) -> &Path {
        &self.path
    }

    /// Size of the current segment once pending bytes are written (staged
    /// ones aside).
    pub fn segment_len(&self) -> u64 {
        self.file_base + self.buf.len() as u64
    }

    /// Appends one record to the buffer and returns its LSN. Nothing reaches
    /// the disk until the pending write is submitted.
    pub fn append(&mut self, kind: RecordType, payload: &[u8]) -> io::Result<u64> {
        if payload.len() > record::MAX_PAYLOAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "WAL record too large",
            ));
        }
        let framed = record::framed_len(payload.len());
        if self.in_flight {
            // The buffer is the kernel's until the write completes.
            let at = self.staged.len();
            self.staged.resize(at + framed, 0);
            record::encode_into(&mut self.staged[at..], kind, payload);
            self.staged_records += 1;
        } else {
            if self.durable == self.buf.len() && self.rotation_due() {
                self.rotate(self.next_lsn)?;
            }
            record::encode_into(self.buf.extend(framed), kind, payload);
        }
        self.records += 1;
        self.next_lsn += 1;
        Ok(self.next_lsn - 1)
    }

    /// The write that makes every record appended so far durable, if one is
    /// owed and none is in flight. The buffer is left alone until
    /// [`WalWriter::complete`]: records appended meanwhile are staged apart
    /// and go with the next write.
    pub fn start_write(&mut self) -> Option<PendingWrite<'_>> {
        if self.in_flight || self.durable == self.buf.len() {
            return None;
        }
        self.in_flight = true;
        let from = round_down(self.durable);
        Some(PendingWrite {
            fd: self.file.as_raw_fd(),
            offset: self.file_base + from as u64,
            bytes: self.buf.blocks(from, self.buf.len()),
        })
    }

    /// Whether a write is in flight, or records wait for one.
    pub fn is_flushed(&self) -> bool {
        !self.in_flight && self.durable == self.buf.len()
    }

    /// Records that the write from [`WalWriter::start_write`] and a sync
    /// after it have completed: its records are durable. Keeps only the
    /// partial last block, to be rewritten by the next write.
    pub fn complete(&mut self) -> io::Result<()> {
        assert!(self.in_flight, "complete() without a write in flight");
        self.in_flight = false;
        self.durable = self.buf.len();
        let whole = round_down(self.buf.len());
        if whole > 0 {
            self.buf.drain_front(whole);
            self.file_base += whole as u64;
            self.durable -= whole;
        }
        // Under steady load a group is always staged behind the one in
        // flight, and a rotation left to the next append would never come:
        // it happens here, the staged records starting the new segment.
        // (Without staged records the next append rotates, so no segment
        // is created empty.)
        let mut result = Ok(());
        if self.staged_records > 0 && self.records > self.staged_records && self.rotation_due() {
            let staged = self.staged_records;
            result = self.rotate(self.next_lsn - staged);
            if result.is_ok() {
                self.records = staged;
            }
        }
        self.buf.extend_from_slice(&self.staged);
        self.staged.clear();
        self.staged_records = 0;
        result
    }

    /// The write from [`WalWriter::start_write`] failed: nothing it carried
    /// counts as durable, and the next write starts from the same place.
    pub fn abort_write(&mut self) {
        assert!(self.in_flight, "abort_write() without a write in flight");
        self.in_flight = false;
        self.buf.extend_from_slice(&self.staged);
        self.staged.clear();
        self.staged_records = 0;
    }

    /// The current segment's file, for a sync submitted apart from a write.
    pub fn raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Writes and syncs every appended record with plain system calls.
    pub fn flush_sync(&mut self) -> io::Result<()> {
        self.write_pending(true)
    }

    /// Writes every appended record with `pwrite`, without a sync: into the
    /// page cache, for appendfsync everysec and no.
    pub fn flush_buffered(&mut self) -> io::Result<()> {
        self.write_pending(false)
    }

    fn write_pending(&mut self, sync: bool) -> io::Result<()> {
        if self.in_flight {
            return Err(io::Error::other("a WAL write is already in flight"));
        }
        if self.durable < self.buf.len() {
            let from = round_down(self.durable);
            let bytes = self.buf.blocks(from, self.buf.len());
            self.file
                .write_all_at(bytes, self.file_base + from as u64)?;
            if sync {
                self.file.sync_data()?;
            }
            self.in_flight = true;
            self.complete()?;
        }
        Ok(())
    }

    /// Starts a new segment whose first record has LSN `first_lsn`; every
    /// byte in the buffer is durable in the old one.
    fn rotate(&mut self, first_lsn: u64) -> io::Result<()> {
        // Writes without their own sync (appendfsync everysec or no) may
        // still sit in the page cache: the old segment is made durable
        // before the log moves on, so a later sync of the new one covers all.
        self.file.sync_data()?;
        let (file, path) = open_segment(&self.shard_dir, first_lsn, self.opts.direct)?;
        self.file = file;
        self.path = path;
        // Everything in the buffer is durable in the old segment.
        self.buf = AlignedBuf::with_capacity(self.buf.capacity());
        self.buf.extend_from_slice(
            &SegmentHeader {
                shard: self.shard,
                first_lsn,
            }
            .encode(),
        );
        self.file_base = 0;
        self.durable = 0;
        self.records = 0;
        self.first_lsn = first_lsn;
        self.rotate_requested = false;
        Ok(())
    }
}

/// A segment named for `next_lsn` already exists when the previous run
/// created it and crashed before any record in it was durable. It holds
/// nothing, so it goes; one that holds a record is left for `create_new` to
/// refuse.
fn remove_if_empty(path: &Path) -> io::Result<()> {
    let data = match fs::read(path) {
        Ok(data) => data,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let start = segment::HEADER_LEN.min(data.len());
    if record::scan(&data, start).0.is_empty() {
        fs::remove_file(path)?;
    }
    Ok(())
}

/// Creates a segment file and makes its name durable. A file already there
/// is an error: segments are never reused.
fn open_segment(shard_dir: &Path, first_lsn: u64, direct: bool) -> io::Result<(File, PathBuf)> {
    let path = shard_dir.join(segment::segment_name(first_lsn));
    let open = |flags: i32| {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(flags)
            .open(&path)
    };
    let file = if direct {
        match open(libc::O_DIRECT) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                // create_new may have made the file before the flag was refused.
                let _ = fs::remove_file(&path);
                open(0)?
            }
            other => other?,
        }
    } else {
        open(0)?
    };
    segment::sync_dir(shard_dir)?;
    Ok((file, path))
}

#[cfg(test)]
mod tests {
    use super::super::aligned::BLOCK;
    use super::*;

    fn opts(segment_size: u64) -> WriterOptions {
        WriterOptions {
            segment_size,
            direct: true,
        }
    }

    /// Submits the pending write the way an event loop would, with its
    /// own system calls on the descriptor, and returns (offset, length).
    fn submit(w: &mut WalWriter) -> (u64, usize) {
        let p = w.start_write().unwrap();
        assert_eq!(p.bytes.as_ptr() as usize % BLOCK, 0);
        // SAFETY: the bytes stay borrowed, hence valid, across the call.
        let n = unsafe {
            libc::pwrite(
                p.fd,
                p.bytes.as_ptr().cast(),
                p.bytes.len(),
                p.offset as i64,
            )
        };
        assert_eq!(n, p.bytes.len() as isize);
        assert_eq!(unsafe { libc::fdatasync(p.fd) }, 0);
        let done = (p.offset, p.bytes.len());
        w.complete().unwrap();
        done
    }

    #[test]
    fn writes_whole_blocks_and_rewrites_the_tail_block() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = WalWriter::create(tmp.path(), 0, 0, opts(1 << 20)).unwrap();
        assert_eq!(w.append(RecordType::Put, b"a").unwrap(), 0);
        assert_eq!(w.append(RecordType::Put, b"b").unwrap(), 1);
        assert_eq!(submit(&mut w), (0, BLOCK));
        assert!(w.is_flushed() && w.start_write().is_none());
        // 5000 more bytes: the first block is written again, with the rest.
        w.append(RecordType::Put, &[9; 5000]).unwrap();
        assert_eq!(submit(&mut w), (0, 2 * BLOCK));
        // Now the first block is whole and dropped; the next write starts at the second.
        w.append(RecordType::Delete, b"k").unwrap();
        assert_eq!(submit(&mut w), (BLOCK as u64, BLOCK));
        let len = fs::metadata(w.segment_path()).unwrap().len();
        assert_eq!(len, 2 * BLOCK as u64);
    }

    #[test]
    fn records_appended_during_a_write_make_the_next_group() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = WalWriter::create(tmp.path(), 0, 0, opts(1 << 20)).unwrap();
        w.append(RecordType::Put, b"first").unwrap();
        let p = w.start_write().unwrap();
        // As an io_uring submission would, keep only the address: the
        // writer promises not to touch these bytes until complete().
        let (fd, offset, ptr, len) = (p.fd, p.offset, p.bytes.as_ptr(), p.bytes.len());
        // The event loop goes on while the write is in flight.
        assert_eq!(w.append(RecordType::Put, &[3; 6000]).unwrap(), 1);
        assert!(w.start_write().is_none(), "one write in flight at a time");
        // SAFETY: the aligned buffer is neither moved nor written while a
        // write is in flight (what this test checks by reading back).
        let n = unsafe { libc::pwrite(fd, ptr.cast(), len, offset as i64) };
        assert_eq!(n, len as isize);
        w.complete().unwrap();
        assert!(!w.is_flushed());
        w.flush_sync().unwrap();
        assert!(w.is_flushed());
        let data = fs::read(w.segment_path()).unwrap();
        let (found, _) = record::scan(&data, segment::HEADER_LEN);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].payload(&data), b"first");
        assert_eq!(found[1].payload(&data), &[3; 6000][..]);
    }

    #[test]
    fn rotates_between_groups() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = WalWriter::create(tmp.path(), 3, 100, opts(BLOCK as u64)).unwrap();
        for _ in 0..3 {
            w.append(RecordType::Put, &[1; 2000]).unwrap();
        }
        w.flush_sync().unwrap();
        // Past the limit, but the group above stayed in one segment.
        assert_eq!(
            segment::list_segments(&segment::shard_dir(tmp.path(), 3))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(w.append(RecordType::Put, b"x").unwrap(), 103);
        w.flush_sync().unwrap();
        let segs = segment::list_segments(&segment::shard_dir(tmp.path(), 3)).unwrap();
        let firsts: Vec<u64> = segs.iter().map(|s| s.first_lsn).collect();
        assert_eq!(firsts, vec![100, 103]);
        let data = fs::read(&segs[1].path).unwrap();
        assert_eq!(
            SegmentHeader::decode(&data).unwrap(),
            SegmentHeader {
                shard: 3,
                first_lsn: 103
            }
        );
    }

    /// Under steady load a group is always staged behind the one in
    /// flight: the segment still rotates, the staged records opening the
    /// next one with their own LSNs.
    #[test]
    fn rotates_under_steady_load_and_on_request() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = WalWriter::create(tmp.path(), 0, 0, opts(BLOCK as u64)).unwrap();
        for lsn in 0..3 {
            assert_eq!(w.append(RecordType::Put, &[1; 2000]).unwrap(), lsn);
        }
        let p = w.start_write().unwrap();
        let (fd, offset, ptr, len) = (p.fd, p.offset, p.bytes.as_ptr(), p.bytes.len());
        // Staged while the write is in flight.
        assert_eq!(w.append(RecordType::Put, b"s1").unwrap(), 3);
        assert_eq!(w.append(RecordType::Put, b"s2").unwrap(), 4);
        // SAFETY: as in the test above, the buffer is untouched until complete().
        assert_eq!(
            unsafe { libc::pwrite(fd, ptr.cast(), len, offset as i64) },
            len as isize
        );
        w.complete().unwrap();
        assert_eq!(w.segment_first_lsn(), 3);
        w.flush_sync().unwrap();
        // A requested rotation with nothing owed happens at once.
        w.request_rotation().unwrap();
        assert_eq!(w.segment_first_lsn(), 5);
        assert_eq!(w.append(RecordType::Put, b"after").unwrap(), 5);
        w.flush_sync().unwrap();
        let dir = segment::shard_dir(tmp.path(), 0);
        let firsts: Vec<u64> = segment::list_segments(&dir)
            .unwrap()
            .iter()
            .map(|s| s.first_lsn)
            .collect();
        assert_eq!(firsts, vec![0, 3, 5]);
        let records: Vec<_> =
            super::super::WalReader::open(tmp.path(), 0, super::super::OnCorruption::Fail)
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
        let lsns: Vec<u64> = records.iter().map(|r| r.lsn).collect();
        assert_eq!(lsns, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(records[3].payload, b"s1");
        assert_eq!(records[5].payload, b"after");
    }

    #[test]
    fn segments_are_never_reused() {
        let tmp = tempfile::tempdir().unwrap();
        // An empty segment left by a crash is replaced...
        drop(WalWriter::create(tmp.path(), 0, 5, opts(1 << 20)).unwrap());
        let mut w = WalWriter::create(tmp.path(), 0, 5, opts(1 << 20)).unwrap();
        // ...one holding a record is not.
        w.append(RecordType::Put, b"v").unwrap();
        w.flush_sync().unwrap();
        let err = WalWriter::create(tmp.path(), 0, 5, opts(1 << 20))
            .err()
            .unwrap();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    }
}
