//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH, with Redis's rules.
//!
//! Between MULTI and EXEC commands are checked (name, arity) and queued;
//! an error at that point makes EXEC answer EXECABORT. WATCHed keys are
//! registered on the shard that owns them (`shard::Signals`); any write to
//! one, or its expiry, fails the EXEC with a null reply.
//!
//! EXEC runs the queued commands as one atomic, isolated step. When every
//! key involved (queued or watched) lives on this shard, that is simply
//! running them one after the other: nothing else runs on a shard meanwhile.
//! Otherwise EXEC becomes one cross-shard atomic command (`atomic.rs`): it
//! holds every shard involved, checks the watches, then runs each queued
//! command's own plan in turn, exactly as it would run outside a
//! transaction, and releases the shards after the last one.

use crate::conn::{Conn, ParsedRequest};
use crate::event_loop::EventLoop;
use crate::gather::{done, finish, plan, Combine, Next, Plan};
use crate::ops::{ShardOp, ShardReply};
use bytes::Bytes;
use proto::{CommandId, ConnCmd, Reply};
use shard::shard_of_key;
use std::collections::VecDeque;

pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
pub const NOT_IN_MULTI: &str = "ERR Command not allowed inside a transaction";

/// A connection's open transaction.
#[derive(Default)]
pub struct Multi {
    pub queued: Vec<ParsedRequest>,
    /// A command was refused while queueing: EXEC answers EXECABORT.
    pub aborted: bool,
    /// Bytes the queued commands hold (CLIENT LIST's multi-mem).
    pub bytes: usize,
}

/// An EXEC in progress over several shards, carried from step to step.
pub struct ExecState {
    /// Commands still to run.
    items: VecDeque<Item>,
    /// How to combine the step in flight of the command being run; None
    /// while the watches are being checked.
    current: Option<Combine>,
    replies: Vec<Reply>,
    /// The database the step in flight runs in.
    pub db: usize,
}

/// A queued command of an EXEC in progress.
enum Item {
    /// A data command's plan, with the database it runs in.
    Data(usize, Plan),
    /// A connection command, run on the connection when its turn comes.
    Conn(ConnCmd, Vec<Bytes>),
}

/// Whether a command runs immediately even inside MULTI.
fn runs_in_multi(id: CommandId) -> bool {
    use ConnCmd::*;
    matches!(
        id,
        CommandId::Conn(Exec | Discard | Multi | Watch | Quit | Reset)
    )
}

impl EventLoop {
    /// Queues a command if the connection is inside MULTI. Returns the
    /// request back if it is to run now.
    pub(crate) fn queue_in_multi(
        &mut self,
        conn: &mut Conn,
        request: ParsedRequest,
    ) -> Option<ParsedRequest> {
        let spec = request.spec?;
        let multi = conn.multi.as_mut()?;
        // Redis refuses every command but EXEC, DISCARD, QUIT and RESET
        // while over maxmemory inside MULTI (queueing takes memory too).
        let exempt = matches!(
            spec.id,
            CommandId::Conn(ConnCmd::Exec | ConnCmd::Discard | ConnCmd::Quit | ConnCmd::Reset)
        );
        if !exempt && !self.shard.make_room(self.now) {
            multi.aborted = true;
            conn.reply(Reply::error(proto::errors::OOM));
            return None;
        }
        if runs_in_multi(spec.id) {
            return Some(request);
        }
        if spec.has(proto::table::flags::NO_MULTI) {
            multi.aborted = true;
            conn.reply(Reply::error(NOT_IN_MULTI));
            return None;
        }
        // Redis bounds a transaction only by memory; here the queue counts
        // against the query buffer limit, so one client cannot take the
        // whole machine: past it the client is closed, as for its input.
        multi.bytes += request.args.iter().map(|a| a.len() + 16).sum::<usize>();
        if multi.bytes > self.shared.config.query_buffer_limit {
            tracing::warn!(
                client = conn.id,
                "closing client whose transaction reached max query buffer length"
            );
            conn.multi = None;
            conn.close_after_flush = true;
            return None;
        }
        multi.queued.push(request);
        conn.reply(Reply::simple("QUEUED"));
        None
    }

