//! Pub/Sub: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, their UNSUBSCRIBEs, PUBLISH,
//! SPUBLISH, PUBSUB, and the delivery of keyspace notifications.
//!
//! Subscriptions are connection state, so each event loop keeps tables of
//! its own connections only: channel -> subscriber slots, pattern ->
//! subscriber slots. Nothing is shared between cores but one counter per
//! shard (how many subscriptions its tables hold), which a publisher reads
//! to skip shards nobody listens on.
//!
//! PUBLISH delivers to the publisher's own shard at once, then asks every
//! other shard with subscribers to deliver and count; the reply is the sum,
//! as Redis counts receivers. Messages from one connection travel to a
//! given shard through one FIFO queue, so they arrive in the order sent.
//! Keyspace events (published from `signals.rs`) need no count and travel
//! without a reply.

use crate::conn::{Conn, Pending};
use crate::event_loop::EventLoop;
use bytes::{Bytes, BytesMut};
use hashbrown::{HashMap, HashSet};
use proto::reply::{bulk, int_line};
use proto::{Protocol, Reply};
use shard::cmd::glob::Glob;
use std::sync::atomic::Ordering;

/// One client's subscriptions.
#[derive(Default)]
pub struct Subscriptions {
    pub channels: HashSet<Bytes>,
    pub patterns: HashSet<Bytes>,
    /// SSUBSCRIBE's shard channels: a namespace of their own.
    pub shard_channels: HashSet<Bytes>,
}

impl Subscriptions {
    fn of(&self, kind: Kind) -> &HashSet<Bytes> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        }
    }

    fn of_mut(&mut self, kind: Kind) -> &mut HashSet<Bytes> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }

    fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.patterns.is_empty() && self.shard_channels.is_empty()
    }
}

/// The count a (un)subscription confirmation carries: channels and
/// patterns together, shard channels apart, as Redis 7.0 counts them.
fn count(conn: &Conn, kind: Kind) -> usize {
    match kind {
        Kind::Channel | Kind::Pattern => conn.subscriptions(),
        Kind::Shard => conn.subs.as_ref().map_or(0, |s| s.shard_channels.len()),
    }
}

/// This shard's subscribers, by channel and by pattern, in subscription
/// order (the order Redis delivers in).
#[derive(Default)]
pub struct Tables {
    channels: HashMap<Bytes, Vec<u32>>,
    patterns: HashMap<Bytes, (Glob, Vec<u32>)>,
    shard_channels: HashMap<Bytes, Vec<u32>>,
}

impl Tables {
    fn by_name(&self, sharded: bool) -> &HashMap<Bytes, Vec<u32>> {
        if sharded {
            &self.shard_channels
        } else {
            &self.channels
        }
    }

    /// Channels (or shard channels) with at least one subscriber here,
    /// matching `pattern` if given.
    pub fn channel_names(&self, pattern: Option<&[u8]>, sharded: bool) -> Vec<Bytes> {
        let glob = pattern.map(Glob::new);
        self.by_name(sharded)
            .keys()
            .filter(|c| glob.as_ref().is_none_or(|g| g.matches(c)))
            .cloned()
            .collect()
    }

    /// Subscribers here of each channel (pattern subscriptions excluded).
    pub fn numsub(&self, channels: &[Bytes], sharded: bool) -> Vec<i64> {
        let table = self.by_name(sharded);
        channels
            .iter()
            .map(|c| table.get(c).map_or(0, |s| s.len() as i64))
            .collect()
    }

    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    pub fn pattern_names(&self) -> Vec<Bytes> {
        self.patterns.keys().cloned().collect()
    }
}

/// Channels, patterns or shard channels: the kinds of subscription.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    fn subscribe_word(self) -> &'static str {
        match self {
            Kind::Channel => "subscribe",
            Kind::Pattern => "psubscribe",
            Kind::Shard => "ssubscribe",
        }
    }

    fn unsubscribe_word(self) -> &'static str {
        match self {
            Kind::Channel => "unsubscribe",
            Kind::Pattern => "punsubscribe",
            Kind::Shard => "sunsubscribe",
        }
    }
}

/// `[word, name, count]`: a (un)subscription confirmation.
fn confirmation(word: &'static str, name: Option<Bytes>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::bulk(word),
        name.map_or(Reply::Nil, Reply::Bulk),
        Reply::Integer(count as i64),
    ])
}

/// Appends a `message` push (`pmessage` with its pattern, `smessage`).
fn encode_message(
    out: &mut BytesMut,
    proto: Protocol,
    word: &'static str,
    pattern: Option<&[u8]>,
    channel: &[u8],
    message: &[u8],
) {
    let marker = if proto == Protocol::Resp3 { b'>' } else { b'*' };
    int_line(out, marker, 3 + pattern.is_some() as i64);
    bulk(out, word.as_bytes());
    if let Some(p) = pattern {
        bulk(out, p);
    }
    bulk(out, channel);
    bulk(out, message);
}

