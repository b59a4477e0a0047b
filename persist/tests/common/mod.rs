//! Helpers shared by the WAL scenario tests: a log written with the real
//! writer, and its records read back.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use persist::wal::{
    segment, OnCorruption, Record, RecordType, Recovery, RecoveryError, WalReader, WalWriter,
    WriterOptions,
};

/// Payload of the record with this LSN: its size varies so records straddle
/// block boundaries.
pub fn payload(lsn: u64) -> Vec<u8> {
    let len = (lsn as usize * 37) % 300;
    (0..len).map(|i| (lsn as usize + i) as u8 | 1).collect()
}

pub fn kind(lsn: u64) -> RecordType {
    [
        RecordType::Put,
        RecordType::Delete,
        RecordType::Batch,
        RecordType::FlushDb,
    ][lsn as usize % 4]
}

/// Writes records `from..to` to shard `shard` in groups of `group`, one
/// write and sync per group.
pub fn write_log(
    dir: &Path,
    shard: u32,
    from: u64,
    to: u64,
    group: u64,
    segment_size: u64,
) -> WalWriter {
    let opts = WriterOptions {
        segment_size,
        direct: true,
    };
    let mut w = WalWriter::create(dir, shard, from, opts).unwrap();
    for lsn in from..to {
        assert_eq!(w.append(kind(lsn), &payload(lsn)).unwrap(), lsn);
        if (lsn + 1) % group == 0 {
            w.flush_sync().unwrap();
        }
    }
    w.flush_sync().unwrap();
    w
}

pub fn segments(dir: &Path, shard: u32) -> Vec<PathBuf> {
    segment::list_segments(&segment::shard_dir(dir, shard))
        .unwrap()
        .into_iter()
        .map(|s| s.path)
        .collect()
}

/// Every record, the first error if any, and what recovery found.
pub fn read_all(
    dir: &Path,
    shard: u32,
    mode: OnCorruption,
) -> (Vec<Record>, Option<RecoveryError>, Recovery) {
    let mut reader = WalReader::open(dir, shard, mode).unwrap();
    let mut records = Vec::new();
    let mut error = None;
    for item in reader.by_ref() {
        match item {
            Ok(r) => records.push(r),
            Err(e) => error = Some(e),
        }
    }
    (records, error, reader.into_recovery())
}

/// Checks that `records` are exactly LSNs `from..to` as `write_log` wrote them.
pub fn assert_records(records: &[Record], from: u64, to: u64) {
    let lsns: Vec<u64> = records.iter().map(|r| r.lsn).collect();
    assert_eq!(lsns, (from..to).collect::<Vec<_>>());
    for r in records {
        assert_eq!(r.kind, kind(r.lsn));
        assert_eq!(r.payload, payload(r.lsn), "payload of LSN {}", r.lsn);
    }
}

/// Offsets where each record of a segment ends (header end first).
pub fn record_ends(data: &[u8]) -> Vec<usize> {
    let (found, _) = persist::wal::record::scan(data, segment::HEADER_LEN);
    std::iter::once(segment::HEADER_LEN)
        .chain(found.iter().map(|f| f.end()))
        .collect()
}
