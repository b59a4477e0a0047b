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

use crate::evict::tinylfu::TinyLfu;
use crate::evict::{segment, segment_of, stamp};
use crate::key::Key;
use crate::memory::{self, node_bytes, table_bytes, value_bytes};
use crate::value::{Entry, Value};
use hashbrown::hash_table::Entry as Slot;
use hashbrown::{DefaultHashBuilder, HashTable};
use proto::slot::key_slot;
use std::hash::BuildHasher;
use std::ops::Range;

/// A value looked up for writing during the command, to be re-measured
/// after it (see [`Db::settle`]). The node is named by table, hash and
/// address: no copy of the key is made on the write path. The address is
/// only compared, never followed.
struct Dirty {
    table: usize,
    hash: u64,
    node: usize,
    charged: usize,
}

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

/// Bytes of one slot's table at `capacity` (8-byte buckets: node pointers).
fn slot_table_bytes(capacity: usize) -> usize {
    table_bytes(capacity, 8)
}

/// Bytes a database costs before any key: a table header and a TTL
/// counter per slot.
fn empty_db_bytes(slots: usize) -> usize {
    slots * (std::mem::size_of::<Table>() + std::mem::size_of::<u32>())
}

/// What a lookup does besides finding: count a keyspace hit or miss (a
/// read), note the key for settling its size (a write), or neither.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Count {
    Read,
    Write,
    No,
}

