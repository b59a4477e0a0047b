//! The arithmetic of Redis's INCRBYFLOAT, which is C's `long double`: on
//! x86-64 the x87 80-bit format (64-bit mantissa, 15-bit exponent), parsed
//! with `strtold` and printed with `%.17Lf`.
//!
//! Doing it in f64 would be simpler but gives other digits for everyday
//! inputs (`0.1 + 0.2` would be `0.30000000000000004` where Redis says
//! `0.3`), would refuse values up to 1e4932 that Redis accepts, and would
//! leave clients that compare replies with Redis's guessing. So the format
//! is emulated exactly: parsing and printing go through exact big-integer
//! arithmetic, and every rounding is to nearest, ties to even, like the FPU
//! and glibc.

use proto::errors;
use std::cmp::Ordering;

/// Redis copies a value into a buffer of this size before `strtold`;
/// longer ones are not floats (MAX_LONG_DOUBLE_CHARS).
const MAX_CHARS: usize = 5 * 1024;
/// Exponent of the mantissa's lowest bit for the smallest normal, and
/// for every denormal: 2^-16382 with a 64-bit mantissa.
const MIN_EXP: i64 = -16382 - 63;
/// Exponent of the mantissa's lowest bit for the largest finite value.
const MAX_EXP: i64 = 16383 - 63;

/// A finite extended value: `(-1)^neg * mant * 2^exp`. Normal values
/// have the top bit of `mant` set; denormals have `exp == MIN_EXP`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ext {
    neg: bool,
    mant: u64,
    exp: i64,
}

impl Ext {
    const ZERO: Ext = Ext {
        neg: false,
        mant: 0,
        exp: 0,
    };
}

#[derive(Debug, PartialEq)]
enum Num {
    Finite(Ext),
    Infinite,
}

#[derive(Debug, PartialEq)]
enum Rounded {
    Finite(Ext),
    Overflow,
    /// Nonzero but rounded to zero.
    Underflow,
}

/// INCRBYFLOAT's computation on the stored string and the increment:
/// the new value as Redis would print it, or the error text.
pub fn incr_by_float(value: &[u8], incr: &[u8]) -> Result<String, &'static str> {
    let value = parse(value).ok_or(errors::NOT_FLOAT)?;
    let incr = parse(incr).ok_or(errors::NOT_FLOAT)?;
    match (value, incr) {
        (Num::Finite(a), Num::Finite(b)) => match add(a, b) {
            Rounded::Finite(sum) => Ok(format(sum)),
            // Underflow cannot come from an addition: the exact sum
            // of two representable values is a multiple of the
            // smallest denormal.
            Rounded::Overflow | Rounded::Underflow => Err(errors::NAN_OR_INFINITY),
        },
        _ => Err(errors::NAN_OR_INFINITY),
    }
}

/// HINCRBYFLOAT's check of its increment, done before the key is looked
/// at: not a float, or infinite (`ERR value is NaN or Infinity`).
pub fn check_increment(incr: &[u8]) -> Result<(), &'static str> {
    match parse(incr) {
        None => Err(errors::NOT_FLOAT),
        Some(Num::Infinite) => Err(errors::VALUE_NAN_OR_INFINITY),
        Some(Num::Finite(_)) => Ok(()),
    }
}

/// Redis's `string2ld`: `strtold` must consume everything, no leading
/// space, no NaN, and a result that overflowed or underflowed to zero
/// is refused. Infinity itself is accepted.
fn parse(s: &[u8]) -> Option<Num> {
    if s.is_empty() || s.len() >= MAX_CHARS {
        return None;
    }
    // `strtold` reads a C string: it ends at the first NUL.
    let s = &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())];
    if s.is_empty() {
        return Some(Num::Finite(Ext::ZERO));
    }
    if matches!(s[0], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        return None;
    }
    let (neg, body) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some(Num::Infinite);
    }
    let rounded = if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
        parse_hex(neg, &body[2..])?
    } else {
        parse_decimal(neg, body)?
    };
    match rounded {
        Rounded::Finite(x) => Some(Num::Finite(x)),
        Rounded::Overflow | Rounded::Underflow => None,
    }
}

