//! The pub/sub commands' entry points: the replies of (un)subscriptions,
//! PUBLISH / SPUBLISH fanned out to the shards with subscribers, and PUBSUB
//! merged over shards. The tables and delivery are in `pubsub.rs`.

use crate::conn::Conn;
use crate::event_loop::EventLoop;
use crate::gather::{done, silent, Combine, Plan};
use crate::ops::ShardOp;
use bytes::Bytes;
use proto::{errors, Reply};

/// The replies of a (un)subscription: all but the last are queued now, the
/// last is the command's reply. Outside MULTI that is the same; inside, the
/// last confirmation becomes the command's element of EXEC's reply, which
/// is where Redis puts it (the only one, for a single channel).
pub fn confirmations(conn: &mut Conn, mut replies: Vec<Reply>) -> Plan {
    let Some(last) = replies.pop() else {
        return silent();
    };
    for reply in replies {
        conn.reply(reply);
    }
    done(last)
}

/// PUBLISH (SPUBLISH with `sharded`): delivered here at once; other shards
/// with subscribers deliver and count, and the reply sums the counts.
pub fn publish(
    lp: &mut EventLoop,
    conn: &mut Conn,
    slot: u32,
    args: &[Bytes],
    sharded: bool,
) -> Plan {
    let (channel, message) = (&args[1], &args[2]);
    let here = lp.publish_local(channel, message, sharded, Some((slot, conn)));
    let parts: Vec<(usize, ShardOp)> = (0..lp.shard.count)
        .filter(|&s| s != lp.id && lp.has_subscribers(s))
        .map(|s| {
            let op = ShardOp::Publish {
                channel: channel.clone(),
                message: message.clone(),
                sharded,
            };
            (s, op)
        })
        .collect();
    if parts.is_empty() {
        return done(Reply::Integer(here as i64));
    }
    Plan {
        parts,
        combine: Combine::SumFrom(here as i64),
        barrier: false,
        hold: Vec::new(),
    }
}

const PUBSUB_HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

/// PUBSUB CHANNELS / NUMSUB / NUMPAT / SHARDCHANNELS / SHARDNUMSUB / HELP,
/// merged over every shard.
pub fn pubsub(lp: &EventLoop, args: &[Bytes]) -> Plan {
    let sub = args[1].to_ascii_lowercase();
    let argc = args.len();
    let shards = lp.shard.count;
    match &sub[..] {
        b"help" | b"numpat" if argc != 2 => done(Reply::error(errors::wrong_arity(&format!(
            "pubsub|{}",
            String::from_utf8_lossy(&sub)
        )))),
        b"help" => done(Reply::Array(
            PUBSUB_HELP.iter().map(|l| Reply::simple(*l)).collect(),
        )),
        b"channels" | b"shardchannels" if argc > 3 => done(Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(&args[1][..args[1].len().min(128)])
        ))),
        b"channels" | b"shardchannels" => {
            let pattern = args.get(2).cloned();
            let sharded = &sub[..] == b"shardchannels";
            Plan::all(
                shards,
                || ShardOp::PubsubChannels(pattern.clone(), sharded),
                Combine::Union,
            )
        }
        b"numsub" | b"shardnumsub" => {
            let channels = args[2..].to_vec();
            let sharded = &sub[..] == b"shardnumsub";
            Plan::all(
                shards,
                || ShardOp::PubsubNumsub(channels.clone(), sharded),
                Combine::Numsub(channels.clone()),
            )
        }
        b"numpat" => Plan::all(shards, || ShardOp::PubsubPatterns, Combine::CountDistinct),
        _ => done(Reply::error(errors::unknown_subcommand(&args[1], "pubsub"))),
    }
}
