//! From bytes to replies: parsing a connection's pipeline in batches,
//! prefetching what it will touch, dispatching each command to where it
//! runs, and keeping replies in request order.

use crate::conn::{Conn, ParsedRequest, Pending};
use crate::event_loop::{EventLoop, PARSE_BATCH};
use crate::gather::{finish, plan, Gather, Next, Plan};
use crate::mesh::{Message, ReplyTo};
use crate::ops::{ShardOp, ShardReply};
use bytes::Bytes;
use proto::parse::{parse_request_resuming, Parse};
use proto::{errors, CommandId, Reply};
use shard::Ctx;
use std::collections::VecDeque;

impl EventLoop {
    pub(crate) fn process_dirty(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        for &slot in &dirty {
            let Some(mut conn) = self.conns[slot as usize].take() else {
                continue;
            };
            conn.dirty = false;
            // A connection whose replies wait for the WAL (appendfsync
            // always) reads nothing more until they are out.
            if !conn.closing && !self.stopping && conn.wal_wait == 0 {
                self.process_input(&mut conn, slot);
            }
            conn.drain_ready();
            let over = self.output_over_limit(&mut conn);
            self.conns[slot as usize] = Some(conn);
            // Whatever path a command took (EXEC's included), its events go
            // out before its reply does.
            self.publish_signals(None);
            if over {
                self.begin_close(slot);
            } else {
                self.flush(slot);
            }
        }
        let mut dirty = dirty;
        dirty.clear();
        if self.dirty.is_empty() {
            self.dirty = dirty;
        }
    }

    /// The output limit of the client's class: pub/sub clients (those with
    /// a subscription) have their own, as in Redis.
    pub(crate) fn output_limit(&self, conn: &Conn) -> crate::OutputLimit {
        if conn.subs.is_some() {
            self.shared.config.output_limit_pubsub
        } else {
            self.shared.config.output_limit_normal
        }
    }

    /// Redis's client-output-buffer-limit: over `hard` bytes closes at once;
    /// over `soft` bytes for longer than `soft_seconds` closes too.
    pub(crate) fn output_over_limit(&self, conn: &mut Conn) -> bool {
        let limit = self.output_limit(conn);
        let used = conn.output_len();
        if limit.hard > 0 && used >= limit.hard {
            tracing::warn!(
                client = conn.id,
                used,
                "closing client over the hard output buffer limit"
            );
            return true;
        }
        if limit.soft == 0 || used < limit.soft {
            conn.soft_limit_since_ms = 0;
            return false;
        }
        if conn.soft_limit_since_ms == 0 {
            conn.soft_limit_since_ms = self.now;
            return false;
        }
        let over = self.now.saturating_sub(conn.soft_limit_since_ms) >= limit.soft_seconds * 1000;
        if over {
            tracing::warn!(
                client = conn.id,
                used,
                "closing client over the soft output buffer limit"
            );
        }
        over
    }

    pub(crate) fn process_input(&mut self, conn: &mut Conn, slot: u32) {
        while !conn.barrier && !conn.close_after_flush {
            if let Some(request) = conn.parsed.pop_front() {
                self.stats.total_commands += 1;
                self.dispatch(conn, slot, request);
                // Stop at the hard output limit; the caller closes the client.
                let hard = self.output_limit(conn).hard;
                if hard > 0 && conn.output_len() >= hard {
                    return;
                }
                continue;
            }
            if let Some(error) = conn.parse_error.take() {
                tracing::debug!(client = conn.id, "protocol error: {error}");
                conn.reply(Reply::error(format!("ERR {error}")));
                conn.close_after_flush = true;
                return;
            }
            if !self.parse_batch(conn) {
                return;
            }
        }
        // QUIT or a protocol error: nothing after it runs.
        if conn.close_after_flush {
            conn.parsed.clear();
        }
    }

