//! The whole keyspace of a server read into a map, to compare what a server
//! holds before and after a restart, and a writer of keys of every type.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Databases a server has (Redis's default `databases`).
pub const DATABASES: u32 = 16;

/// Wall-clock Unix milliseconds: the clock the server stamps expiries with.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

/// A key's value, whatever its type.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    Str(Vec<u8>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    List(Vec<Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    /// Members in score order, with the scores as the server prints them.
    Zset(Vec<(Vec<u8>, String)>),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |b: &Vec<u8>| String::from_utf8_lossy(b).into_owned();
        match self {
            Value::Str(v) => write!(f, "Str({:?})", s(v)),
            Value::Hash(m) => f
                .debug_map()
                .entries(m.iter().map(|(k, v)| (s(k), s(v))))
                .finish(),
            Value::List(l) => f.debug_list().entries(l.iter().map(s)).finish(),
            Value::Set(m) => f.debug_set().entries(m.iter().map(s)).finish(),
            Value::Zset(z) => f
                .debug_list()
                .entries(z.iter().map(|(m, sc)| (s(m), sc)))
                .finish(),
        }
    }
}

/// A key as stored: its value and PEXPIRETIME (-1: no expiry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub value: Value,
    pub expire_at: i64,
}

/// Every key of every database: (db, key) -> entry.
pub type Dump = BTreeMap<(u32, Vec<u8>), Entry>;

/// Reads one key (None if it does not exist), value and expiry in one
/// transaction so that an expiry cannot fall between the two reads.
pub fn read_key(con: &mut redis::Connection, key: &[u8]) -> Option<Entry> {
    let kind: String = redis::cmd("TYPE")
        .arg(key)
        .query(con)
        .unwrap_or_else(|e| panic!("TYPE {:?}: {e}", show(key)));
    let mut pipe = redis::pipe();
    pipe.atomic();
    match kind.as_str() {
        "none" => return None,
        "string" => pipe.cmd("GET").arg(key),
        "hash" => pipe.cmd("HGETALL").arg(key),
        "list" => pipe.cmd("LRANGE").arg(key).arg(0).arg(-1),
        "set" => pipe.cmd("SMEMBERS").arg(key),
        "zset" => pipe.cmd("ZRANGE").arg(key).arg(0).arg(-1).arg("WITHSCORES"),
        other => panic!("key {:?} has unexpected type {other}", show(key)),
    };
    pipe.cmd("PEXPIRETIME").arg(key);
    let (value, expire_at): (redis::Value, i64) = pipe
        .query(con)
        .unwrap_or_else(|e| panic!("reading {kind} {:?}: {e}", show(key)));
    if expire_at == -2 {
        // It expired between TYPE and the transaction.
        return None;
    }
    use redis::FromRedisValue as F;
    let value = match kind.as_str() {
        "string" => Value::Str(F::from_redis_value(&value).expect("string")),
        "hash" => Value::Hash(F::from_redis_value(&value).expect("hash")),
        "list" => Value::List(F::from_redis_value(&value).expect("list")),
        "set" => Value::Set(F::from_redis_value(&value).expect("set")),
        _ => Value::Zset(F::from_redis_value(&value).expect("zset")),
    };
    Some(Entry { value, expire_at })
}

