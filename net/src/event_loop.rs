//! One shard's event loop on its own io_uring.
//!
//! The ring is set up for the cheapest kernel path measured on this class
//! of machine: SINGLE_ISSUER + DEFER_TASKRUN + COOP_TASKRUN (completions are
//! processed only when this thread asks, so no reschedule IPIs), one
//! multishot accept, one multishot recv per connection into a provided
//! buffer ring, and one batched submit per loop iteration.
//!
//! An iteration: reap completions (copy received bytes into connection
//! buffers), run requests other shards sent us, parse and execute what
//! connections sent, hand replies to the kernel, wake the shards we queued
//! messages for, then block until the next completion, message or tick.

use crate::bufring::BufRing;
use crate::config_cmd::Runtime;
use crate::conn::Conn;
use crate::mesh::{Mailbox, Message, Peer};
use crate::Shared;
use io_uring::{squeue, types, IoUring};
use shard::Shard;
use std::collections::VecDeque;
use std::io;
use std::net::TcpListener;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) const ACCEPT: u64 = 1;
pub(crate) const RECV: u64 = 2;
pub(crate) const SEND: u64 = 3;
pub(crate) const WAKE: u64 = 4;
pub(crate) const RECV_OWN: u64 = 5;

/// Size of the connection's own buffer for a receive when the shared ones ran out.
pub(crate) const OWN_BUF_SIZE: usize = 16 * 1024;

pub(crate) const BUF_GROUP: u16 = 0;
pub(crate) const BUF_COUNT: u16 = 512;
pub(crate) const BUF_SIZE: usize = 16 * 1024;
/// Requests parsed ahead from one connection, for prefetching.
pub(crate) const PARSE_BATCH: usize = 64;
/// Messages taken from the mailbox per iteration, so local clients are not starved.
pub(crate) const MAILBOX_BATCH: usize = 8192;

/// user_data of an operation: kind in 8 bits, connection slot in 24 (the
/// configuration caps maxclients well below 2^24), generation in 32, so a
/// completion for a closed connection is never applied to the slot's next one.
pub(crate) fn token(kind: u64, slot: u32, generation: u32) -> u64 {
    debug_assert!(slot < 1 << 24);
    kind | ((slot as u64) & 0xff_ffff) << 8 | (generation as u64) << 32
}

pub(crate) fn untoken(t: u64) -> (u64, u32, u32) {
    (t & 0xff, ((t >> 8) & 0xff_ffff) as u32, (t >> 32) as u32)
}

pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Counters this loop keeps; merged over shards by INFO.
#[derive(Default)]
pub struct LoopStats {
    pub total_connections: u64,
    pub rejected_connections: u64,
    pub total_commands: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub cross_shard_requests: u64,
    /// Receives that found every shared buffer in use (see conn_io).
    pub receive_buffers_exhausted: u64,
}

pub struct EventLoop {
    // Field order matters: the ring must be dropped before the buffer ring
    // memory it points into.
    pub(crate) uring: IoUring,
    pub(crate) bufring: BufRing,
    pub(crate) id: usize,
    pub(crate) shard: Shard,
    pub(crate) shared: Arc<Shared>,
    pub(crate) listener: Option<TcpListener>,
    pub(crate) conns: Vec<Option<Conn>>,
    pub(crate) generations: Vec<u32>,
    pub(crate) free: Vec<u32>,
    pub(crate) dirty: Vec<u32>,
    pub(crate) rearm: Vec<u32>,
    pub(crate) mailbox: Mailbox,
    pub(crate) peers: Vec<Peer>,
    pub(crate) to_wake: Vec<bool>,
    pub(crate) wake_buf: Box<u64>,
    pub(crate) now: u64,
    pub(crate) stats: LoopStats,
    /// Settings CONFIG SET can change; this shard's copy.
    pub(crate) runtime: Runtime,
    pub(crate) limits: proto::Limits,
    pub(crate) cqes: Vec<(u64, i32, u32)>,
    pub(crate) next_tick: Instant,
    /// Set once shutdown began: no accepts, no new input.
    pub(crate) stopping: bool,
    /// Set once this loop's connections have nothing left to send.
    pub(crate) drained: bool,
    /// Accepting failed (e.g. out of descriptors); re-armed at the next tick.
    pub(crate) accept_paused: bool,
    /// Completions taken while the submission queue was full, handled at the next reap.
    pub(crate) backlog: Vec<(u64, i32, u32)>,
    /// Cross-shard atomic commands this shard coordinates (see atomic.rs).
    pub(crate) txs: hashbrown::HashMap<u64, crate::atomic::Tx>,
    pub(crate) next_tx: u64,
    /// The atomic command holding this shard, if any: nothing else runs.
    pub(crate) held_by: Option<u64>,
    /// Requests that arrived while held, in arrival order.
    pub(crate) deferred: VecDeque<Message>,
    /// This shard's pub/sub subscribers.
    pub(crate) pubsub: crate::pubsub::Tables,
    /// Clients waiting on keys this shard owns (blocking.rs).
    pub(crate) waiters: hashbrown::HashMap<(usize, bytes::Bytes), Vec<crate::blocking::Waiter>>,
    /// Connections of this loop in a blocking command.
    pub(crate) blocked: hashbrown::HashSet<u32>,
    /// The earliest timeout of a blocked connection, Unix ms.
    pub(crate) next_block_deadline: Option<u64>,
    /// This shard's write-ahead log; None when persistence is off (or
    /// until its data is loaded).
    pub(crate) wal: Option<crate::wal::LoopWal>,
    /// Start-up loading of this shard's data, until done.
    pub(crate) loading: Option<crate::loading::Loading>,
    /// Set once every shard has loaded: no more -LOADING checks.
    pub(crate) all_loaded: bool,
    /// This shard's part of a snapshot round, while it runs.
    pub(crate) snapshot: Option<crate::snapshots::SnapshotRun>,
    /// Its file being finished on a thread of its own.
    pub(crate) snapshot_finishing: Option<crate::snapshots::Finishing>,
}

