//! Routing a command to the shards that own its keys, and combining the
//! parts that come back into the one reply Redis would give.
//!
//! Each [`ShardCmd`] has a [`Fanout`] chosen by an exhaustive match, so a new
//! command cannot be added without deciding how it is routed. Most commands
//! have one key and go to one shard. Multi-key commands whose keys all live
//! on one shard go there whole; otherwise they split per shard and the parts
//! are combined here. RENAME and MSETNX across shards take several steps; the
//! connection holds later commands until they are done, so its own next
//! command sees their effect.

use crate::ops::{ShardOp, ShardReply};
use bytes::Bytes;
use proto::errors;
use proto::slot::SLOT_COUNT;
use proto::{Reply, ShardCmd};
use shard::{shard_of_key, shard_of_slot};

/// How a command is spread over shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fanout {
    /// One key: the owner runs it.
    OneKey,
    /// Keys at the table's positions; split per shard, integer replies summed.
    KeysSum,
    /// MGET: split per shard, values put back in request order.
    Mget,
    /// MSET: key/value pairs split per shard.
    Mset,
    /// MSETNX: existence check on every shard first, then MSET.
    Msetnx,
    /// RENAME / RENAMENX (the flag says NX).
    Rename(bool),
    /// No keys: every shard runs it; integer replies summed.
    AllSum,
    /// No keys: every shard runs it; +OK unless one fails.
    AllOk,
    /// AllOk as one step no client sees half done (SWAPDB).
    AllOkHeld,
    /// No keys: every shard runs it; array replies concatenated.
    AllConcat,
    /// RANDOMKEY: every shard offers one; the first found wins.
    AllRandom,
    /// SCAN: the shard owning the cursor's slot runs it.
    Scan,
    /// Several keys read and written as one (SMOVE, SINTER..., LMOVE,
    /// COPY): where they span shards, the executor runs on a scratch shard
    /// holding them all (see `together.rs`).
    Together,
    /// BLPOP/BRPOP: keys tried in order, shard by shard, until one pops.
    FirstOf,
    /// OBJECT: the owner of the key after the subcommand, if there is one.
    SecondKey,
}

pub fn fanout(cmd: ShardCmd) -> Fanout {
    use ShardCmd::*;
    match cmd {
        Get | Set | Setex | Psetex | Setnx | Getdel | Getex | Getset | Incr | Decr | Incrby
        | Decrby | Incrbyfloat | Append | Strlen | Getrange | Setrange | Type | Expire
        | Pexpire | Expireat | Pexpireat | Ttl | Pttl | Expiretime | Pexpiretime | Persist
        | Hset | Hsetnx | Hget | Hmget | Hmset | Hgetall | Hdel | Hexists | Hlen | Hkeys
        | Hvals | Hincrby | Hincrbyfloat | Hstrlen | Hscan | Sadd | Srem | Smembers | Sismember
        | Smismember | Scard | Spop | Srandmember | Sscan => Fanout::OneKey,
        Zadd | Zincrby | Zrem | Zscore | Zmscore | Zcard | Zcount | Zrange | Zrangebyscore
        | Zrevrange | Zrank | Zrevrank | Zremrangebyscore | Zremrangebyrank | Zpopmin | Zpopmax
        | Zscan => Fanout::OneKey,
        Lpush | Rpush | Lpushx | Rpushx | Lpop | Rpop | Lrange | Llen | Lindex | Lset | Lrem
        | Ltrim | Lpos | Linsert => Fanout::OneKey,
        Smove | Sinter | Sintercard | Sinterstore | Sunion | Sunionstore | Sdiff | Sdiffstore
        | Lmove | Rpoplpush | Blmove | Brpoplpush | Copy => Fanout::Together,
        Del | Unlink | Exists | Touch => Fanout::KeysSum,
        Mget => Fanout::Mget,
        Mset => Fanout::Mset,
        Msetnx => Fanout::Msetnx,
        Rename => Fanout::Rename(false),
        Renamenx => Fanout::Rename(true),
        Dbsize => Fanout::AllSum,
        Flushdb | Flushall => Fanout::AllOk,
        Swapdb => Fanout::AllOkHeld,
        Keys => Fanout::AllConcat,
        Randomkey => Fanout::AllRandom,
        Scan => Fanout::Scan,
        Blpop | Brpop => Fanout::FirstOf,
        Object => Fanout::SecondKey,
    }
}

