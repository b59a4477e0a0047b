//! Acting on what commands signalled (see `shard::signals`): keyspace
//! events to publish, keys blocked clients wait on.

use crate::event_loop::EventLoop;

impl EventLoop {
    /// Runs once per loop iteration, after commands and the expiry cycle.
    pub(crate) fn handle_signals(&mut self) {
        self.shard.collect_expired();
        if !self.shard.signals.events.is_empty() {
            // Taken out and put back so the vector keeps its capacity.
            let mut events = std::mem::take(&mut self.shard.signals.events);
            self.publish_events(&mut events);
            self.shard.signals.events = events;
        }
        let signals = &mut self.shard.signals;
        if !signals.ready.is_empty() {
            signals.ready.clear();
        }
    }
}
