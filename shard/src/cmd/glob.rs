//! Redis's glob matching (`stringmatchlen`), used by KEYS and the MATCH
//! option of SCAN and HSCAN.
//!
//! Patterns: `*` any run of bytes, `?` any one byte, `[...]` one byte from a
//! set (`^` negates, `a-z` ranges in either order, `\` escapes), `\x` the
//! byte `x`. Binary-safe on both sides.
//!
//! Redis matches recursively, one level per `*`, which costs stack on
//! patterns with many stars (later Redis releases give up past 1000 levels).
//! Here the pattern is first cut into tokens that each match exactly one
//! byte, or a `*`; matching is then the classic loop that only ever
//! backtracks to the latest `*`. That gives the same answers in
//! O(pattern × key) time with no recursion, whatever the pattern.
//!
//! The quirks of Redis's parser are kept on purpose, because clients can
//! observe them: `[a-]` is a range from `a` to `]`, an unterminated `[`
//! takes the rest of the pattern as its set, a `\` at the very end is a
//! literal backslash, ranges compare bytes as signed `char` (as Redis does on
//! x86-64), and an empty key matches only the empty pattern (`KEYS *` gets
//! the empty key only through its match-everything shortcut).

/// One step of a compiled pattern.
#[derive(Clone, Debug, PartialEq)]
enum Token {
    /// One or more consecutive `*`.
    Star,
    /// `?`
    Any,
    Byte(u8),
    Class {
        negated: bool,
        items: Vec<ClassItem>,
    },
}

#[derive(Clone, Debug, PartialEq)]
enum ClassItem {
    Byte(u8),
    /// Inclusive bounds, already ordered as signed bytes.
    Range(i8, i8),
}

impl Token {
    fn matches(&self, b: u8) -> bool {
        match self {
            Token::Star => true,
            Token::Any => true,
            Token::Byte(x) => *x == b,
            Token::Class { negated, items } => {
                let hit = items.iter().any(|item| match *item {
                    ClassItem::Byte(x) => x == b,
                    ClassItem::Range(lo, hi) => (lo..=hi).contains(&(b as i8)),
                });
                hit != *negated
            }
        }
    }
}

/// A compiled glob pattern.
#[derive(Clone, Debug)]
pub struct Glob {
    tokens: Vec<Token>,
}

impl Glob {
    pub fn new(pattern: &[u8]) -> Glob {
        Glob {
            tokens: compile(pattern),
        }
    }

    pub fn matches(&self, text: &[u8]) -> bool {
        let tokens = &self.tokens;
        // Redis's loop never runs on an empty string, so only an empty
        // pattern matches it.
        if text.is_empty() {
            return tokens.is_empty();
        }
        let (mut t, mut s) = (0, 0);
        // Where to resume after a mismatch: the token after the latest `*`,
        // and the next text position that star may stretch to.
        let mut resume: Option<(usize, usize)> = None;
        while s < text.len() {
            match tokens.get(t) {
                Some(Token::Star) => {
                    resume = Some((t + 1, s));
                    t += 1;
                    continue;
                }
                Some(token) if token.matches(text[s]) => {
                    t += 1;
                    s += 1;
                    continue;
                }
                _ => {}
            }
            // Only the latest star needs to grow: any match found by growing
            // an earlier one could also be found from here.
            match resume {
                Some((after_star, from)) => {
                    resume = Some((after_star, from + 1));
                    t = after_star;
                    s = from + 1;
                }
                None => return false,
            }
        }
        tokens[t..].iter().all(|tok| *tok == Token::Star)
    }
}

/// Whether `pattern` matches `text`, as Redis's `stringmatchlen` (case-sensitive).
pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    Glob::new(pattern).matches(text)
}

/// Cuts a pattern into tokens, walking it exactly as `stringmatchlen` walks
/// it, so every malformed pattern is read the way Redis reads it.
fn compile(p: &[u8]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'*' => {
                if tokens.last() != Some(&Token::Star) {
                    tokens.push(Token::Star);
                }
            }
            b'?' => tokens.push(Token::Any),
            b'[' => {
                let (token, end) = compile_class(p, i + 1);
                tokens.push(token);
                i = end;
            }
            b'\\' if i + 1 < p.len() => {
                i += 1;
                tokens.push(Token::Byte(p[i]));
            }
            b => tokens.push(Token::Byte(b)),
        }
        i += 1;
    }
    tokens
}

