//! Set commands on a single key. Sets hold things like a user's active
//! session ids or the scopes granted to a token.
//!
//! A missing key reads as an empty set, and writes create it; a key of
//! another type gets WRONGTYPE. A set never stays empty: removing or popping
//! its last member removes the key, as Redis does.
//!
//! Random picks (SPOP, SRANDMEMBER) walk the set's iterator, so they cost
//! O(size of the set): the hash table offers no random access, and the sets
//! kept here are small.

use crate::cmd::keys::{scan_reply, ScanOptions};
use crate::cmd::typed;
use crate::cmd::util::{int_arg, scan_cursor};
use crate::exec::Ctx;
use crate::signals::class;
use crate::value::SetValue;
use bytes::Bytes;
use proto::errors;
use proto::Reply;

/// SPOP's count error. Redis gives it for any unusable count, a
/// non-integer included.
const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";

/// The most members a negative SRANDMEMBER count may ask for. Redis has no
/// such limit and would build a reply of up to 2^63 members; a reply is
/// built whole in memory here, so the count is bounded instead.
const MAX_REPEATED_PICKS: u64 = 1_000_000;

/// A small xorshift generator seeded from the shard's. Executors draw one
/// seed before borrowing the set, since the set borrows the shard.
struct Rng(u64);

impl Rng {
    fn new(ctx: &mut Ctx) -> Rng {
        // xorshift never leaves zero, so keep the seed odd.
        Rng(ctx.shard.next_random() | 1)
    }

    /// A number in `0..n`; `n` must not be zero. The modulo bias is
    /// negligible for set sizes.
    fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x % n as u64) as usize
    }
}

/// One member picked uniformly; None if the set is empty.
fn random_member<'a>(set: &'a SetValue, rng: &mut Rng) -> Option<&'a [u8]> {
    if set.is_empty() {
        return None;
    }
    set.iter().nth(rng.below(set.len())).map(|m| &**m)
}

/// `count` distinct members picked uniformly (a partial Fisher-Yates
/// shuffle); `count` must not exceed the set's size.
fn distinct_members<'a>(set: &'a SetValue, count: usize, rng: &mut Rng) -> Vec<&'a [u8]> {
    let mut members: Vec<&[u8]> = set.iter().map(|m| &**m).collect();
    for i in 0..count {
        let j = i + rng.below(members.len() - i);
        members.swap(i, j);
    }
    members.truncate(count);
    members
}

/// `SADD key member [member ...]`: replies the number of members added.
pub fn sadd(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let set = match typed::create::<SetValue>(ctx, &args[1]) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let added = args[2..]
        .iter()
        .filter(|m| set.insert(m.as_ref().into()))
        .count();
    if added > 0 {
        ctx.signal(class::SET, "sadd", &args[1]);
    }
    Reply::Integer(added as i64)
}

/// `SREM key member [member ...]`: replies how many members existed;
/// deletes the key along with its last member.
pub fn srem(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let now = ctx.now;
    let key = &args[1];
    let db = ctx.db();
    let set = match typed::existing::<SetValue>(db, key, now) {
        Ok(Some(s)) => s,
        Ok(None) => return Reply::Integer(0),
        Err(e) => return e,
    };
    let removed = args[2..].iter().filter(|m| set.remove(m.as_ref())).count();
    let emptied = set.is_empty();
    if emptied {
        db.remove(key, now);
    }
    if removed > 0 {
        ctx.signal_removal(class::SET, "srem", key, emptied);
    }
    Reply::Integer(removed as i64)
}

/// `SMEMBERS key`: a set in RESP3, an array in RESP2.
pub fn smembers(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match typed::read::<SetValue>(ctx, &args[1]) {
        Ok(set) => Reply::Set(
            set.iter()
                .flat_map(|s| s.iter())
                .map(|m| Reply::bulk_from(m))
                .collect(),
        ),
        Err(e) => e,
    }
}

/// `SISMEMBER key member`: 1 or 0.
pub fn sismember(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match typed::read::<SetValue>(ctx, &args[1]) {
        Ok(set) => Reply::Integer(set.is_some_and(|s| s.contains(args[2].as_ref())) as i64),
        Err(e) => e,
    }
}