/// How the parts' results become one reply.
pub enum Combine {
    /// No parts: the reply is known already.
    Ready(Reply),
    /// No parts and no reply at all (SHUTDOWN answers by closing).
    Silent,
    /// One part; its reply is the reply.
    Single,
    SumInt,
    /// PUBLISH: receivers on other shards added to those found here.
    SumFrom(i64),
    /// PUBSUB CHANNELS: every shard's names, each once.
    Union,
    /// PUBSUB NUMSUB: per-channel counts summed over shards.
    Numsub(Vec<Bytes>),
    /// PUBSUB NUMPAT: distinct names over shards.
    CountDistinct,
    AllOk,
    /// MGET: part `i`'s values go to `positions[i]`.
    Mget(Vec<Vec<usize>>),
    Concat,
    Random,
    /// MSETNX after its existence check: the MSET parts to send if no key exists.
    Msetnx(Vec<(usize, ShardOp)>),
    /// MSETNX's MSET step: +OK becomes 1.
    MsetnxDone,
    /// BLPOP over keys of several shards: the groups still to try, in key
    /// order, while the step in flight answered the null array.
    FirstOf(std::collections::VecDeque<(usize, ShardOp)>),
    /// Cross-shard RENAME.
    Rename(RenameStep),
    /// Keys taken from their shards for a command to run on a scratch
    /// shard; handled by the coordinator itself (`together.rs`).
    Together(Box<crate::together::Together>),
    /// A transaction run in one batch on one other shard (multi.rs).
    ExecBatch,
    /// A transaction's EXEC, from command to command (multi.rs).
    Exec(Box<crate::multi::ExecState>),
    /// INFO over every shard's counters.
    Info(Box<crate::info::InfoRequest>),
    /// BACKUP's cuts, one per shard in shard order: the copy starts.
    Backup(Box<crate::backup::BackupRequest>),
    /// CLIENT LIST lines of every shard plus the caller's own, by id,
    /// only those with the given ids when there is a list, only pub/sub
    /// clients (or only the others) with TYPE pubsub (normal).
    ClientList {
        own: String,
        ids: Option<Vec<u64>>,
        pubsub: Option<bool>,
    },
    /// CLIENT KILL counts (plus the caller itself when it matched): summed,
    /// or with the old syntax, +OK or an error.
    ClientKill {
        old_syntax: bool,
        own: usize,
    },
}

pub enum RenameStep {
    /// RENAMENX: checking the destination does not exist.
    CheckTarget {
        src: Bytes,
        dst: Bytes,
        src_shard: usize,
        dst_shard: usize,
    },
    /// Taking the source's entry off its shard.
    Take {
        dst: Bytes,
        dst_shard: usize,
        nx: bool,
    },
    /// Storing it under the destination.
    Put { nx: bool },
}

/// Parts to run and how to combine them.
pub struct Plan {
    pub parts: Vec<(usize, ShardOp)>,
    pub combine: Combine,
    /// Hold the connection's later commands until this one completes.
    pub barrier: bool,
    /// Shards to hold, in ascending order, while the parts run: a command
    /// on keys of several shards is atomic and isolated, as in Redis (see
    /// `atomic.rs`). Empty when one shard (or no isolation) suffices.
    pub hold: Vec<usize>,
}

impl Plan {
    pub fn single(shard: usize, op: ShardOp) -> Plan {
        Plan {
            parts: vec![(shard, op)],
            combine: Combine::Single,
            barrier: false,
            hold: Vec::new(),
        }
    }

    pub fn all(shards: usize, op: impl Fn() -> ShardOp, combine: Combine) -> Plan {
        Plan {
            parts: (0..shards).map(|s| (s, op())).collect(),
            combine,
            barrier: false,
            hold: Vec::new(),
        }
    }
}

