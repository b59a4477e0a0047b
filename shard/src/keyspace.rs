//! One database's keyspace on one shard.
//!
//! Keys live in one small hash table per owned hash slot rather than in one
//! big table. That costs a 32-byte table header per slot and buys three
//! things: SCAN cursors are slot numbers, so a scan returns every key that
//! lived through it exactly once, even across resizes and across shards; the
//! active expiry cycle walks slots round-robin with bounded work per step;
//! and a slot can later move to another node whole (Redis Cluster).
//!
//! A table bucket holds only a pointer to a [`Node`] (key and entry). Open
//! addressing tables run between 44% and 87% full, and at the unlucky sizes
//! (1M keys is one) half the buckets are empty: with 8-byte buckets that
//! costs 9 bytes a key, with the 48-byte key-and-entry buckets it replaced,
//! about 50. The price is one more pointer to follow per lookup.

use crate::key::Key;
use crate::value::{Entry, Value};
use hashbrown::hash_table::Entry as Slot;
use hashbrown::{DefaultHashBuilder, HashTable};
use proto::slot::key_slot;
use std::hash::BuildHasher;
use std::ops::Range;

/// A key and what is stored under it.
pub struct Node {
    pub key: Key,
    pub entry: Entry,
}

pub type Table = HashTable<Box<Node>>;

/// Counters a database keeps; the shard adds them up for INFO.
#[derive(Default, Clone, Copy, Debug)]
pub struct DbStats {
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
}

pub struct Db {
    first_slot: u16,
    tables: Vec<Table>,
    /// Per slot: how many keys carry a TTL, so the expiry cycle skips the rest.
    volatile: Vec<u32>,
    len: usize,
    volatile_len: usize,
    /// Where the active expiry cycle resumes.
    expire_cursor: usize,
    hasher: DefaultHashBuilder,
    pub stats: DbStats,
    /// When set, keys removed because they expired are listed in
    /// `expired_keys` (for `expired` notifications and WATCH).
    pub track_expired: bool,
    pub expired_keys: Vec<bytes::Bytes>,
}

impl Db {
    pub fn new(slots: Range<u16>) -> Db {
        let n = slots.len();
        Db {
            first_slot: slots.start,
            tables: (0..n).map(|_| Table::new()).collect(),
            volatile: vec![0; n],
            len: 0,
            volatile_len: 0,
            expire_cursor: 0,
            hasher: DefaultHashBuilder::default(),
            stats: DbStats::default(),
            track_expired: false,
            expired_keys: Vec::new(),
        }
    }

