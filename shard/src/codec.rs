//! One key's state as bytes, for WAL records and snapshot entries.
//!
//! ```text
//! record  = version:u8 kind:u8 body
//! Put     = db:var key:bytes expire_at:var type:u8 value      (kind 1)
//! Delete  = db:var key:bytes                                  (kind 2)
//! FlushDb = db:var                                            (kind 3)
//! FlushAll= (nothing)                                         (kind 4)
//! bytes   = len:var data
//! value   = string: bytes
//!         | hash:   count:var (field:bytes value:bytes)*
//!         | set:    count:var member:bytes*
//!         | list:   count:var element:bytes*   (head first)
//!         | zset:   count:var (member:bytes score:f64 LE)*  (ascending)
//! var     = unsigned LEB128, at most 10 bytes
//! ```
//!
//! Expiry is absolute (Unix ms, 0 = none), so replaying a record never
//! brings back a key that has since expired. Scores keep their exact bits
//! (-0.0 stays -0.0, as Redis's RDB keeps it).
//!
//! Decoding takes untrusted bytes (a damaged file): every length is checked
//! against what is left of the input before anything is allocated, so a
//! corrupt count cannot ask for gigabytes, and nothing panics. Collections
//! are rebuilt through the constructors the executors use
//! ([`Collection::wrap`], [`ZSetValue::set`]), so memory accounting starts
//! right.

mod batch;

pub use batch::{decode_batch, encode_batch, encode_batch_of, record_key, record_target, wal_type};

use crate::cmd::typed::Collection;
use crate::shard::DATABASES;
use crate::value::{Entry, HashValue, ListValue, SetValue, Value, ZSetValue};

/// The format written; a reader refuses any other.
pub const VERSION: u8 = 1;

const KIND_PUT: u8 = 1;
const KIND_DELETE: u8 = 2;
const KIND_FLUSH_DB: u8 = 3;
const KIND_FLUSH_ALL: u8 = 4;

const TYPE_STRING: u8 = 0;
const TYPE_HASH: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_LIST: u8 = 3;
const TYPE_ZSET: u8 = 4;

/// One decoded record.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// The key now holds this value and expiry (set, overwrite, snapshot).
    Put {
        db: usize,
        key: Box<[u8]>,
        entry: Entry,
    },
    Delete {
        db: usize,
        key: Box<[u8]>,
    },
    FlushDb {
        db: usize,
    },
    FlushAll,
}

/// Why bytes are not a record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record ends early")]
    Truncated,
    #[error("record format version {0} is not supported")]
    Version(u8),
    #[error("unknown record kind {0}")]
    Kind(u8),
    #[error("unknown value type {0}")]
    Type(u8),
    #[error("database index {0} out of range")]
    Db(u64),
    #[error("malformed length")]
    Length,
    #[error("score is NaN")]
    NaN,
    #[error("member or field repeated")]
    Duplicate,
    /// Redis never stores an empty collection; its loader skips such keys
    /// with a warning, and a caller may do the same.
    #[error("empty collection")]
    EmptyCollection,
    #[error("{0} bytes after the record")]
    Trailing(usize),
}

