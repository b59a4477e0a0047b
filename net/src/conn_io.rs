//! Connection I/O on the shard's ring: accepting, receiving into the
//! provided buffer ring (or a connection's own buffer when it runs out),
//! sending replies, and closing once no operation is in flight.

use crate::conn::Conn;
use crate::event_loop::{
    close_fd, token, EventLoop, ACCEPT, BUF_GROUP, OWN_BUF_SIZE, RECV, RECV_OWN, SEND, WAKE,
};
use bytes::Buf;
use io_uring::{cqueue, opcode, types};
use proto::errors;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering;

impl EventLoop {
    pub(crate) fn arm_accept(&mut self) {
        if let Some(l) = &self.listener {
            let fd = l.as_raw_fd();
            let sqe = opcode::AcceptMulti::new(types::Fd(fd))
                .flags(libc::SOCK_CLOEXEC)
                .build()
                .user_data(token(ACCEPT, 0, 0));
            self.push(sqe);
        }
    }

    pub(crate) fn arm_wake(&mut self) {
        let fd = self.mailbox.eventfd.as_raw_fd();
        let buf = &mut *self.wake_buf as *mut u64 as *mut u8;
        self.push(
            opcode::Read::new(types::Fd(fd), buf, 8)
                .build()
                .user_data(token(WAKE, 0, 0)),
        );
    }

    /// Arms the connection's receive: the multishot one into the shared
    /// buffer ring, or (`own_buffer`, see on_recv) a single one into a
    /// buffer of the connection's own.
    pub(crate) fn arm_recv(&mut self, slot: u32, own_buffer: bool) {
        let Some(conn) = self.conns[slot as usize].as_mut() else {
            return;
        };
        if conn.recv_armed || conn.closing {
            return;
        }
        conn.recv_armed = true;
        let sqe = if own_buffer {
            let buf = conn
                .own_buf
                .get_or_insert_with(|| vec![0u8; OWN_BUF_SIZE].into_boxed_slice());
            opcode::Recv::new(types::Fd(conn.fd), buf.as_mut_ptr(), buf.len() as u32)
                .build()
                .user_data(token(RECV_OWN, slot, conn.generation))
        } else {
            opcode::RecvMulti::new(types::Fd(conn.fd), BUF_GROUP)
                .build()
                .user_data(token(RECV, slot, conn.generation))
        };
        self.push(sqe);
    }

    pub(crate) fn on_recv_own(&mut self, slot: u32, generation: u32, res: i32) {
        let Some(conn) = self.conn_mut(slot, generation) else {
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
    pub(crate) fn received(&mut self, slot: u32, bytes: usize) -> bool {
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

    pub(crate) fn on_accept(&mut self, res: i32, flags: u32) {
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
        self.arm_recv(slot, false);
    }

    pub(crate) fn conn_mut(&mut self, slot: u32, generation: u32) -> Option<&mut Conn> {
        self.conns
            .get_mut(slot as usize)?
            .as_mut()
            .filter(|c| c.generation == generation)
    }

    pub(crate) fn on_recv(&mut self, slot: u32, generation: u32, res: i32, flags: u32) {
        let more = cqueue::more(flags);
        let data_len = if res > 0 { res as usize } else { 0 };
        let bid = cqueue::buffer_select(flags);
        // Not `conn_mut`: the buffer ring is borrowed beside the connection.
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
            self.stats.receive_buffers_exhausted += 1;
            self.arm_recv(slot, true);
        } else {
            self.begin_close(slot);
        }
    }

    pub(crate) fn on_send(&mut self, slot: u32, generation: u32, res: i32) {
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
    pub(crate) fn flush(&mut self, slot: u32) {
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
            if self.output_held(slot) {
                return;
            }
        }
        let Some(conn) = self.conns[slot as usize].as_mut() else {
            return;
        };
        if conn.sending.is_empty() {
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
            let (client, watched) = (conn.id, std::mem::take(&mut conn.watched));
            if !watched.is_empty() {
                self.forget_watches(client, watched);
            }
            if let Some(mut conn) = self.conns[slot as usize].take() {
                self.drop_blocked(&mut conn, slot);
                self.conns[slot as usize] = Some(conn);
            }
        }
        let Some(conn) = self.conns[slot as usize].as_mut() else {
            return;
        };
        if conn.recv_armed || conn.send_inflight {
            return;
        }
        let mut conn = self.conns[slot as usize].take().expect("checked above");
        self.unsubscribe_all(&mut conn, slot);
        close_fd(conn.fd);
        self.shared.clients.fetch_sub(1, Ordering::AcqRel);
        self.free.push(slot);
    }
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