pub struct Db {
    first_slot: u16,
    pub(crate) tables: Vec<Table>,
    /// Per slot: how many keys carry a TTL, so the expiry cycle skips the rest.
    pub(crate) volatile: Vec<u32>,
    len: usize,
    volatile_len: usize,
    /// Where the active expiry cycle resumes.
    expire_cursor: usize,
    pub(crate) hasher: DefaultHashBuilder,
    pub stats: DbStats,
    /// When set, keys removed because they expired are listed in
    /// `expired_keys` (for `expired` notifications and WATCH).
    pub track_expired: bool,
    pub expired_keys: Vec<bytes::Bytes>,
    /// Estimated bytes this database holds (see memory.rs). Updated with
    /// saturating arithmetic: a bookkeeping slip must never wrap into a
    /// huge figure that would make eviction empty the database.
    used: usize,
    /// Keys looked up for writing since the last [`Db::settle`], with the
    /// bytes their value was charged at the time.
    dirty: Vec<Dirty>,
    /// W-TinyLFU state, present under an LFU policy.
    pub(crate) lfu: Option<Box<TinyLfu>>,
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
            used: empty_db_bytes(n),
            dirty: Vec::new(),
            lfu: None,
        }
    }

    /// The slots this database holds.
    pub fn slots(&self) -> Range<u16> {
        self.first_slot..self.first_slot + self.tables.len() as u16
    }

    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
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

    /// Estimated bytes of keys, values and tables, including the eviction
    /// policy's own structures.
    pub fn used_memory(&self) -> usize {
        self.used + self.lfu.as_ref().map_or(0, |l| l.bytes())
    }

    /// The dataset size measured from scratch, walking every key: what
    /// [`Db::used_memory`] tracks incrementally (tests compare the two).
    pub fn recount(&self) -> usize {
        let keys: usize = self
            .tables
            .iter()
            .map(|t| {
                slot_table_bytes(t.capacity())
                    + t.iter()
                        .map(|n| {
                            std::mem::size_of::<Node>()
                                + n.key.heap_bytes()
                                + memory::exact_value_bytes(&n.entry)
                        })
                        .sum::<usize>()
            })
            .sum();
        empty_db_bytes(self.tables.len()) + keys + self.lfu.as_ref().map_or(0, |l| l.bytes())
    }

    /// Switches the per-database W-TinyLFU state on or off.
    pub fn set_lfu(&mut self, on: bool) {
        match (on, self.lfu.is_some()) {
            (true, false) => self.lfu = Some(Box::new(TinyLfu::new(self.len))),
            (false, true) => self.lfu = None,
            _ => {}
        }
    }

    /// The shared lookup: removes an expired key, stamps a live one as just
    /// accessed, and counts hits and misses when asked to.
    fn find(&mut self, key: &[u8], now: u64, count: Count) -> Option<&mut Node> {
        let i = self.index(key);
        let hash = self.hash(key);
        // Borrow fields apart so the node can be returned from one branch.
        let Db {
            tables,
            volatile,
            len,
            volatile_len,
            stats,
            track_expired,
            expired_keys,
            used,
            lfu,
            dirty,
            ..
        } = self;
        // find_entry, unlike entry, never grows the table on a miss.
        match tables[i].find_entry(hash, |n| *n.key == *key) {
            Ok(o) if o.get().entry.is_expired(now) => {
                let (old, _) = o.remove();
                *len -= 1;
                *used = used.saturating_sub(node_bytes(&old));
                // An emptied table keeps its buckets here (the borrow
                // checker cannot release it in this branch); they stay
                // charged, and the next key stored in the slot reuses them.
                if let Some(l) = lfu {
                    l.on_remove(segment_of(old.key.stamp()));
                }
                if old.entry.expire_at != 0 {
                    volatile[i] -= 1;
                    *volatile_len -= 1;
                }
                stats.expired += 1;
                if *track_expired {
                    expired_keys.push(bytes::Bytes::copy_from_slice(key));
                }
                if count == Count::Read {
                    stats.misses += 1;
                }
                None
            }
            Ok(o) => {
                let node = &mut **o.into_mut();
                touch(node, lfu, hash, now);
                match count {
                    Count::Read => stats.hits += 1,
                    Count::Write => dirty.push(Dirty {
                        table: i,
                        hash,
                        node: &*node as *const Node as usize,
                        charged: value_bytes(&node.entry),
                    }),
                    Count::No => {}
                }
                Some(node)
            }
            Err(_) => {
                if count == Count::Read {
                    stats.misses += 1;
                }
                None
            }
        }
    }

    /// Looks a key up for a write: expired keys are removed and reported
    /// absent. The value's size is settled after the command (see
    /// [`Db::settle`]), so the caller may change it in place.
    pub fn get_mut(&mut self, key: &[u8], now: u64) -> Option<&mut Entry> {
        if self.dirty.len() >= 16 {
            // Callers outside the dispatcher never settle; stay bounded.
            self.settle();
        }
        self.find(key, now, Count::Write).map(|n| &mut n.entry)
    }

    /// Charges the size changes of values written in place since the last
    /// call. The dispatcher calls it after every command.
    #[inline]
    pub fn settle(&mut self) {
        if !self.dirty.is_empty() {
            self.settle_dirty();
        }
    }

    #[cold]
    fn settle_dirty(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        for (i, d) in dirty.iter().enumerate() {
            // A key looked up twice was charged as of the first lookup.
            if !dirty[..i].iter().any(|e| e.node == d.node) {
                self.settle_one(d);
            }
        }
        self.dirty = dirty;
        self.dirty.clear();
    }

    fn settle_one(&mut self, d: &Dirty) {
        let target = d.node as *const Node;
        if let Some(node) = self.tables[d.table].find_mut(d.hash, |n| std::ptr::eq(&**n, target)) {
            let now_bytes = memory::remeasure(&mut node.entry);
            self.used = (self.used + now_bytes).saturating_sub(d.charged);
        }
    }

    /// Before replacing or removing `key`: settles its pending in-place
    /// change, so that what is taken off is what was charged.
    #[inline(always)]
    fn settle_key(&mut self, key: &[u8]) {
        if !self.dirty.is_empty() {
            self.settle_dirty_key(key);
        }
    }

    #[cold]
    fn settle_dirty_key(&mut self, key: &[u8]) {
        let i = self.index(key);
        let hash = self.hash(key);
        let Some(node) = self.tables[i].find(hash, |n| *n.key == *key) else {
            return;
        };
        let node = &**node as *const Node as usize;
        if let Some(pos) = self.dirty.iter().position(|d| d.node == node) {
            let d = self.dirty.swap_remove(pos);
            self.settle_one(&d);
            // Later entries for the same key were charged the same way.
            self.dirty.retain(|d| d.node != node);
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

    /// Looks a key up for a read, counting a keyspace hit or miss.
    pub fn get_read(&mut self, key: &[u8], now: u64) -> Option<&mut Entry> {
        self.find(key, now, Count::Read).map(|n| &mut n.entry)
    }

    /// Whether a live key exists, without removing it if it expired (WATCH
    /// looks without side effects, as Redis's `keyIsExpired` does).
    pub fn is_live(&self, key: &[u8], now: u64) -> bool {
        let i = self.index(key);
        self.tables[i]
            .find(self.hash(key), |n| *n.key == *key)
            .is_some_and(|n| !n.entry.is_expired(now))
    }

    /// Looks a live key up to read it without counting a hit or miss (a
    /// write command's check of the old value).
    pub fn get(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        self.find(key, now, Count::No).map(|n| &n.entry)
    }

    /// Whether a live key exists (no hit/miss counted).
    pub fn contains(&mut self, key: &[u8], now: u64) -> bool {
        self.find(key, now, Count::No).is_some()
    }

    /// Looks a key up without counting or stamping it as accessed (OBJECT).
    pub fn peek(&self, key: &[u8], now: u64) -> Option<&Node> {
        let hash = self.hash(key);
        self.tables[self.index(key)]
            .find(hash, |n| *n.key == *key)
            .map(|n| &**n)
            .filter(|n| !n.entry.is_expired(now))
    }

    /// The segment and stamp a new key starts with.
    #[inline]
    fn new_stamp(&mut self, hash: u64, key: &[u8], now: u64) -> u32 {
        let seg = match &mut self.lfu {
            Some(l) => l.on_insert(hash, key, now),
            None => segment::PROBATION,
        };
        stamp(now, seg)
    }

    /// Charges a table's growth after an insertion.
    #[inline]
    fn charge_growth(&mut self, i: usize, capacity_before: usize) {
        let after = self.tables[i].capacity();
        if after != capacity_before {
            self.used = (self.used + slot_table_bytes(after))
                .saturating_sub(slot_table_bytes(capacity_before));
        }
    }

    /// Adds a node for `key`, known to be absent from slot table `i`
    /// (whose capacity was `capacity` before), and charges it.
    #[inline]
    fn add_node(
        &mut self,
        i: usize,
        hash: u64,
        key: &[u8],
        entry: Entry,
        capacity: usize,
        now: u64,
    ) {
        let mut key_box = Key::new(key);
        key_box.set_stamp(self.new_stamp(hash, key, now));
        let node = Box::new(Node {
            key: key_box,
            entry,
        });
        self.used += node_bytes(&node);
        let hasher = &self.hasher;
        self.tables[i].insert_unique(hash, node, |n| hasher.hash_one(&*n.key));
        self.len += 1;
        self.charge_growth(i, capacity);
        if self.lfu.is_some() {
            self.lfu_maintain(now);
        }
    }

    /// Stores `entry` under `key`, replacing and returning any live value.
    pub fn insert(&mut self, key: &[u8], entry: Entry, now: u64) -> Option<Entry> {
        self.settle_key(key);
        let i = self.index(key);
        let hash = self.hash(key);
        if entry.expire_at != 0 {
            self.volatile[i] += 1;
            self.volatile_len += 1;
        }
        let capacity = self.tables[i].capacity();
        let hasher = &self.hasher;
        match self.tables[i].entry(hash, |n| *n.key == *key, |n| hasher.hash_one(&*n.key)) {
            Slot::Occupied(mut o) => {
                let added = value_bytes(&entry);
                let node = &mut **o.get_mut();
                let old = std::mem::replace(&mut node.entry, entry);
                touch(node, &mut self.lfu, hash, now);
                self.used = (self.used + added).saturating_sub(value_bytes(&old));
                self.forget_ttl(i, &old);
                if old.is_expired(now) {
                    self.note_expired(key);
                    None
                } else {
                    Some(old)
                }
            }
            Slot::Vacant(_) => {
                self.add_node(i, hash, key, entry, capacity, now);
                None
            }
        }
    }

    /// Stores a string under `key`, replacing any value, in one lookup.
    /// When the old value is a string of the same length its memory is
    /// reused: overwriting a session or token of fixed size then allocates
    /// nothing. Returns whether the key was created (it was missing or expired).
    pub fn set_str(&mut self, key: &[u8], value: &[u8], expire_at: u64, now: u64) -> bool {
        self.settle_key(key);
        let i = self.index(key);
        let hash = self.hash(key);
        if expire_at != 0 {
            self.volatile[i] += 1;
            self.volatile_len += 1;
        }
        let capacity = self.tables[i].capacity();
        let hasher = &self.hasher;
        match self.tables[i].entry(hash, |n| *n.key == *key, |n| hasher.hash_one(&*n.key)) {
            Slot::Occupied(mut o) => {
                let node = &mut **o.get_mut();
                touch(node, &mut self.lfu, hash, now);
                let entry = &mut node.entry;
                let (old_expire, expired) = (entry.expire_at, entry.is_expired(now));
                match &mut entry.value {
                    Value::Str(old) if old.len() == value.len() => old.copy_from_slice(value),
                    _ => {
                        let old_bytes = value_bytes(entry);
                        entry.value = Value::Str(value.into());
                        self.used =
                            (self.used + memory::alloc_size(value.len())).saturating_sub(old_bytes);
                    }
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
            Slot::Vacant(_) => {
                let entry = Entry {
                    value: Value::Str(value.into()),
                    expire_at,
                };
                self.add_node(i, hash, key, entry, capacity, now);
                true
            }
        }
    }

    /// Removes a key, returning its value if it was live.
    pub fn remove(&mut self, key: &[u8], now: u64) -> Option<Entry> {
        self.settle_key(key);
        let i = self.index(key);
        let hash = self.hash(key);
        let Ok(o) = self.tables[i].find_entry(hash, |n| *n.key == *key) else {
            return None;
        };
        let (old, _) = o.remove();
        self.uncharge(&old);
        self.release_if_empty(i);
        let old = old.entry;
        self.forget(i, &old);
        if old.is_expired(now) {
            self.note_expired(key);
            None
        } else {
            Some(old)
        }
    }

    /// Lends a live key's entry to a command that runs elsewhere (a
    /// multi-key command over several shards runs on a scratch shard while
    /// this one is held). The lookup counts as the command's access; the
    /// node stays, with its access stamp and eviction segment, holding an
    /// empty value without TTL until [`Db::give_back`]. None if the key is
    /// missing or expired (then removed, as any lookup does).
    pub fn lend(&mut self, key: &[u8], now: u64) -> Option<Entry> {
        self.settle_key(key);
        let i = self.index(key);
        let node = self.find(key, now, Count::No)?;
        let placeholder = Entry {
            value: Value::Str(Box::default()),
            expire_at: 0,
        };
        let lent = std::mem::replace(&mut node.entry, placeholder);
        self.used = self.used.saturating_sub(value_bytes(&lent));
        self.forget_ttl(i, &lent);
        Some(lent)
    }

    /// Ends a loan (or stores what a command made of a key it found
    /// missing): the entry goes back into its node, or the node goes if the
    /// command deleted the key.
    pub fn give_back(&mut self, key: &[u8], entry: Option<Entry>, now: u64) {
        let i = self.index(key);
        let hash = self.hash(key);
        let Ok(o) = self.tables[i].find_entry(hash, |n| *n.key == *key) else {
            if let Some(entry) = entry {
                self.insert(key, entry, now);
            }
            return;
        };
        match entry {
            Some(entry) => {
                let (bytes, ttl) = (value_bytes(&entry), entry.expire_at != 0);
                o.into_mut().entry = entry;
                self.used += bytes;
                if ttl {
                    self.volatile[i] += 1;
                    self.volatile_len += 1;
                }
            }
            None => {
                let (old, _) = o.remove();
                self.uncharge(&old);
                self.release_if_empty(i);
                // The placeholder has no TTL to forget.
                self.len -= 1;
            }
        }
    }

    /// Gives an emptied slot table's buckets back: tables never shrink on
    /// their own, and eviction must be able to free what keys made grow.
    fn release_if_empty(&mut self, i: usize) {
        let table = &mut self.tables[i];
        if table.is_empty() && table.capacity() != 0 {
            self.used = self.used.saturating_sub(slot_table_bytes(table.capacity()));
            *table = Table::new();
        }
    }

    /// Takes a removed node's bytes and segment off the books.
    fn uncharge(&mut self, node: &Node) {
        self.used = self.used.saturating_sub(node_bytes(node));
        if let Some(l) = &mut self.lfu {
            l.on_remove(segment_of(node.key.stamp()));
        }
    }

    /// Sets or clears (0) a live key's expiry time. Returns false if absent.
    pub fn set_expiry(&mut self, key: &[u8], expire_at: u64, now: u64) -> bool {
        let i = self.index(key);
        let Some(node) = self.find(key, now, Count::No) else {
            return false;
        };
        let entry = &mut node.entry;
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
        self.used = empty_db_bytes(self.tables.len());
        self.dirty.clear();
        if self.lfu.is_some() {
            self.lfu = Some(Box::new(TinyLfu::new(0)));
        }
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
        self.settle();
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
            let (used, lfu) = (&mut self.used, &mut self.lfu);
            table.retain(|n| {
                let keep = !n.entry.is_expired(now);
                if !keep {
                    dropped_ttl += 1;
                    *used = used.saturating_sub(node_bytes(n));
                    if let Some(l) = lfu {
                        l.on_remove(segment_of(n.key.stamp()));
                    }
                    if track {
                        log.push(bytes::Bytes::copy_from_slice(&n.key));
                    }
                }
                keep
            });
            let gone = before - table.len();
            self.volatile[i] -= dropped_ttl;
            self.release_if_empty(i);
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

/// Records an access to a node: its time stamp, and under an LFU policy
/// its frequency (which may move it between segments).
#[inline]
fn touch(node: &mut Node, lfu: &mut Option<Box<TinyLfu>>, hash: u64, now: u64) {
    let mut seg = segment_of(node.key.stamp());
    if let Some(l) = lfu {
        seg = l.on_access(hash, seg);
    }
    node.key.set_stamp(stamp(now, seg));
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
    fn a_lent_key_comes_back_with_its_node_and_charges() {
        let mut db = db();
        let empty = db.used_memory();
        db.insert(b"k", with_ttl(b"value", 1_000), 0);
        db.insert(b"other", with_ttl(b"v", 0), 0);
        let (used, stamp) = (db.used_memory(), db.peek(b"k", 10).unwrap().key.stamp());
        let lent = db.lend(b"k", 10).expect("live");
        assert_eq!((db.len(), db.volatile_len()), (2, 0), "the node stays");
        db.give_back(b"k", Some(lent.clone()), 10);
        assert_eq!(db.used_memory(), used);
        assert_eq!((db.len(), db.volatile_len()), (2, 1));
        assert_eq!(db.peek(b"k", 10).map(|n| &n.entry), Some(&lent));
        assert_eq!(
            segment_of(db.peek(b"k", 10).unwrap().key.stamp()),
            segment_of(stamp),
            "the eviction segment is kept"
        );
        // A key the command deleted goes; one it created arrives.
        db.lend(b"k", 10);
        db.give_back(b"k", None, 10);
        db.give_back(b"new", Some(with_ttl(b"n", 0)), 10);
        assert_eq!((db.len(), db.volatile_len()), (2, 0));
        db.remove(b"new", 10);
        db.remove(b"other", 10);
        assert_eq!(db.used_memory(), empty);
        // Expired keys are not lent: they go, as on any lookup.
        db.insert(b"e", with_ttl(b"v", 50), 0);
        assert!(db.lend(b"e", 60).is_none());
        assert_eq!((db.len(), db.stats.expired), (0, 1));
        db.give_back(b"e", None, 60);
        assert_eq!(db.len(), 0);
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
