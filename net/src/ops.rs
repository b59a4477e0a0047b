//! What travels between shards: operations to run on the owning shard and
//! their results, as plain values.

use bytes::Bytes;
use proto::{Reply, ShardCmd};
use shard::Entry;

pub enum ShardOp {
    /// A table command whose keys (if any) all live on the receiving shard.
    Command(ShardCmd, Vec<Bytes>),
    /// A blocked client's BLPOP/BRPOP run again (see `blocking.rs`):
    /// keys of another type are passed over.
    RetryBlocked(ShardCmd, Vec<Bytes>),
    /// Removes a key and returns its entry (the first half of a cross-shard RENAME).
    TakeKey(Bytes),
    /// Stores an entry, replacing any value (the second half of a cross-shard RENAME).
    PutKey(Bytes, Entry),
    /// Lends keys' entries out, to run a command over keys of several
    /// shards in one place (see `together.rs`). Each key names
    /// its database: COPY may write to another one. With `make_room` (a
    /// command that may grow memory), the shard first evicts down to its
    /// share of maxmemory, and takes nothing if it cannot.
    TakeKeys {
        keys: Vec<(usize, Bytes)>,
        make_room: bool,
    },
    /// Ends the loans of TakeKeys: each key's entry as the command left it
    /// (None: deleted), with what the command signalled about them.
    PutBack(Box<crate::together::PutBack>),
    /// Counters for INFO.
    Stats,
    /// CLIENT LIST lines of the receiving shard's connections.
    ClientList,
    /// CLIENT KILL on the receiving shard's connections.
    ClientKill(crate::client_cmd::KillFilter),
    /// CONFIG SET, validated by the sender.
    ConfigSet(Vec<crate::config_cmd::Change>),
    /// CONFIG RESETSTAT.
    ResetStats,
    /// PUBLISH (SPUBLISH when `sharded`) to the receiving shard's
    /// subscribers; replies with how many got it.
    Publish {
        channel: Bytes,
        message: Bytes,
        sharded: bool,
    },
    /// PUBSUB CHANNELS [pattern] (SHARDCHANNELS when true): the receiving
    /// shard's channels.
    PubsubChannels(Option<Bytes>, bool),
    /// PUBSUB NUMSUB (SHARDNUMSUB when true): the receiving shard's counts.
    PubsubNumsub(Vec<Bytes>, bool),
    /// PUBSUB NUMPAT: the receiving shard's patterns.
    PubsubPatterns,
    /// Hold the receiving shard for one cross-shard atomic command: until
    /// its Release, the shard runs nothing else (see `atomic.rs`).
    Hold,
    /// End a Hold. No reply is sent.
    Release,
    /// WATCH of keys this shard owns, for a client. No reply is sent.
    Watch {
        client: u64,
        keys: Vec<(usize, Bytes)>,
    },
    /// A blocked client waits on keys this shard owns. No reply is sent.
    Block {
        waiter: crate::blocking::Waiter,
        keys: Vec<(usize, Bytes)>,
    },
    /// The client stopped waiting. No reply is sent.
    Unblock {
        client: u64,
        keys: Vec<(usize, Bytes)>,
    },
    /// A key the client (on the receiving shard) waits on may have data.
    /// No reply is sent.
    WakeBlocked { slot: u32, generation: u32 },
    /// A whole transaction whose keys (and watches) all live on the
    /// receiving shard: its watches checked, then every command run in
    /// order, in one go, which is atomic on one shard without any hold.
    ExecBatch {
        watch: Option<(u64, Vec<(usize, Bytes)>)>,
        ops: Vec<(usize, ShardOp)>,
        /// A command may grow memory: the owner checks maxmemory first.
        grows: bool,
    },
    /// This shard's part of a snapshot round (snapshots.rs): answered
    /// with +OK or an error once the snapshot is committed when `answer`
    /// (SAVE), not at all otherwise (BGSAVE, save rules).
    Snapshot { answer: bool },
    /// BACKUP's cut, run while every shard is held: logs what the shard
    /// has and answers its WAL's next LSN (backup.rs).
    BackupCut,
    /// Ends a client's watches; with `check`, replies 1 if one of them
    /// failed (EXEC), else sends no reply (UNWATCH, DISCARD, disconnect).
    Unwatch {
        client: u64,
        keys: Vec<(usize, Bytes)>,
        check: bool,
    },
}

impl ShardOp {
    /// Whether the operation reads or writes the keyspace: others (pub/sub)
    /// may run while the shard is held by an atomic command.
    pub fn touches_data(&self) -> bool {
        !matches!(
            self,
            ShardOp::Publish { .. }
                | ShardOp::PubsubChannels(..)
                | ShardOp::PubsubNumsub(..)
                | ShardOp::PubsubPatterns
                | ShardOp::Snapshot { .. }
        )
    }
}

pub enum ShardReply {
    Reply(Reply),
    /// A batched EXEC's replies, in order; None when a watch failed.
    Batch(Option<Vec<ShardReply>>),
    Entry(Option<Entry>),
    /// Taken entries, in the order asked; None for "out of memory".
    Entries(Option<Vec<Option<Entry>>>),
    Stats(Box<ShardStats>),
    Clients(String),
    Killed(usize),
}

/// A shard's counters, merged by INFO.
#[derive(Default, Clone, Debug)]
pub struct ShardStats {
    pub shard: usize,
    /// (db index, keys, keys with a TTL) for each non-empty database.
    pub keyspace: Vec<(usize, usize, usize)>,
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    pub evicted: u64,
    /// Dataset estimate and share of maxmemory (0 = none), bytes.
    pub used_memory: u64,
    pub maxmemory: u64,
    pub connected_clients: usize,
    pub total_connections: u64,
    pub total_commands: u64,
    pub rejected_connections: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub cross_shard_requests: u64,
    pub receive_buffers_exhausted: u64,
    /// Channels and patterns with subscribers on this shard (INFO sums
    /// them: a channel with subscribers on two shards counts twice).
    pub pubsub_channels: u64,
    pub pubsub_patterns: u64,
    pub blocked_clients: usize,
    pub persist: PersistStats,
}

/// A shard's side of INFO persistence.
#[derive(Default, Clone, Debug)]
pub struct PersistStats {
    /// Still loading at start-up: (bytes read, bytes in all).
    pub loading: Option<(u64, u64)>,
    pub wal_on: bool,
    /// Changes logged since this shard's last snapshot.
    pub changes: u64,
    pub wal_bytes_since_snapshot: u64,
    pub write_ok: bool,
    /// Write groups handed to the disk and those durable.
    pub groups_started: u64,
    pub groups_durable: u64,
}
