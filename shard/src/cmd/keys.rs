//! Generic key commands: existence, type, expiry, iteration, renaming and
//! flushing, over whatever type a key holds.
//!
//! The network layer splits multi-key commands by shard and adds up the
//! replies, so DEL, EXISTS and TOUCH only count over the keys they are given,
//! and KEYS, DBSIZE, RANDOMKEY and the FLUSH commands only see this shard.
//! Lookups made for reading count keyspace hits and misses, lookups made for
//! writing do not, as in Redis.

use crate::cmd::glob::Glob;
use crate::cmd::util::{int_arg, scan_cursor};
use crate::exec::Ctx;
use crate::keyspace::Db;
use crate::signals::{class, Change};
use crate::value::Value;
use bytes::Bytes;
use proto::errors;
use proto::slot::SLOT_COUNT;
use proto::Reply;

/// The selected database if it was ever used on this shard. Keyless
/// read-only commands go through this so that, say, a SCAN of an untouched
/// database does not allocate its 8192 slot tables on every shard.
fn existing_db<'a>(ctx: &'a Ctx) -> Option<&'a Db> {
    ctx.shard
        .dbs()
        .find(|(i, _)| *i == ctx.db)
        .map(|(_, db)| db)
}

/// `DEL key [key ...]` (also UNLINK): removes the keys, replies how many existed.
pub fn del(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let now = ctx.now;
    let mut deleted = 0;
    for key in &args[1..] {
        if ctx.db().remove(key, now).is_some() {
            ctx.signal(class::GENERIC, "del", key);
            deleted += 1;
        }
    }
    Reply::Integer(deleted)
}

/// `EXISTS key [key ...]`: how many of the keys exist, a repeated key
/// counting each time.
pub fn exists(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let now = ctx.now;
    let db = ctx.db();
    Reply::Integer(
        args[1..]
            .iter()
            .filter(|k| db.get_read(k, now).is_some())
            .count() as i64,
    )
}

/// `TYPE key`: `string`, `hash`, or `none`.
pub fn type_(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let now = ctx.now;
    let name = ctx
        .db()
        .get_read(&args[1], now)
        .map_or("none", |e| e.value.type_name());
    Reply::simple(name)
}

/// `TOUCH key [key ...]`: like EXISTS, whose lookup also stamps each key
/// as just accessed (what eviction and OBJECT IDLETIME read).
pub fn touch(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    exists(ctx, args)
}

/// `EXPIRE key seconds [NX|XX|GT|LT]`
pub fn expire(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let base = ctx.now as i64;
    set_expire(ctx, args, "expire", base, 1000)
}

/// `PEXPIRE key milliseconds [NX|XX|GT|LT]`
pub fn pexpire(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let base = ctx.now as i64;
    set_expire(ctx, args, "pexpire", base, 1)
}

/// `EXPIREAT key unix-time-seconds [NX|XX|GT|LT]`
pub fn expireat(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    set_expire(ctx, args, "expireat", 0, 1000)
}

/// `PEXPIREAT key unix-time-milliseconds [NX|XX|GT|LT]`
pub fn pexpireat(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    set_expire(ctx, args, "pexpireat", 0, 1)
}

/// The EXPIRE family, as Redis 7.0's `expireGenericCommand`: options are
/// checked before the number, and both before the key is looked up, so a
/// bad call fails the same way whether the key exists or not. The deadline
/// is `base + time * unit` milliseconds; one already past deletes the key.
fn set_expire(ctx: &mut Ctx, args: &[Bytes], name: &str, base: i64, unit: i64) -> Reply {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &args[3..] {
        if opt.eq_ignore_ascii_case(b"nx") {
            nx = true;
        } else if opt.eq_ignore_ascii_case(b"xx") {
            xx = true;
        } else if opt.eq_ignore_ascii_case(b"gt") {
            gt = true;
        } else if opt.eq_ignore_ascii_case(b"lt") {
            lt = true;
        } else {
            return Reply::error(errors::unsupported_option(opt));
        }
    }
    if nx && (xx || gt || lt) {
        return Reply::error(errors::EXPIRE_NX_WITH_OTHERS);
    }
    if gt && lt {
        return Reply::error(errors::EXPIRE_GT_WITH_LT);
    }
    let time = match int_arg(&args[2]) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let Some(when) = time.checked_mul(unit).and_then(|t| t.checked_add(base)) else {
        return Reply::error(errors::invalid_expire(name));
    };

    let now = ctx.now;
    let key = &args[1];
    let db = ctx.db();
    let Some(entry) = db.get_mut(key, now) else {
        return Reply::Integer(0);
    };
    // 0 means no TTL, which GT and LT treat as an infinite one.
    let current = entry.expire_at;
    let refused = (nx && current != 0)
        || (xx && current == 0)
        || (gt && (current == 0 || when <= current as i64))
        || (lt && current != 0 && when >= current as i64);
    if refused {
        return Reply::Integer(0);
    }
    // A deadline already past deletes the key, and Redis reports a `del`.
    if when <= now as i64 {
        db.remove(key, now);
        ctx.signal(class::GENERIC, "del", key);
    } else {
        db.set_expiry(key, when as u64, now);
        ctx.signal(class::GENERIC, "expire", key);
    }
    Reply::Integer(1)
}

