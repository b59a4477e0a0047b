//! Snapshot files: write, reopen, check; damage of every kind is reported
//! with file and offset, never a panic.

use super::*;
use std::path::{Path, PathBuf};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tgx-snapshot-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const HEADER: SnapshotHeader = SnapshotHeader {
    shard_id: 1,
    shard_count: 2,
    lsn: 123_456,
    created_ms: 1_790_000_000_000,
};

/// A record that compresses somewhat, like a session entry.
fn record(i: u64, rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut r = format!("session:{i:012}:").into_bytes();
    let random = rng.usize(..24);
    r.extend((0..random).map(|_| rng.u8(..)));
    r
}

fn write(dir: &Path, records: &[Vec<u8>]) -> SnapshotSummary {
    let mut w = SnapshotWriter::create(dir, "shard-1.snap", HEADER).unwrap();
    for r in records {
        w.append(r).unwrap();
    }
    w.finish().unwrap()
}

fn read_all(path: &Path) -> Result<(SnapshotHeader, Vec<Vec<u8>>), SnapshotError> {
    let mut r = SnapshotReader::open(path)?;
    let mut out = Vec::new();
    while let Some(rec) = r.next_record()? {
        out.push(rec.to_vec());
    }
    Ok((*r.header(), out))
}

#[test]
fn hundred_thousand_records_round_trip() {
    let dir = temp_dir("round");
    let mut rng = fastrand::Rng::with_seed(1);
    let mut records: Vec<Vec<u8>> = (0..100_000).map(|i| record(i, &mut rng)).collect();
    records.insert(500, Vec::new());
    records.insert(70_000, vec![0xab; 3 * BLOCK_TARGET]);
    let summary = write(&dir, &records);
    assert_eq!(summary.records, records.len() as u64);
    assert!(summary.blocks > 10, "{summary:?}");
    assert!(summary.file_bytes < summary.raw_bytes, "{summary:?}");
    assert!(!dir.join("shard-1.snap.tmp").exists());
    let (header, got) = read_all(&summary.path).unwrap();
    assert_eq!(header, HEADER);
    assert!(got == records, "records differ");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn empty_and_incompressible_snapshots() {
    let dir = temp_dir("edge");
    let summary = write(&dir, &[]);
    assert_eq!(read_all(&summary.path).unwrap().1, Vec::<Vec<u8>>::new());
    let mut rng = fastrand::Rng::with_seed(3);
    let noise: Vec<Vec<u8>> = (0..100)
        .map(|_| (0..1000).map(|_| rng.u8(..)).collect())
        .collect();
    let summary = write(&dir, &noise);
    assert!(summary.file_bytes < summary.raw_bytes + 200, "stored raw");
    assert_eq!(read_all(&summary.path).unwrap().1, noise);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_abandoned_writer_leaves_nothing() {
    let dir = temp_dir("abandon");
    let mut w = SnapshotWriter::create(&dir, "s.snap", HEADER).unwrap();
    w.append(b"x").unwrap();
    drop(w);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn small_snapshot(dir: &Path) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut rng = fastrand::Rng::with_seed(5);
    let records: Vec<Vec<u8>> = (0..6000).map(|i| record(i, &mut rng)).collect();
    let summary = write(dir, &records);
    assert!(summary.blocks >= 3);
    (std::fs::read(&summary.path).unwrap(), records)
}

#[test]
fn every_bit_flip_is_detected() {
    let dir = temp_dir("flip");
    let (good, _) = small_snapshot(&dir);
    let path = dir.join("damaged.snap");
    let mut rng = fastrand::Rng::with_seed(11);
    // The header, some bytes of every region, and the trailer.
    let mut positions: Vec<usize> = (0..64).chain(good.len() - 64..good.len()).collect();
    positions.extend((0..400).map(|_| rng.usize(..good.len())));
    for at in positions {
        let mut bad = good.clone();
        bad[at] ^= 1 << rng.u64(..8);
        std::fs::write(&path, &bad).unwrap();
        match read_all(&path) {
            Err(SnapshotError::Corrupt {
                path: p, offset, ..
            }) => {
                assert_eq!(p, path);
                assert!(
                    offset <= at as u64,
                    "offset {offset} after the flip at {at}"
                );
            }
            other => panic!("flip at {at}: {:?}", other.map(|(_, r)| r.len())),
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncation_is_detected() {
    let dir = temp_dir("cut");
    let (good, _) = small_snapshot(&dir);
    let path = dir.join("cut.snap");
    for len in (0..good.len())
        .step_by(97)
        .chain(good.len() - 30..good.len())
    {
        std::fs::write(&path, &good[..len]).unwrap();
        let err = read_all(&path).unwrap_err();
        assert!(matches!(err, SnapshotError::Corrupt { .. }), "{len}: {err}");
    }
    // Extra bytes after the trailer are damage too.
    let mut long = good.clone();
    long.push(0);
    std::fs::write(&path, &long).unwrap();
    let err = read_all(&path).unwrap_err().to_string();
    assert!(
        err.contains("cut.snap") && err.contains("bytes after the trailer"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Random files, and valid files with random bytes spliced in, give an
/// error or records, never a panic or a runaway allocation.
#[test]
fn garbage_never_panics() {
    let dir = temp_dir("garbage");
    let (good, _) = small_snapshot(&dir);
    let path = dir.join("garbage.snap");
    let mut rng = fastrand::Rng::with_seed(17);
    for round in 0..300 {
        let mut bytes: Vec<u8> = if round % 3 == 0 {
            (0..rng.u64(..2000)).map(|_| rng.u8(..)).collect()
        } else {
            good[..rng.usize(..good.len())].to_vec()
        };
        if round % 3 == 1 {
            // A valid header, then garbage.
            bytes.truncate(40.min(bytes.len()));
            bytes.extend((0..rng.u64(..200)).map(|_| rng.u8(..)));
        }
        for _ in 0..rng.u64(..8) {
            if !bytes.is_empty() {
                let i = rng.usize(..bytes.len());
                bytes[i] = rng.u8(..);
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        assert!(read_all(&path).is_err(), "round {round}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_file_is_an_io_error() {
    let err = SnapshotReader::open(Path::new("/nonexistent/snap"))
        .err()
        .unwrap();
    assert!(matches!(err, SnapshotError::Io { .. }));
}

/// The covered LSN is known only when a snapshot taken while serving
/// completes: it is written into the header then, under its final name.
#[test]
fn the_lsn_and_name_can_be_set_at_the_end() {
    let dir = temp_dir("late-lsn");
    let mut rng = fastrand::Rng::with_seed(23);
    let records: Vec<Vec<u8>> = (0..3000).map(|i| record(i, &mut rng)).collect();
    let start = SnapshotHeader { lsn: 0, ..HEADER };
    let mut w = SnapshotWriter::create(&dir, "shard-001.snap", start).unwrap();
    for r in &records {
        w.append(r).unwrap();
    }
    let target = dir.join("shard-001-77.snap");
    let summary = w.finish_as(77, &target).unwrap();
    assert_eq!(summary.path, target);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["shard-001-77.snap"]);
    let (header, got) = read_all(&target).unwrap();
    assert_eq!(header, SnapshotHeader { lsn: 77, ..HEADER });
    assert!(got == records, "records differ");
    // The rewritten header is still checked: a flip in it is caught.
    let mut bad = std::fs::read(&target).unwrap();
    bad[21] ^= 4;
    std::fs::write(&target, &bad).unwrap();
    let err = read_all(&target).unwrap_err().to_string();
    assert!(err.contains("header checksum mismatch"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