/// Decides where a table command runs. `args` passed arity checks.
pub fn plan(cmd: ShardCmd, args: Vec<Bytes>, shards: usize, here: usize, db: usize) -> Plan {
    let command = |a: Vec<Bytes>| ShardOp::Command(cmd, a);
    match fanout(cmd) {
        Fanout::OneKey => Plan::single(shard_of_key(&args[1], shards), command(args)),
        Fanout::AllSum => Plan::all(shards, || command(args.clone()), Combine::SumInt),
        Fanout::AllOk => Plan::all(shards, || command(args.clone()), Combine::AllOk),
        Fanout::AllOkHeld => Plan {
            barrier: true,
            hold: (0..shards).collect(),
            ..Plan::all(shards, || command(args.clone()), Combine::AllOk)
        },
        Fanout::AllConcat => Plan::all(shards, || command(args.clone()), Combine::Concat),
        Fanout::AllRandom => Plan::all(shards, || command(args.clone()), Combine::Random),
        Fanout::Scan => {
            // Cursors are slot numbers; an unparsable one gets its error here.
            match std::str::from_utf8(&args[1])
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
            {
                Some(c) if c < SLOT_COUNT as u64 => {
                    Plan::single(shard_of_slot(c as u16, shards), command(args))
                }
                Some(_) => done(Reply::Array(vec![
                    Reply::bulk_from(b"0"),
                    Reply::Array(vec![]),
                ])),
                None => Plan::single(here, command(args)),
            }
        }
        Fanout::Together => crate::together::plan(cmd, args, shards, here, db),
        Fanout::SecondKey => match args.get(2) {
            Some(key) => Plan::single(shard_of_key(key, shards), command(args)),
            None => Plan::single(here, command(args)),
        },
        Fanout::FirstOf => {
            // Runs of consecutive keys on one shard, each with the timeout.
            let (name, timeout) = (args[0].clone(), args[args.len() - 1].clone());
            let mut groups: Vec<(usize, Vec<Bytes>)> = Vec::new();
            for key in &args[1..args.len() - 1] {
                let shard = shard_of_key(key, shards);
                match groups.last_mut() {
                    Some((s, keys)) if *s == shard => keys.push(key.clone()),
                    _ => groups.push((shard, vec![name.clone(), key.clone()])),
                }
            }
            if groups.len() == 1 {
                return Plan::single(groups[0].0, command(args));
            }
            let hold = ascending(&groups.iter().map(|(s, _)| *s).collect::<Vec<_>>());
            let mut rest: std::collections::VecDeque<(usize, ShardOp)> = groups
                .into_iter()
                .map(|(s, mut a)| {
                    a.push(timeout.clone());
                    (s, command(a))
                })
                .collect();
            let first = rest.pop_front().into_iter().collect();
            Plan {
                parts: first,
                combine: Combine::FirstOf(rest),
                barrier: true,
                hold,
            }
        }
        Fanout::KeysSum => split_keys(cmd, args, shards, 1, Combine::SumInt),
        Fanout::Mget => {
            let mut positions = vec![Vec::new(); shards];
            for (i, key) in args[1..].iter().enumerate() {
                positions[shard_of_key(key, shards)].push(i);
            }
            let mut plan = split_keys(cmd, args, shards, 1, Combine::Single);
            if plan.parts.len() > 1 {
                let used: Vec<usize> = plan.parts.iter().map(|(s, _)| *s).collect();
                plan.combine = Combine::Mget(
                    used.iter()
                        .map(|s| std::mem::take(&mut positions[*s]))
                        .collect(),
                );
            }
            plan
        }
        Fanout::Mset => {
            if args.len().is_multiple_of(2) {
                return done(Reply::error(errors::wrong_arity(cmd.spec().name)));
            }
            split_keys(cmd, args, shards, 2, Combine::AllOk)
        }
        Fanout::Msetnx => {
            if args.len().is_multiple_of(2) {
                return done(Reply::error(errors::wrong_arity(cmd.spec().name)));
            }
            let set = split_keys(
                ShardCmd::Mset,
                with_name(&args, b"MSET"),
                shards,
                2,
                Combine::AllOk,
            );
            if set.parts.len() == 1 {
                return split_keys(cmd, args, shards, 2, Combine::Single);
            }
            let keys: Vec<Bytes> = args[1..].iter().step_by(2).cloned().collect();
            let mut exists = vec![Bytes::from_static(b"EXISTS")];
            exists.extend(keys);
            let check = split_keys(ShardCmd::Exists, exists, shards, 1, Combine::SumInt);
            Plan {
                hold: check.hold,
                parts: check.parts,
                combine: Combine::Msetnx(set.parts),
                barrier: true,
            }
        }
        Fanout::Rename(nx) => {
            let (src, dst) = (args[1].clone(), args[2].clone());
            let (src_shard, dst_shard) = (shard_of_key(&src, shards), shard_of_key(&dst, shards));
            if src_shard == dst_shard {
                return Plan::single(src_shard, command(args));
            }
            if nx {
                let exists = vec![Bytes::from_static(b"EXISTS"), dst.clone()];
                Plan {
                    parts: vec![(dst_shard, ShardOp::Command(ShardCmd::Exists, exists))],
                    combine: Combine::Rename(RenameStep::CheckTarget {
                        src,
                        dst,
                        src_shard,
                        dst_shard,
                    }),
                    barrier: true,
                    hold: ascending(&[src_shard, dst_shard]),
                }
            } else {
                Plan {
                    parts: vec![(src_shard, ShardOp::TakeKey(src))],
                    combine: Combine::Rename(RenameStep::Take { dst, dst_shard, nx }),
                    barrier: true,
                    hold: ascending(&[src_shard, dst_shard]),
                }
            }
        }
    }
}

