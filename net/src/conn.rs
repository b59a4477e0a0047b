//! One client connection: its buffers, its protocol state, and the queue
//! that keeps replies in request order when some are computed on other
//! cores.

use crate::gather::Gather;
use bytes::{Bytes, BytesMut};
use proto::{Protocol, Reply};
use std::collections::VecDeque;
use std::os::fd::RawFd;

/// A request parsed ahead, with its command looked up once.
pub struct ParsedRequest {
    pub args: Vec<Bytes>,
    pub spec: Option<&'static proto::CommandSpec>,
}

/// A reply slot: ready, or waiting for parts from other shards.
pub enum Pending {
    Ready(Reply),
    /// A command that answers with nothing (a successful SHUTDOWN).
    Nothing,
    Waiting(Box<Gather>),
    /// Pub/sub messages that came while earlier replies were still due,
    /// encoded as they arrived; their bytes count toward the output limit
    /// (a RESP3 subscriber may wait in BLPOP for as long as it likes).
    Messages(BytesMut),
}

pub struct Conn {
    pub fd: RawFd,
    pub generation: u32,
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub name: Option<Vec<u8>>,
    pub lib_name: Option<Vec<u8>>,
    pub lib_ver: Option<Vec<u8>>,
    pub db: usize,
    pub proto: Protocol,
    pub authenticated: bool,
    pub created_ms: u64,
    pub last_active_ms: u64,
    pub last_cmd: &'static str,
    /// Unparsed input.
    pub rbuf: BytesMut,
    /// Requests parsed but not yet run (a pipeline is parsed in batches).
    pub parsed: VecDeque<ParsedRequest>,
    /// A protocol error found after the requests in `parsed`; sent once they ran.
    pub parse_error: Option<String>,
    /// Don't try to parse again until `rbuf` holds this many bytes.
    pub need: usize,
    /// How far the request at the front of `rbuf` was parsed.
    pub progress: proto::Progress,
    /// Replies not yet handed to the kernel.
    pub out: BytesMut,
    /// The bytes of the send in flight; the kernel reads them, so they stay put.
    pub sending: BytesMut,
    pub send_inflight: bool,
    pub recv_armed: bool,
    /// Set when the connection should close once its output is flushed.
    pub close_after_flush: bool,
    /// Set when the connection is going away; no more input is processed.
    pub closing: bool,
    /// Replies in request order, starting at sequence `first_seq`.
    pub pending: VecDeque<Pending>,
    /// Bytes of the `Pending::Messages` in `pending`.
    pub pending_messages: usize,
    pub first_seq: u64,
    /// A multi-step command (cross-shard RENAME, MSETNX) is in progress:
    /// later commands wait so they observe its effect.
    pub barrier: bool,
    /// On the dirty list already.
    pub dirty: bool,
    /// When the output first stayed over the soft limit (0: it is not over).
    pub soft_limit_since_ms: u64,
    /// The WAL write group its pending output waits for (0: none).
    pub wal_wait: u64,
    /// The open transaction, between MULTI and EXEC/DISCARD.
    pub multi: Option<Box<crate::multi::Multi>>,
    /// The blocking command this connection waits in.
    pub blocked: Option<Box<crate::blocking::Blocked>>,
    /// WATCHed keys, with their database: a set, so that WATCH of many
    /// keys (or many WATCHes) costs linear time, not quadratic.
    pub watched: hashbrown::HashSet<(usize, Bytes)>,
    /// The buffer of a receive in flight when the shared buffers ran out;
    /// the kernel writes into it, so it lives until that receive completes.
    pub own_buf: Option<Box<[u8]>>,
    /// Channels and patterns this client subscribed to; `None` while it has
    /// none, which is what makes it a pub/sub client (Redis's CLIENT_PUBSUB).
    pub subs: Option<Box<crate::pubsub::Subscriptions>>,
}

impl Conn {
    pub fn new(fd: RawFd, generation: u32, id: u64, addr: String, laddr: String, now: u64) -> Conn {
        Conn {
            fd,
            generation,
            id,
            addr,
            laddr,
            name: None,
            lib_name: None,
            lib_ver: None,
            db: 0,
            proto: Protocol::Resp2,
            authenticated: false,
            created_ms: now,
            last_active_ms: now,
            last_cmd: "NULL",
            rbuf: BytesMut::with_capacity(16 * 1024),
            parsed: VecDeque::new(),
            parse_error: None,
            need: 1,
            progress: proto::Progress::default(),
            out: BytesMut::with_capacity(16 * 1024),
            sending: BytesMut::with_capacity(16 * 1024),
            send_inflight: false,
            recv_armed: false,
            close_after_flush: false,
            closing: false,
            pending: VecDeque::new(),
            pending_messages: 0,
            first_seq: 0,
            barrier: false,
            dirty: false,
            soft_limit_since_ms: 0,
            wal_wait: 0,
            own_buf: None,
            subs: None,
            multi: None,
            blocked: None,
            watched: hashbrown::HashSet::new(),
        }
    }

    /// Adds a reply behind those already queued.
    pub fn reply(&mut self, reply: Reply) {
        if self.pending.is_empty() {
            reply.encode(self.proto, &mut self.out);
        } else {
            self.pending.push_back(Pending::Ready(reply));
        }
    }

    /// Reserves a reply slot to be filled later; returns its sequence number.
    pub fn reserve(&mut self, gather: Gather) -> u64 {
        self.pending.push_back(Pending::Waiting(Box::new(gather)));
        self.first_seq + self.pending.len() as u64 - 1
    }

    pub fn slot_mut(&mut self, seq: u64) -> Option<&mut Pending> {
        let index = seq.checked_sub(self.first_seq)?;
        self.pending.get_mut(index as usize)
    }

    /// Encodes every ready reply at the front of the queue.
    pub fn drain_ready(&mut self) {
        while let Some(Pending::Ready(_) | Pending::Nothing | Pending::Messages(_)) =
            self.pending.front()
        {
            match self.pending.pop_front() {
                Some(Pending::Ready(reply)) => reply.encode(self.proto, &mut self.out),
                Some(Pending::Messages(bytes)) => {
                    self.pending_messages -= bytes.len();
                    self.out.extend_from_slice(&bytes);
                }
                _ => {}
            }
            self.first_seq += 1;
        }
    }

    /// How many channels and patterns the client is subscribed to.
    pub fn subscriptions(&self) -> usize {
        self.subs
            .as_ref()
            .map_or(0, |s| s.channels.len() + s.patterns.len())
    }

    /// A command was refused inside MULTI: EXEC will answer EXECABORT.
    pub fn abort_multi(&mut self) {
        if let Some(multi) = self.multi.as_mut() {
            multi.aborted = true;
        }
    }

    /// Bytes waiting to go out, for output buffer limits and CLIENT LIST.
    pub fn output_len(&self) -> usize {
        self.out.len() + self.sending.len() + self.pending_messages
    }
}