/// `TTL key`: seconds left, rounded to nearest; -1 without TTL, -2 if missing.
pub fn ttl(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    report_expiry(ctx, args, false, false)
}

/// `PTTL key`: milliseconds left; -1 without TTL, -2 if missing.
pub fn pttl(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    report_expiry(ctx, args, true, false)
}

/// `EXPIRETIME key`: the deadline as a Unix time in seconds; -1, -2 as TTL.
pub fn expiretime(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    report_expiry(ctx, args, false, true)
}

/// `PEXPIRETIME key`: the deadline in Unix milliseconds; -1, -2 as TTL.
pub fn pexpiretime(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    report_expiry(ctx, args, true, true)
}

fn report_expiry(ctx: &mut Ctx, args: &[Bytes], millis: bool, absolute: bool) -> Reply {
    let now = ctx.now;
    let Some(entry) = ctx.db().get_read(&args[1], now) else {
        return Reply::Integer(-2);
    };
    if entry.expire_at == 0 {
        return Reply::Integer(-1);
    }
    let at = entry.expire_at.min(i64::MAX as u64) as i64;
    let ms = if absolute {
        at
    } else {
        at.saturating_sub(now as i64).max(0)
    };
    // Redis rounds seconds to nearest, for the deadline too.
    Reply::Integer(if millis {
        ms
    } else {
        ms.saturating_add(500) / 1000
    })
}

/// `PERSIST key`: removes the TTL; 1 if there was one, else 0.
pub fn persist(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let now = ctx.now;
    let db = ctx.db();
    match db.get_mut(&args[1], now) {
        Some(entry) if entry.expire_at != 0 => {
            db.set_expiry(&args[1], 0, now);
            ctx.signal(class::GENERIC, "persist", &args[1]);
            Reply::Integer(1)
        }
        _ => Reply::Integer(0),
    }
}

/// `KEYS pattern`: this shard's live keys matching a glob pattern.
pub fn keys(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let now = ctx.now;
    // Only the exact pattern `*` takes Redis's match-everything shortcut,
    // which is also the only way the empty key is listed.
    let glob = (args[1].as_ref() != b"*").then(|| Glob::new(&args[1]));
    let mut found = Vec::new();
    if let Some(db) = existing_db(ctx) {
        for slot in db.slots() {
            for (key, entry) in db.slot_entries(slot) {
                if !entry.is_expired(now) && glob.as_ref().is_none_or(|g| g.matches(key)) {
                    found.push(Reply::bulk_from(key));
                }
            }
        }
    }
    Reply::Array(found)
}

/// The options SCAN and HSCAN share, parsed as Redis's `scanGenericCommand`.
pub(crate) struct ScanOptions {
    pub count: usize,
    /// None for no MATCH, or for the exact pattern `*`.
    pub pattern: Option<Glob>,
    pub type_name: Option<Bytes>,
}

impl ScanOptions {
    pub const DEFAULT_COUNT: usize = 10;

    /// Parses `[MATCH pattern] [COUNT count] [TYPE type]`, in any order,
    /// later ones winning; TYPE only where `allow_type`.
    pub fn parse(opts: &[Bytes], allow_type: bool) -> Result<ScanOptions, Reply> {
        let mut parsed = ScanOptions {
            count: Self::DEFAULT_COUNT,
            pattern: None,
            type_name: None,
        };
        let mut i = 0;
        while i < opts.len() {
            let (name, has_value) = (&opts[i], i + 1 < opts.len());
            if name.eq_ignore_ascii_case(b"count") && has_value {
                let count = int_arg(&opts[i + 1])?;
                if count < 1 {
                    return Err(Reply::error(errors::SYNTAX));
                }
                parsed.count = usize::try_from(count).unwrap_or(usize::MAX);
            } else if name.eq_ignore_ascii_case(b"match") && has_value {
                let pattern = &opts[i + 1];
                parsed.pattern = (pattern.as_ref() != b"*").then(|| Glob::new(pattern));
            } else if name.eq_ignore_ascii_case(b"type") && allow_type && has_value {
                parsed.type_name = Some(opts[i + 1].clone());
            } else {
                return Err(Reply::error(errors::SYNTAX));
            }
            i += 2;
        }
        Ok(parsed)
    }

    pub fn matches(&self, name: &[u8]) -> bool {
        self.pattern.as_ref().is_none_or(|g| g.matches(name))
    }

