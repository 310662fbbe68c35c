//! NIP-44 v2 against `nip44.vectors.json` (paulmillr/nip44, the checksum NIP-44 quotes), every
//! valid and invalid section, plus a cross-check against `nostr::nips::nip44`.
//!
//! `invalid.encrypt_msg_lengths` predates the 2026-06-28 amendment of NIP-44 (extended length
//! prefix): its lengths above 65,535 are now valid, so they are checked to be ACCEPTED and to
//! round-trip; the others must still be refused (see `tests/vectors/SOURCES.md`).

mod common;

use mintwatch_protocol::output::nip44::{
    self, calc_padded_len, message_keys, ConversationKey, Nip44Error, EXTENDED_PREFIX_THRESHOLD,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

const FILE: &str = "nip44.vectors.json";

fn v2() -> Value {
    let all = common::load_json(FILE);
    all.get("v2").cloned().expect("the file has a v2 object")
}

fn section<'a>(root: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(root, |v, k| {
        v.get(k)
            .unwrap_or_else(|| panic!("section {} is missing", path.join(".")))
    })
}

fn entries<'a>(root: &'a Value, path: &[&str]) -> &'a Vec<Value> {
    let list = section(root, path)
        .as_array()
        .unwrap_or_else(|| panic!("section {} is not an array", path.join(".")));
    assert!(!list.is_empty(), "section {} is empty", path.join("."));
    list
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("field {k} is missing in {v}"))
}

fn b32(v: &Value, k: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s(v, k), &mut out).unwrap_or_else(|e| panic!("{k}: {e}"));
    out
}

fn x_only_of(secret: &[u8; 32]) -> [u8; 32] {
    let sk = secp256k1::SecretKey::from_slice(secret).expect("valid secret");
    let pk = secp256k1::PublicKey::from_secret_key(secp256k1::SECP256K1, &sk);
    pk.x_only_public_key().0.serialize()
}

fn report(name: &str, n: usize) {
    common::report(&format!("{FILE} {name}"), n);
}

#[test]
fn valid_get_conversation_key() {
    let v = v2();
    let list = entries(&v, &["valid", "get_conversation_key"]);
    let mut n = 0;
    for e in list {
        let ck = ConversationKey::derive(&b32(e, "sec1"), &b32(e, "pub2")).expect("derive");
        assert_eq!(hex::encode(ck.as_bytes()), s(e, "conversation_key"));
        // nostr's own derivation agrees.
        let sk = nostr::SecretKey::from_slice(&b32(e, "sec1")).expect("nostr secret");
        let pk = nostr::PublicKey::from_slice(&b32(e, "pub2")).expect("nostr public");
        let theirs = nostr::nips::nip44::v2::ConversationKey::derive(&sk, &pk).expect("nostr");
        assert_eq!(theirs.as_bytes(), ck.as_bytes());
        n += 1;
    }
    assert_eq!(n, list.len());
    report("valid.get_conversation_key", n);
}

#[test]
fn valid_get_message_keys() {
    let v = v2();
    let sec = section(&v, &["valid", "get_message_keys"]);
    let ck = ConversationKey::from_bytes(b32(sec, "conversation_key"));
    let list = entries(sec, &["keys"]);
    let mut n = 0;
    for e in list {
        let keys = message_keys(&ck, &b32(e, "nonce"));
        assert_eq!(hex::encode(keys.chacha_key), s(e, "chacha_key"));
        assert_eq!(hex::encode(keys.chacha_nonce), s(e, "chacha_nonce"));
        assert_eq!(hex::encode(keys.hmac_key), s(e, "hmac_key"));
        n += 1;
    }
    report("valid.get_message_keys", n);
}

#[test]
fn valid_calc_padded_len() {
    let v = v2();
    let list = entries(&v, &["valid", "calc_padded_len"]);
    let mut n = 0;
    for e in list {
        let pair = e.as_array().expect("a [len, padded] pair");
        let len = pair[0].as_u64().expect("len") as usize;
        let padded = pair[1].as_u64().expect("padded") as usize;
        assert_eq!(calc_padded_len(len), padded, "calc_padded_len({len})");
        n += 1;
    }
    report("valid.calc_padded_len", n);
}

#[test]
fn valid_encrypt_decrypt() {
    let v = v2();
    let list = entries(&v, &["valid", "encrypt_decrypt"]);
    let mut n = 0;
    for e in list {
        let (sec1, sec2) = (b32(e, "sec1"), b32(e, "sec2"));
        let ck = ConversationKey::derive(&sec1, &x_only_of(&sec2)).expect("derive");
        assert_eq!(hex::encode(ck.as_bytes()), s(e, "conversation_key"));
        let other_side = ConversationKey::derive(&sec2, &x_only_of(&sec1)).expect("derive");
        assert_eq!(other_side, ck, "the conversation key is symmetric");

        let plaintext = s(e, "plaintext");
        let payload = nip44::encrypt_with_nonce(&ck, plaintext.as_bytes(), &b32(e, "nonce"))
            .expect("encrypt");
        assert_eq!(payload, s(e, "payload"));
        assert_eq!(nip44::decrypt(&ck, &payload).expect("decrypt"), plaintext);

        // Cross-check with nostr in both directions.
        let nsk1 = nostr::SecretKey::from_slice(&sec1).expect("sk");
        let nsk2 = nostr::SecretKey::from_slice(&sec2).expect("sk");
        let npk1 = nostr::PublicKey::from_slice(&x_only_of(&sec1)).expect("pk");
        let npk2 = nostr::PublicKey::from_slice(&x_only_of(&sec2)).expect("pk");
        assert_eq!(
            nostr::nips::nip44::decrypt(&nsk2, &npk1, &payload).expect("nostr decrypt"),
            plaintext
        );
        let theirs =
            nostr::nips::nip44::encrypt(&nsk1, &npk2, plaintext, nostr::nips::nip44::Version::V2)
                .expect("nostr encrypt");
        assert_eq!(
            nip44::decrypt(&other_side, &theirs).expect("ours"),
            plaintext
        );
        n += 1;
    }
    report("valid.encrypt_decrypt", n);
}

