//! Feeds the record codec bytes as a damaged WAL or snapshot would hold
//! them: a single record, and a batch of them. Decoding must never panic;
//! whatever decodes must apply to a shard, and encode back to a record
//! that decodes to the same thing (the format has one spelling per state).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shard::codec::{self, Record};
use shard::restore;
use shard::Shard;

fn check(bytes: &[u8], shard: &mut Shard) {
    let Ok(record) = codec::decode(bytes) else {
        return;
    };
    let mut again = Vec::new();
    match &record {
        Record::Put { db, key, entry } => codec::encode_put(&mut again, *db, key, entry),
        Record::Delete { db, key } => codec::encode_delete(&mut again, *db, key),
        Record::FlushDb { db } => codec::encode_flush_db(&mut again, *db),
        Record::FlushAll => codec::encode_flush_all(&mut again),
    }
    assert_eq!(codec::decode(&again).as_ref(), Ok(&record));
    let _ = codec::wal_type(bytes);
    let _ = codec::record_key(bytes);
    restore::apply(shard, record, 1_000_000);
}

fuzz_target!(|data: &[u8]| {
    let mut shard = Shard::new(0, 1);
    check(data, &mut shard);
    if let Ok(records) = codec::decode_batch(data) {
        for r in records {
            check(r, &mut shard);
        }
    }
});
