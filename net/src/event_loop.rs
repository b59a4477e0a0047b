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
use crate::conn::{Conn, Pending};
use crate::gather::{finish, plan, Gather, Next, Plan};
use crate::mesh::{Mailbox, Message, Peer, ReplyTo};
use crate::ops::{ShardOp, ShardReply, ShardStats};
use crate::Shared;
use bytes::{Buf, Bytes};
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use proto::parse::{parse_request_resuming, Parse};
use proto::{errors, CommandId, Reply};
use shard::{Ctx, Shard};
use std::collections::VecDeque;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ACCEPT: u64 = 1;
const RECV: u64 = 2;
const SEND: u64 = 3;
const WAKE: u64 = 4;
const RECV_OWN: u64 = 5;

/// Size of the connection's own buffer for a receive when the shared ones ran out.
const OWN_BUF_SIZE: usize = 16 * 1024;

const BUF_GROUP: u16 = 0;
const BUF_COUNT: u16 = 512;
const BUF_SIZE: usize = 16 * 1024;
/// Requests parsed ahead from one connection, for prefetching.
const PARSE_BATCH: usize = 64;
/// Messages taken from the mailbox per iteration, so local clients are not starved.
const MAILBOX_BATCH: usize = 8192;

/// user_data of an operation: kind in 8 bits, connection slot in 24 (the
/// configuration caps maxclients well below 2^24), generation in 32, so a
/// completion for a closed connection is never applied to the slot's next one.
fn token(kind: u64, slot: u32, generation: u32) -> u64 {
    debug_assert!(slot < 1 << 24);
    kind | ((slot as u64) & 0xff_ffff) << 8 | (generation as u64) << 32
}

fn untoken(t: u64) -> (u64, u32, u32) {
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
}