#[test]
fn valid_encrypt_decrypt_long_msg() {
    let v = v2();
    let list = entries(&v, &["valid", "encrypt_decrypt_long_msg"]);
    let mut n = 0;
    for e in list {
        let repeat: usize = match e.get("repeat") {
            Some(Value::String(r)) => r.parse().expect("repeat"),
            Some(Value::Number(r)) => r.as_u64().expect("repeat") as usize,
            other => panic!("repeat: {other:?}"),
        };
        let plaintext = s(e, "pattern").repeat(repeat);
        assert_eq!(
            hex::encode(Sha256::digest(plaintext.as_bytes())),
            s(e, "plaintext_sha256")
        );
        let ck = ConversationKey::from_bytes(b32(e, "conversation_key"));
        let payload = nip44::encrypt_with_nonce(&ck, plaintext.as_bytes(), &b32(e, "nonce"))
            .expect("encrypt");
        assert_eq!(
            hex::encode(Sha256::digest(payload.as_bytes())),
            s(e, "payload_sha256")
        );
        assert_eq!(nip44::decrypt(&ck, &payload).expect("decrypt"), plaintext);
        n += 1;
    }
    report("valid.encrypt_decrypt_long_msg", n);
}

#[test]
fn invalid_encrypt_msg_lengths() {
    let v = v2();
    let list = entries(&v, &["invalid", "encrypt_msg_lengths"]);
    let ck = ConversationKey::from_bytes([7u8; 32]);
    let (mut refused, mut now_accepted) = (0, 0);
    for e in list {
        let len = e.as_u64().expect("a length") as usize;
        let msg = vec![b'a'; len];
        let result = nip44::encrypt_with_nonce(&ck, &msg, &[1u8; 32]);
        if len > 65_535 {
            // Valid since the extended length prefix (NIP-44, 2026-06-28).
            let payload = result.unwrap_or_else(|e| panic!("length {len} must be accepted: {e}"));
            assert!(len >= EXTENDED_PREFIX_THRESHOLD);
            assert_eq!(
                nip44::decrypt_to_bytes(&ck, &payload).expect("decrypt"),
                msg
            );
            now_accepted += 1;
        } else {
            assert!(result.is_err(), "length {len} must be refused");
            refused += 1;
        }
    }
    assert_eq!(refused + now_accepted, list.len());
    report("invalid.encrypt_msg_lengths (refused)", refused);
    report(
        "invalid.encrypt_msg_lengths (above 65535, now accepted)",
        now_accepted,
    );
}

#[test]
fn invalid_get_conversation_key() {
    let v = v2();
    let list = entries(&v, &["invalid", "get_conversation_key"]);
    let mut n = 0;
    for e in list {
        let r = ConversationKey::derive(&b32(e, "sec1"), &b32(e, "pub2"));
        assert!(
            matches!(
                r,
                Err(Nip44Error::InvalidSecretKey) | Err(Nip44Error::InvalidPublicKey)
            ),
            "{}: {r:?}",
            s(e, "note")
        );
        n += 1;
    }
    report("invalid.get_conversation_key", n);
}

#[test]
fn invalid_decrypt() {
    let v = v2();
    let list = entries(&v, &["invalid", "decrypt"]);
    let mut n = 0;
    for e in list {
        let ck = ConversationKey::from_bytes(b32(e, "conversation_key"));
        let note = s(e, "note");
        let r = nip44::decrypt(&ck, s(e, "payload"));
        // The note names the reason; the error must be that reason, not just any failure.
        let expected = |err: &Nip44Error| match err {
            Nip44Error::UnknownVersion(_) => note.starts_with("unknown encryption version"),
            Nip44Error::InvalidBase64 => note.starts_with("invalid base64"),
            Nip44Error::InvalidMac => note.starts_with("invalid MAC"),
            Nip44Error::InvalidPadding => note.starts_with("invalid padding"),
            Nip44Error::InvalidPayloadLength(_) => note.starts_with("invalid payload length"),
            _ => false,
        };
        match &r {
            Err(err) => assert!(expected(err), "{note}: failed with {err:?}"),
            Ok(p) => panic!("{note}: decrypted to {p:?}"),
        }
        n += 1;
    }
    report("invalid.decrypt", n);
}

#[test]
fn ours_and_nostrs_agree_on_random_messages() {
    let a = nostr::Keys::generate();
    let b = nostr::Keys::generate();
    let ck = ConversationKey::from_keys(&a, &b.public_key()).expect("ck");
    let mut n = 0;
    for len in [1usize, 31, 32, 33, 255, 256, 257, 1000, 65_000] {
        let msg: String = "é".repeat(len / 2) + &"z".repeat(len % 2);
        let ours = nip44::encrypt(&ck, msg.as_bytes()).expect("encrypt");
        let back = nostr::nips::nip44::decrypt(b.secret_key(), &a.public_key(), &ours)
            .expect("nostr decrypts ours");
        assert_eq!(back, msg);
        n += 1;
    }
    assert_eq!(n, 9);
    println!("cross-check with nostr::nips::nip44: {n} messages");
}
