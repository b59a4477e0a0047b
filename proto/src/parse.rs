//! Incremental RESP request parser.
//!
//! Requests arrive as multibulk arrays (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) or
//! as inline lines (`GET k\r\n`, what telnet sends). The parser tells "need
//! more bytes" (with the total length to wait for, so a large bulk is not
//! re-parsed on every read) apart from "this is garbage", which is a protocol
//! error that closes only the offending connection. Arguments are zero-copy
//! slices of the connection's buffer.
//!
//! Limits and error texts follow Redis 7.0 (`processMultibulkBuffer`,
//! `processInlineBuffer`).

use bytes::{Bytes, BytesMut};
use nom::bytes::streaming::{tag, take_until};
use nom::sequence::terminated;
use nom::{IResult, Parser};

/// Longest inline request, and longest `*N`/`$N` header line (PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// proto-max-bulk-len: the largest bulk argument.
    pub max_bulk_len: usize,
    /// The largest argument count of one request.
    pub max_multibulk_len: usize,
    /// The client has not authenticated on a server that wants a password:
    /// Redis then allows at most 10 arguments of at most 16 KiB, so an
    /// anonymous peer cannot make the server buffer large requests.
    pub unauthenticated: bool,
}

const UNAUTHENTICATED_MULTIBULK: i64 = 10;
const UNAUTHENTICATED_BULK: i64 = 16384;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: i32::MAX as usize,
            unauthenticated: false,
        }
    }
}

#[derive(Debug, PartialEq)]
pub enum Parse {
    /// A whole request; its bytes have been taken off the buffer.
    Request(Vec<Bytes>),
    /// Not enough bytes yet: wait until the buffer holds at least this many.
    Incomplete(usize),
}

/// A protocol error; the text is what Redis sends after `-ERR `.
#[derive(Debug, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(text: &str) -> Self {
        ProtocolError(format!("Protocol error: {text}"))
    }
}

/// Parses one request from the front of `buf`. Empty requests (`*0`, blank
/// inline lines) are skipped, as Redis skips them.
pub fn parse_request(buf: &mut BytesMut, limits: &Limits) -> Result<Parse, ProtocolError> {
    parse_request_resuming(buf, limits, &mut Progress::default())
}

/// How far an incomplete multibulk request was parsed, so that the next
/// call resumes there instead of starting over: re-parsing a request of
/// millions of small arguments on every read would cost time quadratic in
/// its size. Valid only while the buffer is appended to, not consumed.
#[derive(Debug, Default)]
pub struct Progress {
    /// Arguments announced by the `*N` header; 0 when no request is under way.
    count: usize,
    /// Where the arguments parsed so far lie in the buffer.
    spans: Vec<std::ops::Range<usize>>,
    /// Where the next argument's header starts.
    pos: usize,
}

/// [`parse_request`] that keeps `progress` across calls for one connection.
pub fn parse_request_resuming(
    buf: &mut BytesMut,
    limits: &Limits,
    progress: &mut Progress,
) -> Result<Parse, ProtocolError> {
    loop {
        if buf.is_empty() {
            return Ok(Parse::Incomplete(1));
        }
        let parsed = if progress.count > 0 || buf[0] == b'*' {
            let step = multibulk(buf, limits, progress);
            if !matches!(step, Ok(Step::Incomplete(_))) {
                *progress = Progress::default();
            }
            step?
        } else {
            inline(buf)?
        };
        match parsed {
            Step::Args(args) if args.is_empty() => continue,
            Step::Args(args) => return Ok(Parse::Request(args)),
            Step::Incomplete(need) => return Ok(Parse::Incomplete(need)),
        }
    }
}

enum Step {
    Args(Vec<Bytes>),
    Incomplete(usize),
}

/// A header line up to CRLF.
fn line(input: &[u8]) -> IResult<&[u8], &[u8]> {
    terminated(take_until(&b"\r\n"[..]), tag(&b"\r\n"[..])).parse(input)
}

