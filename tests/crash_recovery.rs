//! Crash recovery under `appendfsync always`: clients write while the
//! server is killed with SIGKILL at a random moment; after each restart on
//! the same data directory every acknowledged write is there, with its value
//! and an expiry within what was asked (never later, and expired keys
//! gone), and nothing that was never written.
//!
//! Each client owns its keys and sends one command (or transaction) at a
//! time, so it knows the exact state each of its keys must have. The one
//! write in flight when the server died was not acknowledged: its keys may
//! show the state before it or after it, nothing else; a transaction on one
//! shard (hash-tagged keys) shows all of it or none.
//!
//! `CRASH_ROUNDS` sets the number of crashes (default 20), `CRASH_SEED`
//! replays a run (the seed is printed); `scripts/crash-soak.sh` runs many.

mod common;

use common::keyspace::{now_ms, scan_keys};
use common::{tokenginx_with, Options, Process};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const CLIENTS: usize = 4;
/// Keys of each kind a client owns.
const STRINGS: usize = 12;
const GROUP: usize = 4;
const COUNTERS: usize = 4;
const HASHES: usize = 4;
const LISTS: usize = 4;
/// Slack on the early side of an expiry: the server stamps a command with
/// the time its loop iteration began, which can precede the client's send.
const EARLY_MS: u64 = 200;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Str,
    Hash,
    List,
}

#[derive(Clone, PartialEq, Eq, Debug)]
enum Val {
    None,
    Str(String),
    Hash(BTreeMap<String, String>),
    List(Vec<String>),
}

/// What a key must hold: its value and, if it has an expiry, the bounds of
/// the absolute expiry time (Unix ms) the server may have set.
#[derive(Clone, PartialEq, Eq, Debug)]
struct State {
    val: Val,
    expire: Option<(u64, u64)>,
}

const NONE: State = State {
    val: Val::None,
    expire: None,
};

/// What was read back for a key, and when.
#[derive(Debug)]
struct Seen {
    val: Val,
    /// PEXPIRETIME: -1 none, -2 no key.
    expire_at: i64,
    /// Client clock before and after the read.
    t0: u64,
    t1: u64,
}

impl State {
    /// Whether `seen` is this state (or this state after its expiry).
    fn matches(&self, seen: &Seen) -> bool {
        match (&self.val, seen.val == Val::None) {
            (Val::None, absent) => absent,
            // Gone: only if its expiry may have come by the read.
            (_, true) => self.expire.is_some_and(|(lo, _)| lo <= seen.t1 + EARLY_MS),
            (val, false) => {
                if *val != seen.val {
                    return false;
                }
                match self.expire {
                    None => seen.expire_at == -1,
                    // Never later than asked, not much earlier, and not
                    // served once past due.
                    Some((lo, hi)) => {
                        let at = seen.expire_at;
                        at >= 0
                            && at as u64 <= hi
                            && at as u64 + EARLY_MS >= lo
                            && at as u64 + EARLY_MS >= seen.t0
                    }
                }
            }
        }
    }

    /// The state after an expiry that may have happened: used once a read
    /// showed the key gone.
    fn settle(&self, seen: &Seen) -> State {
        if seen.val == Val::None {
            NONE
        } else {
            self.clone()
        }
    }
}

/// One client's keys and what they must hold.
#[derive(Clone, Debug)]
struct Model {
    id: usize,
    keys: BTreeMap<String, (Kind, State)>,
}

/// The write in flight when the connection broke: its keys' states after
/// it, and whether it was one shard's transaction (all or nothing).
#[derive(Debug, Default)]
struct Pending {
    after: Vec<(String, State)>,
    atomic: bool,
    what: String,
}

