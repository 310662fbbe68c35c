//! Properties of every parser: arbitrary input never panics, and what the encoders write parses
//! back to the same value.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ciborium::Value as Cbor;
use mintwatch_protocol::broadcast::{
    BurnEntry, CashuData, DataGroup, FinEpoch, GroupContents, MintEntry, MintInfo,
};
use mintwatch_protocol::nip87::{Deletion, FedimintAnnouncement, MintAnnouncement, Recommendation};
use mintwatch_protocol::{Amount, Epoch, EventId, Point, SignedEvent, Unit};
use proptest::prelude::*;
use secp256k1::{PublicKey, SecretKey, SECP256K1};

const CASES: u32 = 256;

// ---------------------------------------------------------------------------------------------
// Strategies

/// Names and keys the parsers look for, so random input reaches past the first check.
const NAMES: &[&str] = &[
    "d",
    "u",
    "e",
    "a",
    "k",
    "n",
    "nuts",
    "rating",
    "modules",
    "epoch",
    "event",
    "unit",
    "contents",
    "Y",
    "B_",
    "C_",
    "amount",
    "MINT",
    "BURN",
    "pubkey",
    "urls",
    "name",
    "methods",
    "outstanding_balance",
    "4",
    "5",
    "38172",
    "38173",
    "sat",
];

fn known_or_any_string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(NAMES).prop_map(str::to_string),
        any::<String>(),
        "[0-9a-f]{64,66}",
        "\\[[0-9.]{0,4}/5\\].{0,8}",
        "(38172|38173|30023):[0-9a-f]{64}:[a-z]{0,4}",
    ]
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value as J;
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        any::<i64>().prop_map(J::from),
        any::<u64>().prop_map(J::from),
        // Dyadic fractions print and read back exactly, so JSON text round trips stay exact.
        (any::<i32>(), 0i32..8).prop_map(|(m, e)| J::from(f64::from(m) / 2f64.powi(e))),
        known_or_any_string().prop_map(J::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(J::Array),
            prop::collection::vec((known_or_any_string(), inner), 0..6)
                .prop_map(|kv| J::Object(kv.into_iter().collect())),
        ]
    })
}

fn cbor_value() -> impl Strategy<Value = Cbor> {
    let leaf = prop_oneof![
        Just(Cbor::Null),
        any::<bool>().prop_map(Cbor::Bool),
        any::<i64>().prop_map(|i| Cbor::Integer(i.into())),
        any::<u64>().prop_map(|i| Cbor::Integer(i.into())),
        any::<f64>().prop_map(Cbor::Float),
        known_or_any_string().prop_map(Cbor::Text),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Cbor::Bytes),
        valid_point().prop_map(|p| Cbor::Bytes(p.as_bytes().to_vec())),
        valid_point().prop_map(|p| Cbor::Text(p.to_hex())),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Cbor::Array),
            prop::collection::vec(
                (known_or_any_string().prop_map(Cbor::Text), inner.clone()),
                0..6
            )
            .prop_map(Cbor::Map),
            (any::<u64>(), inner).prop_map(|(t, v)| Cbor::Tag(t, Box::new(v))),
        ]
    })
}

/// `key` with a valid value most of the time, an arbitrary one sometimes, or absent.
fn field(key: &'static str, valid: BoxedStrategy<Cbor>) -> BoxedStrategy<Option<(Cbor, Cbor)>> {
    prop::option::weighted(
        0.9,
        prop_oneof![4 => valid, 1 => cbor_value()].prop_map(move |v| (Cbor::Text(key.into()), v)),
    )
    .boxed()
}

fn map_of(fields: Vec<BoxedStrategy<Option<(Cbor, Cbor)>>>) -> impl Strategy<Value = Cbor> {
    (fields, prop::option::of(cbor_value())).prop_map(|(pairs, extra)| {
        let mut pairs: Vec<(Cbor, Cbor)> = pairs.into_iter().flatten().collect();
        pairs.extend(extra.map(|v| (Cbor::Text("extension".into()), v)));
        Cbor::Map(pairs)
    })
}

fn cbor_point() -> BoxedStrategy<Cbor> {
    prop_oneof![
        valid_point().prop_map(|p| Cbor::Bytes(p.as_bytes().to_vec())),
        valid_point().prop_map(|p| Cbor::Text(p.to_hex())),
        prop::collection::vec(any::<u8>(), 33).prop_map(Cbor::Bytes),
    ]
    .boxed()
}

