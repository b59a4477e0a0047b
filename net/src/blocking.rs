//! Blocking list commands (BLPOP, BRPOP): waiting for data without
//! holding anything.
//!
//! A blocked client's command is simply run again, non-blocking, whenever
//! one of its keys may have received data, until it pops something or
//! times out, as Redis's `handleClientsBlockedOnKeys` re-runs it:
//!
//! ```text
//!   client's shard (coordinator)          key's shard (owner)
//!     attempt: null ------------------>   Block: note the waiter,
//!                                          ready at once if the key has data
//!                                         ... LPUSH key: key ready
//!     <------------------------------ WakeBlocked
//!     attempt again: popped -> reply
//!     Unblock ------------------------->   forget the waiter
//! ```
//!
//! The owner re-checks the key when the waiter arrives, so a push that
//! lands between the failed attempt and the registration is not missed.
//! A wake that arrives while an attempt is in flight is remembered and the
//! attempt repeated. The client's reply slot stays reserved all along, so
//! its later commands wait behind the blocked one, in order.

use crate::conn::{Conn, Pending};
use crate::event_loop::EventLoop;
use crate::gather::{plan, Combine, Gather, Plan};
use crate::ops::ShardOp;
use bytes::Bytes;
use proto::{Reply, ShardCmd};
use shard::shard_of_key;

/// A client waiting in a blocking command, kept by its connection.
pub struct Blocked {
    /// Its reply slot.
    seq: u64,
    cmd: ShardCmd,
    args: Vec<Bytes>,
    /// The keys it waits on, with their database.
    keys: Vec<(usize, Bytes)>,
    /// Unix ms at which it gives up; 0 waits forever.
    deadline: u64,
    /// Its waits are noted on the owners of its keys.
    registered: bool,
    /// An attempt is in flight.
    attempting: bool,
    /// A wake arrived during the attempt: try once more if it fails.
    again: bool,
}

/// One waiting client, as the owner of a key knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiter {
    pub client: u64,
    /// Where the client's connection lives.
    pub shard: usize,
    pub slot: u32,
    pub generation: u32,
    /// This shard owns the client's first key: INFO's blocked_clients
    /// counts the client here, once it waits here.
    pub counted: bool,
}

/// The keys a blocking command waits on.
fn wait_keys(cmd: ShardCmd, args: &[Bytes]) -> &[Bytes] {
    match cmd {
        ShardCmd::Blpop | ShardCmd::Brpop => &args[1..args.len() - 1],
        _ => &args[1..2],
    }
}

/// What a blocking command answers when it times out.
fn timed_out(_cmd: ShardCmd) -> Reply {
    Reply::NilArray
}

/// The plan of an attempt once the client waits: BLPOP's and BRPOP's pops
/// pass over keys of another type (`ShardOp::RetryBlocked`).
fn as_retry(mut plan: Plan) -> Plan {
    let retry = |op: &mut ShardOp| {
        if let ShardOp::Command(cmd @ (ShardCmd::Blpop | ShardCmd::Brpop), args) = op {
            *op = ShardOp::RetryBlocked(*cmd, std::mem::take(args));
        }
    };
    plan.parts.iter_mut().for_each(|(_, op)| retry(op));
    if let Combine::FirstOf(rest) = &mut plan.combine {
        rest.iter_mut().for_each(|(_, op)| retry(op));
    }
    plan
}

/// An empty slot holder while the client waits.
fn waiting() -> Pending {
    Pending::Waiting(Box::new(Gather {
        combine: Combine::Single,
        parts: vec![None],
        remaining: 1,
        barrier: true,
    }))
}

impl EventLoop {
    /// Runs a blocking command from a client (outside MULTI, where it
    /// does not block).
    pub(crate) fn start_blocking(
        &mut self,
        conn: &mut Conn,
        slot: u32,
        cmd: ShardCmd,
        args: Vec<Bytes>,
    ) {
        let timeout = match shard::cmd::blocking::checked_timeout(cmd, &args) {
            Ok(t) => t,
            Err(e) => return conn.reply(e),
        };
        conn.pending.push_back(waiting());
        let seq = conn.first_seq + conn.pending.len() as u64 - 1;
        conn.barrier = true;
        let db = conn.db;
        let keys = wait_keys(cmd, &args)
            .iter()
            .map(|k| (db, k.clone()))
            .collect();
        let deadline = if timeout == 0 { 0 } else { self.now + timeout };
        if deadline != 0 {
            let next = self
                .next_block_deadline
                .map_or(deadline, |n| n.min(deadline));
            self.next_block_deadline = Some(next);
        }
        conn.blocked = Some(Box::new(Blocked {
            seq,
            cmd,
            args,
            keys,
            deadline,
            registered: false,
            attempting: false,
            again: false,
        }));
        self.blocked.insert(slot);
        self.attempt(conn, slot);
    }

