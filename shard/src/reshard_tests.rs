//! Re-sharding a data directory: every key lands in its new shard, and a
//! crash at any point leaves a data set that loads.

use crate::durable_testing::*;
use crate::recover::{LoadOptions, Loaded, Loader};
use crate::reshard::*;
use crate::shard::Shard;
use crate::snapshot_files::{commit_snapshots, parse_snapshot_name};
use crate::snapshot_job::SnapshotJob;
use crate::value::Entry;
use persist::snapshot::manifest::{self, ShardSnapshot};
use persist::wal::{segment, OnCorruption};
use std::path::Path;
use std::time::Duration;

const NOW: u64 = 1_000_000;

type Keys = Vec<(usize, Vec<u8>, Entry)>;

/// Every key of a data set of `count` shards, loaded as start-up does; no
/// shard may hold a record of a key it does not own.
fn load_all(dir: &Path, count: u32) -> (Keys, Vec<Loaded>) {
    let mut keys = Vec::new();
    let mut loads = Vec::new();
    for id in 0..count {
        let mut loader = Loader::open(LoadOptions {
            dir: dir.to_path_buf(),
            shard: id,
            shards: count,
            on_corruption: OnCorruption::Fail,
        })
        .unwrap();
        let mut shard = Shard::new(id as usize, count as usize);
        while !loader
            .step(&mut shard, NOW, Duration::from_secs(60))
            .unwrap()
        {}
        let loaded = loader.finish().unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        keys.extend(contents(&shard, NOW));
        loads.push(loaded);
    }
    keys.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    (keys, loads)
}

/// A data set of `count` shards written by random commands: every shard
/// has a WAL, and shard 0 a snapshot with a tail after it.
fn data_set(dir: &Path, count: u32, seed: u64) -> Keys {
    let mut rng = fastrand::Rng::with_seed(seed);
    write_initial_manifest(dir, count).unwrap();
    let mut all = Vec::new();
    for id in 0..count as usize {
        let mut shard = Shard::new(id, count as usize);
        let mut wal = wal_writer(dir, id as u32, 0);
        for i in 0..300 {
            let cmd = random_command_for(&mut rng, id, count as usize);
            let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
            run_logged(&mut shard, &mut wal, rng.usize(..2), NOW, &args);
            if i == 150 && id == 0 {
                let mut job = SnapshotJob::start(dir, &shard, NOW).unwrap();
                while !job.step(&shard, NOW, 1000).unwrap() {}
                let summary = job.finish(wal.next_lsn()).unwrap();
                let file = summary.path.file_name().unwrap().to_str().unwrap().into();
                wal.flush_sync().unwrap();
                let lsn = wal.next_lsn();
                commit_snapshots(
                    dir,
                    count,
                    &[ShardSnapshot {
                        shard: 0,
                        lsn,
                        file,
                    }],
                )
                .unwrap();
            }
            if i % 20 == 0 {
                wal.flush_sync().unwrap();
            }
        }
        wal.flush_sync().unwrap();
        all.extend(contents(&shard, NOW));
    }
    all.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    assert!(all.len() > 50, "{} keys", all.len());
    all
}

fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    n.sort();
    n
}

#[test]
fn the_shard_count_a_directory_was_written_with() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert_eq!(previous_shard_count(&dir.join("missing")).unwrap(), None);
    assert_eq!(previous_shard_count(dir).unwrap(), None);
    drop(wal_writer(dir, 0, 0));
    drop(wal_writer(dir, 2, 0));
    assert_eq!(previous_shard_count(dir).unwrap(), Some(3));
    write_initial_manifest(dir, 5).unwrap();
    assert_eq!(previous_shard_count(dir).unwrap(), Some(5));
    std::fs::write(dir.join(manifest::MANIFEST), b"garbage").unwrap();
    assert!(previous_shard_count(dir).is_err());
}

#[test]
fn a_fresh_directory_gets_a_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let summary = reshard(&dir, 4, OnCorruption::Fail, NOW, &mut |_| {}).unwrap();
    assert_eq!((summary.from, summary.to, summary.keys), (4, 4, 0));
    assert_eq!(previous_shard_count(&dir).unwrap(), Some(4));
}

#[test]
fn keys_survive_any_change_of_the_shard_count() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let expected = data_set(dir, 2, 1);
    assert_eq!(load_all(dir, 2).0, expected);
    for count in [3, 1, 4, 2] {
        let mut lines = Vec::new();
        let summary = reshard(dir, count, OnCorruption::Fail, NOW, &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        assert_eq!(summary.to, count);
        assert_eq!(summary.keys as usize, expected.len());
        assert_eq!(lines.len() as u32, summary.from + count, "{lines:?}");
        assert_eq!(previous_shard_count(dir).unwrap(), Some(count));
        let (keys, loads) = load_all(dir, count);
        assert_eq!(keys, expected, "to {count}");
        // Exactly the new shards' directories and snapshots are left.
        let dirs: Vec<u32> = segment::list_shards(dir)
            .unwrap()
            .iter()
            .map(|(id, _)| *id)
            .collect();
        assert!(dirs.iter().all(|&id| id < count), "{dirs:?}");
        let snaps: Vec<(u32, u64)> = names(dir)
            .iter()
            .filter_map(|n| parse_snapshot_name(n))
            .collect();
        assert_eq!(snaps.len(), count as usize, "{:?}", names(dir));
        // Each new shard's WAL goes on after the old one's names.
        for (id, loaded) in loads.iter().enumerate() {
            assert_eq!(loaded.snapshot_lsn, Some(loaded.next_lsn));
            let mut shard = Shard::new(id, count as usize);
            let mut wal = wal_writer(dir, id as u32, loaded.next_lsn);
            let key = owned_key("later", id, count as usize);
            run_logged(&mut shard, &mut wal, 5, NOW, &["SET", &key, "x"]);
            wal.flush_sync().unwrap();
        }
        let (keys, _) = load_all(dir, count);
        assert_eq!(keys.len(), expected.len() + count as usize);
        // Those keys go again (DEL), so that the next round compares the same.
        for (id, loaded) in load_all(dir, count).1.iter().enumerate() {
            let mut shard = Shard::new(id, count as usize);
            let mut wal = wal_writer(dir, id as u32, loaded.next_lsn);
            let key = owned_key("later", id, count as usize);
            run_recorded(&mut shard, 5, NOW, &["SET", &key, "x"]);
            run_logged(&mut shard, &mut wal, 5, NOW, &["DEL", &key]);
            wal.flush_sync().unwrap();
        }
        assert_eq!(load_all(dir, count).0, expected);
    }
}

