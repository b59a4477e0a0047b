//! Frequency estimates for TinyLFU admission: a count-min sketch of 4-bit
//! counters with periodic halving (so old popularity fades), fronted by a
//! doorkeeper Bloom filter that absorbs keys seen only once (most keys of a
//! scan), so they never take sketch counters from popular keys.

/// Multipliers giving each row its own index for one 64-bit hash.
const SEEDS: [u64; 4] = [
    0x9E37_79B9_7F4A_7C15,
    0xC2B2_AE3D_27D4_EB4F,
    0x1656_67B1_9E37_79F9,
    0x27D4_EB2F_1656_67C5,
];

/// Count-min sketch: 4 rows of `width` 4-bit counters, 16 to a word.
pub struct CountMin {
    rows: [Vec<u64>; 4],
    mask: usize,
    /// Increments since the last halving, and how many trigger one.
    additions: usize,
    period: usize,
}

impl CountMin {
    /// A sketch for about `capacity` distinct keys.
    pub fn new(capacity: usize) -> CountMin {
        let width = capacity.max(64).next_power_of_two();
        CountMin {
            rows: std::array::from_fn(|_| vec![0; width / 16]),
            mask: width - 1,
            additions: 0,
            // Caffeine's choice: age after ten times the capacity in samples.
            period: 10 * width,
        }
    }

    pub fn width(&self) -> usize {
        self.mask + 1
    }

    fn index(&self, hash: u64, row: usize) -> (usize, u32) {
        let h = (hash ^ (hash >> 29)).wrapping_mul(SEEDS[row]);
        let i = (h >> 32) as usize & self.mask;
        (i / 16, (i % 16) as u32 * 4)
    }

    /// Counts one occurrence; returns true when this triggered aging.
    pub fn increment(&mut self, hash: u64) -> bool {
        for row in 0..4 {
            let (word, shift) = self.index(hash, row);
            let w = &mut self.rows[row][word];
            if (*w >> shift) & 0xF < 15 {
                *w += 1 << shift;
            }
        }
        self.additions += 1;
        if self.additions >= self.period {
            self.halve();
            return true;
        }
        false
    }

    pub fn estimate(&self, hash: u64) -> u32 {
        (0..4)
            .map(|row| {
                let (word, shift) = self.index(hash, row);
                ((self.rows[row][word] >> shift) & 0xF) as u32
            })
            .min()
            .unwrap_or(0)
    }

    /// Halves every counter: popularity decays instead of accumulating forever.
    pub fn halve(&mut self) {
        for row in &mut self.rows {
            for w in row.iter_mut() {
                *w = (*w >> 1) & 0x7777_7777_7777_7777;
            }
        }
        self.additions /= 2;
    }

    pub fn bytes(&self) -> usize {
        self.rows.iter().map(|r| r.len() * 8).sum()
    }
}

/// A Bloom filter of keys seen since the last aging, two probes per key.
pub struct Doorkeeper {
    bits: Vec<u64>,
    mask: usize,
}

impl Doorkeeper {
    pub fn new(capacity: usize) -> Doorkeeper {
        // About 8 bits per key: ~2% false positives with two probes.
        let bits = (capacity.max(64) * 8).next_power_of_two();
        Doorkeeper {
            bits: vec![0; bits / 64],
            mask: bits - 1,
        }
    }

    fn probes(&self, hash: u64) -> [usize; 2] {
        let h = hash.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        [(h as usize) & self.mask, ((h >> 32) as usize) & self.mask]
    }

    pub fn contains(&self, hash: u64) -> bool {
        self.probes(hash)
            .iter()
            .all(|&b| self.bits[b / 64] & (1 << (b % 64)) != 0)
    }

    /// Adds the key; returns whether it was (probably) there already.
    pub fn insert(&mut self, hash: u64) -> bool {
        let mut present = true;
        for b in self.probes(hash) {
            let bit = 1 << (b % 64);
            present &= self.bits[b / 64] & bit != 0;
            self.bits[b / 64] |= bit;
        }
        present
    }

    pub fn clear(&mut self) {
        self.bits.iter_mut().for_each(|w| *w = 0);
    }

    pub fn bytes(&self) -> usize {
        self.bits.len() * 8
    }
}

/// The frequency filter TinyLFU admits by: doorkeeper plus sketch.
pub struct Frequency {
    pub sketch: CountMin,
    pub doorkeeper: Doorkeeper,
}

impl Frequency {
    pub fn new(capacity: usize) -> Frequency {
        Frequency {
            sketch: CountMin::new(capacity),
            doorkeeper: Doorkeeper::new(capacity),
        }
    }

    /// Records one access. The first access of a key since the last aging
    /// only sets its doorkeeper bits.
    pub fn record(&mut self, hash: u64) {
        if self.doorkeeper.insert(hash) && self.sketch.increment(hash) {
            self.doorkeeper.clear();
        }
    }

    /// Estimated accesses since aging (0..=16).
    pub fn estimate(&self, hash: u64) -> u32 {
        self.sketch.estimate(hash) + self.doorkeeper.contains(hash) as u32
    }

    /// Grows the filter when the keyspace outgrew it (history is lost, so
    /// only on doubling).
    pub fn fit(&mut self, keys: usize) {
        if keys > self.sketch.width() * 2 {
            *self = Frequency::new(keys);
        }
    }

    pub fn bytes(&self) -> usize {
        self.sketch.bytes() + self.doorkeeper.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u64) -> u64 {
        i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i << 17)
    }

    #[test]
    fn sketch_counts_and_saturates() {
        let mut s = CountMin::new(1024);
        for _ in 0..5 {
            s.increment(h(1));
        }
        assert_eq!(s.estimate(h(1)), 5);
        for _ in 0..100 {
            s.increment(h(2));
        }
        assert_eq!(s.estimate(h(2)), 15, "4-bit counters saturate");
        // Count-min never underestimates; unseen keys are mostly zero.
        let zeros = (1000..2000).filter(|&i| s.estimate(h(i)) == 0).count();
        assert!(zeros > 950, "{zeros}");
    }

    #[test]
    fn sketch_ages_by_halving() {
        let mut s = CountMin::new(64);
        for _ in 0..12 {
            s.increment(h(7));
        }
        s.halve();
        assert_eq!(s.estimate(h(7)), 6);
        // Aging comes by itself after `period` increments.
        let aged = (0..s.period as u64).any(|i| s.increment(h(i % 3)));
        assert!(aged);
    }

    #[test]
    fn doorkeeper_absorbs_first_access() {
        let mut f = Frequency::new(1024);
        f.record(h(3));
        assert_eq!(
            f.sketch.estimate(h(3)),
            0,
            "one-hit keys stay out of the sketch"
        );
        assert_eq!(f.estimate(h(3)), 1);
        f.record(h(3));
        assert_eq!(f.estimate(h(3)), 2);
        assert!(!f.doorkeeper.contains(h(99)));
    }
}
