//! `SWAPDB index1 index2`: exchanges two databases, as Redis 7.0's
//! `swapdbCommand`. Every shard swaps its slice of both; the network layer
//! holds all shards meanwhile, so no client sees one shard swapped and
//! another not.

use crate::exec::Ctx;
use crate::shard::DATABASES;
use crate::signals::Change;
use crate::value::Value;
use bytes::Bytes;
use proto::errors;
use proto::Reply;

/// Redis reads an index as a C int; any failure gives the command's own text.
fn parse_index(arg: &[u8], error: &'static str) -> Result<i32, Reply> {
    proto::parse_int(arg)
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| Reply::error(error))
}

/// `SWAPDB index1 index2`: +OK. A WATCH on a key that exists in either
/// database fails its EXEC; clients blocked on a key of either database
/// that now holds a list are woken.
pub fn swapdb(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (a, b) = match parse_index(&args[1], "ERR invalid first DB index")
        .and_then(|a| Ok((a, parse_index(&args[2], "ERR invalid second DB index")?)))
    {
        Ok(pair) => pair,
        Err(e) => return e,
    };
    let in_range = |n: i32| (0..DATABASES as i32).contains(&n);
    if !in_range(a) || !in_range(b) {
        return Reply::error(errors::DB_OUT_OF_RANGE);
    }
    let (a, b) = (a as usize, b as usize);
    if a == b {
        return Reply::Ok;
    }
    ctx.shard.swap_dbs(a, b);
    if let Some(changes) = &mut ctx.shard.signals.changes {
        changes.extend([Change::Db(a), Change::Db(b)]);
    }
    let now = ctx.now;
    let signals = &ctx.shard.signals;
    let watched: Vec<(usize, Bytes)> = signals
        .watched
        .keys()
        .filter(|(db, _)| *db == a || *db == b)
        .cloned()
        .collect();
    let blocked: Vec<(usize, Bytes)> = signals
        .blocking
        .keys()
        .filter(|(db, _)| *db == a || *db == b)
        .cloned()
        .collect();
    for (db, key) in watched {
        let exists = |s: &crate::shard::Shard, i: usize| {
            s.existing_db(i).and_then(|d| d.peek(&key, now)).is_some()
        };
        if exists(ctx.shard, a) || exists(ctx.shard, b) {
            ctx.shard.signals.modified(db, &key);
        }
    }
    for (db, key) in blocked {
        let is_list = ctx
            .shard
            .existing_db(db)
            .and_then(|d| d.peek(&key, now))
            .is_some_and(|n| matches!(n.entry.value, Value::List(_)));
        if is_list {
            ctx.shard.signals.key_ready(db, &key);
        }
    }
    Reply::Ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::*;
    use crate::shard::Shard;

    const T0: u64 = 1_700_000_000_000;

    #[test]
    fn swaps_contents_and_touches_watches_and_waiters() {
        let mut s = Shard::new(0, 1);
        run(&mut s, T0, &["set", "k", "zero"]);
        run_db(&mut s, 5, T0, &["rpush", "q", "x"]);
        s.signals.watch(0, Bytes::from_static(b"k"), 1, true);
        s.signals.watch(0, Bytes::from_static(b"nothing"), 1, false);
        let dirty = |s: &Shard, key: &'static [u8]| {
            s.signals.watched[&(0, Bytes::from_static(key))][0].dirty
        };
        s.signals.blocking.insert((0, Bytes::from_static(b"q")), 1);
        assert_eq!(run(&mut s, T0, &["swapdb", "0", "5"]), Reply::Ok);
        assert_eq!(run_db(&mut s, 5, T0, &["get", "k"]), bulk("zero"));
        assert_eq!(run(&mut s, T0, &["get", "k"]), Reply::Nil);
        assert_eq!(run(&mut s, T0, &["llen", "q"]), int(1));
        assert!(
            dirty(&s, b"k"),
            "a watched key that exists in either database"
        );
        assert!(!dirty(&s, b"nothing"));
        assert_eq!(s.signals.ready, [(0, Bytes::from_static(b"q"))]);
        assert_eq!(run(&mut s, T0, &["swapdb", "5", "5"]), Reply::Ok);
        assert_eq!(run_db(&mut s, 5, T0, &["get", "k"]), bulk("zero"));
    }

    #[test]
    fn index_errors() {
        let mut s = Shard::new(0, 1);
        for (args, e) in [
            (&["swapdb", "x", "y"][..], "ERR invalid first DB index"),
            (&["swapdb", "0", "y"], "ERR invalid second DB index"),
            (&["swapdb", "4294967296", "0"], "ERR invalid first DB index"),
            (&["swapdb", "16", "y"], "ERR invalid second DB index"),
            (&["swapdb", "16", "0"], errors::DB_OUT_OF_RANGE),
            (&["swapdb", "0", "-1"], errors::DB_OUT_OF_RANGE),
        ] {
            assert_eq!(run(&mut s, T0, args), err(e), "{args:?}");
        }
    }
}
