//! The cross-core mesh: how a command reaches the shard that owns its key.
//!
//! Every shard has one inbound lock-free queue (crossbeam's list channel;
//! `send` and `try_recv` take no lock) and an eventfd its event loop keeps a
//! read armed on. Messages are values, never closures, so they can be
//! counted and logged. A sender queues messages during a loop iteration and
//! wakes each destination at most once per iteration, and only when that
//! destination said it is about to sleep: cross-core wake-ups cost tens of
//! microseconds on virtual machines, so they are batched and skipped when
//! the other core is busy anyway.

use crate::ops::{ShardOp, ShardReply};
use crossbeam_channel::{Receiver, Sender};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Identifies the reply slot a response belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyTo {
    pub shard: usize,
    pub conn: u32,
    pub generation: u32,
    /// The request's sequence number on its connection.
    pub seq: u64,
    /// Which part of a fanned-out command this is.
    pub part: u32,
    /// The cross-shard atomic command this belongs to; 0 for none.
    pub tx: u64,
}

pub enum Message {
    Request {
        reply_to: ReplyTo,
        db: u8,
        op: ShardOp,
    },
    Response {
        reply_to: ReplyTo,
        reply: ShardReply,
    },
    /// Keyspace notifications to deliver to the receiver's subscribers, as
    /// (channel, message); nothing is answered.
    Publish(Vec<(bytes::Bytes, bytes::Bytes)>),
}

/// The sending side of one shard's mailbox.
pub struct Peer {
    tx: Sender<Message>,
    sleeping: Arc<AtomicBool>,
    eventfd: Arc<OwnedFd>,
}

impl Clone for Peer {
    fn clone(&self) -> Self {
        Peer {
            tx: self.tx.clone(),
            sleeping: self.sleeping.clone(),
            eventfd: self.eventfd.clone(),
        }
    }
}

impl Peer {
    pub fn send(&self, msg: Message) {
        // The receiver lives as long as the server; a send after it is gone
        // happens only during shutdown and is safe to drop.
        let _ = self.tx.send(msg);
    }

    /// Wakes the shard if it is parked (or about to park).
    pub fn wake(&self) {
        if self.sleeping.load(Ordering::SeqCst) {
            self.wake_now();
        }
    }

    /// Wakes the shard unconditionally.
    pub fn wake_now(&self) {
        let one: u64 = 1;
        // SAFETY: writing 8 bytes to an eventfd we own.
        unsafe {
            libc::write(
                self.eventfd.as_raw_fd(),
                &one as *const u64 as *const libc::c_void,
                8,
            )
        };
    }
}

/// The receiving side, owned by the shard's event loop.
pub struct Mailbox {
    pub rx: Receiver<Message>,
    pub sleeping: Arc<AtomicBool>,
    pub eventfd: Arc<OwnedFd>,
}

impl Mailbox {
    /// Announces that the loop is about to block; returns false (and
    /// withdraws the announcement) if messages arrived meanwhile.
    pub fn prepare_to_sleep(&self) -> bool {
        self.sleeping.store(true, Ordering::SeqCst);
        if self.rx.is_empty() {
            true
        } else {
            self.sleeping.store(false, Ordering::SeqCst);
            false
        }
    }

    pub fn awake(&self) {
        self.sleeping.store(false, Ordering::Relaxed);
    }
}

/// Builds the mailboxes of `count` shards and the peer handles to reach them.
pub fn build(count: usize) -> std::io::Result<(Vec<Mailbox>, Vec<Peer>)> {
    let mut boxes = Vec::with_capacity(count);
    let mut peers = Vec::with_capacity(count);
    for _ in 0..count {
        let (tx, rx) = crossbeam_channel::unbounded();
        // SAFETY: plain eventfd creation, checked below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        let eventfd = Arc::new(unsafe { OwnedFd::from_raw_fd(fd) });
        let sleeping = Arc::new(AtomicBool::new(false));
        boxes.push(Mailbox {
            rx,
            sleeping: sleeping.clone(),
            eventfd: eventfd.clone(),
        });
        peers.push(Peer {
            tx,
            sleeping,
            eventfd,
        });
    }
    Ok((boxes, peers))
}