    /// Forgets every key the connection watches (UNWATCH, EXEC, DISCARD,
    /// RESET, disconnect).
    pub(crate) fn unwatch_all(&mut self, conn: &mut Conn) {
        self.forget_watches(conn.id, std::mem::take(&mut conn.watched));
    }

    pub(crate) fn forget_watches(
        &mut self,
        client: u64,
        watched: impl IntoIterator<Item = (usize, Bytes)>,
    ) {
        for (shard, keys) in self.keys_by_shard(watched) {
            if shard == self.id {
                self.unwatch_keys(client, &keys);
            } else {
                let check = false;
                self.send_untracked(
                    shard,
                    ShardOp::Unwatch {
                        client,
                        keys,
                        check,
                    },
                );
            }
        }
    }

    /// Ends a client's watches on this shard's keys; true if one failed.
    pub(crate) fn unwatch_keys(&mut self, client: u64, keys: &[(usize, Bytes)]) -> bool {
        let now = self.now;
        let mut failed = false;
        for (db, key) in keys {
            let live = self
                .shard
                .existing_db(*db)
                .is_some_and(|d| d.is_live(key, now));
            failed |= self.shard.signals.unwatch(*db, key.clone(), client, live);
        }
        failed
    }
}

pub fn run(lp: &mut EventLoop, conn: &mut Conn, slot: u32, cmd: ConnCmd, args: Vec<Bytes>) -> Plan {
    match cmd {
        ConnCmd::Multi => {
            if conn.multi.is_some() {
                return done(Reply::error("ERR MULTI calls can not be nested"));
            }
            conn.multi = Some(Box::default());
            done(Reply::Ok)
        }
        ConnCmd::Discard => match conn.multi.take() {
            None => done(Reply::error("ERR DISCARD without MULTI")),
            Some(_) => {
                lp.unwatch_all(conn);
                done(Reply::Ok)
            }
        },
        ConnCmd::Unwatch => {
            lp.unwatch_all(conn);
            done(Reply::Ok)
        }
        ConnCmd::Watch => watch(lp, conn, &args),
        _ => exec(lp, conn, slot),
    }
}

fn watch(lp: &mut EventLoop, conn: &mut Conn, args: &[Bytes]) -> Plan {
    if conn.multi.is_some() {
        return done(Reply::error("ERR WATCH inside MULTI is not allowed"));
    }
    let shards = lp.shard.count;
    let mut remote: Vec<Vec<(usize, Bytes)>> = vec![Vec::new(); shards];
    for key in &args[1..] {
        let watched = (conn.db, key.clone());
        if !conn.watched.insert(watched.clone()) {
            continue;
        }
        let shard = shard_of_key(key, shards);
        if shard == lp.id {
            let live = lp.shard.db(conn.db).is_live(key, lp.now);
            lp.shard.signals.watch(watched.0, watched.1, conn.id, live);
        } else {
            remote[shard].push(watched);
        }
    }
    // Remote watches are registered through the owners' mailboxes, ahead
    // of anything this connection sends them later (EXEC's check included).
    for (shard, keys) in remote.into_iter().enumerate() {
        if !keys.is_empty() {
            lp.send_untracked(
                shard,
                ShardOp::Watch {
                    client: conn.id,
                    keys,
                },
            );
        }
    }
    done(Reply::Ok)
}

