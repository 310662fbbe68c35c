//! A fixed-size Bloom filter of every burnt `Y` the store holds, so the double-spend check asks
//! the database only about the `Y`s that may have been burnt before.
//!
//! Why: asking Postgres about every `Y` of a batch (tens of thousands) costs a scan or one index
//! probe per `Y`, and that cost grows with the store (measured with `EXPLAIN ANALYZE` at 1M burns:
//! ≈ 1 s per 100k `Y`s, whatever the plan). Almost no `Y` has been burnt before, and a Bloom
//! filter says so in memory with no false negatives. Its size is fixed, so memory does not grow
//! with the corpus; only the false-positive rate does (each false positive is one more `Y` the
//! database is asked about: slower, never wrong).

use mintwatch_protocol::Point;

/// Bits per filter word.
const WORD: u64 = 64;
/// Probes per `Y`: optimal for ≈ 10–20 bits per `Y` (a 16 MiB filter and 7–13M `Y`s).
const PROBES: u64 = 7;

/// The filter.
#[derive(Debug)]
pub(crate) struct SpentFilter {
    words: Vec<u64>,
    bits: u64,
}

impl SpentFilter {
    /// An empty filter of `bytes` bytes (at least one word).
    pub(crate) fn new(bytes: usize) -> Self {
        let words = (bytes / 8).max(1);
        Self {
            words: vec![0; words],
            bits: words as u64 * WORD,
        }
    }

    /// The probe positions of `y`. A `Y` is `hash_to_curve` of a secret, so its x coordinate
    /// (bytes 1..33) is already uniformly distributed: two of its words serve as the two hashes
    /// of double hashing. A mint that publishes crafted points can only raise the false-positive
    /// rate, i.e. make us ask the database more often.
    fn probes(&self, y: &Point) -> impl Iterator<Item = u64> + '_ {
        let b = y.as_bytes();
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(w)
        };
        let (h1, h2) = (word(1) ^ word(17), (word(9) ^ word(25)) | 1);
        (0..PROBES).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) % self.bits)
    }

    /// Whether `y` may have been inserted (false: it certainly was not).
    pub(crate) fn contains(&self, y: &Point) -> bool {
        self.probes(y)
            .all(|bit| self.words[(bit / WORD) as usize] & (1 << (bit % WORD)) != 0)
    }

    /// Adds `y`.
    pub(crate) fn insert(&mut self, y: &Point) {
        let positions: Vec<u64> = self.probes(y).collect();
        for bit in positions {
            self.words[(bit / WORD) as usize] |= 1 << (bit % WORD);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(i: u32) -> Point {
        mintwatch_protocol::ecash::hash_to_curve(&i.to_le_bytes()).expect("a point")
    }

    #[test]
    fn inserted_points_are_always_found_and_others_rarely() {
        let mut f = SpentFilter::new(64 << 10);
        let inserted: Vec<Point> = (0..20_000).map(point).collect();
        for y in &inserted {
            f.insert(y);
        }
        assert!(inserted.iter().all(|y| f.contains(y)), "no false negative");
        let false_positives = (20_000..40_000).filter(|i| f.contains(&point(*i))).count();
        // 524,288 bits for 20,000 points, 7 probes: ≈ 0.2 % expected.
        assert!(false_positives < 200, "{false_positives} false positives");
    }
}