impl Model {
    fn new(id: usize) -> Model {
        let mut keys = BTreeMap::new();
        let mut add = |name: String, kind| {
            keys.insert(name, (kind, NONE));
        };
        for i in 0..STRINGS {
            add(format!("cr:c{id}:s{i}"), Kind::Str);
        }
        // One hash tag: one slot, one shard, one batch record per EXEC.
        for i in 0..GROUP {
            add(format!("cr:{{c{id}g}}:g{i}"), Kind::Str);
        }
        for i in 0..COUNTERS {
            add(format!("cr:c{id}:n{i}"), Kind::Str);
        }
        for i in 0..HASHES {
            add(format!("cr:c{id}:h{i}"), Kind::Hash);
        }
        for i in 0..LISTS {
            add(format!("cr:c{id}:l{i}"), Kind::List);
        }
        Model { id, keys }
    }

    fn state(&self, key: &str) -> &State {
        &self.keys[key].1
    }
}

/// Unix ms now, and a value no other write uses.
fn fresh_value(rng: &mut fastrand::Rng, id: usize, seq: u64) -> String {
    let len = rng.usize(0..48);
    let tail: String = std::iter::repeat_with(|| rng.alphanumeric())
        .take(len)
        .collect();
    format!("c{id}-{seq}-{tail}")
}

/// The states a write leaves its keys in, given its send and ack times.
type AfterFn = Box<dyn Fn(u64, u64) -> Vec<(String, State)> + Send>;

/// One random write: the command(s) to send and, given the send and ack
/// times, the states it leaves its keys in.
struct Op {
    pipe: redis::Pipeline,
    what: String,
    atomic: bool,
    /// Builds the after-states from (t_send, t_ack).
    after: AfterFn,
}

fn pick(rng: &mut fastrand::Rng, prefix: &str, n: usize) -> String {
    format!("{prefix}{}", rng.usize(0..n))
}

