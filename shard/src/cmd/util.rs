//! Argument parsing shared by executors, with Redis's error texts.

use proto::errors;
use proto::Reply;

/// Parses an integer argument or gives Redis's "not an integer" error.
pub fn int_arg(arg: &[u8]) -> Result<i64, Reply> {
    proto::parse_int(arg).ok_or_else(|| Reply::error(errors::NOT_INTEGER))
}

/// Parses a float argument like Redis's `getLongDoubleFromObject`: no
/// spaces, no NaN.
pub fn float_arg(arg: &[u8]) -> Result<f64, Reply> {
    parse_float(arg).ok_or_else(|| Reply::error(errors::NOT_FLOAT))
}

pub fn parse_float(arg: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(arg).ok()?;
    if text.is_empty()
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
    {
        return None;
    }
    let v: f64 = match text.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => text.parse().ok()?,
    };
    (!v.is_nan()).then_some(v)
}

/// Formats a float the way INCRBYFLOAT and HINCRBYFLOAT reply: plain
/// decimal, no exponent, shortest form that reads back the same.
pub fn format_float(v: f64) -> String {
    let s = format!("{v}");
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// Parses a SCAN-family cursor as Redis does with `strtoul`: an optional
/// sign (a negative value wraps around), no leading space, nothing after
/// the digits, and the empty string reads as 0.
pub fn scan_cursor(arg: &[u8]) -> Result<u64, Reply> {
    let invalid = || Reply::error(errors::CURSOR);
    if arg.is_empty() {
        return Ok(0);
    }
    let (negative, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return Err(invalid());
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((b - b'0') as u64))
            .ok_or_else(invalid)?;
    }
    Ok(if negative { v.wrapping_neg() } else { v })
}
