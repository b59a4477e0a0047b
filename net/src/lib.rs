//! TokenginX's doors: RESP listeners and connections, one io_uring event
//! loop per shard.

pub mod config;
pub mod server;

pub use config::{OutputLimit, ServerConfig};
pub use server::{ServerHandle, ShutdownTrigger};
