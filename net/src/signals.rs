//! Acting on what commands signalled (see `shard::signals`): keyspace
//! events to publish, keys blocked clients wait on.

use crate::event_loop::EventLoop;

impl EventLoop {
    /// Runs once per loop iteration, after commands and the expiry cycle.
    pub(crate) fn handle_signals(&mut self) {
        // Commands published theirs already; this is the expiry cycle's.
        self.shard.collect_expired();
        self.publish_signals(None);
        let signals = &mut self.shard.signals;
        if !signals.ready.is_empty() {
            signals.ready.clear();
        }
    }
}