fn cbor_int() -> BoxedStrategy<Cbor> {
    prop_oneof![
        (0i64..3).prop_map(|i| Cbor::Integer(i.into())),
        any::<i64>().prop_map(|i| Cbor::Integer(i.into())),
        any::<u64>().prop_map(|i| Cbor::Integer(i.into())),
    ]
    .boxed()
}

/// A 4919 group that is valid or nearly so, so that random cases reach every field check.
fn near_valid_group() -> impl Strategy<Value = Cbor> {
    let entry = map_of(vec![
        field("Y", cbor_point()),
        field("B_", cbor_point()),
        field("C_", cbor_point()),
        field("amount", cbor_int()),
    ]);
    map_of(vec![
        field("epoch", cbor_int()),
        field(
            "event",
            prop::sample::select(&["MINT", "BURN", "mint"][..])
                .prop_map(|e| Cbor::Text(e.into()))
                .boxed(),
        ),
        field(
            "unit",
            prop_oneof!["[a-z]{1,4}", "[A-Z ]{0,3}"]
                .prop_map(Cbor::Text)
                .boxed(),
        ),
        field(
            "contents",
            prop::collection::vec(entry, 0..5)
                .prop_map(Cbor::Array)
                .boxed(),
        ),
    ])
}

fn b64_cbor(value: &Cbor) -> String {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).expect("writing CBOR to a Vec");
    B64.encode(bytes)
}

/// Content in every shape a parser may meet.
fn content() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(|b| B64.encode(b)),
        prop::collection::vec(any::<u8>(), 0..200)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        json_value().prop_map(|v| v.to_string()),
        cbor_value().prop_map(|v| b64_cbor(&v)),
        cbor_value().prop_map(|v| b64_cbor(&Cbor::Array(vec![v]))),
        prop::collection::vec(near_valid_group(), 0..3).prop_map(|g| b64_cbor(&Cbor::Array(g))),
    ]
}

fn tags() -> impl Strategy<Value = Vec<Vec<String>>> {
    let tag = prop_oneof![
        prop::collection::vec(known_or_any_string(), 0..4),
        json_value().prop_map(|v| match v {
            serde_json::Value::Array(items) => items.iter().map(|i| i.to_string()).collect(),
            other => vec![other.to_string()],
        }),
    ];
    prop::collection::vec(tag, 0..8)
}

fn event_of(kind: u16, tags: Vec<Vec<String>>, content: String) -> SignedEvent {
    SignedEvent {
        id: EventId([0; 32]),
        pubkey: [1; 32],
        created_at: 1,
        kind,
        tags,
        content,
        sig: [0; 64],
    }
}

fn valid_point() -> impl Strategy<Value = Point> {
    any::<[u8; 32]>().prop_filter_map("a valid secret key", |b| {
        SecretKey::from_slice(&b)
            .ok()
            .map(|sk| Point::from_public_key(&PublicKey::from_secret_key(SECP256K1, &sk)))
    })
}

fn amount() -> impl Strategy<Value = Amount> {
    prop_oneof![1u64..=16, 1u64..=Amount::MAX].prop_map(|a| Amount::new(a).expect("in range"))
}

fn epoch() -> impl Strategy<Value = Epoch> {
    prop_oneof![0u64..4, 0u64..=i64::MAX as u64].prop_map(|e| Epoch::new(e).expect("in range"))
}

fn unit() -> impl Strategy<Value = Unit> {
    "[a-z0-9_-]{1,32}".prop_map(|u| Unit::parse(&u).expect("valid unit"))
}

fn group() -> impl Strategy<Value = DataGroup> {
    let burns = prop::collection::vec(
        (valid_point(), amount()).prop_map(|(y, amount)| BurnEntry { y, amount }),
        0..6,
    )
    .prop_map(GroupContents::Burn);
    let mints = prop::collection::vec(
        (valid_point(), valid_point(), amount()).prop_map(|(b_, c_, amount)| MintEntry {
            b_,
            c_,
            amount,
        }),
        0..4,
    )
    .prop_map(GroupContents::Mint);
    (epoch(), unit(), prop_oneof![burns, mints]).prop_map(|(epoch, unit, contents)| DataGroup {
        epoch,
        unit,
        contents,
    })
}

fn prev() -> impl Strategy<Value = Option<EventId>> {
    prop::option::of(any::<[u8; 32]>().prop_map(EventId))
}

fn prev_tags(prev: Option<EventId>) -> Vec<Vec<String>> {
    prev.map(|p| vec!["e".to_string(), p.to_hex()])
        .into_iter()
        .collect()
}