    /// Parses what the connection sent, up to a batch of requests, and
    /// prefetches the data they will touch. Returns false if nothing new
    /// was parsed.
    pub(crate) fn parse_batch(&mut self, conn: &mut Conn) -> bool {
        // Until AUTH succeeds, one request at a time: its limits are stricter
        // and the next request must be parsed under the outcome of this one.
        let max = if conn.authenticated { PARSE_BATCH } else { 1 };
        self.limits.unauthenticated = !conn.authenticated;
        while conn.parsed.len() < max && conn.rbuf.len() >= conn.need {
            match parse_request_resuming(&mut conn.rbuf, &self.limits, &mut conn.progress) {
                Ok(Parse::Request(args)) => {
                    conn.need = 1;
                    let spec = proto::lookup(&args[0]);
                    conn.parsed.push_back(ParsedRequest { args, spec });
                }
                Ok(Parse::Incomplete(need)) => {
                    conn.need = need;
                    // Big bulks: grow once instead of doubling through every read.
                    if need > conn.rbuf.capacity() && need - conn.rbuf.len() >= 32 * 1024 {
                        conn.rbuf.reserve(need - conn.rbuf.len());
                    }
                    break;
                }
                Err(e) => {
                    conn.parse_error = Some(e.0);
                    break;
                }
            }
        }
        if conn.parsed.len() > 1 {
            self.prefetch(conn.db, &conn.parsed);
        }
        !conn.parsed.is_empty() || conn.parse_error.is_some()
    }

    /// Hides memory latency across a pipeline: with a million keys every
    /// lookup misses the cache several times (slot table, control bytes,
    /// node, value). Two passes start those loads for all the batch's keys
    /// of this shard before any command runs, so they overlap instead of
    /// following one another. Purely a hint: nothing is changed.
    pub(crate) fn prefetch(&self, db: usize, requests: &VecDeque<ParsedRequest>) {
        let Some(db) = self.shard.existing_db(db) else {
            return;
        };
        let shards = self.shard.count;
        let keys: Vec<&[u8]> = requests
            .iter()
            .filter(|r| r.args.len() > 1)
            .filter(|r| {
                matches!(r.spec.map(|s| s.id), Some(CommandId::Shard(c)) if crate::gather::fanout(c) == crate::gather::Fanout::OneKey)
            })
            .map(|r| &r.args[1][..])
            .filter(|k| shards == 1 || shard::shard_of_key(k, shards) == self.id)
            .collect();
        keys.iter().for_each(|k| db.prefetch_slot(k));
        keys.iter().for_each(|k| db.prefetch_node(k));
        keys.iter().for_each(|k| db.prefetch_value(k));
    }

