//! TokenginX's doors: RESP listeners and connections, one io_uring event
//! loop per shard.
//!
//! - `event_loop`: the loop itself, its ring and its ticks;
//! - `conn_io`: accepting, receiving, sending and closing connections;
//! - `requests`: parsing pipelines, dispatching commands, ordering replies;
//! - `gather`: where a command runs and how parts from shards combine;
//! - `atomic`: commands over several shards as one indivisible step;
//! - `together`: multi-key commands run on a scratch shard when their keys
//!   span shards;
//! - `mesh`, `ops`, `shard_ops`: how shards ask each other for work;
//! - `conn_cmd`, `client_cmd`, `config_cmd`, `command_cmd`, `info`: the
//!   connection and server commands.

mod atomic;
mod backup;
mod blocking;
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
mod loading;
mod mesh;
mod multi;
mod ops;
mod persist_cmd;
mod persist_state;
mod pubsub;
mod pubsub_cmd;
mod requests;
mod server;
mod shard_ops;
mod signals;
mod snapshots;
mod together;
mod wal;

pub use config::{parse_save_rules, AppendFsync, OutputLimit, PersistConfig, ServerConfig};
pub use config_cmd::parse_notify_flags;
pub(crate) use server::Shared;
pub use server::{ServerHandle, ShutdownTrigger};
