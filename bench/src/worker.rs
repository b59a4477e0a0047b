//! One load thread: an io_uring ring driving many connections.
//!
//! Each connection runs a closed loop: write a batch of `pipeline` requests
//! with one send, read until that many replies have arrived, repeat. A recv is
//! kept armed for as long as replies are outstanding, independently of the
//! send, so a server that answers early requests before the whole batch is
//! written is handled. Latency of a request is the time from queueing its
//! batch's send to processing the read that completed its reply, which is how
//! redis-benchmark measures pipelined latency too.

use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use io_uring::{opcode, types, IoUring};

use crate::cmd::{Encoder, Keys, Op, Rng};
use crate::resp::{self, Frame, Kind};

/// Initial per-connection receive buffer; grown when a single reply is larger.
const RECV_BUF: usize = 64 * 1024;
/// A reply larger than this is treated as a runaway server.
const MAX_RECV_BUF: usize = 256 * 1024 * 1024;
/// How long one wait on the ring may block before deadlines are rechecked.
const WAIT_SLICE: Duration = Duration::from_millis(200);
/// Longest error text kept for the report.
const MAX_ERROR_TEXT: usize = 200;

/// Operation tag in the low bits of `user_data`; the connection index is above.
const OP_SEND: u64 = 0;
const OP_RECV: u64 = 1;

/// What requests a thread sends.
#[derive(Debug, Clone, Copy)]
pub enum Mix {
    Only(Op),
    /// Percentage of SETs; the rest are GETs.
    Mixed {
        set_percent: u32,
    },
}

/// When a thread stops starting new batches.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// After this many requests in total over the thread's connections.
    Requests(u64),
    /// When the connections' key generators run dry.
    Exhausted,
    /// At this instant; outstanding replies are still collected.
    At(Instant),
}

/// Per-thread settings.
pub struct Plan {
    pub mix: Mix,
    pub pipeline: usize,
    pub stop: Stop,
    pub encoder: Encoder,
    /// Give up if no completion arrives for this long.
    pub stall_timeout: Duration,
    /// Give up if the whole run takes longer than this.
    pub time_limit: Duration,
    pub seed: u64,
}

/// What a thread measured.
pub struct Outcome {
    pub requests: u64,
    pub errors: u64,
    pub nulls: u64,
    pub first_error: Option<String>,
    /// Request latency in nanoseconds.
    pub latency: Histogram<u64>,
    pub finished: Instant,
}

struct Conn {
    /// Owned so the socket stays open while the ring uses its fd.
    stream: TcpStream,
    keys: Keys,
    rng: Rng,
    send_buf: Vec<u8>,
    send_off: usize,
    sending: bool,
    recv_buf: Vec<u8>,
    filled: usize,
    receiving: bool,
    /// Replies still owed for the current batch.
    expected: usize,
    batch_start: Instant,
    done: bool,
}

pub struct Worker {
    ring: IoUring,
    conns: Vec<Conn>,
    plan: Plan,
    budget: Option<u64>,
    active: usize,
    out: Outcome,
}

impl Worker {
    /// Takes already-connected sockets, one `Keys` per socket.
    pub fn new(streams: Vec<(TcpStream, Keys)>, plan: Plan) -> io::Result<Self> {
        // Each connection has at most one send and one recv in flight, so
        // this many entries can never overflow the submission queue, and the
        // default completion queue (twice as large) cannot overflow either.
        let entries = (2 * streams.len()).next_power_of_two().max(8) as u32;
        let ring = IoUring::builder()
            .setup_coop_taskrun()
            .setup_single_issuer()
            .build(entries)
            .or_else(|_| IoUring::new(entries))?;
        let conns = streams
            .into_iter()
            .enumerate()
            .map(|(i, (stream, keys))| Conn {
                stream,
                keys,
                rng: Rng::new(plan.seed ^ (i as u64).wrapping_mul(0x9E37_79B9)),
                send_buf: Vec::new(),
                send_off: 0,
                sending: false,
                recv_buf: vec![0; RECV_BUF],
                filled: 0,
                receiving: false,
                expected: 0,
                batch_start: Instant::now(),
                done: false,
            })
            .collect::<Vec<_>>();
        let budget = match plan.stop {
            Stop::Requests(n) => Some(n),
            _ => None,
        };
        Ok(Worker {
            ring,
            active: conns.len(),
            conns,
            plan,
            budget,
            out: Outcome {
                requests: 0,
                errors: 0,
                nulls: 0,
                first_error: None,
                latency: Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
                    .expect("static histogram bounds are valid"),
                finished: Instant::now(),
            },
        })
    }