/// Reads the `*N` / `$N` line at `pos`; `None` means more bytes are needed.
fn header<'a>(
    buf: &'a [u8],
    pos: usize,
    too_big: &str,
) -> Result<Option<(&'a [u8], usize)>, ProtocolError> {
    match line(&buf[pos..]) {
        Ok((rest, text)) => Ok(Some((text, buf.len() - rest.len()))),
        Err(nom::Err::Incomplete(_)) => {
            if buf.len() - pos > INLINE_MAX {
                Err(ProtocolError::new(too_big))
            } else {
                Ok(None)
            }
        }
        Err(_) => unreachable!("take_until and tag only fail as incomplete in streaming mode"),
    }
}

fn multibulk(
    buf: &mut BytesMut,
    limits: &Limits,
    progress: &mut Progress,
) -> Result<Step, ProtocolError> {
    if progress.count == 0 {
        let Some((count, pos)) = header(buf, 0, "too big mbulk count string")? else {
            return Ok(Step::Incomplete(buf.len() + 1));
        };
        let count = match parse_int(&count[1..]) {
            Some(n) if n <= limits.max_multibulk_len as i64 => n,
            _ => return Err(ProtocolError::new("invalid multibulk length")),
        };
        if limits.unauthenticated && count > UNAUTHENTICATED_MULTIBULK {
            return Err(ProtocolError::new("unauthenticated multibulk length"));
        }
        if count <= 0 {
            let _ = buf.split_to(pos);
            return Ok(Step::Args(Vec::new()));
        }
        progress.count = count as usize;
        progress.spans = Vec::with_capacity((count as usize).min(1024));
        progress.pos = pos;
    }
    while progress.spans.len() < progress.count {
        let pos = progress.pos;
        if pos >= buf.len() {
            return Ok(Step::Incomplete(pos + 1));
        }
        if buf[pos] != b'$' {
            let got = buf[pos] as char;
            return Err(ProtocolError(format!(
                "Protocol error: expected '$', got '{got}'"
            )));
        }
        let Some((len, start)) = header(buf, pos, "too big bulk count string")? else {
            return Ok(Step::Incomplete(buf.len() + 1));
        };
        let len = match parse_int(&len[1..]) {
            Some(n) if n >= 0 && n as usize <= limits.max_bulk_len => n as usize,
            _ => return Err(ProtocolError::new("invalid bulk length")),
        };
        if limits.unauthenticated && len as i64 > UNAUTHENTICATED_BULK {
            return Err(ProtocolError::new("unauthenticated bulk length"));
        }
        // Like Redis, the two bytes after the data are skipped unchecked.
        let end = start + len + 2;
        if buf.len() < end {
            return Ok(Step::Incomplete(end));
        }
        progress.spans.push(start..start + len);
        progress.pos = end;
    }
    let frame = buf.split_to(progress.pos).freeze();
    let spans = std::mem::take(&mut progress.spans);
    Ok(Step::Args(
        spans.into_iter().map(|r| frame.slice(r)).collect(),
    ))
}

fn inline(buf: &mut BytesMut) -> Result<Step, ProtocolError> {
    let Some(newline) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError::new("too big inline request"));
        }
        return Ok(Step::Incomplete(buf.len() + 1));
    };
    let line = buf.split_to(newline + 1);
    let mut text = &line[..newline];
    if text.last() == Some(&b'\r') {
        text = &text[..text.len() - 1];
    }
    match split_args(text) {
        Some(args) => Ok(Step::Args(args.into_iter().map(Bytes::from).collect())),
        None => Err(ProtocolError::new("unbalanced quotes in request")),
    }
}

