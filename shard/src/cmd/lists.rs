//! List commands on a single key. Lists hold ordered things such as a
//! user's recent logins or a queue of tokens waiting to be revoked.
//!
//! A missing key reads as an empty list, and pushes create it; a key of
//! another type gets WRONGTYPE. A list never stays empty: popping, removing
//! or trimming away its last element removes the key, as Redis does.
//!
//! Every command is at most O(n) in the list's length: the deque gives O(1)
//! pushes and pops at both ends and direct indexing, and the commands that
//! remove from the middle (LREM, LTRIM) do it in one pass.
//!
//! Each command validates its arguments and looks the key up in the same
//! order as Redis 7.0, so that a request with several faults gets the same
//! error as from Redis.

use crate::cmd::typed;
use crate::cmd::util::int_arg;
use crate::exec::Ctx;
use crate::signals::class;
use crate::value::ListValue;
use bytes::Bytes;
use proto::errors;
use proto::Reply;

/// The count error of LPOP and RPOP, for any unusable count, a
/// non-integer included.
const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
const RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
const COUNT_NEGATIVE: &str = "ERR COUNT can't be negative";
const MAXLEN_NEGATIVE: &str = "ERR MAXLEN can't be negative";

fn bulk(element: &[u8]) -> Reply {
    Reply::bulk_from(element)
}

/// Resolves a Redis start/end pair against a list of `len` elements as
/// LRANGE and LTRIM do: negative indexes count from the end, the start is
/// clamped to 0 and the end to the last element. None if the range is
/// empty; otherwise inclusive bounds within the list.
fn resolve_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    // A list's length fits an i64, and adding a negative index to it
    // cannot overflow.
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

/// A single index resolved like LINDEX and LSET: negative counts from the
/// end; None if outside the list.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let index = if index < 0 { len + index } else { index };
    (0..len).contains(&index).then_some(index as usize)
}

#[derive(Clone, Copy, PartialEq)]
enum End {
    Head,
    Tail,
}

/// LPUSH, RPUSH and their X forms (`only_existing`): replies the new length.
fn push(ctx: &mut Ctx, args: &[Bytes], end: End, only_existing: bool) -> Reply {
    let now = ctx.now;
    let key = &args[1];
    let list = match typed::existing::<ListValue>(ctx.db(), key, now) {
        Ok(Some(l)) => l,
        Ok(None) if only_existing => return Reply::Integer(0),
        Ok(None) => match typed::create::<ListValue>(ctx, key) {
            Ok(v) => v,
            Err(e) => return e,
        },
        Err(e) => return e,
    };
    for element in &args[2..] {
        let element: Box<[u8]> = element.as_ref().into();
        match end {
            End::Head => list.push_front(element),
            End::Tail => list.push_back(element),
        }
    }
    let len = list.len();
    let event = match end {
        End::Head => "lpush",
        End::Tail => "rpush",
    };
    ctx.signal(class::LIST, event, key);
    // Clients blocked on the key may pop now.
    let db = ctx.db;
    ctx.shard.signals.key_ready(db, key);
    Reply::Integer(len as i64)
}

/// `LPUSH key element [element ...]`: prepends each element in turn (so
/// the last one given ends up first); replies the new length.
pub fn lpush(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    push(ctx, args, End::Head, false)
}

/// `RPUSH key element [element ...]`: appends; replies the new length.
pub fn rpush(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    push(ctx, args, End::Tail, false)
}

/// `LPUSHX key element [element ...]`: LPUSH only onto an existing list;
/// replies 0 for a missing key.
pub fn lpushx(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    push(ctx, args, End::Head, true)
}

/// `RPUSHX key element [element ...]`: RPUSH only onto an existing list.
pub fn rpushx(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    push(ctx, args, End::Tail, true)
}

