//! Checking that many compressed points lie on secp256k1 at once.
//!
//! A 4919 carries up to 20,000 points and PROTOCOL.md §2.2 requires each to be a valid compressed
//! point. Checking one alone (libsecp256k1's `PublicKey::from_slice`) decompresses it: a square
//! root, about 4 µs, which made the curve check 86 % of decoding a 4919 and the limit of the whole
//! indexer. But only *whether* `x³ + 7` is a square matters, and the Legendre symbol is
//! multiplicative: a product of squares is a square. So a batch is checked as 64 random
//! sub-products, each one square root:
//!
//! - every point in the batch gets 64 independent random bits; round `r` multiplies together the
//!   `x³ + 7` of the points whose bit `r` is set, and checks that product is a square;
//! - if every point is valid, every product is a square: a valid batch is never refused;
//! - if some point is invalid, each round's product is a non-square with probability exactly 1/2
//!   (flip that point's bit: the symbol flips), independently across rounds, so an invalid batch
//!   passes with probability 2⁻⁶⁴;
//! - the bits come from the thread's CSPRNG (`rand::thread_rng`, ChaCha seeded by the OS), so the
//!   author of an event cannot predict them and grind for a batch that slips through.
//!
//! That is at most 32 field multiplications a point (8 in large batches, see `round_products`)
//! instead of a 256-bit exponentiation. The field
//! arithmetic is k256's (RustCrypto); this module only chooses what to multiply. A refused batch
//! says nothing about *which* point is bad: callers then check point by point with libsecp256k1
//! to name it, so an error is exactly what the one-by-one check gives.

use k256::FieldElement;
use rand::RngCore;

/// Random sub-products per batch: an invalid batch passes with probability 2⁻ᴿᴼᵁᴺᴰˢ.
const ROUNDS: usize = 64;

/// `true` if every 33-byte string is a compressed point on secp256k1: prefix `02` or `03` and an
/// x below the field size whose `x³ + 7` is a square. Agrees with libsecp256k1's
/// `PublicKey::from_slice` on every valid batch, and on an invalid one except with probability
/// 2⁻⁶⁴ (see the module documentation). An empty batch is valid.
pub fn all_on_curve<'a>(points: impl IntoIterator<Item = &'a [u8; 33]>) -> bool {
    all_on_curve_with(points, &mut rand::thread_rng())
}

/// [`all_on_curve`] with the caller's randomness, for tests that need to replay a batch.
pub fn all_on_curve_with<'a>(
    points: impl IntoIterator<Item = &'a [u8; 33]>,
    rng: &mut impl RngCore,
) -> bool {
    let seven = FieldElement::from(7u64);
    let mut rhs = Vec::new();
    for point in points {
        if point[0] != 0x02 && point[0] != 0x03 {
            return false;
        }
        let mut x_bytes = [0u8; 32];
        x_bytes.copy_from_slice(&point[1..]);
        // `from_bytes` refuses x >= p, as libsecp256k1 does.
        let Some(x) = Option::<FieldElement>::from(FieldElement::from_bytes(&x_bytes.into()))
        else {
            return false;
        };
        let value = (x.square() * x + seven).normalize();
        // x³ + 7 = 0 has no solution on secp256k1 (its order is prime, so no point has y = 0),
        // but a zero factor would hide the others' symbols: refuse rather than reason about it.
        if bool::from(value.is_zero()) {
            return false;
        }
        rhs.push(value);
    }
    round_products(&rhs, rng)
        .iter()
        .all(|product| bool::from(product.normalize().sqrt().is_some()))
}

