//! Acting on what commands signalled (see `shard::signals`): keyspace
//! events to publish, keys blocked clients wait on.

use crate::event_loop::EventLoop;

impl EventLoop {
    /// Runs once per loop iteration, after commands and the expiry cycle.
    pub(crate) fn handle_signals(&mut self) {
        self.shard.collect_expired();
        let signals = &mut self.shard.signals;
        if !signals.events.is_empty() {
            // Publishing comes with pub/sub; until then events are dropped
            // so they cannot pile up.
            signals.events.clear();
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
}