    /// Runs until every connection has finished its last batch.
    pub fn run(mut self) -> Result<Outcome, String> {
        let started = Instant::now();
        for c in 0..self.conns.len() {
            self.start_batch(c)?;
        }
        let mut completions: Vec<(u64, i32)> = Vec::new();
        let mut last_progress = Instant::now();
        let slice = types::Timespec::from(WAIT_SLICE);
        let args = types::SubmitArgs::new().timespec(&slice);
        while self.active > 0 {
            match self.ring.submitter().submit_with_args(1, &args) {
                Ok(_) => {}
                // ETIME: the wait slice ran out; EINTR: a signal; EBUSY: the
                // completion queue needs draining first. All mean "look again".
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                    ) => {}
                Err(e) => return Err(format!("io_uring_enter: {e}")),
            }
            completions.clear();
            completions.extend(self.ring.completion().map(|e| (e.user_data(), e.result())));
            let now = Instant::now();
            if completions.is_empty() {
                if now.duration_since(last_progress) > self.plan.stall_timeout {
                    return Err(format!(
                        "no reply for {:?} with {} connections still waiting",
                        self.plan.stall_timeout, self.active
                    ));
                }
            } else {
                last_progress = now;
            }
            if now.duration_since(started) > self.plan.time_limit {
                return Err(format!(
                    "run exceeded the time limit of {:?}",
                    self.plan.time_limit
                ));
            }
            for &(user_data, result) in &completions {
                let c = (user_data >> 1) as usize;
                if user_data & 1 == OP_SEND {
                    self.on_send(c, result)?;
                } else {
                    self.on_recv(c, result, now)?;
                }
            }
        }
        Ok(self.out)
    }

    /// Encodes and queues the next batch, or retires the connection if there
    /// is no more work.
    fn start_batch(&mut self, c: usize) -> Result<(), String> {
        let mut n = self.plan.pipeline as u64;
        if let Some(budget) = self.budget {
            n = n.min(budget);
        }
        let conn = &mut self.conns[c];
        if let Some(left) = conn.keys.remaining() {
            n = n.min(left);
        }
        let now = Instant::now();
        if let Stop::At(deadline) = self.plan.stop {
            if now >= deadline {
                n = 0;
            }
        }
        if n == 0 {
            conn.done = true;
            self.active -= 1;
            self.out.finished = self.out.finished.max(now);
            return Ok(());
        }
        if let Some(budget) = self.budget.as_mut() {
            *budget -= n;
        }
        conn.send_buf.clear();
        for _ in 0..n {
            let op = match self.plan.mix {
                Mix::Only(op) => op,
                Mix::Mixed { set_percent } => {
                    if conn.rng.below(100) < u64::from(set_percent) {
                        Op::Set
                    } else {
                        Op::Get
                    }
                }
            };
            self.plan
                .encoder
                .push(op, &mut conn.keys, &mut conn.send_buf);
        }
        conn.send_off = 0;
        conn.expected = n as usize;
        conn.batch_start = now;
        self.push_send(c)?;
        if !self.conns[c].receiving {
            self.push_recv(c)?;
        }
        Ok(())
    }

    fn push_send(&mut self, c: usize) -> Result<(), String> {
        let conn = &mut self.conns[c];
        let rest = &conn.send_buf[conn.send_off..];
        let entry = opcode::Send::new(
            types::Fd(conn.stream.as_raw_fd()),
            rest.as_ptr(),
            rest.len() as u32,
        )
        .build()
        .user_data((c as u64) << 1 | OP_SEND);
        conn.sending = true;
        // SAFETY: the buffer belongs to the connection and is neither freed
        // nor reallocated until this send's completion clears `sending`.
        unsafe { self.ring.submission().push(&entry) }
            .map_err(|_| "submission queue full".to_string())
    }

    fn push_recv(&mut self, c: usize) -> Result<(), String> {
        let conn = &mut self.conns[c];
        if conn.filled == conn.recv_buf.len() {
            // A single reply fills the buffer: make room for the rest of it.
            if conn.recv_buf.len() >= MAX_RECV_BUF {
                return Err(format!(
                    "connection {c}: reply larger than {MAX_RECV_BUF} bytes"
                ));
            }
            let len = conn.recv_buf.len() * 2;
            conn.recv_buf.resize(len, 0);
        }
        let free = &mut conn.recv_buf[conn.filled..];
        let entry = opcode::Recv::new(
            types::Fd(conn.stream.as_raw_fd()),
            free.as_mut_ptr(),
            free.len() as u32,
        )
        .build()
        .user_data((c as u64) << 1 | OP_RECV);
        conn.receiving = true;
        // SAFETY: as for sends; `receiving` guards the buffer until completion.
        unsafe { self.ring.submission().push(&entry) }
            .map_err(|_| "submission queue full".to_string())
    }

    fn on_send(&mut self, c: usize, result: i32) -> Result<(), String> {
        let conn = &mut self.conns[c];
        conn.sending = false;
        if result < 0 {
            return Err(format!(
                "connection {c}: send: {}",
                io::Error::from_raw_os_error(-result)
            ));
        }
        conn.send_off += result as usize;
        if conn.send_off < conn.send_buf.len() {
            // Short write: the socket buffer was full; queue the remainder.
            return self.push_send(c);
        }
        if conn.expected == 0 && !conn.done {
            return self.start_batch(c);
        }
        Ok(())
    }

    fn on_recv(&mut self, c: usize, result: i32, now: Instant) -> Result<(), String> {
        let conn = &mut self.conns[c];
        conn.receiving = false;
        if result < 0 {
            return Err(format!(
                "connection {c}: recv: {}",
                io::Error::from_raw_os_error(-result)
            ));
        }
        if result == 0 {
            return Err(format!("connection {c}: server closed the connection"));
        }
        conn.filled += result as usize;
        let latency_ns = now
            .duration_since(conn.batch_start)
            .as_nanos()
            .min(u128::from(u64::MAX)) as u64;
        let mut at = 0;
        while at < conn.filled {
            let frame = resp::frame(&conn.recv_buf[at..conn.filled])
                .map_err(|e| format!("connection {c}: {e}"))?;
            let Frame::Complete { len, kind } = frame else {
                break;
            };
            let reply = at..at + len;
            at += len;
            if kind == Kind::Push {
                continue;
            }
            if conn.expected == 0 {
                return Err(format!(
                    "connection {c}: reply to a request that was never sent"
                ));
            }
            conn.expected -= 1;
            self.out.requests += 1;
            self.out.latency.saturating_record(latency_ns.max(1));
            match kind {
                Kind::Error => {
                    self.out.errors += 1;
                    if self.out.first_error.is_none() {
                        let text = &conn.recv_buf[reply];
                        let text = String::from_utf8_lossy(&text[..text.len().min(MAX_ERROR_TEXT)]);
                        self.out.first_error = Some(text.trim_end().to_string());
                    }
                }
                Kind::Null => self.out.nulls += 1,
                Kind::Value | Kind::Push => {}
            }
        }
        // Keep the unparsed tail of a partial reply at the front.
        conn.recv_buf.copy_within(at..conn.filled, 0);
        conn.filled -= at;
        if conn.expected > 0 {
            return self.push_recv(c);
        }
        if conn.filled > 0 {
            return Err(format!(
                "connection {c}: bytes after the last expected reply"
            ));
        }
        if !conn.sending {
            return self.start_batch(c);
        }
        Ok(())
    }
}