fn exec(lp: &mut EventLoop, conn: &mut Conn, slot: u32) -> Plan {
    let Some(multi) = conn.multi.take() else {
        return done(Reply::error("ERR EXEC without MULTI"));
    };
    // As Redis: over maxmemory, a transaction holding a command that may
    // grow memory is refused whole. The memory looked at is this shard's
    // (the one the connection lives on).
    let grows = multi
        .queued
        .iter()
        .any(|r| r.spec.is_some_and(|s| s.has(proto::table::flags::DENYOOM)));
    if grows && !lp.shard.make_room(lp.now) {
        lp.unwatch_all(conn);
        return done(Reply::error(format!(
            "EXECABORT Transaction discarded because of: {}",
            proto::errors::OOM
        )));
    }
    if multi.aborted {
        lp.unwatch_all(conn);
        return done(Reply::error(EXECABORT));
    }
    let shards = lp.shard.count;
    let mut involved = vec![false; shards];
    let watched = std::mem::take(&mut conn.watched);
    for (_, key) in &watched {
        involved[shard_of_key(key, shards)] = true;
    }
    // Data commands are planned now, each in the database the SELECTs
    // queued before it choose. Connection commands run in their turn,
    // once the watches passed: a failed EXEC changes nothing at all.
    let mut db = conn.db;
    let mut items = VecDeque::with_capacity(multi.queued.len());
    for ParsedRequest { args, spec } in multi.queued {
        let Some(spec) = spec else { continue };
        match spec.id {
            CommandId::Shard(cmd) => {
                let plan = plan(cmd, args, shards, lp.id, db);
                for &s in plan.hold.iter().chain(plan.parts.iter().map(|(s, _)| s)) {
                    involved[s] = true;
                }
                items.push_back(Item::Data(db, plan));
            }
            CommandId::Conn(cmd) => {
                if reaches_shards(cmd) {
                    involved.iter_mut().for_each(|i| *i = true);
                }
                if cmd == ConnCmd::Select {
                    db = crate::conn_cmd::select_db(&args[1]).unwrap_or(db);
                }
                items.push_back(Item::Conn(cmd, args));
            }
        }
    }
    let hold: Vec<usize> = (0..shards).filter(|&s| involved[s]).collect();
    let local = hold.iter().all(|&s| s == lp.id);
    let mut by_shard = lp.keys_by_shard(watched);
    if let [owner] = hold[..] {
        if owner != lp.id {
            match batch(owner, items, by_shard, conn.id, grows) {
                Ok(plan) => return plan,
                Err(back) => (items, by_shard) = back,
            }
        }
    }
    if local {
        let failed = by_shard
            .pop()
            .is_some_and(|(_, keys)| lp.unwatch_keys(conn.id, &keys));
        if failed {
            return done(Reply::NilArray);
        }
        // The reply's place is taken first: messages for this very client
        // (its own keyspace events) come after the reply, as pushes that
        // come while a command runs do in Redis 7.2; 7.0 would put them
        // inside the reply's array.
        let seq = conn.reserve(crate::gather::Gather {
            combine: Combine::Single,
            parts: vec![None],
            remaining: 1,
            barrier: false,
        });
        let mut replies = Vec::with_capacity(items.len());
        // Checked once above, as Redis checks EXEC, not each command in it.
        lp.shard.in_exec = true;
        for item in items {
            let reply = match item {
                Item::Data(db, plan) => lp.run_plan_here(db, plan),
                Item::Conn(cmd, args) => {
                    let plan = crate::conn_cmd::run(lp, conn, slot, cmd, args);
                    lp.run_plan_here(conn.db, plan)
                }
            };
            // Each command's events go out before the next one runs.
            lp.publish_signals(Some((slot, &mut *conn)));
            replies.push(reply);
        }
        lp.shard.in_exec = false;
        if let Some(p) = conn.slot_mut(seq) {
            *p = crate::conn::Pending::Ready(Reply::Array(replies));
        }
        conn.drain_ready();
        return crate::gather::silent();
    }
    let state = Box::new(ExecState {
        items,
        current: None,
        replies: Vec::new(),
        db: conn.db,
    });
    // Every shard involved is held first; then the watches are checked
    // (no parts when there are none) and the commands run in turn.
    let client = conn.id;
    let checks = by_shard
        .into_iter()
        .map(|(shard, keys)| {
            let op = ShardOp::Unwatch {
                client,
                keys,
                check: true,
            };
            (shard, op)
        })
        .collect();
    Plan {
        parts: checks,
        combine: Combine::Exec(state),
        barrier: true,
        hold,
    }
}

type Watches = Vec<(usize, Vec<(usize, Bytes)>)>;

