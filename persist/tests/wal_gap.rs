//! A segment deleted from the middle of the log: the LSNs it held are
//! missing, which the reader and check_data report as a gap.

mod common;

use std::fs;

use common::*;
use persist::wal::{check_data, OnCorruption, RecoveryError};

#[test]
fn a_deleted_middle_segment_is_a_gap() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    drop(write_log(dir, 0, 0, 60, 4, 2048));
    let segs = segments(dir, 0);
    assert!(segs.len() >= 3);
    let first =
        persist::wal::segment::list_segments(&persist::wal::segment::shard_dir(dir, 0)).unwrap();
    fs::remove_file(&segs[1]).unwrap();
    let (held, resumed) = (first[1].first_lsn, first[2].first_lsn);

    let (records, error, _) = read_all(dir, 0, OnCorruption::Fail);
    assert_records(&records, 0, held);
    match error {
        Some(RecoveryError::Gap {
            path,
            expected,
            found,
        }) => {
            assert_eq!((path, expected, found), (segs[2].clone(), held, resumed))
        }
        other => panic!("{other:?}"),
    }

    let report = check_data(dir).unwrap();
    assert!(!report.is_clean());
    assert_eq!(report.files[1].path, segs[2]);
    assert_eq!(report.files[1].gap_from, Some(held));
    assert!(report
        .to_string()
        .contains(&format!("GAP: LSNs {held}..{resumed} missing")));

    let (records, error, recovery) = read_all(dir, 0, OnCorruption::Truncate);
    assert!(error.is_none());
    assert_records(&records, 0, held);
    assert_eq!(recovery.next_lsn, held);
    recovery.repair().unwrap();
    assert_eq!(segments(dir, 0), vec![segs[0].clone()]);
    assert!(check_data(dir).unwrap().is_clean());
}
