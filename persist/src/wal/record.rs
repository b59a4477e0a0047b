//! Record framing: how one logged mutation sits in a segment.
//!
//! # Byte layout (all integers little-endian)
//!
//! ```text
//! offset  size  field
//!      0     4  crc      CRC32C of bytes 4.. (len, type and payload)
//!      4     4  len      payload length in bytes
//!      8     1  type     RecordType (never 0)
//!      9   len  payload  opaque bytes, produced by the shard crate
//! ```
//!
//! The CRC covers the length and the type as well as the payload, so a torn
//! or flipped length is caught instead of sending the reader off to a wrong
//! offset. Records follow each other with no alignment. Type 0 is never
//! written: a writer for direct I/O flushes whole 4 KiB blocks, and the zeros
//! after the last record (up to the block's end) must read as "nothing more",
//! not as a record. A zero header fails its CRC (CRC32C of five zero bytes is
//! not zero), and [`scan`] tells such a zero tail apart from a torn record.

/// Bytes before the payload: crc, len, type.
pub const HEADER_LEN: usize = 9;

/// Largest payload a record may carry. A length above it is damage, never a
/// record, which keeps a flipped length from asking for gigabytes.
pub const MAX_PAYLOAD: usize = 1 << 30;

/// What a record holds. The payload of each is opaque here; the shard crate
/// encodes and decodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RecordType {
    /// One key written (value, absolute expiry).
    Put = 1,
    /// One or more keys removed.
    Delete = 2,
    /// Several mutations applied atomically (a transaction): replay applies
    /// all of them or, if the record is cut off, none.
    Batch = 3,
    /// One database emptied.
    FlushDb = 4,
    /// Every database emptied.
    FlushAll = 5,
    /// A marker the shard writes after a snapshot (its payload says which).
    Checkpoint = 6,
}

impl RecordType {
    pub fn from_u8(byte: u8) -> Option<RecordType> {
        Some(match byte {
            1 => RecordType::Put,
            2 => RecordType::Delete,
            3 => RecordType::Batch,
            4 => RecordType::FlushDb,
            5 => RecordType::FlushAll,
            6 => RecordType::Checkpoint,
            _ => return None,
        })
    }
}

/// Bytes a record with this payload takes in a segment.
pub fn framed_len(payload_len: usize) -> usize {
    HEADER_LEN + payload_len
}

/// Writes one framed record into `out` (which must be exactly
/// `framed_len(payload.len())` bytes long).
pub fn encode_into(out: &mut [u8], kind: RecordType, payload: &[u8]) {
    assert!(
        payload.len() <= MAX_PAYLOAD,
        "record payload over {MAX_PAYLOAD} bytes"
    );
    assert_eq!(out.len(), framed_len(payload.len()));
    out[4..8].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    out[8] = kind as u8;
    out[HEADER_LEN..].copy_from_slice(payload);
    let crc = crc32c::crc32c(&out[4..]);
    out[0..4].copy_from_slice(&crc.to_le_bytes());
}

/// One framed record, appended to a vector (for tests and tools).
pub fn encode(kind: RecordType, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0; framed_len(payload.len())];
    encode_into(&mut out, kind, payload);
    out
}

/// A record found in a byte range: where it starts and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub offset: usize,
    pub kind: RecordType,
    pub payload_len: usize,
}

impl Found {
    pub fn end(&self) -> usize {
        self.offset + framed_len(self.payload_len)
    }
    pub fn payload<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        &data[self.offset + HEADER_LEN..self.end()]
    }
}

/// Why bytes at an offset are not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad {
    /// Fewer bytes left than the header or the length asks for.
    Short,
    /// The length is over [`MAX_PAYLOAD`].
    Length,
    /// The CRC does not match.
    Crc,
    /// The CRC matches but the type is not one this version knows.
    Type(u8),
}

impl std::fmt::Display for Bad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bad::Short => f.write_str("record cut short"),
            Bad::Length => f.write_str("record length out of range"),
            Bad::Crc => f.write_str("CRC mismatch"),
            Bad::Type(t) => write!(f, "unknown record type {t}"),
        }
    }
}

/// Parses the record starting at `offset`.
pub fn parse_at(data: &[u8], offset: usize) -> Result<Found, Bad> {
    let rest = data.get(offset..).unwrap_or(&[]);
    if rest.len() < HEADER_LEN {
        return Err(Bad::Short);
    }
    let crc = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes"));
    let len = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes")) as usize;
    if len > MAX_PAYLOAD {
        return Err(Bad::Length);
    }
    if rest.len() - HEADER_LEN < len {
        return Err(Bad::Short);
    }
    if crc32c::crc32c(&rest[4..HEADER_LEN + len]) != crc {
        return Err(Bad::Crc);
    }
    let kind = RecordType::from_u8(rest[8]).ok_or(Bad::Type(rest[8]))?;
    Ok(Found {
        offset,
        kind,
        payload_len: len,
    })
}