/// Splits `digits [. digits]` off the front; None if there is no digit.
/// Returns the integer and fraction digits and the rest.
fn mantissa(s: &[u8], is_digit: fn(u8) -> bool) -> Option<(&[u8], &[u8], &[u8])> {
    let int_len = s.iter().take_while(|&&b| is_digit(b)).count();
    let (int, rest) = s.split_at(int_len);
    let (frac, rest) = match rest.split_first() {
        Some((b'.', after)) => {
            let n = after.iter().take_while(|&&b| is_digit(b)).count();
            after.split_at(n)
        }
        _ => (&rest[..0], rest),
    };
    (!int.is_empty() || !frac.is_empty()).then_some((int, frac, rest))
}

/// An exponent suffix (`e-12`, `p+3`) that must end the input, saturated
/// far beyond any exponent that matters. Empty input is exponent 0.
fn exponent(s: &[u8], marker: u8) -> Option<i64> {
    let Some((&first, rest)) = s.split_first() else {
        return Some(0);
    };
    if first | 0x20 != marker {
        return None;
    }
    let (neg, digits) = match rest.split_first() {
        Some((b'-', d)) => (true, d),
        Some((b'+', d)) => (false, d),
        _ => (false, rest),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = digits
        .iter()
        .fold(0i64, |acc, &d| (acc * 10 + (d - b'0') as i64).min(1 << 40));
    Some(if neg { -magnitude } else { magnitude })
}

fn parse_decimal(neg: bool, s: &[u8]) -> Option<Rounded> {
    let (int, frac, rest) = mantissa(s, |b| b.is_ascii_digit())?;
    let exp10 = exponent(rest, b'e')?;
    let mut digits = int
        .iter()
        .chain(frac)
        .skip_while(|&&d| d == b'0')
        .peekable();
    if digits.peek().is_none() {
        return Some(Rounded::Finite(Ext { neg, ..Ext::ZERO }));
    }
    let mut d = Big::default();
    let mut count = 0i64;
    for &digit in digits {
        d.mul_small(10);
        d.add_small((digit - b'0') as u32);
        count += 1;
    }
    // value = d * 10^k, and 10^(count-1+k) <= value < 10^(count+k).
    let k = exp10 - frac.len() as i64;
    if count + k > 4934 {
        return Some(Rounded::Overflow);
    }
    if count + k < -4952 {
        return Some(Rounded::Underflow);
    }
    if k >= 0 {
        d.mul_pow10(k as u32);
        return Some(round(neg, &d, 0, false));
    }
    // value = d / 10^-k: divide with enough quotient bits to round.
    let mut v = Big::default();
    v.add_small(1);
    v.mul_pow10(-k as u32);
    let shift = d.bits() as i64 - v.bits() as i64 - 66;
    if shift < 0 {
        d.shift_left(-shift as u64);
    } else {
        v.shift_left(shift as u64);
    }
    let (q, inexact) = div_rem(d, &v);
    Some(round(neg, &Big::from_u128(q), shift, inexact))
}

fn parse_hex(neg: bool, s: &[u8]) -> Option<Rounded> {
    let (int, frac, rest) = mantissa(s, |b| b.is_ascii_hexdigit())?;
    let exp2 = exponent(rest, b'p')?;
    let mut h = Big::default();
    for &digit in int.iter().chain(frac) {
        h.mul_small(16);
        h.add_small((digit as char).to_digit(16).unwrap_or(0));
    }
    if h.is_zero() {
        return Some(Rounded::Finite(Ext { neg, ..Ext::ZERO }));
    }
    Some(round(neg, &h, exp2 - 4 * frac.len() as i64, false))
}

/// Rounds `big * 2^exp` (plus a positive amount below its lowest bit if
/// `sticky`) to the extended format, to nearest, ties to even.
fn round(neg: bool, big: &Big, exp: i64, sticky: bool) -> Rounded {
    let len = big.bits() as i64;
    if len == 0 {
        return if sticky {
            Rounded::Underflow
        } else {
            Rounded::Finite(Ext { neg, ..Ext::ZERO })
        };
    }
    let mut drop = len - 64;
    if exp + drop < MIN_EXP {
        drop = MIN_EXP - exp;
    }
    let mut exp = exp + drop;
    let mant = if drop <= 0 {
        // Exact: at most 64 significant bits, shifted into place.
        debug_assert!(!sticky || drop == 0);
        big.low_u64() << (-drop) as u32
    } else {
        let drop = drop as u64;
        let kept = big.bits_from(drop);
        let half = big.bit(drop - 1);
        let below = sticky || big.any_below(drop - 1);
        if !half || (!below && kept & 1 == 0) {
            kept
        } else if let Some(up) = kept.checked_add(1) {
            up
        } else {
            // Rounded up to 2^64: one more bit of exponent.
            exp += 1;
            1 << 63
        }
    };
    if exp > MAX_EXP {
        Rounded::Overflow
    } else if mant == 0 {
        Rounded::Underflow
    } else {
        Rounded::Finite(Ext { neg, mant, exp })
    }
}

fn add(a: Ext, b: Ext) -> Rounded {
    if b.mant == 0 {
        // x + 0 is x, and -0 + -0 is -0; +0 + -0 is +0.
        let neg = a.neg && (a.mant != 0 || b.neg);
        return Rounded::Finite(Ext { neg, ..a });
    }
    if a.mant == 0 {
        return add(b, a);
    }
    let (hi, lo) = if a.exp >= b.exp { (a, b) } else { (b, a) };
    // 62 guard bits below the larger operand. Bits of the smaller one
    // that fall off the end are folded into the lowest bit ("sticky"),
    // which is then far below the rounding position either way.
    let m_hi = (hi.mant as u128) << 62;
    let gap = (hi.exp - lo.exp) as u64;
    let m_lo = if gap <= 62 {
        (lo.mant as u128) << (62 - gap)
    } else if gap - 62 >= 64 {
        1
    } else {
        let shift = (gap - 62) as u32;
        let kept = (lo.mant >> shift) as u128;
        kept | (lo.mant & ((1u64 << shift) - 1) != 0) as u128
    };
    let (neg, m) = if hi.neg == lo.neg {
        (hi.neg, m_hi + m_lo)
    } else {
        match m_hi.cmp(&m_lo) {
            Ordering::Greater => (hi.neg, m_hi - m_lo),
            Ordering::Less => (lo.neg, m_lo - m_hi),
            Ordering::Equal => return Rounded::Finite(Ext::ZERO),
        }
    };
    round(neg, &Big::from_u128(m), hi.exp - 62, false)
}

/// `%.17Lf` with Redis's clean-up: trailing zeros and a trailing point
/// removed, and `-0` written `0`.
fn format(x: Ext) -> String {
    const SCALE: u128 = 100_000_000_000_000_000; // 10^17
                                                 // The value times 10^17, rounded to an integer, ties to even.
    let scaled = if x.exp >= 0 {
        let mut n = Big::from_u128(x.mant as u128 * SCALE);
        n.shift_left(x.exp as u64);
        n
    } else {
        let a = x.mant as u128 * SCALE;
        let shift = -x.exp;
        // a < 2^121, so past 121 bits the quotient is below one half.
        let q = if shift >= 122 {
            0
        } else {
            let q = a >> shift;
            let rem = a & ((1u128 << shift) - 1);
            let half = 1u128 << (shift - 1);
            if rem > half || (rem == half && q & 1 == 1) {
                q + 1
            } else {
                q
            }
        };
        Big::from_u128(q)
    };
    let mut digits = scaled.to_decimal();
    if digits.len() < 18 {
        digits = format!("{}{digits}", "0".repeat(18 - digits.len()));
    }
    let (int, frac) = digits.split_at(digits.len() - 17);
    let frac = frac.trim_end_matches('0');
    let text = if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    };
    if x.neg && text != "0" {
        format!("-{text}")
    } else {
        text
    }
}

