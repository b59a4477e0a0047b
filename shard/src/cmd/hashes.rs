//! Hash commands. A session is typically one hash (user, roles, issued-at,
//! last-seen), so these sit on the hot path next to the string commands.
//!
//! A missing key reads as an empty hash, and writes create it; a key of
//! another type gets WRONGTYPE. A hash never stays empty: removing its last
//! field removes the key, as Redis does.

use crate::cmd::keys::{scan_reply, ScanOptions};
use crate::cmd::typed;
use crate::cmd::util::{int_arg, scan_cursor};
use crate::exec::Ctx;
use crate::signals::class;
use crate::value::HashValue;
use bytes::Bytes;
use proto::errors;
use proto::Reply;

/// `HSET key field value [field value ...]`: replies the number of fields added.
pub fn hset(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match set_fields(ctx, args, "hset") {
        Ok(added) => Reply::Integer(added as i64),
        Err(e) => e,
    }
}

/// `HMSET key field value [field value ...]`: HSET replying +OK.
pub fn hmset(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match set_fields(ctx, args, "hmset") {
        Ok(_) => Reply::Ok,
        Err(e) => e,
    }
}

fn set_fields(ctx: &mut Ctx, args: &[Bytes], name: &str) -> Result<usize, Reply> {
    // Redis checks the pairing before the key's type.
    if args.len() % 2 == 1 {
        return Err(Reply::error(errors::wrong_arity(name)));
    }
    let hash = typed::create::<HashValue>(ctx, &args[1])?;
    let mut added = 0;
    for pair in args[2..].chunks_exact(2) {
        if hash
            .insert(pair[0].as_ref().into(), pair[1].as_ref().into())
            .is_none()
        {
            added += 1;
        }
    }
    ctx.signal(class::HASH, "hset", &args[1]);
    Ok(added)
}

/// `HSETNX key field value`: sets the field only if absent; 1 or 0.
pub fn hsetnx(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let hash = match typed::create::<HashValue>(ctx, &args[1]) {
        Ok(h) => h,
        Err(e) => return e,
    };
    if hash.contains_key(args[2].as_ref()) {
        return Reply::Integer(0);
    }
    hash.insert(args[2].as_ref().into(), args[3].as_ref().into());
    ctx.signal(class::HASH, "hset", &args[1]);
    Reply::Integer(1)
}

/// `HGET key field`: the value, or nil.
pub fn hget(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match typed::read::<HashValue>(ctx, &args[1]) {
        Ok(hash) => field_reply(hash.and_then(|h| h.get(args[2].as_ref())).map(|v| &**v)),
        Err(e) => e,
    }
}

fn field_reply(value: Option<&[u8]>) -> Reply {
    value.map_or(Reply::Nil, Reply::bulk_from)
}

/// `HMGET key field [field ...]`: one value or nil per field.
pub fn hmget(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match typed::read::<HashValue>(ctx, &args[1]) {
        Ok(hash) => {
            let hash = hash.as_deref();
            Reply::Array(
                args[2..]
                    .iter()
                    .map(|f| field_reply(hash.and_then(|h| h.get(f.as_ref())).map(|v| &**v)))
                    .collect(),
            )
        }
        Err(e) => e,
    }
}

/// `HGETALL key`: a map of fields to values (a flat array for RESP2).
pub fn hgetall(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match typed::read::<HashValue>(ctx, &args[1]) {
        Ok(hash) => Reply::Map(
            hash.iter()
                .flat_map(|h| h.iter())
                .map(|(f, v)| (Reply::bulk_from(f), Reply::bulk_from(v)))
                .collect(),
        ),
        Err(e) => e,
    }
}

/// `HKEYS key`
pub fn hkeys(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match typed::read::<HashValue>(ctx, &args[1]) {
        Ok(hash) => Reply::Array(
            hash.iter()
                .flat_map(|h| h.keys())
                .map(|f| Reply::bulk_from(f))
                .collect(),
        ),
        Err(e) => e,
    }
}

