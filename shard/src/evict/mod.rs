//! Eviction: which key goes when a shard is over its share of `maxmemory`.
//!
//! Each shard gets `maxmemory / shards` and evicts from its own keys only,
//! before a command that may grow memory (Redis's DENYOOM) runs, until its
//! dataset estimate (see [`crate::memory`]) is under its share.
//!
//! Per key the only state is a 32-bit stamp kept in the key's padding (see
//! [`crate::key`]): the last access time in milliseconds (low two bits
//! cleared, wrapping every 49.7 days) and, for the LFU policies, the
//! W-TinyLFU segment in those two bits.
//!
//! - LRU policies are approximated as Redis does: sample
//!   [`SAMPLES`] keys and evict the one idle longest.
//! - LFU policies are W-TinyLFU ([`tinylfu`]): new keys enter a small FIFO
//!   window (1% of keys); a key leaving the window competes with a victim
//!   from the main area's probation segment, and the one the frequency
//!   sketch says was used less goes. A probation key that is accessed moves
//!   to the protected segment (80% of the main area); protected overflow
//!   falls back to probation. The main area's order is the same sampled LRU.
//! - random and ttl policies sample too; `volatile-*` policies only ever
//!   look at keys with a TTL.

#[cfg(test)]
mod policy_tests;
pub mod sketch;
pub mod tinylfu;
mod victims;

/// Keys sampled per eviction for the LRU and TTL orders (Redis's
/// maxmemory-samples is 5 with a 16-entry pool; 16 plain samples come
/// close to that without the pool).
pub const SAMPLES: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Policy {
    NoEviction,
    #[default]
    AllkeysLru,
    VolatileLru,
    AllkeysLfu,
    VolatileLfu,
    AllkeysRandom,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    pub const ALL: [Policy; 8] = [
        Policy::NoEviction,
        Policy::AllkeysLru,
        Policy::VolatileLru,
        Policy::AllkeysLfu,
        Policy::VolatileLfu,
        Policy::AllkeysRandom,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
    ];

    /// The name `maxmemory-policy` uses.
    pub fn name(self) -> &'static str {
        match self {
            Policy::NoEviction => "noeviction",
            Policy::AllkeysLru => "allkeys-lru",
            Policy::VolatileLru => "volatile-lru",
            Policy::AllkeysLfu => "allkeys-lfu",
            Policy::VolatileLfu => "volatile-lfu",
            Policy::AllkeysRandom => "allkeys-random",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileTtl => "volatile-ttl",
        }
    }

    /// Parses a policy name, case-insensitively as Redis does.
    pub fn parse(name: &str) -> Option<Policy> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// Whether only keys with a TTL may be evicted.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllkeysLfu | Policy::VolatileLfu)
    }
}

/// W-TinyLFU segments, in a stamp's low two bits. Probation is 0 so that
/// keys stamped under another policy start there.
pub mod segment {
    pub const PROBATION: u32 = 0;
    pub const WINDOW: u32 = 1;
    pub const PROTECTED: u32 = 2;
    pub const MASK: u32 = 3;
}

/// A stamp for an access at `now` (Unix ms) in `segment`.
#[inline]
pub fn stamp(now: u64, segment: u32) -> u32 {
    (now as u32 & !segment::MASK) | segment
}

/// Milliseconds since the access a stamp records (modulo 2^32 ms).
#[inline]
pub fn idle_ms(stamp: u32, now: u64) -> u64 {
    (now as u32).wrapping_sub(stamp & !segment::MASK) as u64
}

#[inline]
pub fn segment_of(stamp: u32) -> u32 {
    stamp & segment::MASK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_round_trip() {
        for p in Policy::ALL {
            assert_eq!(Policy::parse(p.name()), Some(p));
            assert_eq!(Policy::parse(&p.name().to_uppercase()), Some(p));
        }
        assert_eq!(Policy::parse("lru"), None);
    }

    #[test]
    fn stamps_keep_segment_and_wrap() {
        let s = stamp(1_000_003, segment::PROTECTED);
        assert_eq!(segment_of(s), segment::PROTECTED);
        assert_eq!(idle_ms(s, 1_005_000), 5_000);
        // Across the 32-bit wrap.
        let s = stamp(u32::MAX as u64 - 7, segment::WINDOW);
        assert_eq!(idle_ms(s, (1 << 32) + 100), 108);
    }
}