fn random_op(rng: &mut fastrand::Rng, m: &Model, seq: u64) -> Op {
    let id = m.id;
    let s = |rng: &mut fastrand::Rng| pick(rng, &format!("cr:c{id}:s"), STRINGS);
    let mut pipe = redis::pipe();
    match rng.u8(0..100) {
        // COPY of a counter (never expires, so whether it exists is known)
        // onto a string, often on another shard: a cross-shard COPY writes
        // through a put-back to the owner, whose durability the reply
        // must wait for under `always`.
        0..=4 => {
            let src = pick(rng, &format!("cr:c{id}:n"), COUNTERS);
            let dst = s(rng);
            let copied = m.state(&src).val.clone();
            pipe.cmd("COPY").arg(&src).arg(&dst).arg("REPLACE");
            Op {
                pipe,
                what: format!("COPY {src} {dst} REPLACE"),
                atomic: false,
                after: Box::new(move |_, _| match &copied {
                    Val::None => Vec::new(),
                    val => vec![(
                        dst.clone(),
                        State {
                            val: val.clone(),
                            expire: None,
                        },
                    )],
                }),
            }
        }
        // SET, with PX (short: expiring during the test, or long) or not.
        5..=34 => {
            let key = s(rng);
            let v = fresh_value(rng, id, seq);
            let px = match rng.u8(0..3) {
                0 => None,
                1 => Some(rng.u64(1..400)),
                _ => Some(rng.u64(60_000..600_000)),
            };
            let cmd = pipe.cmd("SET").arg(&key).arg(&v);
            if let Some(px) = px {
                cmd.arg("PX").arg(px);
            }
            let what = format!("SET {key} {v} PX {px:?}");
            Op {
                pipe,
                what,
                atomic: false,
                after: Box::new(move |t0, t1| {
                    let expire = px.map(|px| (t0 + px, t1 + px));
                    vec![(
                        key.clone(),
                        State {
                            val: Val::Str(v.clone()),
                            expire,
                        },
                    )]
                }),
            }
        }
        // DEL of one or two keys of any kind.
        35..=42 => {
            let names: Vec<&String> = m.keys.keys().collect();
            let keys: Vec<String> = (0..rng.usize(1..3))
                .map(|_| names[rng.usize(0..names.len())].clone())
                .collect();
            pipe.cmd("DEL").arg(&keys);
            Op {
                pipe,
                what: format!("DEL {keys:?}"),
                atomic: false,
                after: Box::new(move |_, _| keys.iter().map(|k| (k.clone(), NONE)).collect()),
            }
        }
        // INCR of a counter (counters never get an expiry).
        43..=52 => {
            let key = pick(rng, &format!("cr:c{id}:n"), COUNTERS);
            let n: i64 = match &m.state(&key).val {
                Val::Str(v) => v.parse().expect("counter"),
                _ => 0,
            };
            pipe.cmd("INCR").arg(&key);
            Op {
                pipe,
                what: format!("INCR {key}"),
                atomic: false,
                after: Box::new(move |_, _| {
                    vec![(
                        key.clone(),
                        State {
                            val: Val::Str((n + 1).to_string()),
                            expire: None,
                        },
                    )]
                }),
            }
        }
        // HSET of one to three fields.
        53..=62 => {
            let key = pick(rng, &format!("cr:c{id}:h"), HASHES);
            let mut state = m.state(&key).clone();
            let mut fields = match state.val {
                Val::Hash(f) => f,
                _ => BTreeMap::new(),
            };
            let cmd = pipe.cmd("HSET").arg(&key);
            for _ in 0..rng.usize(1..4) {
                let (f, v) = (format!("f{}", rng.u8(0..6)), fresh_value(rng, id, seq));
                cmd.arg(&f).arg(&v);
                fields.insert(f, v);
            }
            state.val = Val::Hash(fields);
            Op {
                pipe,
                what: format!("HSET {key}"),
                atomic: false,
                after: Box::new(move |_, _| vec![(key.clone(), state.clone())]),
            }
        }
        // RPUSH of one to three elements.
        63..=72 => {
            let key = pick(rng, &format!("cr:c{id}:l"), LISTS);
            let mut state = m.state(&key).clone();
            let mut items = match state.val {
                Val::List(l) => l,
                _ => Vec::new(),
            };
            let cmd = pipe.cmd("RPUSH").arg(&key);
            for _ in 0..rng.usize(1..4) {
                let v = fresh_value(rng, id, seq);
                cmd.arg(&v);
                items.push(v);
            }
            state.val = Val::List(items);
            Op {
                pipe,
                what: format!("RPUSH {key}"),
                atomic: false,
                after: Box::new(move |_, _| vec![(key.clone(), state.clone())]),
            }
        }
        // EXPIRE of a hash or list, long enough to outlive the test.
        73..=77 => {
            let key = if rng.bool() {
                pick(rng, &format!("cr:c{id}:h"), HASHES)
            } else {
                pick(rng, &format!("cr:c{id}:l"), LISTS)
            };
            let secs = rng.u64(300..3000);
            let state = m.state(&key).clone();
            pipe.cmd("EXPIRE").arg(&key).arg(secs);
            Op {
                pipe,
                what: format!("EXPIRE {key} {secs}"),
                atomic: false,
                after: Box::new(move |t0, t1| {
                    let mut state = state.clone();
                    if state.val != Val::None {
                        state.expire = Some((t0 + secs * 1000, t1 + secs * 1000));
                    }
                    vec![(key.clone(), state)]
                }),
            }
        }
        // MSET across slots (and so across shards): clears expiries.
        78..=87 => {
            let keys: BTreeSet<String> = (0..rng.usize(2..5)).map(|_| s(rng)).collect();
            let pairs: Vec<(String, String)> = keys
                .into_iter()
                .map(|k| (k, fresh_value(rng, id, seq)))
                .collect();
            let cmd = pipe.cmd("MSET");
            for (k, v) in &pairs {
                cmd.arg(k).arg(v);
            }
            Op {
                pipe,
                what: format!("MSET {pairs:?}"),
                atomic: false,
                after: Box::new(move |_, _| {
                    pairs
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                State {
                                    val: Val::Str(v.clone()),
                                    expire: None,
                                },
                            )
                        })
                        .collect()
                }),
            }
        }
        // MULTI/EXEC on one shard's keys (hash tag): all or nothing.
        88..=94 => {
            let g = |rng: &mut fastrand::Rng| pick(rng, &format!("cr:{{c{id}g}}:g"), GROUP);
            let (a, b, c) = (g(rng), g(rng), g(rng));
            let (va, vb) = (fresh_value(rng, id, seq), fresh_value(rng, id, seq));
            let px = rng.u64(60_000..600_000);
            pipe.atomic();
            pipe.cmd("SET").arg(&a).arg(&va);
            pipe.cmd("SET").arg(&b).arg(&vb).arg("PX").arg(px);
            pipe.cmd("DEL").arg(&c);
            Op {
                pipe,
                what: format!("MULTI SET {a} SET {b} PX DEL {c} EXEC"),
                atomic: true,
                after: Box::new(move |t0, t1| {
                    // Later commands of the transaction win on a repeated key.
                    let mut out = BTreeMap::new();
                    out.insert(
                        a.clone(),
                        State {
                            val: Val::Str(va.clone()),
                            expire: None,
                        },
                    );
                    out.insert(
                        b.clone(),
                        State {
                            val: Val::Str(vb.clone()),
                            expire: Some((t0 + px, t1 + px)),
                        },
                    );
                    out.insert(c.clone(), NONE);
                    out.into_iter().collect()
                }),
            }
        }
        // MULTI/EXEC across shards.
        _ => {
            let (a, h, l) = (
                s(rng),
                pick(rng, &format!("cr:c{id}:h"), HASHES),
                pick(rng, &format!("cr:c{id}:l"), LISTS),
            );
            let va = fresh_value(rng, id, seq);
            let (f, vf) = ("fx".to_string(), fresh_value(rng, id, seq));
            let vl = fresh_value(rng, id, seq);
            let mut hs = m.state(&h).clone();
            let mut fields = match hs.val {
                Val::Hash(x) => x,
                _ => BTreeMap::new(),
            };
            fields.insert(f.clone(), vf.clone());
            hs.val = Val::Hash(fields);
            let mut ls = m.state(&l).clone();
            let mut items = match ls.val {
                Val::List(x) => x,
                _ => Vec::new(),
            };
            items.push(vl.clone());
            ls.val = Val::List(items);
            pipe.atomic();
            pipe.cmd("SET").arg(&a).arg(&va);
            pipe.cmd("HSET").arg(&h).arg(&f).arg(&vf);
            pipe.cmd("RPUSH").arg(&l).arg(&vl);
            Op {
                pipe,
                what: format!("MULTI SET {a} HSET {h} RPUSH {l} EXEC"),
                atomic: false,
                after: Box::new(move |_, _| {
                    vec![
                        (
                            a.clone(),
                            State {
                                val: Val::Str(va.clone()),
                                expire: None,
                            },
                        ),
                        (h.clone(), hs.clone()),
                        (l.clone(), ls.clone()),
                    ]
                }),
            }
        }
    }
}

