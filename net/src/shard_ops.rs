//! The shard side: operations other shards (or this one) ask of the data,
//! and the mailbox they arrive in.

use crate::event_loop::{EventLoop, LoopStats, MAILBOX_BATCH};
use crate::mesh::Message;
use crate::ops::{ShardOp, ShardReply, ShardStats};
use proto::{Reply, ShardCmd};
use shard::Ctx;

impl EventLoop {
    /// Runs an operation on this shard's data.
    pub fn run_op(&mut self, db: usize, op: ShardOp) -> ShardReply {
        let now = self.now;
        match op {
            ShardOp::Command(cmd, args) => ShardReply::Reply(shard::execute(
                &mut Ctx {
                    shard: &mut self.shard,
                    db,
                    now,
                },
                cmd,
                &args,
            )),
            ShardOp::RetryBlocked(cmd, args) => ShardReply::Reply(shard::cmd::blocking::retry(
                &mut Ctx {
                    shard: &mut self.shard,
                    db,
                    now,
                },
                &args,
                cmd == ShardCmd::Blpop,
            )),
            ShardOp::TakeKey(key) => {
                let entry = self.shard.db(db).remove(&key, now);
                if entry.is_some() {
                    let ctx = &mut Ctx {
                        shard: &mut self.shard,
                        db,
                        now,
                    };
                    shard::cmd::keys::renamed_from(ctx, &key);
                }
                ShardReply::Entry(entry)
            }
            ShardOp::PutKey(key, entry) => {
                let list = matches!(entry.value, shard::Value::List(_));
                self.shard.db(db).insert(&key, entry, now);
                let ctx = &mut Ctx {
                    shard: &mut self.shard,
                    db,
                    now,
                };
                shard::cmd::keys::renamed_to(ctx, &key, list);
                ShardReply::Reply(Reply::Ok)
            }
            ShardOp::TakeKeys { keys, make_room } => {
                // Redis's check before a command that may grow memory, here
                // on each shard that holds some of its keys.
                if make_room && !self.shard.in_exec && !self.shard.make_room(now) {
                    return ShardReply::Entries(None);
                }
                ShardReply::Entries(Some(
                    keys.iter()
                        .map(|(db, key)| self.shard.db(*db).lend(key, now))
                        .collect(),
                ))
            }
            ShardOp::PutBack(back) => {
                crate::together::put_back(&mut self.shard, *back, now);
                ShardReply::Reply(Reply::Ok)
            }
            ShardOp::ExecBatch { watch, ops, grows } => {
                if let Some((client, keys)) = watch {
                    if self.unwatch_keys(client, &keys) {
                        return ShardReply::Batch(None);
                    }
                }
                // As Redis refuses such an EXEC whole, judged by the shard
                // that holds the data.
                if grows && !self.shard.make_room(now) {
                    return ShardReply::Reply(Reply::error(format!(
                        "EXECABORT Transaction discarded because of: {}",
                        proto::errors::OOM
                    )));
                }
                // Memory was checked for the EXEC as a whole, as in Redis.
                self.shard.in_exec = true;
                let mut replies = Vec::with_capacity(ops.len());
                for (db, op) in ops {
                    replies.push(self.run_op(db, op));
                    // Each command's events go out before the next one runs.
                    self.publish_signals(None);
                }
                self.shard.in_exec = false;
                ShardReply::Batch(Some(replies))
            }
            ShardOp::Stats => ShardReply::Stats(Box::new(self.shard_stats())),
            ShardOp::BackupCut => ShardReply::Reply(Reply::Integer(self.backup_cut() as i64)),
            // Started from the mailbox (atomic.rs), answered when done.
            ShardOp::Snapshot { .. } => ShardReply::Reply(Reply::error(
                "ERR a snapshot is started through the shard's mailbox",
            )),
            ShardOp::ClientList => ShardReply::Clients(crate::client_cmd::list_lines(self)),
            ShardOp::ClientKill(filter) => {
                ShardReply::Killed(crate::client_cmd::kill(self, &filter))
            }
            ShardOp::ConfigSet(changes) => {
                changes.iter().for_each(|c| self.runtime.apply(c));
                self.shard.signals.notify = self.runtime.notify_keyspace_events;
                self.shard.update_expiry_tracking();
                self.apply_memory_limit();
                if let Some(wal) = self.wal.as_mut() {
                    wal.policy = self.runtime.appendfsync;
                }
                ShardReply::Reply(Reply::Ok)
            }
            ShardOp::Publish {
                channel,
                message,
                sharded,
            } => ShardReply::Reply(Reply::Integer(
                self.publish_local(&channel, &message, sharded, None) as i64,
            )),
            ShardOp::PubsubChannels(pattern, sharded) => ShardReply::Reply(Reply::Array(
                self.pubsub
                    .channel_names(pattern.as_deref(), sharded)
                    .into_iter()
                    .map(Reply::Bulk)
                    .collect(),
            )),
            ShardOp::PubsubNumsub(channels, sharded) => ShardReply::Reply(Reply::Array(
                self.pubsub
                    .numsub(&channels, sharded)
                    .into_iter()
                    .map(Reply::Integer)
                    .collect(),
            )),
            ShardOp::PubsubPatterns => ShardReply::Reply(Reply::Array(
                self.pubsub
                    .pattern_names()
                    .into_iter()
                    .map(Reply::Bulk)
                    .collect(),
            )),
            // Holds only travel through the mailbox (atomic.rs), never as parts.
            ShardOp::Hold | ShardOp::Release => {
                ShardReply::Reply(Reply::error("ERR internal error: hold outside the mailbox"))
            }
            ShardOp::Watch { client, keys } => {
                for (db, key) in keys {
                    let live = self
                        .shard
                        .existing_db(db)
                        .is_some_and(|d| d.is_live(&key, now));
                    self.shard.signals.watch(db, key, client, live);
                }
                ShardReply::Reply(Reply::Ok)
            }
            ShardOp::Unwatch { client, keys, .. } => {
                ShardReply::Reply(Reply::Integer(self.unwatch_keys(client, &keys) as i64))
            }
            ShardOp::Block { waiter, keys } => {
                self.add_waiter(waiter, keys);
                ShardReply::Reply(Reply::Ok)
            }
            ShardOp::Unblock { client, keys } => {
                self.remove_waiter(client, &keys);
                ShardReply::Reply(Reply::Ok)
            }
            ShardOp::WakeBlocked { slot, generation } => {
                self.wake_blocked(slot, generation);
                ShardReply::Reply(Reply::Ok)
            }
            ShardOp::ResetStats => {
                self.stats = LoopStats::default();
                self.shard
                    .dbs_mut()
                    .for_each(|db| db.stats = Default::default());
                self.shard.evicted = 0;
                ShardReply::Reply(Reply::Ok)
            }
        }
    }

