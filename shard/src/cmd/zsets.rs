//! Sorted set commands on a single key. Rate limiters keep a window of
//! request times (ZADD, ZREMRANGEBYSCORE, ZCARD) and ticket registries keep
//! tickets by expiry time.
//!
//! A missing key reads as an empty sorted set and writes create it; a key
//! of another type gets WRONGTYPE. A sorted set never stays empty: removing
//! or popping its last member removes the key, as Redis does. Arguments are
//! validated in Redis's order (ranges and scores before the key's type), so
//! that the same mistake gets the same error.

use crate::cmd::keys::{scan_reply, ScanOptions};
use crate::cmd::typed;
use crate::cmd::util::{int_arg, scan_cursor};
use crate::cmd::zset::{LexBound, ScoreBound, ZSetValue};
use crate::exec::Ctx;
use crate::keyspace::Db;
use crate::signals::class;
use crate::value::{Entry, Value};
use bytes::Bytes;
use proto::errors;
use proto::reply::format_double;
use proto::Reply;

const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
const RANGE_NOT_FLOAT: &str = "ERR min or max is not a float";
const RANGE_NOT_LEX: &str = "ERR min or max not valid string range item";
const XX_AND_NX: &str = "ERR XX and NX options at the same time are not compatible";
const GT_LT_NX: &str = "ERR GT, LT, and/or NX options at the same time are not compatible";
const INCR_SINGLE_PAIR: &str = "ERR INCR option supports a single increment-element pair";
const RESULT_NAN: &str = "ERR resulting score is not a number (NaN)";
const LIMIT_NEEDS_RANGE: &str =
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
const WITHSCORES_BYLEX: &str =
    "ERR syntax error, WITHSCORES not supported in combination with BYLEX";

/// Removes `key` if its sorted set was emptied; returns whether it did.
fn drop_if_empty(db: &mut Db, key: &[u8], now: u64) -> bool {
    if let Some(Entry {
        value: Value::ZSet(z),
        ..
    }) = db.get_mut(key, now)
    {
        if z.is_empty() {
            db.remove(key, now);
            return true;
        }
    }
    false
}

/// Parses a score as Redis's `getDoubleFromObject` (ZADD, ZINCRBY): the
/// whole argument, no leading space, no NaN, and no overflow to infinity
/// or underflow to zero (only an explicit `inf` is infinite).
fn parse_score(arg: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(arg).ok()?;
    if text.is_empty() || text.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let v: f64 = text.parse().ok()?;
    let unsigned = text.trim_start_matches(['+', '-']);
    let spelled_inf = unsigned.len() >= 3 && unsigned[..3].eq_ignore_ascii_case("inf");
    let mantissa = unsigned.split(['e', 'E']).next().unwrap_or("");
    let underflow = v == 0.0 && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
    if v.is_nan() || (v.is_infinite() && !spelled_inf) || underflow {
        return None;
    }
    // Redis replies a score of -0 as 0; adding 0.0 turns -0.0 into 0.0, and
    // sums of scores without a -0.0 never make one.
    Some(v + 0.0)
}

/// Parses one end of a score range as Redis's `zslParseRange`, which uses
/// plain `strtod`: leading spaces are skipped, an empty value reads as 0,
/// an overflow saturates to infinity; NaN is rejected.
fn parse_score_bound(arg: &[u8]) -> Option<ScoreBound> {
    let (exclusive, text) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let text = std::str::from_utf8(text).ok()?;
    let value = if text.is_empty() {
        0.0
    } else {
        text.trim_start_matches(|c: char| c.is_ascii_whitespace())
            .parse::<f64>()
            .ok()?
    };
    (!value.is_nan()).then_some(ScoreBound { value, exclusive })
}

fn parse_score_range(min: &[u8], max: &[u8]) -> Result<(ScoreBound, ScoreBound), Reply> {
    match (parse_score_bound(min), parse_score_bound(max)) {
        (Some(min), Some(max)) => Ok((min, max)),
        _ => Err(Reply::error(RANGE_NOT_FLOAT)),
    }
}

/// Parses one end of a lex range: `-`, `+`, `[member` or `(member`.
fn parse_lex_bound(arg: &[u8]) -> Option<LexBound> {
    match arg {
        b"-" => Some(LexBound::Min),
        b"+" => Some(LexBound::Max),
        [b'[', rest @ ..] => Some(LexBound::Inclusive(rest.into())),
        [b'(', rest @ ..] => Some(LexBound::Exclusive(rest.into())),
        _ => None,
    }
}

fn score_reply(score: f64) -> Reply {
    Reply::Double(score)
}

/// Members alone, or member-score pairs (flat in RESP2, pairs in RESP3).
fn members_reply<'a>(items: impl Iterator<Item = (&'a [u8], f64)>, withscores: bool) -> Reply {
    if withscores {
        Reply::Pairs(
            items
                .map(|(m, s)| (Reply::bulk_from(m), score_reply(s)))
                .collect(),
        )
    } else {
        Reply::Array(items.map(|(m, _)| Reply::bulk_from(m)).collect())
    }
}

