//! The directory part of the corpus: 9,900 self-signed announcements with names, URLs and
//! descriptions (so that search has words to find), and 20,000 reviews of them.

use nostr_sdk::prelude::{EventBuilder, Keys, Kind, Tag, Timestamp};
use rand::rngs::StdRng;
use rand::Rng;

use mintwatch_protocol::{kinds, SignedEvent};
use mintwatch_testkit::AS_OF;

const DIRECTORY_MINTS: usize = 9_900;
const DIRECTORY_REVIEWS: usize = 20_000;

const ADJECTIVES: &[&str] = &[
    "lightning",
    "satoshi",
    "orange",
    "northern",
    "quiet",
    "honest",
    "swift",
    "golden",
    "silver",
    "alpine",
    "harbor",
    "river",
    "coastal",
    "midnight",
    "copper",
    "cedar",
    "granite",
    "lunar",
    "solar",
    "amber",
    "cobalt",
    "maple",
    "prairie",
    "summit",
    "velvet",
    "willow",
    "falcon",
    "crimson",
    "emerald",
    "sapphire",
];
const NOUNS: &[&str] = &[
    "bank",
    "vault",
    "sats",
    "cashu",
    "mint",
    "coin",
    "wallet",
    "forge",
    "market",
    "garden",
    "bridge",
    "tower",
    "station",
    "collective",
    "cooperative",
    "guild",
    "exchange",
    "reserve",
    "node",
    "hub",
];
const CITIES: &[&str] = &[
    "Berlin",
    "Lisbon",
    "Austin",
    "Zurich",
    "Prague",
    "Nairobi",
    "Buenos Aires",
    "Tokyo",
    "Toronto",
    "Madeira",
    "El Zonte",
    "Oslo",
    "Warsaw",
    "Riga",
    "Tbilisi",
];
const TLDS: &[&str] = &["com", "io", "org", "net", "money", "cash", "xyz"];

/// 9,900 self-signed announcements with names, URLs and descriptions, and 20,000 reviews of them.
pub(crate) fn directory_events(rng: &mut StdRng) -> Vec<SignedEvent> {
    let keys: Vec<Keys> = (0..DIRECTORY_MINTS).map(|_| Keys::generate()).collect();
    let mut out = Vec::with_capacity(DIRECTORY_MINTS + DIRECTORY_REVIEWS);
    let t0 = AS_OF - 20 * 86_400;
    for (i, k) in keys.iter().enumerate() {
        let adj = ADJECTIVES[rng.gen_range(0..ADJECTIVES.len())];
        let noun = NOUNS[rng.gen_range(0..NOUNS.len())];
        let city = CITIES[rng.gen_range(0..CITIES.len())];
        let tld = TLDS[rng.gen_range(0..TLDS.len())];
        let name = format!("{} {} {i}", capital(adj), capital(noun));
        let url = format!("https://{adj}{noun}{i}.{tld}");
        let about = format!(
            "{name} is a {adj} Cashu mint run from {city}: ecash for sats over lightning, \
             NUT-07 state checks, published burns and a public {noun} of reserves."
        );
        let hex = k.public_key().to_hex();
        let content = serde_json::json!({ "name": name, "about": about }).to_string();
        let tags = [
            Tag::parse(["d", &hex]).expect("tag"),
            Tag::parse(["u", &url]).expect("tag"),
            Tag::parse(["nuts", "1,2,3,4,5,7,8,9,10,11,12"]).expect("tag"),
            Tag::parse(["n", "mainnet"]).expect("tag"),
        ];
        let e = EventBuilder::new(Kind::Custom(kinds::MINT_ANNOUNCEMENT), content)
            .tags(tags)
            .custom_created_at(Timestamp::from(t0 + i as u64))
            .sign_with_keys(k)
            .expect("sign");
        out.push(SignedEvent::from(&e));
    }
    let reviewers: Vec<Keys> = (0..DIRECTORY_REVIEWS / 100)
        .map(|_| Keys::generate())
        .collect();
    for r in 0..DIRECTORY_REVIEWS {
        let reviewer = &reviewers[r / 100];
        // Each reviewer reviews 100 distinct mints.
        let m = (r / 100 * 37 + (r % 100) * 97) % DIRECTORY_MINTS;
        let mint_hex = keys[m].public_key().to_hex();
        let tags = [
            Tag::parse(["d", &mint_hex]).expect("tag"),
            Tag::parse(["k", "38172"]).expect("tag"),
            Tag::parse(["a", &format!("38172:{mint_hex}:{mint_hex}"), "", "cashu"]).expect("tag"),
            Tag::parse(["rating", &(rng.gen_range(1..=5u8)).to_string()]).expect("tag"),
        ];
        let e = EventBuilder::new(
            Kind::Custom(kinds::RECOMMENDATION),
            format!("Review {r}: paid an invoice, tokens arrived, melted fine."),
        )
        .tags(tags)
        .custom_created_at(Timestamp::from(t0 + 86_400 + r as u64))
        .sign_with_keys(reviewer)
        .expect("sign");
        out.push(SignedEvent::from(&e));
    }
    out
}

pub(crate) fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}
