//! What a write tells the rest of the server.
//!
//! Redis calls `signalModifiedKey` and `notifyKeyspaceEvent` from every
//! command that changes a key; executors here call [`Ctx::signal`] (or its
//! parts) at the same places. The shard only records: keyspace events to
//! publish, versions of keys some client WATCHes, and keys that blocked
//! clients wait on. The event loop drains the records after each command
//! and acts on them (publishing, waking blocked clients), because those
//! concern connections, which this crate knows nothing of.
//!
//! With notifications off, nothing watched and nobody blocked, a signal costs
//! three predictable branches.

use crate::exec::Ctx;
use bytes::Bytes;
use hashbrown::HashMap;

/// Redis's notification classes (`notify-keyspace-events` flags).
pub mod class {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const KEYEVENT: u32 = 1 << 1;
    pub const GENERIC: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const LIST: u32 = 1 << 4;
    pub const SET: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const ZSET: u32 = 1 << 7;
    pub const EXPIRED: u32 = 1 << 8;
    pub const EVICTED: u32 = 1 << 9;
    pub const STREAM: u32 = 1 << 10;
    pub const KEY_MISS: u32 = 1 << 11;
    pub const MODULE: u32 = 1 << 12;
    pub const NEW: u32 = 1 << 13;
    /// What `A` stands for.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// One keyspace event waiting to be published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub db: usize,
    pub class: u32,
    /// Redis's event name: "set", "del", "expired", "lpush", ...
    pub event: &'static str,
    pub key: Bytes,
}

/// Looks a `(db, key)` map entry up by borrowed key bytes, so a write
/// copies nothing to ask whether its key is watched or waited on. Hashes
/// exactly as the owned `(usize, Bytes)` key does (the tuple's fields in
/// order; `Bytes` hashes as its byte slice).
#[derive(Hash)]
struct KeyRef<'a>(usize, &'a [u8]);

impl hashbrown::Equivalent<(usize, Bytes)> for KeyRef<'_> {
    fn equivalent(&self, other: &(usize, Bytes)) -> bool {
        self.0 == other.0 && self.1 == &other.1[..]
    }
}

/// One client's WATCH on a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watcher {
    /// The client's id (unique over the whole server).
    pub client: u64,
    /// The key was modified since the WATCH.
    pub dirty: bool,
    /// The key existed (and had not expired) at WATCH time: if it is gone
    /// at EXEC, it expired meanwhile, which also fails the transaction.
    pub live: bool,
}

/// A change the write-ahead log must carry, recorded while logging is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A key changed: its whole state (or its absence) is logged. The key
    /// is `Signals::change_keys[at..at + len]`: one buffer for every key of
    /// a command rather than an allocation each.
    Key {
        db: usize,
        at: u32,
        len: u32,
    },
    FlushDb(usize),
    FlushAll,
    /// Every key of a database changed at once (SWAPDB).
    Db(usize),
}

#[derive(Default)]
pub struct Signals {
    /// While Some, every change to the data is recorded here for the
    /// write-ahead log (see changelog.rs).
    pub changes: Option<Vec<Change>>,
    /// The bytes of the keys in `changes`.
    pub change_keys: Vec<u8>,
    /// Classes enabled by `notify-keyspace-events`; others are not recorded.
    pub notify: u32,
    /// Events to publish, drained by the event loop.
    pub events: Vec<Event>,
    /// Keys some client WATCHes, by (db, key), with their watchers.
    pub watched: HashMap<(usize, Bytes), Vec<Watcher>>,
    /// Keys blocked clients wait on, by (db, key): how many waits.
    pub blocking: HashMap<(usize, Bytes), u32>,
    /// Blocked-on keys that received data since the last drain.
    pub ready: Vec<(usize, Bytes)>,
    /// Set on a scratch shard that runs one command for keys other shards
    /// own (the net crate's cross-shard path): every modification and
    /// readiness is listed, watched or not, for the owners to replay.
    pub relay: Option<Relay>,
}

/// What a scratch shard's command signalled besides its events.
#[derive(Default, Debug)]
pub struct Relay {
    pub modified: Vec<(usize, Bytes)>,
    pub ready: Vec<(usize, Bytes)>,
}

impl Signals {
    /// Whether an event of `class` is published at all.
    pub fn wants(&self, class: u32) -> bool {
        self.notify & class != 0 && self.notify & (class::KEYSPACE | class::KEYEVENT) != 0
    }

    /// Records a keyspace event if its class is enabled.
    pub fn notify(&mut self, db: usize, class: u32, event: &'static str, key: &[u8]) {
        if self.wants(class) {
            self.events.push(Event {
                db,
                class,
                event,
                key: Bytes::copy_from_slice(key),
            });
        }
    }

    /// A key changed: every WATCH on it fails its EXEC.
    pub fn modified(&mut self, db: usize, key: &[u8]) {
        self.modified_for_log(db, key);
        if self.watched.is_empty() {
            if let Some(relay) = &mut self.relay {
                relay.modified.push((db, Bytes::copy_from_slice(key)));
            }
            return;
        }
        if let Some(watchers) = self.watched.get_mut(&KeyRef(db, key)) {
            watchers.iter_mut().for_each(|w| w.dirty = true);
        }
    }

