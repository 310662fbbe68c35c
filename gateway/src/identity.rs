//! The mint's identity: its NUT-06 `/v1/info`, the check that the gateway's key is the mint's
//! (`pubkey[2..]` is the key's x-only public key), and the events that say so on nostr: the 11467
//! (base64 CBOR of the info, PROTOCOL.md §2.2) and the NIP-87 38172 announcement.

use std::time::Duration;

use nostr::{EventBuilder, Keys, Kind, Tag, Timestamp};
use serde_json::Value;

use mintwatch_protocol::broadcast::MintInfo;
use mintwatch_protocol::kinds::{MINT_ANNOUNCEMENT, MINT_INFO};

use crate::error::Error;

/// Fetches `/v1/info` and drops the fields that change on every call (`time`), so two answers
/// compare equal when the mint's information did not change.
pub async fn fetch_info(http: &reqwest::Client, mint_url: &url::Url) -> Result<Value, Error> {
    let url = mint_url
        .join("v1/info")
        .map_err(|e| Error::Config(format!("mint URL {mint_url}: {e}")))?;
    let response = http
        .get(url.clone())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| Error::MintApi(format!("GET {url}: {e}")))?;
    if !response.status().is_success() {
        return Err(Error::MintApi(format!(
            "GET {url}: HTTP {}",
            response.status()
        )));
    }
    let mut info: Value = response
        .json()
        .await
        .map_err(|e| Error::MintApi(format!("GET {url}: not JSON: {e}")))?;
    match info.as_object_mut() {
        Some(map) => {
            map.remove("time");
        }
        None => return Err(Error::MintApi(format!("GET {url}: not a JSON object"))),
    }
    Ok(info)
}

/// Checks that `keys` is the key of the mint whose info this is.
pub fn check(info: &Value, keys: &Keys) -> Result<(), Error> {
    let ours = keys.public_key().to_hex();
    let theirs = info
        .get("pubkey")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    let theirs_x = if theirs.len() == 66 && (theirs.starts_with("02") || theirs.starts_with("03")) {
        theirs[2..].to_string()
    } else {
        String::from("(none: the mint shows no compressed pubkey)")
    };
    if theirs_x == ours {
        Ok(())
    } else {
        Err(Error::IdentityMismatch {
            ours,
            theirs: if theirs.is_empty() {
                "(none)".to_string()
            } else {
                theirs
            },
            theirs_x,
        })
    }
}

/// The kind 11467 identity event: content = base64 CBOR of the info.
pub fn info_event(keys: &Keys, info: &Value, created_at: u64) -> Result<nostr::Event, Error> {
    EventBuilder::new(Kind::Custom(MINT_INFO), MintInfo::encode_content(info))
        .custom_created_at(Timestamp::from(created_at))
        .sign_with_keys(keys)
        .map_err(|e| Error::Event(e.to_string()))
}

/// The NIP-87 kind 38172 announcement: `d` = the mint's key, `u` = its URLs (the info's `urls`,
/// else the URL the gateway reaches it at), `nuts`, `n`; content = the info as JSON.
pub fn announcement_event(
    keys: &Keys,
    info: &Value,
    mint_url: &url::Url,
    network: &str,
    created_at: u64,
) -> Result<nostr::Event, Error> {
    let tag =
        |parts: &[&str]| Tag::parse(parts.iter().copied()).map_err(|e| Error::Event(e.to_string()));
    let mut tags = vec![tag(&["d", &keys.public_key().to_hex()])?];
    let mut urls: Vec<String> = info
        .get("urls")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if urls.is_empty() {
        urls.push(mint_url.as_str().trim_end_matches('/').to_string());
    }
    for u in &urls {
        tags.push(tag(&["u", u])?);
    }
    let mut nuts: Vec<u32> = info
        .get("nuts")
        .and_then(Value::as_object)
        .map(|m| m.keys().filter_map(|k| k.parse().ok()).collect())
        .unwrap_or_default();
    nuts.sort_unstable();
    let nuts: Vec<String> = nuts.iter().map(u32::to_string).collect();
    tags.push(tag(&["nuts", &nuts.join(",")])?);
    tags.push(tag(&["n", network])?);
    EventBuilder::new(Kind::Custom(MINT_ANNOUNCEMENT), info.to_string())
        .tags(tags)
        .custom_created_at(Timestamp::from(created_at))
        .sign_with_keys(keys)
        .map_err(|e| Error::Event(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use mintwatch_protocol::SignedEvent;

    fn info_for(keys: &Keys) -> Value {
        serde_json::json!({
            "name": "test mint",
            "pubkey": format!("02{}", keys.public_key().to_hex()),
            "nuts": {"4": {"methods": []}, "7": {"supported": true}, "12": {"supported": true}},
        })
    }

    #[test]
    fn the_mints_key_passes_and_another_is_refused_naming_both() {
        let keys = Keys::generate();
        check(&info_for(&keys), &keys).expect("same key");
        let other = Keys::generate();
        let e = check(&info_for(&other), &keys)
            .expect_err("other key")
            .to_string();
        assert!(e.contains(&keys.public_key().to_hex()), "{e}");
        assert!(e.contains(&other.public_key().to_hex()), "{e}");
        let e = check(&serde_json::json!({"name": "x"}), &keys)
            .expect_err("no pubkey")
            .to_string();
        assert!(e.contains("none"), "{e}");
    }

    #[test]
    fn the_events_parse_as_the_indexer_reads_them() {
        use nostr::JsonUtil;
        let keys = Keys::generate();
        let info = info_for(&keys);
        let e = info_event(&keys, &info, 1_700_000_000).expect("11467");
        let signed = SignedEvent::from_json(&e.as_json()).expect("parses");
        let parsed = MintInfo::parse(&signed).expect("11467 parses");
        assert_eq!(parsed.signer_matches(&signed.pubkey), Some(true));
        assert_eq!(parsed.nuts, vec![4, 7, 12]);
        let url = url::Url::parse("http://127.0.0.1:3338/").expect("url");
        let a = announcement_event(&keys, &info, &url, "regtest", 1_700_000_000).expect("38172");
        let signed = SignedEvent::from_json(&a.as_json()).expect("parses");
        let ann = mintwatch_protocol::nip87::MintAnnouncement::parse(&signed).expect("38172");
        assert_eq!(ann.nuts, vec![4, 7, 12]);
        assert_eq!(ann.urls.len(), 1);
        assert_eq!(ann.urls[0].as_str(), "http://127.0.0.1:3338");
    }
}
