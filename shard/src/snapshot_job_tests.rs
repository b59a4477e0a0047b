//! A snapshot taken while random commands keep running equals the shard at
//! the moment it finished; with the WAL after it, the shard at the end.

use crate::codec;
use crate::durable_testing::*;
use crate::recover::{LoadOptions, Loader};
use crate::restore;
use crate::shard::Shard;
use crate::snapshot_files::commit_snapshots;
use crate::snapshot_job::SnapshotJob;
use persist::snapshot::manifest::ShardSnapshot;
use persist::snapshot::SnapshotReader;
use persist::wal::OnCorruption;
use std::path::Path;
use std::time::Duration;

const START: u64 = 1_000_000;

fn run_random(shard: &mut Shard, rng: &mut fastrand::Rng, now: u64) -> Vec<Vec<u8>> {
    let cmd = random_command_for(rng, shard.id, shard.count);
    let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
    run_recorded(shard, rng.usize(..3), now, &args)
}

/// The shard a snapshot file rebuilds, at time `now`.
fn rebuild(path: &Path, id: usize, count: usize, now: u64) -> Shard {
    let mut reader = SnapshotReader::open(path).unwrap();
    let mut shard = Shard::new(id, count);
    while let Some(bytes) = reader.next_record().unwrap() {
        let record = codec::decode(bytes).unwrap();
        assert!(!matches!(
            restore::apply(&mut shard, record, now),
            restore::Applied::NotOwned(_)
        ));
    }
    shard
}

/// One round: a shard with keys, a snapshot interleaved with commands,
/// the time moving on (so keys expire during the walk), then more commands
/// after it. Returns how many keys the snapshot held.
fn round(seed: u64, id: usize, count: usize) -> usize {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut shard = Shard::new(id, count);
    let mut wal = wal_writer(dir, id as u32, 0);
    let mut now = START;
    for _ in 0..rng.usize(..400) {
        let records = run_random(&mut shard, &mut rng, now);
        log_records(&mut wal, &records);
    }
    let mut job = SnapshotJob::start(dir, &shard, now).unwrap();
    let mut done = false;
    while !done {
        if rng.bool() {
            done = job.step(&shard, now, rng.usize(..20)).unwrap();
        }
        for _ in 0..rng.usize(..4) {
            let records = run_random(&mut shard, &mut rng, now);
            for r in &records {
                job.observe(r).unwrap();
            }
            log_records(&mut wal, &records);
        }
        if rng.u32(..10) == 0 {
            now += rng.u64(..20);
            // Active expiry removes keys, and logs it like a command.
            shard.expire_step(now, 5);
            let mut records = Vec::new();
            shard.drain_change_records(now, &mut records);
            for r in &records {
                job.observe(r).unwrap();
            }
            log_records(&mut wal, &records);
        }
    }
    let lsn = wal.next_lsn();
    let summary = job.finish(lsn).unwrap();
    let expected = contents(&shard, now);
    let got = rebuild(&summary.path, id, count, now);
    assert_eq!(contents(&got, now), expected, "seed {seed}");

    // The snapshot, committed, and the WAL after it give the final state.
    for _ in 0..rng.usize(..200) {
        let records = run_random(&mut shard, &mut rng, now);
        log_records(&mut wal, &records);
    }
    wal.flush_sync().unwrap();
    let file = summary
        .path
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let entry = ShardSnapshot {
        shard: id as u32,
        lsn,
        file,
    };
    commit_snapshots(dir, count as u32, &[entry]).unwrap();
    let mut loader = Loader::open(LoadOptions {
        dir: dir.to_path_buf(),
        shard: id as u32,
        shards: count as u32,
        on_corruption: OnCorruption::Fail,
    })
    .unwrap();
    let mut loaded = Shard::new(id, count);
    while !loader
        .step(&mut loaded, now, Duration::from_secs(60))
        .unwrap()
    {}
    let done = loader.finish().unwrap();
    assert_eq!(done.snapshot_lsn, Some(lsn));
    assert_eq!(done.next_lsn, wal.next_lsn());
    assert!(done.warnings.is_empty(), "{:?}", done.warnings);
    assert_eq!(contents(&loaded, now), contents(&shard, now), "seed {seed}");
    expected.len()
}

#[test]
fn a_snapshot_while_serving_is_the_state_at_its_end() {
    let mut keys = 0;
    for seed in 0..60 {
        keys += round(seed, 0, 1);
    }
    assert!(keys > 1000, "{keys} keys in all: the rounds test little");
}

/// A shard whose slots do not start at 0 (shard 1 of 3).
#[test]
fn a_snapshot_of_a_later_shard() {
    for seed in 100..120 {
        round(seed, 1, 3);
    }
}

#[test]
fn finishing_before_the_walk_ends_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut shard = Shard::new(0, 1);
    for i in 0..100 {
        run_recorded(&mut shard, 0, START, &["SET", &format!("k{i}"), "v"]);
    }
    let mut job = SnapshotJob::start(tmp.path(), &shard, START).unwrap();
    assert!(!job.step(&shard, START, 1).unwrap());
    assert!(job.slots_left() > 0);
    assert!(job.finish(5).is_err());
    // Nothing is left behind, not even the temporary file.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

/// Two snapshots at the same LSN get different names: the one a manifest
/// names is never overwritten.
#[test]
fn names_never_collide() {
    let tmp = tempfile::tempdir().unwrap();
    let shard = Shard::new(2, 4);
    let mut paths = Vec::new();
    for _ in 0..3 {
        let mut job = SnapshotJob::start(tmp.path(), &shard, START).unwrap();
        assert!(job.step(&shard, START, 10).unwrap(), "empty: one step");
        paths.push(job.finish(42).unwrap().path);
    }
    let names: Vec<_> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "shard-002-00000000000000000042.snap",
            "shard-002-00000000000000000042-1.snap",
            "shard-002-00000000000000000042-2.snap"
        ]
    );
}
