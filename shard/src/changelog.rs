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
        let mut records = ChangeRecords::default();
        self.drain_change_records_into(now, &mut records);
        out.extend(records.iter().map(<[u8]>::to_vec));
    }

    /// [`Shard::drain_change_records`] into one reused buffer: what the
    /// event loop calls after every command, so no record costs an
    /// allocation of its own.
    pub fn drain_change_records_into(&mut self, now: u64, out: &mut ChangeRecords) {
        self.collect_expired();
        let Some(changes) = self.signals.changes.as_mut() else {
            return;
        };
        if changes.is_empty() {
            return;
        }
        let changes = std::mem::take(changes);
        let keys = std::mem::take(&mut self.signals.change_keys);
        for change in &changes {
            let record = &mut out.bytes;
            match *change {
                Change::Key { db, at, len } => {
                    let key = &keys[at as usize..(at + len) as usize];
                    match self.existing_db(db).and_then(|d| d.peek(key, now)) {
                        Some(node) => codec::encode_put(record, db, key, &node.entry),
                        None => codec::encode_delete(record, db, key),
                    }
                }
                Change::FlushDb(db) => codec::encode_flush_db(record, db),
                Change::FlushAll => codec::encode_flush_all(record),
                Change::Db(db) => {
                    codec::encode_flush_db(record, db);
                    out.ends.push(out.bytes.len());
                    let Some(d) = self.existing_db(db) else {
                        continue;
                    };
                    for slot in d.slots() {
                        for (key, entry) in d.slot_entries(slot) {
                            if !entry.is_expired(now) {
                                codec::encode_put(&mut out.bytes, db, key, entry);
                                out.ends.push(out.bytes.len());
                            }
                        }
                    }
                    continue;
                }
            }
            out.ends.push(out.bytes.len());
        }
        // Keep both buffers' capacity for the next command.
        let (mut changes, mut keys) = (changes, keys);
        changes.clear();
        keys.clear();
        if let Some(slot) = self.signals.changes.as_mut() {
            if slot.is_empty() {
                *slot = changes;
                self.signals.change_keys = keys;
            }
        }
    }
}

/// Change records laid end to end in one buffer.
#[derive(Default)]
pub struct ChangeRecords {
    bytes: Vec<u8>,
    /// Where each record ends in `bytes`.
    ends: Vec<usize>,
}

impl ChangeRecords {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + Clone {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(from, to)| &self.bytes[from..to])
    }

    /// Total bytes of the records.
    pub fn bytes_len(&self) -> usize {
        self.bytes.len()
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }
}