/// Every key of database `db`, by SCAN.
pub fn scan_keys(con: &mut redis::Connection, db: u32) -> BTreeSet<Vec<u8>> {
    redis::cmd("SELECT").arg(db).exec(con).expect("SELECT");
    let mut keys = BTreeSet::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query(con)
            .expect("SCAN");
        keys.extend(batch);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

/// Every key of every database with its value and expiry. Checks on the
/// way that DBSIZE agrees with SCAN in each database (keys that expire
/// meanwhile aside). Leaves the connection in database 0.
pub fn dump(con: &mut redis::Connection) -> Dump {
    let mut out = Dump::new();
    for db in 0..DATABASES {
        let keys = scan_keys(con, db);
        let dbsize: usize = redis::cmd("DBSIZE").query(con).expect("DBSIZE");
        let mut expiring = 0;
        for key in &keys {
            if let Some(entry) = read_key(con, key) {
                if entry.expire_at >= 0 {
                    expiring += 1;
                }
                out.insert((db, key.clone()), entry);
            }
        }
        // DBSIZE may still count a key that expired during the SCAN, and
        // not yet one SCAN saw; no key without an expiry may be missing.
        assert!(
            dbsize + expiring >= keys.len() && dbsize <= keys.len() + expiring,
            "db {db}: DBSIZE {dbsize} but SCAN found {} keys ({expiring} expiring)",
            keys.len()
        );
    }
    redis::cmd("SELECT").arg(0).exec(con).expect("SELECT");
    out
}

/// Asserts that `after` holds exactly what `before` did, each key with the
/// same value and the same absolute expiry, except keys whose expiry was
/// reached by `now` (they must be gone or, at most, about to go).
pub fn assert_same(before: &Dump, after: &Dump, now: u64, context: &str) {
    for ((db, key), entry) in before {
        let expired = entry.expire_at >= 0 && entry.expire_at as u64 <= now;
        match after.get(&(*db, key.clone())) {
            Some(got) => assert_eq!(
                got,
                entry,
                "{context}: db {db} key {:?} changed across the restart",
                show(key)
            ),
            None => assert!(
                expired,
                "{context}: db {db} key {:?} ({entry:?}) lost across the restart",
                show(key)
            ),
        }
    }
    for (db, key) in after.keys() {
        assert!(
            before.contains_key(&(*db, key.clone())),
            "{context}: db {db} key {:?} appeared across the restart: {:?}",
            show(key),
            after[&(*db, key.clone())]
        );
    }
}

pub fn show(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

/// Writes `n` keys of every type into database `db`, named `<prefix>:...`
/// with hash tags that spread them over every slot range: strings (some
/// with PX), hashes, lists, sets, sorted sets (some with EXPIRE), and
/// counters. Values are made from `rng`.
pub fn write_every_type(
    con: &mut redis::Connection,
    rng: &mut fastrand::Rng,
    db: u32,
    prefix: &str,
    n: usize,
) {
    redis::cmd("SELECT").arg(db).exec(con).expect("SELECT");
    let mut pipe = redis::pipe();
    for i in 0..n {
        let v = |rng: &mut fastrand::Rng| format!("{prefix}-{i}-{}", rng.u32(..));
        let mut set = redis::cmd("SET");
        set.arg(format!("{prefix}:s{i}")).arg(v(rng));
        if rng.bool() {
            // Long enough to outlive the test: expiry while down is
            // tested on its own.
            set.arg("PX").arg(rng.u64(600_000..6_000_000));
        }
        pipe.add_command(set).ignore();
        let hash = format!("{prefix}:h{i}");
        for f in 0..rng.usize(1..5) {
            pipe.cmd("HSET")
                .arg(&hash)
                .arg(format!("f{f}"))
                .arg(v(rng))
                .ignore();
        }
        let list = format!("{prefix}:l{i}");
        for _ in 0..rng.usize(1..5) {
            pipe.cmd("RPUSH").arg(&list).arg(v(rng)).ignore();
        }
        let set_key = format!("{prefix}:S{i}");
        for _ in 0..rng.usize(1..5) {
            pipe.cmd("SADD").arg(&set_key).arg(v(rng)).ignore();
        }
        let zset = format!("{prefix}:z{i}");
        for m in 0..rng.usize(1..5) {
            let score = rng.i32(-1000..1000) as f64 / 8.0;
            pipe.cmd("ZADD")
                .arg(&zset)
                .arg(score)
                .arg(format!("m{m}"))
                .ignore();
        }
        pipe.cmd("INCRBY")
            .arg(format!("{prefix}:n{i}"))
            .arg(rng.i64(-1000..1000))
            .ignore();
        for key in [&hash, &list, &set_key, &zset] {
            if rng.u8(..4) == 0 {
                pipe.cmd("EXPIRE").arg(key).arg(rng.u64(600..6000)).ignore();
            }
        }
    }
    pipe.exec(con).expect("write keys");
    redis::cmd("SELECT").arg(0).exec(con).expect("SELECT");
}
