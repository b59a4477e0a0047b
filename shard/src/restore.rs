//! Applying decoded records to a shard: what start-up does with snapshot
//! entries and then with the WAL tail, in order.
//!
//! Records carry absolute expiry times, so a key that expired while the
//! server was down is not brought back. A record for a key this shard does
//! not own (the number of shards changed since it was written) is left to
//! the caller, which hands it to the owning shard.

use crate::codec::Record;
use crate::shard::{shard_of_key, Shard};

/// What [`apply`] did with a record.
#[derive(Clone, Debug, PartialEq)]
pub enum Applied {
    Done,
    /// A Put whose expiry has passed: the key is gone (an older value of
    /// it, if any, removed too).
    Expired,
    /// The key belongs to another shard; nothing changed here.
    NotOwned(Record),
}

/// Applies one record to `shard` at time `now` (Unix ms). No keyspace
/// events are raised: no client is connected while data is loaded.
pub fn apply(shard: &mut Shard, record: Record, now: u64) -> Applied {
    match record {
        Record::Put { db, key, entry } => {
            if shard_of_key(&key, shard.count) != shard.id {
                return Applied::NotOwned(Record::Put { db, key, entry });
            }
            if entry.is_expired(now) {
                shard.db(db).remove(&key, now);
                return Applied::Expired;
            }
            shard.db(db).insert(&key, entry, now);
            Applied::Done
        }
        Record::Delete { db, key } => {
            if shard_of_key(&key, shard.count) != shard.id {
                return Applied::NotOwned(Record::Delete { db, key });
            }
            shard.db(db).remove(&key, now);
            Applied::Done
        }
        Record::FlushDb { db } => {
            if shard.existing_db(db).is_some() {
                shard.db(db).clear();
            }
            Applied::Done
        }
        Record::FlushAll => {
            shard.dbs_mut().for_each(|d| d.clear());
            Applied::Done
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::run_db;
    use crate::codec;
    use crate::value::Entry;

    const NOW: u64 = 1_000_000;

    /// Every live key of every database, encoded as a snapshot would.
    fn dump(shard: &Shard) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for (i, db) in shard.dbs() {
            for slot in db.slots() {
                for (key, entry) in db.slot_entries(slot) {
                    let mut r = Vec::new();
                    codec::encode_put(&mut r, i, key, entry);
                    out.push(r);
                }
            }
        }
        out
    }

    fn contents(shard: &Shard) -> Vec<(usize, Vec<u8>, Entry)> {
        let mut all: Vec<_> = shard
            .dbs()
            .flat_map(|(i, db)| {
                db.slots()
                    .flat_map(move |s| db.slot_entries(s))
                    .map(move |(k, e)| (i, k.to_vec(), e.clone()))
            })
            .collect();
        all.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        all
    }

    #[test]
    fn a_shard_rebuilt_from_its_records_is_the_same() {
        let mut original = Shard::new(0, 1);
        let commands: &[(usize, &[&str])] = &[
            (0, &["SET", "s", "v", "PX", "5000"]),
            (0, &["SET", "", "empty key"]),
            (0, &["HSET", "h", "f", "1", "g", "2"]),
            (0, &["SADD", "set", "a", "b", "7"]),
            (0, &["RPUSH", "l", "x", "y", "x"]),
            (
                0,
                &[
                    "ZADD", "z", "-inf", "lo", "+inf", "hi", "-0", "nz", "1.5", "m",
                ],
            ),
            (3, &["SET", "other-db", "v"]),
            (3, &["LPUSH", "q", "1"]),
        ];
        for (db, cmd) in commands {
            run_db(&mut original, *db, NOW, cmd);
        }
        for i in 0..300 {
            let field = format!("f{i}");
            run_db(&mut original, 0, NOW, &["HSET", "big", &field, "value"]);
        }
        let mut restored = Shard::new(0, 1);
        for r in dump(&original) {
            let record = codec::decode(&r).unwrap();
            assert_eq!(apply(&mut restored, record, NOW), Applied::Done);
        }
        assert_eq!(contents(&restored), contents(&original));
        for (i, db) in restored.dbs() {
            let before = original.existing_db(i).unwrap();
            assert_eq!(db.len(), before.len());
            assert_eq!(db.volatile_len(), before.volatile_len());
            assert_eq!(db.used_memory(), db.recount(), "db {i}");
        }
    }

    /// Keys written to a snapshot file and loaded back into a new shard.
    #[test]
    fn a_shard_survives_a_snapshot_file() {
        use persist::snapshot::{SnapshotHeader, SnapshotReader, SnapshotWriter};
        let mut original = Shard::new(1, 2);
        for i in 0..2000 {
            let key = format!("session:{i}");
            if shard_of_key(key.as_bytes(), 2) == 1 {
                run_db(
                    &mut original,
                    i % 2,
                    NOW,
                    &["SET", &key, "data", "EX", "60"],
                );
                run_db(&mut original, 2, NOW, &["SADD", &key, "m1", "m2"]);
            }
        }
        let dir = std::env::temp_dir().join(format!("tgx-restore-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let header = SnapshotHeader {
            shard_id: 1,
            shard_count: 2,
            lsn: 9,
            created_ms: NOW,
        };
        let mut writer = SnapshotWriter::create(&dir, "shard-1.snap", header).unwrap();
        for r in dump(&original) {
            writer.append(&r).unwrap();
        }
        let summary = writer.finish().unwrap();
        let mut reader = SnapshotReader::open(&summary.path).unwrap();
        let mut restored = Shard::new(1, 2);
        while let Some(r) = reader.next_record().unwrap() {
            let record = codec::decode(r).unwrap();
            assert_eq!(apply(&mut restored, record, NOW), Applied::Done);
        }
        assert_eq!(reader.header().lsn, 9);
        assert!(contents(&restored).len() > 1000);
        assert_eq!(contents(&restored), contents(&original));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn put(key: &str, expire_at: u64) -> Record {
        Record::Put {
            db: 0,
            key: key.as_bytes().into(),
            entry: Entry {
                value: crate::value::Value::Str(b"v"[..].into()),
                expire_at,
            },
        }
    }

    #[test]
    fn expiry_deletes_flushes_and_ownership() {
        let mut shard = Shard::new(0, 1);
        assert_eq!(apply(&mut shard, put("k", 0), NOW), Applied::Done);
        // A later record with a past expiry removes the key.
        assert_eq!(apply(&mut shard, put("k", NOW), NOW), Applied::Expired);
        assert!(!shard.db(0).contains(b"k", NOW));
        apply(&mut shard, put("a", NOW + 1), NOW);
        apply(&mut shard, put("b", 0), NOW);
        let delete = Record::Delete {
            db: 0,
            key: b"a"[..].into(),
        };
        assert_eq!(apply(&mut shard, delete, NOW), Applied::Done);
        assert_eq!(shard.db(0).len(), 1);
        assert_eq!(
            apply(&mut shard, Record::FlushDb { db: 5 }, NOW),
            Applied::Done
        );
        assert!(shard.existing_db(5).is_none(), "no database created");
        apply(&mut shard, Record::FlushDb { db: 0 }, NOW);
        assert!(shard.db(0).is_empty());
        apply(&mut shard, put("b", 0), NOW);
        apply(&mut shard, Record::FlushAll, NOW);
        assert!(shard.db(0).is_empty());

        // With two shards, "foo" (slot 12182) belongs to shard 1.
        let mut first = Shard::new(0, 2);
        assert_eq!(
            apply(&mut first, put("foo", 0), NOW),
            Applied::NotOwned(put("foo", 0))
        );
        assert!(first.db(0).is_empty());
    }
}
