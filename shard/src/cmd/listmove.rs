//! Moving an element between lists: LMOVE and RPOPLPUSH, as Redis 7.0's
//! `lmoveGenericCommand`. A queue of work items (tokens to revoke, say)
//! moved to a processing list this way is never lost nor seen twice.
//!
//! Both keys live on the shard that runs the executor; across shards the
//! network layer runs this same executor on a scratch shard holding them.

use crate::cmd::blocking::timeout_ms;
use crate::cmd::typed;
use crate::exec::Ctx;
use crate::signals::class;
use crate::value::ListValue;
use bytes::Bytes;
use proto::errors;
use proto::Reply;

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum End {
    Left,
    Right,
}

fn end_arg(arg: &[u8]) -> Result<End, Reply> {
    if arg.eq_ignore_ascii_case(b"left") {
        Ok(End::Left)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Ok(End::Right)
    } else {
        Err(Reply::error(errors::SYNTAX))
    }
}

/// LMOVE's and BLMOVE's two directions.
pub(crate) fn directions(args: &[Bytes]) -> Result<(End, End), Reply> {
    Ok((end_arg(&args[3])?, end_arg(&args[4])?))
}

/// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`: pops from one end of
/// `source`, pushes onto one end of `destination` and replies the element;
/// nil if `source` is missing. The same key on both sides rotates it.
pub fn lmove(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match directions(args) {
        Ok((from, to)) => move_element(ctx, &args[1], &args[2], from, to),
        Err(e) => e,
    }
}

/// `RPOPLPUSH source destination`: LMOVE source destination RIGHT LEFT.
pub fn rpoplpush(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    move_element(ctx, &args[1], &args[2], End::Right, End::Left)
}

