//! Counts the bytes the process has allocated (INFO's used_memory).
//!
//! Each thread adds to its own cache-line-sized slot with a plain load and
//! store (no locked instruction on the allocation path); INFO sums the
//! slots. Memory freed by another thread than the one that allocated it
//! moves bytes between slots, so only the sum is meaningful: per-shard
//! figures come from the keyspace's own estimate instead. Threads beyond
//! the exclusive slots share the last one, with atomic additions.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};

const SLOTS: usize = 64;
const SHARED: usize = SLOTS - 1;

#[repr(align(64))]
struct Slot(AtomicIsize);

static COUNTS: [Slot; SLOTS] = [const { Slot(AtomicIsize::new(0)) }; SLOTS];
static NEXT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Const-initialised without a destructor: usable from the allocator,
    // even while the thread is being torn down.
    static MINE: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[inline]
fn add(delta: isize) {
    let index = MINE.with(|m| {
        let i = m.get();
        if i != usize::MAX {
            return i;
        }
        let i = NEXT.fetch_add(1, Relaxed).min(SHARED);
        m.set(i);
        i
    });
    let slot = &COUNTS[index].0;
    if index == SHARED {
        slot.fetch_add(delta, Relaxed);
    } else {
        // Only this thread writes its slot.
        slot.store(slot.load(Relaxed) + delta, Relaxed);
    }
}

/// Bytes currently allocated by the whole process.
pub fn allocated() -> u64 {
    COUNTS
        .iter()
        .map(|s| s.0.load(Relaxed))
        .sum::<isize>()
        .max(0) as u64
}

/// mimalloc, with every allocation and free counted.
pub struct Counting(pub mimalloc::MiMalloc);

// SAFETY: every call is forwarded unchanged to mimalloc; counting touches
// only atomics and a const thread-local, never the allocator.
unsafe impl GlobalAlloc for Counting {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.0.dealloc(ptr, layout) };
        add(-(layout.size() as isize));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_is_allocated_and_freed() {
        let before = allocated();
        let big = vec![0u8; 10 << 20];
        let during = allocated();
        drop(big);
        let after = allocated();
        // Other test threads allocate too; 10 MiB dwarfs what they do.
        assert!(during >= before + (9 << 20), "{before} -> {during}");
        assert!(after + (9 << 20) <= during, "{during} -> {after}");
    }
}
