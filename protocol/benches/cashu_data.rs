//! 4919 content decoding: where the time of one batch goes (base64, CBOR, the curve checks of
//! its points), against the bare one-by-one point parse of the same points in the same run. Prints its
//! figures; `cargo bench -p mintwatch-protocol --bench cashu_data`.

use std::time::{Duration, Instant};

use mintwatch_protocol::broadcast::{BurnEntry, CashuData, DataGroup, GroupContents, MintEntry};
use mintwatch_protocol::{Amount, Epoch, Point, Unit};
use secp256k1::{PublicKey, SecretKey, SECP256K1};

/// The shape of the end-to-end corpus: 990 burns and 1,000 issued signatures per event.
const BURNS: usize = 990;
const ISSUED: usize = 1_000;
const ROUNDS: usize = 7;

fn point(i: u64) -> Point {
    let mut bytes = [0u8; 32];
    bytes[24..].copy_from_slice(&(i + 1).to_be_bytes());
    bytes[0] = 0x11;
    let secret = SecretKey::from_slice(&bytes).expect("a small scalar is a valid key");
    Point::from_public_key(&PublicKey::from_secret_key(SECP256K1, &secret))
}

fn best<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let v = f();
        best = best.min(start.elapsed());
        out = Some(v);
    }
    (best, out.expect("at least one round"))
}

fn main() {
    let amount = Amount::new(8).expect("8 is a valid amount");
    let epoch = Epoch::new(3).expect("3 is a valid epoch");
    let unit = Unit::parse("sat").expect("sat");
    let burns: Vec<BurnEntry> = (0..BURNS as u64)
        .map(|i| BurnEntry {
            y: point(i),
            amount,
        })
        .collect();
    let issued: Vec<MintEntry> = (0..ISSUED as u64)
        .map(|i| MintEntry {
            b_: point(10_000 + i),
            c_: point(20_000 + i),
            amount,
        })
        .collect();
    let data = CashuData {
        groups: vec![
            DataGroup {
                epoch,
                unit: unit.clone(),
                contents: GroupContents::Burn(burns),
            },
            DataGroup {
                epoch,
                unit,
                contents: GroupContents::Mint(issued),
            },
        ],
        prev: None,
    };
    let content = data.encode_content();
    let points = BURNS + 2 * ISSUED;
    let raw: Vec<[u8; 33]> = data
        .groups
        .iter()
        .flat_map(|g| g.contents.points())
        .map(|p| *p.as_bytes())
        .collect();
    println!(
        "one 4919 content: {} bytes of base64, {BURNS} burns + {ISSUED} issued = {points} points",
        content.len()
    );
    let (decode, groups) = best(|| CashuData::decode_content(&content).expect("decodes"));
    assert_eq!(groups, data.groups, "decoding gives back what was encoded");
    let (bare, ok) = best(|| {
        raw.iter()
            .filter(|b| PublicKey::from_slice(&b[..]).is_ok())
            .count()
    });
    assert_eq!(ok, points);
    let (batch, all_ok) = best(|| mintwatch_protocol::on_curve::all_on_curve(&raw));
    assert!(all_ok);
    let (hex, n) = best(|| {
        raw.iter()
            .map(|b| hex::decode(hex::encode(b)).map(|v| v.len()).unwrap_or(0))
            .sum::<usize>()
    });
    assert_eq!(n, points * 33);
    let per = |d: Duration| d.as_secs_f64() * 1e6 / points as f64;
    println!(
        "decode_content (base64 + CBOR + checks): {:>8.2} ms, {:.2} µs/point",
        decode.as_secs_f64() * 1e3,
        per(decode)
    );
    println!("baseline: secp256k1 PublicKey::from_slice of the same points: {:>8.2} ms, {:.2} µs/point ({:.0} % of decode)", bare.as_secs_f64() * 1e3, per(bare), 100.0 * bare.as_secs_f64() / decode.as_secs_f64());
    println!(
        "on_curve::all_on_curve of the same points (the decoder's check): {:>8.2} ms, {:.2} µs/point, {:.1}× faster than one by one",
        batch.as_secs_f64() * 1e3,
        per(batch),
        bare.as_secs_f64() / batch.as_secs_f64()
    );
    println!(
        "hex encode + decode of the same points: {:>8.2} ms, {:.2} µs/point",
        hex.as_secs_f64() * 1e3,
        per(hex)
    );
    println!(
        "burns/s of content decoding on one core: {:.0}",
        BURNS as f64 / decode.as_secs_f64()
    );
}
