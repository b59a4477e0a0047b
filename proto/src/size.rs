//! Byte sizes written the way Redis writes them (config files, CONFIG SET).

/// Parses a size: plain bytes ("1048576") or a number with a Redis unit.
///
/// Units follow Redis's `memtoll` so values copied from a redis.conf mean the
/// same here: a bare letter is a power of ten, a letter plus "b" a power of
/// two. Returns `None` for anything else, including overflow.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_lowercase();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    if digits.is_empty() {
        return None;
    }
    let multiplier: u64 = match unit {
        "" | "b" => 1,
        "k" => 1_000,
        "kb" => 1 << 10,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(multiplier)
}
