//! The command table: the one place a command is declared.
//!
//! Each row gives name, arity (negative: at least that many), flags, key
//! positions (first, last, step; last -1 means the final argument) and the
//! command's group. From it come the [`ShardCmd`] and [`ConnCmd`] enums that
//! executors match on exhaustively, so a declared command without an
//! executor does not compile, plus name lookup and `COMMAND` output.
//!
//! `ShardCmd`s run on the shard that owns their keys (or on every shard for
//! keyless data commands such as KEYS or DBSIZE). `ConnCmd`s concern the
//! connection or the whole server and run where the connection lives.

use hashbrown::HashMap;
use std::sync::OnceLock;

/// Command flags, named as `COMMAND INFO` names them.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const NOSCRIPT: u32 = 1 << 4;
    pub const LOADING: u32 = 1 << 5;
    pub const STALE: u32 = 1 << 6;
    pub const FAST: u32 = 1 << 7;
    pub const NO_AUTH: u32 = 1 << 8;
    pub const ALLOW_BUSY: u32 = 1 << 9;
    pub const NO_MULTI: u32 = 1 << 10;
    pub const RANDOM: u32 = 1 << 11;
    pub const BLOCKING: u32 = 1 << 12;
    /// Keys are not at fixed positions: a numkeys argument says how many follow.
    pub const MOVABLEKEYS: u32 = 1 << 13;

    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (NOSCRIPT, "noscript"),
        (RANDOM, "random"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MULTI, "no_multi"),
        (MOVABLEKEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CommandId {
    Shard(ShardCmd),
    Conn(ConnCmd),
}

#[derive(Debug)]
pub struct CommandSpec {
    pub id: CommandId,
    /// Lower-case name, as COMMAND reports it.
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    /// The group `COMMAND DOCS` reports ("string", "generic", "hash", ...).
    pub group: &'static str,
    pub summary: &'static str,
}

impl CommandSpec {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Whether `argc` arguments (the name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }

    /// Positions of the key arguments for a call with `argc` arguments.
    pub fn key_positions(&self, argc: usize) -> impl Iterator<Item = usize> {
        let (first, step) = (self.first_key, self.step.max(1));
        let last = if self.last_key < 0 {
            argc as i32 + self.last_key
        } else {
            self.last_key.min(argc as i32 - 1)
        };
        let range = if first <= 0 { 0..0 } else { first..last + 1 };
        range.step_by(step as usize).map(|i| i as usize)
    }

    /// Positions of the key arguments of the call `args` (the name
    /// included). A MOVABLEKEYS command of this table takes the number of
    /// keys as its first argument, the keys right after it (SINTERCARD,
    /// and later ZUNION, LMPOP...); None when that number is not a positive
    /// integer within the arguments, a call the command itself rejects.
    pub fn keys_of(&self, args: &[impl AsRef<[u8]>]) -> Option<Vec<usize>> {
        if !self.has(flags::MOVABLEKEYS) {
            return Some(self.key_positions(args.len()).collect());
        }
        let n = crate::parse_int(args.get(1)?.as_ref())?;
        if n <= 0 || n > args.len() as i64 - 2 {
            return None;
        }
        Some((2..2 + n as usize).collect())
    }

    /// ACL categories, derived as Redis derives them from flags and group.
    pub fn acl_categories(&self) -> Vec<&'static str> {
        let mut cats = Vec::new();
        if self.has(flags::WRITE) {
            cats.push("@write");
        }
        if self.has(flags::READONLY) {
            cats.push("@read");
        }
        if self.has(flags::ADMIN) {
            cats.push("@admin");
            cats.push("@dangerous");
        }
        match self.group {
            "generic" => cats.push("@keyspace"),
            "string" => cats.push("@string"),
            "hash" => cats.push("@hash"),
            "set" => cats.push("@set"),
            "sorted_set" => cats.push("@sortedset"),
            "list" => cats.push("@list"),
            "connection" => cats.push("@connection"),
            "pubsub" => cats.push("@pubsub"),
            "transactions" => cats.push("@transaction"),
            _ => {}
        }
        cats.push(if self.has(flags::FAST) {
            "@fast"
        } else {
            "@slow"
        });
        if self.has(flags::BLOCKING) {
            cats.push("@blocking");
        }
        cats
    }
}

