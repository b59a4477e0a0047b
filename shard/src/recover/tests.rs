//! Loading a shard from snapshot and WAL, in steps, with the damage a crash
//! or a disk can leave.

use super::*;
use crate::durable_testing::*;
use persist::snapshot::manifest::{Manifest, ShardSnapshot};
use persist::snapshot::{SnapshotHeader, SnapshotWriter};
use std::time::Duration;

const NOW: u64 = 1_000_000;

fn options(dir: &Path, shard: u32, shards: u32, on_corruption: OnCorruption) -> LoadOptions {
    LoadOptions {
        dir: dir.to_path_buf(),
        shard,
        shards,
        on_corruption,
    }
}

/// Loads shard 0 of 1 in steps of no time at all (a few records each).
fn load_with(dir: &Path, on_corruption: OnCorruption) -> Result<(Shard, Loaded), LoadError> {
    load_shard(dir, 0, 1, on_corruption)
}

fn load_shard(
    dir: &Path,
    id: u32,
    count: u32,
    on_corruption: OnCorruption,
) -> Result<(Shard, Loaded), LoadError> {
    let mut loader = Loader::open(options(dir, id, count, on_corruption))?;
    let mut shard = Shard::new(id as usize, count as usize);
    let mut last = loader.progress();
    while !loader.step(&mut shard, NOW, Duration::ZERO)? {
        let p = loader.progress();
        assert!(p.keys >= last.keys && p.bytes_read >= last.bytes_read);
        assert!(p.bytes_read <= p.bytes_total, "{p:?}");
        last = p;
    }
    let p = loader.progress();
    assert_eq!(p.bytes_read, p.bytes_total);
    Ok((shard, loader.finish()?))
}

fn load(dir: &Path) -> (Shard, Loaded) {
    load_with(dir, OnCorruption::Fail).unwrap()
}

/// Writes `shard`'s live keys as its snapshot covering `lsn`, and a
/// manifest naming it.
fn write_snapshot(dir: &Path, shard: &Shard, lsn: u64) -> PathBuf {
    let header = SnapshotHeader {
        shard_id: shard.id as u32,
        shard_count: shard.count as u32,
        lsn,
        created_ms: NOW,
    };
    let name = format!("shard-{:03}-{lsn}.snap", shard.id);
    let mut w = SnapshotWriter::create(dir, &name, header).unwrap();
    for (db, key, entry) in contents(shard, NOW) {
        let mut r = Vec::new();
        codec::encode_put(&mut r, db, &key, &entry);
        w.append(&r).unwrap();
    }
    let path = w.finish().unwrap().path;
    manifest::store(
        dir,
        &Manifest {
            shard_count: shard.count as u32,
            snapshots: vec![ShardSnapshot {
                shard: shard.id as u32,
                lsn,
                file: name,
            }],
        },
    )
    .unwrap();
    path
}

/// A shard with some of every type, every command logged.
fn logged_workload(dir: &Path, commands: u32, seed: u64) -> (Shard, WalWriterHandle) {
    let mut shard = Shard::new(0, 1);
    let mut wal = wal_writer(dir, 0, 0);
    let mut rng = fastrand::Rng::with_seed(seed);
    for i in 0..commands {
        let cmd = random_command(&mut rng);
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        run_logged(&mut shard, &mut wal, rng.usize(..2), NOW, &args);
        // A group commit now and then, where segments may rotate.
        if i % 16 == 15 {
            wal.flush_sync().unwrap();
        }
    }
    wal.flush_sync().unwrap();
    (shard, wal)
}

type WalWriterHandle = persist::wal::WalWriter;

#[test]
fn a_fresh_directory_loads_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (shard, loaded) = load(tmp.path());
    assert_eq!(shard.dbs().count(), 0);
    assert_eq!(loaded.next_lsn, 0);
    assert_eq!(loaded.keys, 0);
    assert_eq!(loaded.snapshot_lsn, None);
    assert!(loaded.warnings.is_empty());
}

