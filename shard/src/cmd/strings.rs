//! String executors: GET, SET and its variants, counters, ranges.
//!
//! Replies, error texts and the order in which arguments are checked follow
//! Redis 7.0, because clients and their test suites depend on all three: a
//! bad option is a syntax error before a bad expire time, which comes before
//! the type of the key is looked at, exactly as Redis does it.

use crate::cmd::long_double;
use crate::cmd::util::int_arg;
use crate::exec::Ctx;
use crate::keyspace::string_entry;
use crate::signals::class;
use crate::value::{Entry, Value};
use bytes::Bytes;
use proto::{errors, Reply};

/// The string held by a live entry, or WRONGTYPE.
fn as_str(entry: &Entry) -> Result<&[u8], Reply> {
    match &entry.value {
        Value::Str(s) => Ok(s),
        _ => Err(Reply::error(errors::WRONGTYPE)),
    }
}

/// Reads a string for a read command: `Ok(None)` if the key is missing.
fn read_str(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    let now = ctx.now;
    match ctx.db().get_read(key, now) {
        None => Ok(None),
        Some(entry) => as_str(entry).map(|s| Some(Bytes::copy_from_slice(s))),
    }
}

fn nil_or_bulk(value: Option<Bytes>) -> Reply {
    value.map_or(Reply::Nil, Reply::Bulk)
}

/// `GET key`
pub fn get(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match read_str(ctx, &args[1]) {
        Ok(value) => nil_or_bulk(value),
        Err(e) => e,
    }
}

/// How an expire argument is to be read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ExpireUnit {
    /// EX: seconds from now.
    Seconds,
    /// PX: milliseconds from now.
    Millis,
    /// EXAT: a Unix time in seconds.
    UnixSeconds,
    /// PXAT: a Unix time in milliseconds.
    UnixMillis,
}

/// Turns an expire argument into an absolute Unix time in ms, with Redis's
/// checks: not positive, or overflowing once scaled or made absolute, is
/// `invalid expire time in '<command>' command`.
fn expire_at(arg: &[u8], unit: ExpireUnit, now: u64, command: &str) -> Result<u64, Reply> {
    let value = int_arg(arg)?;
    let invalid = || Reply::error(errors::invalid_expire(command));
    if value <= 0 {
        return Err(invalid());
    }
    let ms = match unit {
        ExpireUnit::Seconds | ExpireUnit::UnixSeconds => {
            value.checked_mul(1000).ok_or_else(invalid)?
        }
        ExpireUnit::Millis | ExpireUnit::UnixMillis => value,
    };
    let at = match unit {
        ExpireUnit::Seconds | ExpireUnit::Millis => {
            let now = i64::try_from(now).map_err(|_| invalid())?;
            ms.checked_add(now).ok_or_else(invalid)?
        }
        ExpireUnit::UnixSeconds | ExpireUnit::UnixMillis => ms,
    };
    // Positive by construction, so the conversion cannot fail.
    u64::try_from(at).map_err(|_| invalid())
}

/// Options of SET and GETEX, parsed the way Redis's
/// `parseExtendedStringArgumentsOrReply` does: an option is refused (syntax
/// error) when it conflicts with one seen before, but repeating an option is
/// allowed and the last expire value wins.
#[derive(Default, Debug)]
struct StringOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireUnit, &'a [u8])>,
}

