//! The sorted set: members with a score each, read in score order.
//!
//! Two structures kept in step: a hash map from member to score for O(1)
//! ZSCORE and membership, and a B-tree of (score, member) for ranges. Ties
//! on score order by member bytes, as in Redis's skiplist.
//!
//! The B-tree keeps no subtree sizes, so a rank (ZRANK, ZRANGE by index) is
//! found by walking: O(rank). That is fine for the rate-limiter windows and
//! ticket registries kept here (hundreds of members); an order-statistic
//! tree would replace it if large sorted sets appear.

use hashbrown::HashMap;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ops::Bound;

/// A score with a total order. Scores are never NaN (every write path
/// rejects it), and -0.0 equals 0.0, as C's `<` and `==` in Redis's
/// skiplist treat them (commands also turn -0 into 0 when parsing).
#[derive(Clone, Copy, Debug)]
pub struct Score(pub f64);

impl PartialEq for Score {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.partial_cmp(&other.0).unwrap_or(Ordering::Equal)
    }
}

/// One end of a score range: the score and whether it is excluded (`(`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreBound {
    pub value: f64,
    pub exclusive: bool,
}

/// One end of a lex range: `-`, `+`, or a member included (`[`) or
/// excluded (`(`).
#[derive(Clone, Debug, PartialEq)]
pub enum LexBound {
    Min,
    Max,
    Inclusive(Box<[u8]>),
    Exclusive(Box<[u8]>),
}

impl LexBound {
    /// Whether `member` is at or above this lower bound.
    fn admits_from_below(&self, member: &[u8]) -> bool {
        match self {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Inclusive(m) => member >= &**m,
            LexBound::Exclusive(m) => member > &**m,
        }
    }

    /// Whether `member` is at or below this upper bound.
    fn admits_from_above(&self, member: &[u8]) -> bool {
        match self {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(m) => member <= &**m,
            LexBound::Exclusive(m) => member < &**m,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZSetValue {
    scores: HashMap<Box<[u8]>, f64>,
    index: BTreeSet<(Score, Box<[u8]>)>,
}

impl crate::memory::Measure for ZSetValue {
    fn elements(&self) -> usize {
        self.len()
    }
    fn fixed_bytes(&self) -> usize {
        // The score table, and per member a B-tree slot of score and name
        // (nodes hold up to 11, about two thirds full).
        crate::memory::table_bytes(self.scores.capacity(), 24) + self.len() * 24 * 3 / 2
    }
    fn element_bytes(&self) -> usize {
        // Each member's name is stored twice: in the table and in the index.
        self.scores
            .keys()
            .map(|k| 2 * crate::memory::alloc_size(k.len()))
            .sum()
    }
}

impl ZSetValue {
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Sets `member`'s score, adding it if new; `score` must not be NaN.
    /// Returns whether the member was added.
    pub fn set(&mut self, member: &[u8], score: f64) -> bool {
        match self.scores.get_mut(member) {
            Some(old) => {
                // Same score, even -0.0 for 0.0: Redis keeps the stored one.
                if Score(*old) != Score(score) {
                    let key: Box<[u8]> = member.into();
                    self.index.remove(&(Score(*old), key.clone()));
                    self.index.insert((Score(score), key));
                    *old = score;
                }
                false
            }
            None => {
                let key: Box<[u8]> = member.into();
                self.index.insert((Score(score), key.clone()));
                self.scores.insert(key, score);
                true
            }
        }
    }

    /// Removes `member`; returns whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self.scores.remove_entry(member) {
            Some((key, score)) => {
                self.index.remove(&(Score(score), key));
                true
            }
            None => false,
        }
    }

    /// Members and scores in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> {
        self.index.iter().map(|(s, m)| (&**m, s.0))
    }

