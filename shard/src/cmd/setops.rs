//! Set commands over several keys: SMOVE, and the algebra SINTER, SUNION,
//! SDIFF with their STORE forms and SINTERCARD.
//!
//! They behave as Redis 7.0's `t_set.c`: every source key is type-checked
//! before anything is computed, so a WRONGTYPE anywhere changes nothing; a
//! missing key is an empty set; a STORE replaces the destination whatever
//! its type, without a TTL, and deletes it when the result is empty.
//!
//! The keys all live on the shard that runs the executor. When they span
//! shards the network layer gathers their entries onto a scratch shard and
//! runs these same executors there, so the semantics are the same.

use crate::cmd::typed;
use crate::exec::Ctx;
use crate::memory::Tracked;
use crate::signals::class;
use crate::value::{Entry, SetValue, Value};
use bytes::Bytes;
use proto::errors;
use proto::Reply;

const NUMKEYS: &str = "ERR numkeys should be greater than 0";
const TOO_MANY_KEYS: &str = "ERR Number of keys can't be greater than number of args";
const LIMIT_NEGATIVE: &str = "ERR LIMIT can't be negative";

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// `SMOVE source destination member`: 1 if moved, 0 if `member` was not in
/// `source`. A missing source replies 0 before any type check, as in Redis;
/// moving within one set changes nothing.
pub fn smove(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (src, dst, member) = (&args[1], &args[2], &args[3]);
    let now = ctx.now;
    let db = ctx.db();
    let in_src = match typed::existing::<SetValue>(db, src, now) {
        Ok(Some(set)) => set.contains(member.as_ref()),
        Ok(None) => return Reply::Integer(0),
        Err(e) => return e,
    };
    if let Err(e) = typed::existing::<SetValue>(db, dst, now) {
        return e;
    }
    if src == dst {
        return Reply::Integer(in_src as i64);
    }
    if !in_src {
        return Reply::Integer(0);
    }
    let src_set = match typed::existing::<SetValue>(db, src, now) {
        Ok(Some(set)) => set,
        _ => return Reply::Integer(0),
    };
    src_set.remove(member.as_ref());
    let emptied = src_set.is_empty();
    if emptied {
        db.remove(src, now);
    }
    // Events in Redis's order: srem, del, new (a created destination), sadd.
    ctx.signal(class::SET, "srem", src);
    if emptied {
        ctx.notify(class::GENERIC, "del", src);
    }
    let added = match typed::create::<SetValue>(ctx, dst) {
        Ok(set) => set.insert(member.as_ref().into()),
        Err(e) => return e,
    };
    let db = ctx.db;
    ctx.shard.signals.modified(db, dst);
    if added {
        ctx.notify(class::SET, "sadd", dst);
    }
    Reply::Integer(1)
}

/// `SINTER key [key ...]`: the members every set has; a set in RESP3.
pub fn sinter(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    algebra(ctx, Op::Inter, &args[1..], None)
}

/// `SINTERSTORE destination key [key ...]`: stores SINTER's result and
/// replies its size.
pub fn sinterstore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    algebra(ctx, Op::Inter, &args[2..], Some(&args[1]))
}

/// `SUNION key [key ...]`: the members any set has.
pub fn sunion(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    algebra(ctx, Op::Union, &args[1..], None)
}

/// `SUNIONSTORE destination key [key ...]`
pub fn sunionstore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    algebra(ctx, Op::Union, &args[2..], Some(&args[1]))
}

/// `SDIFF key [key ...]`: the members of the first set that no other has.
pub fn sdiff(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    algebra(ctx, Op::Diff, &args[1..], None)
}

/// `SDIFFSTORE destination key [key ...]`
pub fn sdiffstore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    algebra(ctx, Op::Diff, &args[2..], Some(&args[1]))
}