/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`, never
/// blocking: LMOVE once its arguments check out. Waiting while the source
/// is missing is the connection's business (net/src/blocking.rs), as for
/// BLPOP; inside MULTI the nil reply stands, as in Redis.
pub fn blmove(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (from, to) = match directions(args) {
        Ok(d) => d,
        Err(e) => return e,
    };
    if let Err(e) = timeout_ms(&args[5]) {
        return e;
    }
    move_element(ctx, &args[1], &args[2], from, to)
}

/// `BRPOPLPUSH source destination timeout`, never blocking.
pub fn brpoplpush(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if let Err(e) = timeout_ms(&args[3]) {
        return e;
    }
    move_element(ctx, &args[1], &args[2], End::Right, End::Left)
}

fn move_element(ctx: &mut Ctx, src: &Bytes, dst: &Bytes, from: End, to: End) -> Reply {
    let now = ctx.now;
    let db = ctx.db();
    match typed::existing::<ListValue>(db, src, now) {
        Ok(Some(_)) => {}
        Ok(None) => return Reply::Nil,
        Err(e) => return e,
    }
    if let Err(e) = typed::existing::<ListValue>(db, dst, now) {
        return e;
    }
    let Ok(Some(list)) = typed::existing::<ListValue>(db, src, now) else {
        return Reply::Nil;
    };
    let popped = match from {
        End::Left => list.pop_front(),
        End::Right => list.pop_back(),
    };
    // A stored list is never empty.
    let Some(element) = popped else {
        return Reply::Nil;
    };
    let reply = Reply::bulk_from(&element);
    // The push comes first, as in Redis: a one-element list rotated onto
    // itself stays, and the events follow Redis's order (new, push, pop,
    // del).
    let target = match typed::create::<ListValue>(ctx, dst) {
        Ok(l) => l,
        Err(e) => return e,
    };
    match to {
        End::Left => target.push_front(element),
        End::Right => target.push_back(element),
    }
    let push = if to == End::Left { "lpush" } else { "rpush" };
    ctx.signal(class::LIST, push, dst);
    let db_index = ctx.db;
    ctx.shard.signals.key_ready(db_index, dst);
    let db = ctx.db();
    let emptied = match typed::existing::<ListValue>(db, src, now) {
        Ok(Some(l)) => l.is_empty(),
        _ => false,
    };
    if emptied {
        db.remove(src, now);
    }
    let pop = if from == End::Left { "lpop" } else { "rpop" };
    ctx.signal(class::LIST, pop, src);
    if emptied {
        ctx.notify(class::GENERIC, "del", src);
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::*;
    use crate::shard::Shard;

    const T0: u64 = 1_700_000_000_000;

    fn list(s: &mut Shard, key: &str) -> Reply {
        run(s, T0, &["lrange", key, "0", "-1"])
    }

    fn items(v: &[&str]) -> Reply {
        Reply::Array(v.iter().map(|e| bulk(e)).collect())
    }

    #[test]
    fn lmove_each_direction() {
        let mut s = Shard::new(0, 1);
        run(&mut s, T0, &["rpush", "a", "1", "2", "3"]);
        assert_eq!(
            run(&mut s, T0, &["lmove", "a", "b", "left", "right"]),
            bulk("1")
        );
        assert_eq!(
            run(&mut s, T0, &["lmove", "a", "b", "RIGHT", "LEFT"]),
            bulk("3")
        );
        assert_eq!(list(&mut s, "b"), items(&["3", "1"]));
        assert_eq!(
            run(&mut s, T0, &["lmove", "b", "a", "right", "right"]),
            bulk("1")
        );
        assert_eq!(
            run(&mut s, T0, &["lmove", "b", "a", "left", "left"]),
            bulk("3")
        );
        assert_eq!(list(&mut s, "a"), items(&["3", "2", "1"]));
        assert_eq!(
            run(&mut s, T0, &["exists", "b"]),
            int(0),
            "emptied source goes"
        );
        assert_eq!(run(&mut s, T0, &["rpoplpush", "a", "c"]), bulk("1"));
        assert_eq!(list(&mut s, "c"), items(&["1"]));
        assert_eq!(run(&mut s, T0, &["rpoplpush", "nope", "c"]), Reply::Nil);
        assert_eq!(
            run(&mut s, T0, &["lmove", "nope", "c", "left", "left"]),
            Reply::Nil
        );
    }

    #[test]
    fn same_key_rotates() {
        let mut s = Shard::new(0, 1);
        run(&mut s, T0, &["rpush", "a", "1", "2", "3"]);
        assert_eq!(run(&mut s, T0, &["rpoplpush", "a", "a"]), bulk("3"));
        assert_eq!(list(&mut s, "a"), items(&["3", "1", "2"]));
        assert_eq!(
            run(&mut s, T0, &["lmove", "a", "a", "left", "right"]),
            bulk("3")
        );
        assert_eq!(list(&mut s, "a"), items(&["1", "2", "3"]));
        run(&mut s, T0, &["rpush", "one", "x"]);
        assert_eq!(
            run(&mut s, T0, &["lmove", "one", "one", "left", "left"]),
            bulk("x")
        );
        assert_eq!(list(&mut s, "one"), items(&["x"]));
    }

    #[test]
    fn errors_leave_both_lists_alone() {
        let mut s = Shard::new(0, 1);
        run(&mut s, T0, &["rpush", "a", "1"]);
        run(&mut s, T0, &["set", "str", "v"]);
        let wrong = err(errors::WRONGTYPE);
        assert_eq!(
            run(&mut s, T0, &["lmove", "a", "str", "left", "left"]),
            wrong
        );
        assert_eq!(run(&mut s, T0, &["rpoplpush", "str", "a"]), wrong);
        assert_eq!(run(&mut s, T0, &["rpoplpush", "nope", "str"]), Reply::Nil);
        assert_eq!(
            run(&mut s, T0, &["lmove", "a", "b", "up", "left"]),
            err(errors::SYNTAX)
        );
        assert_eq!(
            run(&mut s, T0, &["lmove", "str", "b", "left", "down"]),
            err(errors::SYNTAX),
            "directions are checked before the keys"
        );
        assert_eq!(list(&mut s, "a"), items(&["1"]));
    }

    #[test]
    fn blocking_forms_move_at_once_or_answer_nil() {
        let mut s = Shard::new(0, 1);
        run(&mut s, T0, &["rpush", "a", "1", "2"]);
        assert_eq!(
            run(&mut s, T0, &["blmove", "a", "b", "left", "left", "0"]),
            bulk("1")
        );
        assert_eq!(run(&mut s, T0, &["brpoplpush", "a", "b", "1.5"]), bulk("2"));
        assert_eq!(list(&mut s, "b"), items(&["2", "1"]));
        assert_eq!(run(&mut s, T0, &["brpoplpush", "a", "b", "0"]), Reply::Nil);
        let timeout = err("ERR timeout is negative");
        assert_eq!(
            run(&mut s, T0, &["blmove", "b", "a", "up", "left", "-1"]),
            err(errors::SYNTAX),
            "directions are checked before the timeout"
        );
        assert_eq!(
            run(&mut s, T0, &["blmove", "b", "a", "left", "left", "-1"]),
            timeout
        );
        assert_eq!(run(&mut s, T0, &["brpoplpush", "b", "a", "-1"]), timeout);
        assert_eq!(list(&mut s, "b"), items(&["2", "1"]));
    }

    #[test]
    fn signals_follow_redis() {
        let mut s = Shard::new(0, 1);
        s.signals.notify = class::ALL | class::KEYEVENT;
        s.signals.blocking.insert((0, Bytes::from_static(b"b")), 1);
        run(&mut s, T0, &["rpush", "a", "1", "2"]);
        s.signals.events.clear();
        run(&mut s, T0, &["lmove", "a", "b", "left", "right"]);
        run(&mut s, T0, &["rpoplpush", "a", "b"]);
        let seen: Vec<(&str, &[u8])> = s
            .signals
            .events
            .iter()
            .map(|e| (e.event, &e.key[..]))
            .collect();
        assert_eq!(
            seen,
            [
                ("rpush", &b"b"[..]),
                ("lpop", b"a"),
                ("lpush", b"b"),
                ("rpop", b"a"),
                ("del", b"a"),
            ]
        );
        assert_eq!(s.signals.ready, [(0, Bytes::from_static(b"b"))]);
    }
}
