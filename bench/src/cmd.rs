//! Request encoding: keys, values and the RESP commands sent to the server.

/// Width of the numeric key suffix. Same as redis-benchmark's
/// `key:__rand_int__` expansion, so both tools send identical keys.
const KEY_DIGITS: usize = 12;
/// `key:` followed by the digits.
const KEY_LEN: usize = 4 + KEY_DIGITS;

/// Which command a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Set,
    Get,
}

/// How keys are chosen for one connection.
#[derive(Debug, Clone)]
pub enum Keys {
    /// Uniformly random in `0..keyspace` (redis-benchmark `-r`).
    Random { keyspace: u64, rng: Rng },
    /// Every key in `next..end` once, in order: used to pre-fill an exact
    /// number of distinct keys.
    Sequential { next: u64, end: u64 },
}

impl Keys {
    /// How many keys this generator can still produce, if it is finite.
    pub fn remaining(&self) -> Option<u64> {
        match self {
            Keys::Random { .. } => None,
            Keys::Sequential { next, end } => Some(end - next),
        }
    }

    fn next_key(&mut self) -> u64 {
        match self {
            Keys::Random { keyspace, rng } => rng.below(*keyspace),
            Keys::Sequential { next, .. } => {
                let k = *next;
                *next += 1;
                k
            }
        }
    }
}

/// xorshift64*: fast, seedable per connection, and good enough for spreading
/// keys uniformly; cryptographic quality is irrelevant here.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // Zero is a fixed point of xorshift; splitmix the seed to avoid it and
        // to decorrelate neighbouring seeds.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(z | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias for n far below
    /// 2^64 is negligible).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// Everything needed to encode requests, shared by all connections.
#[derive(Debug, Clone)]
pub struct Encoder {
    /// `$<len>\r\n<value>\r\n`, precomputed once.
    value_arg: Vec<u8>,
    value_size: usize,
    /// Fill every value with fresh random alphanumerics instead of `x`s, so
    /// that what a server writes to disk does not compress to nothing (real
    /// session values hold tokens, not runs of one byte).
    random_values: bool,
    /// `$2\r\nEX\r\n$<n>\r\n<ttl>\r\n`, or empty without a TTL.
    ttl_args: Vec<u8>,
}

impl Encoder {
    pub fn new(value_size: usize, ttl: Option<u64>, random_values: bool) -> Self {
        let mut value_arg = format!("${value_size}\r\n").into_bytes();
        value_arg.resize(value_arg.len() + value_size, b'x');
        value_arg.extend_from_slice(b"\r\n");
        let ttl_args = match ttl {
            Some(t) => {
                let t = t.to_string();
                format!("$2\r\nEX\r\n${}\r\n{t}\r\n", t.len()).into_bytes()
            }
            None => Vec::new(),
        };
        Encoder {
            value_arg,
            value_size,
            ttl_args,
            random_values,
        }
    }

    /// Appends one request for a fresh key to `out`.
    pub fn push(&self, op: Op, keys: &mut Keys, out: &mut Vec<u8>) {
        let key = keys.next_key();
        match op {
            Op::Set if self.ttl_args.is_empty() => out.extend_from_slice(b"*3\r\n$3\r\nSET\r\n"),
            Op::Set => out.extend_from_slice(b"*5\r\n$3\r\nSET\r\n"),
            Op::Get => out.extend_from_slice(b"*2\r\n$3\r\nGET\r\n"),
        }
        out.extend_from_slice(b"$16\r\nkey:");
        push_digits(key, out);
        out.extend_from_slice(b"\r\n");
        if op == Op::Set {
            out.extend_from_slice(&self.value_arg);
            if self.random_values {
                // Overwrite the `x`s just appended, keeping the framing.
                let end = out.len() - 2;
                out[end - self.value_size..end].fill_with(|| fastrand::alphanumeric() as u8);
            }
            out.extend_from_slice(&self.ttl_args);
        }
    }
}

/// Appends `n` as exactly `KEY_DIGITS` zero-padded decimal digits (keys
/// beyond that width are truncated to their low digits; the keyspace flag is
/// capped so this does not happen).
fn push_digits(mut n: u64, out: &mut Vec<u8>) {
    let mut digits = [b'0'; KEY_DIGITS];
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(&digits);
}

/// Largest keyspace whose keys fit the fixed key width.
pub const MAX_KEYSPACE: u64 = 1_000_000_000_000;

const _: () = assert!(KEY_LEN == 16, "the encoder hard-codes $16 for keys");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_with_ttl_is_valid_resp() {
        let enc = Encoder::new(3, Some(60), false);
        let mut keys = Keys::Sequential { next: 42, end: 43 };
        let mut out = Vec::new();
        enc.push(Op::Set, &mut keys, &mut out);
        assert_eq!(
            out,
            b"*5\r\n$3\r\nSET\r\n$16\r\nkey:000000000042\r\n$3\r\nxxx\r\n$2\r\nEX\r\n$2\r\n60\r\n"
        );
        assert_eq!(keys.remaining(), Some(0));
    }

    #[test]
    fn get_is_valid_resp() {
        let enc = Encoder::new(100, None, false);
        let mut keys = Keys::Sequential { next: 7, end: 10 };
        let mut out = Vec::new();
        enc.push(Op::Get, &mut keys, &mut out);
        assert_eq!(out, b"*2\r\n$3\r\nGET\r\n$16\r\nkey:000000000007\r\n");
    }

    #[test]
    fn random_values_keep_the_framing() {
        let enc = Encoder::new(8, None, true);
        let mut keys = Keys::Sequential { next: 1, end: 3 };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        enc.push(Op::Set, &mut keys, &mut a);
        enc.push(Op::Set, &mut keys, &mut b);
        let value = |out: &[u8]| out[out.len() - 10..out.len() - 2].to_vec();
        assert!(a.starts_with(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000001\r\n$8\r\n"));
        assert!(a.ends_with(b"\r\n") && a.len() == b.len());
        assert!(value(&a).iter().all(u8::is_ascii_alphanumeric));
        // 62^8 possible values: two equal ones mean the fill is not random.
        assert_ne!(value(&a), value(&b));
    }

    #[test]
    fn random_keys_stay_in_keyspace_and_spread() {
        let mut rng = Rng::new(1);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            seen[rng.below(10) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| (800..1200).contains(&c)), "{seen:?}");
    }
}
