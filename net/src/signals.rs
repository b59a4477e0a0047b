//! Acting on what commands signalled (see `shard::signals`): keyspace
//! events to publish, keys blocked clients wait on.
//!
//! Events are published right after the command that caused them, before
//! its reply is queued or leaves for another shard, so a client that saw a
//! reply can count on its events being on their way, in order. They go to
//! this shard's subscribers at once and, as one batch per command, to each
//! other shard that has any subscription.

use crate::conn::Conn;
use crate::event_loop::EventLoop;
use crate::mesh::Message;
use bytes::Bytes;

impl EventLoop {
    /// Runs once per loop iteration, after commands and the expiry cycle.
    pub(crate) fn handle_signals(&mut self) {
        // Commands published theirs already; this is the expiry cycle's.
        self.shard.collect_expired();
        self.publish_signals(None);
        // A shard held by an atomic command (a cross-shard EXEC that pushed
        // and then reads the list) serves its waiters only once released,
        // as Redis serves them after the whole command.
        if self.held_by.is_some() {
            return;
        }
        // Serving a waiter can make the next one ready; a few rounds here,
        // the rest on the next iteration (the loop does not sleep meanwhile).
        for _ in 0..8 {
            if self.shard.signals.ready.is_empty() {
                break;
            }
            self.wake_ready_keys();
        }
    }

    /// Publishes what the last command (or the expiry cycle) signalled,
    /// before its reply is queued and before any reply leaves for another
    /// shard: as in Redis, a client that saw the reply can count on the
    /// events having been published. `publisher` is the connection being
    /// served, if it is out of the connection table.
    pub(crate) fn publish_signals(&mut self, publisher: Option<(u32, &mut Conn)>) {
        self.log_changes();
        if self.shard.signals.tracks_expiry() {
            self.shard.collect_expired();
        }
        if self.shard.signals.events.is_empty() {
            return;
        }
        // Taken out and put back so the vector keeps its capacity.
        let mut events = std::mem::take(&mut self.shard.signals.events);
        self.publish_events(&mut events, publisher);
        self.shard.signals.events = events;
    }

    /// Publishes keyspace events on `__keyspace@<db>__:<key>` and
    /// `__keyevent@<db>__:<event>`, to subscribers on every core.
    fn publish_events(
        &mut self,
        events: &mut Vec<shard::Event>,
        mut publisher: Option<(u32, &mut Conn)>,
    ) {
        let shards = self.shard.count;
        if !(0..shards).any(|s| self.has_subscribers(s)) {
            events.clear();
            return;
        }
        let flags = self.shard.signals.notify;
        let mut batch = Vec::with_capacity(events.len() * 2);
        for e in events.drain(..) {
            if flags & shard::class::KEYSPACE != 0 {
                let channel = [format!("__keyspace@{}__:", e.db).as_bytes(), &e.key[..]].concat();
                batch.push((Bytes::from(channel), Bytes::from_static(e.event.as_bytes())));
            }
            if flags & shard::class::KEYEVENT != 0 {
                let channel = format!("__keyevent@{}__:{}", e.db, e.event);
                batch.push((Bytes::from(channel), e.key.clone()));
            }
        }
        if self.has_subscribers(self.id) {
            for (channel, message) in &batch {
                let publisher = publisher.as_mut().map(|(s, c)| (*s, &mut **c));
                self.publish_local(channel, message, false, publisher);
            }
        }
        for s in 0..shards {
            if s == self.id || !self.has_subscribers(s) {
                continue;
            }
            self.peers[s].send(Message::Publish(batch.clone()));
            self.to_wake[s] = true;
        }
    }
}