    /// The 0-based rank of `member` in ascending order: O(rank), see the
    /// module docs.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(
            self.index
                .range(..(Score(score), Box::<[u8]>::from(member)))
                .count(),
        )
    }

    /// Members whose score lies within `min..max`, ascending.
    pub fn range_by_score(
        &self,
        min: ScoreBound,
        max: ScoreBound,
    ) -> impl DoubleEndedIterator<Item = (&[u8], f64)> {
        // The empty member sorts first among equal scores, so these bounds
        // take in every member of a boundary score; exclusion is applied
        // by the filter since the tree cannot express "after all members
        // with this score" directly.
        let empty = || Box::<[u8]>::from(&[][..]);
        let lower = Bound::Included((Score(min.value), empty()));
        let upper = match max.value.next_up() {
            next if next.is_finite() || max.value.is_finite() => {
                Bound::Excluded((Score(next), empty()))
            }
            _ => Bound::Unbounded,
        };
        // An inverted range would make BTreeSet::range panic; an empty
        // one (start included, same end excluded) does not.
        let (lower, upper) = if Score(min.value) > Score(max.value) {
            (
                Bound::Included((Score(0.0), empty())),
                Bound::Excluded((Score(0.0), empty())),
            )
        } else {
            (lower, upper)
        };
        self.index
            .range((lower, upper))
            .filter(move |(s, _)| {
                let at_excluded_end =
                    (min.exclusive && s.0 == min.value) || (max.exclusive && s.0 == max.value);
                !at_excluded_end
            })
            .map(|(s, m)| (&**m, s.0))
    }

    /// Members within a lex range, ascending. Like Redis, this assumes all
    /// scores are equal; the walk is linear over the set.
    pub fn range_by_lex<'a>(
        &'a self,
        min: &'a LexBound,
        max: &'a LexBound,
    ) -> impl DoubleEndedIterator<Item = (&'a [u8], f64)> + 'a {
        self.iter()
            .filter(move |(m, _)| min.admits_from_below(m) && max.admits_from_above(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incl(v: f64) -> ScoreBound {
        ScoreBound {
            value: v,
            exclusive: false,
        }
    }

    fn excl(v: f64) -> ScoreBound {
        ScoreBound {
            value: v,
            exclusive: true,
        }
    }

    fn sample() -> ZSetValue {
        let mut z = ZSetValue::default();
        for (m, s) in [("a", 1.0), ("b", 2.0), ("c", 2.0), ("d", 3.0)] {
            assert!(z.set(m.as_bytes(), s));
        }
        z
    }

    fn names<'a>(it: impl Iterator<Item = (&'a [u8], f64)>) -> Vec<String> {
        it.map(|(m, _)| String::from_utf8(m.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn ordered_by_score_then_member() {
        let mut z = sample();
        assert!(!z.set(b"a", 5.0), "an update adds nothing");
        assert_eq!(names(z.iter()), ["b", "c", "d", "a"]);
        assert_eq!(z.rank(b"b"), Some(0));
        assert_eq!(z.rank(b"a"), Some(3));
        assert_eq!(z.rank(b"x"), None);
        assert!(z.remove(b"c"));
        assert!(!z.remove(b"c"));
        assert_eq!(z.len(), 3);
        assert_eq!(names(z.iter()), ["b", "d", "a"]);
    }

    #[test]
    fn negative_zero_equals_zero() {
        let mut z = ZSetValue::default();
        z.set(b"a", -0.0);
        z.set(b"b", 0.0);
        z.set(b"a", 0.0);
        assert!(z.score(b"a").unwrap().is_sign_negative(), "not an update");
        assert_eq!(names(z.range_by_score(incl(0.0), incl(0.0))), ["a", "b"]);
    }

    #[test]
    fn score_ranges() {
        let z = sample();
        assert_eq!(names(z.range_by_score(incl(2.0), incl(2.0))), ["b", "c"]);
        assert_eq!(names(z.range_by_score(excl(1.0), excl(3.0))), ["b", "c"]);
        assert_eq!(names(z.range_by_score(excl(2.0), incl(9.0))), ["d"]);
        assert!(names(z.range_by_score(incl(3.0), incl(1.0))).is_empty());
        assert!(names(z.range_by_score(excl(2.0), excl(2.0))).is_empty());
        let all = z.range_by_score(incl(f64::NEG_INFINITY), incl(f64::INFINITY));
        assert_eq!(names(all.rev()), ["d", "c", "b", "a"]);
        let mut inf = sample();
        inf.set(b"top", f64::INFINITY);
        inf.set(b"max", f64::MAX);
        assert_eq!(
            names(inf.range_by_score(incl(f64::MAX), incl(f64::INFINITY))),
            ["max", "top"]
        );
        assert_eq!(
            names(inf.range_by_score(incl(f64::INFINITY), incl(f64::INFINITY))),
            ["top"]
        );
    }

    #[test]
    fn lex_ranges() {
        let z = sample();
        let b = LexBound::Inclusive(b"b"[..].into());
        let c = LexBound::Exclusive(b"c"[..].into());
        assert_eq!(names(z.range_by_lex(&b, &LexBound::Max)), ["b", "c", "d"]);
        assert_eq!(names(z.range_by_lex(&LexBound::Min, &c)), ["a", "b"]);
        assert!(names(z.range_by_lex(&LexBound::Max, &LexBound::Min)).is_empty());
    }
}
