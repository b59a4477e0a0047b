//! Incremental RESP2/RESP3 reply framing.
//!
//! The load generator does not need reply values, only where each complete
//! reply ends and whether it is an error, a null or something else. Replies
//! arrive split across reads at arbitrary byte boundaries, so the framer
//! answers "incomplete" until a whole reply is buffered, and the caller retries
//! once more bytes have arrived.

/// What a complete top-level reply was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any non-error, non-null reply.
    Value,
    /// `$-1`, `*-1` or RESP3 `_`: for GET this is a miss.
    Null,
    /// `-ERR ...` or RESP3 blob error `!`.
    Error,
    /// RESP3 out-of-band push (`>`): not an answer to any request.
    Push,
}

/// Outcome of trying to frame one reply at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A reply of `len` bytes.
    Complete { len: usize, kind: Kind },
    /// More bytes are needed.
    Incomplete,
}

/// The server sent bytes that are not RESP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "protocol error: {}", self.0)
    }
}

/// Nesting deeper than this is treated as garbage rather than risking the
/// stack on a misbehaving server.
const MAX_DEPTH: usize = 64;

/// Frames the reply at the start of `buf`.
pub fn frame(buf: &[u8]) -> Result<Frame, ProtocolError> {
    match frame_at(buf, 0, 0)? {
        Some((end, kind)) => Ok(Frame::Complete { len: end, kind }),
        None => Ok(Frame::Incomplete),
    }
}

/// Returns the end offset and kind of the reply starting at `pos`, or `None`
/// when the buffer ends before the reply does.
fn frame_at(buf: &[u8], pos: usize, depth: usize) -> Result<Option<(usize, Kind)>, ProtocolError> {
    if depth > MAX_DEPTH {
        return Err(ProtocolError("aggregate nesting too deep".into()));
    }
    let Some(&tag) = buf.get(pos) else {
        return Ok(None);
    };
    let Some(line_end) = find_crlf(buf, pos + 1)? else {
        return Ok(None);
    };
    let line = &buf[pos + 1..line_end];
    let after_line = line_end + 2;
    match tag {
        b'+' | b':' | b',' | b'(' | b'#' => Ok(Some((after_line, Kind::Value))),
        b'_' => Ok(Some((after_line, Kind::Null))),
        b'-' => Ok(Some((after_line, Kind::Error))),
        b'$' | b'=' | b'!' => {
            let n = parse_len(line)?;
            if n < 0 {
                return Ok(Some((after_line, Kind::Null)));
            }
            let end = after_line + n as usize + 2;
            if buf.len() < end {
                return Ok(None);
            }
            if &buf[end - 2..end] != b"\r\n" {
                return Err(ProtocolError("bulk string not terminated by CRLF".into()));
            }
            let kind = if tag == b'!' {
                Kind::Error
            } else {
                Kind::Value
            };
            Ok(Some((end, kind)))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = parse_len(line)?;
            if n < 0 {
                return Ok(Some((after_line, Kind::Null)));
            }
            // Maps and attributes hold key/value pairs.
            let elements = if matches!(tag, b'%' | b'|') {
                2 * n as usize
            } else {
                n as usize
            };
            let mut at = after_line;
            for _ in 0..elements {
                match frame_at(buf, at, depth + 1)? {
                    Some((end, _)) => at = end,
                    None => return Ok(None),
                }
            }
            match tag {
                b'>' => Ok(Some((at, Kind::Push))),
                // An attribute annotates the reply that follows it; the pair
                // is one reply.
                b'|' => frame_at(buf, at, depth + 1),
                _ => Ok(Some((at, Kind::Value))),
            }
        }
        other => Err(ProtocolError(format!(
            "unexpected reply type byte 0x{other:02x}"
        ))),
    }
}

/// Index of the `\r` of the first CRLF at or after `from`, `None` if no line
/// end has arrived yet. A bare LF can never become valid by reading more, so
/// it is an error rather than "incomplete" (which would stall the connection).
fn find_crlf(buf: &[u8], from: usize) -> Result<Option<usize>, ProtocolError> {
    let Some(rest) = buf.get(from..) else {
        return Ok(None);
    };
    match rest.iter().position(|&b| b == b'\n') {
        None => Ok(None),
        Some(nl) if nl > 0 && rest[nl - 1] == b'\r' => Ok(Some(from + nl - 1)),
        Some(_) => Err(ProtocolError("line ended by a bare LF".into())),
    }
}

/// Parses a length header (`-1` allowed for nulls).
fn parse_len(line: &[u8]) -> Result<i64, ProtocolError> {
    let bad = || ProtocolError(format!("bad length {:?}", String::from_utf8_lossy(line)));
    let (neg, digits) = match line.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, line),
    };
    if digits.is_empty() || digits.len() > 18 {
        return Err(bad());
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(bad());
        }
        n = n * 10 + i64::from(d - b'0');
    }
    if neg {
        if n != 1 {
            return Err(bad());
        }
        return Ok(-1);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(buf: &[u8]) -> (usize, Kind) {
        match frame(buf).unwrap() {
            Frame::Complete { len, kind } => (len, kind),
            Frame::Incomplete => panic!("incomplete: {:?}", String::from_utf8_lossy(buf)),
        }
    }

    #[test]
    fn simple_types() {
        assert_eq!(complete(b"+OK\r\n"), (5, Kind::Value));
        assert_eq!(complete(b":42\r\nrest"), (5, Kind::Value));
        assert_eq!(complete(b"-ERR no\r\n"), (9, Kind::Error));
        assert_eq!(complete(b"_\r\n"), (3, Kind::Null));
    }

    #[test]
    fn bulk_and_null() {
        assert_eq!(complete(b"$3\r\nabc\r\n+OK\r\n"), (9, Kind::Value));
        assert_eq!(complete(b"$0\r\n\r\n"), (6, Kind::Value));
        assert_eq!(complete(b"$-1\r\n"), (5, Kind::Null));
        assert_eq!(complete(b"*-1\r\n"), (5, Kind::Null));
        assert_eq!(complete(b"!3\r\nbad\r\n"), (9, Kind::Error));
    }

    #[test]
    fn bulk_containing_crlf() {
        assert_eq!(complete(b"$4\r\n\r\n\r\n\r\n"), (10, Kind::Value));
    }

    #[test]
    fn aggregates() {
        let a = b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n";
        assert_eq!(complete(a), (a.len(), Kind::Value));
        let m = b"%1\r\n+k\r\n+v\r\n";
        assert_eq!(complete(m), (m.len(), Kind::Value));
        let p = b">2\r\n+message\r\n+x\r\n";
        assert_eq!(complete(p), (p.len(), Kind::Push));
        let attr = b"|1\r\n+a\r\n+b\r\n-ERR x\r\n";
        assert_eq!(complete(attr), (attr.len(), Kind::Error));
    }

    #[test]
    fn every_split_point_is_incomplete() {
        let full = b"*3\r\n$3\r\nfoo\r\n:12\r\n%1\r\n+a\r\n$2\r\nbb\r\n";
        for cut in 0..full.len() {
            assert_eq!(
                frame(&full[..cut]).unwrap(),
                Frame::Incomplete,
                "cut at {cut}"
            );
        }
        assert_eq!(complete(full), (full.len(), Kind::Value));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(frame(b"hello\r\n").is_err());
        assert!(frame(b"$x\r\n").is_err());
        assert!(frame(b"$-2\r\n").is_err());
        assert!(frame(b"$3\r\nabcXY").is_err());
        assert!(frame(b"+OK\n").is_err());
    }
}