/// Writes until the connection breaks. Returns the write in flight then.
fn client(
    port: u16,
    model: &mut Model,
    rng: &mut fastrand::Rng,
    acked: &AtomicU64,
    started: &AtomicBool,
) -> Option<Pending> {
    let mut con = common::redis_client(port);
    started.store(true, Ordering::Release);
    let mut seq = 0u64;
    loop {
        seq += 1;
        let op = random_op(rng, model, seq);
        let t0 = now_ms();
        let result: redis::RedisResult<redis::Value> = op.pipe.query(&mut con);
        let t1 = now_ms();
        match result {
            Ok(reply) => {
                if let redis::Value::ServerError(e) = &reply {
                    panic!("{}: error reply {e:?}", op.what);
                }
                for (key, state) in (op.after)(t0, t1) {
                    model.keys.get_mut(&key).expect("own key").1 = state;
                }
                acked.fetch_add(1, Ordering::Relaxed);
            }
            Err(e)
                if e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error() =>
            {
                return Some(Pending {
                    after: (op.after)(t0, t1),
                    atomic: op.atomic,
                    what: op.what,
                });
            }
            Err(e) => panic!("{}: {e}", op.what),
        }
    }
}

/// Reads a key as its kind, value and expiry in one transaction.
fn read(con: &mut redis::Connection, key: &str, kind: Kind) -> Seen {
    let t0 = now_ms();
    let mut pipe = redis::pipe();
    pipe.atomic();
    match kind {
        Kind::Str => pipe.cmd("GET").arg(key),
        Kind::Hash => pipe.cmd("HGETALL").arg(key),
        Kind::List => pipe.cmd("LRANGE").arg(key).arg(0).arg(-1),
    };
    pipe.cmd("PEXPIRETIME").arg(key);
    let (v, expire_at): (redis::Value, i64) = pipe.query(con).expect("read");
    let t1 = now_ms();
    use redis::FromRedisValue as F;
    let val = match kind {
        Kind::Str => match Option::<String>::from_redis_value(&v).expect("string") {
            Some(s) => Val::Str(s),
            None => Val::None,
        },
        Kind::Hash => {
            let m: BTreeMap<String, String> = F::from_redis_value(&v).expect("hash");
            if m.is_empty() {
                Val::None
            } else {
                Val::Hash(m)
            }
        }
        Kind::List => {
            let l: Vec<String> = F::from_redis_value(&v).expect("list");
            if l.is_empty() {
                Val::None
            } else {
                Val::List(l)
            }
        }
    };
    Seen {
        val,
        expire_at,
        t0,
        t1,
    }
}