/// `SMISMEMBER key member [member ...]`: an array of 1 or 0 per member.
pub fn smismember(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match typed::read::<SetValue>(ctx, &args[1]) {
        Ok(set) => {
            let set = set.as_deref();
            Reply::Array(
                args[2..]
                    .iter()
                    .map(|m| Reply::Integer(set.is_some_and(|s| s.contains(m.as_ref())) as i64))
                    .collect(),
            )
        }
        Err(e) => e,
    }
}

/// `SCARD key`: the number of members.
pub fn scard(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match typed::read::<SetValue>(ctx, &args[1]) {
        Ok(set) => Reply::Integer(set.map_or(0, |s| s.len()) as i64),
        Err(e) => e,
    }
}

/// `SPOP key [count]`: removes and replies random members, one as a bulk
/// string (nil for a missing key), a count of them as a set. Popping the
/// last member deletes the key.
///
/// The picks are random, so a log that replays commands must record SPOP as
/// the SREM of the members it popped, as Redis propagates it.
pub fn spop(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    // Redis rejects extra arguments before looking at the key or the count.
    if args.len() > 3 {
        return Reply::error(errors::SYNTAX);
    }
    // The count is checked before the key's type, as in Redis.
    let count = match args.get(2) {
        None => None,
        Some(arg) => match proto::parse_int(arg) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => return Reply::error(NOT_POSITIVE),
        },
    };
    let mut rng = Rng::new(ctx);
    let now = ctx.now;
    let key = &args[1];
    let db = ctx.db();
    let set = match typed::existing::<SetValue>(db, key, now) {
        Ok(Some(s)) => s,
        Ok(None) if count.is_none() => return Reply::Nil,
        Ok(None) => return Reply::Set(Vec::new()),
        Err(e) => return e,
    };
    let reply = match count {
        None => {
            // The set is never empty, so a member is always found.
            let Some(member) = random_member(set, &mut rng).map(Box::<[u8]>::from) else {
                return Reply::Nil;
            };
            set.remove(&member);
            Reply::bulk(Bytes::from(member.into_vec()))
        }
        Some(n) if n >= set.len() as u64 => Reply::Set(
            std::mem::take(set)
                .into_iter()
                .map(|m| Reply::bulk(Bytes::from(m.into_vec())))
                .collect(),
        ),
        Some(n) => {
            let picked: Vec<Box<[u8]>> = distinct_members(set, n as usize, &mut rng)
                .into_iter()
                .map(Box::from)
                .collect();
            let mut items = Vec::with_capacity(picked.len());
            for member in picked {
                set.remove(&member);
                items.push(Reply::bulk(Bytes::from(member.into_vec())));
            }
            Reply::Set(items)
        }
    };
    let emptied = set.is_empty();
    if emptied {
        db.remove(key, now);
    }
    // SPOP with a count of 0 pops nothing and reports nothing.
    if count != Some(0) {
        ctx.signal_removal(class::SET, "spop", key, emptied);
    }
    reply
}