impl EventLoop {
    pub fn new(
        id: usize,
        shared: Arc<Shared>,
        listener: TcpListener,
        mailbox: Mailbox,
        peers: Vec<Peer>,
    ) -> io::Result<EventLoop> {
        let entries = shared.config.ring_entries.max(64);
        let uring = build_ring(entries)?;
        let bufring = BufRing::register(&uring, BUF_GROUP, BUF_COUNT, BUF_SIZE)?;
        let mut shard = Shard::new(id, shared.config.shards);
        shard.max_string_len = shared.config.max_bulk_len;
        let runtime = Runtime::new(&shared.config);
        shard.signals.notify = runtime.notify_keyspace_events;
        shard.update_expiry_tracking();
        shard.set_memory_limit(
            runtime.maxmemory_share(shared.config.shards),
            runtime.maxmemory_policy,
        );
        let limits = proto::Limits {
            max_bulk_len: shared.config.max_bulk_len,
            ..proto::Limits::default()
        };
        let n = peers.len();
        Ok(EventLoop {
            uring,
            bufring,
            id,
            shard,
            shared,
            listener: Some(listener),
            conns: Vec::new(),
            generations: Vec::new(),
            free: Vec::new(),
            dirty: Vec::new(),
            rearm: Vec::new(),
            mailbox,
            peers,
            to_wake: vec![false; n],
            wake_buf: Box::new(0),
            now: unix_ms(),
            stats: LoopStats::default(),
            runtime,
            limits,
            cqes: Vec::with_capacity(1024),
            next_tick: Instant::now(),
            stopping: false,
            drained: false,
            accept_paused: false,
            backlog: Vec::new(),
            txs: hashbrown::HashMap::new(),
            next_tx: 0,
            held_by: None,
            deferred: VecDeque::new(),
            pubsub: Default::default(),
            waiters: hashbrown::HashMap::new(),
            blocked: hashbrown::HashSet::new(),
            next_block_deadline: None,
            wal: None,
            loading: None,
            all_loaded: false,
            snapshot: None,
            snapshot_finishing: None,
        })
    }

    pub(crate) fn push(&mut self, sqe: squeue::Entry) {
        // SAFETY: every buffer an SQE points to (connection send buffers,
        // the wake buffer) stays allocated and unmoved until its completion.
        unsafe {
            while self.uring.submission().push(&sqe).is_err() {
                if let Err(e) = self.uring.submit() {
                    // The kernel may refuse new work until completions are
                    // taken (EBUSY): take them now, handle them at the next reap.
                    tracing::debug!(shard = self.id, "io_uring submit: {e}");
                    let cq = self
                        .uring
                        .completion()
                        .map(|c| (c.user_data(), c.result(), c.flags()));
                    self.backlog.extend(cq);
                }
            }
        }
    }