#[test]
fn the_wal_alone_replays_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let (original, wal) = logged_workload(tmp.path(), 3000, 1);
    let (loaded_shard, loaded) = load(tmp.path());
    assert!(loaded.keys > 20, "{loaded:?}");
    assert_eq!(contents(&loaded_shard, NOW), contents(&original, NOW));
    assert_eq!(loaded.next_lsn, wal.next_lsn());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    // Several segments were read.
    assert!(
        segment::list_segments(&tmp.path().join("shard-000"))
            .unwrap()
            .len()
            > 2
    );
}

/// Records below the snapshot's LSN are not applied again: the WAL holds a
/// key the snapshot does not, logged before the snapshot's LSN.
#[test]
fn a_snapshot_then_the_wal_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut wal = wal_writer(dir, 0, 0);
    let mut ghost = Vec::new();
    codec::encode_put(
        &mut ghost,
        0,
        b"ghost",
        &crate::keyspace::string_entry(b"boo"),
    );
    wal.append(RecordType::Put, &ghost).unwrap();
    let mut shard = Shard::new(0, 1);
    for i in 0..300 {
        run_logged(
            &mut shard,
            &mut wal,
            0,
            NOW,
            &["SET", &format!("pre:{i}"), "v"],
        );
    }
    let lsn = wal.next_lsn();
    write_snapshot(dir, &shard, lsn);
    let mut rng = fastrand::Rng::with_seed(2);
    for _ in 0..500 {
        let cmd = random_command(&mut rng);
        // Keep database 0 as the snapshot left it, apart from its ghost.
        if cmd[0] == "FLUSHALL" || cmd[0] == "SWAPDB" {
            continue;
        }
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        run_logged(&mut shard, &mut wal, 1, NOW, &args);
    }
    // A checkpoint's payload is not a record: it must be skipped.
    wal.append(RecordType::Checkpoint, b"not a record").unwrap();
    wal.flush_sync().unwrap();
    let (got, loaded) = load(dir);
    assert_eq!(contents(&got, NOW), contents(&shard, NOW));
    assert_eq!(loaded.snapshot_lsn, Some(lsn));
    assert_eq!(loaded.next_lsn, wal.next_lsn());
    assert!(contents(&got, NOW).iter().all(|(_, k, _)| k != b"ghost"));
}

/// A transaction logged as one batch comes back whole; a batch cut by a
/// crash comes back not at all.
#[test]
fn batches_apply_whole_or_not_at_all() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut wal = wal_writer(dir, 0, 0);
    let mut shard = Shard::new(0, 1);
    run_logged(
        &mut shard,
        &mut wal,
        0,
        NOW,
        &["MSET", "a", "1", "b", "2", "c", "3"],
    );
    wal.flush_sync().unwrap();
    let kept = contents(&shard, NOW);
    assert_eq!(kept.len(), 3);
    run_logged(
        &mut shard,
        &mut wal,
        0,
        NOW,
        &["MSET", "a", "9", "d", "4", "e", "5"],
    );
    wal.flush_sync().unwrap();
    let (got, loaded) = load(dir);
    assert_eq!(contents(&got, NOW), contents(&shard, NOW));
    assert_eq!(loaded.keys, 5);
    // Cut the last record (the second batch) in its middle.
    let segment = segment::list_segments(&dir.join("shard-000"))
        .unwrap()
        .pop()
        .unwrap();
    let data = std::fs::read(&segment.path).unwrap();
    let end = data.iter().rposition(|&b| b != 0).unwrap() + 1;
    std::fs::write(&segment.path, &data[..end - 5]).unwrap();
    let (got, loaded) = load(dir);
    assert_eq!(contents(&got, NOW), kept);
    assert_eq!(loaded.next_lsn, 1);
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
}