/// `HVALS key`
pub fn hvals(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match typed::read::<HashValue>(ctx, &args[1]) {
        Ok(hash) => Reply::Array(
            hash.iter()
                .flat_map(|h| h.values())
                .map(|v| Reply::bulk_from(v))
                .collect(),
        ),
        Err(e) => e,
    }
}

/// `HDEL key field [field ...]`: replies how many fields existed; deletes
/// the key along with its last field.
pub fn hdel(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let now = ctx.now;
    let key = &args[1];
    let db = ctx.db();
    let hash = match typed::existing::<HashValue>(db, key, now) {
        Ok(Some(h)) => h,
        Ok(None) => return Reply::Integer(0),
        Err(e) => return e,
    };
    let removed = args[2..]
        .iter()
        .filter(|f| hash.remove(f.as_ref()).is_some())
        .count();
    let emptied = hash.is_empty();
    if emptied {
        db.remove(key, now);
    }
    if removed > 0 {
        ctx.signal_removal(class::HASH, "hdel", key, emptied);
    }
    Reply::Integer(removed as i64)
}

/// `HEXISTS key field`: 1 or 0.
pub fn hexists(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match typed::read::<HashValue>(ctx, &args[1]) {
        Ok(hash) => Reply::Integer(hash.is_some_and(|h| h.contains_key(args[2].as_ref())) as i64),
        Err(e) => e,
    }
}

/// `HLEN key`: the number of fields.
pub fn hlen(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match typed::read::<HashValue>(ctx, &args[1]) {
        Ok(hash) => Reply::Integer(hash.map_or(0, |h| h.len()) as i64),
        Err(e) => e,
    }
}

/// `HSTRLEN key field`: the length of the field's value, 0 if missing.
pub fn hstrlen(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match typed::read::<HashValue>(ctx, &args[1]) {
        Ok(hash) => Reply::Integer(
            hash.and_then(|h| h.get(args[2].as_ref()))
                .map_or(0, |v| v.len()) as i64,
        ),
        Err(e) => e,
    }
}

