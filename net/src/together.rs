//! Multi-key commands whose keys live on several shards: SMOVE, SINTER and
//! friends, LMOVE, RPOPLPUSH, BLMOVE, BRPOPLPUSH, COPY.
//!
//! Rather than splitting each command into shard-sized steps (and getting
//! every edge case of every command right a second time), the coordinator
//! brings the keys together and runs the very executor a single shard runs:
//!
//! ```text
//!   coordinator                      owners (held in ascending order, atomic.rs)
//!     Hold, TakeKeys ----------------->  held; lend the keys' entries
//!     scratch shard <- entries
//!     execute(cmd) on the scratch shard: reply, changed keys, signals
//!     reply to the client
//!     PutBack, Release --------------->  end the loans (entries back in
//!                                        their nodes, deleted keys gone),
//!                                        replay events, WATCH marks and
//!                                        blocked-key readiness; free
//! ```
//!
//! Semantics are the single-shard ones by construction: a WRONGTYPE puts
//! every key back untouched, TTLs travel inside the entries, and what the
//! executor signalled reaches the shards that own the keys. A lent key's
//! node stays on its shard (`Db::lend`), so its access stamp, eviction
//! segment and memory charge carry on as if the command had run there.
//! Lending moves pointers, not values: a command over large sets or lists
//! copies nothing it would not copy on one shard. TakeKeys rides behind each
//! Hold and PutBack ahead of the Release, so the command costs the round
//! trips of its holds and nothing more. The client may have its reply
//! before the keys are back: each owner is still held until its PutBack
//! has run, and nothing else runs there before that.
//!
//! Inside EXEC the keys go back as one more step of the transaction
//! (`gather::finish`).

use crate::event_loop::EventLoop;
use crate::gather::{ascending, Combine, Plan};
use crate::ops::{ShardOp, ShardReply};
use bytes::Bytes;
use proto::{Reply, ShardCmd};
use shard::{shard_of_key, Ctx, Entry, Event, Relay, Shard};
use std::cell::RefCell;

/// A command waiting for its keys.
pub struct Together {
    cmd: ShardCmd,
    args: Vec<Bytes>,
    db: usize,
    /// How many shards there are.
    shards: usize,
    /// Per part: the owner shard and the (database, key) pairs taken from it.
    taken: Vec<(usize, Vec<(usize, Bytes)>)>,
}

/// What goes back to one owner.
#[derive(Default)]
pub struct PutBack {
    /// Every lent key, with its entry as the command left it (None: gone).
    entries: Vec<(usize, Bytes, Option<Entry>)>,
    events: Vec<Event>,
    modified: Vec<(usize, Bytes)>,
    ready: Vec<(usize, Bytes)>,
}

/// The (database, key) pairs a call touches, COPY's destination in its
/// target database. Empty for a call its executor rejects before looking
/// at any key (a bad numkeys, a bad COPY option).
fn keys_of(cmd: ShardCmd, args: &[Bytes], db: usize) -> Vec<(usize, Bytes)> {
    if cmd == ShardCmd::Copy {
        return match shard::cmd::copy::copy_options(args, db) {
            Ok((target, _)) => vec![(db, args[1].clone()), (target, args[2].clone())],
            Err(_) => Vec::new(),
        };
    }
    cmd.spec()
        .keys_of(args)
        .unwrap_or_default()
        .into_iter()
        .map(|i| (db, args[i].clone()))
        .collect()
}

