//! The write-ahead log: each shard appends its mutations, as opaque records,
//! to its own segment files, and replays them at start-up.
//!
//! ```text
//! <dir>/shard-000/wal-00000000000000000000.log   segment: header, records
//!                /wal-00000000000000081920.log   next segment, first LSN in its name
//! <dir>/shard-001/...
//! ```
//!
//! [`record`] frames one record, [`segment`] names and lists files,
//! [`writer`] appends in aligned blocks for direct I/O, [`reader`] recovers
//! in order and [`check`] verifies everything without changing it.

pub mod aligned;
pub mod check;
pub mod reader;
pub mod record;
pub mod segment;
pub mod writer;

pub use check::{check_data, FileReport, Report};
pub use reader::{OnCorruption, Record, Recovery, RecoveryError, WalReader};
pub use record::RecordType;
pub use writer::{PendingWrite, WalWriter, WriterOptions};