/// LPOP and RPOP. Without a count: one element as a bulk string, nil for a
/// missing key. With a count: an array of up to that many elements, the
/// nil array for a missing key (even with count 0), an empty array for
/// count 0 on a list.
fn pop(ctx: &mut Ctx, args: &[Bytes], end: End) -> Reply {
    // Redis checks the argument count and the count's value before the key.
    if args.len() > 3 {
        return Reply::error(errors::wrong_arity(if end == End::Head {
            "lpop"
        } else {
            "rpop"
        }));
    }
    let count = match args.get(2) {
        None => None,
        Some(arg) => match proto::parse_int(arg) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => return Reply::error(NOT_POSITIVE),
        },
    };
    let now = ctx.now;
    let key = &args[1];
    let db = ctx.db();
    let list = match typed::existing::<ListValue>(db, key, now) {
        Ok(Some(l)) => l,
        Ok(None) if count.is_none() => return Reply::Nil,
        Ok(None) => return Reply::NilArray,
        Err(e) => return e,
    };
    let n = match count {
        None => 1,
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX).min(list.len()),
    };
    let popped: Vec<Reply> = (0..n)
        .map_while(|_| match end {
            End::Head => list.pop_front(),
            End::Tail => list.pop_back(),
        })
        .map(|e| Reply::bulk(Bytes::from(e.into_vec())))
        .collect();
    let any = !popped.is_empty();
    let reply = match count {
        None => popped.into_iter().next().unwrap_or(Reply::Nil),
        Some(_) => Reply::Array(popped),
    };
    let emptied = list.is_empty();
    if emptied {
        db.remove(key, now);
    }
    if any {
        let event = match end {
            End::Head => "lpop",
            End::Tail => "rpop",
        };
        ctx.signal_removal(class::LIST, event, key, emptied);
    }
    reply
}

/// `LPOP key [count]`: removes and replies the first elements.
pub fn lpop(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    pop(ctx, args, End::Head)
}

/// `RPOP key [count]`: removes and replies the last elements.
pub fn rpop(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    pop(ctx, args, End::Tail)
}

/// `LRANGE key start stop`: the elements from `start` to `stop`
/// inclusive; negative indexes count from the end, out-of-range ones are
/// clamped. The indexes are parsed before the key is looked up.
pub fn lrange(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (start, end) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let list = match typed::read::<ListValue>(ctx, &args[1]) {
        Ok(Some(l)) => l,
        Ok(None) => return Reply::Array(Vec::new()),
        Err(e) => return e,
    };
    match resolve_range(start, end, list.len()) {
        None => Reply::Array(Vec::new()),
        Some((start, end)) => Reply::Array(list.range(start..=end).map(|e| bulk(e)).collect()),
    }
}

/// `LLEN key`: the length, 0 for a missing key.
pub fn llen(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match typed::read::<ListValue>(ctx, &args[1]) {
        Ok(list) => Reply::Integer(list.map_or(0, |l| l.len()) as i64),
        Err(e) => e,
    }
}