/// Reads a set starting just after its `[`; returns it and the index of its
/// last byte (the `]`, or the pattern's last byte when unterminated).
fn compile_class(p: &[u8], mut i: usize) -> (Token, usize) {
    let negated = p.get(i) == Some(&b'^');
    if negated {
        i += 1;
    }
    let mut items = Vec::new();
    loop {
        let left = p.len().saturating_sub(i);
        match p.get(i) {
            Some(b'\\') if left >= 2 => {
                i += 1;
                items.push(ClassItem::Byte(p[i]));
            }
            Some(b']') => break,
            None => {
                // Unterminated: Redis steps back onto the last byte so its
                // outer loop steps past the end of the pattern.
                i = i.saturating_sub(1);
                break;
            }
            Some(&a) if left >= 3 && p[i + 1] == b'-' => {
                let (a, b) = (a as i8, p[i + 2] as i8);
                items.push(ClassItem::Range(a.min(b), a.max(b)));
                i += 2;
            }
            Some(&b) => items.push(ClassItem::Byte(b)),
        }
        i += 1;
    }
    (Token::Class { negated, items }, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        matches(pattern.as_bytes(), text.as_bytes())
    }

    #[test]
    fn literals_and_wildcards() {
        assert!(m("hello", "hello"));
        assert!(!m("hello", "hell"));
        assert!(!m("hell", "hello"));
        assert!(m("h?llo", "hallo"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("*", "anything"));
        assert!(m("h*o", "ho"));
        assert!(m("h*o", "hello"));
        assert!(!m("h*o", "hella"));
        assert!(m("*llo", "hello"));
        assert!(m("he*", "he"));
        assert!(m("he**", "he"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(m("a*b*c", "abc"));
        assert!(!m("a*b*c", "acb"));
        assert!(m("*a*a*", "banana"));
        assert!(m("user:*:session", "user:42:session"));
        assert!(!m("user:*:session", "user:42:sessions"));
        assert!(m("a*?", "ab"));
        assert!(!m("a*?", "a"));
    }

    #[test]
    fn empty_key_matches_only_the_empty_pattern() {
        assert!(m("", ""));
        assert!(!m("*", ""));
        assert!(!m("**", ""));
        assert!(!m("", "a"));
    }

    #[test]
    fn classes() {
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"), "reversed ranges are reordered");
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("[0-9][0-9]", "42"));
        assert!(m("[\\]]", "]"));
        assert!(m("[\\-]", "-"));
        // The backslash escapes the `]`, so the set stays open to the end.
        assert!(m("[a\\]", "]"));
        assert!(!m("[a\\]", "\\"));
    }

    #[test]
    fn malformed_patterns_read_as_redis_reads_them() {
        // `[a-]` is the range ']'..'a' and leaves the set open to the end.
        assert!(m("[a-]", "a"));
        assert!(m("[a-]", "_"));
        assert!(m("[a-]", "]"));
        assert!(!m("[a-]", "b"));
        assert!(!m("[a-]", "-"));
        // An unterminated set swallows the rest of the pattern.
        assert!(m("[abc", "b"));
        assert!(!m("[abc", "bx"));
        assert!(!m("[", "a"));
        assert!(m("[^", "a"));
        assert!(!m("x[", "x"));
        // A trailing backslash is itself.
        assert!(m("a\\", "a\\"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "x"));
        assert!(m("\\?", "?"));
        assert!(!m("\\?", "a"));
        // `[]` is an empty set: it matches nothing, and a `]` after it is a literal.
        assert!(!m("[]", "x"));
        assert!(!m("[]]", "]"));
        assert!(m("[^]]", "x]"));
    }

    #[test]
    fn binary_safe() {
        assert!(matches(b"a\0*", b"a\0b"));
        assert!(!matches(b"a\0*", b"a\x01b"));
        assert!(matches(b"?", b"\xff"));
        assert!(matches(b"[\x80-\xff]", b"\x90"));
        // Signed comparison, as Redis on x86-64: 'a'..0xff is -1..97 there,
        // which takes 0xff and ASCII up to 'a' but not 0x80.
        assert!(matches(b"[a-\xff]", b"\xff"));
        assert!(matches(b"[a-\xff]", b"0"));
        assert!(!matches(b"[a-\xff]", b"\x80"));
        assert!(!matches(b"[a-\xff]", b"b"));
    }

    #[test]
    fn pathological_patterns_are_fast() {
        let key = vec![b'a'; 10_000];
        let mut pattern = b"a*".repeat(5_000);
        pattern.push(b'b');
        let started = std::time::Instant::now();
        assert!(!matches(&pattern, &key));
        let many_stars = vec![b'*'; 1_000_000];
        assert!(matches(&many_stars, b"x"));
        let deep: Vec<u8> = b"*a".repeat(100_000);
        assert!(!matches(&deep, &key));
        // The loop's worst case: every start position of the star retried.
        let mut worst = b"*".to_vec();
        worst.extend(vec![b'a'; 1_000]);
        worst.push(b'b');
        assert!(!matches(&worst, &key));
        assert!(matches(&b"*a".repeat(100), &key));
        assert!(
            started.elapsed().as_secs() < 20,
            "matching must stay polynomial"
        );
    }
}
