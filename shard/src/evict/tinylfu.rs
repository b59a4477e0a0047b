//! W-TinyLFU bookkeeping for one database: the frequency filter, the
//! admission window and the segment sizes. The keys themselves stay in the
//! keyspace; a key's segment lives in its stamp (see the parent module),
//! and the window is a queue of key copies (1% of the keys) run as a CLOCK:
//! a key used since it was queued gets a second pass instead of leaving,
//! which approximates the window LRU of W-TinyLFU without touching the
//! queue on every access.

use super::segment;
use super::sketch::Frequency;
use crate::key::Key;
use std::collections::VecDeque;

/// Share of keys in the admission window, in percent (Caffeine's default).
pub const WINDOW_PERCENT: usize = 1;
/// Share of the main area kept in the protected segment, in percent.
pub const PROTECTED_PERCENT: usize = 80;

pub struct TinyLfu {
    pub freq: Frequency,
    /// Keys that entered the window, oldest first. An entry whose key was
    /// since removed or left the window is skipped when it comes up.
    pub window: VecDeque<Key>,
    /// Keys that left the window for probation and have not yet faced an
    /// admission contest, oldest first (Caffeine's "candidates" at the
    /// probation segment's most recent end).
    pub candidates: VecDeque<Key>,
    pub window_len: usize,
    pub protected_len: usize,
}

impl TinyLfu {
    pub fn new(keys: usize) -> TinyLfu {
        TinyLfu {
            freq: Frequency::new(keys),
            window: VecDeque::new(),
            candidates: VecDeque::new(),
            window_len: 0,
            protected_len: 0,
        }
    }

    /// How many keys the window may hold in a database of `keys`.
    pub fn window_cap(keys: usize) -> usize {
        (keys * WINDOW_PERCENT / 100).max(1)
    }

    /// Whether the protected segment outgrew its share of the main area.
    pub fn protected_over(&self, keys: usize) -> bool {
        let main = keys.saturating_sub(self.window_len);
        self.protected_len * 100 > main * PROTECTED_PERCENT
    }

    /// A key was accessed: counts it, and returns its segment afterwards
    /// (a probation key that is used again is promoted).
    #[inline]
    pub fn on_access(&mut self, hash: u64, seg: u32) -> u32 {
        self.freq.record(hash);
        if seg == segment::PROBATION {
            self.protected_len += 1;
            segment::PROTECTED
        } else {
            seg
        }
    }

    /// A new key was stored at `now`: it enters the window. The queued
    /// copy carries the stamp it entered with, so that leaving the window
    /// can tell whether the key was used since (see `lfu_maintain`).
    pub fn on_insert(&mut self, hash: u64, key: &[u8], now: u64) -> u32 {
        self.freq.record(hash);
        let mut queued = Key::new(key);
        queued.set_stamp(super::stamp(now, segment::WINDOW));
        self.window.push_back(queued);
        self.window_len += 1;
        segment::WINDOW
    }

    /// A key in `seg` left the keyspace.
    #[inline]
    pub fn on_remove(&mut self, seg: u32) {
        match seg {
            segment::WINDOW => self.window_len = self.window_len.saturating_sub(1),
            segment::PROTECTED => self.protected_len = self.protected_len.saturating_sub(1),
            _ => {}
        }
    }

    /// Memory the structure itself takes.
    pub fn bytes(&self) -> usize {
        self.freq.bytes()
            + (self.window.capacity() + self.candidates.capacity()) * std::mem::size_of::<Key>()
    }
}
