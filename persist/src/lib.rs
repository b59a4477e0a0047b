//! TokenginX persistence: bytes and records (WAL framing and segments,
//! snapshots, recovery). It knows nothing of commands. Durability arrives
//! with its own change; until then the server keeps its data in memory only.

pub mod snapshot;