/// Where a Together command runs: on the one shard owning all its keys,
/// or, across shards, on this shard's scratch shard.
pub fn plan(cmd: ShardCmd, args: Vec<Bytes>, shards: usize, here: usize, db: usize) -> Plan {
    let keys = keys_of(cmd, &args, db);
    let owners: Vec<usize> = keys.iter().map(|(_, k)| shard_of_key(k, shards)).collect();
    let Some(&first) = owners.first() else {
        // The executor replies its error without touching a key.
        return Plan::single(here, ShardOp::Command(cmd, args));
    };
    if owners.iter().all(|&s| s == first) {
        return Plan::single(first, ShardOp::Command(cmd, args));
    }
    let hold = ascending(&owners);
    let mut taken: Vec<(usize, Vec<(usize, Bytes)>)> =
        hold.iter().map(|&s| (s, Vec::new())).collect();
    for (key, owner) in keys.into_iter().zip(owners) {
        let Some((_, list)) = taken.iter_mut().find(|(s, _)| *s == owner) else {
            continue;
        };
        // A key named twice (SUNION a a) is taken once.
        if !list.contains(&key) {
            list.push(key);
        }
    }
    let parts = taken
        .iter()
        .map(|(s, keys)| {
            let op = ShardOp::TakeKeys {
                keys: keys.clone(),
                make_room: cmd.spec().has(proto::table::flags::DENYOOM),
            };
            (*s, op)
        })
        .collect();
    Plan {
        parts,
        combine: Combine::Together(Box::new(Together {
            cmd,
            args,
            db,
            shards,
            taken,
        })),
        barrier: true,
        hold,
    }
}

thread_local! {
    /// This thread's scratch shard, made on first use and kept: a shard's
    /// databases cost one slot table per hash slot to create. A thread has
    /// one event loop, so the shard is never used by two commands at once.
    static SCRATCH: RefCell<Option<Box<Shard>>> = const { RefCell::new(None) };
}

/// Keyspace hits and misses a scratch run counted, by database.
pub type Counts = Vec<(usize, u64, u64)>;

/// Runs a Together command once its keys are in: the reply, the PutBack
/// parts for the owners, and the keyspace hits and misses it counted.
pub fn run(
    t: Together,
    parts: Vec<Option<ShardReply>>,
    now: u64,
) -> (Reply, Vec<(usize, ShardOp)>, Counts) {
    SCRATCH.with_borrow_mut(|slot| {
        let scratch = slot.get_or_insert_with(|| {
            let mut s = Shard::new(0, 1);
            // Record everything; each owner filters by its own settings.
            s.signals.notify = u32::MAX;
            s.signals.relay = Some(Relay::default());
            Box::new(s)
        });
        run_on(scratch, t, parts, now)
    })
}

fn run_on(
    scratch: &mut Shard,
    t: Together,
    parts: Vec<Option<ShardReply>>,
    now: u64,
) -> (Reply, Vec<(usize, ShardOp)>, Counts) {
    let (mut complete, mut out_of_memory) = (true, false);
    // Which owners lent their keys: only those get them back.
    let mut lent = vec![false; t.taken.len()];
    for (((_, keys), part), lent) in t.taken.iter().zip(parts).zip(&mut lent) {
        let entries = match part {
            Some(ShardReply::Entries(Some(entries))) => entries,
            Some(ShardReply::Entries(None)) => {
                out_of_memory = true;
                continue;
            }
            _ => {
                complete = false;
                continue;
            }
        };
        *lent = true;
        for ((db, key), entry) in keys.iter().zip(entries) {
            if let Some(entry) = entry {
                scratch.db(*db).insert(key, entry, now);
            }
        }
    }
    let reply = if out_of_memory {
        // Nothing runs; what the other shards gave goes back unchanged.
        Reply::error(proto::errors::OOM)
    } else if complete {
        shard::execute(
            &mut Ctx {
                shard: scratch,
                db: t.db,
                now,
            },
            t.cmd,
            &t.args,
        )
    } else {
        Reply::error("ERR internal error: unexpected shard reply")
    };
    let mut backs: Vec<PutBack> = t.taken.iter().map(|_| PutBack::default()).collect();
    for (((_, keys), back), lent) in t.taken.iter().zip(&mut backs).zip(lent) {
        for (db, key) in keys {
            let entry = scratch.db(*db).remove(key, now);
            if lent {
                back.entries.push((*db, key.clone(), entry));
            }
        }
    }
    // Executors touch only the keys they name; anything else left here
    // would leak into the next command.
    for db in scratch.dbs_mut().filter(|db| !db.is_empty()) {
        debug_assert!(false, "a scratch run left a key it was not given");
        db.clear();
    }
    // Removing an entry that expired meanwhile lists it; so may the run.
    scratch.collect_expired();
    let shards = t.shards;
    let owner = |key: &[u8]| {
        let s = shard_of_key(key, shards);
        t.taken.iter().position(|(o, _)| *o == s)
    };
    for event in scratch.signals.events.drain(..) {
        if let Some(i) = owner(&event.key) {
            backs[i].events.push(event);
        }
    }
    if let Some(relay) = scratch.signals.relay.as_mut() {
        for (db, key) in relay.modified.drain(..) {
            if let Some(i) = owner(&key) {
                backs[i].modified.push((db, key));
            }
        }
        for (db, key) in relay.ready.drain(..) {
            if let Some(i) = owner(&key) {
                backs[i].ready.push((db, key));
            }
        }
    }
    let counts: Counts = scratch
        .dbs()
        .map(|(i, db)| (i, db.stats.hits, db.stats.misses))
        .filter(|&(_, h, m)| h + m > 0)
        .collect();
    scratch
        .dbs_mut()
        .for_each(|db| db.stats = Default::default());
    let parts = t
        .taken
        .iter()
        .zip(backs)
        .map(|((s, _), back)| (*s, ShardOp::PutBack(Box::new(back))))
        .collect();
    (reply, parts, counts)
}

