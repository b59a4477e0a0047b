//! A crash cuts the newest segment anywhere: recovery keeps every whole
//! record before the cut, reports the torn one, and the log goes on.

mod common;

use std::fs;

use common::*;
use persist::wal::{check_data, OnCorruption, WalWriter, WriterOptions};

/// For every length the segment could have been cut to (or zeroed from),
/// the whole records before that point come back and nothing else.
fn every_cut(zero_fill: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let w = write_log(tmp.path(), 0, 0, 12, 3, 1 << 20);
    let path = w.segment_path().to_path_buf();
    drop(w);
    let data = fs::read(&path).unwrap();
    let ends = record_ends(&data);
    let used = *ends.last().unwrap();
    assert_eq!(ends.len(), 13);
    for cut in 0..=used {
        let mut damaged = data.clone();
        if zero_fill {
            damaged[cut..].fill(0);
        } else {
            damaged.truncate(cut);
        }
        fs::write(&path, &damaged).unwrap();
        let whole = ends.iter().filter(|&&e| e <= cut).count().saturating_sub(1) as u64;
        let at_boundary = ends.contains(&cut);

        let (records, error, recovery) = read_all(tmp.path(), 0, OnCorruption::Fail);
        assert!(error.is_none(), "cut {cut}: {error:?}");
        assert_records(&records, 0, whole);
        let torn = recovery.torn_tail.as_ref().map(|c| c.offset);
        // A cut inside the header is torn at 0: the segment was just created.
        let expected = match cut {
            0..32 => Some(0),
            _ if at_boundary => None,
            _ => Some(ends[whole as usize] as u64),
        };
        assert_eq!(torn, expected, "cut {cut}");
        if torn.is_some() {
            assert_eq!(recovery.torn_tail.as_ref().unwrap().path, path);
        }
        assert_eq!(recovery.next_lsn, whole);

        let report = check_data(tmp.path()).unwrap();
        assert!(report.is_clean(), "cut {cut}: {report}");
        assert_eq!(report.files[0].records, whole);
        assert_eq!(
            report.files[0].torn_tail.as_ref().map(|t| t.0),
            expected,
            "cut {cut}"
        );
    }
}

#[test]
fn truncation_at_every_offset_keeps_the_whole_records() {
    every_cut(false);
}

#[test]
fn zeros_from_every_offset_keep_the_whole_records() {
    every_cut(true);
}

#[test]
fn after_repair_the_log_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    drop(write_log(dir, 1, 0, 30, 5, 2048));
    let segs = segments(dir, 1);
    let last = segs.last().unwrap();
    let data = fs::read(last).unwrap();
    let ends = record_ends(&data);
    assert!(ends.len() > 2, "the last segment holds records");
    // Cut in the middle of the last record.
    let cut = ends[ends.len() - 1] - 3;
    fs::write(last, &data[..cut]).unwrap();
    let (records, error, recovery) = read_all(dir, 1, OnCorruption::Fail);
    assert!(error.is_none());
    assert_records(&records, 0, 29);
    assert_eq!(
        recovery.torn_tail.as_ref().unwrap().offset,
        ends[ends.len() - 2] as u64
    );
    recovery.repair().unwrap();
    let mut w = WalWriter::create(
        dir,
        1,
        recovery.next_lsn,
        WriterOptions {
            segment_size: 2048,
            direct: true,
        },
    )
    .unwrap();
    for lsn in 29..40 {
        w.append(kind(lsn), &payload(lsn)).unwrap();
    }
    w.flush_sync().unwrap();
    // Without the repair the torn record would now sit before a newer segment.
    let (records, error, recovery) = read_all(dir, 1, OnCorruption::Fail);
    assert!(error.is_none(), "{error:?}");
    assert!(recovery.torn_tail.is_none());
    assert_records(&records, 0, 40);
    assert!(check_data(dir).unwrap().is_clean());
}
