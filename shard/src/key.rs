//! Keys as the keyspace stores them.
//!
//! Session and token keys are short (`key:` plus 12 digits is 16 bytes;
//! `sess:` plus a 22-character id is 27). A key of up to 18 bytes lives
//! inside the node that holds its entry, so a lookup that lands on the node
//! compares the key without following another pointer (one cache miss less
//! per command on a large keyspace) and there is no separate allocation.
//!
//! The key also carries the 32-bit access stamp eviction reads (see
//! [`crate::evict`]): it fits in bytes the enum would otherwise pad, so the
//! node stays at 56 bytes. That is what limits inline keys to 18 bytes.

use std::ops::Deref;

const INLINE: usize = 18;

#[derive(Clone)]
pub enum Key {
    Inline {
        stamp: u32,
        len: u8,
        bytes: [u8; INLINE],
    },
    Heap {
        stamp: u32,
        bytes: Box<[u8]>,
    },
}

impl Key {
    pub fn new(key: &[u8]) -> Key {
        if key.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..key.len()].copy_from_slice(key);
            Key::Inline {
                stamp: 0,
                len: key.len() as u8,
                bytes,
            }
        } else {
            Key::Heap {
                stamp: 0,
                bytes: key.into(),
            }
        }
    }

    /// Last access time and eviction segment, as [`crate::evict::stamp`] packs them.
    #[inline]
    pub fn stamp(&self) -> u32 {
        match self {
            Key::Inline { stamp, .. } | Key::Heap { stamp, .. } => *stamp,
        }
    }

    #[inline]
    pub fn set_stamp(&mut self, value: u32) {
        match self {
            Key::Inline { stamp, .. } | Key::Heap { stamp, .. } => *stamp = value,
        }
    }

    /// Bytes allocated for the key outside the node.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Key::Inline { .. } => 0,
            Key::Heap { bytes, .. } => crate::memory::alloc_size(bytes.len()),
        }
    }
}

impl Deref for Key {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes, .. } => &bytes[..*len as usize],
            Key::Heap { bytes, .. } => bytes,
        }
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_inline_long_keys_on_the_heap() {
        assert_eq!(std::mem::size_of::<Key>(), 24);
        for len in [0, 1, 17, 18, 19, 100] {
            let data: Vec<u8> = (0..len as u8).collect();
            let mut key = Key::new(&data);
            assert_eq!(&*key, &data[..]);
            assert_eq!(matches!(key, Key::Inline { .. }), len <= INLINE);
            key.set_stamp(0xdead_beef);
            assert_eq!((key.stamp(), &*key), (0xdead_beef, &data[..]));
        }
    }
}