/// `HINCRBY key field increment`: adds to an integer field (missing: 0) and
/// replies the new value.
pub fn hincrby(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let by = match int_arg(&args[3]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let hash = match typed::create::<HashValue>(ctx, &args[1]) {
        Ok(h) => h,
        Err(e) => return e,
    };
    let field = args[2].as_ref();
    let old = match hash.get(field) {
        None => 0,
        Some(v) => match proto::parse_int(v) {
            Some(n) => n,
            None => return Reply::error(errors::HASH_NOT_INTEGER),
        },
    };
    let Some(new) = old.checked_add(by) else {
        return Reply::error(errors::OVERFLOW);
    };
    hash.insert(field.into(), new.to_string().into_bytes().into());
    ctx.signal(class::HASH, "hincrby", &args[1]);
    Reply::Integer(new)
}

/// `HINCRBYFLOAT key field increment`: adds to a numeric field (missing: 0)
/// and replies the new value as INCRBYFLOAT formats it.
pub fn hincrbyfloat(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if let Err(e) = crate::cmd::long_double::check_increment(&args[3]) {
        return Reply::error(e);
    }
    let hash = match typed::create::<HashValue>(ctx, &args[1]) {
        Ok(h) => h,
        Err(e) => return e,
    };
    let field = args[2].as_ref();
    let current = hash.get(field).map(|v| v.as_ref()).unwrap_or(b"0");
    // The increment was checked above, so a float error is the stored value's.
    let text = match crate::cmd::long_double::incr_by_float(current, &args[3]) {
        Ok(text) => text,
        Err(e) if e == errors::NOT_FLOAT => return Reply::error(errors::HASH_NOT_FLOAT),
        Err(e) => return Reply::error(e),
    };
    hash.insert(field.into(), text.as_bytes().into());
    ctx.signal(class::HASH, "hincrbyfloat", &args[1]);
    Reply::bulk(text)
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count]`
///
/// Replies every matching field and value at once with the cursor "0",
/// whatever the cursor and COUNT: Redis does the same for small hashes
/// (listpack encoding), and session hashes are small. A cursor is still
/// validated, and a missing key replies an empty scan before the options
/// are even read, as in Redis.
pub fn hscan(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if let Err(e) = scan_cursor(&args[2]) {
        return e;
    }
    let hash = match typed::read::<HashValue>(ctx, &args[1]) {
        Ok(Some(h)) => h,
        Ok(None) => return scan_reply(0, Vec::new()),
        Err(e) => return e,
    };
    let opts = match ScanOptions::parse(&args[3..], false) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let mut items = Vec::new();
    for (field, value) in hash.iter() {
        if opts.matches(field) {
            items.push(Reply::bulk_from(field));
            items.push(Reply::bulk_from(value));
        }
    }
    scan_reply(0, items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::*;
    use crate::keyspace::string_entry;
    use crate::shard::Shard;

    const T0: u64 = 1_700_000_000_000;

    fn with_string_key() -> Shard {
        let mut s = Shard::new(0, 1);
        s.db(0).insert(b"str", string_entry(b"v"), T0);
        s
    }

    /// Sorted (field, value) pairs of a flat field/value array.
    fn pairs(reply: &Reply) -> Vec<(String, String)> {
        let text = |r: &Reply| match r {
            Reply::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
            other => panic!("not a bulk: {other:?}"),
        };
        let mut out: Vec<(String, String)> = match reply {
            Reply::Map(m) => m.iter().map(|(k, v)| (text(k), text(v))).collect(),
            Reply::Array(a) => a.chunks(2).map(|p| (text(&p[0]), text(&p[1]))).collect(),
            other => panic!("not a map or array: {other:?}"),
        };
        out.sort();
        out
    }

    fn pair(f: &str, v: &str) -> (String, String) {
        (f.into(), v.into())
    }

    #[test]
    fn hset_counts_new_fields_and_overwrites() {
        let mut s = Shard::new(0, 1);
        assert_eq!(run(&mut s, T0, &["hset", "h", "a", "1", "b", "2"]), int(2));
        assert_eq!(run(&mut s, T0, &["hset", "h", "a", "10", "c", "3"]), int(1));
        assert_eq!(
            run(&mut s, T0, &["hset", "h", "d", "4", "d", "5"]),
            int(1),
            "a repeated field counts once"
        );
        assert_eq!(run(&mut s, T0, &["hget", "h", "a"]), bulk("10"));
        assert_eq!(
            run(&mut s, T0, &["hget", "h", "d"]),
            bulk("5"),
            "the last value wins"
        );
        assert_eq!(run(&mut s, T0, &["hget", "h", "zz"]), Reply::Nil);
        assert_eq!(run(&mut s, T0, &["hget", "nope", "a"]), Reply::Nil);
        assert_eq!(run(&mut s, T0, &["hlen", "h"]), int(4));
        assert_eq!(
            run(&mut s, T0, &["hmset", "h", "e", "", "a", "11"]),
            Reply::Ok
        );
        assert_eq!(run(&mut s, T0, &["hget", "h", "e"]), bulk(""));
        assert_eq!(run(&mut s, T0, &["hstrlen", "h", "a"]), int(2));
        assert_eq!(run(&mut s, T0, &["hstrlen", "h", "nope"]), int(0));
        assert_eq!(run(&mut s, T0, &["hstrlen", "nope", "nope"]), int(0));
    }

    #[test]
    fn odd_pairs_are_an_arity_error_before_the_type_check() {
        let mut s = with_string_key();
        let hset = err("ERR wrong number of arguments for 'hset' command");
        let hmset = err("ERR wrong number of arguments for 'hmset' command");
        assert_eq!(run(&mut s, T0, &["hset", "h", "a", "1", "b"]), hset);
        assert_eq!(run(&mut s, T0, &["hset", "str", "a", "1", "b"]), hset);
        assert_eq!(run(&mut s, T0, &["HMSET", "h", "a", "1", "b"]), hmset);
        assert_eq!(run(&mut s, T0, &["exists", "h"]), int(0), "nothing created");
    }

    #[test]
    fn hsetnx_only_sets_new_fields() {
        let mut s = Shard::new(0, 1);
        assert_eq!(run(&mut s, T0, &["hsetnx", "h", "a", "1"]), int(1));
        assert_eq!(run(&mut s, T0, &["hsetnx", "h", "a", "2"]), int(0));
        assert_eq!(run(&mut s, T0, &["hget", "h", "a"]), bulk("1"));
    }

    #[test]
    fn reads_of_whole_hashes() {
        let mut s = Shard::new(0, 1);
        assert_eq!(run(&mut s, T0, &["hgetall", "nope"]), Reply::Map(vec![]));
        assert_eq!(run(&mut s, T0, &["hkeys", "nope"]), Reply::Array(vec![]));
        assert_eq!(run(&mut s, T0, &["hvals", "nope"]), Reply::Array(vec![]));
        assert_eq!(run(&mut s, T0, &["hlen", "nope"]), int(0));
        run(&mut s, T0, &["hset", "h", "a", "1", "b", "2"]);
        assert_eq!(
            pairs(&run(&mut s, T0, &["hgetall", "h"])),
            [pair("a", "1"), pair("b", "2")]
        );
        let Reply::Array(mut keys) = run(&mut s, T0, &["hkeys", "h"]) else {
            panic!()
        };
        keys.sort_by_key(|k| format!("{k:?}"));
        assert_eq!(keys, [bulk("a"), bulk("b")]);
        let Reply::Array(mut vals) = run(&mut s, T0, &["hvals", "h"]) else {
            panic!()
        };
        vals.sort_by_key(|k| format!("{k:?}"));
        assert_eq!(vals, [bulk("1"), bulk("2")]);
        assert_eq!(
            run(&mut s, T0, &["hmget", "h", "b", "x", "a"]),
            Reply::Array(vec![bulk("2"), Reply::Nil, bulk("1")])
        );
        assert_eq!(
            run(&mut s, T0, &["hmget", "nope", "a"]),
            Reply::Array(vec![Reply::Nil])
        );
        assert_eq!(run(&mut s, T0, &["hexists", "h", "a"]), int(1));
        assert_eq!(run(&mut s, T0, &["hexists", "h", "x"]), int(0));
        assert_eq!(run(&mut s, T0, &["hexists", "nope", "a"]), int(0));
    }

    #[test]
    fn hgetall_encodes_as_redis_does() {
        let mut s = Shard::new(0, 1);
        run(&mut s, T0, &["hset", "h", "a", "1"]);
        let reply = run(&mut s, T0, &["hgetall", "h"]);
        assert_eq!(
            reply.to_bytes(proto::Protocol::Resp2),
            b"*2\r\n$1\r\na\r\n$1\r\n1\r\n"
        );
        assert_eq!(
            reply.to_bytes(proto::Protocol::Resp3),
            b"%1\r\n$1\r\na\r\n$1\r\n1\r\n"
        );
        let empty = run(&mut s, T0, &["hgetall", "nope"]);
        assert_eq!(empty.to_bytes(proto::Protocol::Resp2), b"*0\r\n");
    }

    #[test]
    fn hdel_removes_fields_then_the_key() {
        let mut s = Shard::new(0, 1);
        run(&mut s, T0, &["hset", "h", "a", "1", "b", "2", "c", "3"]);
        s.db(0).set_expiry(b"h", T0 + 1_000, T0);
        assert_eq!(run(&mut s, T0, &["hdel", "h", "a", "a", "x"]), int(1));
        assert_eq!(run(&mut s, T0, &["hdel", "nope", "a"]), int(0));
        assert_eq!(run(&mut s, T0, &["exists", "h"]), int(1));
        assert_eq!(run(&mut s, T0, &["hdel", "h", "b", "c"]), int(2));
        assert_eq!(run(&mut s, T0, &["exists", "h"]), int(0));
        assert_eq!((s.db(0).len(), s.db(0).volatile_len()), (0, 0));
    }

    #[test]
    fn wrong_type_everywhere() {
        let mut s = with_string_key();
        let cmds: &[&[&str]] = &[
            &["hset", "str", "a", "1"],
            &["hmset", "str", "a", "1"],
            &["hsetnx", "str", "a", "1"],
            &["hget", "str", "a"],
            &["hmget", "str", "a"],
            &["hgetall", "str"],
            &["hdel", "str", "a"],
            &["hexists", "str", "a"],
            &["hlen", "str"],
            &["hkeys", "str"],
            &["hvals", "str"],
            &["hincrby", "str", "a", "1"],
            &["hincrbyfloat", "str", "a", "1"],
            &["hstrlen", "str", "a"],
            &["hscan", "str", "0"],
        ];
        for cmd in cmds {
            assert_eq!(run(&mut s, T0, cmd), err(errors::WRONGTYPE), "{cmd:?}");
        }
        assert_eq!(run(&mut s, T0, &["type", "str"]), Reply::simple("string"));
    }

    #[test]
    fn hincrby_arithmetic_and_errors() {
        let mut s = Shard::new(0, 1);
        assert_eq!(run(&mut s, T0, &["hincrby", "h", "n", "5"]), int(5));
        assert_eq!(run(&mut s, T0, &["hincrby", "h", "n", "-7"]), int(-2));
        assert_eq!(run(&mut s, T0, &["hget", "h", "n"]), bulk("-2"));
        assert_eq!(
            run(&mut s, T0, &["hincrby", "h", "n", "x"]),
            err(errors::NOT_INTEGER)
        );
        assert_eq!(
            run(&mut s, T0, &["hincrby", "nope", "n", "1.5"]),
            err(errors::NOT_INTEGER)
        );
        assert_eq!(run(&mut s, T0, &["exists", "nope"]), int(0));
        run(
            &mut s,
            T0,
            &[
                "hset",
                "h",
                "s",
                "abc",
                "f",
                "1.5",
                "sp",
                " 1",
                "big",
                "9223372036854775807",
            ],
        );
        assert_eq!(
            run(&mut s, T0, &["hincrby", "h", "s", "1"]),
            err("ERR hash value is not an integer")
        );
        assert_eq!(
            run(&mut s, T0, &["hincrby", "h", "f", "1"]),
            err("ERR hash value is not an integer")
        );
        assert_eq!(
            run(&mut s, T0, &["hincrby", "h", "sp", "1"]),
            err("ERR hash value is not an integer")
        );
        assert_eq!(
            run(&mut s, T0, &["hincrby", "h", "big", "1"]),
            err("ERR increment or decrement would overflow")
        );
        assert_eq!(
            run(&mut s, T0, &["hincrby", "h", "big", "-1"]),
            int(i64::MAX - 1)
        );
        run(&mut s, T0, &["hset", "h", "min", "-9223372036854775808"]);
        assert_eq!(
            run(&mut s, T0, &["hincrby", "h", "min", "-1"]),
            err(errors::OVERFLOW)
        );
        assert_eq!(
            run(&mut s, T0, &["hincrby", "h", "min", "0"]),
            int(i64::MIN)
        );
    }

    #[test]
    fn hincrbyfloat_arithmetic_and_errors() {
        let mut s = Shard::new(0, 1);
        assert_eq!(
            run(&mut s, T0, &["hincrbyfloat", "h", "x", "10.5"]),
            bulk("10.5")
        );
        assert_eq!(
            run(&mut s, T0, &["hincrbyfloat", "h", "x", "-0.5"]),
            bulk("10")
        );
        assert_eq!(run(&mut s, T0, &["hget", "h", "x"]), bulk("10"));
        assert_eq!(
            run(&mut s, T0, &["hincrbyfloat", "h", "x", "5.0e3"]),
            bulk("5010")
        );
        assert_eq!(
            run(&mut s, T0, &["hincrbyfloat", "h", "x", "-5010"]),
            bulk("0")
        );
        assert_eq!(
            run(&mut s, T0, &["hincrby", "h", "x", "2"]),
            int(2),
            "the result reads back as an integer"
        );
        assert_eq!(
            run(&mut s, T0, &["hincrbyfloat", "h", "x", "abc"]),
            err("ERR value is not a valid float")
        );
        assert_eq!(
            run(&mut s, T0, &["hincrbyfloat", "h", "x", "nan"]),
            err("ERR value is not a valid float")
        );
        assert_eq!(
            run(&mut s, T0, &["hincrbyfloat", "h", "x", "inf"]),
            err("ERR value is NaN or Infinity")
        );
        assert_eq!(
            run(&mut s, T0, &["hincrbyfloat", "nope", "x", "-inf"]),
            err("ERR value is NaN or Infinity")
        );
        assert_eq!(run(&mut s, T0, &["exists", "nope"]), int(0));
        // Long double arithmetic, as Redis: 0.1 + 0.2 prints as 0.3.
        run(&mut s, T0, &["hset", "h", "f", "0.1"]);
        assert_eq!(
            run(&mut s, T0, &["hincrbyfloat", "h", "f", "0.2"]),
            bulk("0.3")
        );
        run(&mut s, T0, &["hset", "h", "s", "abc", "huge", "1e4932"]);
        assert_eq!(
            run(&mut s, T0, &["hincrbyfloat", "h", "s", "1"]),
            err("ERR hash value is not a float")
        );
        assert_eq!(
            run(&mut s, T0, &["hincrbyfloat", "h", "huge", "1e4932"]),
            err("ERR increment would produce NaN or Infinity")
        );
        assert_eq!(
            run(&mut s, T0, &["hget", "h", "huge"]),
            bulk("1e4932"),
            "unchanged on error"
        );
    }

    #[test]
    fn hscan_replies_everything_at_once() {
        let mut s = Shard::new(0, 1);
        assert_eq!(
            run(&mut s, T0, &["hscan", "nope", "0"]),
            scan_reply(0, vec![])
        );
        assert_eq!(
            run(&mut s, T0, &["hscan", "nope", "0", "count", "0"]),
            scan_reply(0, vec![]),
            "options unread"
        );
        assert_eq!(
            run(&mut s, T0, &["hscan", "nope", "x"]),
            err(errors::CURSOR)
        );
        run(&mut s, T0, &["hset", "h", "a1", "1", "a2", "2", "b1", "3"]);
        let page = |s: &mut Shard, args: &[&str]| {
            let Reply::Array(parts) = run(s, T0, args) else {
                panic!("hscan reply")
            };
            assert_eq!(parts[0], bulk("0"));
            pairs(&parts[1])
        };
        assert_eq!(
            page(&mut s, &["hscan", "h", "0"]),
            [pair("a1", "1"), pair("a2", "2"), pair("b1", "3")]
        );
        assert_eq!(
            page(&mut s, &["hscan", "h", "0", "COUNT", "1", "MATCH", "a*"]),
            [pair("a1", "1"), pair("a2", "2")]
        );
        assert_eq!(
            page(&mut s, &["hscan", "h", "17", "match", "?1"]),
            [pair("a1", "1"), pair("b1", "3")]
        );
        assert_eq!(
            run(&mut s, T0, &["hscan", "h", "0", "count", "0"]),
            err(errors::SYNTAX)
        );
        assert_eq!(
            run(&mut s, T0, &["hscan", "h", "0", "count", "x"]),
            err(errors::NOT_INTEGER)
        );
        assert_eq!(
            run(&mut s, T0, &["hscan", "h", "0", "type", "string"]),
            err(errors::SYNTAX)
        );
        assert_eq!(
            run(&mut s, T0, &["hscan", "h", "0", "novalues"]),
            err(errors::SYNTAX)
        );
    }

    #[test]
    fn expired_hashes_read_as_missing() {
        let mut s = Shard::new(0, 1);
        run(&mut s, T0, &["hset", "h", "a", "1"]);
        s.db(0).set_expiry(b"h", T0 + 10, T0);
        assert_eq!(run(&mut s, T0 + 10, &["hget", "h", "a"]), Reply::Nil);
        assert_eq!(run(&mut s, T0 + 10, &["hset", "h", "b", "2"]), int(1));
        assert_eq!(run(&mut s, T0 + 10, &["hlen", "h"]), int(1));
        assert_eq!(
            run(&mut s, T0 + 10, &["ttl", "h"]),
            int(-1),
            "a fresh hash has no TTL"
        );
    }
}