/// `LINDEX key index`: one element, nil if out of range. Redis looks the
/// key up before parsing the index, so a missing key replies nil even for
/// an index that is not a number.
pub fn lindex(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let list = match typed::read::<ListValue>(ctx, &args[1]) {
        Ok(Some(l)) => l,
        Ok(None) => return Reply::Nil,
        Err(e) => return e,
    };
    let index = match int_arg(&args[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    resolve_index(index, list.len())
        .and_then(|i| list.get(i))
        .map_or(Reply::Nil, |e| bulk(e))
}

/// `LSET key index element`: replaces one element. A missing key is an
/// error ("no such key"), checked before the index is parsed.
pub fn lset(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let now = ctx.now;
    let list = match typed::existing::<ListValue>(ctx.db(), &args[1], now) {
        Ok(Some(l)) => l,
        Ok(None) => return Reply::error(errors::NO_SUCH_KEY),
        Err(e) => return e,
    };
    let index = match int_arg(&args[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    match resolve_index(index, list.len()).and_then(|i| list.get_mut(i)) {
        Some(slot) => {
            *slot = args[3].as_ref().into();
            ctx.signal(class::LIST, "lset", &args[1]);
            Reply::Ok
        }
        None => Reply::error(INDEX_OUT_OF_RANGE),
    }
}

/// `LREM key count element`: removes elements equal to `element`: the
/// first `count` from the head for a positive count, the last `|count|`
/// from the tail for a negative one, all of them for 0. Replies how many
/// were removed.
pub fn lrem(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let count = match int_arg(&args[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let now = ctx.now;
    let key = &args[1];
    let element: &[u8] = &args[3];
    let db = ctx.db();
    let list = match typed::existing::<ListValue>(db, key, now) {
        Ok(Some(l)) => l,
        Ok(None) => return Reply::Integer(0),
        Err(e) => return e,
    };
    let limit = count.unsigned_abs();
    // One retain pass keeps this O(n). Removing the last |count| matches
    // means skipping all matches but those, which a first count tells.
    let matches = list.iter().filter(|e| ***e == *element).count() as u64;
    let (skip, remove) = if count == 0 {
        (0, matches)
    } else if count > 0 {
        (0, limit.min(matches))
    } else {
        (matches.saturating_sub(limit), limit.min(matches))
    };
    let mut seen = 0u64;
    list.retain(|e| {
        if **e != *element {
            return true;
        }
        seen += 1;
        seen <= skip || seen > skip + remove
    });
    let emptied = list.is_empty();
    if emptied {
        db.remove(key, now);
    }
    if remove > 0 {
        ctx.signal_removal(class::LIST, "lrem", key, emptied);
    }
    Reply::Integer(remove as i64)
}

/// `LTRIM key start stop`: keeps only the elements in the range, resolved
/// as LRANGE does; an empty range removes the key.
pub fn ltrim(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (start, end) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let now = ctx.now;
    let key = &args[1];
    let db = ctx.db();
    let list = match typed::existing::<ListValue>(db, key, now) {
        Ok(Some(l)) => l,
        Ok(None) => return Reply::Ok,
        Err(e) => return e,
    };
    match resolve_range(start, end, list.len()) {
        None => list.clear(),
        Some((start, end)) => {
            list.truncate(end + 1);
            list.drain(..start);
        }
    }
    let emptied = list.is_empty();
    if emptied {
        db.remove(key, now);
    }
    // Redis reports `ltrim` even when nothing was trimmed.
    ctx.signal_removal(class::LIST, "ltrim", key, emptied);
    Reply::Ok
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`: the
/// index of the `rank`th match (negative: counting from the tail), nil if
/// none; with COUNT, an array of up to that many indexes (0: all), empty
/// if none. MAXLEN bounds how many elements are compared (0: no bound).
/// Options are parsed before the key is looked up.
pub fn lpos(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let mut rank: i64 = 1;
    let mut count: Option<u64> = None;
    let mut maxlen: u64 = 0;
    let mut rest = args[3..].iter();
    while let Some(opt) = rest.next() {
        let Some(value) = rest.next().filter(|_| {
            opt.eq_ignore_ascii_case(b"rank")
                || opt.eq_ignore_ascii_case(b"count")
                || opt.eq_ignore_ascii_case(b"maxlen")
        }) else {
            return Reply::error(errors::SYNTAX);
        };
        if opt.eq_ignore_ascii_case(b"rank") {
            rank = match int_arg(value) {
                Ok(0) => return Reply::error(RANK_ZERO),
                Ok(r) => r,
                Err(e) => return e,
            };
        } else {
            let negative = if opt.eq_ignore_ascii_case(b"count") {
                COUNT_NEGATIVE
            } else {
                MAXLEN_NEGATIVE
            };
            // Redis gives the option's own error for a non-integer too.
            let n = match proto::parse_int(value) {
                Some(n) if n >= 0 => n as u64,
                _ => return Reply::error(negative),
            };
            if opt.eq_ignore_ascii_case(b"count") {
                count = Some(n);
            } else {
                maxlen = n;
            }
        }
    }
    let list = match typed::read::<ListValue>(ctx, &args[1]) {
        Ok(Some(l)) => l,
        Ok(None) if count.is_some() => return Reply::Array(Vec::new()),
        Ok(None) => return Reply::Nil,
        Err(e) => return e,
    };
    let element: &[u8] = &args[2];
    let from_tail = rank < 0;
    // The |rank|th match is the first one reported. Redis 7.0 negates the
    // rank in a C long, so RANK -9223372036854775808 stays negative there:
    // every match counts as reached and COUNT never stops the scan. The
    // same replies are given here, as rank -1 with no COUNT limit.
    let (first, count) = if rank == i64::MIN {
        (1, count.map(|_| 0))
    } else {
        (rank.unsigned_abs(), count)
    };
    let len = list.len();
    let scanned = if maxlen == 0 {
        len
    } else {
        usize::try_from(maxlen).unwrap_or(usize::MAX).min(len)
    };
    let positions: Box<dyn Iterator<Item = usize>> = if from_tail {
        Box::new((len - scanned..len).rev())
    } else {
        Box::new(0..scanned)
    };
    let mut found = positions
        .filter(|&i| list.get(i).is_some_and(|e| **e == *element))
        .skip(usize::try_from(first - 1).unwrap_or(usize::MAX));
    match count {
        None => found
            .next()
            .map_or(Reply::Nil, |i| Reply::Integer(i as i64)),
        Some(n) => {
            let n = if n == 0 {
                usize::MAX
            } else {
                usize::try_from(n).unwrap_or(usize::MAX)
            };
            Reply::Array(found.take(n).map(|i| Reply::Integer(i as i64)).collect())
        }
    }
}

/// `LINSERT key BEFORE|AFTER pivot element`: inserts next to the first
/// `pivot` from the head; replies the new length, -1 if the pivot is
/// absent, 0 for a missing key.
pub fn linsert(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let after = if args[2].eq_ignore_ascii_case(b"after") {
        true
    } else if args[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        return Reply::error(errors::SYNTAX);
    };
    let now = ctx.now;
    let list = match typed::existing::<ListValue>(ctx.db(), &args[1], now) {
        Ok(Some(l)) => l,
        Ok(None) => return Reply::Integer(0),
        Err(e) => return e,
    };
    let pivot: &[u8] = &args[3];
    match list.iter().position(|e| **e == *pivot) {
        Some(i) => {
            list.insert(i + after as usize, args[4].as_ref().into());
            let len = list.len();
            ctx.signal(class::LIST, "linsert", &args[1]);
            Reply::Integer(len as i64)
        }
        None => Reply::Integer(-1),
    }
}

#[cfg(test)]
mod tests {
    use crate::cmd::testing::*;
    use crate::keyspace::string_entry;
    use crate::shard::Shard;
    use proto::Reply;

    const T0: u64 = 1_700_000_000_000;

    fn arr(items: &[&str]) -> Reply {
        Reply::Array(items.iter().map(|s| bulk(s)).collect())
    }

    fn ints(items: &[i64]) -> Reply {
        Reply::Array(items.iter().map(|&n| int(n)).collect())
    }

    fn all(s: &mut Shard, key: &str) -> Reply {
        run(s, T0, &["lrange", key, "0", "-1"])
    }

    fn exists(s: &mut Shard, key: &str) -> Reply {
        run(s, T0, &["exists", key])
    }

    /// A list `l` holding the given elements, in order.
    fn list(items: &[&str]) -> Shard {
        let mut s = Shard::new(0, 1);
        let mut args = vec!["rpush", "l"];
        args.extend_from_slice(items);
        assert_eq!(run(&mut s, T0, &args), int(items.len() as i64));
        s
    }

    #[test]
    fn pushes_reply_the_new_length_and_keep_order() {
        let mut s = Shard::new(0, 1);
        assert_eq!(run(&mut s, T0, &["rpush", "l", "a", "b"]), int(2));
        assert_eq!(
            run(&mut s, T0, &["lpush", "l", "x", "y"]),
            int(4),
            "LPUSH prepends each element in turn"
        );
        assert_eq!(all(&mut s, "l"), arr(&["y", "x", "a", "b"]));
        assert_eq!(run(&mut s, T0, &["type", "l"]), Reply::simple("list"));
        assert_eq!(run(&mut s, T0, &["llen", "l"]), int(4));
        assert_eq!(run(&mut s, T0, &["llen", "missing"]), int(0));
    }

    #[test]
    fn pushx_only_touches_an_existing_list() {
        let mut s = list(&["a"]);
        assert_eq!(run(&mut s, T0, &["lpushx", "missing", "a"]), int(0));
        assert_eq!(run(&mut s, T0, &["rpushx", "missing", "a", "b"]), int(0));
        assert_eq!(exists(&mut s, "missing"), int(0));
        assert_eq!(run(&mut s, T0, &["lpushx", "l", "p", "q"]), int(3));
        assert_eq!(run(&mut s, T0, &["rpushx", "l", "z"]), int(4));
        assert_eq!(all(&mut s, "l"), arr(&["q", "p", "a", "z"]));
    }

    #[test]
    fn pop_without_count() {
        let mut s = list(&["a", "b", "c"]);
        assert_eq!(run(&mut s, T0, &["lpop", "l"]), bulk("a"));
        assert_eq!(run(&mut s, T0, &["rpop", "l"]), bulk("c"));
        assert_eq!(run(&mut s, T0, &["lpop", "l"]), bulk("b"));
        assert_eq!(exists(&mut s, "l"), int(0), "the emptied list is removed");
        assert_eq!(run(&mut s, T0, &["lpop", "l"]), Reply::Nil);
        assert_eq!(run(&mut s, T0, &["rpop", "l"]), Reply::Nil);
    }

    #[test]
    fn pop_with_count() {
        let mut s = list(&["1", "2", "3", "4", "5"]);
        assert_eq!(run(&mut s, T0, &["lpop", "l", "2"]), arr(&["1", "2"]));
        assert_eq!(run(&mut s, T0, &["rpop", "l", "1"]), arr(&["5"]));
        assert_eq!(run(&mut s, T0, &["lpop", "l", "0"]), arr(&[]));
        assert_eq!(all(&mut s, "l"), arr(&["3", "4"]));
        assert_eq!(
            run(&mut s, T0, &["rpop", "l", "9223372036854775807"]),
            arr(&["4", "3"])
        );
        assert_eq!(exists(&mut s, "l"), int(0));
        // A missing key with a count replies the nil array, even for 0.
        assert_eq!(run(&mut s, T0, &["lpop", "l", "1"]), Reply::NilArray);
        assert_eq!(run(&mut s, T0, &["rpop", "l", "0"]), Reply::NilArray);
    }

    #[test]
    fn pop_count_errors() {
        let mut s = list(&["a"]);
        for bad in ["-1", "abc", "1.5", "99999999999999999999"] {
            assert_eq!(
                run(&mut s, T0, &["lpop", "l", bad]),
                err("ERR value is out of range, must be positive"),
                "{bad}"
            );
            assert_eq!(
                run(&mut s, T0, &["rpop", "missing", bad]),
                err("ERR value is out of range, must be positive"),
                "{bad} on a missing key"
            );
        }
        assert_eq!(
            run(&mut s, T0, &["lpop", "l", "1", "2"]),
            err("ERR wrong number of arguments for 'lpop' command")
        );
        assert_eq!(
            run(&mut s, T0, &["rpop", "l", "1", "2"]),
            err("ERR wrong number of arguments for 'rpop' command")
        );
        assert_eq!(all(&mut s, "l"), arr(&["a"]), "nothing was popped");
    }

    #[test]
    fn lrange_indexes() {
        let mut s = list(&["a", "b", "c", "d", "e"]);
        let mut range = |a: &str, b: &str| run(&mut s, T0, &["lrange", "l", a, b]);
        assert_eq!(range("0", "0"), arr(&["a"]));
        assert_eq!(range("-2", "-1"), arr(&["d", "e"]));
        assert_eq!(range("-100", "100"), arr(&["a", "b", "c", "d", "e"]));
        assert_eq!(range("1", "-2"), arr(&["b", "c", "d"]));
        assert_eq!(range("3", "1"), arr(&[]));
        assert_eq!(range("5", "10"), arr(&[]));
        assert_eq!(range("-100", "-50"), arr(&[]));
        assert_eq!(range("0", "-100"), arr(&[]));
        assert_eq!(
            range("-9223372036854775808", "9223372036854775807"),
            arr(&["a", "b", "c", "d", "e"])
        );
        assert_eq!(
            range("x", "1"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            range("0", "x"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(run(&mut s, T0, &["lrange", "missing", "0", "-1"]), arr(&[]));
        assert_eq!(
            run(&mut s, T0, &["lrange", "missing", "a", "b"]),
            err("ERR value is not an integer or out of range"),
            "the indexes are parsed before the key is looked up"
        );
    }

    #[test]
    fn lindex_indexes() {
        let mut s = list(&["a", "b", "c"]);
        let mut at = |i: &str| run(&mut s, T0, &["lindex", "l", i]);
        assert_eq!(at("0"), bulk("a"));
        assert_eq!(at("2"), bulk("c"));
        assert_eq!(at("-1"), bulk("c"));
        assert_eq!(at("-3"), bulk("a"));
        assert_eq!(at("3"), Reply::Nil);
        assert_eq!(at("-4"), Reply::Nil);
        assert_eq!(at("9223372036854775807"), Reply::Nil);
        assert_eq!(at("-9223372036854775808"), Reply::Nil);
        assert_eq!(at("x"), err("ERR value is not an integer or out of range"));
        assert_eq!(
            run(&mut s, T0, &["lindex", "missing", "x"]),
            Reply::Nil,
            "the key is looked up before the index is parsed"
        );
    }

    #[test]
    fn lset_replaces_in_range_only() {
        let mut s = list(&["a", "b", "c"]);
        assert_eq!(run(&mut s, T0, &["lset", "l", "0", "x"]), Reply::Ok);
        assert_eq!(run(&mut s, T0, &["lset", "l", "-1", "z"]), Reply::Ok);
        assert_eq!(all(&mut s, "l"), arr(&["x", "b", "z"]));
        for i in ["3", "-4", "-9223372036854775808"] {
            assert_eq!(
                run(&mut s, T0, &["lset", "l", i, "v"]),
                err("ERR index out of range")
            );
        }
        assert_eq!(
            run(&mut s, T0, &["lset", "l", "x", "v"]),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            run(&mut s, T0, &["lset", "missing", "x", "v"]),
            err("ERR no such key")
        );
        assert_eq!(exists(&mut s, "missing"), int(0));
    }

    #[test]
    fn lrem_count_sign() {
        let items = ["a", "b", "a", "c", "a", "b", "a"];
        let mut s = list(&items);
        assert_eq!(run(&mut s, T0, &["lrem", "l", "2", "a"]), int(2));
        assert_eq!(all(&mut s, "l"), arr(&["b", "c", "a", "b", "a"]));

        let mut s = list(&items);
        assert_eq!(run(&mut s, T0, &["lrem", "l", "-3", "a"]), int(3));
        assert_eq!(all(&mut s, "l"), arr(&["a", "b", "c", "b"]));

        let mut s = list(&items);
        assert_eq!(run(&mut s, T0, &["lrem", "l", "0", "a"]), int(4));
        assert_eq!(all(&mut s, "l"), arr(&["b", "c", "b"]));
        assert_eq!(run(&mut s, T0, &["lrem", "l", "5", "zz"]), int(0));
        assert_eq!(
            run(&mut s, T0, &["lrem", "l", "-9223372036854775808", "b"]),
            int(2)
        );
        assert_eq!(run(&mut s, T0, &["lrem", "l", "10", "c"]), int(1));
        assert_eq!(exists(&mut s, "l"), int(0), "the emptied list is removed");
        assert_eq!(run(&mut s, T0, &["lrem", "l", "1", "a"]), int(0));
        assert_eq!(
            run(&mut s, T0, &["lrem", "l", "x", "a"]),
            err("ERR value is not an integer or out of range")
        );
    }

    #[test]
    fn ltrim_ranges_and_removal() {
        let mut s = list(&["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
        assert_eq!(run(&mut s, T0, &["ltrim", "l", "1", "-2"]), Reply::Ok);
        assert_eq!(
            all(&mut s, "l"),
            arr(&["1", "2", "3", "4", "5", "6", "7", "8"])
        );
        assert_eq!(run(&mut s, T0, &["ltrim", "l", "-5", "100"]), Reply::Ok);
        assert_eq!(all(&mut s, "l"), arr(&["4", "5", "6", "7", "8"]));
        assert_eq!(run(&mut s, T0, &["ltrim", "l", "-100", "1"]), Reply::Ok);
        assert_eq!(all(&mut s, "l"), arr(&["4", "5"]));
        assert_eq!(run(&mut s, T0, &["ltrim", "l", "1", "0"]), Reply::Ok);
        assert_eq!(
            exists(&mut s, "l"),
            int(0),
            "an empty range removes the key"
        );

        let mut s = list(&["a", "b"]);
        assert_eq!(run(&mut s, T0, &["ltrim", "l", "5", "10"]), Reply::Ok);
        assert_eq!(exists(&mut s, "l"), int(0));
        assert_eq!(run(&mut s, T0, &["ltrim", "missing", "0", "1"]), Reply::Ok);
        assert_eq!(
            run(&mut s, T0, &["ltrim", "missing", "x", "1"]),
            err("ERR value is not an integer or out of range")
        );
    }

    #[test]
    fn lpos_rank_count_maxlen() {
        let mut s = list(&["a", "b", "c", "1", "2", "3", "c", "c"]);
        let mut lpos = |extra: &[&str]| {
            let mut args = vec!["lpos", "l"];
            args.extend_from_slice(extra);
            run(&mut s, T0, &args)
        };
        assert_eq!(lpos(&["c"]), int(2));
        assert_eq!(lpos(&["zz"]), Reply::Nil);
        assert_eq!(lpos(&["c", "RANK", "2"]), int(6));
        assert_eq!(lpos(&["c", "RANK", "-1"]), int(7));
        assert_eq!(lpos(&["c", "RANK", "-3"]), int(2));
        assert_eq!(lpos(&["c", "RANK", "4"]), Reply::Nil);
        assert_eq!(lpos(&["c", "RANK", "9223372036854775807"]), Reply::Nil);
        assert_eq!(lpos(&["c", "COUNT", "2"]), ints(&[2, 6]));
        assert_eq!(lpos(&["c", "COUNT", "0"]), ints(&[2, 6, 7]));
        assert_eq!(lpos(&["zz", "COUNT", "0"]), ints(&[]));
        assert_eq!(lpos(&["c", "RANK", "-1", "COUNT", "2"]), ints(&[7, 6]));
        assert_eq!(lpos(&["c", "RANK", "2", "COUNT", "0"]), ints(&[6, 7]));
        assert_eq!(lpos(&["c", "MAXLEN", "2"]), Reply::Nil);
        assert_eq!(lpos(&["c", "MAXLEN", "3"]), int(2));
        assert_eq!(
            lpos(&["c", "RANK", "-1", "COUNT", "0", "MAXLEN", "2"]),
            ints(&[7, 6])
        );
        assert_eq!(
            lpos(&["c", "rank", "1", "rank", "3"]),
            int(7),
            "the last option wins"
        );
        // Redis 7.0 cannot negate this rank and ends up reporting every
        // match from the tail.
        assert_eq!(lpos(&["c", "RANK", "-9223372036854775808"]), int(7));
        assert_eq!(
            lpos(&["c", "RANK", "-9223372036854775808", "COUNT", "1"]),
            ints(&[7, 6, 2])
        );
    }

    #[test]
    fn lpos_errors_and_missing_key() {
        let mut s = list(&["a"]);
        let mut lpos = |extra: &[&str]| {
            let mut args = vec!["lpos"];
            args.extend_from_slice(extra);
            run(&mut s, T0, &args)
        };
        let rank_zero = err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
        assert_eq!(lpos(&["l", "a", "RANK", "0"]), rank_zero);
        assert_eq!(lpos(&["missing", "a", "RANK", "0"]), rank_zero);
        assert_eq!(
            lpos(&["l", "a", "RANK", "x"]),
            err("ERR value is not an integer or out of range")
        );
        for bad in ["-1", "x"] {
            assert_eq!(
                lpos(&["l", "a", "COUNT", bad]),
                err("ERR COUNT can't be negative")
            );
            assert_eq!(
                lpos(&["l", "a", "MAXLEN", bad]),
                err("ERR MAXLEN can't be negative")
            );
        }
        assert_eq!(lpos(&["l", "a", "FOO"]), err("ERR syntax error"));
        assert_eq!(lpos(&["l", "a", "FOO", "1"]), err("ERR syntax error"));
        assert_eq!(lpos(&["l", "a", "RANK"]), err("ERR syntax error"));
        assert_eq!(lpos(&["missing", "a"]), Reply::Nil);
        assert_eq!(lpos(&["missing", "a", "COUNT", "1"]), ints(&[]));
    }

    #[test]
    fn linsert_before_and_after() {
        let mut s = list(&["a", "b", "c", "b"]);
        assert_eq!(
            run(&mut s, T0, &["linsert", "l", "BEFORE", "b", "x"]),
            int(5)
        );
        assert_eq!(
            run(&mut s, T0, &["linsert", "l", "after", "b", "y"]),
            int(6)
        );
        assert_eq!(
            run(&mut s, T0, &["linsert", "l", "AFTER", "b", "z"]),
            int(7)
        );
        assert_eq!(
            run(&mut s, T0, &["linsert", "l", "AFTER", "c", "w"]),
            int(8)
        );
        assert_eq!(
            run(&mut s, T0, &["linsert", "l", "BEFORE", "zz", "v"]),
            int(-1)
        );
        assert_eq!(
            all(&mut s, "l"),
            arr(&["a", "x", "b", "z", "y", "c", "w", "b"])
        );
        assert_eq!(
            run(&mut s, T0, &["linsert", "missing", "BEFORE", "a", "v"]),
            int(0)
        );
        assert_eq!(exists(&mut s, "missing"), int(0));
        assert_eq!(
            run(&mut s, T0, &["linsert", "l", "MIDDLE", "a", "v"]),
            err("ERR syntax error")
        );
    }

    #[test]
    fn wrong_type_both_ways() {
        let wrongtype = err("WRONGTYPE Operation against a key holding the wrong kind of value");
        let mut s = list(&["a"]);
        s.db(0).insert(b"str", string_entry(b"v"), T0);
        for cmd in [
            &["lpush", "str", "a"][..],
            &["rpush", "str", "a"],
            &["lpushx", "str", "a"],
            &["rpushx", "str", "a"],
            &["lpop", "str"],
            &["rpop", "str", "0"],
            &["lrange", "str", "0", "-1"],
            &["llen", "str"],
            &["lindex", "str", "0"],
            &["lindex", "str", "x"],
            &["lset", "str", "0", "v"],
            &["lset", "str", "x", "v"],
            &["lrem", "str", "0", "a"],
            &["ltrim", "str", "0", "1"],
            &["lpos", "str", "a"],
            &["linsert", "str", "BEFORE", "a", "b"],
        ] {
            assert_eq!(run(&mut s, T0, cmd), wrongtype, "{cmd:?}");
        }
        assert_eq!(run(&mut s, T0, &["get", "str"]), bulk("v"));
        for cmd in [
            &["get", "l"][..],
            &["append", "l", "x"],
            &["incr", "l"],
            &["hget", "l", "f"],
            &["hset", "l", "f", "v"],
            &["sadd", "l", "m"],
            &["scard", "l"],
        ] {
            assert_eq!(run(&mut s, T0, cmd), wrongtype, "{cmd:?}");
        }
        assert_eq!(all(&mut s, "l"), arr(&["a"]));
    }

    #[test]
    fn expired_list_reads_as_missing() {
        let mut s = list(&["a", "b"]);
        assert_eq!(run(&mut s, T0, &["pexpire", "l", "10"]), int(1));
        let later = T0 + 11;
        assert_eq!(run(&mut s, later, &["llen", "l"]), int(0));
        assert_eq!(run(&mut s, later, &["lpop", "l", "1"]), Reply::NilArray);
        assert_eq!(run(&mut s, later, &["rpush", "l", "c"]), int(1));
        assert_eq!(run(&mut s, later, &["ttl", "l"]), int(-1));
    }
}
