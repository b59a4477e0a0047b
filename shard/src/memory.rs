//! How many bytes the dataset takes, per database, for INFO and eviction.
//!
//! The process total comes from the allocator (the binary counts every
//! allocation). Eviction needs each shard's own share, and a thread's
//! allocation counter is no measure of that: buffers allocated on one core
//! are freed on another. So the keyspace keeps an estimate of what its keys
//! hold, updated on every insert, overwrite and removal:
//!
//! - a key costs its node (56 bytes), its key bytes when longer than the
//!   node holds inline, its value, and its share of the slot table;
//! - a string value costs its length rounded up to the allocator's size
//!   class;
//! - a collection caches what it was last charged ([`Tracked`]); an executor
//!   that writes one goes through [`crate::keyspace::Db::get_mut`], which
//!   notes the key, and the dispatcher settles the difference after the
//!   command. Collections of up to [`EXACT_LIMIT`] elements are measured
//!   exactly each time; larger ones are measured exactly once per
//!   `len / 32` writes and scaled by their element count in between, so a
//!   write to a huge hash costs at most about 32 element visits amortised.

use crate::keyspace::Node;
use crate::value::{Entry, Value};
use std::ops::{Deref, DerefMut};

/// Collections this small are measured exactly on every write.
pub const EXACT_LIMIT: usize = 128;

/// The size class mimalloc serves a request of `n` bytes from: 8-byte steps
/// up to 64, then four classes per power of two.
pub fn alloc_size(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    if n <= 64 {
        return n.div_ceil(8) * 8;
    }
    let power = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
    let step = power / 4;
    n.div_ceil(step) * step
}

/// Bytes of a hashbrown table of `capacity` with `bucket`-byte buckets.
pub fn table_bytes(capacity: usize, bucket: usize) -> usize {
    let buckets = match capacity {
        0 => return 0,
        1..=3 => 4,
        4..=7 => 8,
        _ => (capacity * 8 / 7).next_power_of_two(),
    };
    // Buckets, one control byte each, and a trailing group of control bytes.
    alloc_size(buckets * bucket + buckets + 16)
}

/// What a stored key costs: node, key bytes that did not fit inline, value.
pub fn node_bytes(node: &Node) -> usize {
    std::mem::size_of::<Node>() + node.key.heap_bytes() + value_bytes(&node.entry)
}

/// What a value costs, as last charged for collections.
pub fn value_bytes(entry: &Entry) -> usize {
    match &entry.value {
        Value::Str(s) => alloc_size(s.len()),
        Value::Hash(h) => h.charged,
        Value::Set(s) => s.charged,
        Value::ZSet(z) => z.charged,
        Value::List(l) => l.charged,
    }
}

/// What a value takes, measured now (walks collections).
pub fn exact_value_bytes(entry: &Entry) -> usize {
    match &entry.value {
        Value::Str(s) => alloc_size(s.len()),
        Value::Hash(h) => h.exact(),
        Value::Set(s) => s.exact(),
        Value::ZSet(z) => z.exact(),
        Value::List(l) => l.exact(),
    }
}

/// Re-measures a collection just written (see the module notes) and
/// returns its new charge; strings are measured directly.
pub fn remeasure(entry: &mut Entry) -> usize {
    match &mut entry.value {
        Value::Str(s) => alloc_size(s.len()),
        Value::Hash(h) => h.remeasure(),
        Value::Set(s) => s.remeasure(),
        Value::ZSet(z) => z.remeasure(),
        Value::List(l) => l.remeasure(),
    }
}

/// How a collection type's memory is measured.
pub trait Measure {
    fn elements(&self) -> usize;
    /// Bytes that depend on capacity only (tables, ring buffers).
    fn fixed_bytes(&self) -> usize;
    /// Bytes the elements own; walks every element.
    fn element_bytes(&self) -> usize;
}

/// A collection with the size it was last charged to the keyspace. Reads
/// and writes go through to the collection itself.
#[derive(Clone, Debug, Default)]
pub struct Tracked<T> {
    inner: T,
    /// Bytes charged to the database for this value.
    pub charged: usize,
    counted_len: usize,
    counted_bytes: usize,
    writes_since_count: usize,
}

impl<T: PartialEq> PartialEq for Tracked<T> {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl<T> Deref for Tracked<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for Tracked<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: Measure> Tracked<T> {
    pub fn new(inner: T) -> Tracked<T> {
        let mut t = Tracked {
            inner,
            charged: 0,
            counted_len: 0,
            counted_bytes: 0,
            writes_since_count: 0,
        };
        t.remeasure();
        t
    }

