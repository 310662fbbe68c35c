//! What the requests pick from (burnt and unknown `Y`s, mint keys, search words), and the routes
//! built from them.

use std::collections::BTreeSet;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use mintwatch_protocol::ecash::hash_to_curve;
use mintwatch_protocol::{MintKey, Point};
use mintwatch_store::Store;

use crate::load::Route;

/// What the requests pick from.
pub(crate) struct Samples {
    pub(crate) known: Vec<Point>,
    pub(crate) unknown: Vec<Point>,
    pub(crate) mints: Vec<MintKey>,
    pub(crate) words: Vec<String>,
}

pub(crate) async fn samples(store: &Store, rng: &mut StdRng) -> Samples {
    let known: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT y FROM burns TABLESAMPLE SYSTEM (2) LIMIT 20000")
            .fetch_all(store.pool())
            .await
            .expect("sample burns");
    let mut known: Vec<Point> = known
        .iter()
        .map(|b| Point::from_bytes(b).expect("stored Y"))
        .collect();
    known.shuffle(rng);
    known.truncate(5_000);
    let unknown: Vec<Point> = (0..5_000)
        .map(|_| {
            let secret: [u8; 32] = rng.gen();
            hash_to_curve(hex::encode(secret).as_bytes()).expect("hash_to_curve")
        })
        .collect();
    let rows: Vec<(Vec<u8>, Option<String>)> = sqlx::query_as("SELECT key, name FROM mints")
        .fetch_all(store.pool())
        .await
        .expect("mints");
    let mints: Vec<MintKey> = rows
        .iter()
        .map(|(k, _)| {
            MintKey::from_x_only_bytes(k.as_slice().try_into().expect("32 bytes")).expect("key")
        })
        .collect();
    let words: BTreeSet<String> = rows
        .iter()
        .filter_map(|(_, n)| n.as_ref())
        .flat_map(|n| n.split_whitespace())
        .filter(|w| w.len() >= 4 && w.chars().all(char::is_alphabetic))
        .map(str::to_lowercase)
        .collect();
    Samples {
        known,
        unknown,
        mints,
        words: words.into_iter().collect(),
    }
}

pub(crate) fn routes(s: &Samples, rng: &mut StdRng) -> Vec<Route> {
    let mut ys: Vec<String> = Vec::new();
    for i in 0..s.known.len().min(s.unknown.len()) {
        ys.push(format!("/v1/spent/{}", s.known[i].to_hex()));
        ys.push(format!("/v1/spent/{}", s.unknown[i].to_hex()));
    }
    ys.shuffle(rng);
    let bodies: Vec<String> = (0..500)
        .map(|b| {
            let mut batch: Vec<String> = (0..50)
                .map(|j| s.known[(b * 50 + j) % s.known.len()].to_hex())
                .chain((0..50).map(|j| s.unknown[(b * 50 + j) % s.unknown.len()].to_hex()))
                .collect();
            batch.shuffle(rng);
            serde_json::json!({ "Ys": batch }).to_string()
        })
        .collect();
    let mut keys: Vec<String> = s.mints.iter().map(|k| format!("/v1/mints/{k}")).collect();
    keys.shuffle(rng);
    let searches: Vec<String> = s.words.iter().map(|w| format!("/v1/mints?q={w}")).collect();
    vec![
        Route {
            name: "GET /healthz (baseline)",
            post: None,
            lines: vec!["/healthz".into()],
        },
        Route {
            name: "GET /v1/spent/{Y}",
            post: None,
            lines: ys,
        },
        Route {
            name: "POST /v1/spent (100 Ys)",
            post: Some("/v1/spent"),
            lines: bodies,
        },
        Route {
            name: "GET /v1/mints/{key}",
            post: None,
            lines: keys,
        },
        Route {
            name: "GET /v1/mints?q=word",
            post: None,
            lines: searches,
        },
    ]
}
