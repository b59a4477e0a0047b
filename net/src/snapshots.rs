//! Snapshots while serving: SAVE, BGSAVE, BGREWRITEAOF and the save rules
//! start a round in which every shard snapshots itself a slice of slots per
//! loop iteration (shard/src/snapshot_job.rs), commits its file to the
//! MANIFEST and deletes the WAL segments it covers.
//!
//! A round is counted in shared atomics, so any shard may start one and
//! LASTSAVE / INFO read it anywhere: `saving` is set by whoever starts the
//! round, and the last shard to finish its part clears it.

use crate::event_loop::EventLoop;
use crate::mesh::{Message, ReplyTo};
use crate::ops::{ShardOp, ShardReply};
use persist::snapshot::manifest::ShardSnapshot;
use proto::Reply;
use shard::snapshot_job::SnapshotJob;
use std::sync::atomic::Ordering;

/// Keys a snapshot writes per loop iteration: about a millisecond of
/// encoding and compression, so clients of a busy shard wait no longer.
const SLICE_KEYS: usize = 2000;
/// After a failed round, the save rules wait this long before the next
/// (Redis's CONFIG_BGSAVE_RETRY_DELAY).
const RETRY_DELAY_MS: u64 = 5000;

pub(crate) struct SnapshotRun {
    job: SnapshotJob,
    /// What the WAL had logged when the job started: a finished snapshot
    /// covers that much.
    changes_before: u64,
    bytes_before: u64,
    /// SAVE callers waiting for this shard's part.
    waiters: Vec<ReplyTo>,
    error: Option<String>,
    /// Once every slot is written: the WAL segment that was current then.
    /// The snapshot is finished when the log has moved to a new segment,
    /// at that segment's first LSN, so every older segment is covered
    /// whole and deleted.
    rotate_from: Option<u64>,
}

/// A snapshot whose file is being finished and committed on its thread.
pub(crate) struct Finishing {
    rx: crossbeam_channel::Receiver<Result<u64, String>>,
    changes_before: u64,
    bytes_before: u64,
    waiters: Vec<ReplyTo>,
}

/// How a shard's part of a round ended.
struct Finished {
    result: Result<u64, String>,
    changes_before: u64,
    bytes_before: u64,
    waiters: Vec<ReplyTo>,
}

impl EventLoop {
    /// Claims the round; false if one is running.
    pub(crate) fn begin_round(&self) -> bool {
        let ps = &self.shared.persist;
        if ps
            .saving
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        ps.round_failed.store(false, Ordering::Release);
        ps.round_is_rewrite.store(false, Ordering::Release);
        ps.saving_shards.store(self.shard.count, Ordering::Release);
        ps.round_started_ms.store(self.now, Ordering::Release);
        true
    }

    /// Asks every shard (this one included, through its own mailbox so
    /// that every part starts the same way) for its part of a claimed
    /// round, with no answer expected.
    pub(crate) fn start_round_in_background(&mut self) {
        let reply_to = ReplyTo {
            shard: self.id,
            conn: u32::MAX,
            generation: 0,
            seq: 0,
            part: 0,
            tx: 0,
        };
        for shard in 0..self.shard.count {
            self.peers[shard].send(Message::Request {
                reply_to,
                db: 0,
                op: ShardOp::Snapshot { answer: false },
            });
            self.to_wake[shard] = true;
        }
    }

    /// This shard's part of a round (ShardOp::Snapshot).
    pub(crate) fn start_snapshot(&mut self, reply_to: Option<ReplyTo>) {
        if let Some(run) = self.snapshot.as_mut() {
            run.waiters.extend(reply_to);
            return;
        }
        let (Some(cfg), Some(wal)) = (&self.shared.config.persist, &self.wal) else {
            if let Some(r) = reply_to {
                self.respond(r, ShardReply::Reply(Reply::error(PERSISTENCE_OFF)));
            }
            self.part_finished(false);
            return;
        };
        let (changes_before, bytes_before) = (wal.changes, wal.bytes_since_snapshot);
        match SnapshotJob::start(&cfg.dir, &self.shard, self.now) {
            Ok(job) => {
                self.snapshot = Some(SnapshotRun {
                    job,
                    changes_before,
                    bytes_before,
                    waiters: reply_to.into_iter().collect(),
                    error: None,
                    rotate_from: None,
                });
            }
            Err(e) => {
                tracing::error!(shard = self.id, "cannot start a snapshot: {e}");
                if let Some(r) = reply_to {
                    let error = format!("ERR snapshot of shard {} failed: {e}", self.id);
                    self.respond(r, ShardReply::Reply(Reply::error(error)));
                }
                self.part_finished(false);
            }
        }
    }

