//! Commands on keys of several shards, made atomic and isolated.
//!
//! Redis runs MSET, MGET, DEL k1 k2, RENAME... as one indivisible step: no
//! other client sees half of an MSET. Here the keys of one command may live
//! on several cores, so the shard where the command arrived (the
//! coordinator) *holds* every shard involved, runs the parts, then
//! releases them. A shard's first-step parts travel right behind its Hold
//! and run as soon as it is held (strict two-phase locking: as isolated as
//! waiting for every hold, one round trip fewer):
//!
//! ```text
//!   coordinator            shard a (lowest)        shard b
//!     Hold, parts --------->  held: runs only
//!     <----------- ok, replies this command's parts
//!     Hold, parts ---------------------------------> held, runs parts
//!     <----------------------------------------- ok, replies
//!     later steps, if any ->  run                   run
//!     Release ------------->  free                  free
//! ```
//!
//! A held shard runs nothing else: no command from its own clients, no
//! other shard's request, no expiry. What arrives meanwhile waits, in
//! order, and runs after the Release. Holds are always taken one at a time
//! in ascending shard order, so two commands can never wait for each other
//! in a cycle (each waits only for shards above all those it holds).
//! Every message goes through the shard mailboxes, the coordinator's own
//! included, so a coordinator's shard is held and released like any other.
//!
//! The state of a command in flight lives here, not in its connection: if
//! the client disconnects, the command still finishes and releases.

use crate::conn::Pending;
use crate::event_loop::EventLoop;
use crate::gather::{finish, Combine, Next, Plan};
use crate::mesh::{Message, ReplyTo};
use crate::ops::{ShardOp, ShardReply};
use proto::Reply;

/// The part number of a Hold and of its grant, told apart from parts' replies.
const HOLD_PART: u32 = u32::MAX;
/// The part number of an operation whose result nobody waits for.
const NO_ANSWER: u32 = u32::MAX - 1;

/// One cross-shard atomic command in flight, kept by its coordinator.
pub struct Tx {
    conn: u32,
    generation: u32,
    seq: u64,
    db: usize,
    /// Shards to hold, ascending; the first `held` of them are held.
    hold: Vec<usize>,
    held: usize,
    /// The first step's parts not sent yet, by index into `hold`: each
    /// follows its shard's Hold (see `start_atomic`).
    first: Vec<Vec<(usize, ShardOp)>>,
    combine: Option<Combine>,
    parts: Vec<Option<ShardReply>>,
    remaining: usize,
}

impl EventLoop {
    /// Starts an atomic command for a connection; its reply slot is filled
    /// when the command completes.
    pub(crate) fn start_atomic(&mut self, conn: &mut crate::conn::Conn, slot: u32, plan: Plan) {
        let seq = conn.reserve(crate::gather::Gather {
            combine: Combine::Single,
            parts: vec![None],
            remaining: 1,
            barrier: true,
        });
        self.start_atomic_at(conn, slot, seq, plan);
    }

    /// Starts an atomic command whose reply goes to the reserved slot `seq`.
    pub(crate) fn start_atomic_at(
        &mut self,
        conn: &mut crate::conn::Conn,
        slot: u32,
        seq: u64,
        plan: Plan,
    ) {
        conn.barrier = true;
        self.next_tx += 1;
        let id = ((self.id as u64 + 1) << 40) | (self.next_tx & ((1 << 40) - 1));
        // A part goes out right behind its shard's Hold, in the same
        // mailbox, so it runs the moment that shard is held: under strict
        // two-phase locking (holds taken one by one, none released before
        // the end) reading or writing a shard as soon as it is held is as
        // isolated as waiting for them all, and it saves a round trip.
        let n = plan.parts.len();
        let mut first: Vec<Vec<(usize, ShardOp)>> = plan.hold.iter().map(|_| Vec::new()).collect();
        for (part, (shard, op)) in plan.parts.into_iter().enumerate() {
            // Plans hold every shard they have parts on; one that does
            // not still gets its part, after the last Hold.
            let at = plan
                .hold
                .iter()
                .position(|s| *s == shard)
                .unwrap_or(plan.hold.len() - 1);
            first[at].push((part, op));
        }
        // EXEC's first step runs in the database its first command was
        // queued in (run_tx_step sets it for later steps).
        let db = match &plan.combine {
            Combine::Exec(state) => state.db,
            _ => conn.db,
        };
        let tx = Tx {
            conn: slot,
            generation: conn.generation,
            seq,
            db,
            hold: plan.hold,
            held: 0,
            first,
            combine: Some(plan.combine),
            parts: (0..n).map(|_| None).collect(),
            remaining: n,
        };
        self.txs.insert(id, tx);
        self.send_hold(id, 0);
    }

