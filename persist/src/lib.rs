//! TokenginX persistence: bytes and records (WAL framing and segments,
//! snapshots, recovery). It knows nothing of commands: the shard crate
//! encodes its mutations into the opaque payloads logged here.

pub mod snapshot;
pub mod wal;
