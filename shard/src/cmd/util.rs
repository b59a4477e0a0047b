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
    if text.is_empty() || text.starts_with(char::is_whitespace) || text.ends_with(char::is_whitespace) {
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