/// Queues a message for one subscriber; false if it was not written (the
/// client is going away or already over its hard output limit).
fn push_message(
    conn: &mut Conn,
    hard_limit: usize,
    word: &'static str,
    pattern: Option<&[u8]>,
    channel: &[u8],
    message: &[u8],
) -> bool {
    if conn.closing || (hard_limit > 0 && conn.output_len() >= hard_limit) {
        return false;
    }
    if conn.pending.is_empty() {
        encode_message(&mut conn.out, conn.proto, word, pattern, channel, message);
    } else {
        // Replies computed elsewhere are still due: a RESP2 client must not
        // see the message in the middle of them.
        let mut items = vec![Reply::bulk(word)];
        items.extend(pattern.map(Reply::bulk_from));
        items.push(Reply::bulk_from(channel));
        items.push(Reply::bulk_from(message));
        conn.pending.push_back(Pending::Ready(Reply::Push(items)));
    }
    true
}

impl EventLoop {
    /// Delivers to this shard's subscribers and returns how many received
    /// it: subscribers of the channel, then of matching patterns; with
    /// `sharded` (SPUBLISH), subscribers of the shard channel only.
    /// `publisher` is the connection being served, which is out of the
    /// connection table while it runs.
    pub(crate) fn publish_local(
        &mut self,
        channel: &[u8],
        message: &[u8],
        sharded: bool,
        mut publisher: Option<(u32, &mut Conn)>,
    ) -> usize {
        let hard = self.shared.config.output_limit_pubsub.hard;
        let mut receivers = 0;
        let Tables {
            channels,
            patterns,
            shard_channels,
        } = &self.pubsub;
        let word = if sharded { "smessage" } else { "message" };
        let by_channel = if sharded { shard_channels } else { channels }
            .get(channel)
            .map(|s| (word, None, s));
        let by_pattern = patterns
            .iter()
            .filter(|_| !sharded)
            .filter(|(_, (glob, _))| glob.matches(channel))
            .map(|(p, (_, s))| ("pmessage", Some(&p[..]), s));
        for (word, pattern, slots) in by_channel.into_iter().chain(by_pattern) {
            for &slot in slots {
                receivers += 1;
                match &mut publisher {
                    Some((own, conn)) if *own == slot => {
                        push_message(conn, hard, word, pattern, channel, message);
                    }
                    _ => {
                        let Some(conn) = self.conns[slot as usize].as_mut() else {
                            continue;
                        };
                        if push_message(conn, hard, word, pattern, channel, message) && !conn.dirty
                        {
                            // Flushed (and checked against its output limit)
                            // when the dirty list is next processed.
                            conn.dirty = true;
                            self.dirty.push(slot);
                        }
                    }
                }
            }
        }
        receivers
    }

    /// Whether shard `id` has any subscription.
    pub(crate) fn has_subscribers(&self, id: usize) -> bool {
        self.shared.subscriptions[id].load(Ordering::Acquire) > 0
    }

    fn add_subscription(&mut self, kind: Kind, name: &Bytes, slot: u32) {
        match kind {
            Kind::Channel => self
                .pubsub
                .channels
                .entry(name.clone())
                .or_default()
                .push(slot),
            Kind::Shard => self
                .pubsub
                .shard_channels
                .entry(name.clone())
                .or_default()
                .push(slot),
            Kind::Pattern => self
                .pubsub
                .patterns
                .entry(name.clone())
                .or_insert_with(|| (Glob::new(name), Vec::new()))
                .1
                .push(slot),
        }
        self.shared.subscriptions[self.id].fetch_add(1, Ordering::AcqRel);
    }

    fn remove_subscription(&mut self, kind: Kind, name: &Bytes, slot: u32) {
        let emptied = match kind {
            Kind::Channel => self.pubsub.channels.get_mut(name).map(|s| {
                s.retain(|&x| x != slot);
                s.is_empty()
            }),
            Kind::Shard => self.pubsub.shard_channels.get_mut(name).map(|s| {
                s.retain(|&x| x != slot);
                s.is_empty()
            }),
            Kind::Pattern => self.pubsub.patterns.get_mut(name).map(|(_, s)| {
                s.retain(|&x| x != slot);
                s.is_empty()
            }),
        };
        if emptied == Some(true) {
            match kind {
                Kind::Channel => self.pubsub.channels.remove(name),
                Kind::Shard => self.pubsub.shard_channels.remove(name),
                Kind::Pattern => self.pubsub.patterns.remove(name).map(|(_, s)| s),
            };
        }
        self.shared.subscriptions[self.id].fetch_sub(1, Ordering::AcqRel);
    }