    /// What the collection takes, measured now (walks every element).
    pub fn exact(&self) -> usize {
        alloc_size(std::mem::size_of::<Self>())
            + self.inner.fixed_bytes()
            + self.inner.element_bytes()
    }

    /// Updates and returns the charge after a write.
    pub fn remeasure(&mut self) -> usize {
        let len = self.inner.elements();
        if len <= EXACT_LIMIT || self.writes_since_count * 32 >= len || self.counted_len == 0 {
            self.counted_len = len;
            self.counted_bytes = self.inner.element_bytes();
            self.writes_since_count = 0;
        } else {
            self.writes_since_count += 1;
        }
        let elements = if self.counted_len == 0 {
            0
        } else {
            (self.counted_bytes as u128 * len as u128 / self.counted_len as u128) as usize
        };
        // The box the collection lives in, its tables, its elements.
        self.charged =
            alloc_size(std::mem::size_of::<Self>()) + self.inner.fixed_bytes() + elements;
        self.charged
    }
}

impl<T: Measure + FromIterator<I>, I> FromIterator<I> for Tracked<T> {
    fn from_iter<It: IntoIterator<Item = I>>(iter: It) -> Self {
        Tracked::new(iter.into_iter().collect())
    }
}

impl<'a, T> IntoIterator for &'a Tracked<T>
where
    &'a T: IntoIterator,
{
    type Item = <&'a T as IntoIterator>::Item;
    type IntoIter = <&'a T as IntoIterator>::IntoIter;
    fn into_iter(self) -> Self::IntoIter {
        (&self.inner).into_iter()
    }
}

type Bytes = Box<[u8]>;

impl Measure for hashbrown::HashMap<Bytes, Bytes> {
    fn elements(&self) -> usize {
        self.len()
    }
    fn fixed_bytes(&self) -> usize {
        table_bytes(self.capacity(), 32)
    }
    fn element_bytes(&self) -> usize {
        self.iter()
            .map(|(k, v)| alloc_size(k.len()) + alloc_size(v.len()))
            .sum()
    }
}

impl Measure for hashbrown::HashSet<Bytes> {
    fn elements(&self) -> usize {
        self.len()
    }
    fn fixed_bytes(&self) -> usize {
        table_bytes(self.capacity(), 16)
    }
    fn element_bytes(&self) -> usize {
        self.iter().map(|k| alloc_size(k.len())).sum()
    }
}

impl Measure for std::collections::VecDeque<Bytes> {
    fn elements(&self) -> usize {
        self.len()
    }
    fn fixed_bytes(&self) -> usize {
        alloc_size(self.capacity() * 16)
    }
    fn element_bytes(&self) -> usize {
        self.iter().map(|k| alloc_size(k.len())).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_follow_the_allocator() {
        let cases = [
            (0, 0),
            (1, 8),
            (8, 8),
            (9, 16),
            (64, 64),
            (65, 80),
            (100, 112),
            (256, 256),
            (257, 320),
        ];
        for (n, want) in cases {
            assert_eq!(alloc_size(n), want, "{n}");
        }
    }

    #[test]
    fn node_is_56_bytes() {
        assert_eq!(std::mem::size_of::<Node>(), 56);
    }

    #[test]
    fn tracked_collections_grow_and_shrink() {
        let mut h: Tracked<hashbrown::HashMap<Bytes, Bytes>> = Tracked::default();
        let empty = h.remeasure();
        h.insert(b"field"[..].into(), vec![0u8; 1000].into());
        let one = h.remeasure();
        assert!(one >= empty + 1000, "{empty} -> {one}");
        // In-place growth of a value is seen.
        *h.get_mut(&b"field"[..]).unwrap() = vec![0u8; 5000].into();
        assert!(h.remeasure() >= one + 4000);
        h.remove(&b"field"[..]);
        assert!(h.remeasure() < one);
    }

    #[test]
    fn large_collections_are_estimated_then_recounted() {
        let mut l: Tracked<std::collections::VecDeque<Bytes>> = Tracked::default();
        for _ in 0..1000 {
            l.push_back(vec![0u8; 64].into());
            l.remeasure();
        }
        let exact = l.fixed_bytes() + l.element_bytes() + alloc_size(std::mem::size_of_val(&l));
        let charged = l.charged;
        assert!(charged.abs_diff(exact) * 20 < exact, "{charged} vs {exact}");
    }
}