/// Quotient and whether a remainder is left, for quotients below 2^128.
fn div_rem(mut a: Big, v: &Big) -> (u128, bool) {
    let (la, lv) = (a.bits(), v.bits());
    if la < lv {
        return (0, !a.is_zero());
    }
    let n = la - lv;
    debug_assert!(n < 128);
    let mut w = v.clone();
    w.shift_left(n);
    let mut q = 0u128;
    for i in (0..=n).rev() {
        if a.cmp_big(&w) != Ordering::Less {
            a.subtract(&w);
            q |= 1 << i;
        }
        w.shr1();
    }
    (q, !a.is_zero())
}

/// Just enough of an unsigned big integer: little-endian 32-bit limbs,
/// no high zero limbs.
#[derive(Clone, Default, Debug)]
struct Big(Vec<u32>);

impl Big {
    fn from_u128(mut v: u128) -> Big {
        let mut limbs = Vec::new();
        while v != 0 {
            limbs.push(v as u32);
            v >>= 32;
        }
        Big(limbs)
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn bits(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(top) => 32 * (self.0.len() as u64 - 1) + (32 - top.leading_zeros()) as u64,
        }
    }

    fn bit(&self, i: u64) -> bool {
        let limb = (i / 32) as usize;
        self.0.get(limb).is_some_and(|l| (l >> (i % 32)) & 1 == 1)
    }

