//! Snapshot names and the commit of finished snapshots.

use crate::durable_testing::wal_writer;
use crate::snapshot_files::*;
use persist::snapshot::manifest::{self, ShardSnapshot};
use persist::wal::{segment, RecordType};
use std::path::Path;

#[test]
fn snapshot_names() {
    let dir = Path::new("/d");
    let p = new_snapshot_path(dir, 7, 4711);
    assert_eq!(p, Path::new("/d/shard-007-00000000000000004711.snap"));
    let name = p.file_name().unwrap().to_str().unwrap();
    assert_eq!(parse_snapshot_name(name), Some((7, 4711)));
    assert_eq!(
        parse_snapshot_name("shard-1234-00000000000000000001-3.snap"),
        Some((1234, 1))
    );
    for bad in [
        "shard-007.snap.tmp",
        "shard-007.snap",
        "shard-007-4711.snap",
        "shard-x-00000000000000004711.snap",
        "shard-007-00000000000000004711-.snap",
        "shard-007-00000000000000004711-1-2.snap",
        "shard-007-00000000000000004711.snap.tmp",
        "MANIFEST",
        "shard-007",
    ] {
        assert_eq!(parse_snapshot_name(bad), None, "{bad}");
    }
}

fn entry(shard: u32, lsn: u64, file: &str) -> ShardSnapshot {
    ShardSnapshot {
        shard,
        lsn,
        file: file.into(),
    }
}

/// Writes records `0..n` to shard `shard`'s log, a segment every 10.
fn log(dir: &Path, shard: u32, n: u64) {
    let mut wal = persist::wal::WalWriter::create(
        dir,
        shard,
        0,
        persist::wal::WriterOptions {
            segment_size: 1,
            direct: false,
        },
    )
    .unwrap();
    for i in 0..n {
        wal.append(RecordType::Checkpoint, b"x").unwrap();
        if i % 10 == 9 {
            wal.flush_sync().unwrap();
        }
    }
    wal.flush_sync().unwrap();
}

fn firsts(dir: &Path, shard: u32) -> Vec<u64> {
    segment::list_segments(&segment::shard_dir(dir, shard))
        .unwrap()
        .iter()
        .map(|s| s.first_lsn)
        .collect()
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with("shard-") || n.contains('.'))
        .collect();
    names.sort();
    names
}

#[test]
fn a_commit_names_the_new_and_removes_what_it_covers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    log(dir, 0, 35);
    log(dir, 1, 35);
    assert_eq!(firsts(dir, 0), [0, 10, 20, 30]);
    for name in [
        "shard-000-00000000000000000003.snap",
        "shard-000-00000000000000000005-1.snap",
        "shard-000-00000000000000000005.snap",
        "shard-000-00000000000000000021.snap",
        "shard-001-00000000000000000012.snap",
        "shard-000.snap.tmp",
    ] {
        std::fs::write(dir.join(name), b"").unwrap();
    }
    commit_snapshots(
        dir,
        2,
        &[
            entry(0, 5, "shard-000-00000000000000000005.snap"),
            entry(1, 12, "shard-001-00000000000000000012.snap"),
        ],
    )
    .unwrap();
    assert_eq!(firsts(dir, 0), [0, 10, 20, 30]);
    assert_eq!(firsts(dir, 1), [10, 20, 30]);
    // Older leftovers go; one finished later (not committed yet) stays.
    assert_eq!(
        files(dir),
        [
            "MANIFEST",
            "shard-000-00000000000000000005.snap",
            "shard-000-00000000000000000021.snap",
            "shard-000.snap.tmp",
            "shard-001-00000000000000000012.snap",
        ]
    );
    // Shard 0 moves on; shard 1's line and file stay.
    commit_snapshots(
        dir,
        2,
        &[entry(0, 21, "shard-000-00000000000000000021.snap")],
    )
    .unwrap();
    let m = manifest::load(dir).unwrap().unwrap();
    assert_eq!(m.shard_count, 2);
    assert_eq!(
        m.snapshots,
        [
            entry(0, 21, "shard-000-00000000000000000021.snap"),
            entry(1, 12, "shard-001-00000000000000000012.snap"),
        ]
    );
    assert_eq!(firsts(dir, 0), [20, 30]);
    assert_eq!(firsts(dir, 1), [10, 20, 30]);
    assert_eq!(
        files(dir),
        [
            "MANIFEST",
            "shard-000-00000000000000000021.snap",
            "shard-000.snap.tmp",
            "shard-001-00000000000000000012.snap",
        ]
    );
    // A snapshot past the end of the log keeps its newest segment, where
    // the writer appends.
    commit_snapshots(
        dir,
        2,
        &[entry(1, 99, "shard-001-00000000000000000012.snap")],
    )
    .unwrap();
    assert_eq!(firsts(dir, 1), [30]);
    // Another shard count is refused, the manifest unchanged.
    assert!(commit_snapshots(dir, 3, &[entry(0, 1, "x.snap")]).is_err());
    assert_eq!(manifest::load(dir).unwrap().unwrap().shard_count, 2);
}

#[test]
fn the_first_commit_of_a_fresh_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    drop(wal_writer(dir, 3, 0));
    commit_snapshots(
        dir,
        4,
        &[entry(3, 0, "shard-003-00000000000000000000.snap")],
    )
    .unwrap();
    let m = manifest::load(dir).unwrap().unwrap();
    assert_eq!(m.shard_count, 4);
    assert_eq!(m.snapshots.len(), 1);
}