impl EventLoop {
    /// Runs a Together command on this thread's scratch shard; the hits
    /// and misses it counted go to this shard's, where INFO adds them up.
    pub(crate) fn run_together(
        &mut self,
        t: Together,
        parts: Vec<Option<ShardReply>>,
    ) -> (Reply, Vec<(usize, ShardOp)>) {
        let (reply, mut put_back, counts) = run(t, parts, self.now);
        for (i, hits, misses) in counts {
            let stats = &mut self.shard.db(i).stats;
            stats.hits += hits;
            stats.misses += misses;
        }
        // The client has its reply before the owners take their keys back
        // (atomic.rs), so the keyspace events go out from here, first: as
        // in Redis, a subscriber sees them before anything the client does
        // after the reply. Every shard has the same notify settings.
        for (_, op) in &mut put_back {
            if let ShardOp::PutBack(back) = op {
                for e in back.events.drain(..) {
                    self.shard.signals.notify(e.db, e.class, e.event, &e.key);
                }
            }
        }
        self.publish_signals(None);
        (reply, put_back)
    }
}

/// An owner takes its keys back and replays what the command signalled.
pub fn put_back(shard: &mut Shard, back: PutBack, now: u64) {
    for (db, key, entry) in back.entries {
        shard.db(db).give_back(&key, entry, now);
    }
    let signals = &mut shard.signals;
    for e in back.events {
        signals.notify(e.db, e.class, e.event, &e.key);
    }
    for (db, key) in back.modified {
        signals.modified(db, &key);
    }
    for (db, key) in back.ready {
        signals.key_ready(db, &key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shard::class;

    fn args(a: &[&str]) -> Vec<Bytes> {
        a.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    /// Per part: the shard and the (database, key) pairs it takes.
    type Takes = Vec<(usize, Vec<(usize, String)>)>;

    /// The keys each part takes; None for a plan run whole on one shard.
    fn takes(plan: &Plan) -> Option<Takes> {
        if plan.hold.is_empty() {
            return None;
        }
        Some(
            plan.parts
                .iter()
                .map(|(s, op)| match op {
                    ShardOp::TakeKeys { keys, .. } => (
                        *s,
                        keys.iter()
                            .map(|(db, k)| (*db, String::from_utf8(k.to_vec()).unwrap()))
                            .collect(),
                    ),
                    _ => panic!("not a TakeKeys part"),
                })
                .collect(),
        )
    }

    fn single_shard(plan: &Plan) -> usize {
        assert!(plan.hold.is_empty() && plan.parts.len() == 1);
        plan.parts[0].0
    }

    #[test]
    fn keys_on_one_shard_run_there_whole() {
        // "a" is on shard 1 of 2, "b" on shard 0.
        let p = plan(ShardCmd::Sinter, args(&["sinter", "a", "{a}x"]), 2, 0, 0);
        assert_eq!(single_shard(&p), 1);
        let p = plan(ShardCmd::Smove, args(&["smove", "b", "b", "m"]), 2, 1, 0);
        assert_eq!(single_shard(&p), 0);
        let p = plan(ShardCmd::Sinter, args(&["sinter", "a", "b"]), 1, 0, 0);
        assert_eq!(single_shard(&p), 0);
    }

    #[test]
    fn keys_on_several_shards_are_taken_once_each_under_holds() {
        let p = plan(
            ShardCmd::Sunion,
            args(&["sunion", "a", "b", "a", "{a}y"]),
            2,
            0,
            4,
        );
        assert_eq!(p.hold, [0, 1]);
        assert_eq!(
            takes(&p).unwrap(),
            [
                (0, vec![(4, "b".into())]),
                (1, vec![(4, "a".into()), (4, "{a}y".into())])
            ]
        );
        let p = plan(
            ShardCmd::Sintercard,
            args(&["sintercard", "2", "b", "a", "limit", "1"]),
            2,
            1,
            0,
        );
        assert_eq!(p.hold, [0, 1]);
        let p = plan(
            ShardCmd::Copy,
            args(&["copy", "a", "b", "db", "7"]),
            2,
            0,
            2,
        );
        assert_eq!(
            takes(&p).unwrap(),
            [(0, vec![(7, "b".into())]), (1, vec![(2, "a".into())])]
        );
    }

    #[test]
    fn calls_the_executor_rejects_run_where_they_arrived() {
        for call in [
            &["sintercard", "3", "a", "b"][..],
            &["sintercard", "x", "a", "b"],
            &["copy", "a", "b", "db", "99"],
            &["copy", "a", "b", "bogus"],
        ] {
            let cmd = match proto::lookup(call[0].as_bytes()).unwrap().id {
                proto::CommandId::Shard(c) => c,
                _ => unreachable!(),
            };
            assert_eq!(single_shard(&plan(cmd, args(call), 2, 1, 0)), 1, "{call:?}");
        }
    }

    #[test]
    fn owners_replay_what_the_command_signalled() {
        let mut owner = Shard::new(0, 1);
        owner.signals.notify = class::KEYEVENT | class::SET;
        owner.signals.watch(0, Bytes::from_static(b"s"), 1, true);
        owner
            .signals
            .blocking
            .insert((0, Bytes::from_static(b"l")), 1);
        let entry = Entry {
            value: shard::Value::Str(b"v"[..].into()),
            expire_at: 0,
        };
        let event = |class, event| Event {
            db: 0,
            class,
            event,
            key: Bytes::from_static(b"s"),
        };
        put_back(
            &mut owner,
            PutBack {
                entries: vec![(0, Bytes::from_static(b"s"), Some(entry.clone()))],
                events: vec![event(class::SET, "srem"), event(class::GENERIC, "del")],
                modified: vec![(0, Bytes::from_static(b"s"))],
                ready: vec![(0, Bytes::from_static(b"l"))],
            },
            1,
        );
        assert_eq!(owner.db(0).peek(b"s", 1).map(|n| &n.entry), Some(&entry));
        let events: Vec<&str> = owner.signals.events.iter().map(|e| e.event).collect();
        assert_eq!(events, ["srem"], "the owner's own settings filter events");
        assert!(
            owner.signals.watched[&(0, Bytes::from_static(b"s"))][0].dirty,
            "the watch of a changed key fails its EXEC"
        );
        assert_eq!(owner.signals.ready, [(0, Bytes::from_static(b"l"))]);
    }
}