    /// Runs the command once, non-blocking; `attempt_done` gets the reply.
    fn attempt(&mut self, conn: &mut Conn, slot: u32) {
        let Some(b) = conn.blocked.as_mut() else {
            return;
        };
        b.attempting = true;
        let mut plan = plan(b.cmd, b.args.clone(), self.shard.count, self.id, conn.db);
        if b.registered {
            plan = as_retry(plan);
        }
        let seq = b.seq;
        if !plan.hold.is_empty() {
            self.start_atomic_at(conn, slot, seq, plan);
            return;
        }
        let n = plan.parts.len();
        if let Some(p) = conn.slot_mut(seq) {
            *p = Pending::Waiting(Box::new(Gather {
                combine: plan.combine,
                parts: (0..n).map(|_| None).collect(),
                remaining: n,
                barrier: true,
            }));
        }
        self.send_parts(conn, slot, seq, plan.parts);
    }

    /// Whether `seq` is the reply slot of the connection's blocked command.
    pub(crate) fn is_blocked_slot(conn: &Conn, seq: u64) -> bool {
        conn.blocked.as_ref().is_some_and(|b| b.seq == seq)
    }

    /// An attempt answered: reply, or keep waiting if it found nothing.
    pub(crate) fn attempt_done(&mut self, conn: &mut Conn, slot: u32, reply: Reply) {
        let now = self.now;
        let stopping = self.stopping;
        let Some(b) = conn.blocked.as_mut() else {
            return;
        };
        b.attempting = false;
        let empty = matches!(reply, Reply::NilArray | Reply::Nil);
        let expired = b.deadline != 0 && now > b.deadline;
        if !empty || expired || stopping {
            // Stopping with nothing popped: no reply, as Redis closes
            // blocked clients at SHUTDOWN without answering them.
            let reply = match (empty, expired) {
                (false, _) => Some(reply),
                (true, true) => Some(timed_out(b.cmd)),
                (true, false) => None,
            };
            return self.unblock(conn, slot, reply);
        }
        if std::mem::take(&mut b.again) {
            return self.attempt(conn, slot);
        }
        let seq = b.seq;
        let register = !std::mem::replace(&mut b.registered, true);
        let keys = if register { b.keys.clone() } else { Vec::new() };
        if let Some(p) = conn.slot_mut(seq) {
            *p = waiting();
        }
        if register {
            let first = shard_of_key(&keys[0].1, self.shard.count);
            for (shard, keys) in self.keys_by_shard(keys) {
                let waiter = Waiter {
                    client: conn.id,
                    shard: self.id,
                    slot,
                    generation: conn.generation,
                    counted: shard == first,
                };
                if shard == self.id {
                    self.add_waiter(waiter, keys);
                } else {
                    self.send_untracked(shard, ShardOp::Block { waiter, keys });
                }
            }
        }
    }