fn put_var(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_var(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn header(out: &mut Vec<u8>, kind: u8) {
    out.push(VERSION);
    out.push(kind);
}

/// Appends a Put record for `key` in `db` holding `entry`.
pub fn encode_put(out: &mut Vec<u8>, db: usize, key: &[u8], entry: &Entry) {
    header(out, KIND_PUT);
    put_var(out, db as u64);
    put_bytes(out, key);
    put_var(out, entry.expire_at);
    match &entry.value {
        Value::Str(s) => {
            out.push(TYPE_STRING);
            put_bytes(out, s);
        }
        Value::Hash(h) => {
            out.push(TYPE_HASH);
            put_var(out, h.len() as u64);
            for (f, v) in h.iter() {
                put_bytes(out, f);
                put_bytes(out, v);
            }
        }
        Value::Set(s) => {
            out.push(TYPE_SET);
            put_var(out, s.len() as u64);
            for m in s.iter() {
                put_bytes(out, m);
            }
        }
        Value::List(l) => {
            out.push(TYPE_LIST);
            put_var(out, l.len() as u64);
            for e in l.iter() {
                put_bytes(out, e);
            }
        }
        Value::ZSet(z) => {
            out.push(TYPE_ZSET);
            put_var(out, z.len() as u64);
            for (m, score) in z.iter() {
                put_bytes(out, m);
                out.extend_from_slice(&score.to_bits().to_le_bytes());
            }
        }
    }
}

/// Appends a Delete record.
pub fn encode_delete(out: &mut Vec<u8>, db: usize, key: &[u8]) {
    header(out, KIND_DELETE);
    put_var(out, db as u64);
    put_bytes(out, key);
}

/// Appends a FLUSHDB record.
pub fn encode_flush_db(out: &mut Vec<u8>, db: usize) {
    header(out, KIND_FLUSH_DB);
    put_var(out, db as u64);
}

/// Appends a FLUSHALL record.
pub fn encode_flush_all(out: &mut Vec<u8>) {
    header(out, KIND_FLUSH_ALL);
}

/// Reads a whole record; bytes left over are an error.
pub fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
    let mut r = Reader { rest: bytes };
    let version = r.u8()?;
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    let record = match r.u8()? {
        KIND_PUT => {
            let db = r.db()?;
            let key = r.bytes()?.into();
            let expire_at = r.var()?;
            let value = r.value()?;
            Record::Put {
                db,
                key,
                entry: Entry { value, expire_at },
            }
        }
        KIND_DELETE => Record::Delete {
            db: r.db()?,
            key: r.bytes()?.into(),
        },
        KIND_FLUSH_DB => Record::FlushDb { db: r.db()? },
        KIND_FLUSH_ALL => Record::FlushAll,
        kind => return Err(DecodeError::Kind(kind)),
    };
    match r.rest.len() {
        0 => Ok(record),
        n => Err(DecodeError::Trailing(n)),
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Result<u8, DecodeError> {
        let (&b, rest) = self.rest.split_first().ok_or(DecodeError::Truncated)?;
        self.rest = rest;
        Ok(b)
    }

    fn var(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            // The tenth byte may only carry the top bit of a u64.
            if shift == 63 && b > 1 {
                return Err(DecodeError::Length);
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::Length)
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], DecodeError> {
        if n > self.rest.len() as u64 {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.rest.split_at(n as usize);
        self.rest = rest;
        Ok(head)
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.var()?;
        self.take(n)
    }

    fn db(&mut self) -> Result<usize, DecodeError> {
        match self.var()? {
            db if db < DATABASES as u64 => Ok(db as usize),
            db => Err(DecodeError::Db(db)),
        }
    }

    /// An element count, checked against what is left: each element takes
    /// at least `min_size` bytes, so a count the input cannot hold is
    /// rejected before anything is reserved for it.
    fn count(&mut self, min_size: usize) -> Result<usize, DecodeError> {
        let n = self.var()?;
        if n == 0 {
            return Err(DecodeError::EmptyCollection);
        }
        if n > (self.rest.len() / min_size) as u64 {
            return Err(DecodeError::Truncated);
        }
        Ok(n as usize)
    }

    fn value(&mut self) -> Result<Value, DecodeError> {
        Ok(match self.u8()? {
            TYPE_STRING => Value::Str(self.bytes()?.into()),
            TYPE_HASH => {
                let n = self.count(2)?;
                let mut h = HashValue::with_capacity(n);
                for _ in 0..n {
                    let field = self.bytes()?;
                    let value = self.bytes()?;
                    if h.insert(field.into(), value.into()).is_some() {
                        return Err(DecodeError::Duplicate);
                    }
                }
                h.wrap()
            }
            TYPE_SET => {
                let n = self.count(1)?;
                let mut s = SetValue::with_capacity(n);
                for _ in 0..n {
                    if !s.insert(self.bytes()?.into()) {
                        return Err(DecodeError::Duplicate);
                    }
                }
                s.wrap()
            }
            TYPE_LIST => {
                let n = self.count(1)?;
                let mut l = ListValue::with_capacity(n);
                for _ in 0..n {
                    l.push_back(self.bytes()?.into());
                }
                l.wrap()
            }
            TYPE_ZSET => {
                let n = self.count(9)?;
                let mut z = ZSetValue::default();
                for _ in 0..n {
                    let member = self.bytes()?;
                    let bits = self.take(8)?;
                    let score = f64::from_bits(u64::from_le_bytes(
                        bits.try_into().map_err(|_| DecodeError::Truncated)?,
                    ));
                    if score.is_nan() {
                        return Err(DecodeError::NaN);
                    }
                    if !z.set(member, score) {
                        return Err(DecodeError::Duplicate);
                    }
                }
                z.wrap()
            }
            t => return Err(DecodeError::Type(t)),
        })
    }
}