/// The [`ROUNDS`] products: round `r` multiplies the values whose random bit `r` is set.
///
/// Multiplying each value into every round it belongs to costs 32 multiplications a value. For
/// larger batches the 64 bits are cut into blocks of `width` bits: each value is multiplied into
/// one bucket per block (the bucket of its bits in that block), and each round's product is then
/// the product of the buckets whose index has that round's bit set. Same products, about
/// `64 / width` multiplications a value plus `64 · 2^(width-1)` per batch.
fn round_products(values: &[FieldElement], rng: &mut impl RngCore) -> [FieldElement; ROUNDS] {
    let width: usize = match values.len() {
        0..=31 => 1,
        32..=999 => 4,
        _ => 8,
    };
    let blocks = ROUNDS / width;
    let mask = (1u64 << width) - 1;
    let mut buckets = vec![FieldElement::ONE; blocks << width];
    for value in values {
        let bits = rng.next_u64();
        for block in 0..blocks {
            let index = ((bits >> (block * width)) & mask) as usize;
            // Bucket 0 belongs to no round of the block.
            if index != 0 {
                let bucket = &mut buckets[(block << width) | index];
                *bucket *= value;
            }
        }
    }
    let mut products = [FieldElement::ONE; ROUNDS];
    for block in 0..blocks {
        let block_buckets = &buckets[block << width..(block + 1) << width];
        for bit in 0..width {
            let product = &mut products[block * width + bit];
            for (index, bucket) in block_buckets.iter().enumerate() {
                if index >> bit & 1 == 1 {
                    *product *= bucket;
                }
            }
        }
    }
    products
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;
    use secp256k1::PublicKey;

    fn exact(point: &[u8; 33]) -> bool {
        PublicKey::from_slice(point).is_ok()
    }

    fn valid_points(rng: &mut ChaCha20Rng, n: usize) -> Vec<[u8; 33]> {
        (0..n)
            .map(|_| {
                let key = secp256k1::SecretKey::new(rng);
                PublicKey::from_secret_key_global(&key).serialize()
            })
            .collect()
    }

    /// 33 random bytes with a compressed prefix: on the curve about half the time.
    fn random_candidate(rng: &mut ChaCha20Rng) -> [u8; 33] {
        let mut point = [0u8; 33];
        rng.fill(&mut point[..]);
        point[0] = 0x02 | (point[0] & 1);
        point
    }

    #[test]
    fn valid_batches_always_pass() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for n in [0, 1, 2, 31, 32, 63, 999, 1000, 3000] {
            let points = valid_points(&mut rng, n);
            assert!(all_on_curve(&points), "{n} valid points refused");
        }
    }

    #[test]
    fn agrees_with_libsecp256k1_on_random_single_points() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let (mut on, mut off) = (0, 0);
        for _ in 0..20_000 {
            let point = random_candidate(&mut rng);
            let expected = exact(&point);
            assert_eq!(all_on_curve([&point]), expected, "{}", hex::encode(point));
            if expected {
                on += 1;
            } else {
                off += 1;
            }
        }
        // Both outcomes were exercised many times.
        assert!(on > 9_000 && off > 9_000, "on {on}, off {off}");
    }

    #[test]
    fn one_or_two_bad_points_hidden_among_valid_ones_are_found() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let pool = valid_points(&mut rng, 1200);
        let mut refused = 0;
        for trial in 0..600 {
            // Sizes on both sides of each bucket width of `round_products`.
            let mut points = pool[..[20, 50, 1200][trial % 3]].to_vec();
            let bad_count = 1 + trial % 2;
            for _ in 0..bad_count {
                let bad = loop {
                    let candidate = random_candidate(&mut rng);
                    if !exact(&candidate) {
                        break candidate;
                    }
                };
                let at = rng.gen_range(0..points.len());
                points[at] = bad;
            }
            let expected = points.iter().all(exact);
            assert_eq!(all_on_curve(&points), expected);
            refused += usize::from(!expected);
        }
        assert!(refused > 590, "only {refused} batches had a bad point");
    }

    #[test]
    fn prefix_and_field_size_are_checked() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let good = valid_points(&mut rng, 1)[0];
        for prefix in [0x00, 0x01, 0x04, 0x05, 0x06, 0x07, 0xff] {
            let mut point = good;
            point[0] = prefix;
            assert!(!exact(&point));
            assert!(
                !all_on_curve([&good, &point]),
                "prefix {prefix:#04x} passed"
            );
        }
        // x = p + 1 would reduce to 1, and 1 + 7 = 8 = 2³ is a square mod p only if 2 is one, which
        // it is for p ≡ 7 (mod 8): so the reduced x is on the curve and only the range check can
        // refuse it. Same for x = p and x = 2²⁵⁶ - 1.
        let p = hex::decode("fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f")
            .expect("hex");
        let mut p_plus_1 = [0u8; 33];
        p_plus_1[0] = 0x02;
        p_plus_1[1..].copy_from_slice(&p);
        p_plus_1[32] += 1;
        let mut one = [0u8; 33];
        one[0] = 0x02;
        one[32] = 1;
        assert!(exact(&one), "x = 1 is on the curve");
        assert!(!exact(&p_plus_1));
        assert!(!all_on_curve([&p_plus_1]));
        let mut max = [0xffu8; 33];
        max[0] = 0x03;
        assert_eq!(all_on_curve([&max]), exact(&max));
    }

    #[test]
    fn replaying_the_same_randomness_gives_the_same_answer() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let mut points = valid_points(&mut rng, 10);
        points.push(random_candidate(&mut rng));
        let first = all_on_curve_with(&points, &mut ChaCha20Rng::seed_from_u64(9));
        let second = all_on_curve_with(&points, &mut ChaCha20Rng::seed_from_u64(9));
        assert_eq!(first, second);
        assert_eq!(first, points.iter().all(exact));
    }
}
