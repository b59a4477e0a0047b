//! Write many records across rotated segments and two shards, read them all
//! back, drop what a snapshot covers, continue the log after a restart.

mod common;

use common::*;
use persist::wal::{check_data, segment, OnCorruption, WalWriter, WriterOptions};

#[test]
fn records_come_back_in_order_across_segments_and_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    drop(write_log(dir, 0, 0, 500, 7, 8192));
    drop(write_log(dir, 2, 0, 40, 40, 1 << 20));
    assert!(segments(dir, 0).len() > 5, "rotation at 8 KiB");
    assert_eq!(segments(dir, 2).len(), 1);

    let (records, error, recovery) = read_all(dir, 0, OnCorruption::Fail);
    assert!(error.is_none());
    assert_records(&records, 0, 500);
    assert_eq!(recovery.next_lsn, 500);
    assert_eq!(recovery.torn_tail, None);
    let (records, _, _) = read_all(dir, 2, OnCorruption::Fail);
    assert_records(&records, 0, 40);

    let report = check_data(dir).unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.files.iter().map(|f| f.records).sum::<u64>(), 540);
    assert!(report.files.iter().all(|f| f.torn_tail.is_none()));

    // A snapshot up to LSN 300: older segments go, the rest still reads.
    let deleted = segment::delete_covered(&segment::shard_dir(dir, 0), 300).unwrap();
    assert!(!deleted.is_empty());
    let mut reader = persist::wal::WalReader::open(dir, 0, OnCorruption::Fail).unwrap();
    let first = reader.first_lsn().unwrap();
    assert!(first <= 300 && first > 0);
    let records: Vec<_> = reader.by_ref().map(Result::unwrap).collect();
    assert_records(&records, first, 500);

    // Restart: the log goes on in a new segment from the recovered LSN.
    let next = reader.into_recovery().next_lsn;
    let mut w = WalWriter::create(
        dir,
        0,
        next,
        WriterOptions {
            segment_size: 8192,
            direct: true,
        },
    )
    .unwrap();
    for lsn in 500..520 {
        assert_eq!(w.append(kind(lsn), &payload(lsn)).unwrap(), lsn);
    }
    w.flush_sync().unwrap();
    let (records, error, _) = read_all(dir, 0, OnCorruption::Fail);
    assert!(error.is_none());
    assert_records(&records, first, 520);
    assert!(check_data(dir).unwrap().is_clean());
}

#[test]
fn an_empty_log_reads_as_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (records, error, recovery) = read_all(tmp.path(), 0, OnCorruption::Fail);
    assert!(records.is_empty() && error.is_none());
    assert_eq!(recovery.next_lsn, 0);
    // A segment with a header and no record.
    drop(write_log(tmp.path(), 0, 42, 42, 1, 1 << 20));
    let (records, error, recovery) = read_all(tmp.path(), 0, OnCorruption::Fail);
    assert!(records.is_empty() && error.is_none());
    assert_eq!(recovery.next_lsn, 42);
}