    /// Records a change for the write-ahead log only (an expiry: nobody
    /// watching it is told here; WATCH learns of expiry on its own).
    pub fn modified_for_log(&mut self, db: usize, key: &[u8]) {
        if let Some(changes) = &mut self.changes {
            changes.push(Change::Key {
                db,
                at: self.change_keys.len() as u32,
                len: key.len() as u32,
            });
            self.change_keys.extend_from_slice(key);
        }
    }

    /// A key that may have blocked clients received data (a list push).
    pub fn key_ready(&mut self, db: usize, key: &[u8]) {
        if self.blocking.is_empty() {
            if let Some(relay) = &mut self.relay {
                relay.ready.push((db, Bytes::copy_from_slice(key)));
            }
            return;
        }
        let is_ready = |(d, k): &(usize, Bytes)| *d == db && k[..] == *key;
        if self.blocking.contains_key(&KeyRef(db, key)) && !self.ready.iter().any(is_ready) {
            self.ready.push((db, Bytes::copy_from_slice(key)));
        }
    }

    /// Starts a client's watch on a key (a second WATCH of the same key
    /// by the same client changes nothing, as in Redis).
    pub fn watch(&mut self, db: usize, key: Bytes, client: u64, live: bool) {
        let watchers = self.watched.entry((db, key)).or_default();
        if !watchers.iter().any(|w| w.client == client) {
            watchers.push(Watcher {
                client,
                dirty: false,
                live,
            });
        }
    }

    /// Ends a client's watch on a key; returns whether the transaction it
    /// guards must fail: the key was modified, or was live at WATCH time and
    /// is not now (`live_now`). A watch that is not there counts as failed.
    pub fn unwatch(&mut self, db: usize, key: Bytes, client: u64, live_now: bool) -> bool {
        let k = (db, key);
        let Some(watchers) = self.watched.get_mut(&k) else {
            return true;
        };
        let Some(i) = watchers.iter().position(|w| w.client == client) else {
            return true;
        };
        let w = watchers.swap_remove(i);
        if watchers.is_empty() {
            self.watched.remove(&k);
        }
        w.dirty || (w.live && !live_now)
    }

    /// Whether deletions by expiry must be reported one by one.
    pub fn tracks_expiry(&self) -> bool {
        self.wants(class::EXPIRED) || self.changes.is_some()
    }
}

impl Ctx<'_> {
    /// A command changed `key`: Redis's `signalModifiedKey` followed by
    /// `notifyKeyspaceEvent(class, event, key)`.
    pub fn signal(&mut self, class: u32, event: &'static str, key: &[u8]) {
        self.expired_first();
        let db = self.db;
        self.shard.signals.modified(db, key);
        self.shard.signals.notify(db, class, event, key);
    }

    /// A keyspace event that comes with no modification of its own (the
    /// second event of a command, or `new`).
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        self.expired_first();
        let db = self.db;
        self.shard.signals.notify(db, class, event, key);
    }
}

impl Ctx<'_> {
    /// A command changed a collection and, when it took the last element,
    /// deleted the key: its event, then `del`, as Redis's commands report it.
    pub fn signal_removal(&mut self, class: u32, event: &'static str, key: &[u8], emptied: bool) {
        self.signal(class, event, key);
        if emptied {
            self.notify(class::GENERIC, "del", key);
        }
    }
}

impl Ctx<'_> {
    /// A write over an expired key: Redis publishes `expired` before the
    /// write's own event.
    fn expired_first(&mut self) {
        if !self.db().expired_keys.is_empty() {
            self.shard.collect_expired();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_recorded_only_for_enabled_classes() {
        let mut s = Signals::default();
        s.notify(0, class::STRING, "set", b"k");
        assert!(s.events.is_empty(), "notifications are off by default");
        s.notify = class::KEYEVENT | class::GENERIC;
        s.notify(0, class::STRING, "set", b"k");
        s.notify(3, class::GENERIC, "del", b"k");
        assert_eq!(s.events.len(), 1);
        assert_eq!((s.events[0].db, s.events[0].event), (3, "del"));
        // A class without K or E publishes nothing.
        s.notify = class::ALL;
        s.notify(0, class::GENERIC, "del", b"k");
        assert_eq!(s.events.len(), 1);
    }

    #[test]
    fn a_watch_fails_after_modification_or_expiry_only() {
        let mut s = Signals::default();
        let k = || Bytes::from_static(b"k");
        s.watch(0, k(), 1, true);
        s.watch(0, k(), 1, true);
        s.watch(0, k(), 2, true);
        s.watch(0, k(), 3, false);
        s.modified(0, b"other");
        s.modified(1, b"k");
        assert!(!s.unwatch(0, k(), 2, true), "untouched");
        assert!(!s.unwatch(0, k(), 3, false), "absent then, absent now");
        s.watch(0, k(), 4, true);
        assert!(s.unwatch(0, k(), 4, false), "live at WATCH, expired since");
        s.modified(0, b"k");
        assert!(s.unwatch(0, k(), 1, true), "modified");
        assert!(s.watched.is_empty());
        assert!(s.unwatch(0, k(), 1, true), "no such watch");
    }

    #[test]
    fn ready_keys_are_reported_once_and_only_when_blocked_on() {
        let mut s = Signals::default();
        s.key_ready(0, b"q");
        assert!(s.ready.is_empty());
        s.blocking.insert((0, Bytes::from_static(b"q")), 1);
        s.key_ready(0, b"q");
        s.key_ready(0, b"q");
        assert_eq!(s.ready, vec![(0, Bytes::from_static(b"q"))]);
    }
}
