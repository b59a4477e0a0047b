//! Keys as the keyspace stores them.
//!
//! Session and token keys are short (`sess:` plus a 22-character id is 27
//! bytes; `key:` plus 12 digits is 16). A key of up to 22 bytes lives inside
//! the node that holds its entry, so a lookup that lands on the node compares
//! the key without following another pointer (one cache miss less per
//! command on a large keyspace) and there is no separate allocation.

use std::ops::Deref;

const INLINE: usize = 22;

#[derive(Clone)]
pub enum Key {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Key {
    pub fn new(key: &[u8]) -> Key {
        if key.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..key.len()].copy_from_slice(key);
            Key::Inline {
                len: key.len() as u8,
                bytes,
            }
        } else {
            Key::Heap(key.into())
        }
    }
}

impl Deref for Key {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..*len as usize],
            Key::Heap(b) => b,
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
        for len in [0, 1, 21, 22, 23, 100] {
            let data: Vec<u8> = (0..len as u8).collect();
            let key = Key::new(&data);
            assert_eq!(&*key, &data[..]);
            assert_eq!(matches!(key, Key::Inline { .. }), len <= INLINE);
        }
    }
}
