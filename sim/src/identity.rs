//! What a simulated mint says about itself: its NUT-06 `GetInfoResponse` (the 11467 content) and
//! the tags of its NIP-87 announcements (38172).

use serde_json::{json, Value};

use mintwatch_protocol::{MintKey, MintUrl, Point, Unit};

/// The NUTs every simulated mint lists in its announcements.
pub(crate) const NUTS: &str = "1,2,3,4,5,7,8,9,10,11,12";

/// A NUT-06 `/v1/info` response whose `pubkey` is `pubkey` (compressed).
pub(crate) fn info_json(name: &str, pubkey: &Point, url: &MintUrl, units: &[Unit]) -> Value {
    let methods: Vec<Value> = units
        .iter()
        .map(|u| json!({"method": "bolt11", "unit": u.as_str()}))
        .collect();
    json!({
        "name": name,
        "pubkey": pubkey.to_hex(),
        "version": "mintwatch-sim/0.1.0",
        "description": format!("{name}, a simulated Cashu mint"),
        "urls": [url.as_str()],
        "contact": [],
        "motd": "simulated: not a real mint",
        "nuts": {
            "4": {"methods": methods, "disabled": false},
            "5": {"methods": methods, "disabled": false},
            "7": {"supported": true},
            "8": {"supported": true},
            "9": {"supported": true},
            "10": {"supported": true},
            "11": {"supported": true},
            "12": {"supported": true},
        },
    })
}

/// The tags of a 38172 whose `d` is `d` (a mint key in either form).
pub(crate) fn announcement_tags(d: String, url: &MintUrl) -> Vec<Vec<String>> {
    vec![
        vec!["d".into(), d],
        vec!["u".into(), url.as_str().into()],
        vec!["nuts".into(), NUTS.into()],
        vec!["n".into(), "mainnet".into()],
    ]
}

/// The kind-0 style content of a 38172.
pub(crate) fn announcement_content(name: &str) -> String {
    json!({"name": name, "about": format!("{name}, a simulated Cashu mint")}).to_string()
}

/// The `a` coordinate of the 38172 that `announcer` published about `mint`.
pub(crate) fn coordinate(announcer: &str, mint: &MintKey) -> String {
    format!("38172:{announcer}:{}", mint.to_hex())
}
