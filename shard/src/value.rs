//! Stored values. Keys and values are binary; the store keeps its own
//! compact copies (never a slice of a network buffer, which would pin the
//! whole buffer in memory).

use crate::memory::Tracked;
use hashbrown::{HashMap, HashSet};

pub type HashValue = HashMap<Box<[u8]>, Box<[u8]>>;
pub type SetValue = HashSet<Box<[u8]>>;
pub use crate::cmd::zset::ZSetValue;
/// A deque: pushes and pops at both ends are O(1), and LINDEX/LRANGE
/// index directly instead of walking.
pub type ListValue = std::collections::VecDeque<Box<[u8]>>;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(Box<[u8]>),
    // Collections carry what they were last charged (see memory.rs).
    Hash(Box<Tracked<HashValue>>),
    Set(Box<Tracked<SetValue>>),
    ZSet(Box<Tracked<ZSetValue>>),
    List(Box<Tracked<ListValue>>),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::List(_) => "list",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub value: Value,
    /// Absolute expiry time in Unix milliseconds; 0 means none.
    pub expire_at: u64,
}

impl Entry {
    pub fn is_expired(&self, now: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now
    }
}