#[test]
fn a_torn_tail_is_cut_off_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (_, wal) = logged_workload(dir, 200, 3);
    let segment = wal.segment_path().to_path_buf();
    let whole = load(dir).0;
    let mut data = std::fs::read(&segment).unwrap();
    let end = data.iter().rposition(|&b| b != 0).unwrap() + 1;
    data.truncate(end);
    // A record header promising more than follows.
    data.extend_from_slice(&[0x12, 0x34, 0x56, 0x78, 200, 0, 0, 0, 1, 1, 2]);
    std::fs::write(&segment, &data).unwrap();
    let (got, loaded) = load(dir);
    assert_eq!(contents(&got, NOW), contents(&whole, NOW));
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    let warning = &loaded.warnings[0];
    let name = segment.file_name().unwrap().to_str().unwrap();
    assert!(warning.contains(name), "{warning}");
    assert!(warning.contains(&format!("offset {end}")), "{warning}");
    assert_eq!(
        std::fs::metadata(&segment).unwrap().len(),
        end as u64,
        "repaired"
    );
    let (_, again) = load(dir);
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
    assert_eq!(again.next_lsn, loaded.next_lsn);
}

/// Damage followed by valid records: an error naming file and offset and
/// the setting to change; with that setting, the records before it load.
#[test]
fn damage_in_the_middle_stops_or_truncates() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    logged_workload(dir, 2000, 4);
    let segments = segment::list_segments(&dir.join("shard-000")).unwrap();
    assert!(segments.len() > 2);
    let victim = &segments[1].path;
    let mut data = std::fs::read(victim).unwrap();
    data[600] ^= 0x40;
    std::fs::write(victim, &data).unwrap();
    let err = load_with(dir, OnCorruption::Fail).err().unwrap();
    let text = err.to_string();
    assert!(matches!(err, LoadError::WalCorrupt { .. }), "{text}");
    assert!(text.contains(victim.to_str().unwrap()), "{text}");
    assert!(text.contains("offset"), "{text}");
    assert!(
        text.contains("persist.on_corruption = \"truncate\""),
        "{text}"
    );

    let (got, loaded) = load_with(dir, OnCorruption::Truncate).unwrap();
    assert!(got.dbs().count() > 0);
    assert!(loaded.next_lsn > 0);
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains(victim.to_str().unwrap())),
        "{:?}",
        loaded.warnings
    );
    // The log was cut: the next start finds nothing wrong and the same keys.
    let (again, reloaded) = load(dir);
    assert!(reloaded.warnings.is_empty(), "{:?}", reloaded.warnings);
    assert_eq!(contents(&again, NOW), contents(&got, NOW));
    assert_eq!(reloaded.next_lsn, loaded.next_lsn);
}

#[test]
fn a_missing_or_damaged_snapshot_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut shard = Shard::new(0, 1);
    for i in 0..3000 {
        run_recorded(&mut shard, 0, NOW, &["SET", &format!("key:{i}"), "value"]);
    }
    let path = write_snapshot(dir, &shard, 10);
    let good = std::fs::read(&path).unwrap();
    let mut bad = good.clone();
    let at = bad.len() / 2;
    bad[at] ^= 1;
    std::fs::write(&path, &bad).unwrap();
    let err = load_with(dir, OnCorruption::Truncate)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains(path.to_str().unwrap()) && err.contains("corrupt"),
        "{err}"
    );
    std::fs::remove_file(&path).unwrap();
    let err = load_with(dir, OnCorruption::Truncate)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(path.to_str().unwrap()), "{err}");
    std::fs::write(&path, &good).unwrap();
    let (got, loaded) = load(dir);
    assert_eq!(loaded.keys, 3000);
    assert_eq!(contents(&got, NOW), contents(&shard, NOW));
    assert_eq!(loaded.next_lsn, 10);
    // A manifest line that does not match the file's header.
    let mut m = manifest::load(dir).unwrap().unwrap();
    m.snapshots[0].lsn = 11;
    manifest::store(dir, &m).unwrap();
    let err = load_with(dir, OnCorruption::Truncate).err().unwrap();
    assert!(matches!(err, LoadError::SnapshotMismatch { .. }), "{err}");
    assert!(err.to_string().contains(path.to_str().unwrap()), "{err}");
}