/// A transaction whose every command runs whole on one other shard `owner`
/// (which also owns every watched key) goes there as one operation: one
/// round trip instead of a hold and a step per command. Gives the items
/// back when one of them is anything else.
fn batch(
    owner: usize,
    items: VecDeque<Item>,
    watched: Watches,
    client: u64,
    grows: bool,
) -> Result<Plan, (VecDeque<Item>, Watches)> {
    let single = |item: &Item| match item {
        Item::Data(_, p) => {
            matches!(p.combine, Combine::Single)
                && matches!(p.parts[..], [(s, _)] if s == owner)
                && p.hold.iter().all(|&s| s == owner)
        }
        Item::Conn(..) => false,
    };
    if !items.iter().all(single) || watched.iter().any(|(s, _)| *s != owner) {
        return Err((items, watched));
    }
    let ops = items
        .into_iter()
        .filter_map(|item| match item {
            Item::Data(db, plan) => plan.parts.into_iter().next().map(|(_, op)| (db, op)),
            Item::Conn(..) => None,
        })
        .collect();
    let watch = watched.into_iter().next().map(|(_, keys)| (client, keys));
    let op = ShardOp::ExecBatch { watch, ops, grows };
    Ok(Plan {
        parts: vec![(owner, op)],
        combine: Combine::ExecBatch,
        barrier: true,
        hold: Vec::new(),
    })
}

/// Whether a connection command queued in a transaction reaches other
/// shards when it runs: EXEC then holds them all, so its parts run inside
/// the transaction like everything else.
fn reaches_shards(cmd: ConnCmd) -> bool {
    use ConnCmd::*;
    match cmd {
        Info | Client | Config | Publish | Spublish | Pubsub => true,
        Ping | Echo | Hello | Auth | Select | Quit | Reset | Command | Time | Multi | Exec
        | Discard | Watch | Unwatch | Shutdown | Subscribe | Unsubscribe | Psubscribe
        | Punsubscribe | Ssubscribe | Sunsubscribe | Save | Bgsave | Bgrewriteaof | Lastsave
        | Backup => false,
    }
}

/// Runs a connection command of a transaction when its turn comes; the
/// connection may have gone, in which case there is no one to answer.
pub type RunConn<'a> = &'a mut dyn FnMut(ConnCmd, Vec<Bytes>) -> Plan;

/// Advances a cross-shard EXEC once the parts of its last step are in.
pub fn step(mut state: Box<ExecState>, parts: Vec<Option<ShardReply>>, run_conn: RunConn) -> Next {
    match state.current.take() {
        // The watch check: any failed watch answers null, running nothing.
        None if !parts.is_empty() => {
            let failed = parts
                .iter()
                .any(|p| !matches!(p, Some(ShardReply::Reply(Reply::Integer(0)))));
            if failed {
                return Next::Reply(Reply::NilArray);
            }
        }
        None => {}
        Some(combine) => match finish(combine, parts) {
            Next::Step(parts, combine) => {
                state.current = Some(combine);
                return Next::Step(parts, Combine::Exec(state));
            }
            Next::Reply(reply) => state.replies.push(reply),
            Next::Silent => state.replies.push(Reply::Nil),
        },
    }
    while let Some(item) = state.items.pop_front() {
        let plan = match item {
            Item::Data(db, plan) => {
                state.db = db;
                plan
            }
            Item::Conn(cmd, args) => run_conn(cmd, args),
        };
        if plan.parts.is_empty() {
            match finish(plan.combine, Vec::new()) {
                Next::Reply(reply) => state.replies.push(reply),
                Next::Silent => state.replies.push(Reply::Nil),
                Next::Step(parts, combine) => {
                    state.current = Some(combine);
                    return Next::Step(parts, Combine::Exec(state));
                }
            }
            continue;
        }
        state.current = Some(plan.combine);
        return Next::Step(plan.parts, Combine::Exec(state));
    }
    Next::Reply(Reply::Array(std::mem::take(&mut state.replies)))
}

impl EventLoop {
    /// Runs a plan whose every step stays on this shard, to its reply.
    pub(crate) fn run_plan_here(&mut self, db: usize, plan: Plan) -> Reply {
        let (mut parts, mut combine) = (plan.parts, plan.combine);
        loop {
            let results = parts
                .into_iter()
                .map(|(_, op)| Some(self.run_op(db, op)))
                .collect();
            match finish(combine, results) {
                Next::Reply(reply) => return reply,
                Next::Silent => return Reply::Nil,
                Next::Step(p, c) => (parts, combine) = (p, c),
            }
        }
    }
}