/// Checks every key of `model` against the server, the in-flight write's
/// keys against their before and after states, then settles the model on
/// what was read. Returns, for the in-flight write's keys that tell the
/// two apart, whether some showed it applied and whether some did not.
fn verify(
    con: &mut redis::Connection,
    model: &mut Model,
    pending: Option<&Pending>,
    context: &str,
) -> ((bool, bool), usize) {
    let after: BTreeMap<&str, &State> = pending
        .map(|p| p.after.iter().map(|(k, s)| (k.as_str(), s)).collect())
        .unwrap_or_default();
    let mut applied = BTreeSet::new();
    let mut present = 0;
    let keys: Vec<String> = model.keys.keys().cloned().collect();
    for key in keys {
        let (kind, before) = model.keys[&key].clone();
        let seen = read(con, &key, kind);
        let was = before.matches(&seen);
        let now = after.get(key.as_str()).map(|s| s.matches(&seen));
        let settled = match (was, now) {
            (true, Some(true)) => before.settle(&seen),
            (true, _) => before.settle(&seen),
            (false, Some(true)) => {
                applied.insert(true);
                after[key.as_str()].settle(&seen)
            }
            (false, Some(false)) => panic!(
                "{context}: {key} is {seen:?}: neither its acknowledged state {before:?} \
                 nor the one the unacknowledged {:?} would leave, {:?}",
                pending.map(|p| &p.what),
                after[key.as_str()]
            ),
            (false, None) => {
                panic!("{context}: {key} is {seen:?}, but its acknowledged state is {before:?}")
            }
        };
        if was && now == Some(false) {
            applied.insert(false);
        }
        if seen.val != Val::None {
            present += 1;
        }
        model.keys.get_mut(&key).unwrap().1 = settled;
    }
    if let Some(p) = pending.filter(|p| p.atomic) {
        assert!(
            applied.len() <= 1,
            "{context}: transaction {} on one shard was applied in part",
            p.what
        );
    }
    ((applied.contains(&true), applied.contains(&false)), present)
}