    /// The slots this database holds.
    pub fn slots(&self) -> Range<u16> {
        self.first_slot..self.first_slot + self.tables.len() as u16
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn index(&self, key: &[u8]) -> usize {
        let slot = key_slot(key) as usize;
        debug_assert!(
            self.slots().contains(&(slot as u16)),
            "key routed to the wrong shard"
        );
        slot - self.first_slot as usize
    }

    /// Number of keys, expired ones not yet reclaimed included (as Redis's DBSIZE).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of keys with a TTL.
    pub fn volatile_len(&self) -> usize {
        self.volatile_len
    }

    /// Looks a key up for a write: expired keys are removed and reported absent.
    pub fn get_mut(&mut self, key: &[u8], now: u64) -> Option<&mut Entry> {
        let i = self.index(key);
        let hash = self.hash(key);
        // Borrow fields apart so the entry can be returned from one branch.
        let Db {
            tables,
            volatile,
            len,
            volatile_len,
            stats,
            track_expired,
            expired_keys,
            ..
        } = self;
        // find_entry, unlike entry, never grows the table on a miss.
        match tables[i].find_entry(hash, |n| *n.key == *key) {
            Ok(o) if o.get().entry.is_expired(now) => {
                let (old, _) = o.remove();
                *len -= 1;
                if old.entry.expire_at != 0 {
                    volatile[i] -= 1;
                    *volatile_len -= 1;
                }
                stats.expired += 1;
                if *track_expired {
                    expired_keys.push(bytes::Bytes::copy_from_slice(key));
                }
                None
            }
            Ok(o) => Some(&mut o.into_mut().entry),
            Err(_) => None,
        }
    }

    /// Starts loading the table of `key`'s slot into the cache. The first
    /// of two prefetch passes over a pipeline (see the net crate): a hint
    /// only, with no effect on the data.
    pub fn prefetch_slot(&self, key: &[u8]) {
        prefetch(
            &self.tables[self.index(key)] as *const Table as *const u8,
            1,
        );
    }

    /// Starts loading the node of the first entry whose hash tag matches
    /// `key`'s (almost always the key's own): the slot's control bytes are
    /// read here, but no node is waited for, so these loads overlap across
    /// a batch.
    pub fn prefetch_node(&self, key: &[u8]) {
        let hash = self.hash(key);
        self.tables[self.index(key)].find(hash, |n| {
            prefetch(&**n as *const Node as *const u8, 1);
            true
        });
    }

    /// Finds `key` without side effects and starts loading its value, so
    /// that a lookup moments later finds everything in the cache.
    pub fn prefetch_value(&self, key: &[u8]) {
        let hash = self.hash(key);
        if let Some(node) = self.tables[self.index(key)].find(hash, |n| *n.key == *key) {
            match &node.entry.value {
                Value::Str(s) => prefetch(s.as_ptr(), s.len().div_ceil(64).min(4)),
                Value::Hash(h) => prefetch(&**h as *const _ as *const u8, 1),
                Value::Set(s) => prefetch(&**s as *const _ as *const u8, 1),
                Value::ZSet(z) => prefetch(&**z as *const _ as *const u8, 1),
                Value::List(l) => prefetch(&**l as *const _ as *const u8, 1),
            }
        }
    }

    /// A live key's entry, without side effects: an expired key reads as
    /// absent but stays for `get_mut` or the expiry cycle to reclaim. For
    /// commands that read several keys of one database at once.
    pub fn peek(&self, key: &[u8], now: u64) -> Option<&Entry> {
        let hash = self.hash(key);
        self.tables[self.index(key)]
            .find(hash, |n| *n.key == *key)
            .map(|n| &n.entry)
            .filter(|e| !e.is_expired(now))
    }

    /// Looks a key up for a read, counting a keyspace hit or miss.
    pub fn get_read(&mut self, key: &[u8], now: u64) -> Option<&mut Entry> {
        // Two-step to keep the borrow checker content with counting after the lookup.
        if self.get_mut(key, now).is_some() {
            self.stats.hits += 1;
            self.get_mut(key, now)
        } else {
            self.stats.misses += 1;
            None
        }
    }

    /// Whether a live key exists, without removing it if it expired (WATCH
    /// looks without side effects, as Redis's `keyIsExpired` does).
    pub fn is_live(&self, key: &[u8], now: u64) -> bool {
        let i = self.index(key);
        self.tables[i]
            .find(self.hash(key), |n| *n.key == *key)
            .is_some_and(|n| !n.entry.is_expired(now))
    }

    /// Whether a live key exists (no hit/miss counted).
    pub fn contains(&mut self, key: &[u8], now: u64) -> bool {
        self.get_mut(key, now).is_some()
    }

    /// Stores `entry` under `key`, replacing and returning any live value.
    pub fn insert(&mut self, key: &[u8], entry: Entry, now: u64) -> Option<Entry> {
        let i = self.index(key);
        let hash = self.hash(key);
        if entry.expire_at != 0 {
            self.volatile[i] += 1;
            self.volatile_len += 1;
        }
        let hasher = &self.hasher;
        match self.tables[i].entry(hash, |n| *n.key == *key, |n| hasher.hash_one(&*n.key)) {
            Slot::Occupied(mut o) => {
                let old = std::mem::replace(&mut o.get_mut().entry, entry);
                self.forget_ttl(i, &old);
                if old.is_expired(now) {
                    self.note_expired(key);
                    None
                } else {
                    Some(old)
                }
            }
            Slot::Vacant(v) => {
                v.insert(Box::new(Node {
                    key: Key::new(key),
                    entry,
                }));
                self.len += 1;
                None
            }
        }
    }

    /// Stores a string under `key`, replacing any value, in one lookup.
    /// When the old value is a string of the same length its memory is
    /// reused: overwriting a session or token of fixed size then allocates
    /// nothing. Returns whether the key was created (it was missing or expired).
    pub fn set_str(&mut self, key: &[u8], value: &[u8], expire_at: u64, now: u64) -> bool {
        let i = self.index(key);
        let hash = self.hash(key);
        if expire_at != 0 {
            self.volatile[i] += 1;
            self.volatile_len += 1;
        }
        let hasher = &self.hasher;
        match self.tables[i].entry(hash, |n| *n.key == *key, |n| hasher.hash_one(&*n.key)) {
            Slot::Occupied(mut o) => {
                let entry = &mut o.get_mut().entry;
                let (old_expire, expired) = (entry.expire_at, entry.is_expired(now));
                match &mut entry.value {
                    Value::Str(old) if old.len() == value.len() => old.copy_from_slice(value),
                    other => *other = Value::Str(value.into()),
                }
                entry.expire_at = expire_at;
                if old_expire != 0 {
                    self.volatile[i] -= 1;
                    self.volatile_len -= 1;
                }
                if expired {
                    self.note_expired(key);
                }
                expired
            }
            Slot::Vacant(v) => {
                v.insert(Box::new(Node {
                    key: Key::new(key),
                    entry: Entry {
                        value: Value::Str(value.into()),
                        expire_at,
                    },
                }));
                self.len += 1;
                true
            }
        }
    }

    /// Removes a key, returning its value if it was live.
    pub fn remove(&mut self, key: &[u8], now: u64) -> Option<Entry> {
        let i = self.index(key);
        let hash = self.hash(key);
        let Ok(o) = self.tables[i].find_entry(hash, |n| *n.key == *key) else {
            return None;
        };
        let (old, _) = o.remove();
        let old = old.entry;
        self.forget(i, &old);
        if old.is_expired(now) {
            self.note_expired(key);
            None
        } else {
            Some(old)
        }
    }

    /// Sets or clears (0) a live key's expiry time. Returns false if absent.
    pub fn set_expiry(&mut self, key: &[u8], expire_at: u64, now: u64) -> bool {
        let i = self.index(key);
        let Some(entry) = self.get_mut(key, now) else {
            return false;
        };
        let had = entry.expire_at != 0;
        entry.expire_at = expire_at;
        match (had, expire_at != 0) {
            (false, true) => {
                self.volatile[i] += 1;
                self.volatile_len += 1;
            }
            (true, false) => {
                self.volatile[i] -= 1;
                self.volatile_len -= 1;
            }
            _ => {}
        }
        true
    }

    /// Counts (and, when tracked, lists) a key removed because it expired.
    fn note_expired(&mut self, key: &[u8]) {
        self.stats.expired += 1;
        if self.track_expired {
            self.expired_keys.push(bytes::Bytes::copy_from_slice(key));
        }
    }

    fn forget(&mut self, i: usize, old: &Entry) {
        self.len -= 1;
        self.forget_ttl(i, old);
    }

    fn forget_ttl(&mut self, i: usize, old: &Entry) {
        if old.expire_at != 0 {
            self.volatile[i] -= 1;
            self.volatile_len -= 1;
        }
    }

    pub fn clear(&mut self) {
        for t in &mut self.tables {
            *t = Table::new();
        }
        self.volatile.iter_mut().for_each(|v| *v = 0);
        self.len = 0;
        self.volatile_len = 0;
    }

    /// The keys and entries of one slot, for SCAN and KEYS. Expired keys may
    /// be among them: callers check [`Entry::is_expired`].
    pub fn slot_entries(&self, slot: u16) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.tables[(slot - self.first_slot) as usize]
            .iter()
            .map(|n| (&*n.key, &n.entry))
    }

