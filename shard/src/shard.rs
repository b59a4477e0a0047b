//! The state one core owns: its slice of every database, and its counters.

use crate::evict::Policy;
use crate::keyspace::Db;
use crate::signals::{class, Signals};
use proto::slot::SLOT_COUNT;
use std::ops::Range;

/// Number of databases SELECT can reach (Redis's default).
pub const DATABASES: usize = 16;

/// The contiguous slot range shard `id` of `count` owns.
pub fn slot_range(id: usize, count: usize) -> Range<u16> {
    let start = id * SLOT_COUNT / count;
    let end = (id + 1) * SLOT_COUNT / count;
    start as u16..end as u16
}

/// The shard that owns `slot` when there are `count` shards.
pub fn shard_of_slot(slot: u16, count: usize) -> usize {
    // Inverse of slot_range: the largest id whose range starts at or before slot.
    ((slot as usize + 1) * count - 1) / SLOT_COUNT
}

/// The shard that owns `key`.
pub fn shard_of_key(key: &[u8], count: usize) -> usize {
    if count == 1 {
        return 0;
    }
    shard_of_slot(proto::slot::key_slot(key), count)
}

/// Evictions one write (or one tick) may do before going ahead.
const MAX_EVICTIONS_PER_CALL: usize = 10_000;

pub struct Shard {
    pub id: usize,
    pub count: usize,
    dbs: Vec<Option<Box<Db>>>,
    /// The largest string a write may produce (proto-max-bulk-len).
    pub max_string_len: usize,
    /// State of a small xorshift generator for RANDOMKEY and friends.
    rng: u64,
    /// Notifications, watches and blocked keys (see signals.rs).
    pub signals: Signals,
    /// This shard's share of `maxmemory` in bytes; 0 means no limit.
    maxmemory: usize,
    policy: Policy,
    /// Keys evicted since start (INFO's evicted_keys).
    pub evicted: u64,
    /// Set while a transaction runs here: its commands skip the memory
    /// check, which EXEC made for all of them.
    pub in_exec: bool,
    /// One past the highest database index ever created: what runs after
    /// every command (collect_expired) need not look at sixteen slots when
    /// only database 0 is used.
    db_limit: usize,
}

