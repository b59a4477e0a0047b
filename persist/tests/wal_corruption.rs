//! Damage in the middle of the log: a flipped bit with valid records after
//! it, or a torn end of a segment that newer ones follow. Reported with file
//! and offset; the truncate option keeps the prefix instead.

mod common;

use std::fs;

use common::*;
use persist::wal::{check_data, OnCorruption, RecoveryError};

#[test]
fn a_flipped_bit_in_any_byte_but_the_last_record_is_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = write_log(dir, 0, 0, 10, 10, 1 << 20);
    let path = w.segment_path().to_path_buf();
    drop(w);
    let data = fs::read(&path).unwrap();
    let ends = record_ends(&data);
    // Every byte of every record but the last (damage there looks torn).
    for at in ends[0]..ends[ends.len() - 2] {
        let mut damaged = data.clone();
        damaged[at] ^= 1 << (at % 8);
        fs::write(&path, &damaged).unwrap();
        let victim = ends.iter().rposition(|&e| e <= at).unwrap();
        let offset = ends[victim] as u64;

        let (records, error, _) = read_all(dir, 0, OnCorruption::Fail);
        assert_records(&records, 0, victim as u64);
        match error {
            Some(RecoveryError::Corrupt {
                path: p, offset: o, ..
            }) => assert_eq!((p, o), (path.clone(), offset)),
            other => panic!("byte {at}: {other:?}"),
        }

        let (records, error, recovery) = read_all(dir, 0, OnCorruption::Truncate);
        assert!(error.is_none());
        assert_records(&records, 0, victim as u64);
        assert_eq!(recovery.truncated.as_ref().map(|c| c.offset), Some(offset));
        assert_eq!(recovery.next_lsn, victim as u64);

        let report = check_data(dir).unwrap();
        assert!(!report.is_clean());
        assert_eq!(
            report.files[0].corruption.as_ref().map(|c| c.0),
            Some(offset),
            "byte {at}"
        );
        assert_eq!(report.files[0].records, victim as u64);
    }
}

#[test]
fn a_damaged_header_is_corruption_when_records_follow() {
    let tmp = tempfile::tempdir().unwrap();
    let w = write_log(tmp.path(), 0, 0, 5, 5, 1 << 20);
    let path = w.segment_path().to_path_buf();
    drop(w);
    let mut data = fs::read(&path).unwrap();
    data[20] ^= 0x40;
    fs::write(&path, &data).unwrap();
    let (records, error, _) = read_all(tmp.path(), 0, OnCorruption::Fail);
    assert!(records.is_empty());
    assert!(
        matches!(error, Some(RecoveryError::Corrupt { offset: 0, .. })),
        "{error:?}"
    );
    assert_eq!(
        check_data(tmp.path()).unwrap().files[0]
            .corruption
            .as_ref()
            .map(|c| c.0),
        Some(0)
    );
}

#[test]
fn a_torn_older_segment_is_corruption_and_truncation_drops_what_follows() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    drop(write_log(dir, 0, 0, 60, 4, 2048));
    let segs = segments(dir, 0);
    assert!(segs.len() >= 3);
    let data = fs::read(&segs[0]).unwrap();
    let ends = record_ends(&data);
    let cut = ends[ends.len() - 1] - 1;
    fs::write(&segs[0], &data[..cut]).unwrap();
    let whole = ends.len() as u64 - 2;

    let (records, error, _) = read_all(dir, 0, OnCorruption::Fail);
    assert_records(&records, 0, whole);
    let offset = ends[ends.len() - 2] as u64;
    assert!(
        matches!(&error, Some(RecoveryError::Corrupt { path, offset: o, .. }) if *path == segs[0] && *o == offset)
    );
    let report = check_data(dir).unwrap();
    assert_eq!(
        report.files[0].corruption.as_ref().map(|c| c.0),
        Some(offset)
    );
    // The next segment starts one LSN past what the damaged one still holds.
    assert_eq!(report.files[1].gap_from, Some(whole));

    let (records, error, recovery) = read_all(dir, 0, OnCorruption::Truncate);
    assert!(error.is_none());
    assert_records(&records, 0, whole);
    assert_eq!(recovery.dropped, segs[1..].to_vec());
    recovery.repair().unwrap();
    assert_eq!(segments(dir, 0), segs[..1].to_vec());
    let (records, error, recovery) = read_all(dir, 0, OnCorruption::Fail);
    assert!(error.is_none() && recovery.torn_tail.is_none() && recovery.truncated.is_none());
    assert_records(&records, 0, whole);
    assert!(check_data(dir).unwrap().is_clean());
}