impl<'a> StringOptions<'a> {
    /// `for_set` selects SET's options (NX XX GET KEEPTTL) over GETEX's
    /// (PERSIST); both take EX PX EXAT PXAT.
    fn parse(options: &'a [Bytes], for_set: bool) -> Result<StringOptions<'a>, Reply> {
        let mut o = StringOptions::default();
        let mut i = 0;
        while i < options.len() {
            let opt = options[i].as_ref();
            let next = options.get(i + 1).map(|b| b.as_ref());
            let unit = if opt.eq_ignore_ascii_case(b"ex") {
                Some(ExpireUnit::Seconds)
            } else if opt.eq_ignore_ascii_case(b"px") {
                Some(ExpireUnit::Millis)
            } else if opt.eq_ignore_ascii_case(b"exat") {
                Some(ExpireUnit::UnixSeconds)
            } else if opt.eq_ignore_ascii_case(b"pxat") {
                Some(ExpireUnit::UnixMillis)
            } else {
                None
            };
            // An expire option conflicts with the other expire options and
            // with KEEPTTL/PERSIST, not with itself.
            let expire_allowed =
                !o.keepttl && !o.persist && o.expire.is_none_or(|(seen, _)| Some(seen) == unit);
            match (unit, next) {
                (Some(unit), Some(value)) if expire_allowed => {
                    o.expire = Some((unit, value));
                    i += 1;
                }
                (Some(_), _) => return Err(Reply::error(errors::SYNTAX)),
                (None, _) if for_set && opt.eq_ignore_ascii_case(b"nx") && !o.xx => o.nx = true,
                (None, _) if for_set && opt.eq_ignore_ascii_case(b"xx") && !o.nx => o.xx = true,
                (None, _) if for_set && opt.eq_ignore_ascii_case(b"get") => o.get = true,
                (None, _)
                    if for_set
                        && opt.eq_ignore_ascii_case(b"keepttl")
                        && !o.persist
                        && o.expire.is_none() =>
                {
                    o.keepttl = true
                }
                (None, _)
                    if !for_set
                        && opt.eq_ignore_ascii_case(b"persist")
                        && !o.keepttl
                        && o.expire.is_none() =>
                {
                    o.persist = true
                }
                (None, _) => return Err(Reply::error(errors::SYNTAX)),
            }
            i += 1;
        }
        Ok(o)
    }

    fn expire_at(&self, now: u64, command: &str) -> Result<Option<u64>, Reply> {
        self.expire
            .map(|(unit, arg)| expire_at(arg, unit, now, command))
            .transpose()
    }
}

/// `SET key value [NX | XX] [GET] [EX s | PX ms | EXAT t | PXAT t | KEEPTTL]`
///
/// Replaces any value of any type and drops its TTL unless KEEPTTL. With GET
/// the reply is the old string (nil if none), and a non-string old value is
/// an error that leaves the key untouched.
pub fn set(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let opts = match StringOptions::parse(&args[3..], true) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let at = match opts.expire_at(ctx.now, "set") {
        Ok(at) => at,
        Err(e) => return e,
    };
    let (key, value) = (&args[1], &args[2]);
    if !(opts.get || opts.nx || opts.xx || opts.keepttl) {
        // The common case needs no look at the old value: one lookup.
        store(ctx, key, value, at.unwrap_or(0));
        return Reply::Ok;
    }
    let old = if opts.get {
        match read_str(ctx, key) {
            Ok(old) => Some(old),
            Err(e) => return e,
        }
    } else {
        None
    };
    let existing_ttl = live_ttl(ctx, key);
    let aborted = if existing_ttl.is_some() {
        opts.nx
    } else {
        opts.xx
    };
    let reply = match old {
        Some(old) => nil_or_bulk(old),
        None if aborted => Reply::Nil,
        None => Reply::Ok,
    };
    if !aborted {
        match (at, opts.keepttl) {
            (Some(at), _) => store(ctx, key, value, at),
            // The TTL kept is no new expire: no `expire` event.
            (None, true) => {
                let now = ctx.now;
                let ttl = existing_ttl.unwrap_or(0);
                if ctx.db().set_str(key, value, ttl, now) {
                    ctx.notify(class::NEW, "new", key);
                }
                ctx.signal(class::STRING, "set", key);
            }
            (None, false) => store(ctx, key, value, 0),
        }
    }
    reply
}

/// The TTL of a live key (0 for none), or None if the key is missing.
fn live_ttl(ctx: &mut Ctx, key: &[u8]) -> Option<u64> {
    let now = ctx.now;
    ctx.db().get(key, now).map(|e| e.expire_at)
}

/// Redis's `setGenericCommand` after its checks: the write, then `new`
/// (when created), `set`, and `expire` when a time was given.
fn store(ctx: &mut Ctx, key: &[u8], value: &[u8], expire_at: u64) {
    let now = ctx.now;
    if ctx.db().set_str(key, value, expire_at, now) {
        ctx.notify(class::NEW, "new", key);
    }
    ctx.signal(class::STRING, "set", key);
    if expire_at != 0 {
        ctx.notify(class::GENERIC, "expire", key);
    }
}

/// Stores a value under a key that was missing: `new`, then the command's event.
fn create_str(ctx: &mut Ctx, key: &[u8], value: &[u8], event: &'static str) {
    let now = ctx.now;
    ctx.db().insert(key, string_entry(value), now);
    ctx.notify(class::NEW, "new", key);
    ctx.signal(class::STRING, event, key);
}

fn set_with_expire(ctx: &mut Ctx, args: &[Bytes], unit: ExpireUnit, command: &str) -> Reply {
    match expire_at(&args[2], unit, ctx.now, command) {
        Ok(at) => {
            store(ctx, &args[1], &args[3], at);
            Reply::Ok
        }
        Err(e) => e,
    }
}

/// `SETEX key seconds value`
pub fn setex(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    set_with_expire(ctx, args, ExpireUnit::Seconds, "setex")
}

/// `PSETEX key milliseconds value`
pub fn psetex(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    set_with_expire(ctx, args, ExpireUnit::Millis, "psetex")
}

/// `SETNX key value`: 1 if set, 0 if the key existed (of any type).
pub fn setnx(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let now = ctx.now;
    if ctx.db().contains(&args[1], now) {
        return Reply::Integer(0);
    }
    store(ctx, &args[1], &args[2], 0);
    Reply::Integer(1)
}

/// `GETDEL key`
pub fn getdel(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match read_str(ctx, &args[1]) {
        Ok(Some(value)) => {
            let now = ctx.now;
            ctx.db().remove(&args[1], now);
            ctx.signal(class::GENERIC, "del", &args[1]);
            Reply::Bulk(value)
        }
        Ok(None) => Reply::Nil,
        Err(e) => e,
    }
}

/// `GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]`
///
/// A missing key is nil even when the expire time is invalid: Redis looks
/// the key up before it reads the time.
pub fn getex(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let opts = match StringOptions::parse(&args[2..], false) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let key = &args[1];
    let value = match read_str(ctx, key) {
        Ok(Some(value)) => value,
        Ok(None) => return Reply::Nil,
        Err(e) => return e,
    };
    let now = ctx.now;
    match opts.expire_at(now, "getex") {
        Err(e) => return e,
        // An absolute time already past deletes the key, as Redis does.
        Ok(Some(at)) if at <= now => {
            ctx.db().remove(key, now);
            ctx.signal(class::GENERIC, "del", key);
        }
        Ok(Some(at)) => {
            ctx.db().set_expiry(key, at, now);
            ctx.signal(class::GENERIC, "expire", key);
        }
        Ok(None) if opts.persist => {
            // Redis signals PERSIST only when a TTL was removed.
            let had_ttl = ctx.db().get_mut(key, now).is_some_and(|e| e.expire_at != 0);
            if had_ttl {
                ctx.db().set_expiry(key, 0, now);
                ctx.signal(class::GENERIC, "persist", key);
            }
        }
        Ok(None) => {}
    }
    Reply::Bulk(value)
}

/// `GETSET key value`: like `SET key value GET`, TTL dropped.
pub fn getset(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match read_str(ctx, &args[1]) {
        Ok(old) => {
            store(ctx, &args[1], &args[2], 0);
            nil_or_bulk(old)
        }
        Err(e) => e,
    }
}

/// `MGET key [key ...]`: nil for missing keys and for non-strings.
pub fn mget(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let now = ctx.now;
    let db = ctx.db();
    let values = args[1..]
        .iter()
        .map(|key| match db.get_read(key, now).map(|e| &e.value) {
            Some(Value::Str(s)) => Reply::bulk_from(s),
            _ => Reply::Nil,
        })
        .collect();
    Reply::Array(values)
}

/// `MSET key value [key value ...]`
pub fn mset(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len().is_multiple_of(2) {
        return Reply::error(errors::wrong_arity("mset"));
    }
    for pair in args[1..].chunks_exact(2) {
        store(ctx, &pair[0], &pair[1], 0);
    }
    Reply::Ok
}

/// `MSETNX key value [key value ...]`: sets all or, if any key exists,
/// none.
pub fn msetnx(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len().is_multiple_of(2) {
        return Reply::error(errors::wrong_arity("msetnx"));
    }
    let now = ctx.now;
    let db = ctx.db();
    if args[1..].iter().step_by(2).any(|key| db.contains(key, now)) {
        return Reply::Integer(0);
    }
    for pair in args[1..].chunks_exact(2) {
        store(ctx, &pair[0], &pair[1], 0);
    }
    Reply::Integer(1)
}

/// Adds `by` to the integer at `key` (0 if missing), keeping its TTL.
fn incr_by(ctx: &mut Ctx, key: &[u8], by: i64) -> Reply {
    let now = ctx.now;
    let db = ctx.db();
    let Some(entry) = db.get_mut(key, now) else {
        create_str(ctx, key, by.to_string().as_bytes(), "incrby");
        return Reply::Integer(by);
    };
    let current = match as_str(entry) {
        Ok(s) => match proto::parse_int(s) {
            Some(n) => n,
            None => return Reply::error(errors::NOT_INTEGER),
        },
        Err(e) => return e,
    };
    let Some(next) = current.checked_add(by) else {
        return Reply::error(errors::OVERFLOW);
    };
    entry.value = Value::Str(next.to_string().into_bytes().into_boxed_slice());
    ctx.signal(class::STRING, "incrby", key);
    Reply::Integer(next)
}

/// `INCR key`
pub fn incr(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    incr_by(ctx, &args[1], 1)
}

/// `DECR key`
pub fn decr(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    incr_by(ctx, &args[1], -1)
}

/// `INCRBY key increment`
pub fn incrby(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match int_arg(&args[2]) {
        Ok(by) => incr_by(ctx, &args[1], by),
        Err(e) => e,
    }
}

/// `DECRBY key decrement`
pub fn decrby(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match int_arg(&args[2]) {
        // Its negation does not exist; Redis has a text of its own for it.
        Ok(i64::MIN) => Reply::error(errors::DECREMENT_OVERFLOW),
        Ok(by) => incr_by(ctx, &args[1], -by),
        Err(e) => e,
    }
}

/// `INCRBYFLOAT key increment`
///
/// Computed in the x87 80-bit format Redis's `long double` has on x86-64,
/// and printed as Redis prints it, so the digits match Redis's to the last
/// (`0.1 + 0.2` is `0.3`, `1000.1 + 0.2` is `1000.29999999999999999`).
pub fn incrbyfloat(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let now = ctx.now;
    let db = ctx.db();
    let key = &args[1];
    let current = match db.get_mut(key, now) {
        None => None,
        Some(entry) => match as_str(entry) {
            Ok(s) => Some(s),
            Err(e) => return e,
        },
    };
    let sum = match long_double::incr_by_float(current.unwrap_or(b"0".as_slice()), &args[2]) {
        Ok(sum) => sum,
        Err(e) => return Reply::error(e),
    };
    match db.get_mut(key, now) {
        Some(entry) => {
            entry.value = Value::Str(sum.as_bytes().into());
            ctx.signal(class::STRING, "incrbyfloat", key);
        }
        None => create_str(ctx, key, sum.as_bytes(), "incrbyfloat"),
    }
    Reply::bulk(sum.into_bytes())
}

/// Whether a string of `len + extra` bytes would exceed proto-max-bulk-len
/// (`max`).
fn too_long(max: usize, len: usize, extra: usize) -> bool {
    len.checked_add(extra).is_none_or(|total| total > max)
}

/// `APPEND key value`: the new length. Keeps the TTL.
pub fn append(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (key, tail) = (&args[1], &args[2]);
    let now = ctx.now;
    let max = ctx.shard.max_string_len;
    let db = ctx.db();
    let Some(entry) = db.get_mut(key, now) else {
        create_str(ctx, key, tail, "append");
        return Reply::Integer(tail.len() as i64);
    };
    let Value::Str(current) = &mut entry.value else {
        return Reply::error(errors::WRONGTYPE);
    };
    if too_long(max, current.len(), tail.len()) {
        return Reply::error(errors::STRING_TOO_LONG);
    }
    let mut grown = Vec::with_capacity(current.len() + tail.len());
    grown.extend_from_slice(current);
    grown.extend_from_slice(tail);
    *current = grown.into_boxed_slice();
    let len = current.len();
    ctx.signal(class::STRING, "append", key);
    Reply::Integer(len as i64)
}

/// `STRLEN key`: 0 for a missing key.
pub fn strlen(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let now = ctx.now;
    match ctx.db().get_read(&args[1], now) {
        None => Reply::Integer(0),
        Some(entry) => match as_str(entry) {
            Ok(s) => Reply::Integer(s.len() as i64),
            Err(e) => e,
        },
    }
}

/// `GETRANGE key start end`: inclusive, negative indexes count from the
/// end; an empty string when the range is empty or the key missing.
pub fn getrange(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (start, end) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(start), Ok(end)) => (start, end),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let now = ctx.now;
    let value = match ctx.db().get_read(&args[1], now) {
        None => return Reply::bulk(Bytes::new()),
        Some(entry) => match as_str(entry) {
            Ok(s) => s,
            Err(e) => return e,
        },
    };
    match byte_range(value.len(), start, end) {
        Some((from, to)) => Reply::bulk_from(&value[from..to]),
        None => Reply::bulk(Bytes::new()),
    }
}