    /// How many keys one slot holds (expired ones not yet reclaimed included).
    pub fn slot_len(&self, slot: u16) -> usize {
        self.tables[(slot - self.first_slot) as usize].len()
    }

    /// One step of the active expiry cycle: walks slots holding keys with a
    /// TTL from where the last step stopped, removing expired keys, until
    /// about `budget` keys have been examined or every slot was visited.
    /// Returns the number of keys removed.
    pub fn expire_step(&mut self, now: u64, budget: usize) -> usize {
        let n = self.tables.len();
        let (mut examined, mut removed) = (0, 0);
        for _ in 0..n {
            if examined >= budget || self.volatile_len == 0 {
                break;
            }
            let i = self.expire_cursor;
            self.expire_cursor = (self.expire_cursor + 1) % n;
            if self.volatile[i] == 0 {
                continue;
            }
            let table = &mut self.tables[i];
            examined += table.len();
            let before = table.len();
            let mut dropped_ttl = 0;
            let (track, log) = (self.track_expired, &mut self.expired_keys);
            table.retain(|n| {
                let keep = !n.entry.is_expired(now);
                dropped_ttl += !keep as u32;
                if !keep && track {
                    log.push(bytes::Bytes::copy_from_slice(&n.key));
                }
                keep
            });
            let gone = before - table.len();
            self.volatile[i] -= dropped_ttl;
            self.volatile_len -= dropped_ttl as usize;
            self.len -= gone;
            removed += gone;
        }
        self.stats.expired += removed as u64;
        removed
    }