    /// Sends the Hold of `hold[i]` and the first-step parts that follow it.
    fn send_hold(&mut self, id: u64, i: usize) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        let (shard, db) = (tx.hold[i], tx.db);
        let parts = std::mem::take(&mut tx.first[i]);
        self.send_tx(shard, id, HOLD_PART, db, ShardOp::Hold);
        for (part, op) in parts {
            self.send_tx(shard, id, part as u32, db, op);
        }
    }

    /// Sends an operation that answers nothing (WATCH bookkeeping).
    pub(crate) fn send_untracked(&mut self, shard: usize, op: ShardOp) {
        let reply_to = ReplyTo {
            shard: self.id,
            conn: 0,
            generation: 0,
            seq: u64::MAX,
            part: 0,
            tx: 0,
        };
        self.stats.cross_shard_requests += 1;
        self.peers[shard].send(Message::Request {
            reply_to,
            db: 0,
            op,
        });
        self.to_wake[shard] = true;
    }

    fn send_tx(&mut self, shard: usize, id: u64, part: u32, db: usize, op: ShardOp) {
        let reply_to = ReplyTo {
            shard: self.id,
            conn: 0,
            generation: 0,
            seq: 0,
            part,
            tx: id,
        };
        if shard != self.id {
            self.stats.cross_shard_requests += 1;
        }
        self.peers[shard].send(Message::Request {
            reply_to,
            db: db as u8,
            op,
        });
        self.to_wake[shard] = true;
    }

    /// A reply to one of this shard's atomic commands: a Hold granted, or a part's result.
    pub(crate) fn on_tx_response(&mut self, id: u64, part: usize, reply: ShardReply) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        if part == HOLD_PART as usize {
            tx.held += 1;
            if tx.held < tx.hold.len() {
                let next = tx.held;
                self.send_hold(id, next);
                return;
            }
        } else if let Some(slot) = tx.parts.get_mut(part) {
            *slot = Some(reply);
            tx.remaining -= 1;
        }
        if tx.held == tx.hold.len() && tx.remaining == 0 {
            self.tx_step_done(id);
        }
    }

    fn run_tx_step(&mut self, id: u64, parts: Vec<(usize, ShardOp)>, combine: Combine) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        // EXEC runs each queued command in the database it was queued in.
        if let Combine::Exec(state) = &combine {
            tx.db = state.db;
        }
        tx.parts = (0..parts.len()).map(|_| None).collect();
        tx.remaining = parts.len();
        tx.combine = Some(combine);
        let db = tx.db;
        for (part, (shard, op)) in parts.into_iter().enumerate() {
            if shard == self.id {
                // This shard is held by this command: run its part inline.
                let reply = self.run_op(db, op);
                self.publish_signals(None);
                if let Some(tx) = self.txs.get_mut(&id) {
                    tx.parts[part] = Some(reply);
                    tx.remaining -= 1;
                }
            } else {
                self.send_tx(shard, id, part as u32, db, op);
            }
        }
        if self.txs.get(&id).is_some_and(|tx| tx.remaining == 0) {
            self.tx_step_done(id);
        }
    }

    fn tx_step_done(&mut self, id: u64) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        let Some(combine) = tx.combine.take() else {
            return;
        };
        let parts = std::mem::take(&mut tx.parts);
        let (slot, generation) = (tx.conn, tx.generation);
        if let Combine::Together(together) = combine {
            let (reply, put_back) = self.run_together(*together, parts);
            // Under appendfsync always the owners' answers to the put-back
            // come once it is durable there, and the client's reply waits
            // for them; otherwise nobody needs to wait.
            let always = self
                .wal
                .as_ref()
                .is_some_and(|w| w.policy == crate::AppendFsync::Always);
            if always && !put_back.is_empty() {
                self.run_tx_step(id, put_back, Combine::Ready(reply));
            } else {
                self.end_tx_with(id, put_back, reply);
            }
            return;
        }
        let next = match combine {
            Combine::Exec(state) => self.exec_step(slot, generation, state, parts),
            combine => finish(combine, parts),
        };
        match next {
            Next::Step(parts, combine) => self.run_tx_step(id, parts, combine),
            Next::Reply(reply) => self.end_tx(id, reply),
            Next::Silent => self.end_tx(id, Reply::Nil),
        }
    }

    /// One step of a cross-shard EXEC; its connection commands run on the
    /// client's connection, if it is still there.
    fn exec_step(
        &mut self,
        slot: u32,
        generation: u32,
        state: Box<crate::multi::ExecState>,
        parts: Vec<Option<ShardReply>>,
    ) -> Next {
        let mut conn = self
            .conns
            .get_mut(slot as usize)
            .and_then(|c| c.take_if(|c| c.generation == generation));
        let next = crate::multi::step(state, parts, &mut |cmd, args| match conn.as_mut() {
            Some(conn) => crate::conn_cmd::run(self, conn, slot, cmd, args),
            None => crate::gather::done(Reply::Nil),
        });
        if let Some(conn) = conn {
            self.conns[slot as usize] = Some(conn);
        }
        next
    }

    /// Releases every held shard and hands the reply to the connection, if
    /// it is still there.
    fn end_tx(&mut self, id: u64, reply: Reply) {
        self.end_tx_with(id, Vec::new(), reply);
    }

    /// Ends a command with `last` operations that need no answer: each
    /// reaches its shard before the Release, while the shard is still held
    /// by this command, so the client may have its reply at once. Nothing
    /// can run on that shard in between, and this connection's own next
    /// command travels behind them in the same mailbox.
    fn end_tx_with(&mut self, id: u64, last: Vec<(usize, ShardOp)>, reply: Reply) {
        let Some(tx) = self.txs.remove(&id) else {
            return;
        };
        for (shard, op) in last {
            if shard == self.id {
                self.run_op(tx.db, op);
            } else {
                self.send_tx(shard, id, NO_ANSWER, tx.db, op);
            }
        }
        for &shard in &tx.hold {
            self.send_tx(shard, id, 0, tx.db, ShardOp::Release);
        }
        let Some(mut conn) = self.conns.get_mut(tx.conn as usize).and_then(|c| c.take()) else {
            return;
        };
        if conn.generation == tx.generation && Self::is_blocked_slot(&conn, tx.seq) {
            self.attempt_done(&mut conn, tx.conn, reply);
        } else if conn.generation == tx.generation {
            self.deliver_tx_reply(&mut conn, tx.conn, tx.seq, reply);
        }
        self.conns[tx.conn as usize] = Some(conn);
    }

    fn deliver_tx_reply(
        &mut self,
        conn: &mut crate::conn::Conn,
        slot: u32,
        seq: u64,
        reply: Reply,
    ) {
        if let Some(p) = conn.slot_mut(seq) {
            *p = Pending::Ready(reply);
        }
        conn.barrier = false;
        conn.drain_ready();
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push(slot);
        }
    }

    /// Runs a request from the mailbox, or keeps it for later if this shard
    /// is held by another command.
    pub(crate) fn handle_request(&mut self, reply_to: ReplyTo, db: u8, op: ShardOp) {
        if let Some(holder) = self.held_by {
            if reply_to.tx != holder && op.touches_data() {
                self.deferred
                    .push_back(Message::Request { reply_to, db, op });
                return;
            }
        }
        if reply_to.tx != 0 && reply_to.part == NO_ANSWER {
            self.run_op(db as usize, op);
            return;
        }
        let reply = match op {
            ShardOp::Hold => {
                self.held_by = Some(reply_to.tx);
                ShardReply::Reply(Reply::Ok)
            }
            ShardOp::Release => {
                self.held_by = None;
                // What waited runs now, before anything newer, in order.
                for msg in std::mem::take(&mut self.deferred) {
                    if let Message::Request { reply_to, db, op } = msg {
                        self.handle_request(reply_to, db, op);
                    }
                }
                return;
            }
            ShardOp::Snapshot { answer } => {
                self.start_snapshot(answer.then_some(reply_to));
                return;
            }
            op => {
                let silent = matches!(
                    op,
                    ShardOp::Watch { .. }
                        | ShardOp::Unwatch { check: false, .. }
                        | ShardOp::Block { .. }
                        | ShardOp::Unblock { .. }
                        | ShardOp::WakeBlocked { .. }
                );
                let reply = self.run_op(db as usize, op);
                self.publish_signals(None);
                if silent {
                    return;
                }
                reply
            }
        };
        self.respond(reply_to, reply);
    }
}