/// How a run of records ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The last record ends exactly at the end of the data.
    Clean,
    /// Only zero bytes follow the last record, from this offset: the padding
    /// of a block-aligned write (or a preallocated file).
    Padding { offset: usize },
    /// A record starts here but is incomplete or fails its check, and no
    /// valid record follows: a write cut short by a crash.
    Torn { offset: usize, why: Bad },
    /// The bytes here are not a record, yet a valid record follows later:
    /// damage in the middle, which a crash alone does not explain. (It
    /// errs towards this verdict: a payload holding the image of a framed
    /// record, cut by a crash after that image, reads as damage too, so
    /// start-up stops and asks rather than silently dropping data.)
    Corrupt { offset: usize, why: Bad },
}

/// Every whole record of `data[start..]`, in order, and how the run ends.
pub fn scan(data: &[u8], start: usize) -> (Vec<Found>, End) {
    let mut found = Vec::new();
    let mut offset = start;
    loop {
        if offset >= data.len() {
            return (found, End::Clean);
        }
        match parse_at(data, offset) {
            Ok(rec) => {
                offset = rec.end();
                found.push(rec);
            }
            Err(why) => {
                let end = if data[offset..].iter().all(|&b| b == 0) {
                    End::Padding { offset }
                } else if valid_record_after(data, offset + 1) {
                    End::Corrupt { offset, why }
                } else {
                    End::Torn { offset, why }
                };
                return (found, end);
            }
        }
    }
}

/// Whether any offset from `from` on holds a record whose CRC checks. Only
/// run after damage, so its cost (a CRC per plausible candidate) is paid on
/// the error path alone.
fn valid_record_after(data: &[u8], from: usize) -> bool {
    (from..data.len().saturating_sub(HEADER_LEN - 1)).any(|at| {
        let byte = data[at + 8];
        RecordType::from_u8(byte).is_some() && parse_at(data, at).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_layout() {
        let bytes = encode(RecordType::Put, b"hello");
        assert_eq!(bytes.len(), HEADER_LEN + 5);
        assert_eq!(&bytes[4..8], &5u32.to_le_bytes());
        assert_eq!(bytes[8], 1);
        let rec = parse_at(&bytes, 0).unwrap();
        assert_eq!(rec.kind, RecordType::Put);
        assert_eq!(rec.payload(&bytes), b"hello");
        assert_eq!(rec.end(), bytes.len());
    }

    #[test]
    fn zero_header_is_not_a_record() {
        assert_eq!(parse_at(&[0; 64], 0), Err(Bad::Crc));
        let (found, end) = scan(&[0; 64], 0);
        assert!(found.is_empty());
        assert_eq!(end, End::Padding { offset: 0 });
    }

    #[test]
    fn a_flipped_length_is_caught_by_the_crc() {
        let mut bytes = encode(RecordType::Delete, b"abcdef");
        bytes.extend_from_slice(&[0; 16]);
        bytes[4] = 3;
        assert_eq!(parse_at(&bytes, 0), Err(Bad::Crc));
    }

    #[test]
    fn unknown_type_with_good_crc_is_reported() {
        let mut bytes = encode(RecordType::Put, b"x");
        bytes[8] = 200;
        let crc = crc32c::crc32c(&bytes[4..]);
        bytes[0..4].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(parse_at(&bytes, 0), Err(Bad::Type(200)));
    }

    #[test]
    fn scan_tells_torn_from_corrupt() {
        let mut data = encode(RecordType::Put, b"one");
        let second = data.len();
        data.extend(encode(RecordType::Put, b"two"));
        data.extend(encode(RecordType::Put, b"three"));
        let whole = data.clone();
        // Cut in the last record: torn.
        let cut = &whole[..whole.len() - 2];
        let (found, end) = scan(cut, 0);
        assert_eq!(found.len(), 2);
        assert!(matches!(
            end,
            End::Torn {
                why: Bad::Short,
                ..
            }
        ));
        // A flipped bit in the second record, the third intact: corrupt.
        data[second + HEADER_LEN] ^= 1;
        let (found, end) = scan(&data, 0);
        assert_eq!(found.len(), 1);
        assert_eq!(
            end,
            End::Corrupt {
                offset: second,
                why: Bad::Crc
            }
        );
    }
}