/// Splits an inline line into arguments with Redis's quoting rules
/// (`sdssplitargs`): double quotes with C escapes and `\xHH`, single quotes
/// with `\'`. `None` for unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    // Redis splits a C string: a NUL byte ends the line.
    let line = &line[..line.iter().position(|&b| b == 0).unwrap_or(line.len())];
    let mut args = Vec::new();
    let mut i = 0;
    let is_space = |b: u8| matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b'\x0b' | b'\x0c');
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return Some(args);
        }
        let mut current = Vec::new();
        let (mut in_double, mut in_single) = (false, false);
        loop {
            let c = line.get(i).copied();
            if in_double {
                match c {
                    None => return None,
                    Some(b'\\')
                        if line.get(i + 1) == Some(&b'x') && hex_pair(line, i + 2).is_some() =>
                    {
                        current.push(hex_pair(line, i + 2)?);
                        i += 3;
                    }
                    Some(b'\\') if i + 1 < line.len() => {
                        i += 1;
                        current.push(match line[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    Some(b'"') => {
                        // The closing quote must be followed by a space or the end.
                        if i + 1 < line.len() && !is_space(line[i + 1]) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    Some(other) => current.push(other),
                }
            } else if in_single {
                match c {
                    None => return None,
                    Some(b'\\') if line.get(i + 1) == Some(&b'\'') => {
                        i += 1;
                        current.push(b'\'');
                    }
                    Some(b'\'') => {
                        if i + 1 < line.len() && !is_space(line[i + 1]) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    Some(other) => current.push(other),
                }
            } else {
                match c {
                    None => break,
                    Some(b' ' | b'\n' | b'\r' | b'\t') => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(other) => current.push(other),
                }
            }
            i += 1;
        }
        args.push(current);
    }
}

fn hex_pair(line: &[u8], at: usize) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    let hi = digit(*line.get(at)?)?;
    let lo = digit(*line.get(at + 1)?)?;
    Some((hi * 16 + lo) as u8)
}

/// Parses a signed 64-bit integer exactly as Redis's `string2ll` does: no
/// sign other than a leading `-`, no leading zeros, no spaces, no overflow.
pub fn parse_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut v: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((b - b'0') as u64)?;
    }
    if negative {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> (Vec<Vec<Vec<u8>>>, Result<Parse, ProtocolError>) {
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match parse_request(&mut buf, &Limits::default()) {
                Ok(Parse::Request(args)) => out.push(args.iter().map(|a| a.to_vec()).collect()),
                other => return (out, other),
            }
        }
    }

    fn strs(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_requests_and_pipelines() {
        let (reqs, rest) = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n");
        assert_eq!(reqs, vec![strs(&["GET", "k"]), strs(&["PING"])]);
        assert_eq!(rest, Ok(Parse::Incomplete(1)));
    }

    #[test]
    fn every_split_point_is_incomplete_then_whole() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n";
        for cut in 0..input.len() {
            let mut buf = BytesMut::from(&input[..cut]);
            match parse_request(&mut buf, &Limits::default()).unwrap() {
                Parse::Incomplete(need) => assert!(need > cut, "cut {cut} need {need}"),
                Parse::Request(_) => panic!("complete at {cut}"),
            }
            buf.extend_from_slice(&input[cut..]);
            let Parse::Request(args) = parse_request(&mut buf, &Limits::default()).unwrap() else {
                panic!()
            };
            assert_eq!(args[2].as_ref(), b"va\r\nl");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn resuming_gives_the_same_requests_as_parsing_whole() {
        let mut input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\nPING\r\n".to_vec();
        input.extend(b"*4\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
        for chunk in 1..input.len() {
            let (mut buf, mut progress, mut out) =
                (BytesMut::new(), Progress::default(), Vec::new());
            for piece in input.chunks(chunk) {
                buf.extend_from_slice(piece);
                while let Parse::Request(args) =
                    parse_request_resuming(&mut buf, &Limits::default(), &mut progress).unwrap()
                {
                    out.push(args.iter().map(|a| a.to_vec()).collect::<Vec<_>>());
                }
            }
            assert_eq!(
                out,
                vec![
                    strs(&["SET", "key", "va\r\nl"]),
                    strs(&["PING"]),
                    strs(&["MGET", "a", "b", "c"])
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn a_request_of_many_arguments_resumes_where_it_stopped() {
        // Fed 16 KiB at a time, each call must pick up where the last one
        // stopped (within one argument), not re-read the request from its
        // start: that would take time quadratic in its size.
        let n = 400_000;
        let mut input = format!("*{}\r\n$6\r\nEXISTS\r\n", n + 1).into_bytes();
        for _ in 0..n {
            input.extend(b"$1\r\nk\r\n");
        }
        let (mut buf, mut progress, mut done) = (BytesMut::new(), Progress::default(), false);
        for piece in input.chunks(16 * 1024) {
            buf.extend_from_slice(piece);
            match parse_request_resuming(&mut buf, &Limits::default(), &mut progress).unwrap() {
                Parse::Request(args) => {
                    assert_eq!(args.len(), n + 1);
                    done = true;
                }
                Parse::Incomplete(_) => assert!(
                    buf.len() - progress.pos < 8,
                    "stopped at {} of {}",
                    progress.pos,
                    buf.len()
                ),
            }
        }
        assert!(done);
    }

    #[test]
    fn incomplete_bulk_reports_total_length() {
        let mut buf = BytesMut::from(&b"*1\r\n$100\r\nabc"[..]);
        assert_eq!(
            parse_request(&mut buf, &Limits::default()),
            Ok(Parse::Incomplete(4 + 6 + 102))
        );
    }

    #[test]
    fn empty_requests_are_skipped() {
        let (reqs, _) = parse_all(b"*0\r\n*-1\r\n\r\n   \r\nPING\r\n");
        assert_eq!(reqs, vec![strs(&["PING"])]);
    }

    #[test]
    fn protocol_errors_use_redis_texts() {
        let err = |input: &[u8]| parse_all(input).1.unwrap_err().0;
        assert_eq!(err(b"*x\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(err(b"*1\r\n$-5\r\n"), "Protocol error: invalid bulk length");
        assert_eq!(
            err(b"*1\r\n$abc\r\n"),
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            err(b"*1\r\n:5\r\n"),
            "Protocol error: expected '$', got ':'"
        );
        assert_eq!(
            err(b"SET \"a b\r\n"),
            "Protocol error: unbalanced quotes in request"
        );
        let long = vec![b'a'; INLINE_MAX + 1];
        assert_eq!(err(&long), "Protocol error: too big inline request");
        let mut long = b"*1".to_vec();
        long.extend(vec![b'1'; INLINE_MAX]);
        assert_eq!(err(&long), "Protocol error: too big mbulk count string");
        let limits = Limits {
            max_bulk_len: 10,
            ..Limits::default()
        };
        let mut buf = BytesMut::from(&b"*1\r\n$11\r\n"[..]);
        assert_eq!(
            parse_request(&mut buf, &limits).unwrap_err().0,
            "Protocol error: invalid bulk length"
        );
        let anonymous = Limits {
            unauthenticated: true,
            ..Limits::default()
        };
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(
            parse_request(&mut buf, &anonymous).unwrap_err().0,
            "Protocol error: unauthenticated multibulk length"
        );
        let mut buf = BytesMut::from(&b"*1\r\n$16385\r\n"[..]);
        assert_eq!(
            parse_request(&mut buf, &anonymous).unwrap_err().0,
            "Protocol error: unauthenticated bulk length"
        );
        let mut buf = BytesMut::from(&b"*10\r\n$16384\r\n"[..]);
        assert!(matches!(
            parse_request(&mut buf, &anonymous),
            Ok(Parse::Incomplete(_))
        ));
    }

    #[test]
    fn inline_quoting_like_redis() {
        let (reqs, _) = parse_all(b"set \"a\\x41\\n\" 'it\\'s'\r\n");
        assert_eq!(
            reqs,
            vec![vec![b"set".to_vec(), b"aA\n".to_vec(), b"it's".to_vec()]]
        );
        assert_eq!(split_args(b"\"a\"b"), None);
        assert_eq!(split_args(b"'a"), None);
    }

    #[test]
    fn inline_nul_ends_the_line_like_a_c_string() {
        assert_eq!(split_args(b"get\0 k"), Some(vec![b"get".to_vec()]));
        assert_eq!(split_args(b"\0"), Some(vec![]));
        assert_eq!(split_args(b"a \"b\0\""), None);
    }

    #[test]
    fn integers_like_string2ll() {
        assert_eq!(parse_int(b"0"), Some(0));
        assert_eq!(parse_int(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1.0",
        ] {
            assert_eq!(parse_int(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