    /// Runs until shutdown completes.
    pub fn run(mut self) -> io::Result<()> {
        let result = self.run_loop();
        if result.is_err() && !self.drained {
            // A failed loop answers nobody any more: the others must not
            // wait the whole shutdown grace period for it to drain (a
            // start-up that fails on damaged data would take 5 s to exit).
            self.drained = true;
            self.shared.drained_shards.fetch_add(1, Ordering::AcqRel);
        }
        result
    }

    fn run_loop(&mut self) -> io::Result<()> {
        self.begin_loading()?;
        self.arm_accept();
        self.arm_wake();
        loop {
            self.now = unix_ms();
            if self.loading.is_some() {
                self.load_step()?;
            }
            self.reap();
            self.bufring.publish();
            for slot in std::mem::take(&mut self.rearm) {
                self.arm_recv(slot, false);
            }
            self.drain_mailbox();
            // A held shard runs nothing but the holder's parts (atomic.rs);
            // its clients' input waits, and so does the expiry cycle.
            if self.held_by.is_none() {
                self.process_dirty();
                // No expiry cycle or eviction before the data is all in,
                // as in Redis: they would act on half a data set.
                if self.loading.is_none() {
                    self.tick();
                }
            }
            self.handle_signals();
            // A held shard may have keys lent out (together.rs), a
            // placeholder in their place: the snapshot walk waits.
            if self.held_by.is_none() {
                self.snapshot_step();
            }
            self.poll_snapshot_finish();
            // Blocked clients are looked at only when one may be due, not
            // on every iteration: thousands may wait in BLPOP.
            let due = self.next_block_deadline.is_some_and(|d| self.now > d);
            if !self.blocked.is_empty() && (due || self.stopping) {
                self.next_block_deadline = self.expire_blocked();
            }
            self.wal_submit();
            self.wake_peers();
            if self.shared.shutdown.load(Ordering::Acquire) && self.shutdown_step() {
                self.wal_close();
                return Ok(());
            }
            self.wait()?;
        }
    }