macro_rules! command_table {
    (
        shard { $( $sv:ident $sname:literal $sarity:literal [$($sflag:ident)*] ($sf:literal $sl:literal $ss:literal) $sgroup:ident $ssum:literal; )* }
        conn { $( $cv:ident $cname:literal $carity:literal [$($cflag:ident)*] $cgroup:ident $csum:literal; )* }
    ) => {
        /// Commands that run on the shard owning their keys.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ShardCmd { $($sv),* }

        /// Commands that run where the connection lives.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ConnCmd { $($cv),* }

        const SHARD_CMD_COUNT: usize = [$(stringify!($sv)),*].len();

        /// Every command, shard commands first, each in enum order.
        pub static COMMANDS: &[CommandSpec] = &[
            $( CommandSpec {
                id: CommandId::Shard(ShardCmd::$sv), name: $sname, arity: $sarity,
                flags: 0 $(| flags::$sflag)*, first_key: $sf, last_key: $sl, step: $ss,
                group: stringify!($sgroup), summary: $ssum,
            }, )*
            $( CommandSpec {
                id: CommandId::Conn(ConnCmd::$cv), name: $cname, arity: $carity,
                flags: 0 $(| flags::$cflag)*, first_key: 0, last_key: 0, step: 0,
                group: stringify!($cgroup), summary: $csum,
            }, )*
        ];
    };
}

impl ShardCmd {
    pub fn spec(self) -> &'static CommandSpec {
        &COMMANDS[self as usize]
    }
}

impl ConnCmd {
    pub fn spec(self) -> &'static CommandSpec {
        &COMMANDS[SHARD_CMD_COUNT + self as usize]
    }
}

impl CommandId {
    pub fn spec(self) -> &'static CommandSpec {
        match self {
            CommandId::Shard(c) => c.spec(),
            CommandId::Conn(c) => c.spec(),
        }
    }
}