/// GETRANGE's index arithmetic as Redis does it, as a half-open range of
/// bytes, or None when nothing is selected.
fn byte_range(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    // i128 because `len + start` can leave the range of i64 in either direction.
    let len = len as i128;
    let resolve = |i: i64| {
        let i = i as i128;
        if i < 0 {
            (len + i).max(0)
        } else {
            i
        }
    };
    let start = resolve(start);
    let end = resolve(end).min(len - 1);
    if len == 0 || start > end {
        return None;
    }
    // Both lie within 0..len here.
    Some((start as usize, end as usize + 1))
}

/// `SETRANGE key offset value`: the new length. Zero-pads past the end and
/// keeps the TTL; an empty value creates nothing.
pub fn setrange(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (key, patch) = (&args[1], &args[3]);
    let offset = match int_arg(&args[2]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let Ok(offset) = usize::try_from(offset) else {
        return Reply::error(errors::OFFSET_OUT_OF_RANGE);
    };
    let now = ctx.now;
    // Redis bounds offset + patch, not the final length, since the old
    // string is already within the limit.
    let too_long = too_long(ctx.shard.max_string_len, offset, patch.len());
    let db = ctx.db();
    let Some(entry) = db.get_mut(key, now) else {
        if patch.is_empty() {
            return Reply::Integer(0);
        }
        if too_long {
            return Reply::error(errors::STRING_TOO_LONG);
        }
        let mut value = vec![0; offset + patch.len()];
        value[offset..].copy_from_slice(patch);
        create_str(ctx, key, &value, "setrange");
        return Reply::Integer(value.len() as i64);
    };
    let Value::Str(current) = &mut entry.value else {
        return Reply::error(errors::WRONGTYPE);
    };
    if patch.is_empty() {
        return Reply::Integer(current.len() as i64);
    }
    if too_long {
        return Reply::error(errors::STRING_TOO_LONG);
    }
    let end = offset + patch.len();
    if end > current.len() {
        let mut grown = Vec::with_capacity(end);
        grown.extend_from_slice(current);
        grown.resize(end, 0);
        *current = grown.into_boxed_slice();
    }
    current[offset..end].copy_from_slice(patch);
    let len = current.len();
    ctx.signal(class::STRING, "setrange", key);
    Reply::Integer(len as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::*;
    use crate::shard::Shard;

    fn expire_of(shard: &mut Shard, key: &str, now: u64) -> Option<u64> {
        shard
            .db(0)
            .get_mut(key.as_bytes(), now)
            .map(|e| e.expire_at)
    }

    fn put_hash(shard: &mut Shard, key: &str) {
        let entry = Entry {
            value: Value::Hash(Box::default()),
            expire_at: 0,
        };
        shard.db(0).insert(key.as_bytes(), entry, 0);
    }

    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn get_and_set() {
        let s = &mut Shard::new(0, 1);
        assert_eq!(run(s, NOW, &["get", "k"]), Reply::Nil);
        assert_eq!(run(s, NOW, &["set", "k", "v"]), Reply::Ok);
        assert_eq!(run(s, NOW, &["get", "k"]), bulk("v"));
        assert_eq!(run(s, NOW, &["set", "k", ""]), Reply::Ok);
        assert_eq!(run(s, NOW, &["get", "k"]), bulk(""));
        put_hash(s, "h");
        assert_eq!(run(s, NOW, &["get", "h"]), err(errors::WRONGTYPE));
        assert_eq!(
            run(s, NOW, &["set", "h", "x"]),
            Reply::Ok,
            "SET replaces any type"
        );
        assert_eq!(run(s, NOW, &["get", "h"]), bulk("x"));
        let stats = s.db(0).stats;
        assert_eq!((stats.hits, stats.misses), (4, 1));
    }

    #[test]
    fn set_nx_xx() {
        let s = &mut Shard::new(0, 1);
        assert_eq!(run(s, NOW, &["set", "k", "1", "XX"]), Reply::Nil);
        assert_eq!(run(s, NOW, &["get", "k"]), Reply::Nil);
        assert_eq!(run(s, NOW, &["set", "k", "1", "nx"]), Reply::Ok);
        assert_eq!(run(s, NOW, &["set", "k", "2", "nx"]), Reply::Nil);
        assert_eq!(run(s, NOW, &["set", "k", "3", "xx"]), Reply::Ok);
        assert_eq!(run(s, NOW, &["get", "k"]), bulk("3"));
        assert_eq!(
            run(s, NOW, &["set", "k", "4", "nx", "nx"]),
            Reply::Nil,
            "repeating is fine"
        );
        assert_eq!(
            run(s, NOW, &["set", "k", "4", "nx", "xx"]),
            err(errors::SYNTAX)
        );
        assert_eq!(
            run(s, NOW, &["set", "k", "4", "xx", "nx"]),
            err(errors::SYNTAX)
        );
        assert_eq!(
            run(s, NOW, &["set", "k", "4", "bogus"]),
            err(errors::SYNTAX)
        );
    }

    #[test]
    fn set_get_option() {
        let s = &mut Shard::new(0, 1);
        assert_eq!(run(s, NOW, &["set", "k", "1", "get"]), Reply::Nil);
        assert_eq!(run(s, NOW, &["set", "k", "2", "GET"]), bulk("1"));
        // NX with GET is allowed since 7.0: the old value, and no write.
        assert_eq!(run(s, NOW, &["set", "k", "3", "nx", "get"]), bulk("2"));
        assert_eq!(run(s, NOW, &["get", "k"]), bulk("2"));
        assert_eq!(run(s, NOW, &["set", "new", "3", "nx", "get"]), Reply::Nil);
        assert_eq!(run(s, NOW, &["get", "new"]), bulk("3"));
        assert_eq!(
            run(s, NOW, &["set", "missing", "3", "xx", "get"]),
            Reply::Nil
        );
        assert_eq!(run(s, NOW, &["get", "missing"]), Reply::Nil);
        put_hash(s, "h");
        assert_eq!(
            run(s, NOW, &["set", "h", "x", "get"]),
            err(errors::WRONGTYPE)
        );
        assert_eq!(
            run(s, NOW, &["get", "h"]),
            err(errors::WRONGTYPE),
            "not overwritten"
        );
        // The expire time is checked before the type.
        assert_eq!(
            run(s, NOW, &["set", "h", "x", "get", "ex", "0"]),
            err("ERR invalid expire time in 'set' command")
        );
    }

    #[test]
    fn set_expire_options() {
        let s = &mut Shard::new(0, 1);
        assert_eq!(run(s, NOW, &["set", "k", "v", "ex", "10"]), Reply::Ok);
        assert_eq!(expire_of(s, "k", NOW), Some(NOW + 10_000));
        assert_eq!(run(s, NOW + 9_999, &["get", "k"]), bulk("v"));
        assert_eq!(run(s, NOW + 10_000, &["get", "k"]), Reply::Nil);

        assert_eq!(run(s, NOW, &["set", "k", "v", "px", "1500"]), Reply::Ok);
        assert_eq!(expire_of(s, "k", NOW), Some(NOW + 1500));
        assert_eq!(
            run(s, NOW, &["set", "k", "v", "exat", "1800000000"]),
            Reply::Ok
        );
        assert_eq!(expire_of(s, "k", NOW), Some(1_800_000_000_000));
        assert_eq!(
            run(s, NOW, &["set", "k", "v", "PXAT", "1800000000123"]),
            Reply::Ok
        );
        assert_eq!(expire_of(s, "k", NOW), Some(1_800_000_000_123));
        // The last of a repeated option wins.
        assert_eq!(
            run(s, NOW, &["set", "k", "v", "ex", "10", "ex", "20"]),
            Reply::Ok
        );
        assert_eq!(expire_of(s, "k", NOW), Some(NOW + 20_000));

        // KEEPTTL keeps it, a plain SET drops it.
        assert_eq!(run(s, NOW, &["set", "k", "w", "keepttl"]), Reply::Ok);
        assert_eq!(expire_of(s, "k", NOW), Some(NOW + 20_000));
        assert_eq!(run(s, NOW, &["set", "k", "w"]), Reply::Ok);
        assert_eq!(expire_of(s, "k", NOW), Some(0));
        assert_eq!(run(s, NOW, &["set", "fresh", "w", "keepttl"]), Reply::Ok);
        assert_eq!(expire_of(s, "fresh", NOW), Some(0));

        // An absolute time in the past stores a key that is already gone.
        assert_eq!(run(s, NOW, &["set", "k", "v", "pxat", "1"]), Reply::Ok);
        assert_eq!(run(s, NOW, &["get", "k"]), Reply::Nil);
    }

    #[test]
    fn set_expire_errors() {
        let s = &mut Shard::new(0, 1);
        let invalid = err("ERR invalid expire time in 'set' command");
        for bad in [
            &["set", "k", "v", "ex", "0"][..],
            &["set", "k", "v", "px", "-5"],
            &["set", "k", "v", "exat", "0"],
            &["set", "k", "v", "pxat", "-1"],
            // Overflows once scaled to ms, or once made absolute.
            &["set", "k", "v", "ex", "9223372036854776"],
            &["set", "k", "v", "ex", "9223372036854775"],
            &["set", "k", "v", "px", "9223372036854775807"],
        ] {
            assert_eq!(run(s, NOW, bad), invalid, "{bad:?}");
        }
        assert_eq!(
            run(s, NOW, &["set", "k", "v", "exat", "9223372036854775"]),
            Reply::Ok
        );
        assert_eq!(expire_of(s, "k", NOW), Some(9_223_372_036_854_775_000));
        assert_eq!(
            run(s, NOW, &["set", "k", "v", "ex", "abc"]),
            err(errors::NOT_INTEGER)
        );
        for bad in [
            &["set", "k", "v", "ex"][..],
            &["set", "k", "v", "ex", "10", "px", "10"],
            &["set", "k", "v", "px", "10", "exat", "10"],
            &["set", "k", "v", "pxat", "10", "ex", "10"],
            &["set", "k", "v", "keepttl", "ex", "10"],
            &["set", "k", "v", "ex", "10", "keepttl"],
            &["set", "k", "v", "persist"],
        ] {
            assert_eq!(run(s, NOW, bad), err(errors::SYNTAX), "{bad:?}");
        }
        assert_eq!(
            run(s, NOW, &["set", "k"]),
            err("ERR wrong number of arguments for 'set' command")
        );
    }

    #[test]
    fn setex_psetex_setnx() {
        let s = &mut Shard::new(0, 1);
        assert_eq!(run(s, NOW, &["setex", "k", "5", "v"]), Reply::Ok);
        assert_eq!(expire_of(s, "k", NOW), Some(NOW + 5_000));
        assert_eq!(run(s, NOW, &["psetex", "k", "5", "w"]), Reply::Ok);
        assert_eq!(expire_of(s, "k", NOW), Some(NOW + 5));
        assert_eq!(run(s, NOW, &["get", "k"]), bulk("w"));
        assert_eq!(
            run(s, NOW, &["setex", "k", "0", "v"]),
            err("ERR invalid expire time in 'setex' command")
        );
        assert_eq!(
            run(s, NOW, &["psetex", "k", "-1", "v"]),
            err("ERR invalid expire time in 'psetex' command")
        );
        assert_eq!(
            run(s, NOW, &["setex", "k", "x", "v"]),
            err(errors::NOT_INTEGER)
        );

        assert_eq!(run(s, NOW, &["setnx", "n", "1"]), int(1));
        assert_eq!(run(s, NOW, &["setnx", "n", "2"]), int(0));
        assert_eq!(run(s, NOW, &["get", "n"]), bulk("1"));
        put_hash(s, "h");
        assert_eq!(run(s, NOW, &["setnx", "h", "2"]), int(0));
        // An expired key counts as missing.
        assert_eq!(run(s, NOW + 5, &["setnx", "k", "new"]), int(1));
        assert_eq!(expire_of(s, "k", NOW + 5), Some(0));
    }

    #[test]
    fn getdel_getset() {
        let s = &mut Shard::new(0, 1);
        assert_eq!(run(s, NOW, &["getdel", "k"]), Reply::Nil);
        run(s, NOW, &["set", "k", "v"]);
        assert_eq!(run(s, NOW, &["getdel", "k"]), bulk("v"));
        assert_eq!(run(s, NOW, &["get", "k"]), Reply::Nil);
        put_hash(s, "h");
        assert_eq!(run(s, NOW, &["getdel", "h"]), err(errors::WRONGTYPE));
        assert_eq!(run(s, NOW, &["getset", "h", "x"]), err(errors::WRONGTYPE));

        assert_eq!(run(s, NOW, &["getset", "k", "1"]), Reply::Nil);
        run(s, NOW, &["set", "k", "1", "ex", "100"]);
        assert_eq!(run(s, NOW, &["getset", "k", "2"]), bulk("1"));
        assert_eq!(expire_of(s, "k", NOW), Some(0), "GETSET drops the TTL");
    }

    #[test]
    fn getex() {
        let s = &mut Shard::new(0, 1);
        assert_eq!(run(s, NOW, &["getex", "k"]), Reply::Nil);
        // A missing key is nil before the expire time is looked at.
        assert_eq!(run(s, NOW, &["getex", "k", "ex", "abc"]), Reply::Nil);
        assert_eq!(run(s, NOW, &["getex", "k", "ex", "0"]), Reply::Nil);
        run(s, NOW, &["set", "k", "v"]);
        assert_eq!(
            run(s, NOW, &["getex", "k", "ex", "abc"]),
            err(errors::NOT_INTEGER)
        );
        assert_eq!(
            run(s, NOW, &["getex", "k", "ex", "0"]),
            err("ERR invalid expire time in 'getex' command")
        );
        assert_eq!(run(s, NOW, &["getex", "k", "ex", "10"]), bulk("v"));
        assert_eq!(expire_of(s, "k", NOW), Some(NOW + 10_000));
        assert_eq!(run(s, NOW, &["getex", "k"]), bulk("v"));
        assert_eq!(
            expire_of(s, "k", NOW),
            Some(NOW + 10_000),
            "no option leaves the TTL"
        );
        assert_eq!(
            run(s, NOW, &["getex", "k", "px", "10", "px", "20"]),
            bulk("v")
        );
        assert_eq!(expire_of(s, "k", NOW), Some(NOW + 20));
        assert_eq!(
            run(s, NOW, &["getex", "k", "exat", "1800000000"]),
            bulk("v")
        );
        assert_eq!(expire_of(s, "k", NOW), Some(1_800_000_000_000));
        assert_eq!(run(s, NOW, &["getex", "k", "persist"]), bulk("v"));
        assert_eq!(expire_of(s, "k", NOW), Some(0));
        // A time already past deletes the key after replying.
        assert_eq!(run(s, NOW, &["getex", "k", "pxat", "1000"]), bulk("v"));
        assert_eq!(s.db(0).len(), 0);

        run(s, NOW, &["set", "k", "v"]);
        for bad in [
            &["getex", "k", "persist", "ex", "1"][..],
            &["getex", "k", "ex", "1", "persist"],
            &["getex", "k", "ex", "1", "px", "1"],
            &["getex", "k", "nx"],
            &["getex", "k", "get"],
            &["getex", "k", "keepttl"],
            &["getex", "k", "px"],
        ] {
            assert_eq!(run(s, NOW, bad), err(errors::SYNTAX), "{bad:?}");
        }
        put_hash(s, "h");
        assert_eq!(
            run(s, NOW, &["getex", "h", "persist"]),
            err(errors::WRONGTYPE)
        );
    }

    #[test]
    fn mget_mset_msetnx() {
        let s = &mut Shard::new(0, 1);
        assert_eq!(
            run(s, NOW, &["mset", "a", "1", "b", "2", "a", "3"]),
            Reply::Ok
        );
        put_hash(s, "h");
        assert_eq!(
            run(s, NOW, &["mget", "a", "b", "h", "missing"]),
            Reply::Array(vec![bulk("3"), bulk("2"), Reply::Nil, Reply::Nil])
        );
        assert_eq!(
            run(s, NOW, &["mset", "a", "1", "b"]),
            err("ERR wrong number of arguments for 'mset' command")
        );
        run(s, NOW, &["set", "t", "x", "ex", "5"]);
        run(s, NOW, &["mset", "t", "y"]);
        assert_eq!(expire_of(s, "t", NOW), Some(0), "MSET drops TTLs");

        assert_eq!(run(s, NOW, &["msetnx", "x", "1", "a", "9"]), int(0));
        assert_eq!(
            run(s, NOW, &["mget", "x", "a"]),
            Reply::Array(vec![Reply::Nil, bulk("3")])
        );
        assert_eq!(
            run(s, NOW, &["msetnx", "x", "1", "h", "9"]),
            int(0),
            "a key of any type blocks"
        );
        assert_eq!(
            run(s, NOW, &["msetnx", "x", "1", "y", "2", "x", "3"]),
            int(1)
        );
        assert_eq!(
            run(s, NOW, &["mget", "x", "y"]),
            Reply::Array(vec![bulk("3"), bulk("2")])
        );
        assert_eq!(
            run(s, NOW, &["msetnx", "p", "1", "q"]),
            err("ERR wrong number of arguments for 'msetnx' command")
        );
    }

    #[test]
    fn incr_family() {
        let s = &mut Shard::new(0, 1);
        assert_eq!(run(s, NOW, &["incr", "n"]), int(1));
        assert_eq!(run(s, NOW, &["incrby", "n", "41"]), int(42));
        assert_eq!(run(s, NOW, &["decr", "n"]), int(41));
        assert_eq!(run(s, NOW, &["decrby", "n", "-9"]), int(50));
        assert_eq!(run(s, NOW, &["decrby", "m", "5"]), int(-5));
        assert_eq!(run(s, NOW, &["get", "n"]), bulk("50"));

        run(s, NOW, &["set", "n", "10", "ex", "100"]);
        assert_eq!(run(s, NOW, &["incr", "n"]), int(11));
        assert_eq!(
            expire_of(s, "n", NOW),
            Some(NOW + 100_000),
            "INCR keeps the TTL"
        );
        assert_eq!(
            run(s, NOW + 100_000, &["incr", "n"]),
            int(1),
            "expired means missing"
        );

        run(s, NOW, &["set", "max", "9223372036854775807"]);
        assert_eq!(run(s, NOW, &["incr", "max"]), err(errors::OVERFLOW));
        assert_eq!(run(s, NOW, &["decrby", "max", "-1"]), err(errors::OVERFLOW));
        run(s, NOW, &["set", "min", "-9223372036854775808"]);
        assert_eq!(run(s, NOW, &["decr", "min"]), err(errors::OVERFLOW));
        assert_eq!(
            run(s, NOW, &["incrby", "min", "9223372036854775807"]),
            int(-1)
        );
        assert_eq!(
            run(s, NOW, &["decrby", "x", "-9223372036854775808"]),
            err("ERR decrement would overflow")
        );
        assert_eq!(
            run(s, NOW, &["incrby", "x", "-9223372036854775808"]),
            int(i64::MIN)
        );

        for bad in [
            "abc",
            " 1",
            "1 ",
            "01",
            "1.0",
            "",
            "9223372036854775808",
            "+1",
        ] {
            run(s, NOW, &["set", "bad", bad]);
            assert_eq!(
                run(s, NOW, &["incr", "bad"]),
                err(errors::NOT_INTEGER),
                "{bad:?}"
            );
        }
        assert_eq!(
            run(s, NOW, &["incrby", "n", "1.5"]),
            err(errors::NOT_INTEGER)
        );
        put_hash(s, "h");
        assert_eq!(run(s, NOW, &["incr", "h"]), err(errors::WRONGTYPE));
        // The increment is read before the key.
        assert_eq!(run(s, NOW, &["incrby", "h", "x"]), err(errors::NOT_INTEGER));
        assert_eq!(run(s, NOW, &["decrby", "h", "1"]), err(errors::WRONGTYPE));
    }

    #[test]
    fn incrbyfloat_replies_like_redis() {
        let s = &mut Shard::new(0, 1);
        assert_eq!(run(s, NOW, &["set", "f", "10.50"]), Reply::Ok);
        assert_eq!(run(s, NOW, &["incrbyfloat", "f", "0.1"]), bulk("10.6"));
        assert_eq!(run(s, NOW, &["incrbyfloat", "f", "-5"]), bulk("5.6"));
        run(s, NOW, &["set", "f", "5.0e3"]);
        assert_eq!(run(s, NOW, &["incrbyfloat", "f", "2.0e2"]), bulk("5200"));
        assert_eq!(run(s, NOW, &["incrbyfloat", "g", "3.0e3"]), bulk("3000"));
        assert_eq!(run(s, NOW, &["get", "g"]), bulk("3000"));

        run(s, NOW, &["set", "f", "1", "px", "500"]);
        assert_eq!(run(s, NOW, &["incrbyfloat", "f", "0.5"]), bulk("1.5"));
        assert_eq!(expire_of(s, "f", NOW), Some(NOW + 500), "keeps the TTL");

        put_hash(s, "h");
        assert_eq!(
            run(s, NOW, &["incrbyfloat", "h", "x"]),
            err(errors::WRONGTYPE)
        );
        run(s, NOW, &["set", "s", "abc"]);
        assert_eq!(
            run(s, NOW, &["incrbyfloat", "s", "1"]),
            err(errors::NOT_FLOAT)
        );
        assert_eq!(
            run(s, NOW, &["incrbyfloat", "f", "nan"]),
            err(errors::NOT_FLOAT)
        );
        assert_eq!(
            run(s, NOW, &["incrbyfloat", "f", "inf"]),
            err(errors::NAN_OR_INFINITY)
        );
        run(s, NOW, &["set", "big", "1e4932"]);
        assert_eq!(
            run(s, NOW, &["incrbyfloat", "big", "1e4932"]),
            err(errors::NAN_OR_INFINITY)
        );
        assert_eq!(
            run(s, NOW, &["get", "f"]),
            bulk("1.5"),
            "errors change nothing"
        );
    }

    /// Replies of Redis 7.0.15 on x86-64 for `SET k a` (unless `a` is
    /// empty) then `INCRBYFLOAT k b`.
    const FLOAT_CASES: &[(&str, &str, &str)] = &[
        ("", "0.1", "0.1"),
        ("0.1", "0.2", "0.3"),
        ("1000.1", "0.2", "1000.29999999999999999"),
        ("100000.1", "0.7", "100000.80000000000000426"),
        ("", "123456789.123456789", "123456789.12345678899873747"),
        (
            "",
            "3.14159265358979323846264338327950288",
            "3.14159265358979324",
        ),
        ("1.5", "0x1p3", "9.5"),
        ("", "0X1P-2", "0.25"),
        ("", "0x1.8p1", "3"),
        ("", "0x.8", "0.5"),
        ("", "0x1.fffffffffffffffffp0", "2"),
        ("", ".5", "0.5"),
        ("", "5.", "5"),
        ("", "+7", "7"),
        ("", "1.e2", "100"),
        ("", "1E+2", "100"),
        ("", "00000.000001", "0.000001"),
        ("", "1e-20", "0"),
        ("", "1e-17", "0.00000000000000001"),
        ("", "1.5e-17", "0.00000000000000002"),
        ("", "5e-18", "0"),
        ("", "-1e-18", "0"),
        // A tie at the 17th decimal rounds to even, as glibc's printf does.
        ("", "0.000003814697265625", "0.00000381469726562"),
        ("2", "-2.5", "-0.5"),
        ("-5", "2.25", "-2.75"),
        ("1", "-1", "0"),
        ("-0", "-0", "0"),
        ("0.1", "-0.1", "0"),
        ("123.456", "-123.455", "0.001"),
        ("1", "1e-30", "1"),
        ("", "9223372036854775807", "9223372036854775807"),
        ("", "18446744073709551616", "18446744073709551616"),
        ("1e20", "1", "100000000000000000000"),
        // A tie in the sum's last mantissa bit rounds to even.
        ("1e19", "0.5", "10000000000000000000"),
        (
            "99999999999999999999",
            "0.00000000000000001",
            "100000000000000000000",
        ),
        ("1e25", "-1", "10000000000000000000000000"),
        // Denormals are accepted, zero from underflow is not.
        ("1e-4950", "0", "0"),
        ("", "3e-4951", "0"),
        ("", "1e-4951", errors::NOT_FLOAT),
        ("", "0.1e-4940", "0"),
        ("", "1e4933", errors::NOT_FLOAT),
        ("1.18e4932", "1e4930", errors::NAN_OR_INFINITY),
        ("", "1e", errors::NOT_FLOAT),
        ("", "1e+", errors::NOT_FLOAT),
        ("", "e5", errors::NOT_FLOAT),
        ("", "0x1p", errors::NOT_FLOAT),
        ("1e1", "0X", errors::NOT_FLOAT),
        ("", "1.2.3", errors::NOT_FLOAT),
        ("", " 1", errors::NOT_FLOAT),
        ("", "1 ", errors::NOT_FLOAT),
        ("", "-infinity", errors::NAN_OR_INFINITY),
    ];

    #[test]
    fn incrbyfloat_matches_redis_digit_for_digit() {
        for &(start, by, want) in FLOAT_CASES {
            let s = &mut Shard::new(0, 1);
            if !start.is_empty() {
                run(s, NOW, &["set", "k", start]);
            }
            let want = if want.starts_with("ERR") {
                err(want)
            } else {
                bulk(want)
            };
            assert_eq!(
                run(s, NOW, &["incrbyfloat", "k", by]),
                want,
                "{start:?} + {by:?}"
            );
        }
    }

    #[test]
    fn incrbyfloat_huge_values() {
        let s = &mut Shard::new(0, 1);
        let Reply::Bulk(r) = run(s, NOW, &["incrbyfloat", "k", "1e300"]) else {
            panic!()
        };
        assert!(r.starts_with(b"1000000000000000000008997324079559193870523944273290747938260082"));
        assert_eq!(r.len(), 301);
        // The largest finite value, printed in full; a value just above it
        // rounds down to it.
        let max_prefix = b"11897314953572317650212638530309702051690633222946242004403237338917370055229707226164";
        for input in ["1.1897314953572317650e4932", "1.18973149535723176505e4932"] {
            run(s, NOW, &["set", "m", "0"]);
            let Reply::Bulk(r) = run(s, NOW, &["incrbyfloat", "m", input]) else {
                panic!("{input} refused")
            };
            assert!(r.starts_with(max_prefix), "{input}");
            assert!(r.ends_with(b"86811989770240"), "{input}");
            assert_eq!(r.len(), 4933);
        }
        // Inputs are refused from MAX_LONG_DOUBLE_CHARS (5k) bytes on.
        let long = format!("1.{}", "0".repeat(5117));
        assert_eq!(run(s, NOW, &["incrbyfloat", "l", &long]), bulk("1"));
        let too_long = format!("1.{}", "0".repeat(5118));
        assert_eq!(
            run(s, NOW, &["incrbyfloat", "l", &too_long]),
            err(errors::NOT_FLOAT)
        );
    }

    #[test]
    fn append_and_strlen() {
        let s = &mut Shard::new(0, 1);
        assert_eq!(run(s, NOW, &["strlen", "k"]), int(0));
        assert_eq!(run(s, NOW, &["append", "k", "hello"]), int(5));
        let at = NOW + 1000;
        s.db(0).set_expiry(b"k", at, NOW);
        assert_eq!(run(s, NOW, &["append", "k", " world"]), int(11));
        assert_eq!(run(s, NOW, &["get", "k"]), bulk("hello world"));
        assert_eq!(expire_of(s, "k", NOW), Some(at), "APPEND keeps the TTL");
        assert_eq!(run(s, NOW, &["append", "k", ""]), int(11));
        assert_eq!(run(s, NOW, &["append", "e", ""]), int(0));
        assert_eq!(
            run(s, NOW, &["get", "e"]),
            bulk(""),
            "APPEND creates even empty strings"
        );
        assert_eq!(run(s, NOW, &["strlen", "k"]), int(11));

        s.max_string_len = 12;
        assert_eq!(run(s, NOW, &["append", "k", "!"]), int(12));
        assert_eq!(
            run(s, NOW, &["append", "k", "!"]),
            err(errors::STRING_TOO_LONG)
        );
        assert_eq!(run(s, NOW, &["strlen", "k"]), int(12));

        put_hash(s, "h");
        assert_eq!(run(s, NOW, &["append", "h", "x"]), err(errors::WRONGTYPE));
        assert_eq!(run(s, NOW, &["strlen", "h"]), err(errors::WRONGTYPE));
    }

    #[test]
    fn getrange() {
        let s = &mut Shard::new(0, 1);
        assert_eq!(run(s, NOW, &["getrange", "k", "0", "-1"]), bulk(""));
        run(s, NOW, &["set", "k", "This is a string"]);
        for (start, end, want) in [
            ("0", "3", "This"),
            ("-3", "-1", "ing"),
            ("0", "-1", "This is a string"),
            ("10", "100", "string"),
            ("-100", "3", "This"),
            ("-100", "-100", "T"),
            ("5", "3", ""),
            ("-1", "-5", ""),
            ("16", "20", ""),
            (
                "-9223372036854775808",
                "9223372036854775807",
                "This is a string",
            ),
            ("9223372036854775807", "-9223372036854775808", ""),
            ("0", "-9223372036854775808", "T"),
        ] {
            assert_eq!(
                run(s, NOW, &["getrange", "k", start, end]),
                bulk(want),
                "{start} {end}"
            );
        }
        run(s, NOW, &["set", "e", ""]);
        assert_eq!(run(s, NOW, &["getrange", "e", "0", "-1"]), bulk(""));
        assert_eq!(
            run(s, NOW, &["getrange", "k", "a", "1"]),
            err(errors::NOT_INTEGER)
        );
        assert_eq!(
            run(s, NOW, &["getrange", "k", "0", "1.5"]),
            err(errors::NOT_INTEGER)
        );
        put_hash(s, "h");
        assert_eq!(
            run(s, NOW, &["getrange", "h", "0", "1"]),
            err(errors::WRONGTYPE)
        );
        assert_eq!(
            run(s, NOW, &["getrange", "h", "x", "1"]),
            err(errors::NOT_INTEGER)
        );
    }

    #[test]
    fn setrange() {
        let s = &mut Shard::new(0, 1);
        assert_eq!(run(s, NOW, &["setrange", "k", "5", ""]), int(0));
        assert_eq!(s.db(0).len(), 0, "nothing created");
        assert_eq!(run(s, NOW, &["setrange", "k", "3", "abc"]), int(6));
        assert_eq!(run(s, NOW, &["get", "k"]), Reply::bulk_from(b"\0\0\0abc"));
        run(s, NOW, &["set", "k", "Hello World", "ex", "10"]);
        assert_eq!(run(s, NOW, &["setrange", "k", "6", "Redis"]), int(11));
        assert_eq!(run(s, NOW, &["get", "k"]), bulk("Hello Redis"));
        assert_eq!(run(s, NOW, &["setrange", "k", "11", "!!"]), int(13));
        assert_eq!(run(s, NOW, &["get", "k"]), bulk("Hello Redis!!"));
        assert_eq!(run(s, NOW, &["setrange", "k", "100", ""]), int(13));
        assert_eq!(
            expire_of(s, "k", NOW),
            Some(NOW + 10_000),
            "SETRANGE keeps the TTL"
        );

        assert_eq!(
            run(s, NOW, &["setrange", "k", "-1", "x"]),
            err(errors::OFFSET_OUT_OF_RANGE)
        );
        assert_eq!(
            run(s, NOW, &["setrange", "k", "x", "x"]),
            err(errors::NOT_INTEGER)
        );
        assert_eq!(
            run(s, NOW, &["setrange", "k", "536870911", "xx"]),
            err(errors::STRING_TOO_LONG)
        );
        assert_eq!(
            run(s, NOW, &["setrange", "new", "536870912", "x"]),
            err(errors::STRING_TOO_LONG)
        );
        assert_eq!(
            run(s, NOW, &["setrange", "new", "9223372036854775807", "x"]),
            err(errors::STRING_TOO_LONG)
        );
        s.max_string_len = 4;
        assert_eq!(run(s, NOW, &["setrange", "new", "3", "x"]), int(4));
        assert_eq!(
            run(s, NOW, &["setrange", "new", "3", "xy"]),
            err(errors::STRING_TOO_LONG)
        );

        put_hash(s, "h");
        assert_eq!(
            run(s, NOW, &["setrange", "h", "0", "x"]),
            err(errors::WRONGTYPE)
        );
        assert_eq!(
            run(s, NOW, &["setrange", "h", "-1", "x"]),
            err(errors::OFFSET_OUT_OF_RANGE)
        );
    }

    #[test]
    fn wrong_arity_is_caught_by_the_table() {
        let s = &mut Shard::new(0, 1);
        assert_eq!(
            run(s, NOW, &["get"]),
            err("ERR wrong number of arguments for 'get' command")
        );
        assert_eq!(
            run(s, NOW, &["getrange", "k", "0"]),
            err("ERR wrong number of arguments for 'getrange' command")
        );
    }
}
