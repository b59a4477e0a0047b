//! TokenginX's doors: RESP listeners and connections, one io_uring event
//! loop per shard (see `event_loop` for the loop, `mesh` for how shards
//! reach each other, `gather` for commands that span shards).

mod atomic;
mod bufring;
mod client_cmd;
mod command_cmd;
pub mod config;
mod config_cmd;
mod conn;
mod conn_cmd;
mod conn_io;
mod event_loop;
mod gather;
mod info;
mod mesh;
mod ops;
mod requests;
mod server;
mod shard_ops;

pub use config::{OutputLimit, ServerConfig};
pub(crate) use server::Shared;
pub use server::{ServerHandle, ShutdownTrigger};