    /// Whether any bit below bit `i` is set.
    fn any_below(&self, i: u64) -> bool {
        let whole = ((i / 32) as usize).min(self.0.len());
        let partial = self
            .0
            .get(whole)
            .map_or(0, |l| l & ((1u32 << (i % 32)) - 1));
        partial != 0 || self.0[..whole].iter().any(|&l| l != 0)
    }

    /// Bits from bit `from` up, which must number at most 64.
    fn bits_from(&self, from: u64) -> u64 {
        (0..64)
            .filter(|&i| self.bit(from + i))
            .fold(0, |acc, i| acc | 1 << i)
    }

    fn low_u64(&self) -> u64 {
        let limb = |i: usize| self.0.get(i).copied().unwrap_or(0) as u64;
        limb(0) | limb(1) << 32
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for limb in &mut self.0 {
            let v = *limb as u64 * m as u64 + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    fn add_small(&mut self, a: u32) {
        let mut carry = a as u64;
        for limb in &mut self.0 {
            if carry == 0 {
                break;
            }
            let v = *limb as u64 + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn mul_pow10(&mut self, mut k: u32) {
        while k >= 9 {
            self.mul_small(1_000_000_000);
            k -= 9;
        }
        self.mul_small(10u32.pow(k));
    }

    fn shift_left(&mut self, n: u64) {
        if self.is_zero() {
            return;
        }
        let (limbs, bits) = ((n / 32) as usize, (n % 32) as u32);
        if bits != 0 {
            let mut carry = 0u32;
            for limb in &mut self.0 {
                let v = *limb;
                *limb = v << bits | carry;
                carry = v >> (32 - bits);
            }
            if carry != 0 {
                self.0.push(carry);
            }
        }
        self.0.splice(0..0, std::iter::repeat_n(0, limbs));
    }

    fn shr1(&mut self) {
        let mut carry = 0u32;
        for limb in self.0.iter_mut().rev() {
            let v = *limb;
            *limb = v >> 1 | carry << 31;
            carry = v & 1;
        }
        self.trim();
    }

    fn cmp_big(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    /// `self -= other`, which must not be larger.
    fn subtract(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let v = *limb as i64 - other.0.get(i).copied().unwrap_or(0) as i64 - borrow;
            borrow = (v < 0) as i64;
            *limb = v.rem_euclid(1 << 32) as u32;
        }
        self.trim();
    }

    fn to_decimal(&self) -> String {
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            let mut rem = 0u64;
            for limb in n.0.iter_mut().rev() {
                let v = rem << 32 | *limb as u64;
                *limb = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            n.trim();
            chunks.push(rem as u32);
        }
        let mut out = chunks
            .pop()
            .map_or_else(|| "0".to_string(), |c| c.to_string());
        for c in chunks.iter().rev() {
            out.push_str(&format!("{c:09}"));
        }
        out
    }
}