pub struct EventLoop {
    // Field order matters: the ring must be dropped before the buffer ring
    // memory it points into.
    uring: IoUring,
    bufring: BufRing,
    pub id: usize,
    pub shard: Shard,
    pub shared: Arc<Shared>,
    listener: Option<TcpListener>,
    pub conns: Vec<Option<Conn>>,
    generations: Vec<u32>,
    free: Vec<u32>,
    pub(crate) dirty: Vec<u32>,
    rearm: Vec<u32>,
    mailbox: Mailbox,
    pub(crate) peers: Vec<Peer>,
    pub(crate) to_wake: Vec<bool>,
    wake_buf: Box<u64>,
    pub now: u64,
    pub stats: LoopStats,
    /// Settings CONFIG SET can change; this shard's copy.
    pub runtime: Runtime,
    limits: proto::Limits,
    cqes: Vec<(u64, i32, u32)>,
    next_tick: Instant,
    /// Set once shutdown began: no accepts, no new input.
    stopping: bool,
    /// Set once this loop's connections have nothing left to send.
    drained: bool,
    /// Accepting failed (e.g. out of descriptors); re-armed at the next tick.
    accept_paused: bool,
    /// Completions taken while the submission queue was full, handled at the next reap.
    backlog: Vec<(u64, i32, u32)>,
    /// Cross-shard atomic commands this shard coordinates (see atomic.rs).
    pub(crate) txs: hashbrown::HashMap<u64, crate::atomic::Tx>,
    pub(crate) next_tx: u64,
    /// The atomic command holding this shard, if any: nothing else runs.
    pub(crate) held_by: Option<u64>,
    /// Requests that arrived while held, in arrival order.
    pub(crate) deferred: VecDeque<Message>,
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
        })
    }

    fn push(&mut self, sqe: squeue::Entry) {
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

    fn arm_accept(&mut self) {
        if let Some(l) = &self.listener {
            let fd = l.as_raw_fd();
            let sqe = opcode::AcceptMulti::new(types::Fd(fd))
                .flags(libc::SOCK_CLOEXEC)
                .build()
                .user_data(token(ACCEPT, 0, 0));
            self.push(sqe);
        }
    }

    fn arm_wake(&mut self) {
        let fd = self.mailbox.eventfd.as_raw_fd();
        let buf = &mut *self.wake_buf as *mut u64 as *mut u8;
        self.push(
            opcode::Read::new(types::Fd(fd), buf, 8)
                .build()
                .user_data(token(WAKE, 0, 0)),
        );
    }

    fn arm_recv(&mut self, slot: u32) {
        let Some(conn) = self.conns[slot as usize].as_mut() else {
            return;
        };
        if conn.recv_armed || conn.closing {
            return;
        }
        conn.recv_armed = true;
        let sqe = opcode::RecvMulti::new(types::Fd(conn.fd), BUF_GROUP)
            .build()
            .user_data(token(RECV, slot, conn.generation));
        self.push(sqe);
    }

    /// A single receive into a buffer of the connection's own (see on_recv).
    fn arm_recv_own(&mut self, slot: u32) {
        let Some(conn) = self.conns[slot as usize].as_mut() else {
            return;
        };
        if conn.recv_armed || conn.closing {
            return;
        }
        conn.recv_armed = true;
        let buf = conn
            .own_buf
            .get_or_insert_with(|| vec![0u8; OWN_BUF_SIZE].into_boxed_slice());
        let sqe = opcode::Recv::new(types::Fd(conn.fd), buf.as_mut_ptr(), buf.len() as u32)
            .build()
            .user_data(token(RECV_OWN, slot, conn.generation));
        self.push(sqe);
    }

    fn on_recv_own(&mut self, slot: u32, generation: u32, res: i32) {
        let Some(conn) = self
            .conns
            .get_mut(slot as usize)
            .and_then(|c| c.as_mut())
            .filter(|c| c.generation == generation)
        else {
            return;
        };
        conn.recv_armed = false;
        let buf = conn.own_buf.take();
        if conn.closing {
            self.begin_close(slot);
            return;
        }
        if res <= 0 {
            self.begin_close(slot);
            return;
        }
        if let Some(buf) = buf {
            conn.rbuf
                .extend_from_slice(&buf[..(res as usize).min(buf.len())]);
        }
        if self.received(slot, res as usize) {
            self.rearm.push(slot);
        }
    }

    /// Accounts for `bytes` just appended to a connection's input: closes it
    /// past the query buffer limit, else queues it for parsing. Returns
    /// whether it is still open.
    fn received(&mut self, slot: u32, bytes: usize) -> bool {
        let limit = self.shared.config.query_buffer_limit;
        let Some(conn) = self.conns[slot as usize].as_mut() else {
            return false;
        };
        conn.last_active_ms = self.now;
        self.stats.net_input_bytes += bytes as u64;
        if conn.rbuf.len() > limit {
            tracing::warn!(
                client = conn.id,
                "closing client that reached max query buffer length"
            );
            self.begin_close(slot);
            return false;
        }
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push(slot);
        }
        true
    }

    /// Runs until shutdown completes.
    pub fn run(mut self) -> io::Result<()> {
        self.arm_accept();
        self.arm_wake();
        loop {
            self.now = unix_ms();
            self.reap();
            self.bufring.publish();
            for slot in std::mem::take(&mut self.rearm) {
                self.arm_recv(slot);
            }
            self.drain_mailbox();
            // A held shard runs nothing but the holder's parts (atomic.rs);
            // its clients' input waits, and so does the expiry cycle.
            if self.held_by.is_none() {
                self.process_dirty();
                self.tick();
            }
            self.wake_peers();
            if self.shared.shutdown.load(Ordering::Acquire) && self.shutdown_step() {
                return Ok(());
            }
            self.wait()?;
        }
    }

    fn wait(&mut self) -> io::Result<()> {
        let runnable = !self.dirty.is_empty() && self.held_by.is_none();
        let busy = runnable || !self.mailbox.rx.is_empty() || !self.rearm.is_empty();
        let result = if busy {
            self.uring.submit()
        } else if self.mailbox.prepare_to_sleep() {
            let timeout = self
                .next_tick
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
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

    fn reap(&mut self) {
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
                _ => {}
            }
        }
        cqes.clear();
        self.cqes = cqes;
    }

    fn on_accept(&mut self, res: i32, flags: u32) {
        if res < 0 {
            if res != -libc::ECANCELED && !self.stopping {
                // Out of descriptors or memory: retrying at once would spin.
                // Try again at the next tick, and say so once per pause.
                tracing::warn!(
                    shard = self.id,
                    "accept failed: {}; retrying shortly",
                    io::Error::from_raw_os_error(-res)
                );
            }
            if !cqueue::more(flags) && !self.stopping {
                self.accept_paused = true;
            }
            return;
        }
        if !cqueue::more(flags) && !self.stopping {
            self.arm_accept();
        }
        let fd = res as RawFd;
        if self.stopping {
            close_fd(fd);
            return;
        }
        self.stats.total_connections += 1;
        let clients = self.shared.clients.fetch_add(1, Ordering::AcqRel) + 1;
        if clients > self.runtime.maxclients {
            self.shared.clients.fetch_sub(1, Ordering::AcqRel);
            self.stats.rejected_connections += 1;
            // A fresh socket's send buffer is empty: this short write completes.
            let msg = format!("-{}\r\n", errors::MAX_CLIENTS);
            // SAFETY: writing a local buffer to a socket we own, then closing it.
            unsafe {
                libc::send(
                    fd,
                    msg.as_ptr() as *const libc::c_void,
                    msg.len(),
                    libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
                )
            };
            close_fd(fd);
            return;
        }
        set_socket_options(fd, self.shared.config.tcp_keepalive);
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.conns.push(None);
                self.generations.push(0);
                (self.conns.len() - 1) as u32
            }
        };
        self.generations[slot as usize] = self.generations[slot as usize].wrapping_add(1);
        let id = self.shared.next_client_id.fetch_add(1, Ordering::Relaxed);
        let (addr, laddr) = socket_addrs(fd);
        let mut conn = Conn::new(
            fd,
            self.generations[slot as usize],
            id,
            addr,
            laddr,
            self.now,
        );
        conn.authenticated = self.runtime.requirepass.is_none();
        self.conns[slot as usize] = Some(conn);
        self.arm_recv(slot);
    }

    fn conn_mut(&mut self, slot: u32, generation: u32) -> Option<&mut Conn> {
        self.conns
            .get_mut(slot as usize)?
            .as_mut()
            .filter(|c| c.generation == generation)
    }

    fn on_recv(&mut self, slot: u32, generation: u32, res: i32, flags: u32) {
        let more = cqueue::more(flags);
        let data_len = if res > 0 { res as usize } else { 0 };
        let bid = cqueue::buffer_select(flags);
        let Some(conn) = self
            .conns
            .get_mut(slot as usize)
            .and_then(|c| c.as_mut())
            .filter(|c| c.generation == generation)
        else {
            if let Some(bid) = bid {
                self.bufring.push(bid);
            }
            return;
        };
        if let Some(bid) = bid {
            if !conn.closing {
                conn.rbuf
                    .extend_from_slice(self.bufring.data(bid, data_len));
            }
            self.bufring.push(bid);
        }
        if !more {
            conn.recv_armed = false;
        }
        if conn.closing {
            // Whatever ended this receive, a closing connection may now be
            // free of operations in flight.
            if !more {
                self.begin_close(slot);
            }
            return;
        }
        if res > 0 {
            if self.received(slot, data_len) && !more {
                self.rearm.push(slot);
            }
        } else if res == -libc::ENOBUFS {
            // Every shared buffer was in use. Re-arming the multishot receive
            // now could find the ring empty again, and the kernel would then
            // wait for new data that a client blocked on a full window never
            // sends. One receive into the connection's own buffer always
            // makes progress; the multishot receive comes back after it.
            self.arm_recv_own(slot);
        } else {
            self.begin_close(slot);
        }
    }

    fn on_send(&mut self, slot: u32, generation: u32, res: i32) {
        let Some(conn) = self.conn_mut(slot, generation) else {
            return;
        };
        conn.send_inflight = false;
        if res < 0 {
            self.begin_close(slot);
            return;
        }
        conn.sending.advance(res as usize);
        self.stats.net_output_bytes += res as u64;
        self.flush(slot);
    }

    /// Starts sending what the connection has ready, if nothing is in flight.
    fn flush(&mut self, slot: u32) {
        let Some(conn) = self.conns[slot as usize].as_mut() else {
            return;
        };
        if conn.send_inflight {
            return;
        }
        if conn.closing {
            // Nothing more goes out; free it once nothing is in flight.
            self.begin_close(slot);
            return;
        }
        if conn.sending.is_empty() {
            if conn.out.is_empty() {
                if conn.closing || (conn.close_after_flush && conn.pending.is_empty()) {
                    self.begin_close(slot);
                }
                return;
            }
            std::mem::swap(&mut conn.sending, &mut conn.out);
            // A huge reply should not keep its buffer for the connection's life.
            if conn.out.capacity() > 1 << 20 {
                conn.out = bytes::BytesMut::with_capacity(16 * 1024);
            }
        }
        conn.send_inflight = true;
        let sqe = opcode::Send::new(
            types::Fd(conn.fd),
            conn.sending.as_ptr(),
            conn.sending.len() as u32,
        )
        .flags(libc::MSG_NOSIGNAL)
        .build()
        .user_data(token(SEND, slot, conn.generation));
        self.push(sqe);
    }

    /// Shuts the socket down so in-flight operations end, and frees the
    /// connection once none is left.
    pub fn begin_close(&mut self, slot: u32) {
        let Some(conn) = self.conns[slot as usize].as_mut() else {
            return;
        };
        if !conn.closing {
            conn.closing = true;
            // SAFETY: shutting down a socket we own; it stays open until freed below.
            unsafe { libc::shutdown(conn.fd, libc::SHUT_RDWR) };
        }
        if conn.recv_armed || conn.send_inflight {
            return;
        }
        let conn = self.conns[slot as usize].take().expect("checked above");
        close_fd(conn.fd);
        self.shared.clients.fetch_sub(1, Ordering::AcqRel);
        self.free.push(slot);
    }

    fn process_dirty(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        for &slot in &dirty {
            let Some(mut conn) = self.conns[slot as usize].take() else {
                continue;
            };
            conn.dirty = false;
            if !conn.closing && !self.stopping {
                self.process_input(&mut conn, slot);
            }
            conn.drain_ready();
            let over = self.output_over_limit(&mut conn);
            self.conns[slot as usize] = Some(conn);
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

    /// Redis's client-output-buffer-limit: over `hard` bytes closes at once;
    /// over `soft` bytes for longer than `soft_seconds` closes too.
    fn output_over_limit(&self, conn: &mut Conn) -> bool {
        let limit = self.shared.config.output_limit_normal;
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

    fn process_input(&mut self, conn: &mut Conn, slot: u32) {
        while !conn.barrier && !conn.close_after_flush {
            if let Some(args) = conn.parsed.pop_front() {
                self.stats.total_commands += 1;
                self.dispatch(conn, slot, args);
                // Stop at the hard output limit; the caller closes the client.
                let hard = self.shared.config.output_limit_normal.hard;
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
    fn parse_batch(&mut self, conn: &mut Conn) -> bool {
        // Until AUTH succeeds, one request at a time: its limits are stricter
        // and the next request must be parsed under the outcome of this one.
        let max = if conn.authenticated { PARSE_BATCH } else { 1 };
        self.limits.unauthenticated = !conn.authenticated;
        while conn.parsed.len() < max && conn.rbuf.len() >= conn.need {
            match parse_request_resuming(&mut conn.rbuf, &self.limits, &mut conn.progress) {
                Ok(Parse::Request(args)) => {
                    conn.need = 1;
                    conn.parsed.push_back(args);
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
    fn prefetch(&self, db: usize, requests: &VecDeque<Vec<Bytes>>) {
        let Some(db) = self.shard.existing_db(db) else {
            return;
        };
        let shards = self.shard.count;
        let keys: Vec<&[u8]> = requests
            .iter()
            .filter(|r| r.len() > 1)
            .filter(|r| {
                matches!(proto::lookup(&r[0]).map(|s| s.id), Some(CommandId::Shard(c)) if crate::gather::fanout(c) == crate::gather::Fanout::OneKey)
            })
            .map(|r| &r[1][..])
            .filter(|k| shards == 1 || shard::shard_of_key(k, shards) == self.id)
            .collect();
        keys.iter().for_each(|k| db.prefetch_slot(k));
        keys.iter().for_each(|k| db.prefetch_value(k));
    }

    fn dispatch(&mut self, conn: &mut Conn, slot: u32, args: Vec<Bytes>) {
        let Some(spec) = proto::lookup(&args[0]) else {
            conn.reply(Reply::error(errors::unknown_command(&args[0], &args[1..])));
            return;
        };
        conn.last_cmd = spec.name;
        if !conn.authenticated && !spec.has(proto::table::flags::NO_AUTH) {
            conn.reply(Reply::error(errors::NOAUTH));
            return;
        }
        if !spec.arity_ok(args.len()) {
            conn.reply(Reply::error(errors::wrong_arity(spec.name)));
            return;
        }
        let plan = match spec.id {
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
                    conn.reply(reply);
                    return;
                }
                plan(cmd, args, shards, self.id)
            }
            CommandId::Conn(cmd) => crate::conn_cmd::run(self, conn, cmd, args),
        };
        self.start_plan(conn, slot, plan);
    }

    fn start_plan(&mut self, conn: &mut Conn, slot: u32, plan: Plan) {
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
        if !plan.hold.is_empty() {
            self.start_atomic(conn, slot, plan);
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

    fn send_parts(&mut self, conn: &mut Conn, slot: u32, seq: u64, parts: Vec<(usize, ShardOp)>) {
        for (part, (shard, op)) in parts.into_iter().enumerate() {
            if shard == self.id {
                let reply = self.run_op(conn.db, op);
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
    fn fill(&mut self, conn: &mut Conn, slot: u32, seq: u64, part: usize, reply: ShardReply) {
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
            ShardOp::TakeKey(key) => ShardReply::Entry(self.shard.db(db).remove(&key, now)),
            ShardOp::PutKey(key, entry) => {
                self.shard.db(db).insert(&key, entry, now);
                ShardReply::Reply(Reply::Ok)
            }
            ShardOp::Stats => ShardReply::Stats(Box::new(self.shard_stats())),
            ShardOp::ClientList => ShardReply::Clients(crate::client_cmd::list_lines(self)),
            ShardOp::ClientKill(filter) => {
                ShardReply::Killed(crate::client_cmd::kill(self, &filter))
            }
            ShardOp::ConfigSet(changes) => {
                changes.iter().for_each(|c| self.runtime.apply(c));
                ShardReply::Reply(Reply::Ok)
            }
            // Holds only travel through the mailbox (atomic.rs), never as parts.
            ShardOp::Hold | ShardOp::Release => {
                ShardReply::Reply(Reply::error("ERR internal error: hold outside the mailbox"))
            }
            ShardOp::ResetStats => {
                self.stats = LoopStats::default();
                self.shard
                    .dbs_mut()
                    .for_each(|db| db.stats = Default::default());
                ShardReply::Reply(Reply::Ok)
            }
        }
    }

    fn shard_stats(&self) -> ShardStats {
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
        s.connected_clients = self.conns.iter().flatten().count();
        s.total_connections = self.stats.total_connections;
        s.rejected_connections = self.stats.rejected_connections;
        s.total_commands = self.stats.total_commands;
        s.net_input_bytes = self.stats.net_input_bytes;
        s.net_output_bytes = self.stats.net_output_bytes;
        s.cross_shard_requests = self.stats.cross_shard_requests;
        s
    }

    fn drain_mailbox(&mut self) {
        for _ in 0..MAILBOX_BATCH {
            let Ok(msg) = self.mailbox.rx.try_recv() else {
                break;
            };
            match msg {
                Message::Request { reply_to, db, op } => self.handle_request(reply_to, db, op),
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

    fn wake_peers(&mut self) {
        for (shard, wake) in self.to_wake.iter_mut().enumerate() {
            if std::mem::take(wake) {
                self.peers[shard].wake();
            }
        }
    }

    /// Closes clients idle longer than `timeout` (CONFIG SET timeout), as
    /// Redis's client cron does; clients waiting on another shard are not idle.
    fn close_idle(&mut self) {
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
    fn tick(&mut self) {
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
    }

    /// One iteration of shutdown; true when this loop may exit.
    fn shutdown_step(&mut self) -> bool {
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

fn build_ring(entries: u32) -> io::Result<IoUring> {
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
        Err(e) => {
            tracing::warn!("io_uring without DEFER_TASKRUN/SINGLE_ISSUER ({e}); expect more kernel time per request");
            IoUring::builder().setup_cqsize(entries * 4).build(entries)
        }
    }
}

fn close_fd(fd: RawFd) {
    // SAFETY: closing a descriptor this loop owns and forgets afterwards.
    unsafe { libc::close(fd) };
}

fn set_socket_options(fd: RawFd, keepalive_secs: u32) {
    let one: libc::c_int = 1;
    let set = |level, name, value: libc::c_int| {
        // SAFETY: setsockopt with a pointer to a local int of the right size.
        unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                &value as *const libc::c_int as *const libc::c_void,
                4,
            );
        }
    };
    set(libc::IPPROTO_TCP, libc::TCP_NODELAY, one);
    if keepalive_secs > 0 {
        set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, one);
        set(
            libc::IPPROTO_TCP,
            libc::TCP_KEEPIDLE,
            keepalive_secs as libc::c_int,
        );
        set(
            libc::IPPROTO_TCP,
            libc::TCP_KEEPINTVL,
            (keepalive_secs / 3).max(1) as libc::c_int,
        );
        set(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3);
    }
}

/// Peer and local address of a socket as `ip:port`.
fn socket_addrs(fd: RawFd) -> (String, String) {
    // SAFETY: fd is an open socket for the duration of this call.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let sock = socket2::SockRef::from(&borrowed);
    let fmt = |a: io::Result<socket2::SockAddr>| {
        a.ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.to_string())
            .unwrap_or_default()
    };
    (fmt(sock.peer_addr()), fmt(sock.local_addr()))
}