    /// Ends the wait with `reply`: the client's later commands run again.
    fn unblock(&mut self, conn: &mut Conn, slot: u32, reply: Option<Reply>) {
        let Some(b) = conn.blocked.take() else {
            return;
        };
        if b.registered {
            self.forget_waits(conn.id, b.keys);
        }
        if let Some(p) = conn.slot_mut(b.seq) {
            *p = reply.map_or(Pending::Nothing, Pending::Ready);
        }
        self.blocked.remove(&slot);
        conn.barrier = false;
        conn.drain_ready();
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push(slot);
        }
    }

    /// A disconnecting client leaves no waiter behind.
    pub(crate) fn drop_blocked(&mut self, conn: &mut Conn, slot: u32) {
        if let Some(b) = conn.blocked.take() {
            if b.registered {
                self.forget_waits(conn.id, b.keys);
            }
            self.blocked.remove(&slot);
        }
    }

    fn forget_waits(&mut self, client: u64, keys: Vec<(usize, Bytes)>) {
        for (shard, keys) in self.keys_by_shard(keys) {
            if shard == self.id {
                self.remove_waiter(client, &keys);
            } else {
                self.send_untracked(shard, ShardOp::Unblock { client, keys });
            }
        }
    }

    /// Groups (db, key) pairs by the shard owning each key, shards ascending.
    pub(crate) fn keys_by_shard(
        &self,
        keys: impl IntoIterator<Item = (usize, Bytes)>,
    ) -> Vec<(usize, Vec<(usize, Bytes)>)> {
        let shards = self.shard.count;
        let mut per: Vec<Vec<(usize, Bytes)>> = vec![Vec::new(); shards];
        for (db, key) in keys {
            per[shard_of_key(&key, shards)].push((db, key));
        }
        per.into_iter()
            .enumerate()
            .filter(|(_, k)| !k.is_empty())
            .collect()
    }

    /// Owner side: notes a waiter on this shard's keys. A key that holds
    /// data already is reported ready at once (see the module comment).
    pub(crate) fn add_waiter(&mut self, waiter: Waiter, keys: Vec<(usize, Bytes)>) {
        let now = self.now;
        for (db, key) in keys {
            let signals = &mut self.shard.signals;
            *signals.blocking.entry((db, key.clone())).or_default() += 1;
            self.waiters
                .entry((db, key.clone()))
                .or_default()
                .push(waiter);
            let live = self
                .shard
                .existing_db(db)
                .is_some_and(|d| d.is_live(&key, now));
            if live {
                self.shard.signals.key_ready(db, &key);
            }
        }
    }

    /// Owner side: forgets a client's waits on this shard's keys; a key
    /// with data left wakes its next waiter.
    pub(crate) fn remove_waiter(&mut self, client: u64, keys: &[(usize, Bytes)]) {
        let now = self.now;
        for (db, key) in keys {
            let k = (*db, key.clone());
            if let Some(list) = self.waiters.get_mut(&k) {
                let was_first = list.first().is_some_and(|w| w.client == client);
                list.retain(|w| w.client != client);
                if list.is_empty() {
                    self.waiters.remove(&k);
                } else if was_first
                    && self
                        .shard
                        .existing_db(*db)
                        .is_some_and(|d| d.is_live(key, now))
                {
                    self.shard.signals.ready.push(k.clone());
                }
            }
            let blocking = &mut self.shard.signals.blocking;
            if let Some(n) = blocking.get_mut(&k) {
                *n -= 1;
                if *n == 0 {
                    blocking.remove(&k);
                }
            }
        }
    }

    /// Owner side: a key that received data wakes its oldest waiter. When
    /// that one is served it stops waiting, and if data is left the next
    /// oldest is woken (`remove_waiter`): clients are served in the order
    /// they blocked, as in Redis, wherever their connections live.
    pub(crate) fn wake_ready_keys(&mut self) {
        for key in std::mem::take(&mut self.shard.signals.ready) {
            let Some(&w) = self.waiters.get(&key).and_then(|list| list.first()) else {
                continue;
            };
            if w.shard == self.id {
                self.wake_blocked(w.slot, w.generation);
            } else {
                let (slot, generation) = (w.slot, w.generation);
                self.send_untracked(w.shard, ShardOp::WakeBlocked { slot, generation });
            }
        }
    }

    /// Coordinator side: one of the client's keys may have data.
    pub(crate) fn wake_blocked(&mut self, slot: u32, generation: u32) {
        let Some(mut conn) = self.conns.get_mut(slot as usize).and_then(|c| c.take()) else {
            return;
        };
        if conn.generation == generation {
            match conn.blocked.as_mut() {
                Some(b) if b.attempting => b.again = true,
                Some(_) => self.attempt(&mut conn, slot),
                None => {}
            }
        }
        self.conns[slot as usize] = Some(conn);
    }

    /// Answers blocked clients whose timeout passed (and lets go of all of
    /// them, unanswered, when the server stops). Returns the earliest deadline still ahead.
    pub(crate) fn expire_blocked(&mut self) -> Option<u64> {
        let mut next: Option<u64> = None;
        for slot in self.blocked.iter().copied().collect::<Vec<_>>() {
            let Some(mut conn) = self.conns.get_mut(slot as usize).and_then(|c| c.take()) else {
                continue;
            };
            if let Some(b) = conn.blocked.as_ref() {
                // Strictly after: `now` is whole milliseconds, and a client
                // must never be answered before its full timeout.
                let due = self.stopping || (b.deadline != 0 && self.now > b.deadline);
                if due && !b.attempting {
                    let expired = b.deadline != 0 && self.now > b.deadline;
                    let reply = expired.then(|| timed_out(b.cmd));
                    self.unblock(&mut conn, slot, reply);
                } else if b.deadline != 0 {
                    next = Some(next.map_or(b.deadline, |n| n.min(b.deadline)));
                }
            }
            self.conns[slot as usize] = Some(conn);
        }
        next
    }
}
