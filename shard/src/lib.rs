//! TokenginX's per-core engine.
//!
//! ```text
//!   core 0                         core 1
//!  +---------------------------+  +---------------------------+
//!  | Shard 0                   |  | Shard 1                   |
//!  |  slots 0..8192            |  |  slots 8192..16384        |
//!  |  Db 0..15 (created lazily)|  |  Db 0..15                 |
//!  |   one table per slot      |  |   one table per slot      |
//!  |  expiry cycle, counters   |  |  expiry cycle, counters   |
//!  +---------------------------+  +---------------------------+
//!         ^   executors run here, synchronously, one at a time
//! ```
//!
//! A key belongs to slot `CRC16(key or {tag}) mod 16384`; each shard owns a
//! contiguous range of slots. Nothing here is shared between threads: the
//! net crate hands each shard its commands, from its own connections or over
//! the cross-core rings, and this crate executes them.

pub mod changelog;
#[cfg(test)]
mod changelog_tests;
pub mod cmd;
pub mod codec;
#[cfg(test)]
mod codec_tests;
#[cfg(test)]
mod durable_testing;
pub mod evict;
pub mod exec;
pub mod key;
pub mod keyspace;
pub mod memory;
#[cfg(test)]
mod memory_tests;
pub mod recover;
pub mod reshard;
#[cfg(test)]
mod reshard_tests;
pub mod restore;
pub mod shard;
pub mod signals;
pub mod snapshot_files;
#[cfg(test)]
mod snapshot_files_tests;
pub mod snapshot_job;
#[cfg(test)]
mod snapshot_job_tests;
pub mod value;

pub use exec::{execute, Ctx};
pub use shard::{shard_of_key, shard_of_slot, slot_range, Shard, DATABASES};
pub use signals::{class, Event, Relay, Signals};
pub use value::{Entry, Value};