    pub(crate) fn dispatch(&mut self, conn: &mut Conn, slot: u32, request: ParsedRequest) {
        let ParsedRequest { args, spec } = request;
        let Some(spec) = spec else {
            conn.reply(Reply::error(errors::unknown_command(&args[0], &args[1..])));
            conn.abort_multi();
            return;
        };
        conn.last_cmd = full_name(spec.name, &args);
        if !conn.authenticated && !spec.has(proto::table::flags::NO_AUTH) {
            return self.reject(conn, spec, errors::NOAUTH.to_string());
        }
        if !spec.arity_ok(args.len()) {
            return self.reject(conn, spec, errors::wrong_arity(spec.name));
        }
        if conn.subs.is_some()
            && conn.proto == proto::Protocol::Resp2
            && !allowed_subscribed(spec, conn.last_cmd)
        {
            let error = format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                conn.last_cmd
            );
            return self.reject(conn, spec, error);
        }
        // Redis's deny-write on a disk error: a write that cannot reach
        // the WAL is refused rather than acknowledged (PING too, so health
        // checks see it).
        if (spec.has(proto::table::flags::WRITE)
            || spec.id == CommandId::Conn(proto::ConnCmd::Ping))
            && self
                .shared
                .persist
                .wal_failing
                .load(std::sync::atomic::Ordering::Relaxed)
                > 0
        {
            let errno = self
                .shared
                .persist
                .wal_errno
                .load(std::sync::atomic::Ordering::Relaxed);
            let text = std::io::Error::from_raw_os_error(errno).to_string();
            let text = text.split(" (os error").next().unwrap_or(&text);
            let error = format!("MISCONF Errors writing to the AOF file: {text}");
            return self.reject(conn, spec, error);
        }
        if !self.all_loaded && !spec.has(proto::table::flags::LOADING) {
            if self
                .shared
                .persist
                .loading
                .load(std::sync::atomic::Ordering::Acquire)
                > 0
            {
                let error = "LOADING TokenginX is loading the dataset in memory".to_string();
                return self.reject(conn, spec, error);
            }
            self.all_loaded = true;
        }
        if conn.multi.is_some() {
            let request = ParsedRequest {
                args,
                spec: Some(spec),
            };
            let Some(ParsedRequest { args, .. }) = self.queue_in_multi(conn, request) else {
                return;
            };
            return self.dispatch_now(conn, slot, spec, args);
        }
        self.dispatch_now(conn, slot, spec, args)
    }

    /// Refuses a command before it runs; an open transaction is aborted.
    /// A refused EXEC discards the transaction (and its watches) and says
    /// why, as Redis's `rejectCommand` does, even outside MULTI.
    fn reject(&mut self, conn: &mut Conn, spec: &proto::CommandSpec, error: String) {
        if spec.id != CommandId::Conn(proto::ConnCmd::Exec) {
            conn.reply(Reply::error(error));
            conn.abort_multi();
            return;
        }
        conn.multi = None;
        self.unwatch_all(conn);
        let reason = error.strip_prefix("ERR ").unwrap_or(&error);
        conn.reply(Reply::error(format!(
            "EXECABORT Transaction discarded because of: {reason}"
        )));
    }

    fn dispatch_now(
        &mut self,
        conn: &mut Conn,
        slot: u32,
        spec: &'static proto::CommandSpec,
        args: Vec<Bytes>,
    ) {
        let plan = match spec.id {
            CommandId::Shard(cmd) if spec.has(proto::table::flags::BLOCKING) => {
                return self.start_blocking(conn, slot, cmd, args);
            }
            CommandId::Shard(cmd) => {
                let shards = self.shard.count;
                // The common case: one shard, or a key this shard owns.
                if shards == 1
                    || (crate::gather::fanout(cmd) == crate::gather::Fanout::OneKey
                        && shard::shard_of_key(&args[1], shards) == self.id)
                {
                    let reply = shard::execute(
                        &mut Ctx {
                            shard: &mut self.shard,
                            db: conn.db,
                            now: self.now,
                        },
                        cmd,
                        &args,
                    );
                    self.publish_signals(Some((slot, conn)));
                    conn.reply(reply);
                    return;
                }
                plan(cmd, args, shards, self.id, conn.db)
            }
            CommandId::Conn(cmd) => crate::conn_cmd::run(self, conn, slot, cmd, args),
        };
        self.start_plan(conn, slot, plan);
    }

    pub(crate) fn start_plan(&mut self, conn: &mut Conn, slot: u32, plan: Plan) {
        // Held first even with no parts yet: a cross-shard EXEC without
        // watches starts running its commands once every shard is held.
        if !plan.hold.is_empty() {
            self.start_atomic(conn, slot, plan);
            return;
        }
        if plan.parts.is_empty() {
            match finish(plan.combine, Vec::new()) {
                Next::Reply(reply) => conn.reply(reply),
                Next::Silent => {}
                Next::Step(parts, combine) => {
                    let plan = Plan {
                        parts,
                        combine,
                        barrier: plan.barrier,
                        hold: plan.hold,
                    };
                    self.start_plan(conn, slot, plan);
                }
            }
            return;
        }
        let n = plan.parts.len();
        let seq = conn.reserve(Gather {
            combine: plan.combine,
            parts: (0..n).map(|_| None).collect(),
            remaining: n,
            barrier: plan.barrier,
        });
        if plan.barrier {
            conn.barrier = true;
        }
        self.send_parts(conn, slot, seq, plan.parts);
    }

    pub(crate) fn send_parts(
        &mut self,
        conn: &mut Conn,
        slot: u32,
        seq: u64,
        parts: Vec<(usize, ShardOp)>,
    ) {
        for (part, (shard, op)) in parts.into_iter().enumerate() {
            // A snapshot part answers when it is done, later: even this
            // shard's goes through the mailbox.
            if shard == self.id && !matches!(op, ShardOp::Snapshot { .. }) {
                let reply = self.run_op(conn.db, op);
                self.publish_signals(Some((slot, &mut *conn)));
                self.fill(conn, slot, seq, part, reply);
            } else {
                self.stats.cross_shard_requests += 1;
                let reply_to = ReplyTo {
                    shard: self.id,
                    conn: slot,
                    generation: conn.generation,
                    seq,
                    part: part as u32,
                    tx: 0,
                };
                self.peers[shard].send(Message::Request {
                    reply_to,
                    db: conn.db as u8,
                    op,
                });
                self.to_wake[shard] = true;
            }
        }
    }

    /// Stores one part's result; when the step is complete, combines it.
    pub(crate) fn fill(
        &mut self,
        conn: &mut Conn,
        slot: u32,
        seq: u64,
        part: usize,
        reply: ShardReply,
    ) {
        let Some(Pending::Waiting(gather)) = conn.slot_mut(seq) else {
            return;
        };
        if let Some(p) = gather.parts.get_mut(part) {
            *p = Some(reply);
        }
        gather.remaining -= 1;
        if gather.remaining > 0 {
            return;
        }
        let Some(Pending::Waiting(gather)) = conn
            .slot_mut(seq)
            .map(|p| std::mem::replace(p, Pending::Ready(Reply::Nil)))
        else {
            return;
        };
        let Gather {
            combine,
            parts,
            barrier,
            ..
        } = *gather;
        match finish(combine, parts) {
            Next::Reply(reply) if Self::is_blocked_slot(conn, seq) => {
                self.attempt_done(conn, slot, reply);
            }
            Next::Reply(reply) => {
                if let Some(p) = conn.slot_mut(seq) {
                    *p = Pending::Ready(reply);
                }
                if barrier {
                    conn.barrier = false;
                }
                conn.drain_ready();
            }
            Next::Silent => {
                if let Some(p) = conn.slot_mut(seq) {
                    *p = Pending::Nothing;
                }
                conn.drain_ready();
            }
            Next::Step(next_parts, combine) => {
                let n = next_parts.len();
                if let Some(p) = conn.slot_mut(seq) {
                    *p = Pending::Waiting(Box::new(Gather {
                        combine,
                        parts: (0..n).map(|_| None).collect(),
                        remaining: n,
                        barrier,
                    }));
                }
                self.send_parts(conn, slot, seq, next_parts);
            }
        }
    }
}