/// ZADD's options.
#[derive(Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]`
///
/// Replies the number of members added (CH: added or changed), or with
/// INCR the member's new score, nil if a condition skipped it.
pub fn zadd(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let mut flags = AddFlags::default();
    let mut i = 2;
    while let Some(arg) = args.get(i) {
        let flag = match arg.to_ascii_lowercase().as_slice() {
            b"nx" => &mut flags.nx,
            b"xx" => &mut flags.xx,
            b"gt" => &mut flags.gt,
            b"lt" => &mut flags.lt,
            b"ch" => &mut flags.ch,
            b"incr" => &mut flags.incr,
            _ => break,
        };
        *flag = true;
        i += 1;
    }
    add_members(ctx, &args[1], &args[i..], flags)
}

/// `ZINCRBY key increment member`: ZADD INCR without options.
pub fn zincrby(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let flags = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    add_members(ctx, &args[1], &args[2..], flags)
}

/// The body of ZADD and ZINCRBY, after Redis's `zaddGenericCommand`.
/// `pairs` holds scores and members alternating.
fn add_members(ctx: &mut Ctx, key: &[u8], pairs: &[Bytes], f: AddFlags) -> Reply {
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Reply::error(errors::SYNTAX);
    }
    if f.nx && f.xx {
        return Reply::error(XX_AND_NX);
    }
    if [f.gt, f.lt, f.nx].iter().filter(|&&on| on).count() > 1 {
        return Reply::error(GT_LT_NX);
    }
    if f.incr && pairs.len() > 2 {
        return Reply::error(INCR_SINGLE_PAIR);
    }
    let mut scores = Vec::with_capacity(pairs.len() / 2);
    for pair in pairs.chunks_exact(2) {
        match parse_score(&pair[0]) {
            Some(s) => scores.push((s, &pair[1])),
            None => return Reply::error(errors::NOT_FLOAT),
        }
    }
    let now = ctx.now;
    let zset = match typed::existing::<ZSetValue>(ctx.db(), key, now) {
        Ok(Some(z)) => z,
        // XX never creates the key.
        Ok(None) if f.xx => {
            return if f.incr {
                Reply::Nil
            } else {
                Reply::Integer(0)
            }
        }
        Ok(None) => match typed::create::<ZSetValue>(ctx, key) {
            Ok(v) => v,
            Err(e) => return e,
        },
        Err(e) => return e,
    };
    let (mut added, mut changed) = (0, 0);
    let mut last_score = None;
    for (score, member) in scores {
        let new_score = match zset.score(member) {
            Some(_) if f.nx => continue,
            Some(current) => {
                let new_score = if f.incr { current + score } else { score };
                if new_score.is_nan() {
                    return Reply::error(RESULT_NAN);
                }
                if (f.gt && new_score <= current) || (f.lt && new_score >= current) {
                    continue;
                }
                if new_score != current {
                    zset.set(member, new_score);
                    changed += 1;
                }
                new_score
            }
            None if f.xx => continue,
            None => {
                zset.set(member, score);
                added += 1;
                score
            }
        };
        last_score = Some(new_score);
    }
    // With XX or NX nothing may have been added to a key created above.
    drop_if_empty(ctx.db(), key, now);
    if added + changed > 0 {
        ctx.signal(class::ZSET, if f.incr { "zincr" } else { "zadd" }, key);
    }
    if f.incr {
        last_score.map_or(Reply::Nil, score_reply)
    } else if f.ch {
        Reply::Integer(added + changed)
    } else {
        Reply::Integer(added)
    }
}

/// `ZREM key member [member ...]`: replies how many members existed;
/// deletes the key along with its last member.
pub fn zrem(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let now = ctx.now;
    let key = &args[1];
    let db = ctx.db();
    let zset = match typed::existing::<ZSetValue>(db, key, now) {
        Ok(Some(z)) => z,
        Ok(None) => return Reply::Integer(0),
        Err(e) => return e,
    };
    let removed = args[2..].iter().filter(|m| zset.remove(m)).count();
    let emptied = drop_if_empty(db, key, now);
    if removed > 0 {
        ctx.signal_removal(class::ZSET, "zrem", key, emptied);
    }
    Reply::Integer(removed as i64)
}

/// `ZSCORE key member`: the score (a double in RESP3), or nil.
pub fn zscore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match typed::read::<ZSetValue>(ctx, &args[1]) {
        Ok(z) => z
            .and_then(|z| z.score(&args[2]))
            .map_or(Reply::Nil, score_reply),
        Err(e) => e,
    }
}

/// `ZMSCORE key member [member ...]`: a score or nil per member.
pub fn zmscore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match typed::read::<ZSetValue>(ctx, &args[1]) {
        Ok(z) => {
            let z = z.as_deref();
            Reply::Array(
                args[2..]
                    .iter()
                    .map(|m| z.and_then(|z| z.score(m)).map_or(Reply::Nil, score_reply))
                    .collect(),
            )
        }
        Err(e) => e,
    }
}

/// `ZCARD key`: the number of members.
pub fn zcard(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match typed::read::<ZSetValue>(ctx, &args[1]) {
        Ok(z) => Reply::Integer(z.map_or(0, |z| z.len()) as i64),
        Err(e) => e,
    }
}

/// `ZCOUNT key min max`: the number of members with a score in range.
pub fn zcount(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (min, max) = match parse_score_range(&args[2], &args[3]) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match typed::read::<ZSetValue>(ctx, &args[1]) {
        Ok(z) => Reply::Integer(z.map_or(0, |z| z.range_by_score(min, max).count()) as i64),
        Err(e) => e,
    }
}

