//! Helpers for the tests of loading, re-sharding and snapshots: commands run
//! with the change log on, logged as the event loop logs them, and a
//! shard's contents to compare.

use crate::cmd::testing::run_db;
use crate::codec;
use crate::shard::Shard;
use crate::value::Entry;
use persist::wal::{RecordType, WalWriter, WriterOptions};
use std::path::Path;

/// Segment options for tests: small segments, buffered I/O (tmpfs refuses
/// O_DIRECT).
pub fn wal_options() -> WriterOptions {
    WriterOptions {
        segment_size: 16 * 1024,
        direct: false,
    }
}

pub fn wal_writer(dir: &Path, shard: u32, next_lsn: u64) -> WalWriter {
    WalWriter::create(dir, shard, next_lsn, wal_options()).unwrap()
}

/// Appends the records of one command as the event loop does: one record
/// with its own type, several as one batch.
pub fn log_records(wal: &mut WalWriter, records: &[Vec<u8>]) {
    match records {
        [] => {}
        [one] => {
            wal.append(codec::wal_type(one), one).unwrap();
        }
        many => {
            let mut batch = Vec::new();
            codec::encode_batch(&mut batch, many);
            wal.append(RecordType::Batch, &batch).unwrap();
        }
    }
}

/// Runs a command with the change log on and returns its records.
pub fn run_recorded(shard: &mut Shard, db: usize, now: u64, args: &[&str]) -> Vec<Vec<u8>> {
    shard.start_change_log();
    run_db(shard, db, now, args);
    let mut records = Vec::new();
    shard.drain_change_records(now, &mut records);
    records
}

/// Runs a command and logs its records.
pub fn run_logged(shard: &mut Shard, wal: &mut WalWriter, db: usize, now: u64, args: &[&str]) {
    let records = run_recorded(shard, db, now, args);
    log_records(wal, &records);
}

/// Every live key of every database, sorted.
pub fn contents(shard: &Shard, now: u64) -> Vec<(usize, Vec<u8>, Entry)> {
    let mut all: Vec<_> = shard
        .dbs()
        .flat_map(|(i, db)| {
            db.slots()
                .flat_map(move |s| db.slot_entries(s))
                .filter(move |(_, e)| !e.is_expired(now))
                .map(move |(k, e)| (i, k.to_vec(), e.clone()))
        })
        .collect();
    all.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    all
}

/// Text for a random command over a small key space, of several types,
/// with expiries, deletions, flushes and SWAPDB.
pub fn random_command(rng: &mut fastrand::Rng) -> Vec<String> {
    random_command_for(rng, 0, 1)
}

/// `name`, or the first of `name-1`, `name-2`... shard `id` of `count` owns
/// (`name` without a hash tag).
pub fn owned_key(name: &str, id: usize, count: usize) -> String {
    let mut key = name.to_string();
    let mut n = 0;
    while crate::shard::shard_of_key(key.as_bytes(), count) != id {
        n += 1;
        key = format!("{name}-{n}");
    }
    key
}

/// [`random_command`] over keys shard `id` of `count` owns.
pub fn random_command_for(rng: &mut fastrand::Rng, id: usize, count: usize) -> Vec<String> {
    let key = owned_key(&format!("k{}", rng.u32(..60)), id, count);
    let (k1, kx, k2) = (
        owned_key("k1", id, count),
        // A hash tag: the tag picks the slot.
        format!("{{{}}}x", owned_key("k", id, count)),
        owned_key("k2", id, count),
    );
    let member = format!("m{}", rng.u32(..8));
    let n = rng.u32(..1000).to_string();
    // Flushes are rare, so that keys pile up between them.
    let words: Vec<&str> = match rng.u32(..1000) {
        0..=199 => vec!["SET", &key, &n],
        200..=279 => vec!["SET", &key, &n, "PX", "50"],
        280..=319 => vec!["SET", &key, &n, "EX", "1000"],
        320..=399 => vec!["HSET", &key, &member, &n],
        400..=479 => vec!["SADD", &key, &member],
        480..=529 => vec!["SREM", &key, &member],
        530..=599 => vec!["RPUSH", &key, &n],
        600..=639 => vec!["LPOP", &key],
        640..=709 => vec!["ZADD", &key, &n, &member],
        710..=769 => vec!["DEL", &key],
        770..=799 => vec!["PEXPIRE", &key, "30"],
        800..=829 => vec!["PERSIST", &key],
        830..=859 => vec!["INCR", &key],
        860..=889 => vec!["MSET", &key, &n, &k1, "one", &kx, "two"],
        890..=909 => vec!["RENAME", &key, &k2],
        910..=929 => vec!["SWAPDB", "0", "1"],
        930..=934 => vec!["FLUSHDB"],
        935..=937 => vec!["FLUSHALL"],
        _ => vec!["APPEND", &key, "tail"],
    };
    words.into_iter().map(String::from).collect()
}