/// What a RESP2 client with subscriptions may run: the pub/sub commands,
/// PING, QUIT and RESET. A container's unknown subcommand gets its own
/// error first, as in Redis, where it is found before this check.
fn allowed_subscribed(spec: &proto::CommandSpec, full_name: &str) -> bool {
    use proto::ConnCmd::*;
    match spec.id {
        CommandId::Conn(
            Subscribe | Unsubscribe | Psubscribe | Punsubscribe | Ssubscribe | Sunsubscribe | Ping
            | Quit | Reset,
        ) => true,
        CommandId::Conn(Client | Config | Command | Pubsub) => full_name == spec.name,
        _ => false,
    }
}

/// The name CLIENT LIST shows in `cmd=`: `client|list` for a container's
/// subcommand, as Redis 7 shows it, else the command's name.
fn full_name(name: &'static str, args: &[Bytes]) -> &'static str {
    const SUBCOMMANDS: &[&str] = &[
        "client|id",
        "client|getname",
        "client|setname",
        "client|setinfo",
        "client|info",
        "client|list",
        "client|kill",
        "client|no-evict",
        "client|no-touch",
        "client|help",
        "config|get",
        "config|set",
        "config|resetstat",
        "config|help",
        "command|count",
        "command|info",
        "command|docs",
        "command|list",
        "command|getkeys",
        "command|help",
        "pubsub|channels",
        "pubsub|numsub",
        "pubsub|numpat",
        "pubsub|shardchannels",
        "pubsub|shardnumsub",
        "pubsub|help",
    ];
    // Only four containers have subcommands; keep the common path free.
    if !matches!(name, "client" | "config" | "command" | "pubsub") {
        return name;
    }
    let Some(sub) = args.get(1) else { return name };
    SUBCOMMANDS
        .iter()
        .find(|full| {
            full.split_once('|').is_some_and(|(container, s)| {
                container == name && s.as_bytes().eq_ignore_ascii_case(sub)
            })
        })
        .copied()
        .unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::full_name;
    use bytes::Bytes;

    #[test]
    fn subcommands_are_named_like_redis_in_client_list() {
        let args = |a: &[&'static str]| {
            a.iter()
                .map(|s| Bytes::from_static(s.as_bytes()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            full_name("client", &args(&["CLIENT", "List"])),
            "client|list"
        );
        assert_eq!(
            full_name("config", &args(&["config", "GET", "x"])),
            "config|get"
        );
        assert_eq!(full_name("client", &args(&["client", "nosuch"])), "client");
        assert_eq!(full_name("get", &args(&["get", "list"])), "get");
        assert_eq!(full_name("command", &args(&["command"])), "command");
    }
}