/// A plan with no parts: the reply is known already.
pub fn done(reply: Reply) -> Plan {
    Plan {
        parts: Vec::new(),
        combine: Combine::Ready(reply),
        barrier: false,
        hold: Vec::new(),
    }
}

/// A plan with no parts and no reply of its own (commands such as
/// SUBSCRIBE queue their replies themselves).
pub fn silent() -> Plan {
    Plan {
        parts: Vec::new(),
        combine: Combine::Silent,
        barrier: false,
        hold: Vec::new(),
    }
}

/// The distinct shards, in the ascending order holds are taken in.
pub(crate) fn ascending(shards: &[usize]) -> Vec<usize> {
    let mut v = shards.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

fn with_name(args: &[Bytes], name: &'static [u8]) -> Vec<Bytes> {
    let mut v = args.to_vec();
    v[0] = Bytes::from_static(name);
    v
}

/// Splits the key groups (a key and the `group - 1` arguments after it)
/// per owning shard, each part keeping the command name.
fn split_keys(
    cmd: ShardCmd,
    args: Vec<Bytes>,
    shards: usize,
    group: usize,
    combine: Combine,
) -> Plan {
    let first = shard_of_key(&args[1], shards);
    let same = args[1..]
        .chunks(group)
        .all(|c| shard_of_key(&c[0], shards) == first);
    if same {
        return Plan::single(first, ShardOp::Command(cmd, args));
    }
    let mut per_shard: Vec<Vec<Bytes>> = vec![Vec::new(); shards];
    for chunk in args[1..].chunks(group) {
        let part = &mut per_shard[shard_of_key(&chunk[0], shards)];
        if part.is_empty() {
            part.push(args[0].clone());
        }
        part.extend_from_slice(chunk);
    }
    let parts = per_shard
        .into_iter()
        .enumerate()
        .filter(|(_, a)| !a.is_empty())
        .map(|(s, a)| (s, ShardOp::Command(cmd, a)))
        .collect::<Vec<_>>();
    let hold = ascending(&parts.iter().map(|(s, _)| *s).collect::<Vec<_>>());
    Plan {
        parts,
        combine,
        barrier: true,
        hold,
    }
}

/// A reply slot waiting for its parts.
pub struct Gather {
    pub combine: Combine,
    pub parts: Vec<Option<ShardReply>>,
    pub remaining: usize,
    /// This command holds the connection's later commands until done.
    pub barrier: bool,
}

/// What to do once every part of a step is in.
pub enum Next {
    Reply(Reply),
    /// Nothing is sent.
    Silent,
    /// Another step: send these parts and combine them this way.
    Step(Vec<(usize, ShardOp)>, Combine),
}

fn reply_of(part: Option<ShardReply>) -> Reply {
    match part {
        Some(ShardReply::Reply(r)) => r,
        _ => Reply::error("ERR internal error: unexpected shard reply"),
    }
}

/// Combines the parts of a finished step.
pub fn finish(combine: Combine, parts: Vec<Option<ShardReply>>) -> Next {
    match combine {
        Combine::Ready(reply) => Next::Reply(reply),
        Combine::Silent => Next::Silent,
        Combine::Single => Next::Reply(reply_of(parts.into_iter().next().flatten())),
        Combine::SumInt => finish(Combine::SumFrom(0), parts),
        Combine::SumFrom(start) => {
            let mut sum = start;
            for part in parts {
                match reply_of(part) {
                    Reply::Integer(n) => sum += n,
                    other => return Next::Reply(other),
                }
            }
            Next::Reply(Reply::Integer(sum))
        }
        Combine::Union | Combine::CountDistinct => {
            let mut names = Vec::new();
            for part in parts {
                match reply_of(part) {
                    Reply::Array(items) => {
                        names.extend(items.into_iter().filter_map(|r| match r {
                            Reply::Bulk(b) => Some(b),
                            _ => None,
                        }))
                    }
                    other => return Next::Reply(other),
                }
            }
            let mut seen = hashbrown::HashSet::new();
            names.retain(|n| seen.insert(n.clone()));
            Next::Reply(match combine {
                Combine::CountDistinct => Reply::Integer(names.len() as i64),
                _ => Reply::Array(names.into_iter().map(Reply::Bulk).collect()),
            })
        }
        Combine::Numsub(channels) => {
            let mut counts = vec![0; channels.len()];
            for part in parts {
                match reply_of(part) {
                    Reply::Array(items) => {
                        for (sum, item) in counts.iter_mut().zip(items) {
                            if let Reply::Integer(n) = item {
                                *sum += n;
                            }
                        }
                    }
                    other => return Next::Reply(other),
                }
            }
            Next::Reply(Reply::Array(
                channels
                    .into_iter()
                    .zip(counts)
                    .flat_map(|(c, n)| [Reply::Bulk(c), Reply::Integer(n)])
                    .collect(),
            ))
        }
        Combine::AllOk => {
            for part in parts {
                let r = reply_of(part);
                if r.is_error() {
                    return Next::Reply(r);
                }
            }
            Next::Reply(Reply::Ok)
        }
        Combine::Concat => {
            let mut all = Vec::new();
            for part in parts {
                match reply_of(part) {
                    Reply::Array(items) => all.extend(items),
                    other => return Next::Reply(other),
                }
            }
            Next::Reply(Reply::Array(all))
        }
        Combine::Random => {
            let mut first = Reply::Nil;
            for part in parts {
                match reply_of(part) {
                    Reply::Nil => {}
                    r if matches!(first, Reply::Nil) => first = r,
                    _ => {}
                }
            }
            Next::Reply(first)
        }
        Combine::Mget(positions) => {
            let total = positions.iter().map(Vec::len).sum();
            let mut values = vec![Reply::Nil; total];
            for (part, pos) in parts.into_iter().zip(positions) {
                match reply_of(part) {
                    Reply::Array(items) => {
                        for (item, p) in items.into_iter().zip(pos) {
                            values[p] = item;
                        }
                    }
                    other => return Next::Reply(other),
                }
            }
            Next::Reply(Reply::Array(values))
        }
        Combine::Msetnx(set_parts) => match finish(Combine::SumInt, parts) {
            Next::Reply(Reply::Integer(0)) => Next::Step(set_parts, Combine::MsetnxDone),
            Next::Reply(Reply::Integer(_)) => Next::Reply(Reply::Integer(0)),
            other => other,
        },
        Combine::MsetnxDone => match finish(Combine::AllOk, parts) {
            Next::Reply(Reply::Ok) => Next::Reply(Reply::Integer(1)),
            other => other,
        },
        Combine::FirstOf(mut rest) => match reply_of(parts.into_iter().next().flatten()) {
            Reply::NilArray if !rest.is_empty() => {
                let next = rest.pop_front().into_iter().collect();
                Next::Step(next, Combine::FirstOf(rest))
            }
            reply => Next::Reply(reply),
        },
        Combine::Rename(step) => rename_step(step, parts.into_iter().next().flatten()),
        // Inside EXEC (a lone command ends in atomic.rs, a round trip
        // sooner): the keys go back as one more step.
        Combine::Together(t) => {
            let now = crate::event_loop::unix_ms();
            let (reply, put_back, _) = crate::together::run(*t, parts, now);
            Next::Step(put_back, Combine::Ready(reply))
        }
        // EXEC steps run in atomic.rs, with the connection at hand; here
        // there is none to run its connection commands on.
        Combine::ExecBatch => match parts.into_iter().next().flatten() {
            Some(ShardReply::Batch(None)) => Next::Reply(Reply::NilArray),
            Some(ShardReply::Batch(Some(replies))) => Next::Reply(Reply::Array(
                replies.into_iter().map(|r| reply_of(Some(r))).collect(),
            )),
            other => Next::Reply(reply_of(other)),
        },
        Combine::Exec(state) => crate::multi::step(state, parts, &mut |_, _| {
            done(Reply::error("ERR internal error: no connection"))
        }),
        Combine::Backup(request) => {
            let mut cuts = Vec::with_capacity(parts.len());
            for part in parts {
                match reply_of(part) {
                    Reply::Integer(cut) => cuts.push(cut as u64),
                    other => {
                        let ps = &request.shared.persist;
                        ps.backup_in_progress
                            .store(false, std::sync::atomic::Ordering::Release);
                        ps.saving.store(false, std::sync::atomic::Ordering::Release);
                        return Next::Reply(other);
                    }
                }
            }
            crate::backup::spawn(*request, cuts);
            Next::Reply(Reply::simple("Background backup started"))
        }
        Combine::Info(request) => {
            let stats = parts
                .into_iter()
                .filter_map(|p| match p {
                    Some(ShardReply::Stats(s)) => Some(*s),
                    _ => None,
                })
                .collect();
            Next::Reply(crate::info::render(&request, stats))
        }
        Combine::ClientList { own, ids, pubsub } => {
            let mut lines: Vec<String> = own.lines().map(str::to_owned).collect();
            for part in parts {
                if let Some(ShardReply::Clients(text)) = part {
                    lines.extend(text.lines().map(str::to_owned));
                }
            }
            if let Some(ids) = ids {
                lines.retain(|l| ids.contains(&crate::client_cmd::line_id(l)));
            }
            if let Some(pubsub) = pubsub {
                lines.retain(|l| l.contains(" flags=P ") == pubsub);
            }
            lines.sort_by_key(|l| crate::client_cmd::line_id(l));
            let mut text = lines.join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            Next::Reply(Reply::Verbatim("txt", Bytes::from(text)))
        }
        Combine::ClientKill { old_syntax, own } => {
            let killed = own
                + parts
                    .into_iter()
                    .map(|p| match p {
                        Some(ShardReply::Killed(n)) => n,
                        _ => 0,
                    })
                    .sum::<usize>();
            Next::Reply(match (old_syntax, killed) {
                (true, 0) => Reply::error("ERR No such client"),
                (true, _) => Reply::Ok,
                (false, n) => Reply::Integer(n as i64),
            })
        }
    }
}

fn rename_step(step: RenameStep, part: Option<ShardReply>) -> Next {
    match step {
        RenameStep::CheckTarget {
            src,
            dst,
            src_shard,
            dst_shard,
        } => match part {
            Some(ShardReply::Reply(Reply::Integer(0))) => Next::Step(
                vec![(src_shard, ShardOp::TakeKey(src))],
                Combine::Rename(RenameStep::Take {
                    dst,
                    dst_shard,
                    nx: true,
                }),
            ),
            Some(ShardReply::Reply(Reply::Integer(_))) => Next::Reply(Reply::Integer(0)),
            other => Next::Reply(reply_of(other)),
        },
        RenameStep::Take { dst, dst_shard, nx } => match part {
            Some(ShardReply::Entry(Some(entry))) => Next::Step(
                vec![(dst_shard, ShardOp::PutKey(dst, entry))],
                Combine::Rename(RenameStep::Put { nx }),
            ),
            Some(ShardReply::Entry(None)) => Next::Reply(Reply::error(errors::NO_SUCH_KEY)),
            other => Next::Reply(reply_of(other)),
        },
        RenameStep::Put { nx } => Next::Reply(if nx { Reply::Integer(1) } else { Reply::Ok }),
    }
}