fn start(dir: &Path) -> Process {
    tokenginx_with(
        Options::shards(2)
            .data_dir(dir)
            .env("TOKENGINX_PERSIST_APPENDFSYNC", "always")
            // Small segments: the log rotates, and snapshots delete the
            // segments they cover.
            .env("TOKENGINX_PERSIST_WAL_SEGMENT_SIZE", "1mb"),
    )
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let rounds: u64 = std::env::var("CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let seed = common::seed("CRASH_SEED");
    println!("crash_recovery: {rounds} rounds");
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = common::scratch_dir("crash");
    let mut models: Vec<Model> = (0..CLIENTS).map(Model::new).collect();
    let mut pendings: Vec<Option<Pending>> = (0..CLIENTS).map(|_| None).collect();
    let mut server = start(&dir);
    let mut acked_total = 0;
    let (mut applied, mut dropped, mut partial, mut snapshots) = (0, 0, 0, 0);
    for round in 0..=rounds {
        let context = format!("seed {seed} round {round}, data in {}", dir.display());
        // Everything written so far, after the crash and restart.
        let mut con = common::redis_client(server.port);
        let mut present = 0;
        for (model, pending) in models.iter_mut().zip(&pendings) {
            let (verdict, n) =
                server.explain(|| verify(&mut con, model, pending.as_ref(), &context));
            present += n;
            match verdict {
                (true, false) => applied += 1,
                (false, true) => dropped += 1,
                // A write across shards, durable on one when the crash came.
                (true, true) => {
                    partial += 1;
                    let what = pending.as_ref().map(|p| p.what.as_str()).unwrap_or("");
                    println!("{context}: applied in part: {what}");
                }
                (false, false) => {}
            }
        }
        // Nothing else: no key the clients did not write, and DBSIZE counts
        // what was read (plus, at most, keys whose expiry passed meanwhile).
        let owned: BTreeSet<String> = models.iter().flat_map(|m| m.keys.keys().cloned()).collect();
        let scanned = scan_keys(&mut con, 0);
        for key in &scanned {
            let key = String::from_utf8_lossy(key).into_owned();
            assert!(
                owned.contains(&key),
                "{context}: unknown key {key} appeared"
            );
        }
        let expiring = models
            .iter()
            .flat_map(|m| m.keys.values())
            .filter(|(_, s)| s.expire.is_some())
            .count();
        let dbsize: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
        assert!(
            dbsize + expiring >= present && dbsize <= present + expiring,
            "{context}: DBSIZE {dbsize}, {present} keys read, {expiring} with an expiry"
        );
        for db in 1..common::keyspace::DATABASES {
            assert!(
                scan_keys(&mut con, db).is_empty(),
                "{context}: db {db} not empty"
            );
        }
        if round == rounds {
            break;
        }

        // Clients write; the server dies at a random moment.
        let acked = Arc::new(AtomicU64::new(0));
        let mut handles = Vec::new();
        for (c, mut model) in std::mem::take(&mut models).into_iter().enumerate() {
            let mut crng = fastrand::Rng::with_seed(rng.u64(..) ^ c as u64);
            let acked = acked.clone();
            let port = server.port;
            let started = Arc::new(AtomicBool::new(false));
            let s2 = started.clone();
            let h = std::thread::spawn(move || {
                let pending = client(port, &mut model, &mut crng, &acked, &s2);
                (model, pending)
            });
            // Connected before the clock for the crash starts.
            while !started.load(Ordering::Acquire) && !h.is_finished() {
                std::thread::yield_now();
            }
            handles.push(h);
        }
        // The crash point, not a wait for readiness. In half the rounds a
        // snapshot is started before it: the crash may come while it is
        // written, or after it replaced the log it covers.
        let crash_at = rng.u64(5..250);
        if rng.bool() {
            let save_at = rng.u64(0..crash_at);
            std::thread::sleep(Duration::from_millis(save_at));
            // Refused if a round is still running, cut short by the crash:
            // either way the data must come back.
            let _: redis::RedisResult<redis::Value> = redis::cmd("BGSAVE").query(&mut con);
            snapshots += 1;
            std::thread::sleep(Duration::from_millis(crash_at - save_at));
        } else {
            std::thread::sleep(Duration::from_millis(crash_at));
        }
        server.kill();
        for h in handles {
            let (model, pending) = h.join().expect("client thread");
            models.push(model);
            pendings[models.len() - 1] = pending;
        }
        acked_total += acked.load(Ordering::Relaxed);
        server = start(&dir);
    }
    println!(
        "crash_recovery: {acked_total} acknowledged writes over {rounds} crashes; \
         in-flight writes seen applied {applied}, not applied {dropped}, \
         in part (across shards) {partial}; \
         {snapshots} snapshots started"
    );
    assert!(
        acked_total >= rounds * 10,
        "too few writes to mean anything: {acked_total}"
    );
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