    /// SUBSCRIBE / PSUBSCRIBE: one confirmation per name.
    pub(crate) fn subscribe(
        &mut self,
        conn: &mut Conn,
        slot: u32,
        kind: Kind,
        names: &[Bytes],
    ) -> Vec<Reply> {
        let mut confirmations = Vec::with_capacity(names.len());
        for name in names {
            let subs = conn.subs.get_or_insert_with(Default::default);
            if subs.of_mut(kind).insert(name.clone()) {
                self.add_subscription(kind, name, slot);
            }
            let count = count(conn, kind);
            confirmations.push(confirmation(
                kind.subscribe_word(),
                Some(name.clone()),
                count,
            ));
        }
        confirmations
    }

    /// UNSUBSCRIBE / PUNSUBSCRIBE: the names given, or all of the kind.
    /// `confirm` is false for RESET and closing clients, which get no reply.
    pub(crate) fn unsubscribe(
        &mut self,
        conn: &mut Conn,
        slot: u32,
        kind: Kind,
        names: &[Bytes],
        confirm: bool,
    ) -> Vec<Reply> {
        let mut confirmations = Vec::new();
        let all: Vec<Bytes>;
        let names = if names.is_empty() {
            all = conn
                .subs
                .as_ref()
                .map_or(Vec::new(), |s| s.of(kind).iter().cloned().collect());
            if all.is_empty() && confirm {
                // Redis answers even when there was nothing to leave.
                confirmations.push(confirmation(
                    kind.unsubscribe_word(),
                    None,
                    count(conn, kind),
                ));
            }
            &all[..]
        } else {
            names
        };
        for name in names {
            let removed = conn
                .subs
                .as_mut()
                .is_some_and(|s| s.of_mut(kind).remove(name));
            if removed {
                self.remove_subscription(kind, name, slot);
            }
            if conn.subs.as_ref().is_some_and(|s| s.is_empty()) {
                conn.subs = None;
            }
            if confirm {
                let count = count(conn, kind);
                confirmations.push(confirmation(
                    kind.unsubscribe_word(),
                    Some(name.clone()),
                    count,
                ));
            }
        }
        confirmations
    }

    /// Drops every subscription of a client that resets or goes away.
    pub(crate) fn unsubscribe_all(&mut self, conn: &mut Conn, slot: u32) {
        if conn.subs.is_some() {
            self.unsubscribe(conn, slot, Kind::Channel, &[], false);
            self.unsubscribe(conn, slot, Kind::Pattern, &[], false);
            self.unsubscribe(conn, slot, Kind::Shard, &[], false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(out: &BytesMut) -> String {
        String::from_utf8_lossy(out).replace("\r\n", " ")
    }

    #[test]
    fn messages_are_arrays_in_resp2_and_pushes_in_resp3() {
        let mut out = BytesMut::new();
        encode_message(&mut out, Protocol::Resp2, "message", None, b"ch", b"hi");
        assert_eq!(text(&out), "*3 $7 message $2 ch $2 hi ");
        out.clear();
        encode_message(
            &mut out,
            Protocol::Resp3,
            "pmessage",
            Some(b"c*"),
            b"ch",
            b"hi",
        );
        assert_eq!(text(&out), ">4 $8 pmessage $2 c* $2 ch $2 hi ");
    }

    #[test]
    fn unsubscribing_from_nothing_names_no_channel() {
        let r = confirmation("unsubscribe", None, 0);
        assert_eq!(
            r.to_bytes(Protocol::Resp2),
            b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
        );
        assert_eq!(
            r.to_bytes(Protocol::Resp3),
            b">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n"
        );
    }

    #[test]
    fn tables_list_and_count_by_channel_and_pattern() {
        let mut t = Tables::default();
        t.channels.insert(Bytes::from_static(b"news"), vec![1, 2]);
        t.channels.insert(Bytes::from_static(b"sport"), vec![3]);
        t.patterns
            .insert(Bytes::from_static(b"n*"), (Glob::new(b"n*"), vec![4]));
        let mut names = t.channel_names(None, false);
        names.sort();
        assert_eq!(
            names,
            vec![Bytes::from_static(b"news"), Bytes::from_static(b"sport")]
        );
        assert_eq!(
            t.channel_names(Some(b"s*"), false),
            vec![Bytes::from_static(b"sport")]
        );
        assert_eq!(
            t.numsub(
                &[Bytes::from_static(b"news"), Bytes::from_static(b"none")],
                false
            ),
            vec![2, 0]
        );
        assert_eq!(t.pattern_names(), vec![Bytes::from_static(b"n*")]);
    }
}