/// `ZRANK key member`: the 0-based rank by ascending score, or nil.
pub fn zrank(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    rank(ctx, args, false)
}

/// `ZREVRANK key member`: the 0-based rank by descending score, or nil.
pub fn zrevrank(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    rank(ctx, args, true)
}

fn rank(ctx: &mut Ctx, args: &[Bytes], reverse: bool) -> Reply {
    match typed::read::<ZSetValue>(ctx, &args[1]) {
        Ok(Some(z)) => match z.rank(&args[2]) {
            Some(r) if reverse => Reply::Integer((z.len() - 1 - r) as i64),
            Some(r) => Reply::Integer(r as i64),
            None => Reply::Nil,
        },
        Ok(None) => Reply::Nil,
        Err(e) => e,
    }
}

/// Which members a range names.
#[derive(Clone, Copy, PartialEq)]
enum RangeKind {
    /// ZRANGE without BYSCORE or BYLEX yet.
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq)]
enum Direction {
    /// ZRANGE without REV yet.
    Auto,
    Forward,
    Reverse,
}

/// Rank bounds clamped as Redis does; None when nothing is in range.
fn clamp_ranks(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { start + len } else { start }.max(0);
    let end = if end < 0 { end + len } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

/// Applies LIMIT: a negative offset selects nothing, a negative count
/// everything after the offset (Redis's loops count down to zero).
fn limited<'a>(
    items: impl Iterator<Item = (&'a [u8], f64)>,
    offset: i64,
    count: i64,
) -> impl Iterator<Item = (&'a [u8], f64)> {
    let skip = if offset < 0 {
        usize::MAX
    } else {
        offset as usize
    };
    let take = usize::try_from(count).unwrap_or(usize::MAX);
    items.skip(skip).take(take)
}

/// `ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count]
/// [WITHSCORES]`
pub fn zrange(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    range(ctx, args, RangeKind::Auto, Direction::Auto)
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`
pub fn zrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    range(ctx, args, RangeKind::Score, Direction::Forward)
}

/// `ZREVRANGE key start stop [WITHSCORES]`
pub fn zrevrange(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    range(ctx, args, RangeKind::Rank, Direction::Reverse)
}

/// The ZRANGE family after Redis's `zrangeGenericCommand`: options, then
/// conflicts between them, then the range, then the key.
fn range(ctx: &mut Ctx, args: &[Bytes], mut kind: RangeKind, mut dir: Direction) -> Reply {
    let mut withscores = false;
    // Redis keeps "no LIMIT" as a count of -1, so `LIMIT 0 -1` counts as
    // no LIMIT in the checks below.
    let (mut offset, mut count) = (0i64, -1i64);
    let mut i = 4;
    while let Some(arg) = args.get(i) {
        let left = args.len() - i - 1;
        if arg.eq_ignore_ascii_case(b"withscores") {
            withscores = true;
        } else if arg.eq_ignore_ascii_case(b"limit") && left >= 2 {
            match (int_arg(&args[i + 1]), int_arg(&args[i + 2])) {
                (Ok(o), Ok(c)) => (offset, count) = (o, c),
                (Err(e), _) | (_, Err(e)) => return e,
            }
            i += 2;
        } else if dir == Direction::Auto && arg.eq_ignore_ascii_case(b"rev") {
            dir = Direction::Reverse;
        } else if kind == RangeKind::Auto && arg.eq_ignore_ascii_case(b"bylex") {
            kind = RangeKind::Lex;
        } else if kind == RangeKind::Auto && arg.eq_ignore_ascii_case(b"byscore") {
            kind = RangeKind::Score;
        } else {
            return Reply::error(errors::SYNTAX);
        }
        i += 1;
    }
    let reverse = dir == Direction::Reverse;
    if kind == RangeKind::Auto {
        kind = RangeKind::Rank;
    }
    if count != -1 && kind == RangeKind::Rank {
        return Reply::error(LIMIT_NEEDS_RANGE);
    }
    if withscores && kind == RangeKind::Lex {
        return Reply::error(WITHSCORES_BYLEX);
    }
    // Reverse score and lex ranges are given as max, min.
    let (lo, hi) = if reverse && kind != RangeKind::Rank {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    enum Parsed {
        Rank(i64, i64),
        Score(ScoreBound, ScoreBound),
        Lex(LexBound, LexBound),
    }
    let parsed = match kind {
        RangeKind::Score => match parse_score_range(lo, hi) {
            Ok((min, max)) => Parsed::Score(min, max),
            Err(e) => return e,
        },
        RangeKind::Lex => match (parse_lex_bound(lo), parse_lex_bound(hi)) {
            (Some(min), Some(max)) => Parsed::Lex(min, max),
            _ => return Reply::error(RANGE_NOT_LEX),
        },
        _ => match (int_arg(lo), int_arg(hi)) {
            (Ok(start), Ok(end)) => Parsed::Rank(start, end),
            (Err(e), _) | (_, Err(e)) => return e,
        },
    };
    let zset = match typed::read::<ZSetValue>(ctx, &args[1]) {
        Ok(Some(z)) => z,
        Ok(None) => return Reply::Array(Vec::new()),
        Err(e) => return e,
    };
    match parsed {
        Parsed::Rank(start, end) => {
            let Some((start, end)) = clamp_ranks(start, end, zset.len()) else {
                return Reply::Array(Vec::new());
            };
            let n = end - start + 1;
            if reverse {
                members_reply(zset.iter().rev().skip(start).take(n), withscores)
            } else {
                members_reply(zset.iter().skip(start).take(n), withscores)
            }
        }
        Parsed::Score(min, max) => {
            let items = zset.range_by_score(min, max);
            if reverse {
                members_reply(limited(items.rev(), offset, count), withscores)
            } else {
                members_reply(limited(items, offset, count), withscores)
            }
        }
        Parsed::Lex(min, max) => {
            let items = zset.range_by_lex(&min, &max);
            if reverse {
                members_reply(limited(items.rev(), offset, count), false)
            } else {
                members_reply(limited(items, offset, count), false)
            }
        }
    }
}

/// `ZREMRANGEBYSCORE key min max`: removes members with a score in range
/// and replies how many; the rate limiter's window slide.
pub fn zremrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (min, max) = match parse_score_range(&args[2], &args[3]) {
        Ok(r) => r,
        Err(e) => return e,
    };
    remove_where(ctx, &args[1], "zremrangebyscore", |z| {
        z.range_by_score(min, max).map(|(m, _)| m.into()).collect()
    })
}

/// `ZREMRANGEBYRANK key start stop`: removes members by rank, negative
/// ranks counting from the end, and replies how many.
pub fn zremrangebyrank(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (start, end) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    remove_where(ctx, &args[1], "zremrangebyrank", |z| {
        match clamp_ranks(start, end, z.len()) {
            Some((start, end)) => z
                .iter()
                .skip(start)
                .take(end - start + 1)
                .map(|(m, _)| m.into())
                .collect(),
            None => Vec::new(),
        }
    })
}

/// Removes the members `pick` names and replies their number; the key goes
/// with its last member.
fn remove_where(
    ctx: &mut Ctx,
    key: &[u8],
    event: &'static str,
    pick: impl FnOnce(&ZSetValue) -> Vec<Box<[u8]>>,
) -> Reply {
    let now = ctx.now;
    let db = ctx.db();
    let zset = match typed::existing::<ZSetValue>(db, key, now) {
        Ok(Some(z)) => z,
        Ok(None) => return Reply::Integer(0),
        Err(e) => return e,
    };
    let doomed = pick(zset);
    for member in &doomed {
        zset.remove(member);
    }
    let emptied = drop_if_empty(db, key, now);
    if !doomed.is_empty() {
        ctx.signal_removal(class::ZSET, event, key, emptied);
    }
    Reply::Integer(doomed.len() as i64)
}

/// `ZPOPMIN key [count]`: removes and replies the lowest-scored members.
pub fn zpopmin(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    pop(ctx, args, false)
}

/// `ZPOPMAX key [count]`: removes and replies the highest-scored members.
pub fn zpopmax(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    pop(ctx, args, true)
}

/// Without a count the reply is one flat member-score pair; with one it is
/// a list of pairs (flat in RESP2). A missing key or a zero count replies
/// an empty array; a bad count is reported before a wrong type, a zero
/// count after it, as in Redis.
fn pop(ctx: &mut Ctx, args: &[Bytes], highest: bool) -> Reply {
    if args.len() > 3 {
        return Reply::error(errors::SYNTAX);
    }
    let count = match args.get(2) {
        None => None,
        Some(arg) => match proto::parse_int(arg) {
            Some(n) if n >= 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => return Reply::error(NOT_POSITIVE),
        },
    };
    let now = ctx.now;
    let key = &args[1];
    let db = ctx.db();
    let zset = match typed::existing::<ZSetValue>(db, key, now) {
        Ok(Some(z)) => z,
        Ok(None) => return Reply::Array(Vec::new()),
        Err(e) => return e,
    };
    if count == Some(0) {
        return Reply::Array(Vec::new());
    }
    let n = count.unwrap_or(1).min(zset.len());
    let picked: Vec<(Box<[u8]>, f64)> = if highest {
        zset.iter()
            .rev()
            .take(n)
            .map(|(m, s)| (m.into(), s))
            .collect()
    } else {
        zset.iter().take(n).map(|(m, s)| (m.into(), s)).collect()
    };
    for (member, _) in &picked {
        zset.remove(member);
    }
    let emptied = drop_if_empty(db, key, now);
    if !picked.is_empty() {
        let event = if highest { "zpopmax" } else { "zpopmin" };
        ctx.signal_removal(class::ZSET, event, key, emptied);
    }
    let pairs = picked
        .into_iter()
        .map(|(m, s)| (Reply::bulk(Bytes::from(m.into_vec())), score_reply(s)));
    if count.is_some() {
        Reply::Pairs(pairs.collect())
    } else {
        Reply::Array(pairs.flat_map(|(m, s)| [m, s]).collect())
    }
}

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`
///
/// Replies every matching member and its score at once with the cursor
/// "0", in score order, whatever the cursor and COUNT, as HSCAN does:
/// Redis does the same for sorted sets of up to 128 members. Scores are
/// bulk strings in both protocols, as in Redis.
pub fn zscan(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if let Err(e) = scan_cursor(&args[2]) {
        return e;
    }
    let zset = match typed::read::<ZSetValue>(ctx, &args[1]) {
        Ok(Some(z)) => z,
        Ok(None) => return scan_reply(0, Vec::new()),
        Err(e) => return e,
    };
    let opts = match ScanOptions::parse(&args[3..], false) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let items = zset
        .iter()
        .filter(|(m, _)| opts.matches(m))
        .flat_map(|(m, s)| {
            [
                Reply::bulk_from(m),
                Reply::bulk(Bytes::from(format_double(s))),
            ]
        })
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

    fn dbl(v: f64) -> Reply {
        Reply::Double(v)
    }

    fn arr(items: &[&str]) -> Reply {
        Reply::Array(items.iter().map(|s| bulk(s)).collect())
    }

    fn pairs(items: &[(&str, f64)]) -> Reply {
        Reply::Pairs(items.iter().map(|(m, s)| (bulk(m), dbl(*s))).collect())
    }

    /// A shard with `z` = a:1 b:2 c:2 d:3 e:4 and a string key `str`.
    fn sample() -> Shard {
        let mut s = Shard::new(0, 1);
        s.db(0).insert(b"str", string_entry(b"v"), T0);
        assert_eq!(
            run(
                &mut s,
                T0,
                &["zadd", "z", "1", "a", "2", "b", "2", "c", "3", "d", "4", "e"]
            ),
            int(5)
        );
        s
    }

    #[test]
    fn zadd_adds_updates_and_counts() {
        let mut s = sample();
        assert_eq!(run(&mut s, T0, &["zadd", "z", "9", "a", "1", "x"]), int(1));
        assert_eq!(
            run(&mut s, T0, &["zadd", "z", "CH", "9", "a", "8", "b"]),
            int(1)
        );
        assert_eq!(run(&mut s, T0, &["zscore", "z", "b"]), dbl(8.0));
        assert_eq!(run(&mut s, T0, &["zcard", "z"]), int(6));
        assert_eq!(run(&mut s, T0, &["zcard", "nope"]), int(0));
        assert_eq!(run(&mut s, T0, &["type", "z"]), Reply::simple("zset"));
    }

    #[test]
    fn zadd_conditions() {
        let mut s = sample();
        assert_eq!(
            run(&mut s, T0, &["zadd", "z", "nx", "5", "a", "5", "n"]),
            int(1)
        );
        assert_eq!(run(&mut s, T0, &["zscore", "z", "a"]), dbl(1.0), "NX keeps");
        assert_eq!(
            run(&mut s, T0, &["zadd", "z", "xx", "ch", "5", "a", "5", "m"]),
            int(1)
        );
        assert_eq!(
            run(&mut s, T0, &["zscore", "z", "m"]),
            Reply::Nil,
            "XX adds none"
        );
        assert_eq!(
            run(&mut s, T0, &["zadd", "z", "gt", "ch", "4", "a", "1", "b"]),
            int(0)
        );
        assert_eq!(
            run(&mut s, T0, &["zadd", "z", "gt", "ch", "6", "a", "7", "g"]),
            int(2)
        );
        assert_eq!(
            run(&mut s, T0, &["zadd", "z", "lt", "ch", "9", "a", "0", "b"]),
            int(1)
        );
        assert_eq!(run(&mut s, T0, &["zscore", "z", "a"]), dbl(6.0));
        assert_eq!(run(&mut s, T0, &["zscore", "z", "b"]), dbl(0.0));
        // XX on a missing key creates nothing.
        assert_eq!(run(&mut s, T0, &["zadd", "new", "xx", "1", "a"]), int(0));
        assert_eq!(
            run(&mut s, T0, &["zadd", "new", "xx", "incr", "1", "a"]),
            Reply::Nil
        );
        assert_eq!(run(&mut s, T0, &["exists", "new"]), int(0));
    }

    #[test]
    fn zadd_incr_and_zincrby() {
        let mut s = sample();
        assert_eq!(
            run(&mut s, T0, &["zadd", "z", "incr", "2.5", "a"]),
            dbl(3.5)
        );
        assert_eq!(
            run(&mut s, T0, &["zadd", "z", "nx", "incr", "1", "a"]),
            Reply::Nil
        );
        assert_eq!(
            run(&mut s, T0, &["zadd", "z", "gt", "incr", "-1", "a"]),
            Reply::Nil
        );
        assert_eq!(run(&mut s, T0, &["zadd", "z", "incr", "0", "a"]), dbl(3.5));
        assert_eq!(run(&mut s, T0, &["zincrby", "z", "1", "a"]), dbl(4.5));
        assert_eq!(run(&mut s, T0, &["zincrby", "z", "-2", "fresh"]), dbl(-2.0));
        assert_eq!(
            run(&mut s, T0, &["zincrby", "z", "inf", "a"]),
            dbl(f64::INFINITY)
        );
        assert_eq!(
            run(&mut s, T0, &["zincrby", "z", "-inf", "a"]),
            err(RESULT_NAN)
        );
        assert_eq!(run(&mut s, T0, &["zscore", "z", "a"]), dbl(f64::INFINITY));
        assert_eq!(
            run(&mut s, T0, &["zincrby", "z", "x", "a"]),
            err(errors::NOT_FLOAT)
        );
        assert_eq!(
            run(&mut s, T0, &["zincrby", "str", "1", "a"]),
            err(errors::WRONGTYPE)
        );
    }

    #[test]
    fn zadd_errors() {
        let mut s = sample();
        let cases: &[(&[&str], &str)] = &[
            (&["zadd", "z", "1", "a", "2"], errors::SYNTAX),
            (&["zadd", "z", "ch", "1"], errors::SYNTAX),
            (&["zadd", "z", "nx", "xx", "1", "a"], XX_AND_NX),
            (&["zadd", "z", "gt", "lt", "1", "a"], GT_LT_NX),
            (&["zadd", "z", "gt", "nx", "1", "a"], GT_LT_NX),
            (&["zadd", "z", "incr", "1", "a", "2", "b"], INCR_SINGLE_PAIR),
            (&["zadd", "z", "x", "a"], errors::NOT_FLOAT),
            (&["zadd", "z", "nan", "a"], errors::NOT_FLOAT),
            (&["zadd", "z", "1e400", "a"], errors::NOT_FLOAT),
            (&["zadd", "z", "1e-400", "a"], errors::NOT_FLOAT),
            (&["zadd", "z", " 1", "a"], errors::NOT_FLOAT),
            (&["zadd", "z", "", "a"], errors::NOT_FLOAT),
            (&["zadd", "str", "1", "a"], errors::WRONGTYPE),
            // Options and scores are checked before the key's type.
            (&["zadd", "str", "x", "a"], errors::NOT_FLOAT),
        ];
        for (args, want) in cases {
            assert_eq!(run(&mut s, T0, args), err(want), "{args:?}");
        }
        assert_eq!(
            run(&mut s, T0, &["zadd", "z", "+inf", "top", "-0", "zero"]),
            int(2)
        );
        let zero = run(&mut s, T0, &["zscore", "z", "zero"]);
        assert_eq!(
            zero.to_bytes(Protocol::Resp2),
            b"$1\r\n0\r\n",
            "-0 reads as 0"
        );
    }

    #[test]
    fn zrem_removes_and_drops_the_empty_key() {
        let mut s = sample();
        assert_eq!(run(&mut s, T0, &["zrem", "z", "a", "a", "x"]), int(1));
        assert_eq!(run(&mut s, T0, &["zrem", "nope", "a"]), int(0));
        assert_eq!(
            run(&mut s, T0, &["zrem", "str", "a"]),
            err(errors::WRONGTYPE)
        );
        assert_eq!(run(&mut s, T0, &["zrem", "z", "b", "c", "d", "e"]), int(4));
        assert_eq!(run(&mut s, T0, &["exists", "z"]), int(0));
        assert_eq!(run(&mut s, T0, &["type", "z"]), Reply::simple("none"));
    }

    #[test]
    fn zscore_zmscore_zrank() {
        let mut s = sample();
        assert_eq!(run(&mut s, T0, &["zscore", "z", "c"]), dbl(2.0));
        assert_eq!(run(&mut s, T0, &["zscore", "z", "x"]), Reply::Nil);
        assert_eq!(run(&mut s, T0, &["zscore", "nope", "x"]), Reply::Nil);
        assert_eq!(
            run(&mut s, T0, &["zmscore", "z", "a", "x", "e"]),
            Reply::Array(vec![dbl(1.0), Reply::Nil, dbl(4.0)])
        );
        assert_eq!(
            run(&mut s, T0, &["zmscore", "nope", "a"]),
            Reply::Array(vec![Reply::Nil])
        );
        assert_eq!(run(&mut s, T0, &["zrank", "z", "a"]), int(0));
        assert_eq!(run(&mut s, T0, &["zrank", "z", "c"]), int(2));
        assert_eq!(run(&mut s, T0, &["zrevrank", "z", "c"]), int(2));
        assert_eq!(run(&mut s, T0, &["zrevrank", "z", "e"]), int(0));
        assert_eq!(run(&mut s, T0, &["zrank", "z", "x"]), Reply::Nil);
        assert_eq!(run(&mut s, T0, &["zrevrank", "nope", "x"]), Reply::Nil);
        for cmd in ["zscore", "zmscore", "zrank", "zrevrank"] {
            assert_eq!(run(&mut s, T0, &[cmd, "str", "a"]), err(errors::WRONGTYPE));
        }
    }

    #[test]
    fn zcount_and_score_ranges() {
        let mut s = sample();
        assert_eq!(run(&mut s, T0, &["zcount", "z", "-inf", "+inf"]), int(5));
        assert_eq!(run(&mut s, T0, &["zcount", "z", "2", "2"]), int(2));
        assert_eq!(run(&mut s, T0, &["zcount", "z", "(1", "(3"]), int(2));
        assert_eq!(run(&mut s, T0, &["zcount", "z", "3", "1"]), int(0));
        assert_eq!(
            run(&mut s, T0, &["zcount", "z", "", "1"]),
            int(1),
            "empty is 0"
        );
        assert_eq!(run(&mut s, T0, &["zcount", "nope", "0", "1"]), int(0));
        assert_eq!(
            run(&mut s, T0, &["zcount", "z", "a", "1"]),
            err(RANGE_NOT_FLOAT)
        );
        assert_eq!(
            run(&mut s, T0, &["zcount", "z", "(nan", "1"]),
            err(RANGE_NOT_FLOAT)
        );
        assert_eq!(
            run(&mut s, T0, &["zcount", "str", "x", "1"]),
            err(RANGE_NOT_FLOAT)
        );
        assert_eq!(
            run(&mut s, T0, &["zcount", "str", "0", "1"]),
            err(errors::WRONGTYPE)
        );
    }

    #[test]
    fn zrange_by_rank() {
        let mut s = sample();
        assert_eq!(
            run(&mut s, T0, &["zrange", "z", "0", "-1"]),
            arr(&["a", "b", "c", "d", "e"])
        );
        assert_eq!(
            run(&mut s, T0, &["zrange", "z", "-2", "100"]),
            arr(&["d", "e"])
        );
        assert_eq!(run(&mut s, T0, &["zrange", "z", "3", "1"]), arr(&[]));
        assert_eq!(
            run(&mut s, T0, &["zrange", "z", "0", "1", "rev"]),
            arr(&["e", "d"])
        );
        assert_eq!(
            run(&mut s, T0, &["zrange", "z", "0", "1", "withscores"]),
            pairs(&[("a", 1.0), ("b", 2.0)])
        );
        assert_eq!(
            run(&mut s, T0, &["zrevrange", "z", "0", "1", "withscores"]),
            pairs(&[("e", 4.0), ("d", 3.0)])
        );
        assert_eq!(run(&mut s, T0, &["zrange", "nope", "0", "-1"]), arr(&[]));
        assert_eq!(
            run(&mut s, T0, &["zrange", "z", "a", "1"]),
            err(errors::NOT_INTEGER)
        );
        assert_eq!(
            run(&mut s, T0, &["zrange", "z", "0", "1", "limit", "0", "1"]),
            err(LIMIT_NEEDS_RANGE)
        );
        // Redis takes a count of -1 for "no LIMIT".
        assert_eq!(
            run(&mut s, T0, &["zrange", "z", "0", "0", "limit", "0", "-1"]),
            arr(&["a"])
        );
        assert_eq!(
            run(&mut s, T0, &["zrange", "z", "0", "1", "limit", "0"]),
            err(errors::SYNTAX)
        );
        assert_eq!(
            run(&mut s, T0, &["zrange", "z", "0", "1", "rev", "rev"]),
            err(errors::SYNTAX)
        );
        assert_eq!(
            run(&mut s, T0, &["zrevrange", "z", "0", "1", "rev"]),
            err(errors::SYNTAX)
        );
        assert_eq!(
            run(&mut s, T0, &["zrange", "str", "0", "1"]),
            err(errors::WRONGTYPE)
        );
        let flat = run(&mut s, T0, &["zrange", "z", "0", "0", "withscores"]);
        assert_eq!(
            flat.to_bytes(Protocol::Resp2),
            b"*2\r\n$1\r\na\r\n$1\r\n1\r\n"
        );
        assert_eq!(
            flat.to_bytes(Protocol::Resp3),
            b"*1\r\n*2\r\n$1\r\na\r\n,1\r\n"
        );
    }

    #[test]
    fn zrange_by_score() {
        let mut s = sample();
        assert_eq!(
            run(&mut s, T0, &["zrange", "z", "(1", "3", "byscore"]),
            arr(&["b", "c", "d"])
        );
        assert_eq!(
            run(
                &mut s,
                T0,
                &["zrange", "z", "3", "(1", "byscore", "rev", "limit", "1", "5"]
            ),
            arr(&["c", "b"])
        );
        assert_eq!(
            run(&mut s, T0, &["zrangebyscore", "z", "2", "2", "withscores"]),
            pairs(&[("b", 2.0), ("c", 2.0)])
        );
        assert_eq!(
            run(
                &mut s,
                T0,
                &["zrangebyscore", "z", "-inf", "+inf", "limit", "1", "2"]
            ),
            arr(&["b", "c"])
        );
        assert_eq!(
            run(
                &mut s,
                T0,
                &["zrangebyscore", "z", "-inf", "+inf", "limit", "-1", "2"]
            ),
            arr(&[]),
            "a negative offset selects nothing"
        );
        assert_eq!(
            run(
                &mut s,
                T0,
                &["zrangebyscore", "z", "-inf", "+inf", "limit", "3", "-5"]
            ),
            arr(&["d", "e"]),
            "a negative count selects the rest"
        );
        assert_eq!(
            run(&mut s, T0, &["zrangebyscore", "z", "x", "1"]),
            err(RANGE_NOT_FLOAT)
        );
        assert_eq!(
            run(&mut s, T0, &["zrangebyscore", "z", "0", "1", "rev"]),
            err(errors::SYNTAX)
        );
        assert_eq!(
            run(&mut s, T0, &["zrange", "z", "0", "1", "byscore", "bylex"]),
            err(errors::SYNTAX)
        );
    }

    #[test]
    fn zrange_by_lex() {
        let mut s = Shard::new(0, 1);
        run(
            &mut s,
            T0,
            &["zadd", "l", "0", "a", "0", "b", "0", "c", "0", "d"],
        );
        assert_eq!(
            run(&mut s, T0, &["zrange", "l", "[b", "(d", "bylex"]),
            arr(&["b", "c"])
        );
        assert_eq!(
            run(&mut s, T0, &["zrange", "l", "+", "-", "bylex", "rev"]),
            arr(&["d", "c", "b", "a"])
        );
        assert_eq!(
            run(
                &mut s,
                T0,
                &["zrange", "l", "-", "+", "bylex", "limit", "1", "1"]
            ),
            arr(&["b"])
        );
        assert_eq!(
            run(&mut s, T0, &["zrange", "l", "+", "-", "bylex"]),
            arr(&[])
        );
        assert_eq!(
            run(&mut s, T0, &["zrange", "l", "b", "d", "bylex"]),
            err(RANGE_NOT_LEX)
        );
        assert_eq!(
            run(&mut s, T0, &["zrange", "l", "-a", "+", "bylex"]),
            err(RANGE_NOT_LEX)
        );
        assert_eq!(
            run(
                &mut s,
                T0,
                &["zrange", "l", "-", "+", "bylex", "withscores"]
            ),
            err(WITHSCORES_BYLEX)
        );
    }

    #[test]
    fn zremrange_slides_a_window() {
        let mut s = sample();
        assert_eq!(
            run(&mut s, T0, &["zremrangebyscore", "z", "-inf", "(2"]),
            int(1)
        );
        assert_eq!(
            run(&mut s, T0, &["zremrangebyscore", "z", "10", "20"]),
            int(0)
        );
        assert_eq!(
            run(&mut s, T0, &["zremrangebyscore", "z", "x", "20"]),
            err(RANGE_NOT_FLOAT)
        );
        assert_eq!(
            run(&mut s, T0, &["zremrangebyscore", "nope", "0", "1"]),
            int(0)
        );
        assert_eq!(
            run(&mut s, T0, &["zremrangebyscore", "str", "0", "1"]),
            err(errors::WRONGTYPE)
        );
        assert_eq!(
            run(&mut s, T0, &["zremrangebyrank", "z", "-1", "-1"]),
            int(1)
        );
        assert_eq!(run(&mut s, T0, &["zremrangebyrank", "z", "5", "9"]), int(0));
        assert_eq!(
            run(&mut s, T0, &["zremrangebyrank", "z", "x", "9"]),
            err(errors::NOT_INTEGER)
        );
        assert_eq!(
            run(&mut s, T0, &["zremrangebyrank", "str", "0", "1"]),
            err(errors::WRONGTYPE)
        );
        assert_eq!(
            run(&mut s, T0, &["zrange", "z", "0", "-1"]),
            arr(&["b", "c", "d"])
        );
        assert_eq!(
            run(&mut s, T0, &["zremrangebyrank", "z", "0", "-1"]),
            int(3)
        );
        assert_eq!(run(&mut s, T0, &["exists", "z"]), int(0));
    }

    #[test]
    fn zpop() {
        let mut s = sample();
        assert_eq!(
            run(&mut s, T0, &["zpopmin", "z"]),
            Reply::Array(vec![bulk("a"), dbl(1.0)])
        );
        assert_eq!(
            run(&mut s, T0, &["zpopmax", "z", "2"]),
            pairs(&[("e", 4.0), ("d", 3.0)])
        );
        assert_eq!(run(&mut s, T0, &["zpopmin", "z", "0"]), arr(&[]));
        assert_eq!(run(&mut s, T0, &["zpopmin", "z", "-1"]), err(NOT_POSITIVE));
        assert_eq!(run(&mut s, T0, &["zpopmin", "z", "x"]), err(NOT_POSITIVE));
        assert_eq!(
            run(&mut s, T0, &["zpopmin", "z", "1", "2"]),
            err(errors::SYNTAX)
        );
        assert_eq!(run(&mut s, T0, &["zpopmin", "nope"]), arr(&[]));
        assert_eq!(
            run(&mut s, T0, &["zpopmin", "str", "0"]),
            err(errors::WRONGTYPE)
        );
        assert_eq!(
            run(&mut s, T0, &["zpopmin", "z", "10"]),
            pairs(&[("b", 2.0), ("c", 2.0)])
        );
        assert_eq!(run(&mut s, T0, &["exists", "z"]), int(0));
    }

    #[test]
    fn zscan_replies_everything() {
        let mut s = sample();
        let reply = run(&mut s, T0, &["zscan", "z", "0", "match", "[ab]"]);
        assert_eq!(
            reply,
            Reply::Array(vec![bulk("0"), arr(&["a", "1", "b", "2"])])
        );
        assert_eq!(
            run(&mut s, T0, &["zscan", "nope", "0"]),
            Reply::Array(vec![bulk("0"), arr(&[])])
        );
        assert_eq!(run(&mut s, T0, &["zscan", "z", "x"]), err(errors::CURSOR));
        assert_eq!(
            run(&mut s, T0, &["zscan", "z", "0", "foo"]),
            err(errors::SYNTAX)
        );
        assert_eq!(
            run(&mut s, T0, &["zscan", "str", "0"]),
            err(errors::WRONGTYPE)
        );
    }

    #[test]
    fn other_types_reject_a_sorted_set() {
        let mut s = sample();
        assert_eq!(run(&mut s, T0, &["get", "z"]), err(errors::WRONGTYPE));
        assert_eq!(
            run(&mut s, T0, &["hset", "z", "f", "v"]),
            err(errors::WRONGTYPE)
        );
        assert_eq!(run(&mut s, T0, &["sadd", "z", "m"]), err(errors::WRONGTYPE));
    }
}