/// The snapshot reached the disk before the WAL records it covers: the
/// segments left are all older than it and go, so the new segment (at the
/// snapshot's LSN) does not follow a gap.
#[test]
fn a_log_ending_before_the_snapshot_is_covered() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (shard, wal) = logged_workload(dir, 100, 5);
    let end = wal.next_lsn();
    drop(wal);
    write_snapshot(dir, &shard, end + 7);
    let (got, loaded) = load(dir);
    assert_eq!(contents(&got, NOW), contents(&shard, NOW));
    assert_eq!(loaded.next_lsn, end + 7);
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(segment::list_segments(&dir.join("shard-000"))
        .unwrap()
        .is_empty());
    // The writer continues at the snapshot's LSN and the next load is clean.
    let mut wal = wal_writer(dir, 0, loaded.next_lsn);
    let mut shard = got;
    run_logged(&mut shard, &mut wal, 0, NOW, &["SET", "after", "1"]);
    wal.flush_sync().unwrap();
    let (again, reloaded) = load(dir);
    assert!(reloaded.warnings.is_empty(), "{:?}", reloaded.warnings);
    assert_eq!(contents(&again, NOW), contents(&shard, NOW));
    assert_eq!(reloaded.next_lsn, end + 8);
}

/// Segments deleted up to a later LSN than the snapshot covers.
#[test]
fn a_log_starting_after_the_snapshot_is_missing_records() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let shard = Shard::new(0, 1);
    write_snapshot(dir, &shard, 5);
    let mut wal = wal_writer(dir, 0, 9);
    wal.append(RecordType::FlushAll, &[codec::VERSION, 4])
        .unwrap();
    wal.flush_sync().unwrap();
    let err = load_with(dir, OnCorruption::Fail)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("LSN 9") && err.contains("LSN 5"), "{err}");
    assert!(err.contains("persist.on_corruption"), "{err}");
    let (_, loaded) = load_with(dir, OnCorruption::Truncate).unwrap();
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert_eq!(loaded.next_lsn, 5);
    assert!(load(dir).1.warnings.is_empty());
}

#[test]
fn another_shard_count_and_foreign_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut shard = Shard::new(0, 1);
    run_recorded(&mut shard, 0, NOW, &["SET", "foo", "1"]);
    write_snapshot(dir, &shard, 0);
    let err = load_shard(dir, 0, 2, OnCorruption::Fail).err().unwrap();
    assert!(
        matches!(
            err,
            LoadError::ShardCount {
                found: 1,
                expected: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("re-sharded"), "{err}");

    // A record of a key shard 1 of 2 owns, in shard 0's log.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut wal = wal_writer(dir, 0, 0);
    let mut foo = Vec::new();
    codec::encode_put(&mut foo, 0, b"foo", &crate::keyspace::string_entry(b"1"));
    wal.append(RecordType::Put, &foo).unwrap();
    wal.flush_sync().unwrap();
    let (got, loaded) = load_shard(dir, 0, 2, OnCorruption::Fail).unwrap();
    assert_eq!(got.dbs().map(|(_, d)| d.len()).sum::<usize>(), 0);
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(
        loaded.warnings[0].contains("another shard"),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn finishing_early_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    logged_workload(tmp.path(), 500, 6);
    let mut loader = Loader::open(options(tmp.path(), 0, 1, OnCorruption::Fail)).unwrap();
    let mut shard = Shard::new(0, 1);
    assert!(!loader.step(&mut shard, NOW, Duration::ZERO).unwrap());
    assert!(matches!(
        loader.finish(),
        Err(LoadError::Unfinished { shard: 0 })
    ));
}