/// Runs every parser on the event with its kind set to the parser's kind. A panic fails the
/// property; the results themselves are free.
fn run_every_parser(tags: &[Vec<String>], content: &str) {
    let with = |kind: u16| event_of(kind, tags.to_vec(), content.to_string());
    let _ = MintAnnouncement::parse(&with(38172));
    let _ = FedimintAnnouncement::parse(&with(38173));
    let _ = Recommendation::parse(&with(38000));
    let _ = Deletion::parse(&with(5));
    let _ = MintInfo::parse(&with(11467));
    let _ = CashuData::parse(&with(4919));
    let _ = FinEpoch::parse(&with(1337));
    let _ = CashuData::decode_content(content);
}

// ---------------------------------------------------------------------------------------------
// Never panics

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn parsers_never_panic_on_arbitrary_content_and_tags(tags in tags(), content in content()) {
        run_every_parser(&tags, &content);
        run_every_parser(&[], &content);
    }

    #[test]
    fn from_json_never_panics_on_arbitrary_strings(s in any::<String>()) {
        let _ = SignedEvent::from_json(&s);
    }

    #[test]
    fn from_json_never_panics_on_event_shaped_json(
        fields in prop::collection::vec(
            (prop::sample::select(&["id", "pubkey", "created_at", "kind", "tags", "content", "sig"][..]),
             json_value()),
            0..9,
        ),
        kind in any::<u16>(),
        tags in tags(),
        content in content(),
    ) {
        let mut obj: serde_json::Map<String, serde_json::Value> = fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let _ = SignedEvent::from_json(&serde_json::Value::Object(obj.clone()).to_string());
        // A well-formed envelope around arbitrary tags and content reaches the parsers.
        obj.insert("id".into(), "00".repeat(32).into());
        obj.insert("pubkey".into(), "11".repeat(32).into());
        obj.insert("sig".into(), "22".repeat(64).into());
        obj.insert("created_at".into(), 1.into());
        obj.insert("kind".into(), kind.into());
        obj.insert("tags".into(), serde_json::to_value(&tags).expect("tags"));
        obj.insert("content".into(), content.clone().into());
        let event = SignedEvent::from_json(&serde_json::Value::Object(obj).to_string())
            .expect("a well-formed envelope parses");
        prop_assert_eq!(&event.tags, &tags);
        prop_assert_eq!(&event.content, &content);
        run_every_parser(&event.tags, &event.content);
    }

    #[test]
    fn cashu_data_never_panics_on_structured_cbor(
        groups in prop::collection::vec(prop_oneof![1 => cbor_value(), 4 => near_valid_group()], 0..4),
    ) {
        let _ = CashuData::decode_content(&b64_cbor(&Cbor::Array(groups)));
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn cashu_data_round_trips(groups in prop::collection::vec(group(), 0..4), prev in prev()) {
        let data = CashuData { groups, prev };
        let event = event_of(4919, prev_tags(prev), data.encode_content());
        prop_assert_eq!(CashuData::parse(&event), Ok(data.clone()));
        prop_assert_eq!(CashuData::decode_content(&data.encode_content()), Ok(data.groups));
    }

    #[test]
    fn fin_epoch_round_trips_as_json_and_cbor(
        epoch in epoch(),
        outstanding_balance in prop_oneof![0u64..100, 0u64..=i64::MAX as u64],
        unit in unit(),
        prev in prev(),
    ) {
        let fin = FinEpoch { epoch, outstanding_balance, unit, prev };
        for content in [fin.encode_content_json(), fin.encode_content_cbor()] {
            let event = event_of(1337, prev_tags(prev), content);
            prop_assert_eq!(FinEpoch::parse(&event), Ok(fin.clone()));
        }
    }

    #[test]
    fn mint_info_keeps_the_content_it_was_given(
        fields in prop::collection::vec((known_or_any_string(), json_value()), 0..8),
        pubkey in valid_point(),
    ) {
        let mut obj: serde_json::Map<String, serde_json::Value> = fields.into_iter().collect();
        obj.insert("pubkey".into(), pubkey.to_hex().into());
        let info = serde_json::Value::Object(obj);
        for content in [MintInfo::encode_content(&info), info.to_string()] {
            let parsed = MintInfo::decode_content(&content).expect("an object parses");
            prop_assert_eq!(&parsed.raw, &info);
            prop_assert_eq!(parsed.pubkey, Some(pubkey));
            prop_assert_eq!(parsed.signer_matches(pubkey.x_only().as_bytes()), Some(true));
        }
    }
}
