//! Every fuzz target's harness (`mintwatch_protocol::fuzzing`), run as a bounded property test on
//! stable Rust: arbitrary bytes, and mutations (byte edits, truncation, splices) of real inputs
//! (the NIP-87 events in `tests/vectors/nip87-real/`, relay messages around them, a real
//! query-service request, NIP-44 payloads), so each harness is exercised in CI and not only
//! when somebody runs `cargo fuzz`.

mod common;

use std::sync::OnceLock;

use mintwatch_protocol::fuzzing::HARNESSES;
use mintwatch_protocol::nmc::{self, NmcRequest};
use mintwatch_protocol::output::nip44::{self, ConversationKey};
use mintwatch_protocol::output::query::{build_request, DirectoryQuery, Query};
use proptest::prelude::*;

const CASES: u32 = 192;

/// Inputs of one harness: its name and real inputs for it.
type Seeds = (&'static str, Vec<Vec<u8>>);

/// Real inputs for a harness, by harness name.
fn seeds(harness: &str) -> &'static [Vec<u8>] {
    static ALL: OnceLock<Vec<Seeds>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        let mut events: Vec<Vec<u8>> = Vec::new();
        for file in [
            "nip87-real/bitcoinmints-nip87-sample.jsonl",
            "nip87-real/bitcoinmints-nip87-sample-TAMPERED.jsonl",
        ] {
            events.extend(common::load_jsonl(file).into_iter().map(String::into_bytes));
        }
        assert!(events.len() >= 10, "the NIP-87 samples have events");
        let messages: Vec<Vec<u8>> = events
            .iter()
            .map(|e| {
                let mut m = br#"["EVENT","sub","#.to_vec();
                m.extend_from_slice(e);
                m.push(b']');
                m
            })
            .chain([
                br#"["EOSE","sub"]"#.to_vec(),
                br#"["CLOSED","sub","rate-limited: slow down"]"#.to_vec(),
                br#"["NOTICE","hello"]"#.to_vec(),
                br#"["OK","aa",true,""]"#.to_vec(),
            ])
            .collect();
        let wallet = nostr::Keys::generate();
        let service: [u8; 32] = std::array::from_fn(|i| i as u8 + 1);
        let service = nostr::Keys::new(nostr::SecretKey::from_slice(&service).expect("key"));
        let query = Query::SearchMints(DirectoryQuery::default());
        let request = build_request(&wallet, &service.public_key(), &query)
            .expect("a request builds")
            .to_json()
            .into_bytes();
        let ck = ConversationKey::from_bytes([7u8; 32]);
        let payloads: Vec<Vec<u8>> = ["x", "hello world", &"long ".repeat(400)]
            .iter()
            .map(|p| {
                nip44::encrypt(&ck, p.as_bytes())
                    .expect("encrypts")
                    .into_bytes()
            })
            .collect();
        let body = serde_json::to_vec(&query).expect("query JSON");
        // A real NMC request to the harness's mint key (the same fixed key), and its plaintext.
        let nmc_body = NmcRequest {
            method: "mint_quote".into(),
            params: serde_json::json!({"payment_method": "bolt11", "amount": 100, "unit": "sat"}),
        };
        let nmc = nmc::build_request(&wallet, &service.public_key(), &nmc_body, None)
            .expect("an NMC request builds")
            .to_json()
            .into_bytes();
        let nmc_seeds = vec![nmc, serde_json::to_vec(&nmc_body).expect("JSON")];
        let mut with_request = events.clone();
        with_request.push(request);
        with_request.push(body);
        vec![
            ("relay_message", messages),
            ("event_json", events.clone()),
            ("event_contents", events.clone()),
            ("cashu_data", events.iter().take(3).cloned().collect()),
            ("nip44_payload", payloads),
            ("query_request", with_request),
            ("nmc_request", nmc_seeds),
            ("evidence_label", events),
        ]
    });
    all.iter()
        .find(|(name, _)| *name == harness)
        .map(|(_, s)| s.as_slice())
        .unwrap_or_else(|| panic!("no seeds for harness {harness}"))
}

/// A mutation of a seed: byte edits, then a cut, then an optional splice of another seed's tail.
#[derive(Debug, Clone)]
struct Mutation {
    seed: usize,
    edits: Vec<(usize, u8)>,
    cut: Option<usize>,
    splice: Option<(usize, usize)>,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    (
        any::<usize>(),
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        prop::option::of(any::<usize>()),
        prop::option::of((any::<usize>(), any::<usize>())),
    )
        .prop_map(|(seed, edits, cut, splice)| Mutation {
            seed,
            edits,
            cut,
            splice,
        })
}

fn apply(seeds: &[Vec<u8>], m: &Mutation) -> Vec<u8> {
    let mut bytes = seeds[m.seed % seeds.len()].clone();
    if bytes.is_empty() {
        return bytes;
    }
    for (at, byte) in &m.edits {
        let at = at % bytes.len();
        bytes[at] = *byte;
    }
    if let Some(cut) = m.cut {
        bytes.truncate(cut % (bytes.len() + 1));
    }
    if let Some((other, from)) = m.splice {
        let other = &seeds[other % seeds.len()];
        bytes.extend_from_slice(&other[from % (other.len() + 1)..]);
    }
    bytes
}

#[test]
fn every_harness_has_seeds_and_accepts_them_unchanged() {
    for (name, harness) in HARNESSES {
        let seeds = seeds(name);
        assert!(!seeds.is_empty(), "{name} has no seeds");
        for seed in seeds {
            harness(seed);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn harnesses_survive_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        for (_, harness) in HARNESSES {
            harness(&bytes);
        }
    }

    #[test]
    fn harnesses_survive_mutated_real_inputs(m in mutation()) {
        for (name, harness) in HARNESSES {
            harness(&apply(seeds(name), &m));
        }
    }
}