command_table! {
    shard {
        // Strings
        Get "get" 2 [READONLY FAST] (1 1 1) string "Returns the string value of a key.";
        Set "set" -3 [WRITE DENYOOM] (1 1 1) string "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.";
        Setex "setex" 4 [WRITE DENYOOM] (1 1 1) string "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.";
        Psetex "psetex" 4 [WRITE DENYOOM] (1 1 1) string "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.";
        Setnx "setnx" 3 [WRITE DENYOOM FAST] (1 1 1) string "Set the string value of a key only when the key doesn't exist.";
        Getdel "getdel" 2 [WRITE FAST] (1 1 1) string "Returns the string value of a key after deleting the key.";
        Getex "getex" -2 [WRITE FAST] (1 1 1) string "Returns the string value of a key after setting its expiration time.";
        Getset "getset" 3 [WRITE DENYOOM FAST] (1 1 1) string "Returns the previous string value of a key after setting it to a new value.";
        Mget "mget" -2 [READONLY FAST] (1 -1 1) string "Atomically returns the string values of one or more keys.";
        Mset "mset" -3 [WRITE DENYOOM] (1 -1 2) string "Atomically creates or modifies the string values of one or more keys.";
        Msetnx "msetnx" -3 [WRITE DENYOOM] (1 -1 2) string "Atomically modifies the string values of one or more keys only when all keys don't exist.";
        Incr "incr" 2 [WRITE DENYOOM FAST] (1 1 1) string "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.";
        Decr "decr" 2 [WRITE DENYOOM FAST] (1 1 1) string "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.";
        Incrby "incrby" 3 [WRITE DENYOOM FAST] (1 1 1) string "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.";
        Decrby "decrby" 3 [WRITE DENYOOM FAST] (1 1 1) string "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.";
        Incrbyfloat "incrbyfloat" 3 [WRITE DENYOOM FAST] (1 1 1) string "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.";
        Append "append" 3 [WRITE DENYOOM FAST] (1 1 1) string "Appends a string to the value of a key. Creates the key if it doesn't exist.";
        Strlen "strlen" 2 [READONLY FAST] (1 1 1) string "Returns the length of a string value.";
        Getrange "getrange" 4 [READONLY] (1 1 1) string "Returns a substring of the string stored at a key.";
        Setrange "setrange" 4 [WRITE DENYOOM] (1 1 1) string "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.";
        // Keys
        Del "del" -2 [WRITE] (1 -1 1) generic "Deletes one or more keys.";
        Unlink "unlink" -2 [WRITE FAST] (1 -1 1) generic "Asynchronously deletes one or more keys.";
        Exists "exists" -2 [READONLY FAST] (1 -1 1) generic "Determines whether one or more keys exist.";
        Type "type" 2 [READONLY FAST] (1 1 1) generic "Determines the type of value stored at a key.";
        Touch "touch" -2 [READONLY FAST] (1 -1 1) generic "Returns the number of existing keys out of those specified after updating the time they were last accessed.";
        Expire "expire" -3 [WRITE FAST] (1 1 1) generic "Sets the expiration time of a key in seconds.";
        Pexpire "pexpire" -3 [WRITE FAST] (1 1 1) generic "Sets the expiration time of a key in milliseconds.";
        Expireat "expireat" -3 [WRITE FAST] (1 1 1) generic "Sets the expiration time of a key to a Unix timestamp.";
        Pexpireat "pexpireat" -3 [WRITE FAST] (1 1 1) generic "Sets the expiration time of a key to a Unix milliseconds timestamp.";
        Ttl "ttl" 2 [READONLY FAST] (1 1 1) generic "Returns the expiration time in seconds of a key.";
        Pttl "pttl" 2 [READONLY FAST] (1 1 1) generic "Returns the expiration time in milliseconds of a key.";
        Expiretime "expiretime" 2 [READONLY FAST] (1 1 1) generic "Returns the expiration time of a key as a Unix timestamp.";
        Pexpiretime "pexpiretime" 2 [READONLY FAST] (1 1 1) generic "Returns the expiration time of a key as a Unix milliseconds timestamp.";
        Persist "persist" 2 [WRITE FAST] (1 1 1) generic "Removes the expiration time of a key.";
        Keys "keys" 2 [READONLY] (0 0 0) generic "Returns all key names that match a pattern.";
        Scan "scan" -2 [READONLY] (0 0 0) generic "Iterates over the key names in the database.";
        Rename "rename" 3 [WRITE] (1 2 1) generic "Renames a key and overwrites the destination.";
        Renamenx "renamenx" 3 [WRITE FAST] (1 2 1) generic "Renames a key only when the target key name doesn't exist.";
        Copy "copy" -3 [WRITE DENYOOM] (1 2 1) generic "Copy a key";
        Randomkey "randomkey" 1 [READONLY RANDOM] (0 0 0) generic "Returns a random key name from the database.";
        Swapdb "swapdb" 3 [WRITE FAST] (0 0 0) server "Swaps two Redis databases";
        Object "object" -2 [READONLY] (2 2 1) generic "A container for object introspection commands.";
        Dbsize "dbsize" 1 [READONLY FAST] (0 0 0) server "Returns the number of keys in the database.";
        Flushdb "flushdb" -1 [WRITE] (0 0 0) server "Remove all keys from the current database.";
        Flushall "flushall" -1 [WRITE] (0 0 0) server "Removes all keys from all databases.";
        // Hashes
        Hset "hset" -4 [WRITE DENYOOM FAST] (1 1 1) hash "Creates or modifies the value of a field in a hash.";
        Hsetnx "hsetnx" 4 [WRITE DENYOOM FAST] (1 1 1) hash "Sets the value of a field in a hash only when the field doesn't exist.";
        Hget "hget" 3 [READONLY FAST] (1 1 1) hash "Returns the value of a field in a hash.";
        Hmget "hmget" -3 [READONLY FAST] (1 1 1) hash "Returns the values of all fields in a hash.";
        Hmset "hmset" -4 [WRITE DENYOOM FAST] (1 1 1) hash "Sets the values of multiple fields.";
        Hgetall "hgetall" 2 [READONLY] (1 1 1) hash "Returns all fields and values in a hash.";
        Hdel "hdel" -3 [WRITE FAST] (1 1 1) hash "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.";
        Hexists "hexists" 3 [READONLY FAST] (1 1 1) hash "Determines whether a field exists in a hash.";
        Hlen "hlen" 2 [READONLY FAST] (1 1 1) hash "Returns the number of fields in a hash.";
        Hkeys "hkeys" 2 [READONLY] (1 1 1) hash "Returns all fields in a hash.";
        Hvals "hvals" 2 [READONLY] (1 1 1) hash "Returns all values in a hash.";
        Hincrby "hincrby" 4 [WRITE DENYOOM FAST] (1 1 1) hash "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.";
        Hincrbyfloat "hincrbyfloat" 4 [WRITE DENYOOM FAST] (1 1 1) hash "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.";
        Hstrlen "hstrlen" 3 [READONLY FAST] (1 1 1) hash "Returns the length of the value of a field.";
        Hscan "hscan" -3 [READONLY] (1 1 1) hash "Iterates over fields and values of a hash.";
        // Sets
        Sadd "sadd" -3 [WRITE DENYOOM FAST] (1 1 1) set "Adds one or more members to a set. Creates the key if it doesn't exist.";
        Srem "srem" -3 [WRITE FAST] (1 1 1) set "Removes one or more members from a set. Deletes the set if the last member was removed.";
        Smembers "smembers" 2 [READONLY] (1 1 1) set "Returns all members of a set.";
        Sismember "sismember" 3 [READONLY FAST] (1 1 1) set "Determines whether a member belongs to a set.";
        Smismember "smismember" -3 [READONLY FAST] (1 1 1) set "Determines whether multiple members belong to a set.";
        Scard "scard" 2 [READONLY FAST] (1 1 1) set "Returns the number of members in a set.";
        Spop "spop" -2 [WRITE FAST] (1 1 1) set "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.";
        Srandmember "srandmember" -2 [READONLY] (1 1 1) set "Get one or multiple random members from a set";
        Sscan "sscan" -3 [READONLY] (1 1 1) set "Iterates over members of a set.";
        Smove "smove" 4 [WRITE FAST] (1 2 1) set "Move a member from one set to another";
        Sinter "sinter" -2 [READONLY] (1 -1 1) set "Intersect multiple sets";
        Sintercard "sintercard" -3 [READONLY MOVABLEKEYS] (0 0 0) set "Intersect multiple sets and return the cardinality of the result";
        Sinterstore "sinterstore" -3 [WRITE DENYOOM] (1 -1 1) set "Intersect multiple sets and store the resulting set in a key";
        Sunion "sunion" -2 [READONLY] (1 -1 1) set "Add multiple sets";
        Sunionstore "sunionstore" -3 [WRITE DENYOOM] (1 -1 1) set "Add multiple sets and store the resulting set in a key";
        Sdiff "sdiff" -2 [READONLY] (1 -1 1) set "Subtract multiple sets";
        Sdiffstore "sdiffstore" -3 [WRITE DENYOOM] (1 -1 1) set "Subtract multiple sets and store the resulting set in a key";
        // Sorted sets
        Zadd "zadd" -4 [WRITE DENYOOM FAST] (1 1 1) sorted_set "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.";
        Zincrby "zincrby" 4 [WRITE DENYOOM FAST] (1 1 1) sorted_set "Increments the score of a member in a sorted set.";
        Zrem "zrem" -3 [WRITE FAST] (1 1 1) sorted_set "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.";
        Zscore "zscore" 3 [READONLY FAST] (1 1 1) sorted_set "Returns the score of a member in a sorted set.";
        Zmscore "zmscore" -3 [READONLY FAST] (1 1 1) sorted_set "Returns the score of one or more members in a sorted set.";
        Zcard "zcard" 2 [READONLY FAST] (1 1 1) sorted_set "Returns the number of members in a sorted set.";
        Zcount "zcount" 4 [READONLY FAST] (1 1 1) sorted_set "Returns the count of members in a sorted set that have scores within a range.";
        Zrange "zrange" -4 [READONLY] (1 1 1) sorted_set "Returns members in a sorted set within a range of indexes, scores or members.";
        Zrangebyscore "zrangebyscore" -4 [READONLY] (1 1 1) sorted_set "Returns members in a sorted set within a range of scores.";
        Zrevrange "zrevrange" -4 [READONLY] (1 1 1) sorted_set "Returns members in a sorted set within a range of indexes in reverse order.";
        Zrank "zrank" 3 [READONLY FAST] (1 1 1) sorted_set "Returns the index of a member in a sorted set ordered by ascending scores.";
        Zrevrank "zrevrank" 3 [READONLY FAST] (1 1 1) sorted_set "Returns the index of a member in a sorted set ordered by descending scores.";
        Zremrangebyscore "zremrangebyscore" 4 [WRITE] (1 1 1) sorted_set "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.";
        Zremrangebyrank "zremrangebyrank" 4 [WRITE] (1 1 1) sorted_set "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.";
        Zpopmin "zpopmin" -2 [WRITE FAST] (1 1 1) sorted_set "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.";
        Zpopmax "zpopmax" -2 [WRITE FAST] (1 1 1) sorted_set "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.";
        Zscan "zscan" -3 [READONLY] (1 1 1) sorted_set "Iterates over members and scores of a sorted set.";
        // Lists
        Lpush "lpush" -3 [WRITE DENYOOM FAST] (1 1 1) list "Prepend one or multiple elements to a list";
        Rpush "rpush" -3 [WRITE DENYOOM FAST] (1 1 1) list "Append one or multiple elements to a list";
        Lpushx "lpushx" -3 [WRITE DENYOOM FAST] (1 1 1) list "Prepend an element to a list, only if the list exists";
        Rpushx "rpushx" -3 [WRITE DENYOOM FAST] (1 1 1) list "Append an element to a list, only if the list exists";
        Lpop "lpop" -2 [WRITE FAST] (1 1 1) list "Remove and get the first elements in a list";
        Rpop "rpop" -2 [WRITE FAST] (1 1 1) list "Remove and get the last elements in a list";
        Lrange "lrange" 4 [READONLY] (1 1 1) list "Get a range of elements from a list";
        Llen "llen" 2 [READONLY FAST] (1 1 1) list "Get the length of a list";
        Lindex "lindex" 3 [READONLY] (1 1 1) list "Get an element from a list by its index";
        Lset "lset" 4 [WRITE DENYOOM] (1 1 1) list "Set the value of an element in a list by its index";
        Lrem "lrem" 4 [WRITE] (1 1 1) list "Remove elements from a list";
        Ltrim "ltrim" 4 [WRITE] (1 1 1) list "Trim a list to the specified range";
        Lpos "lpos" -3 [READONLY] (1 1 1) list "Return the index of matching elements on a list";
        Blpop "blpop" -3 [WRITE BLOCKING] (1 -2 1) list "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.";
        Brpop "brpop" -3 [WRITE BLOCKING] (1 -2 1) list "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.";
        Linsert "linsert" 5 [WRITE DENYOOM] (1 1 1) list "Insert an element before or after another element in a list";
        Lmove "lmove" 5 [WRITE DENYOOM] (1 2 1) list "Pop an element from a list, push it to another list and return it";
        Rpoplpush "rpoplpush" 3 [WRITE DENYOOM] (1 2 1) list "Remove the last element in a list, prepend it to another list and return it";
        Blmove "blmove" 6 [WRITE DENYOOM NOSCRIPT BLOCKING] (1 2 1) list "Pop an element from a list, push it to another list and return it; or block until one is available";
        Brpoplpush "brpoplpush" 4 [WRITE DENYOOM NOSCRIPT BLOCKING] (1 2 1) list "Pop an element from a list, push it to another list and return it; or block until one is available";
    }
    conn {
        Ping "ping" -1 [FAST] connection "Returns the server's liveliness response.";
        Echo "echo" 2 [FAST] connection "Returns the given string.";
        Hello "hello" -1 [NOSCRIPT LOADING STALE FAST NO_AUTH] connection "Handshakes with the Redis server.";
        Auth "auth" -2 [NOSCRIPT LOADING STALE FAST NO_AUTH] connection "Authenticates the connection.";
        Select "select" 2 [LOADING STALE FAST] connection "Changes the selected database.";
        Quit "quit" -1 [ALLOW_BUSY NOSCRIPT LOADING STALE FAST NO_AUTH] connection "Closes the connection.";
        Reset "reset" 1 [NOSCRIPT LOADING STALE FAST NO_AUTH] connection "Resets the connection.";
        Client "client" -2 [] connection "A container for client connection commands.";
        Command "command" -1 [LOADING STALE] server "Returns detailed information about all commands.";
        Info "info" -1 [LOADING STALE] server "Returns information and statistics about the server.";
        Config "config" -2 [] server "A container for server configuration commands.";
        Time "time" 1 [LOADING STALE FAST] server "Returns the server time.";
        Multi "multi" 1 [NOSCRIPT LOADING STALE FAST ALLOW_BUSY] transactions "Starts a transaction.";
        Exec "exec" 1 [NOSCRIPT LOADING STALE] transactions "Executes all commands in a transaction.";
        Discard "discard" 1 [NOSCRIPT LOADING STALE FAST ALLOW_BUSY] transactions "Discards a transaction.";
        Watch "watch" -2 [NOSCRIPT LOADING STALE FAST ALLOW_BUSY] transactions "Monitors changes to keys to determine the execution of a transaction.";
        Unwatch "unwatch" 1 [NOSCRIPT LOADING STALE FAST ALLOW_BUSY] transactions "Forgets about watched keys of a transaction.";
        Shutdown "shutdown" -1 [ADMIN NOSCRIPT LOADING STALE NO_MULTI ALLOW_BUSY] server "Synchronously saves the database(s) to disk and shuts down the Redis server.";
        Save "save" 1 [ADMIN NOSCRIPT NO_MULTI] server "Synchronously saves the database(s) to disk.";
        Bgsave "bgsave" -1 [ADMIN NOSCRIPT] server "Asynchronously saves the database(s) to disk.";
        Bgrewriteaof "bgrewriteaof" 1 [ADMIN NOSCRIPT] server "Asynchronously rewrites the append-only file to disk.";
        Backup "backup" -2 [ADMIN NOSCRIPT NO_MULTI] server "Copies the data, consistent across shards, to a directory a server can start from (TokenginX).";
        Lastsave "lastsave" 1 [LOADING STALE FAST] server "Returns the Unix timestamp of the last successful save to disk.";
        // Pub/Sub
        Subscribe "subscribe" -2 [NOSCRIPT LOADING STALE] pubsub "Listens for messages published to channels.";
        Unsubscribe "unsubscribe" -1 [NOSCRIPT LOADING STALE] pubsub "Stops listening to messages posted to channels.";
        Psubscribe "psubscribe" -2 [NOSCRIPT LOADING STALE] pubsub "Listens for messages published to channels that match one or more patterns.";
        Punsubscribe "punsubscribe" -1 [NOSCRIPT LOADING STALE] pubsub "Stops listening to messages published to channels that match one or more patterns.";
        Publish "publish" 3 [LOADING STALE FAST] pubsub "Posts a message to a channel.";
        Ssubscribe "ssubscribe" -2 [NOSCRIPT LOADING STALE] pubsub "Listens for messages published to shard channels.";
        Sunsubscribe "sunsubscribe" -1 [NOSCRIPT LOADING STALE] pubsub "Stops listening to messages posted to shard channels.";
        Spublish "spublish" 3 [LOADING STALE FAST] pubsub "Post a message to a shard channel";
        Pubsub "pubsub" -2 [] pubsub "A container for Pub/Sub commands.";
    }
}

