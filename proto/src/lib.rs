//! TokenginX wire formats: the RESP request parser, replies and their RESP2
//! and RESP3 encodings, Redis's error texts, the command table, and the
//! Redis Cluster key-to-slot mapping. No I/O and no runtime here, so all of it
//! can be unit-tested and fuzzed alone.

pub mod errors;
pub mod parse;
pub mod reply;
pub mod size;
pub mod slot;
pub mod table;

pub use parse::{
    parse_int, parse_request, parse_request_resuming, Limits, Parse, Progress, ProtocolError,
};
pub use reply::{Protocol, Reply};
pub use table::{lookup, CommandId, CommandSpec, ConnCmd, ShardCmd, COMMANDS};
