//! Choosing and removing one victim from a database, per policy.

use super::tinylfu::TinyLfu;
use super::{idle_ms, segment, segment_of, stamp, Policy, SAMPLES};
use crate::keyspace::{Db, Node};
use bytes::Bytes;
use std::hash::BuildHasher;

/// What eviction learns of a sampled key.
#[derive(Clone, Copy)]
struct Sample {
    table: u32,
    hash: u64,
    stamp: u32,
    expire_at: u64,
}

/// A small xorshift step; eviction's sampling needs speed, not quality.
fn next(rng: &mut u64) -> u64 {
    let mut x = *rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *rng = x;
    x
}

impl Db {
    /// Up to `want` keys from a random place in the keyspace: consecutive
    /// slot tables from a random one, a few keys from a random position of
    /// each (Redis's dictGetSomeKeys walks buckets the same way).
    fn sample(&self, volatile_only: bool, want: usize, rng: &mut u64, out: &mut Vec<Sample>) {
        out.clear();
        let n = self.tables.len();
        let start = next(rng) as usize % n;
        for step in 0..n {
            if out.len() >= want {
                break;
            }
            let t = (start + step) % n;
            let table = &self.tables[t];
            if table.is_empty() || (volatile_only && self.volatile[t] == 0) {
                continue;
            }
            let skip = next(rng) as usize % table.len();
            for node in table.iter().cycle().skip(skip).take(table.len().min(2)) {
                if volatile_only && node.entry.expire_at == 0 {
                    continue;
                }
                out.push(Sample {
                    table: t as u32,
                    hash: self.hash(&node.key),
                    stamp: node.key.stamp(),
                    expire_at: node.entry.expire_at,
                });
            }
        }
    }

    fn node_by_hash(&mut self, s: &Sample) -> Option<&mut Node> {
        // A 64-bit hash identifies the key within its slot in practice.
        let hasher = &self.hasher;
        self.tables[s.table as usize]
            .find_mut(s.hash, |n| hasher.hash_one(&*n.key) == s.hash)
            .map(|n| &mut **n)
    }

    fn evict_sample(&mut self, s: &Sample, now: u64) -> Option<Bytes> {
        let key = Bytes::copy_from_slice(&self.node_by_hash(s)?.key);
        self.remove(&key, now);
        Some(key)
    }

    /// Evicts one key under `policy`; returns it, or None when no key may go.
    pub fn evict_one(&mut self, policy: Policy, now: u64, rng: &mut u64) -> Option<Bytes> {
        let volatile = policy.volatile_only();
        if self.is_empty() || (volatile && self.volatile_len() == 0) {
            return None;
        }
        let mut samples = Vec::with_capacity(SAMPLES * 2);
        match policy {
            Policy::NoEviction => None,
            Policy::AllkeysRandom | Policy::VolatileRandom => {
                self.sample(volatile, 1, rng, &mut samples);
                let s = *samples.first()?;
                self.evict_sample(&s, now)
            }
            Policy::AllkeysLru | Policy::VolatileLru => {
                self.sample(volatile, SAMPLES, rng, &mut samples);
                let s = *samples.iter().max_by_key(|s| idle_ms(s.stamp, now))?;
                self.evict_sample(&s, now)
            }
            Policy::VolatileTtl => {
                self.sample(true, SAMPLES, rng, &mut samples);
                let s = *samples.iter().min_by_key(|s| s.expire_at)?;
                self.evict_sample(&s, now)
            }
            Policy::AllkeysLfu | Policy::VolatileLfu => self.evict_tinylfu(volatile, now, rng),
        }
    }

