//! The shard's side of the write-ahead log: which changes a command made,
//! as records (shard/src/codec.rs) that replay to the same data.
//!
//! Every write already tells `Signals::modified` which key it changed (the
//! same calls WATCH and keyspace notifications rely on), and flushes and
//! SWAPDB say so too. A record carries the key's whole state after the
//! command, with its absolute expiry, or its absence: replaying records is
//! idempotent, never brings back an expired key and never extends a TTL,
//! and a record written after a snapshot was started makes the snapshot
//! exact once replayed over it.

use crate::codec;
use crate::shard::Shard;
use crate::signals::Change;

impl Shard {
    /// Starts recording changes (the WAL is on).
    pub fn start_change_log(&mut self) {
        self.signals.changes.get_or_insert_with(Vec::new);
        self.update_expiry_tracking();
    }

    /// Turns the changes recorded since the last call into WAL payloads,
    /// one per change, appended to `out` in order. A key changed several
    /// times by one command is logged once per change, as it is now.
    pub fn drain_change_records(&mut self, now: u64, out: &mut Vec<Vec<u8>>) {
        self.collect_expired();
        let Some(changes) = self.signals.changes.as_mut() else {
            return;
        };
        if changes.is_empty() {
            return;
        }
        let changes = std::mem::take(changes);
        for change in &changes {
            let mut record = Vec::new();
            match change {
                Change::Key(db, key) => {
                    match self.existing_db(*db).and_then(|d| d.peek(key, now)) {
                        Some(node) => codec::encode_put(&mut record, *db, key, &node.entry),
                        None => codec::encode_delete(&mut record, *db, key),
                    }
                }
                Change::FlushDb(db) => codec::encode_flush_db(&mut record, *db),
                Change::FlushAll => codec::encode_flush_all(&mut record),
                Change::Db(db) => {
                    codec::encode_flush_db(&mut record, *db);
                    out.push(std::mem::take(&mut record));
                    let Some(d) = self.existing_db(*db) else {
                        continue;
                    };
                    for slot in d.slots() {
                        for (key, entry) in d.slot_entries(slot) {
                            if !entry.is_expired(now) {
                                let mut put = Vec::new();
                                codec::encode_put(&mut put, *db, key, entry);
                                out.push(put);
                            }
                        }
                    }
                    continue;
                }
            }
            out.push(record);
        }
        // Keep the vector's capacity for the next command.
        let mut changes = changes;
        changes.clear();
        if let Some(slot) = self.signals.changes.as_mut() {
            if slot.is_empty() {
                *slot = changes;
            }
        }
    }
}