impl Shard {
    pub fn new(id: usize, count: usize) -> Shard {
        Shard {
            id,
            count,
            dbs: (0..DATABASES).map(|_| None).collect(),
            max_string_len: 512 * 1024 * 1024,
            rng: 0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1),
            signals: Signals::default(),
            maxmemory: 0,
            policy: Policy::default(),
            evicted: 0,
            in_exec: false,
            db_limit: 0,
        }
    }

    /// Sets this shard's share of `maxmemory` and the eviction policy.
    pub fn set_memory_limit(&mut self, maxmemory: usize, policy: Policy) {
        self.maxmemory = maxmemory;
        self.policy = policy;
        self.dbs_mut().for_each(|db| db.set_lfu(policy.is_lfu()));
    }

    #[inline]
    pub fn maxmemory(&self) -> usize {
        self.maxmemory
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Estimated bytes this shard holds: its own structures and its
    /// databases.
    pub fn used_memory(&self) -> usize {
        std::mem::size_of::<Shard>()
            + self.dbs.capacity() * std::mem::size_of::<Option<Box<Db>>>()
            + self.dbs().map(|(_, db)| db.used_memory()).sum::<usize>()
    }

    /// Evicts keys until the shard is within its share of `maxmemory`, as
    /// Redis does before a command that may grow memory. Returns false when
    /// it is still over (no eviction policy, or no key the policy may
    /// evict): the command must then be refused.
    #[inline]
    pub fn make_room(&mut self, now: u64) -> bool {
        self.maxmemory == 0 || self.evict_to_limit(now)
    }

    fn evict_to_limit(&mut self, now: u64) -> bool {
        let mut evicted = 0;
        while self.used_memory() > self.maxmemory {
            if self.policy == Policy::NoEviction {
                return false;
            }
            // Like Redis's eviction time limit: a lowered maxmemory or one
            // huge write must not stall the shard for all its keys at once.
            // The command goes ahead; later writes and the tick go on.
            if evicted == MAX_EVICTIONS_PER_CALL {
                return true;
            }
            evicted += 1;
            // The database holding the most memory gives up a key.
            let volatile = self.policy.volatile_only();
            let Some(index) = self
                .dbs()
                .filter(|(_, db)| {
                    if volatile {
                        db.volatile_len() > 0
                    } else {
                        !db.is_empty()
                    }
                })
                .max_by_key(|(_, db)| db.used_memory())
                .map(|(i, _)| i)
            else {
                return false;
            };
            let mut rng = self.next_random();
            let policy = self.policy;
            let Some(db) = self.dbs[index].as_deref_mut() else {
                return false;
            };
            let Some(key) = db.evict_one(policy, now, &mut rng) else {
                return false;
            };
            self.evicted += 1;
            self.signals.notify(index, class::EVICTED, "evicted", &key);
            self.signals.modified(index, &key);
        }
        true
    }

    pub fn slots(&self) -> Range<u16> {
        slot_range(self.id, self.count)
    }

    /// Database `index`, created on first use: sixteen empty databases of
    /// 8192 slot tables each would cost memory for nothing.
    pub fn db(&mut self, index: usize) -> &mut Db {
        let slots = self.slots();
        let track = self.signals.tracks_expiry();
        let lfu = self.policy.is_lfu();
        if self.dbs[index].is_none() {
            self.db_limit = self.db_limit.max(index + 1);
        }
        self.dbs[index].get_or_insert_with(|| {
            let mut db = Db::new(slots);
            db.track_expired = track;
            db.set_lfu(lfu);
            Box::new(db)
        })
    }

    /// Call after notification settings or watches changed: whether
    /// databases list the keys they expire.
    pub fn update_expiry_tracking(&mut self) {
        let track = self.signals.tracks_expiry();
        self.dbs_mut().for_each(|db| db.track_expired = track);
    }

    /// Turns keys the databases expired since the last call into `expired`
    /// events. (Redis also signals a modification; here WATCH notices an
    /// expired key by its absence at EXEC, see `Signals::unwatch`.)
    pub fn collect_expired(&mut self) {
        for (i, slot) in self.dbs[..self.db_limit].iter_mut().enumerate() {
            let Some(db) = slot.as_deref_mut() else {
                continue;
            };
            if db.expired_keys.is_empty() {
                continue;
            }
            for key in db.expired_keys.drain(..) {
                self.signals.notify(i, class::EXPIRED, "expired", &key);
                if self.signals.changes.is_some() {
                    self.signals.modified_for_log(i, &key);
                }
            }
        }
    }

    /// Charges in-place value changes of the last command (see memory.rs).
    #[inline]
    pub fn settle(&mut self, index: usize) {
        if let Some(db) = self.dbs.get_mut(index).and_then(|d| d.as_deref_mut()) {
            db.settle();
        }
    }

    /// Database `index` if it was ever used (no creation: for read-only peeks).
    pub fn existing_db(&self, index: usize) -> Option<&Db> {
        self.dbs.get(index)?.as_deref()
    }

    /// The databases that exist, with their index.
    pub fn dbs(&self) -> impl Iterator<Item = (usize, &Db)> {
        self.dbs
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.as_deref().map(|d| (i, d)))
    }

    pub fn dbs_mut(&mut self) -> impl Iterator<Item = &mut Db> {
        self.dbs.iter_mut().filter_map(|d| d.as_deref_mut())
    }

    /// Exchanges the contents of two databases (SWAPDB). What clients
    /// watch or wait on stays with the database index, as in Redis.
    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        self.dbs.swap(a, b);
        self.db_limit = self.db_limit.max(a.max(b) + 1);
    }

    pub fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// One step of active expiry over every database; returns keys removed.
    pub fn expire_step(&mut self, now: u64, budget: usize) -> usize {
        self.dbs_mut().map(|db| db.expire_step(now, budget)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_ranges_partition_the_keyspace() {
        for count in 1..=7 {
            let mut next = 0u16;
            for id in 0..count {
                let r = slot_range(id, count);
                assert_eq!(r.start, next);
                next = r.end;
                for slot in [r.start, r.end - 1] {
                    assert_eq!(shard_of_slot(slot, count), id, "slot {slot} of {count}");
                }
            }
            assert_eq!(next as usize, SLOT_COUNT);
        }
    }
}
