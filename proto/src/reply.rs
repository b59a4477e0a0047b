//! Replies as values, and their encoding in RESP2 and RESP3.
//!
//! Executors return a [`Reply`] without knowing which protocol the client
//! negotiated; the connection encodes it. RESP3-only shapes (maps, sets,
//! doubles, booleans, nulls) degrade the way Redis 7 degrades them for RESP2
//! clients.

use bytes::{BufMut, Bytes, BytesMut};
use std::borrow::Cow;

/// The protocol a connection speaks, chosen with HELLO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+OK`
    Ok,
    /// A simple string such as `+PONG`.
    Simple(Cow<'static, str>),
    /// An error; the text starts with its code, e.g. `ERR syntax error`.
    Error(Cow<'static, str>),
    Integer(i64),
    Bulk(Bytes),
    /// A missing string: `$-1` in RESP2, `_` in RESP3.
    Nil,
    /// A missing array: `*-1` in RESP2, `_` in RESP3.
    NilArray,
    Array(Vec<Reply>),
    /// A map in RESP3, a flat array of keys and values in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// A set in RESP3, an array in RESP2.
    Set(Vec<Reply>),
    /// Pairs such as ZRANGE WITHSCORES's member and score: an array of
    /// two-element arrays in RESP3, one flat array in RESP2 (Redis 7.0).
    Pairs(Vec<(Reply, Reply)>),
    /// A double in RESP3, a bulk string in RESP2.
    Double(f64),
    /// A boolean in RESP3, the integer 1 or 0 in RESP2.
    Bool(bool),
    /// Verbatim text (`=`) in RESP3 with a three-letter format, a bulk string in RESP2.
    Verbatim(&'static str, Bytes),
    /// An out-of-band push (`>`) in RESP3, an array in RESP2.
    Push(Vec<Reply>),
}

impl Reply {
    pub fn error(text: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Error(text.into())
    }

    pub fn simple(text: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Simple(text.into())
    }

    pub fn bulk(data: impl Into<Bytes>) -> Reply {
        Reply::Bulk(data.into())
    }

    /// A bulk string copied from a slice.
    pub fn bulk_from(data: &[u8]) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(data))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends this reply to `out` in the given protocol.
    pub fn encode(&self, proto: Protocol, out: &mut BytesMut) {
        match self {
            Reply::Ok => out.put_slice(b"+OK\r\n"),
            Reply::Simple(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(s) => error_line(out, s),
            Reply::Integer(n) => int_line(out, b':', *n),
            Reply::Bulk(b) => bulk(out, b),
            Reply::Nil => null(out, proto, b"$-1\r\n"),
            Reply::NilArray => null(out, proto, b"*-1\r\n"),
            Reply::Array(items) => {
                int_line(out, b'*', items.len() as i64);
                items.iter().for_each(|r| r.encode(proto, out));
            }
            Reply::Map(pairs) => {
                match proto {
                    Protocol::Resp2 => int_line(out, b'*', 2 * pairs.len() as i64),
                    Protocol::Resp3 => int_line(out, b'%', pairs.len() as i64),
                }
                for (k, v) in pairs {
                    k.encode(proto, out);
                    v.encode(proto, out);
                }
            }
            Reply::Pairs(pairs) => {
                match proto {
                    Protocol::Resp2 => int_line(out, b'*', 2 * pairs.len() as i64),
                    Protocol::Resp3 => int_line(out, b'*', pairs.len() as i64),
                }
                for (a, b) in pairs {
                    if proto == Protocol::Resp3 {
                        out.put_slice(b"*2\r\n");
                    }
                    a.encode(proto, out);
                    b.encode(proto, out);
                }
            }
            Reply::Set(items) => {
                let marker = if proto == Protocol::Resp3 { b'~' } else { b'*' };
                int_line(out, marker, items.len() as i64);
                items.iter().for_each(|r| r.encode(proto, out));
            }
            Reply::Push(items) => {
                let marker = if proto == Protocol::Resp3 { b'>' } else { b'*' };
                int_line(out, marker, items.len() as i64);
                items.iter().for_each(|r| r.encode(proto, out));
            }
            Reply::Double(d) => {
                let text = format_double(*d);
                match proto {
                    Protocol::Resp2 => bulk(out, text.as_bytes()),
                    Protocol::Resp3 => line(out, b',', text.as_bytes()),
                }
            }
            Reply::Bool(b) => match proto {
                Protocol::Resp2 => out.put_slice(if *b { b":1\r\n" } else { b":0\r\n" }),
                Protocol::Resp3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            },
            Reply::Verbatim(format, text) => match proto {
                Protocol::Resp2 => bulk(out, text),
                Protocol::Resp3 => {
                    int_line(out, b'=', text.len() as i64 + 4);
                    out.put_slice(format.as_bytes());
                    out.put_u8(b':');
                    out.put_slice(text);
                    out.put_slice(b"\r\n");
                }
            },
        }
    }

    /// The reply encoded alone, mainly for tests.
    pub fn to_bytes(&self, proto: Protocol) -> Vec<u8> {
        let mut out = BytesMut::new();
        self.encode(proto, &mut out);
        out.to_vec()
    }
}

fn null(out: &mut BytesMut, proto: Protocol, resp2: &[u8]) {
    match proto {
        Protocol::Resp2 => out.put_slice(resp2),
        Protocol::Resp3 => out.put_slice(b"_\r\n"),
    }
}

fn line(out: &mut BytesMut, marker: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(marker);
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

/// Errors must stay on one line whatever text a client smuggled into them.
fn error_line(out: &mut BytesMut, text: &str) {
    out.reserve(text.len() + 3);
    out.put_u8(b'-');
    for &b in text.as_bytes() {
        out.put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
    }
    out.put_slice(b"\r\n");
}

pub fn int_line(out: &mut BytesMut, marker: u8, n: i64) {
    let mut buf = itoa::Buffer::new();
    line(out, marker, buf.format(n).as_bytes());
}

/// Appends a bulk string.
pub fn bulk(out: &mut BytesMut, data: &[u8]) {
    let mut buf = itoa::Buffer::new();
    let len = buf.format(data.len());
    out.reserve(data.len() + len.len() + 5);
    out.put_u8(b'$');
    out.put_slice(len.as_bytes());
    out.put_slice(b"\r\n");
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

/// Formats a double the way Redis 7.0 does in replies (`%.17g`, and `inf`,
/// `-inf`, `nan`).
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    format_g(d, 17)
}

/// C's `%.{precision}g`.
pub fn format_g(d: f64, precision: usize) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sci = format!("{:.*e}", precision - 1, d);
    let (mantissa, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent digits");
    if exp < -4 || exp >= precision as i32 {
        let mantissa = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (precision as i32 - 1 - exp).max(0) as usize;
        trim_fraction(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(r: &Reply) -> (String, String) {
        let s = |p| String::from_utf8(r.to_bytes(p)).unwrap();
        (s(Protocol::Resp2), s(Protocol::Resp3))
    }

    #[test]
    fn scalars() {
        assert_eq!(both(&Reply::Ok).0, "+OK\r\n");
        assert_eq!(both(&Reply::Integer(-12)).0, ":-12\r\n");
        assert_eq!(both(&Reply::bulk_from(b"hi")).0, "$2\r\nhi\r\n");
        assert_eq!(both(&Reply::Nil), ("$-1\r\n".into(), "_\r\n".into()));
        assert_eq!(both(&Reply::NilArray), ("*-1\r\n".into(), "_\r\n".into()));
        assert_eq!(both(&Reply::Bool(true)), (":1\r\n".into(), "#t\r\n".into()));
    }

    #[test]
    fn errors_stay_on_one_line() {
        assert_eq!(both(&Reply::error("ERR a\r\nb")).0, "-ERR a  b\r\n");
    }

    #[test]
    fn maps_flatten_for_resp2() {
        let m = Reply::Map(vec![(Reply::bulk_from(b"a"), Reply::Integer(1))]);
        assert_eq!(
            both(&m),
            (
                "*2\r\n$1\r\na\r\n:1\r\n".into(),
                "%1\r\n$1\r\na\r\n:1\r\n".into()
            )
        );
    }

    #[test]
    fn doubles_like_percent_17g() {
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(100.0), "100");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(0.00001), "1.0000000000000001e-05");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(
            both(&Reply::Double(2.0)),
            ("$1\r\n2\r\n".into(), ",2\r\n".into())
        );
    }
}