    pub(crate) fn wait(&mut self) -> io::Result<()> {
        let runnable = !self.dirty.is_empty() && self.held_by.is_none();
        let busy = runnable
            || self.loading.is_some()
            || self.snapshot.is_some()
            || !self.mailbox.rx.is_empty()
            || !self.rearm.is_empty()
            || (!self.shard.signals.ready.is_empty() && self.held_by.is_none());
        let result = if busy {
            self.uring.submit()
        } else if self.mailbox.prepare_to_sleep() {
            let mut timeout = self.next_tick.saturating_duration_since(Instant::now());
            if let Some(deadline) = self
                .next_block_deadline
                .filter(|_| !self.blocked.is_empty())
            {
                let ms = (deadline + 1).saturating_sub(unix_ms());
                timeout = timeout.min(Duration::from_millis(ms));
            }
            let timeout = timeout.max(Duration::from_millis(1));
            let ts = types::Timespec::from(timeout);
            let args = types::SubmitArgs::new().timespec(&ts);
            let r = self.uring.submitter().submit_with_args(1, &args);
            self.mailbox.awake();
            r
        } else {
            self.uring.submit()
        };
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    pub(crate) fn reap(&mut self) {
        let mut cqes = std::mem::take(&mut self.cqes);
        cqes.append(&mut self.backlog);
        cqes.extend(
            self.uring
                .completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        for &(user_data, res, flags) in &cqes {
            let (kind, slot, generation) = untoken(user_data);
            match kind {
                ACCEPT => self.on_accept(res, flags),
                RECV => self.on_recv(slot, generation, res, flags),
                SEND => self.on_send(slot, generation, res),
                RECV_OWN => self.on_recv_own(slot, generation, res),
                WAKE => self.arm_wake(),
                crate::wal::WAL_WRITE => self.on_wal_write(res),
                crate::wal::WAL_SYNC => self.on_wal_sync(res),
                crate::wal::WAL_TICK_SYNC => self.on_wal_tick_sync(res),
                _ => {}
            }
        }
        cqes.clear();
        self.cqes = cqes;
    }

    pub(crate) fn wake_peers(&mut self) {
        for (shard, wake) in self.to_wake.iter_mut().enumerate() {
            if std::mem::take(wake) {
                self.peers[shard].wake();
            }
        }
    }

    /// Closes clients idle longer than `timeout` (CONFIG SET timeout), as
    /// Redis's client cron does; clients waiting on another shard are not
    /// idle, and pub/sub clients, which listen without talking, are exempt.
    pub(crate) fn close_idle(&mut self) {
        let limit_ms = self.runtime.timeout_secs.saturating_mul(1000);
        if limit_ms == 0 {
            return;
        }
        let now = self.now;
        let idle: Vec<u32> = (0..self.conns.len() as u32)
            .filter(|&s| {
                self.conns[s as usize].as_ref().is_some_and(|c| {
                    !c.closing
                        && c.pending.is_empty()
                        && c.subs.is_none()
                        && now.saturating_sub(c.last_active_ms) > limit_ms
                })
            })
            .collect();
        for slot in idle {
            tracing::debug!("closing idle client");
            self.begin_close(slot);
        }
    }

    /// Active expiry, `hz` times a second, with bounded work per tick.
    pub(crate) fn tick(&mut self) {
        let now = Instant::now();
        if now < self.next_tick {
            return;
        }
        let hz = self.runtime.hz;
        self.next_tick = now + Duration::from_millis(1000 / hz as u64);
        if std::mem::take(&mut self.accept_paused) && !self.stopping {
            self.arm_accept();
        }
        self.close_idle();

        // Like Redis's slow cycle: keep going while expired keys are dense
        // (a quarter of what one step examines), within about 1 ms.
        let deadline = now + Duration::from_millis(1);
        loop {
            let removed = self.shard.expire_step(self.now, 200);
            if removed < 50 || Instant::now() >= deadline {
                break;
            }
        }
        // Memory can also exceed the share without a write (the limit was
        // lowered, a collection was rewritten): evict here too.
        self.shard.make_room(self.now);
        self.persist_tick();
    }

    /// One iteration of shutdown; true when this loop may exit.
    pub(crate) fn shutdown_step(&mut self) -> bool {
        if !self.stopping {
            self.stopping = true;
            self.listener = None;
            tracing::debug!(shard = self.id, "stopping: no more accepts or input");
        }
        let busy = self.conns.iter().flatten().any(|c| {
            !c.closing
                && (c.send_inflight
                    || !c.out.is_empty()
                    || !c.sending.is_empty()
                    || !c.pending.is_empty())
        });
        let deadline_passed = self.shared.shutdown_deadline_passed();
        if busy && !deadline_passed {
            return false;
        }
        if !self.drained {
            self.drained = true;
            self.shared.drained_shards.fetch_add(1, Ordering::AcqRel);
        }
        // Keep answering other shards until every shard has drained.
        if self.shared.drained_shards.load(Ordering::Acquire) < self.shared.config.shards
            && !deadline_passed
        {
            return false;
        }
        // Close the sockets but keep the connections (and the buffers a send
        // still in flight may point into) until the loop is dropped: the ring
        // is dropped first, which ends every operation.
        for conn in self.conns.iter_mut().flatten() {
            if conn.fd >= 0 {
                close_fd(conn.fd);
                conn.fd = -1;
                self.shared.clients.fetch_sub(1, Ordering::AcqRel);
            }
        }
        for peer in &self.peers {
            peer.wake_now();
        }
        true
    }
}

pub(crate) fn build_ring(entries: u32) -> io::Result<IoUring> {
    let fast = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_coop_taskrun()
        .setup_taskrun_flag()
        .setup_submit_all()
        .setup_cqsize(entries * 4)
        .build(entries);
    match fast {
        Ok(ring) => Ok(ring),
        // An older kernel that does not know these flags: run without them.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            tracing::warn!("io_uring without DEFER_TASKRUN/SINGLE_ISSUER ({e}); expect more kernel time per request");
            IoUring::builder()
                .setup_cqsize(entries * 4)
                .build(entries)
                .map_err(locked_memory_advice)
        }
        Err(e) => Err(locked_memory_advice(e)),
    }
}

/// io_uring rings count against RLIMIT_MEMLOCK for users without
/// CAP_IPC_LOCK (between 0.5 and 1 MiB per shard with 4096 entries, as
/// measured), and running
/// out shows up as ENOMEM: say what to change.
pub(crate) fn locked_memory_advice(e: io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(libc::ENOMEM) | Some(libc::EPERM) => io::Error::new(
            e.kind(),
            format!(
                "io_uring set-up failed ({e}): raise the locked-memory limit \
                 (ulimit -l, or LimitMEMLOCK= in a systemd unit) or lower server.io_ring_entries"
            ),
        ),
        _ => e,
    }
}

pub(crate) fn close_fd(fd: RawFd) {
    // SAFETY: closing a descriptor this loop owns and forgets afterwards.
    unsafe { libc::close(fd) };
}