/// A crash before the new manifest: the old data set is whole, and the next
/// re-sharding does the job (and removes the unnamed snapshots).
#[test]
fn a_crash_before_the_manifest_keeps_the_old_data_set() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let expected = data_set(dir, 3, 2);
    let before = names(dir);
    reshard_until(
        dir,
        2,
        OnCorruption::Fail,
        NOW,
        &mut |_| {},
        Some(Stop::BeforeManifest),
    )
    .unwrap();
    assert_eq!(previous_shard_count(dir).unwrap(), Some(3));
    assert_eq!(load_all(dir, 3).0, expected);
    assert!(names(dir).len() > before.len(), "new snapshots written");
    reshard(dir, 2, OnCorruption::Fail, NOW, &mut |_| {}).unwrap();
    assert_eq!(load_all(dir, 2).0, expected);
    let snaps = names(dir)
        .iter()
        .filter(|n| parse_snapshot_name(n).is_some())
        .count();
    assert_eq!(snaps, 2, "{:?}", names(dir));
}

/// A crash after the manifest, before the clean-up: the new data set loads
/// (old segments count as covered), and leftovers go at the next start,
/// never coming back when the count grows again.
#[test]
fn a_crash_before_the_clean_up_loads_the_new_data_set() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let expected = data_set(dir, 4, 3);
    reshard_until(
        dir,
        2,
        OnCorruption::Fail,
        NOW,
        &mut |_| {},
        Some(Stop::BeforeCleanup),
    )
    .unwrap();
    assert_eq!(previous_shard_count(dir).unwrap(), Some(2));
    assert!(dir.join("shard-003").exists());
    let (keys, loads) = load_all(dir, 2);
    assert_eq!(keys, expected);
    assert!(loads.iter().all(|l| l.next_lsn > 0));
    // Same count: only the clean-up is left to do.
    let summary = reshard(dir, 2, OnCorruption::Fail, NOW, &mut |_| {}).unwrap();
    assert_eq!(summary.keys, 0);
    assert!(!dir.join("shard-003").exists());
    assert_eq!(load_all(dir, 2).0, expected);
    reshard(dir, 4, OnCorruption::Fail, NOW, &mut |_| {}).unwrap();
    assert_eq!(load_all(dir, 4).0, expected);
}

/// Growing straight after a crash before the clean-up: the old shard
/// directories past the count hold stale records that must not come back.
#[test]
fn stale_directories_never_come_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    data_set(dir, 3, 4);
    reshard_until(
        dir,
        1,
        OnCorruption::Fail,
        NOW,
        &mut |_| {},
        Some(Stop::BeforeCleanup),
    )
    .unwrap();
    // The one-shard data set is emptied, then gets one key.
    let (_, loads) = load_all(dir, 1);
    let mut shard = Shard::new(0, 1);
    let mut wal = wal_writer(dir, 0, loads[0].next_lsn);
    run_logged(&mut shard, &mut wal, 0, NOW, &["FLUSHALL"]);
    run_logged(&mut shard, &mut wal, 0, NOW, &["SET", "after", "1"]);
    wal.flush_sync().unwrap();
    let expected = contents(&shard, NOW);
    reshard(dir, 3, OnCorruption::Fail, NOW, &mut |_| {}).unwrap();
    assert_eq!(load_all(dir, 3).0, expected);
}

/// Damage in an old shard's log stops the re-sharding before anything
/// changes, with the same message as a normal start.
#[test]
fn damage_stops_before_anything_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let expected = data_set(dir, 2, 5);
    let segments = segment::list_segments(&segment::shard_dir(dir, 1)).unwrap();
    let mut data = std::fs::read(&segments[0].path).unwrap();
    assert!(data.len() > 2000, "valid records follow the damage");
    data[100] ^= 0x10;
    std::fs::write(&segments[0].path, &data).unwrap();
    let before = names(dir);
    let err = reshard(dir, 3, OnCorruption::Fail, NOW, &mut |_| {})
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("persist.on_corruption"), "{err}");
    assert_eq!(names(dir), before);
    assert_eq!(previous_shard_count(dir).unwrap(), Some(2));
    std::fs::write(&segments[0].path, {
        data[100] ^= 0x10;
        &data
    })
    .unwrap();
    assert_eq!(load_all(dir, 2).0, expected);
}