    /// An unknown type name matches nothing rather than failing (Redis 7.0).
    fn type_matches(&self, value: &Value) -> bool {
        self.type_name
            .as_ref()
            .is_none_or(|t| t.eq_ignore_ascii_case(value.type_name().as_bytes()))
    }
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`
///
/// The cursor is a slot number, and the network layer sends the call to the
/// shard owning that slot. This walks whole slots from there to the end of
/// the shard's range until at least COUNT keys were examined, and replies
/// the next slot to visit ("0" after the last slot). Since a slot is always
/// read in one go, a key present for the whole scan is returned exactly
/// once, however the tables grow or shrink in between.
pub fn scan(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let cursor = match scan_cursor(&args[1]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let opts = match ScanOptions::parse(&args[2..], true) {
        Ok(o) => o,
        Err(e) => return e,
    };
    if cursor >= SLOT_COUNT as u64 {
        return scan_reply(0, Vec::new());
    }
    let range = ctx.shard.slots();
    let now = ctx.now;
    let mut slot = (cursor as u16).max(range.start);
    let mut found = Vec::new();
    match existing_db(ctx) {
        None => slot = slot.max(range.end),
        Some(db) => {
            let mut examined = 0;
            while slot < range.end && examined < opts.count {
                examined += db.slot_len(slot);
                for (key, entry) in db.slot_entries(slot) {
                    if !entry.is_expired(now)
                        && opts.matches(key)
                        && opts.type_matches(&entry.value)
                    {
                        found.push(Reply::bulk_from(key));
                    }
                }
                slot += 1;
            }
        }
    }
    let next = if slot as usize >= SLOT_COUNT {
        0
    } else {
        slot as u64
    };
    scan_reply(next, found)
}

/// `[cursor, [items...]]`, the cursor as a bulk string as Redis sends it.
pub(crate) fn scan_reply(next: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::bulk(next.to_string()), Reply::Array(items)])
}

/// `RENAME key newkey`: moves the value and its TTL, replacing any value at
/// `newkey`. Both keys are on this shard; cross-shard renames are done by
/// the network layer.
pub fn rename(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    rename_key(ctx, args, false)
}

/// `RENAMENX key newkey`: RENAME only if `newkey` does not exist; 1 or 0.
pub fn renamenx(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    rename_key(ctx, args, true)
}

fn rename_key(ctx: &mut Ctx, args: &[Bytes], nx: bool) -> Reply {
    let (from, to) = (&args[1], &args[2]);
    let now = ctx.now;
    let db = ctx.db();
    if !db.contains(from, now) {
        return Reply::error(errors::NO_SUCH_KEY);
    }
    let done = if nx { Reply::Integer(1) } else { Reply::Ok };
    if from == to {
        // Redis replies as if renamed, except RENAMENX, for which the
        // target exists.
        return if nx { Reply::Integer(0) } else { done };
    }
    if nx && db.contains(to, now) {
        return Reply::Integer(0);
    }
    let Some(entry) = db.remove(from, now) else {
        return Reply::error(errors::NO_SUCH_KEY);
    };
    let list = matches!(entry.value, Value::List(_));
    db.insert(to, entry, now);
    renamed(ctx, from, to, list);
    done
}

/// The events of a completed RENAME, in Redis's order: the target is
/// added (`new`), then `rename_from` and `rename_to`.
fn renamed(ctx: &mut Ctx, from: &[u8], to: &[u8], list: bool) {
    ctx.notify(class::NEW, "new", to);
    renamed_from(ctx, from);
    ctx.signal(class::GENERIC, "rename_to", to);
    added_list(ctx, to, list);
}

/// A list that arrives under a new name serves clients blocked on that
/// name, as Redis's `dbAdd` signals the key ready.
fn added_list(ctx: &mut Ctx, key: &[u8], list: bool) {
    if list {
        let db = ctx.db;
        ctx.shard.signals.key_ready(db, key);
    }
}

/// The source's half of a RENAME's events (a cross-shard RENAME signals
/// each half on the shard that owns the key).
pub fn renamed_from(ctx: &mut Ctx, from: &[u8]) {
    ctx.signal(class::GENERIC, "rename_from", from);
}

/// The target's half of a RENAME's events; `list` says whether the value
/// moved is a list.
pub fn renamed_to(ctx: &mut Ctx, to: &[u8], list: bool) {
    ctx.notify(class::NEW, "new", to);
    ctx.signal(class::GENERIC, "rename_to", to);
    added_list(ctx, to, list);
}

/// `RANDOMKEY`: a random live key of this shard, or nil.
pub fn randomkey(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    if existing_db(ctx).is_none() {
        return Reply::Nil;
    }
    let (now, seed) = (ctx.now, ctx.shard.next_random());
    match ctx.db().random_key(now, seed) {
        Some(key) => Reply::bulk_from(&key),
        None => Reply::Nil,
    }
}

/// `DBSIZE`: this shard's key count, expired keys not yet reclaimed
/// included, as in Redis.
pub fn dbsize(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Reply::Integer(existing_db(ctx).map_or(0, |db| db.len()) as i64)
}

/// `FLUSHDB [ASYNC|SYNC]`: empties the selected database on this shard.
/// ASYNC frees at once too: a shard has no background thread to hand the
/// memory to.
pub fn flushdb(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if let Err(e) = flush_mode(args) {
        return e;
    }
    if existing_db(ctx).is_some() {
        let db = ctx.db;
        touch_watched(ctx, Some(db));
        ctx.db().clear();
        if let Some(changes) = &mut ctx.shard.signals.changes {
            changes.push(Change::FlushDb(db));
        }
    }
    Reply::Ok
}

/// Redis's `signalFlushedDb`: every watched key that exists in the flushed
/// database(s) counts as modified. Flushes publish no keyspace event.
fn touch_watched(ctx: &mut Ctx, only: Option<usize>) {
    if ctx.shard.signals.watched.is_empty() {
        return;
    }
    let now = ctx.now;
    let keys: Vec<(usize, Bytes)> = ctx
        .shard
        .signals
        .watched
        .keys()
        .filter(|(db, _)| only.is_none_or(|o| o == *db))
        .cloned()
        .collect();
    for (db, key) in keys {
        if ctx.shard.db(db).contains(&key, now) {
            ctx.shard.signals.modified(db, &key);
        }
    }
}

/// `FLUSHALL [ASYNC|SYNC]`: empties every database on this shard.
pub fn flushall(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if let Err(e) = flush_mode(args) {
        return e;
    }
    touch_watched(ctx, None);
    ctx.shard.dbs_mut().for_each(|db| db.clear());
    if let Some(changes) = &mut ctx.shard.signals.changes {
        changes.push(Change::FlushAll);
    }
    Reply::Ok
}

fn flush_mode(args: &[Bytes]) -> Result<(), Reply> {
    match args {
        [_] => Ok(()),
        [_, mode] if mode.eq_ignore_ascii_case(b"async") || mode.eq_ignore_ascii_case(b"sync") => {
            Ok(())
        }
        _ => Err(Reply::error(errors::SYNTAX)),
    }
}

#[cfg(test)]
mod expiry_extremes {
    use crate::cmd::testing::run;
    use crate::shard::Shard;
    use proto::Reply;

    #[test]
    fn deadlines_near_the_end_of_time_do_not_overflow() {
        let mut s = Shard::new(0, 1);
        run(&mut s, 1_000, &["set", "k", "v"]);
        let max = i64::MAX.to_string();
        let near = (i64::MAX - 1).to_string();
        for at in [max.as_str(), near.as_str()] {
            assert_eq!(
                run(&mut s, 1_000, &["pexpireat", "k", at]),
                Reply::Integer(1)
            );
            assert_eq!(
                run(&mut s, 1_000, &["expiretime", "k"]),
                Reply::Integer(i64::MAX / 1000)
            );
            assert!(matches!(run(&mut s, 1_000, &["ttl", "k"]), Reply::Integer(n) if n > 0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::*;
    use crate::keyspace::string_entry;
    use crate::shard::{shard_of_key, Shard};
    use crate::value::Entry;
    use std::collections::HashSet;

    const T0: u64 = 1_700_000_000_000;

    fn put(shard: &mut Shard, key: &str, expire_at: u64) {
        let entry = Entry {
            expire_at,
            ..string_entry(b"v")
        };
        shard.db(0).insert(key.as_bytes(), entry, T0);
    }

    fn sorted_keys(reply: Reply) -> Vec<String> {
        let Reply::Array(items) = reply else {
            panic!("not an array: {reply:?}")
        };
        let mut keys: Vec<String> = items
            .into_iter()
            .map(|r| match r {
                Reply::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
                other => panic!("not a bulk: {other:?}"),
            })
            .collect();
        keys.sort();
        keys
    }

    #[test]
    fn del_exists_touch_count_live_keys() {
        let mut s = Shard::new(0, 1);
        put(&mut s, "a", 0);
        put(&mut s, "b", 0);
        put(&mut s, "gone", T0 + 10);
        assert_eq!(run(&mut s, T0, &["exists", "a", "a", "b", "nope"]), int(3));
        assert_eq!(run(&mut s, T0, &["touch", "a", "nope"]), int(1));
        assert_eq!(run(&mut s, T0 + 10, &["exists", "gone"]), int(0));
        assert_eq!(run(&mut s, T0, &["del", "a", "a", "nope", "gone"]), int(1));
        assert_eq!(run(&mut s, T0, &["unlink", "b"]), int(1));
        assert_eq!(run(&mut s, T0, &["dbsize"]), int(0));
    }

    #[test]
    fn type_names() {
        let mut s = Shard::new(0, 1);
        put(&mut s, "s", 0);
        assert_eq!(run(&mut s, T0, &["hset", "h", "f", "v"]), int(1));
        assert_eq!(run(&mut s, T0, &["type", "s"]), Reply::simple("string"));
        assert_eq!(run(&mut s, T0, &["type", "h"]), Reply::simple("hash"));
        assert_eq!(run(&mut s, T0, &["type", "x"]), Reply::simple("none"));
    }

    #[test]
    fn expire_sets_and_reports_ttl() {
        let mut s = Shard::new(0, 1);
        put(&mut s, "k", 0);
        assert_eq!(run(&mut s, T0, &["ttl", "k"]), int(-1));
        assert_eq!(run(&mut s, T0, &["pttl", "k"]), int(-1));
        assert_eq!(run(&mut s, T0, &["expiretime", "k"]), int(-1));
        assert_eq!(run(&mut s, T0, &["ttl", "nope"]), int(-2));
        assert_eq!(run(&mut s, T0, &["pexpiretime", "nope"]), int(-2));
        assert_eq!(run(&mut s, T0, &["expire", "k", "10"]), int(1));
        assert_eq!(run(&mut s, T0, &["pttl", "k"]), int(10_000));
        assert_eq!(run(&mut s, T0 + 4_400, &["ttl", "k"]), int(6));
        assert_eq!(
            run(&mut s, T0 + 4_600, &["ttl", "k"]),
            int(5),
            "rounds to nearest"
        );
        assert_eq!(run(&mut s, T0 + 9_999, &["ttl", "k"]), int(0));
        assert_eq!(
            run(&mut s, T0, &["pexpiretime", "k"]),
            int((T0 + 10_000) as i64)
        );
        assert_eq!(
            run(&mut s, T0, &["expiretime", "k"]),
            int((T0 / 1000 + 10) as i64)
        );
        assert_eq!(run(&mut s, T0 + 10_000, &["ttl", "k"]), int(-2));
        assert_eq!(run(&mut s, T0 + 10_000, &["expire", "k", "10"]), int(0));
    }

    #[test]
    fn expire_units_and_absolute_times() {
        let mut s = Shard::new(0, 1);
        put(&mut s, "k", 0);
        assert_eq!(run(&mut s, T0, &["pexpire", "k", "1500"]), int(1));
        assert_eq!(run(&mut s, T0, &["ttl", "k"]), int(2));
        assert_eq!(
            run(&mut s, T0, &["expiretime", "k"]),
            int((T0 / 1000) as i64 + 2)
        );
        let at = (T0 / 1000 + 100).to_string();
        assert_eq!(run(&mut s, T0, &["expireat", "k", &at]), int(1));
        assert_eq!(run(&mut s, T0, &["ttl", "k"]), int(100));
        let at_ms = (T0 + 123).to_string();
        assert_eq!(run(&mut s, T0, &["pexpireat", "k", &at_ms]), int(1));
        assert_eq!(run(&mut s, T0, &["pttl", "k"]), int(123));
        assert_eq!(
            run(&mut s, T0, &["pexpiretime", "k"]),
            int((T0 + 123) as i64)
        );
    }

    #[test]
    fn past_deadlines_delete() {
        let mut s = Shard::new(0, 1);
        for k in ["a", "b", "c", "d", "e"] {
            put(&mut s, k, 0);
        }
        assert_eq!(run(&mut s, T0, &["expire", "a", "0"]), int(1));
        assert_eq!(run(&mut s, T0, &["pexpire", "b", "-5"]), int(1));
        assert_eq!(run(&mut s, T0, &["expireat", "c", "1"]), int(1));
        let now = T0.to_string();
        assert_eq!(
            run(&mut s, T0, &["pexpireat", "d", &now]),
            int(1),
            "a deadline of now is past"
        );
        assert_eq!(
            run(&mut s, T0, &["expire", "e", "-9223372036854775"]),
            int(1)
        );
        assert_eq!(run(&mut s, T0, &["dbsize"]), int(0));
        assert_eq!(run(&mut s, T0, &["expire", "a", "0"]), int(0));
    }

    #[test]
    fn expire_errors() {
        let mut s = Shard::new(0, 1);
        put(&mut s, "k", 0);
        let invalid = |c: &str| err(&format!("ERR invalid expire time in '{c}' command"));
        assert_eq!(
            run(&mut s, T0, &["expire", "k", "9223372036854775807"]),
            invalid("expire")
        );
        assert_eq!(
            run(&mut s, T0, &["expire", "k", "-9223372036854776"]),
            invalid("expire")
        );
        assert_eq!(
            run(&mut s, T0, &["pexpire", "k", "9223372036854775807"]),
            invalid("pexpire")
        );
        assert_eq!(
            run(&mut s, T0, &["expireat", "k", "9223372036854775807"]),
            invalid("expireat")
        );
        assert_eq!(
            run(&mut s, T0, &["pexpireat", "k", "9223372036854775807"]),
            int(1),
            "no base to add"
        );
        assert_eq!(
            run(&mut s, T0, &["expire", "k", "abc"]),
            err(errors::NOT_INTEGER)
        );
        assert_eq!(
            run(&mut s, T0, &["expire", "k", "1.5"]),
            err(errors::NOT_INTEGER)
        );
        assert_eq!(
            run(&mut s, T0, &["expire", "k", "abc", "foo"]),
            err("ERR Unsupported option foo")
        );
        assert_eq!(
            run(&mut s, T0, &["expire", "k", "10", "nx", "xx"]),
            err(errors::EXPIRE_NX_WITH_OTHERS)
        );
        assert_eq!(
            run(&mut s, T0, &["expire", "nope", "10", "NX", "gt"]),
            err(errors::EXPIRE_NX_WITH_OTHERS)
        );
        assert_eq!(
            run(&mut s, T0, &["expire", "k", "10", "nx", "lt"]),
            err(errors::EXPIRE_NX_WITH_OTHERS)
        );
        assert_eq!(
            run(&mut s, T0, &["expire", "k", "10", "gt", "lt"]),
            err(errors::EXPIRE_GT_WITH_LT)
        );
        assert_eq!(
            run(&mut s, T0, &["expire", "k", "10", "xx", "lt", "xx"]),
            int(1),
            "repeats are fine"
        );
    }

    #[test]
    fn expire_conditions() {
        let mut s = Shard::new(0, 1);
        put(&mut s, "k", 0);
        // No TTL: XX and GT refuse (GT sees an infinite TTL), LT and NX accept.
        assert_eq!(run(&mut s, T0, &["expire", "k", "100", "xx"]), int(0));
        assert_eq!(run(&mut s, T0, &["expire", "k", "100", "gt"]), int(0));
        assert_eq!(run(&mut s, T0, &["ttl", "k"]), int(-1));
        assert_eq!(run(&mut s, T0, &["expire", "k", "100", "lt"]), int(1));
        put(&mut s, "k", 0);
        assert_eq!(run(&mut s, T0, &["expire", "k", "100", "nx"]), int(1));
        // TTL 100 s.
        assert_eq!(run(&mut s, T0, &["expire", "k", "50", "nx"]), int(0));
        assert_eq!(
            run(&mut s, T0, &["expire", "k", "100", "gt"]),
            int(0),
            "equal is not greater"
        );
        assert_eq!(
            run(&mut s, T0, &["expire", "k", "100", "lt"]),
            int(0),
            "equal is not less"
        );
        assert_eq!(run(&mut s, T0, &["expire", "k", "50", "gt"]), int(0));
        assert_eq!(run(&mut s, T0, &["expire", "k", "200", "lt"]), int(0));
        assert_eq!(run(&mut s, T0, &["expire", "k", "200", "gt", "xx"]), int(1));
        assert_eq!(run(&mut s, T0, &["ttl", "k"]), int(200));
        assert_eq!(run(&mut s, T0, &["expire", "k", "150", "LT"]), int(1));
        assert_eq!(run(&mut s, T0, &["ttl", "k"]), int(150));
        assert_eq!(
            run(&mut s, T0, &["expire", "k", "-1", "lt"]),
            int(1),
            "LT to the past deletes"
        );
        assert_eq!(run(&mut s, T0, &["exists", "k"]), int(0));
        assert_eq!(
            run(&mut s, T0, &["expire", "k", "10", "nx"]),
            int(0),
            "missing key"
        );
    }

    #[test]
    fn persist_removes_the_ttl() {
        let mut s = Shard::new(0, 1);
        put(&mut s, "k", T0 + 5_000);
        put(&mut s, "forever", 0);
        assert_eq!(run(&mut s, T0, &["persist", "k"]), int(1));
        assert_eq!(run(&mut s, T0, &["persist", "k"]), int(0));
        assert_eq!(run(&mut s, T0, &["persist", "forever"]), int(0));
        assert_eq!(run(&mut s, T0, &["persist", "nope"]), int(0));
        assert_eq!(run(&mut s, T0 + 60_000, &["ttl", "k"]), int(-1));
        assert_eq!(s.db(0).volatile_len(), 0);
    }

    #[test]
    fn keys_matches_live_keys_only() {
        let mut s = Shard::new(0, 1);
        for k in ["user:1", "user:2", "user:10", "session:1", ""] {
            put(&mut s, k, 0);
        }
        put(&mut s, "user:3", T0 + 1);
        assert_eq!(
            sorted_keys(run(&mut s, T0 + 1, &["keys", "user:?"])),
            ["user:1", "user:2"]
        );
        assert_eq!(
            sorted_keys(run(&mut s, T0 + 1, &["keys", "user:*"])),
            ["user:1", "user:10", "user:2"]
        );
        assert_eq!(
            sorted_keys(run(&mut s, T0, &["keys", "user:[13]"])),
            ["user:1", "user:3"]
        );
        assert_eq!(
            sorted_keys(run(&mut s, T0 + 1, &["keys", "*"])).len(),
            5,
            "the empty key too"
        );
        assert_eq!(
            sorted_keys(run(&mut s, T0 + 1, &["keys", "**"])).len(),
            4,
            "as Redis: no empty key"
        );
        assert_eq!(run(&mut s, T0, &["keys", "nothing*"]), Reply::Array(vec![]));
        let mut other_db = run_in(&mut s, 3, T0, &[b"keys", b"*"]);
        assert_eq!(other_db, Reply::Array(vec![]));
        other_db = run_in(&mut s, 3, T0, &[b"dbsize"]);
        assert_eq!(other_db, int(0));
        assert_eq!(
            s.dbs().count(),
            1,
            "reading an unused database does not create it"
        );
    }

    fn scan_page(s: &mut Shard, args: &[&str]) -> (u64, Vec<String>) {
        let Reply::Array(mut parts) = run(s, T0, args) else {
            panic!("scan reply")
        };
        let keys = sorted_keys(parts.pop().unwrap());
        let Some(Reply::Bulk(cursor)) = parts.pop() else {
            panic!("cursor")
        };
        (std::str::from_utf8(&cursor).unwrap().parse().unwrap(), keys)
    }

    #[test]
    fn scan_errors() {
        let mut s = Shard::new(0, 1);
        assert_eq!(run(&mut s, T0, &["scan", "x"]), err(errors::CURSOR));
        assert_eq!(run(&mut s, T0, &["scan", " 5"]), err(errors::CURSOR));
        assert_eq!(run(&mut s, T0, &["scan", "5x"]), err(errors::CURSOR));
        assert_eq!(run(&mut s, T0, &["scan", "-"]), err(errors::CURSOR));
        assert_eq!(
            run(&mut s, T0, &["scan", "18446744073709551616"]),
            err(errors::CURSOR)
        );
        assert_eq!(
            run(&mut s, T0, &["scan", "0", "count", "0"]),
            err(errors::SYNTAX)
        );
        assert_eq!(
            run(&mut s, T0, &["scan", "0", "count", "-1"]),
            err(errors::SYNTAX)
        );
        assert_eq!(
            run(&mut s, T0, &["scan", "0", "count", "x"]),
            err(errors::NOT_INTEGER)
        );
        assert_eq!(
            run(&mut s, T0, &["scan", "0", "count"]),
            err(errors::SYNTAX)
        );
        assert_eq!(
            run(&mut s, T0, &["scan", "0", "match"]),
            err(errors::SYNTAX)
        );
        assert_eq!(
            run(&mut s, T0, &["scan", "0", "foo", "bar"]),
            err(errors::SYNTAX)
        );
        // Cursors strtoul accepts: signs, leading zeros, empty.
        for cursor in ["+0", "00", "", "-0"] {
            assert_eq!(
                scan_page(&mut s, &["scan", cursor]),
                (0, vec![]),
                "cursor {cursor:?}"
            );
        }
        assert_eq!(
            scan_page(&mut s, &["scan", "-1"]),
            (0, vec![]),
            "wraps past the last slot"
        );
        assert_eq!(scan_page(&mut s, &["scan", "16384"]), (0, vec![]));
    }

    #[test]
    fn scan_filters_by_match_type_and_expiry() {
        let mut s = Shard::new(0, 1);
        for k in ["a1", "a2", "b1"] {
            put(&mut s, k, 0);
        }
        put(&mut s, "a3", T0);
        assert_eq!(run(&mut s, T0, &["hset", "ah", "f", "v"]), int(1));
        let all = ["scan", "0", "count", "100000"];
        assert_eq!(
            scan_page(&mut s, &all),
            (0, vec!["a1".into(), "a2".into(), "ah".into(), "b1".into()])
        );
        let (next, keys) = scan_page(
            &mut s,
            &[
                "scan", "0", "match", "a*", "count", "100000", "type", "STRING",
            ],
        );
        assert_eq!((next, keys), (0, vec!["a1".into(), "a2".into()]));
        let (_, keys) = scan_page(&mut s, &["scan", "0", "type", "hash", "count", "100000"]);
        assert_eq!(keys, ["ah"]);
        let (_, keys) = scan_page(&mut s, &["scan", "0", "type", "list", "count", "100000"]);
        assert!(keys.is_empty(), "unknown types match nothing");
        let (_, keys) = scan_page(
            &mut s,
            &["scan", "0", "match", "*", "match", "?1", "count", "100000"],
        );
        assert_eq!(keys, ["a1", "b1"], "the last MATCH wins");
    }

    #[test]
    fn scan_pages_through_whole_slots() {
        let mut s = Shard::new(0, 1);
        // Hash tags put three keys in each of two slots.
        for k in ["{x}1", "{x}2", "{x}3", "{y}1", "{y}2", "{y}3"] {
            put(&mut s, k, 0);
        }
        let slot_x = proto::slot::key_slot(b"{x}");
        let slot_y = proto::slot::key_slot(b"{y}");
        let (first, second) = if slot_x < slot_y {
            ("{x}", "{y}")
        } else {
            ("{y}", "{x}")
        };
        let (next, keys) = scan_page(&mut s, &["scan", "0", "count", "1"]);
        assert_eq!(next, slot_x.min(slot_y) as u64 + 1);
        assert_eq!(
            keys,
            [1, 2, 3].map(|i| format!("{first}{i}")),
            "a slot is never split"
        );
        let (next, keys) = scan_page(&mut s, &["scan", &next.to_string(), "count", "2"]);
        assert_eq!(next, slot_x.max(slot_y) as u64 + 1);
        assert_eq!(keys, [1, 2, 3].map(|i| format!("{second}{i}")));
        assert_eq!(scan_page(&mut s, &["scan", &next.to_string()]), (0, vec![]));
    }

    #[test]
    fn scan_across_two_shards_returns_every_key_once() {
        let mut shards = [Shard::new(0, 2), Shard::new(1, 2)];
        let mut expected = HashSet::new();
        for i in 0..3000 {
            let key = format!("session:{i}");
            let owner = shard_of_key(key.as_bytes(), 2);
            shards[owner]
                .db(0)
                .insert(key.as_bytes(), string_entry(b"v"), T0);
            expected.insert(key);
        }
        for count in ["1", "10", "500"] {
            let mut seen = Vec::new();
            let mut cursor = 0u64;
            let mut calls = 0;
            loop {
                // What the network layer does: route by the cursor's slot.
                let owner = crate::shard::shard_of_slot(cursor as u16, 2);
                let (next, keys) = scan_page(
                    &mut shards[owner],
                    &["scan", &cursor.to_string(), "count", count],
                );
                seen.extend(keys);
                calls += 1;
                assert!(next == 0 || next > cursor, "the cursor moves forward");
                if next == 0 {
                    break;
                }
                cursor = next;
            }
            assert_eq!(
                seen.len(),
                expected.len(),
                "no duplicates with count {count}"
            );
            assert_eq!(seen.into_iter().collect::<HashSet<_>>(), expected);
            assert!(calls > 1);
        }
        // A shard with nothing hands over to the next shard's first slot.
        let mut empty = Shard::new(0, 2);
        assert_eq!(scan_page(&mut empty, &["scan", "0"]), (8192, vec![]));
    }

    #[test]
    fn rename_moves_value_and_ttl() {
        let mut s = Shard::new(0, 1);
        put(&mut s, "{t}a", T0 + 5_000);
        put(&mut s, "{t}b", 0);
        assert_eq!(run(&mut s, T0, &["rename", "{t}a", "{t}b"]), Reply::Ok);
        assert_eq!(run(&mut s, T0, &["exists", "{t}a"]), int(0));
        assert_eq!(run(&mut s, T0, &["pttl", "{t}b"]), int(5_000));
        assert_eq!(run(&mut s, T0, &["dbsize"]), int(1));
        assert_eq!(s.db(0).volatile_len(), 1);
        assert_eq!(
            run(&mut s, T0, &["rename", "{t}a", "{t}c"]),
            err(errors::NO_SUCH_KEY)
        );
        assert_eq!(
            run(&mut s, T0, &["renamenx", "{t}a", "{t}c"]),
            err(errors::NO_SUCH_KEY)
        );
        assert_eq!(
            run(&mut s, T0, &["rename", "{t}a", "{t}a"]),
            err(errors::NO_SUCH_KEY)
        );
        assert_eq!(run(&mut s, T0, &["rename", "{t}b", "{t}b"]), Reply::Ok);
        assert_eq!(run(&mut s, T0, &["renamenx", "{t}b", "{t}b"]), int(0));
        assert_eq!(
            run(&mut s, T0 + 5_000, &["rename", "{t}b", "{t}c"]),
            err(errors::NO_SUCH_KEY),
            "expired"
        );
    }

    #[test]
    fn renamenx_only_to_a_free_name() {
        let mut s = Shard::new(0, 1);
        put(&mut s, "a", 0);
        put(&mut s, "b", 0);
        put(&mut s, "old", T0 + 1);
        assert_eq!(run(&mut s, T0, &["renamenx", "a", "b"]), int(0));
        assert_eq!(run(&mut s, T0, &["exists", "a", "b"]), int(2));
        assert_eq!(
            run(&mut s, T0 + 1, &["renamenx", "a", "old"]),
            int(1),
            "an expired target is free"
        );
        assert_eq!(run(&mut s, T0 + 1, &["renamenx", "old", "c"]), int(1));
        assert_eq!(sorted_keys(run(&mut s, T0 + 1, &["keys", "*"])), ["b", "c"]);
    }

    #[test]
    fn randomkey_returns_live_keys() {
        let mut s = Shard::new(0, 1);
        assert_eq!(run(&mut s, T0, &["randomkey"]), Reply::Nil);
        put(&mut s, "dead", T0);
        assert_eq!(run(&mut s, T0, &["randomkey"]), Reply::Nil);
        for k in ["a", "b", "c"] {
            put(&mut s, k, 0);
        }
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let Reply::Bulk(k) = run(&mut s, T0, &["randomkey"]) else {
                panic!("no key")
            };
            seen.insert(k);
        }
        assert!(seen
            .iter()
            .all(|k| ["a", "b", "c"].contains(&std::str::from_utf8(k).unwrap())));
        assert!(seen.len() > 1, "not always the same key");
    }

    #[test]
    fn flush_commands() {
        let mut s = Shard::new(0, 1);
        put(&mut s, "a", T0 + 10);
        s.db(2).insert(b"b", string_entry(b"v"), T0);
        assert_eq!(run(&mut s, T0, &["flushdb", "now"]), err(errors::SYNTAX));
        assert_eq!(
            run(&mut s, T0, &["flushdb", "async", "sync"]),
            err(errors::SYNTAX)
        );
        assert_eq!(run(&mut s, T0, &["flushall", "x"]), err(errors::SYNTAX));
        assert_eq!(run(&mut s, T0, &["dbsize"]), int(1));
        assert_eq!(run(&mut s, T0, &["flushdb", "ASYNC"]), Reply::Ok);
        assert_eq!(run(&mut s, T0, &["dbsize"]), int(0));
        assert_eq!(s.db(0).volatile_len(), 0);
        assert_eq!(s.db(2).len(), 1, "FLUSHDB leaves other databases");
        assert_eq!(run(&mut s, T0, &["flushall", "sync"]), Reply::Ok);
        assert_eq!(s.db(2).len(), 0);
        assert_eq!(run_in(&mut s, 7, T0, &[b"flushdb"]), Reply::Ok);
        assert_eq!(run(&mut s, T0, &["flushall"]), Reply::Ok);
    }

    #[test]
    fn reads_count_hits_and_misses_writes_do_not() {
        let mut s = Shard::new(0, 1);
        put(&mut s, "k", 0);
        run(&mut s, T0, &["exists", "k", "nope"]);
        run(&mut s, T0, &["ttl", "k"]);
        run(&mut s, T0, &["expire", "nope", "10"]);
        run(&mut s, T0, &["del", "nope"]);
        let stats = s.db(0).stats;
        assert_eq!((stats.hits, stats.misses), (2, 1));
    }
}