    /// Shows the running snapshot a change record (from `log_changes`).
    pub(crate) fn snapshot_observe(run: &mut SnapshotRun, record: &[u8]) {
        if run.error.is_none() {
            if let Err(e) = run.job.observe(record) {
                run.error = Some(e.to_string());
            }
        }
    }

    /// One slice of the running snapshot; at its end, commits it.
    pub(crate) fn snapshot_step(&mut self) {
        let Some(run) = self.snapshot.as_mut() else {
            return;
        };
        let walked = match &run.error {
            Some(_) => true,
            None => match run.job.step(&self.shard, self.now, SLICE_KEYS) {
                Ok(done) => done,
                Err(e) => {
                    run.error = Some(e.to_string());
                    true
                }
            },
        };
        if !walked {
            return;
        }
        // Every change made so far is logged, and so shown to the job.
        self.log_changes();
        if run_waits_for_rotation(self) {
            return;
        }
        let run = self.snapshot.take().expect("snapshot");
        if let Some(e) = run.error {
            let finished = Finished {
                result: Err(e),
                changes_before: run.changes_before,
                bytes_before: run.bytes_before,
                waiters: run.waiters,
            };
            return self.snapshot_finished(finished);
        }
        self.finish_in_background(run);
    }

    /// The file's last blocks, its fsync, the MANIFEST and the deletion of
    /// what it covers take tens of milliseconds for a million keys: a
    /// thread of its own does them, and wakes this loop when done.
    fn finish_in_background(&mut self, run: SnapshotRun) {
        let (Some(cfg), Some(wal)) = (&self.shared.config.persist, &self.wal) else {
            return;
        };
        // Records the job saw past this LSN are replayed over it too:
        // each sets a key's whole state, so replaying them again is harmless.
        let lsn = wal.writer.segment_first_lsn();
        let (dir, shard, count) = (cfg.dir.clone(), self.id as u32, self.shard.count as u32);
        let (tx, rx) = crossbeam_channel::bounded(1);
        let me = self.peers[self.id].clone();
        let SnapshotRun {
            job,
            changes_before,
            bytes_before,
            waiters,
            ..
        } = run;
        self.snapshot_finishing = Some(Finishing {
            rx,
            changes_before,
            bytes_before,
            waiters,
        });
        let spawned = std::thread::Builder::new()
            .name(format!("snapshot-{shard}"))
            .spawn(move || {
                let _ = tx.send(commit(job, &dir, shard, count, lsn));
                me.wake_now();
            });
        if let Err(e) = spawned {
            let f = self.snapshot_finishing.take().expect("finishing");
            self.snapshot_finished(Finished {
                result: Err(format!("cannot start a thread: {e}")),
                changes_before: f.changes_before,
                bytes_before: f.bytes_before,
                waiters: f.waiters,
            });
        }
    }

    /// Each iteration: whether the background finish is done.
    pub(crate) fn poll_snapshot_finish(&mut self) {
        let Some(f) = &self.snapshot_finishing else {
            return;
        };
        let result = match f.rx.try_recv() {
            Ok(result) => result,
            Err(crossbeam_channel::TryRecvError::Empty) => return,
            Err(crossbeam_channel::TryRecvError::Disconnected) => {
                Err("the snapshot thread ended without a result".into())
            }
        };
        let f = self.snapshot_finishing.take().expect("finishing");
        self.snapshot_finished(Finished {
            result,
            changes_before: f.changes_before,
            bytes_before: f.bytes_before,
            waiters: f.waiters,
        });
    }

    fn snapshot_finished(&mut self, run: Finished) {
        let result = run.result;
        let ok = result.is_ok();
        match &result {
            Ok(lsn) => {
                if let Some(wal) = self.wal.as_mut() {
                    wal.changes = wal.changes.saturating_sub(run.changes_before);
                    wal.bytes_since_snapshot =
                        wal.bytes_since_snapshot.saturating_sub(run.bytes_before);
                }
                tracing::debug!(shard = self.id, lsn, "snapshot committed");
            }
            Err(e) => tracing::error!(shard = self.id, "snapshot failed: {e}"),
        }
        for waiter in run.waiters {
            let reply = match &result {
                Ok(_) => Reply::Ok,
                Err(e) => Reply::error(format!("ERR snapshot of shard {} failed: {e}", self.id)),
            };
            self.respond(waiter, ShardReply::Reply(reply));
        }
        self.part_finished(ok);
    }

