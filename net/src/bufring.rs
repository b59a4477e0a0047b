//! A ring of provided buffers for multishot receives.
//!
//! With a provided buffer ring the kernel picks a free buffer only when data
//! arrives, so idle connections hold no receive memory and one multishot
//! recv per connection stays armed for its whole life. The loop copies the
//! bytes into the connection's parse buffer and hands the buffer straight
//! back, so a few hundred buffers serve thousands of connections.

use io_uring::types::BufRingEntry;
use io_uring::IoUring;
use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

pub struct BufRing {
    ring: *mut BufRingEntry,
    ring_bytes: usize,
    entries: u16,
    buffers: Vec<u8>,
    buf_size: usize,
    /// Our copy of the tail; published to the kernel after each batch.
    tail: u16,
}

impl BufRing {
    /// Registers `entries` (a power of two) buffers of `buf_size` bytes as group `group`.
    pub fn register(
        uring: &IoUring,
        group: u16,
        entries: u16,
        buf_size: usize,
    ) -> io::Result<BufRing> {
        assert!(entries.is_power_of_two());
        let ring_bytes = entries as usize * std::mem::size_of::<BufRingEntry>();
        // SAFETY: an anonymous private mapping; checked for failure below.
        let ring = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ring_bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_ANONYMOUS | libc::MAP_PRIVATE,
                -1,
                0,
            )
        };
        if ring == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut this = BufRing {
            ring: ring as *mut BufRingEntry,
            ring_bytes,
            entries,
            buffers: vec![0u8; entries as usize * buf_size],
            buf_size,
            tail: 0,
        };
        // SAFETY: the mapping lives until Drop, after the ring (owned by the
        // same event loop) stops using it; see EventLoop field order.
        unsafe {
            uring
                .submitter()
                .register_buf_ring_with_flags(ring as u64, entries, group, 0)
                .map_err(crate::event_loop::locked_memory_advice)?
        };
        for bid in 0..entries {
            this.push(bid);
        }
        this.publish();
        Ok(this)
    }

    /// The bytes the kernel wrote into buffer `bid`.
    pub fn data(&self, bid: u16, len: usize) -> &[u8] {
        let start = bid as usize * self.buf_size;
        &self.buffers[start..start + len.min(self.buf_size)]
    }

    /// Gives buffer `bid` back to the kernel (visible after `publish`).
    pub fn push(&mut self, bid: u16) {
        let mask = self.entries - 1;
        // SAFETY: index masked into the mapped ring; the kernel reads entries
        // only up to the tail we publish.
        unsafe {
            let entry = &mut *self.ring.add((self.tail & mask) as usize);
            entry.set_addr(self.buffers.as_ptr().add(bid as usize * self.buf_size) as u64);
            entry.set_len(self.buf_size as u32);
            entry.set_bid(bid);
        }
        self.tail = self.tail.wrapping_add(1);
    }

    /// Publishes pushed buffers to the kernel.
    pub fn publish(&mut self) {
        // SAFETY: the tail field overlays the first entry's reserved word and
        // must be written with release ordering so the kernel sees the entries.
        unsafe {
            let tail = BufRingEntry::tail(self.ring) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping; the io_uring that used it is gone.
        unsafe { libc::munmap(self.ring as *mut libc::c_void, self.ring_bytes) };
    }
}