/// Finds a command by name, ignoring ASCII case, without allocating.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    static BY_NAME: OnceLock<HashMap<&'static [u8], &'static CommandSpec>> = OnceLock::new();
    let by_name = BY_NAME.get_or_init(|| COMMANDS.iter().map(|c| (c.name.as_bytes(), c)).collect());
    let mut lower = [0u8; 16];
    if name.len() > lower.len() {
        return None;
    }
    for (dst, src) in lower.iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    by_name.get(&lower[..name.len()]).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(lookup(b"GeT").unwrap().id, CommandId::Shard(ShardCmd::Get));
        assert_eq!(lookup(b"PING").unwrap().id, CommandId::Conn(ConnCmd::Ping));
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(b"averyveryverylongname").is_none());
    }

    #[test]
    fn specs_index_by_enum() {
        for spec in COMMANDS {
            assert!(std::ptr::eq(spec.id.spec(), spec), "{}", spec.name);
            assert!(spec.name.len() <= 16);
        }
    }

    #[test]
    fn key_positions_follow_first_last_step() {
        let mset = ShardCmd::Mset.spec();
        assert_eq!(mset.key_positions(5).collect::<Vec<_>>(), vec![1, 3]);
        let del = ShardCmd::Del.spec();
        assert_eq!(del.key_positions(4).collect::<Vec<_>>(), vec![1, 2, 3]);
        let rename = ShardCmd::Rename.spec();
        assert_eq!(rename.key_positions(3).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(ShardCmd::Keys.spec().key_positions(2).count(), 0);
    }

    #[test]
    fn movable_keys_follow_their_count() {
        let spec = ShardCmd::Sintercard.spec();
        assert_eq!(spec.key_positions(5).count(), 0, "COMMAND INFO shows 0 0 0");
        let call = |a: &[&str]| spec.keys_of(&a.iter().map(|s| s.as_bytes()).collect::<Vec<_>>());
        assert_eq!(
            call(&["sintercard", "2", "a", "b", "limit", "1"]),
            Some(vec![2, 3])
        );
        assert_eq!(call(&["sintercard", "1", "a"]), Some(vec![2]));
        for bad in ["0", "-1", "3", "x"] {
            assert_eq!(call(&["sintercard", bad, "a", "b"]), None, "{bad}");
        }
        let mset = ShardCmd::Mset.spec();
        assert_eq!(
            mset.keys_of(&["mset", "a", "1", "b", "2"]),
            Some(vec![1, 3])
        );
    }

    #[test]
    fn arity() {
        assert!(ShardCmd::Get.spec().arity_ok(2));
        assert!(!ShardCmd::Get.spec().arity_ok(3));
        assert!(ShardCmd::Set.spec().arity_ok(5));
        assert!(!ShardCmd::Set.spec().arity_ok(2));
    }
}
