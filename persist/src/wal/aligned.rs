//! A byte buffer whose start and capacity are multiples of 4 KiB, as direct
//! I/O (`O_DIRECT`, and io_uring writes to such files) requires. Bytes past
//! the length are kept zero, so rounding a write up to a whole block sends
//! zeros, which the reader takes as padding.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

/// Alignment and granularity of direct I/O on the devices we target.
pub const BLOCK: usize = 4096;

pub struct AlignedBuf {
    ptr: NonNull<u8>,
    cap: usize,
    len: usize,
}

// The buffer owns its allocation outright, like a Vec<u8>.
unsafe impl Send for AlignedBuf {}

pub fn round_up(n: usize) -> usize {
    n.div_ceil(BLOCK) * BLOCK
}

pub fn round_down(n: usize) -> usize {
    n / BLOCK * BLOCK
}

impl AlignedBuf {
    pub fn with_capacity(cap: usize) -> AlignedBuf {
        let cap = round_up(cap.max(1));
        let layout = Layout::from_size_align(cap, BLOCK).expect("buffer layout");
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).unwrap_or_else(|| alloc::handle_alloc_error(layout));
        AlignedBuf { ptr, cap, len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// The whole allocation: the contents and the zeros after them.
    fn all(&self) -> &[u8] {
        // SAFETY: ptr points to cap initialised (zeroed at allocation) bytes.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.cap) }
    }

    fn all_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `all`, and &mut self gives exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.cap) }
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.all()[..self.len]
    }

    /// `range` of the buffer rounded out to whole blocks (zeros past `len`).
    pub fn blocks(&self, from: usize, to: usize) -> &[u8] {
        debug_assert_eq!(from % BLOCK, 0);
        &self.all()[from..round_up(to)]
    }

    /// Appends `n` bytes and returns them to be filled in (they start zero).
    pub fn extend(&mut self, n: usize) -> &mut [u8] {
        let need = self.len + n;
        if need > self.cap {
            self.grow(need);
        }
        let start = self.len;
        self.len = need;
        &mut self.all_mut()[start..need]
    }

    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.extend(bytes.len()).copy_from_slice(bytes);
    }

    /// Drops the first `n` bytes (a multiple of BLOCK), moving the rest to
    /// the front and zeroing what they leave behind.
    pub fn drain_front(&mut self, n: usize) {
        debug_assert_eq!(n % BLOCK, 0);
        let len = self.len;
        let all = self.all_mut();
        all.copy_within(n..len, 0);
        all[len - n..len].fill(0);
        self.len = len - n;
    }

    fn grow(&mut self, need: usize) {
        let mut bigger = AlignedBuf::with_capacity(need.max(self.cap * 2));
        bigger.extend_from_slice(self.as_slice());
        *self = bigger;
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(self.cap, BLOCK).expect("buffer layout");
        // SAFETY: allocated in with_capacity with this very layout.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_grows_and_keeps_zeros() {
        let mut buf = AlignedBuf::with_capacity(10);
        assert_eq!(buf.capacity(), BLOCK);
        assert_eq!(buf.as_slice().as_ptr() as usize % BLOCK, 0);
        buf.extend_from_slice(&[7; 5000]);
        assert_eq!(buf.capacity(), 2 * BLOCK);
        assert_eq!(buf.as_slice().as_ptr() as usize % BLOCK, 0);
        assert!(buf.blocks(0, 5000)[5000..].iter().all(|&b| b == 0));
        buf.drain_front(BLOCK);
        assert_eq!(buf.as_slice(), &[7; 904][..]);
        assert!(buf.blocks(0, buf.len())[904..].iter().all(|&b| b == 0));
    }
}