    /// A live key picked at random, using `seed` (a random number).
    pub fn random_key(&mut self, now: u64, seed: u64) -> Option<Box<[u8]>> {
        if self.len == 0 {
            return None;
        }
        let n = self.tables.len();
        // Start at a random slot and take a random live key of the first
        // non-empty one; good enough for RANDOMKEY's "some key".
        let start = (seed as usize) % n;
        for step in 0..n {
            let table = &self.tables[(start + step) % n];
            let live: Vec<&[u8]> = table
                .iter()
                .filter(|n| !n.entry.is_expired(now))
                .map(|n| &*n.key)
                .collect();
            if !live.is_empty() {
                return Some(live[(seed >> 32) as usize % live.len()].into());
            }
        }
        None
    }
}

/// Asks the CPU to start loading `lines` cache lines from `ptr`.
#[inline]
fn prefetch(ptr: *const u8, lines: usize) {
    #[cfg(target_arch = "x86_64")]
    for i in 0..lines {
        // SAFETY: prefetching is a hint; it never faults, whatever the address.
        unsafe {
            std::arch::x86_64::_mm_prefetch(
                ptr.wrapping_add(i * 64) as *const i8,
                std::arch::x86_64::_MM_HINT_T0,
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (ptr, lines);
}

/// Shorthand used by executors for a string value with no TTL.
pub fn string_entry(data: &[u8]) -> Entry {
    Entry {
        value: Value::Str(data.into()),
        expire_at: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Db {
        Db::new(0..16384)
    }

    fn with_ttl(data: &[u8], at: u64) -> Entry {
        Entry {
            value: Value::Str(data.into()),
            expire_at: at,
        }
    }

    #[test]
    fn expired_keys_are_never_returned_and_are_counted() {
        let mut db = db();
        db.insert(b"k", with_ttl(b"v", 100), 0);
        assert!(db.get_read(b"k", 99).is_some());
        assert!(db.get_read(b"k", 100).is_none());
        assert_eq!(db.len(), 0);
        assert_eq!(db.volatile_len(), 0);
        assert_eq!(
            (db.stats.hits, db.stats.misses, db.stats.expired),
            (1, 1, 1)
        );
    }

    #[test]
    fn overwrite_reports_only_live_old_values() {
        let mut db = db();
        assert!(db.insert(b"k", with_ttl(b"a", 10), 0).is_none());
        assert!(
            db.insert(b"k", string_entry(b"b"), 20).is_none(),
            "old value had expired"
        );
        assert!(db.insert(b"k", string_entry(b"c"), 20).is_some());
        assert_eq!((db.len(), db.volatile_len()), (1, 0));
    }

    #[test]
    fn active_expiry_reclaims_without_reads() {
        let mut db = db();
        for i in 0..1000u32 {
            db.insert(format!("k{i}").as_bytes(), with_ttl(b"v", 50), 0);
        }
        db.insert(b"forever", string_entry(b"v"), 0);
        let mut removed = 0;
        for _ in 0..20_000 {
            removed += db.expire_step(60, 20);
        }
        assert_eq!(removed, 1000);
        assert_eq!(db.len(), 1);
        assert_eq!(db.stats.expired, 1000);
    }

    #[test]
    fn set_str_replaces_in_place_and_keeps_counts() {
        let mut db = db();
        db.set_str(b"k", b"aaa", 100, 0);
        db.set_str(b"k", b"bbb", 0, 10);
        assert_eq!(
            db.get_read(b"k", 10).unwrap().value,
            Value::Str(b"bbb"[..].into())
        );
        assert_eq!((db.len(), db.volatile_len()), (1, 0));
        db.set_str(b"k", b"longer", 50, 10);
        assert_eq!((db.len(), db.volatile_len()), (1, 1));
        // Over an expired value: counted as expired, replaced.
        db.set_str(b"k", b"x", 0, 60);
        assert_eq!((db.len(), db.volatile_len(), db.stats.expired), (1, 0, 1));
    }

    #[test]
    fn set_expiry_tracks_volatile_counts() {
        let mut db = db();
        db.insert(b"k", string_entry(b"v"), 0);
        assert!(db.set_expiry(b"k", 500, 0));
        assert_eq!(db.volatile_len(), 1);
        assert!(db.set_expiry(b"k", 0, 0));
        assert_eq!(db.volatile_len(), 0);
        assert!(!db.set_expiry(b"missing", 5, 0));
    }
}