/// `SRANDMEMBER key [count]`: random members, left in place. Without a
/// count, one member as a bulk string (nil for a missing key). A positive
/// count replies up to that many distinct members, a negative one exactly
/// that many, possibly repeated; both as an array, also in RESP3.
pub fn srandmember(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return Reply::error(errors::SYNTAX);
    }
    let count = match args.get(2) {
        None => None,
        Some(arg) => match int_arg(arg) {
            // Redis negates the count, so i64::MIN is out of its range.
            Ok(i64::MIN) => {
                return Reply::error(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                )
            }
            Ok(n) if n < 0 && n.unsigned_abs() > MAX_REPEATED_PICKS => {
                return Reply::error(format!(
                    "ERR value is out of range, value must between -{MAX_REPEATED_PICKS} and 9223372036854775807"
                ))
            }
            Ok(n) => Some(n),
            Err(e) => return e,
        },
    };
    let mut rng = Rng::new(ctx);
    // A stored set is never empty; treating one as missing anyway keeps
    // the picks below from ever drawing from nothing.
    let set = match typed::read::<SetValue>(ctx, &args[1]) {
        Ok(Some(s)) if !s.is_empty() => s,
        Ok(_) if count.is_none() => return Reply::Nil,
        Ok(_) => return Reply::Array(Vec::new()),
        Err(e) => return e,
    };
    match count {
        None => random_member(set, &mut rng).map_or(Reply::Nil, Reply::bulk_from),
        Some(n) if n >= 0 => {
            let n = usize::try_from(n).unwrap_or(usize::MAX).min(set.len());
            Reply::Array(
                distinct_members(set, n, &mut rng)
                    .into_iter()
                    .map(Reply::bulk_from)
                    .collect(),
            )
        }
        Some(n) => {
            // Each member is copied once and shared by its repeats.
            let members: Vec<Bytes> = set.iter().map(|m| Bytes::copy_from_slice(m)).collect();
            Reply::Array(
                (0..n.unsigned_abs())
                    .map(|_| Reply::Bulk(members[rng.below(members.len())].clone()))
                    .collect(),
            )
        }
    }
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`
///
/// Replies every matching member at once with the cursor "0", whatever the
/// cursor and COUNT, as HSCAN does: Redis does the same for small sets. A
/// cursor is still validated, and a missing key replies an empty scan
/// before the options are even read, as in Redis.
pub fn sscan(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if let Err(e) = scan_cursor(&args[2]) {
        return e;
    }
    let set = match typed::read::<SetValue>(ctx, &args[1]) {
        Ok(Some(s)) => s,
        Ok(None) => return scan_reply(0, Vec::new()),
        Err(e) => return e,
    };
    let opts = match ScanOptions::parse(&args[3..], false) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let items = set
        .iter()
        .filter(|m| opts.matches(m))
        .map(|m| Reply::bulk_from(m))
        .collect();
    scan_reply(0, items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::*;
    use crate::keyspace::string_entry;
    use crate::shard::Shard;
    use proto::Protocol;

    const T0: u64 = 1_700_000_000_000;

    fn with_string_key() -> Shard {
        let mut s = Shard::new(0, 1);
        s.db(0).insert(b"str", string_entry(b"v"), T0);
        s
    }

    fn text(reply: &Reply) -> String {
        match reply {
            Reply::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
            other => panic!("not a bulk: {other:?}"),
        }
    }

    fn abc() -> Shard {
        let mut s = Shard::new(0, 1);
        assert_eq!(run(&mut s, T0, &["sadd", "s", "a", "b", "c"]), int(3));
        s
    }

    #[test]
    fn sadd_srem_scard_and_membership() {
        let mut s = abc();
        assert_eq!(
            run(&mut s, T0, &["sadd", "s", "a", "d", "d"]),
            int(1),
            "a repeated member counts once"
        );
        assert_eq!(run(&mut s, T0, &["scard", "s"]), int(4));
        assert_eq!(run(&mut s, T0, &["scard", "nope"]), int(0));
        assert_eq!(run(&mut s, T0, &["sismember", "s", "a"]), int(1));
        assert_eq!(run(&mut s, T0, &["sismember", "s", "x"]), int(0));
        assert_eq!(run(&mut s, T0, &["sismember", "nope", "a"]), int(0));
        assert_eq!(
            run(&mut s, T0, &["smismember", "s", "a", "x", "d"]),
            Reply::Array(vec![int(1), int(0), int(1)])
        );
        assert_eq!(
            run(&mut s, T0, &["smismember", "nope", "a", "b"]),
            Reply::Array(vec![int(0), int(0)])
        );
        assert_eq!(
            members(&run(&mut s, T0, &["smembers", "s"])),
            ["a", "b", "c", "d"]
        );
        assert_eq!(run(&mut s, T0, &["smembers", "nope"]), Reply::Set(vec![]));
        assert_eq!(run(&mut s, T0, &["srem", "s", "a", "a", "x"]), int(1));
        assert_eq!(run(&mut s, T0, &["srem", "nope", "a"]), int(0));
        assert_eq!(run(&mut s, T0, &["type", "s"]), Reply::simple("set"));
        assert_eq!(run(&mut s, T0, &["sadd", "s", ""]), int(1));
        assert_eq!(run(&mut s, T0, &["sismember", "s", ""]), int(1));
    }

    #[test]
    fn removing_the_last_member_removes_the_key() {
        let mut s = abc();
        s.db(0).set_expiry(b"s", T0 + 1_000, T0);
        assert_eq!(run(&mut s, T0, &["srem", "s", "a", "b"]), int(2));
        assert_eq!(run(&mut s, T0, &["exists", "s"]), int(1));
        assert_eq!(run(&mut s, T0, &["srem", "s", "c"]), int(1));
        assert_eq!(run(&mut s, T0, &["exists", "s"]), int(0));
        assert_eq!((s.db(0).len(), s.db(0).volatile_len()), (0, 0));
        assert_eq!(run(&mut s, T0, &["type", "s"]), Reply::simple("none"));
    }

    #[test]
    fn replies_encode_as_redis_does() {
        let mut s = Shard::new(0, 1);
        run(&mut s, T0, &["sadd", "s", "a"]);
        let smembers = run(&mut s, T0, &["smembers", "s"]);
        assert_eq!(smembers.to_bytes(Protocol::Resp2), b"*1\r\n$1\r\na\r\n");
        assert_eq!(smembers.to_bytes(Protocol::Resp3), b"~1\r\n$1\r\na\r\n");
        let rand = run(&mut s, T0, &["srandmember", "s", "1"]);
        assert_eq!(rand.to_bytes(Protocol::Resp3), b"*1\r\n$1\r\na\r\n");
        let empty = run(&mut s, T0, &["spop", "nope", "1"]);
        assert_eq!(empty.to_bytes(Protocol::Resp2), b"*0\r\n");
        assert_eq!(empty.to_bytes(Protocol::Resp3), b"~0\r\n");
        let pop = run(&mut s, T0, &["spop", "s", "1"]);
        assert_eq!(pop.to_bytes(Protocol::Resp3), b"~1\r\n$1\r\na\r\n");
    }

    #[test]
    fn spop_single() {
        let mut s = abc();
        let mut popped = Vec::new();
        for left in (0..3).rev() {
            popped.push(text(&run(&mut s, T0, &["spop", "s"])));
            assert_eq!(run(&mut s, T0, &["scard", "s"]), int(left));
        }
        popped.sort();
        assert_eq!(popped, ["a", "b", "c"]);
        assert_eq!(run(&mut s, T0, &["exists", "s"]), int(0));
        assert_eq!(run(&mut s, T0, &["spop", "s"]), Reply::Nil);
    }

    #[test]
    fn spop_with_count() {
        let mut s = abc();
        assert_eq!(run(&mut s, T0, &["spop", "s", "0"]), Reply::Set(vec![]));
        assert_eq!(run(&mut s, T0, &["scard", "s"]), int(3));
        let first = members(&run(&mut s, T0, &["spop", "s", "2"]));
        assert_eq!(first.len(), 2);
        let rest = members(&run(&mut s, T0, &["smembers", "s"]));
        assert_eq!(rest.len(), 1);
        let mut all = [first, rest.clone()].concat();
        all.sort();
        assert_eq!(all, ["a", "b", "c"], "popped members are distinct");
        assert_eq!(members(&run(&mut s, T0, &["spop", "s", "5"])), rest);
        assert_eq!(run(&mut s, T0, &["exists", "s"]), int(0));
        let mut s = abc();
        assert_eq!(
            members(&run(&mut s, T0, &["spop", "s", "3"])),
            ["a", "b", "c"]
        );
        assert_eq!(run(&mut s, T0, &["exists", "s"]), int(0));
        assert_eq!(run(&mut s, T0, &["spop", "s", "2"]), Reply::Set(vec![]));
        assert_eq!(run(&mut s, T0, &["spop", "s", "0"]), Reply::Set(vec![]));
    }

    #[test]
    fn spop_errors() {
        let mut s = with_string_key();
        run(&mut s, T0, &["sadd", "s", "a"]);
        let positive = err("ERR value is out of range, must be positive");
        for count in ["-1", "x", "1.5", "9223372036854775808"] {
            assert_eq!(run(&mut s, T0, &["spop", "s", count]), positive, "{count}");
            assert_eq!(run(&mut s, T0, &["spop", "str", count]), positive);
        }
        assert_eq!(
            run(&mut s, T0, &["spop", "s", "1", "2"]),
            err(errors::SYNTAX)
        );
        assert_eq!(
            run(&mut s, T0, &["spop", "str", "1", "2"]),
            err(errors::SYNTAX)
        );
        assert_eq!(
            run(&mut s, T0, &["spop", "str", "0"]),
            err(errors::WRONGTYPE)
        );
        assert_eq!(
            run(&mut s, T0, &["spop"]),
            err("ERR wrong number of arguments for 'spop' command")
        );
        assert_eq!(run(&mut s, T0, &["scard", "s"]), int(1), "nothing popped");
    }

    #[test]
    fn srandmember_without_count() {
        let mut s = abc();
        for _ in 0..20 {
            let m = text(&run(&mut s, T0, &["srandmember", "s"]));
            assert!(["a", "b", "c"].contains(&m.as_str()));
        }
        assert_eq!(run(&mut s, T0, &["scard", "s"]), int(3), "nothing removed");
        assert_eq!(run(&mut s, T0, &["srandmember", "nope"]), Reply::Nil);
    }

    #[test]
    fn srandmember_with_count() {
        let mut s = abc();
        assert_eq!(
            run(&mut s, T0, &["srandmember", "s", "0"]),
            Reply::Array(vec![])
        );
        let two = members(&run(&mut s, T0, &["srandmember", "s", "2"]));
        assert_eq!(two.len(), 2);
        assert_ne!(two[0], two[1], "a positive count gives distinct members");
        assert_eq!(
            members(&run(&mut s, T0, &["srandmember", "s", "10"])),
            ["a", "b", "c"]
        );
        assert_eq!(
            members(&run(
                &mut s,
                T0,
                &["srandmember", "s", "9223372036854775807"]
            )),
            ["a", "b", "c"]
        );
        let many = members(&run(&mut s, T0, &["srandmember", "s", "-50"]));
        assert_eq!(many.len(), 50, "a negative count repeats members");
        assert!(many.iter().all(|m| ["a", "b", "c"].contains(&m.as_str())));
        assert_eq!(
            members(&run(&mut s, T0, &["srandmember", "s", "-1"])).len(),
            1
        );
        assert_eq!(run(&mut s, T0, &["scard", "s"]), int(3), "nothing removed");
        for count in ["0", "3", "-3"] {
            assert_eq!(
                run(&mut s, T0, &["srandmember", "nope", count]),
                Reply::Array(vec![])
            );
        }
    }

    #[test]
    fn srandmember_errors() {
        let mut s = with_string_key();
        run(&mut s, T0, &["sadd", "s", "a"]);
        for count in ["x", "1.5", "9223372036854775808", ""] {
            assert_eq!(
                run(&mut s, T0, &["srandmember", "s", count]),
                err(errors::NOT_INTEGER)
            );
        }
        assert_eq!(
            run(&mut s, T0, &["srandmember", "s", "-9223372036854775808"]),
            err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        );
        assert_eq!(
            run(&mut s, T0, &["srandmember", "s", "-1000001"]),
            err("ERR value is out of range, value must between -1000000 and 9223372036854775807")
        );
        assert_eq!(
            run(&mut s, T0, &["srandmember", "s", "1", "2"]),
            err(errors::SYNTAX)
        );
        assert_eq!(
            run(&mut s, T0, &["srandmember", "str", "x"]),
            err(errors::NOT_INTEGER),
            "the count is checked before the type"
        );
        assert_eq!(
            run(&mut s, T0, &["srandmember", "str", "0"]),
            err(errors::WRONGTYPE)
        );
    }

    #[test]
    fn sscan_replies_everything_at_once() {
        let mut s = Shard::new(0, 1);
        assert_eq!(
            run(&mut s, T0, &["sscan", "nope", "0"]),
            scan_reply(0, vec![])
        );
        assert_eq!(
            run(&mut s, T0, &["sscan", "nope", "0", "count", "0"]),
            scan_reply(0, vec![]),
            "options unread"
        );
        assert_eq!(
            run(&mut s, T0, &["sscan", "nope", "x"]),
            err(errors::CURSOR)
        );
        run(&mut s, T0, &["sadd", "s", "a1", "a2", "b1"]);
        let page = |s: &mut Shard, args: &[&str]| {
            let Reply::Array(parts) = run(s, T0, args) else {
                panic!("sscan reply")
            };
            assert_eq!(parts[0], bulk("0"));
            members(&parts[1])
        };
        assert_eq!(page(&mut s, &["sscan", "s", "0"]), ["a1", "a2", "b1"]);
        assert_eq!(
            page(&mut s, &["sscan", "s", "0", "COUNT", "1", "MATCH", "a*"]),
            ["a1", "a2"]
        );
        assert_eq!(
            page(&mut s, &["sscan", "s", "17", "match", "?1"]),
            ["a1", "b1"]
        );
        for (opts, e) in [
            (&["count", "0"][..], errors::SYNTAX),
            (&["count", "x"][..], errors::NOT_INTEGER),
            (&["type", "set"][..], errors::SYNTAX),
            (&["match"][..], errors::SYNTAX),
        ] {
            let args = [&["sscan", "s", "0"][..], opts].concat();
            assert_eq!(run(&mut s, T0, &args), err(e), "{opts:?}");
        }
    }

    #[test]
    fn wrong_type_both_ways() {
        let mut s = with_string_key();
        let cmds: &[&[&str]] = &[
            &["sadd", "str", "a"],
            &["srem", "str", "a"],
            &["smembers", "str"],
            &["sismember", "str", "a"],
            &["smismember", "str", "a"],
            &["scard", "str"],
            &["spop", "str"],
            &["spop", "str", "1"],
            &["srandmember", "str"],
            &["srandmember", "str", "-1"],
            &["sscan", "str", "0"],
        ];
        for cmd in cmds {
            assert_eq!(run(&mut s, T0, cmd), err(errors::WRONGTYPE), "{cmd:?}");
        }
        run(&mut s, T0, &["hset", "h", "f", "v"]);
        assert_eq!(run(&mut s, T0, &["sadd", "h", "a"]), err(errors::WRONGTYPE));
        run(&mut s, T0, &["sadd", "s", "a"]);
        for cmd in [
            &["get", "s"][..],
            &["append", "s", "x"],
            &["incr", "s"],
            &["hget", "s", "f"],
            &["hset", "s", "f", "v"],
        ] {
            assert_eq!(run(&mut s, T0, cmd), err(errors::WRONGTYPE), "{cmd:?}");
        }
        assert_eq!(
            run(&mut s, T0, &["mget", "s", "str"]),
            Reply::Array(vec![Reply::Nil, bulk("v")])
        );
        assert_eq!(
            run(&mut s, T0, &["set", "s", "x"]),
            Reply::Ok,
            "SET overwrites"
        );
        assert_eq!(run(&mut s, T0, &["type", "s"]), Reply::simple("string"));
    }

    #[test]
    fn scan_type_filter_and_rename() {
        let mut s = abc();
        run(&mut s, T0, &["set", "str", "v"]);
        run(&mut s, T0, &["hset", "h", "f", "v"]);
        let Reply::Array(parts) = run(&mut s, T0, &["scan", "0", "count", "100000", "type", "set"])
        else {
            panic!("scan reply")
        };
        assert_eq!(members(&parts[1]), ["s"]);
        assert_eq!(run(&mut s, T0, &["rename", "s", "t"]), Reply::Ok);
        assert_eq!(run(&mut s, T0, &["type", "t"]), Reply::simple("set"));
        assert_eq!(
            members(&run(&mut s, T0, &["smembers", "t"])),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn expired_sets_read_as_missing() {
        let mut s = abc();
        s.db(0).set_expiry(b"s", T0 + 10, T0);
        assert_eq!(run(&mut s, T0 + 10, &["scard", "s"]), int(0));
        assert_eq!(run(&mut s, T0 + 10, &["spop", "s"]), Reply::Nil);
        assert_eq!(run(&mut s, T0 + 10, &["sadd", "s", "z"]), int(1));
        assert_eq!(
            run(&mut s, T0 + 10, &["smembers", "s"]),
            Reply::Set(vec![bulk("z")])
        );
        assert_eq!(run(&mut s, T0 + 10, &["ttl", "s"]), int(-1));
    }
}