    /// Counts this shard's part of the round as done; the last part ends it.
    fn part_finished(&mut self, ok: bool) {
        let ps = &self.shared.persist;
        if !ok {
            ps.round_failed.store(true, Ordering::Release);
        }
        if ps.saving_shards.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let failed = ps.round_failed.load(Ordering::Acquire);
        ps.last_save_ok.store(!failed, Ordering::Release);
        let started = ps.round_started_ms.load(Ordering::Acquire);
        if !failed {
            ps.last_save_ms.store(self.now, Ordering::Release);
            ps.saves.fetch_add(1, Ordering::AcqRel);
            if ps.round_is_rewrite.load(Ordering::Acquire) {
                ps.rewrites.fetch_add(1, Ordering::AcqRel);
            }
        }
        ps.last_save_secs
            .store(self.now.saturating_sub(started) / 1000, Ordering::Release);
        ps.saving.store(false, Ordering::Release);
        tracing::info!(
            "snapshot {} in {:.3} s",
            if failed { "failed" } else { "done" },
            self.now.saturating_sub(started) as f64 / 1000.0
        );
    }

    /// From the tick: publishes this shard's counters and, on shard 0,
    /// starts a round when a save rule, the WAL size limit or BGSAVE
    /// SCHEDULE asks for one.
    pub(crate) fn persist_tick(&mut self) {
        let Some(wal) = &self.wal else {
            return;
        };
        let ps = &self.shared.persist;
        ps.changes[self.id].store(wal.changes, Ordering::Relaxed);
        ps.wal_bytes[self.id].store(wal.bytes_since_snapshot, Ordering::Relaxed);
        if self.id != 0
            || ps.saving.load(Ordering::Acquire)
            || ps.loading.load(Ordering::Acquire) > 0
        {
            return;
        }
        let Some(cfg) = &self.shared.config.persist else {
            return;
        };
        let rules = &self.runtime.save;
        let now = self.now;
        let since_save = now.saturating_sub(ps.last_save_ms.load(Ordering::Acquire));
        let retry_ok = ps.last_save_ok.load(Ordering::Acquire)
            || now.saturating_sub(ps.round_started_ms.load(Ordering::Acquire)) > RETRY_DELAY_MS;
        let changes = ps.total_changes();
        let by_rule = changes > 0
            && rules
                .iter()
                .any(|&(secs, min)| changes >= min && since_save >= secs.saturating_mul(1000));
        let by_size = cfg.snapshot_wal_size > 0 && ps.total_wal_bytes() >= cfg.snapshot_wal_size;
        let scheduled = ps.scheduled.load(Ordering::Acquire);
        if (scheduled || ((by_rule || by_size) && retry_ok)) && self.begin_round() {
            ps.scheduled.store(false, Ordering::Release);
            let rewrite = ps.scheduled_rewrite.swap(false, Ordering::AcqRel);
            ps.round_is_rewrite.store(rewrite, Ordering::Release);
            tracing::info!(
                changes,
                "starting a snapshot ({})",
                if scheduled {
                    "scheduled"
                } else if by_rule {
                    "save rule"
                } else {
                    "WAL size"
                }
            );
            self.start_round_in_background();
        }
    }
}

/// Finishes the file at `lsn` and makes it current (on the finishing thread).
fn commit(
    job: SnapshotJob,
    dir: &std::path::Path,
    shard: u32,
    count: u32,
    lsn: u64,
) -> Result<u64, String> {
    let summary = job.finish(lsn).map_err(|e| e.to_string())?;
    let file = summary
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let entry = ShardSnapshot { shard, lsn, file };
    shard::snapshot_files::commit_snapshots(dir, count, &[entry]).map_err(|e| e.to_string())?;
    Ok(lsn)
}

/// Asks the log to move to a new segment once the walk is done, and says
/// whether the job must wait for that (a write still in flight).
fn run_waits_for_rotation(lp: &mut EventLoop) -> bool {
    let (Some(run), Some(wal)) = (lp.snapshot.as_mut(), lp.wal.as_mut()) else {
        return false;
    };
    if run.error.is_some() {
        return false;
    }
    let writer = &mut wal.writer;
    let from = *run
        .rotate_from
        .get_or_insert_with(|| writer.segment_first_lsn());
    if writer.segment_first_lsn() == from {
        if let Err(e) = writer.request_rotation() {
            run.error = Some(format!("cannot start a new WAL segment: {e}"));
            return false;
        }
    }
    // Rotated, or the segment holds no record (nothing to rotate away).
    let moved =
        writer.segment_first_lsn() != from || writer.segment_first_lsn() == writer.next_lsn();
    !moved
}

pub(crate) const PERSISTENCE_OFF: &str =
    "ERR persistence is off: set persist.dir to keep data on disk";