/// The keys of a SINTERCARD call, `numkeys key [key ...] [LIMIT limit]`,
/// with Redis's errors for an unusable count.
pub fn sintercard_keys(args: &[Bytes]) -> Result<&[Bytes], Reply> {
    let n = match proto::parse_int(&args[1]) {
        Some(n) if n > 0 => n,
        _ => return Err(Reply::error(NUMKEYS)),
    };
    if n > args.len() as i64 - 2 {
        return Err(Reply::error(TOO_MANY_KEYS));
    }
    Ok(&args[2..2 + n as usize])
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`: the size of the
/// intersection, counting stops at `limit` (0: no limit).
pub fn sintercard(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let keys = match sintercard_keys(args) {
        Ok(k) => k,
        Err(e) => return e,
    };
    let mut limit = 0u64;
    let mut rest = args[2 + keys.len()..].iter();
    while let Some(opt) = rest.next() {
        match rest.next() {
            Some(value) if opt.eq_ignore_ascii_case(b"limit") => {
                limit = match proto::parse_int(value) {
                    Some(n) if n >= 0 => n as u64,
                    _ => return Reply::error(LIMIT_NEGATIVE),
                };
            }
            _ => return Reply::error(errors::SYNTAX),
        }
    }
    let sets = match sources(ctx, keys) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let now = ctx.now;
    let db = ctx.db();
    let sets: Vec<Option<&SetValue>> = sets.iter().map(|k| set_at(db, k, now)).collect();
    let Some(mut sets) = sets.into_iter().collect::<Option<Vec<_>>>() else {
        return Reply::Integer(0);
    };
    sets.sort_by_key(|s| s.len());
    let mut count = 0u64;
    for member in sets[0].iter() {
        if sets[1..].iter().all(|s| s.contains(member)) {
            count += 1;
            if count == limit {
                break;
            }
        }
    }
    Reply::Integer(count as i64)
}

/// Type-checks every source in order, as Redis does before computing
/// anything (a keyspace hit or miss is counted for each). Returns the keys
/// of the sets that exist, None for the missing ones.
fn sources(ctx: &mut Ctx, keys: &[Bytes]) -> Result<Vec<Option<Bytes>>, Reply> {
    keys.iter()
        .map(|k| match typed::read::<SetValue>(ctx, k) {
            Ok(Some(_)) => Ok(Some(k.clone())),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        })
        .collect()
}

/// The set at a key `sources` found; None for a missing one.
fn set_at<'a>(db: &'a crate::keyspace::Db, key: &Option<Bytes>, now: u64) -> Option<&'a SetValue> {
    match &db.peek(key.as_ref()?, now)?.entry.value {
        Value::Set(s) => Some(s),
        _ => None,
    }
}

/// SINTER, SUNION, SDIFF and, with `dst`, their STORE forms.
fn algebra(ctx: &mut Ctx, op: Op, keys: &[Bytes], dst: Option<&Bytes>) -> Reply {
    let found = match sources(ctx, keys) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let now = ctx.now;
    let db = ctx.db();
    let sets: Vec<Option<&SetValue>> = found.iter().map(|k| set_at(db, k, now)).collect();
    let result: Vec<&[u8]> = match op {
        // An intersection with a missing (empty) set is empty.
        Op::Inter => match sets.iter().copied().collect::<Option<Vec<_>>>() {
            None => Vec::new(),
            Some(mut sets) => {
                sets.sort_by_key(|s| s.len());
                sets[0]
                    .iter()
                    .filter(|m| sets[1..].iter().all(|s| s.contains(*m)))
                    .map(|m| &**m)
                    .collect()
            }
        },
        Op::Union => {
            let mut seen = hashbrown::HashSet::new();
            sets.iter()
                .flatten()
                .flat_map(|s| s.iter())
                .filter(|m| seen.insert(&***m))
                .map(|m| &**m)
                .collect()
        }
        Op::Diff => match sets[0] {
            None => Vec::new(),
            Some(first) => first
                .iter()
                .filter(|m| !sets[1..].iter().flatten().any(|s| s.contains(*m)))
                .map(|m| &**m)
                .collect(),
        },
    };
    let Some(dst) = dst else {
        return Reply::Set(result.into_iter().map(Reply::bulk_from).collect());
    };
    let stored: SetValue = result.into_iter().map(Box::from).collect();
    let size = stored.len();
    let db = ctx.db();
    if size == 0 {
        if db.remove(dst, now).is_some() {
            ctx.signal(class::GENERIC, "del", dst);
        }
        return Reply::Integer(0);
    }
    let existed = db.contains(dst, now);
    db.insert(
        dst,
        Entry {
            value: Value::Set(Box::new(Tracked::new(stored))),
            expire_at: 0,
        },
        now,
    );
    if !existed {
        ctx.notify(class::NEW, "new", dst);
    }
    let event = match op {
        Op::Inter => "sinterstore",
        Op::Union => "sunionstore",
        Op::Diff => "sdiffstore",
    };
    ctx.signal(class::SET, event, dst);
    Reply::Integer(size as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::*;
    use crate::shard::Shard;
    use proto::Protocol;

    const T0: u64 = 1_700_000_000_000;

    fn shard() -> Shard {
        let mut s = Shard::new(0, 1);
        run(&mut s, T0, &["sadd", "a", "1", "2", "3", "x"]);
        run(&mut s, T0, &["sadd", "b", "2", "3", "4"]);
        run(&mut s, T0, &["sadd", "c", "3", "5"]);
        run(&mut s, T0, &["set", "str", "v"]);
        s
    }

    fn events(s: &mut Shard) -> Vec<(&'static str, String)> {
        s.signals
            .events
            .drain(..)
            .map(|e| (e.event, String::from_utf8(e.key.to_vec()).unwrap()))
            .collect()
    }

    #[test]
    fn sinter_sunion_sdiff() {
        let mut s = shard();
        assert_eq!(members(&run(&mut s, T0, &["sinter", "a", "b"])), ["2", "3"]);
        assert_eq!(members(&run(&mut s, T0, &["sinter", "a", "b", "c"])), ["3"]);
        assert_eq!(
            members(&run(&mut s, T0, &["sinter", "a"])),
            ["1", "2", "3", "x"]
        );
        assert_eq!(
            run(&mut s, T0, &["sinter", "a", "nope"]),
            Reply::Set(vec![])
        );
        assert_eq!(
            members(&run(&mut s, T0, &["sunion", "a", "nope", "c"])),
            ["1", "2", "3", "5", "x"]
        );
        assert_eq!(run(&mut s, T0, &["sunion", "nope"]), Reply::Set(vec![]));
        assert_eq!(
            members(&run(&mut s, T0, &["sdiff", "a", "b", "nope"])),
            ["1", "x"]
        );
        assert_eq!(
            members(&run(&mut s, T0, &["sdiff", "a", "a"])),
            Vec::<String>::new()
        );
        assert_eq!(run(&mut s, T0, &["sdiff", "nope", "a"]), Reply::Set(vec![]));
        let reply = run(&mut s, T0, &["sinter", "c", "c"]);
        assert_eq!(members(&reply.clone()), ["3", "5"]);
        let three = run(&mut s, T0, &["sinter", "a", "b", "c"]);
        assert_eq!(three.to_bytes(Protocol::Resp3), b"~1\r\n$1\r\n3\r\n");
        assert_eq!(three.to_bytes(Protocol::Resp2), b"*1\r\n$1\r\n3\r\n");
    }

    #[test]
    fn wrong_type_anywhere_fails_and_changes_nothing() {
        let mut s = shard();
        let wrong = err(errors::WRONGTYPE);
        for cmd in [
            &["sinter", "nope", "str"][..],
            &["sinter", "str", "a"],
            &["sunion", "a", "str"],
            &["sdiff", "nope", "str"],
            &["sintercard", "2", "nope", "str"],
            &["sinterstore", "a", "b", "str"],
            &["sunionstore", "a", "nope", "str"],
            &["sdiffstore", "a", "str"],
            &["smove", "a", "str", "1"],
            &["smove", "str", "a", "1"],
        ] {
            assert_eq!(run(&mut s, T0, cmd), wrong, "{cmd:?}");
        }
        assert_eq!(
            members(&run(&mut s, T0, &["smembers", "a"])),
            ["1", "2", "3", "x"]
        );
        assert_eq!(run(&mut s, T0, &["get", "str"]), bulk("v"));
        assert!(events(&mut s).is_empty());
    }

    #[test]
    fn store_forms_replace_delete_and_signal() {
        let mut s = shard();
        s.signals.notify = crate::signals::class::ALL | crate::signals::class::KEYEVENT;
        run(&mut s, T0, &["set", "d", "old"]);
        s.db(0).set_expiry(b"d", T0 + 10_000, T0);
        events(&mut s);
        assert_eq!(run(&mut s, T0, &["sinterstore", "d", "a", "b"]), int(2));
        assert_eq!(
            run(&mut s, T0, &["ttl", "d"]),
            int(-1),
            "a stored result has no TTL"
        );
        assert_eq!(members(&run(&mut s, T0, &["smembers", "d"])), ["2", "3"]);
        assert_eq!(events(&mut s), [("sinterstore", "d".into())]);
        assert_eq!(run(&mut s, T0, &["sunionstore", "d", "b", "c"]), int(4));
        assert_eq!(run(&mut s, T0, &["sdiffstore", "d", "a", "b"]), int(2));
        assert_eq!(members(&run(&mut s, T0, &["smembers", "d"])), ["1", "x"]);
        assert_eq!(
            events(&mut s),
            [("sunionstore", "d".into()), ("sdiffstore", "d".into())]
        );
        // The destination may be a source.
        assert_eq!(run(&mut s, T0, &["sinterstore", "d", "d", "a"]), int(2));
        events(&mut s);
        assert_eq!(run(&mut s, T0, &["sinterstore", "d", "a", "nope"]), int(0));
        assert_eq!(run(&mut s, T0, &["exists", "d"]), int(0));
        assert_eq!(events(&mut s), [("del", "d".into())]);
        assert_eq!(run(&mut s, T0, &["sdiffstore", "d", "a", "a"]), int(0));
        assert_eq!(run(&mut s, T0, &["sunionstore", "d", "nope"]), int(0));
        assert!(events(&mut s).is_empty(), "nothing to delete, no event");
    }

    #[test]
    fn sintercard_counts_and_limits() {
        let mut s = shard();
        assert_eq!(run(&mut s, T0, &["sintercard", "2", "a", "b"]), int(2));
        assert_eq!(run(&mut s, T0, &["sintercard", "1", "a"]), int(4));
        assert_eq!(
            run(&mut s, T0, &["sintercard", "1", "a", "LIMIT", "3"]),
            int(3)
        );
        assert_eq!(
            run(&mut s, T0, &["sintercard", "1", "a", "limit", "0"]),
            int(4)
        );
        assert_eq!(
            run(
                &mut s,
                T0,
                &["sintercard", "2", "a", "b", "limit", "9", "limit", "1"]
            ),
            int(1)
        );
        assert_eq!(run(&mut s, T0, &["sintercard", "2", "a", "nope"]), int(0));
        for (args, e) in [
            (&["sintercard", "0", "a"][..], NUMKEYS),
            (&["sintercard", "-1", "a"], NUMKEYS),
            (&["sintercard", "x", "a"], NUMKEYS),
            (&["sintercard", "3", "a", "b"], TOO_MANY_KEYS),
            (&["sintercard", "1", "a", "limit", "-1"], LIMIT_NEGATIVE),
            (&["sintercard", "1", "a", "limit", "x"], LIMIT_NEGATIVE),
            (&["sintercard", "1", "a", "limit"], errors::SYNTAX),
            (&["sintercard", "1", "a", "b"], errors::SYNTAX),
            (&["sintercard", "1", "str", "limit"], errors::SYNTAX),
        ] {
            assert_eq!(run(&mut s, T0, args), err(e), "{args:?}");
        }
    }

    #[test]
    fn smove_moves_one_member() {
        let mut s = shard();
        s.signals.notify = crate::signals::class::ALL | crate::signals::class::KEYEVENT;
        assert_eq!(run(&mut s, T0, &["smove", "a", "b", "1"]), int(1));
        assert_eq!(
            members(&run(&mut s, T0, &["smembers", "b"])),
            ["1", "2", "3", "4"]
        );
        assert_eq!(events(&mut s), [("srem", "a".into()), ("sadd", "b".into())]);
        // Already in the destination: removed from the source only.
        assert_eq!(run(&mut s, T0, &["smove", "a", "b", "2"]), int(1));
        assert_eq!(events(&mut s), [("srem", "a".into())]);
        assert_eq!(run(&mut s, T0, &["smove", "a", "b", "nope"]), int(0));
        assert_eq!(run(&mut s, T0, &["smove", "nope", "str", "1"]), int(0));
        assert_eq!(run(&mut s, T0, &["smove", "a", "a", "3"]), int(1));
        assert_eq!(run(&mut s, T0, &["smove", "a", "a", "9"]), int(0));
        assert!(events(&mut s).is_empty());
        // The last member: the source goes, a new destination is created.
        run(&mut s, T0, &["sadd", "one", "m"]);
        events(&mut s);
        assert_eq!(run(&mut s, T0, &["smove", "one", "new", "m"]), int(1));
        assert_eq!(run(&mut s, T0, &["exists", "one"]), int(0));
        assert_eq!(members(&run(&mut s, T0, &["smembers", "new"])), ["m"]);
        assert_eq!(
            events(&mut s),
            [
                ("srem", "one".into()),
                ("del", "one".into()),
                ("sadd", "new".into())
            ]
        );
    }
}