    /// W-TinyLFU: a key that left the window competes with the probation
    /// segment's victim; the one the sketch says is used less is evicted.
    fn evict_tinylfu(&mut self, volatile: bool, now: u64, rng: &mut u64) -> Option<Bytes> {
        if self.lfu.is_none() {
            self.set_lfu(true);
        }
        let keys = self.len();
        self.lfu.as_mut()?.freq.fit(keys);
        let candidate = self.next_candidate(volatile, now);
        let mut samples = Vec::with_capacity(SAMPLES * 2);
        self.sample(volatile, SAMPLES, rng, &mut samples);
        let exclude = candidate.map(|c| c.hash);
        let oldest = |seg: u32| {
            samples
                .iter()
                .filter(|s| segment_of(s.stamp) == seg && Some(s.hash) != exclude)
                .max_by_key(|s| idle_ms(s.stamp, now))
                .copied()
        };
        // Probation first; then protected; the window only when nothing else.
        let victim = oldest(segment::PROBATION)
            .or_else(|| oldest(segment::PROTECTED))
            .or_else(|| oldest(segment::WINDOW));
        self.demote_protected(&samples, now);
        match (candidate, victim) {
            (Some(c), Some(v)) => {
                let lfu = self.lfu.as_ref()?;
                if lfu.freq.estimate(c.hash) > lfu.freq.estimate(v.hash) {
                    self.evict_sample(&v, now)
                } else {
                    self.evict_sample(&c, now)
                }
            }
            (Some(s), None) | (None, Some(s)) => self.evict_sample(&s, now),
            (None, None) => None,
        }
    }

    /// Window overflow, run as keys are added under an LFU policy: the
    /// oldest window keys move to probation as admission candidates.
    pub(crate) fn lfu_maintain(&mut self, now: u64) {
        let cap = TinyLfu::window_cap(self.len());
        loop {
            let Some(lfu) = self.lfu.as_mut() else {
                return;
            };
            // Keys deleted while in the window leave stale entries behind;
            // trimming the queue when it outgrows the window keeps it bounded
            // under create-and-delete churn.
            if lfu.window_len <= cap && lfu.window.len() <= 2 * cap + 64 {
                return;
            }
            let Some(key) = lfu.window.pop_front() else {
                lfu.window_len = 0;
                return;
            };
            let Some(s) = self.sample_of(&key, now) else {
                continue;
            };
            if segment_of(s.stamp) != segment::WINDOW {
                continue;
            }
            let lfu = self.lfu.as_mut().expect("checked above");
            if s.stamp != key.stamp() && lfu.window_len <= 2 * cap {
                // Used since it was queued: a second pass, as recent as
                // its last use (CLOCK), unless the window is far over.
                let mut again = key;
                again.set_stamp(s.stamp);
                lfu.window.push_back(again);
                continue;
            }
            self.move_to(&s, segment::PROBATION);
            let lfu = self.lfu.as_mut().expect("checked above");
            lfu.candidates.push_back(key);
            // Candidates nobody contested for long are simply admitted.
            if lfu.candidates.len() > cap {
                lfu.candidates.pop_front();
            }
        }
    }

    fn sample_of(&self, key: &[u8], now: u64) -> Option<Sample> {
        let node = self.peek(key, now)?;
        Some(Sample {
            table: (proto::slot::key_slot(key) - self.slots().start) as u32,
            hash: self.hash(key),
            stamp: node.key.stamp(),
            expire_at: node.entry.expire_at,
        })
    }

    /// The oldest admission candidate still in probation. Under a volatile
    /// policy, candidates without TTL are admitted unchallenged.
    fn next_candidate(&mut self, volatile: bool, now: u64) -> Option<Sample> {
        loop {
            let key = self.lfu.as_mut()?.candidates.pop_front()?;
            let Some(s) = self.sample_of(&key, now) else {
                continue;
            };
            if segment_of(s.stamp) != segment::PROBATION || (volatile && s.expire_at == 0) {
                continue;
            }
            return Some(s);
        }
    }

    /// Moves a key between segments, keeping the segment counts right.
    fn move_to(&mut self, s: &Sample, seg: u32) {
        let Some(node) = self.node_by_hash(s) else {
            return;
        };
        let from = segment_of(node.key.stamp());
        node.key
            .set_stamp(stamp(0, seg) | (node.key.stamp() & !segment::MASK));
        if let Some(l) = self.lfu.as_mut() {
            l.on_remove(from);
            match seg {
                segment::WINDOW => l.window_len += 1,
                segment::PROTECTED => l.protected_len += 1,
                _ => {}
            }
        }
    }

    /// Protected overflow: the sampled protected key idle longest falls
    /// back to probation.
    fn demote_protected(&mut self, samples: &[Sample], now: u64) {
        let over = self
            .lfu
            .as_ref()
            .is_some_and(|l| l.protected_over(self.len()));
        if !over {
            return;
        }
        if let Some(s) = samples
            .iter()
            .filter(|s| segment_of(s.stamp) == segment::PROTECTED)
            .max_by_key(|s| idle_ms(s.stamp, now))
        {
            self.move_to(s, segment::PROBATION);
        }
    }
}