    /// Hands the shard its share of `maxmemory` and the policy; a lowered
    /// limit evicts at once, as Redis's CONFIG SET maxmemory does.
    pub(crate) fn apply_memory_limit(&mut self) {
        let share = self.runtime.maxmemory_share(self.shard.count);
        self.shard
            .set_memory_limit(share, self.runtime.maxmemory_policy);
        self.shard.make_room(self.now);
    }

    pub(crate) fn shard_stats(&self) -> ShardStats {
        let mut s = ShardStats {
            shard: self.id,
            ..ShardStats::default()
        };
        for (i, db) in self.shard.dbs() {
            if !db.is_empty() {
                s.keyspace.push((i, db.len(), db.volatile_len()));
            }
            s.hits += db.stats.hits;
            s.misses += db.stats.misses;
            s.expired += db.stats.expired;
        }
        s.evicted = self.shard.evicted;
        s.used_memory = self.shard.used_memory() as u64;
        s.maxmemory = self.shard.maxmemory() as u64;
        s.connected_clients = self.conns.iter().flatten().count();
        s.total_connections = self.stats.total_connections;
        s.rejected_connections = self.stats.rejected_connections;
        s.total_commands = self.stats.total_commands;
        s.net_input_bytes = self.stats.net_input_bytes;
        s.net_output_bytes = self.stats.net_output_bytes;
        s.cross_shard_requests = self.stats.cross_shard_requests;
        s.receive_buffers_exhausted = self.stats.receive_buffers_exhausted;
        s.pubsub_channels = self.pubsub.channel_count() as u64;
        s.pubsub_patterns = self.pubsub.pattern_count() as u64;
        s.persist = self.persist_stats();
        // Counted where a client's first key lives, once its wait is noted there.
        let waiting: hashbrown::HashSet<u64> = self
            .waiters
            .values()
            .flatten()
            .filter(|w| w.counted)
            .map(|w| w.client)
            .collect();
        s.blocked_clients = waiting.len();
        s
    }

    pub(crate) fn drain_mailbox(&mut self) {
        for _ in 0..MAILBOX_BATCH {
            let Ok(msg) = self.mailbox.rx.try_recv() else {
                break;
            };
            match msg {
                Message::Request { reply_to, db, op } => self.handle_request(reply_to, db, op),
                Message::Publish(batch) => {
                    for (channel, message) in batch {
                        self.publish_local(&channel, &message, false, None);
                    }
                }
                Message::Response { reply_to, reply } if reply_to.tx != 0 => {
                    self.on_tx_response(reply_to.tx, reply_to.part as usize, reply)
                }
                Message::Response { reply_to, reply } => {
                    let slot = reply_to.conn;
                    let Some(mut conn) = self.conns.get_mut(slot as usize).and_then(|c| c.take())
                    else {
                        continue;
                    };
                    if conn.generation == reply_to.generation {
                        self.fill(&mut conn, slot, reply_to.seq, reply_to.part as usize, reply);
                        if !conn.dirty {
                            conn.dirty = true;
                            self.dirty.push(slot);
                        }
                    }
                    self.conns[slot as usize] = Some(conn);
                }
            }
        }
    }
}
