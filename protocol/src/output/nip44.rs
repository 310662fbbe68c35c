//! NIP-44 version 2 encryption, with its internals exposed so that every step can be proven
//! against the published vectors (conversation key, message keys, padded length, encryption with
//! a given nonce).
//!
//! `nostr` 0.44 keeps the message keys, the padding and nonce-given encryption private, and it
//! refuses plaintexts above 65,408 bytes, so mintwatch carries this small implementation and a
//! test cross-checks it against `nostr::nips::nip44` in both directions.
//!
//! Plaintext length: NIP-44 was amended (2026-06-28) to allow plaintexts of 65,536 bytes and
//! more. Below 65,536 the padded blob starts with the length as a big-endian `u16` (unchanged);
//! from 65,536 on it starts with two zero bytes followed by the length as a big-endian `u32`
//! (the "extended prefix", 6 bytes). The padded size is `prefix + calc_padded_len(len)` in both
//! cases. An extended prefix that carries a length below 65,536 is refused, so every plaintext has
//! exactly one valid encoding. The payload size limits of the original text (132..=87,472 base64
//! characters) keep only their lower bound.

use std::fmt;

use base64::Engine;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::ChaCha20;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secp256k1::{PublicKey, SecretKey};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The version byte of NIP-44 v2 payloads.
pub const VERSION: u8 = 2;
/// The smallest plaintext, in bytes.
pub const MIN_PLAINTEXT_LEN: usize = 1;
/// The largest plaintext, in bytes, under the extended length prefix (`u32::MAX`).
pub const MAX_PLAINTEXT_LEN: usize = u32::MAX as usize;
/// Plaintexts of at least this many bytes use the 6-byte extended length prefix.
pub const EXTENDED_PREFIX_THRESHOLD: usize = 65_536;
/// The smallest base64 payload (1-byte plaintext): 132 characters.
pub const MIN_ENCODED_PAYLOAD_LEN: usize = 132;
/// The smallest decoded payload: version, nonce, 2-byte prefix, 32 bytes of padding, MAC.
pub const MIN_DECODED_PAYLOAD_LEN: usize = 99;

const NONCE_LEN: usize = 32;
const MAC_LEN: usize = 32;

/// Why an encryption or decryption failed. None of these carries secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Nip44Error {
    /// The secret key is zero or not below the curve order.
    #[error("invalid secret key")]
    InvalidSecretKey,
    /// The public key is not the x coordinate of a curve point.
    #[error("invalid public key")]
    InvalidPublicKey,
    /// The plaintext is empty.
    #[error("plaintext is empty")]
    MessageEmpty,
    /// The plaintext is longer than [`MAX_PLAINTEXT_LEN`].
    #[error("plaintext of {0} bytes is too long")]
    MessageTooLong(usize),
    /// The payload starts with `#` or carries a version byte other than 2.
    #[error("unknown encryption version{}", .0.map(|v| format!(" {v}")).unwrap_or_default())]
    UnknownVersion(Option<u8>),
    /// The payload is too short to be a NIP-44 v2 message.
    #[error("invalid payload length {0}")]
    InvalidPayloadLength(usize),
    /// The payload is not standard padded base64.
    #[error("invalid base64")]
    InvalidBase64,
    /// The MAC does not authenticate the nonce and ciphertext (wrong key or tampering).
    #[error("invalid MAC")]
    InvalidMac,
    /// The decrypted blob is not a well-formed padded plaintext.
    #[error("invalid padding")]
    InvalidPadding,
    /// The plaintext is not UTF-8.
    #[error("plaintext is not UTF-8")]
    InvalidUtf8,
}

/// The long-term key shared by two parties: HKDF-extract(salt `nip44-v2`, ECDH x coordinate).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ConversationKey([u8; 32]);

impl fmt::Debug for ConversationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConversationKey(<secret>)")
    }
}

impl ConversationKey {
    /// Derives the key from one party's secret key and the other's x-only public key.
    pub fn derive(secret_key: &[u8; 32], public_key_x: &[u8; 32]) -> Result<Self, Nip44Error> {
        let secret = SecretKey::from_slice(secret_key).map_err(|_| Nip44Error::InvalidSecretKey)?;
        // BIP-340 keys are x-only: NIP-44 lifts them to the point with even y.
        let mut compressed = [0u8; 33];
        compressed[0] = 0x02;
        compressed[1..].copy_from_slice(public_key_x);
        let public =
            PublicKey::from_slice(&compressed).map_err(|_| Nip44Error::InvalidPublicKey)?;
        let point = secp256k1::ecdh::shared_secret_point(&public, &secret);
        let (prk, _) = Hkdf::<Sha256>::extract(Some(b"nip44-v2"), &point[..32]);
        Ok(Self(prk.into()))
    }

    /// Derives the key between a nostr key pair and a peer's public key.
    pub fn from_keys(keys: &nostr::Keys, peer: &nostr::PublicKey) -> Result<Self, Nip44Error> {
        Self::derive(&keys.secret_key().to_secret_bytes(), &peer.to_bytes())
    }

    /// Wraps 32 bytes that already are a conversation key.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The per-message keys expanded from the conversation key and the message nonce.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageKeys {
    /// ChaCha20 key.
    pub chacha_key: [u8; 32],
    /// ChaCha20 (IETF, 12-byte) nonce.
    pub chacha_nonce: [u8; 12],
    /// HMAC-SHA256 key.
    pub hmac_key: [u8; 32],
}

impl fmt::Debug for MessageKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MessageKeys(<secret>)")
    }
}

/// HKDF-expand(conversation key, info = nonce, 76 bytes), split 32/12/32.
pub fn message_keys(conversation_key: &ConversationKey, nonce: &[u8; 32]) -> MessageKeys {
    let mut okm = [0u8; 76];
    // A 32-byte PRK is exactly SHA-256's output size, and 76 bytes is far below HKDF's
    // 255 × 32 limit, so neither step can fail; the fallbacks only keep this panic-free.
    if let Ok(hk) = Hkdf::<Sha256>::from_prk(conversation_key.as_bytes()) {
        if hk.expand(nonce, &mut okm).is_err() {
            okm = [0u8; 76];
        }
    }
    let mut keys = MessageKeys {
        chacha_key: [0u8; 32],
        chacha_nonce: [0u8; 12],
        hmac_key: [0u8; 32],
    };
    keys.chacha_key.copy_from_slice(&okm[..32]);
    keys.chacha_nonce.copy_from_slice(&okm[32..44]);
    keys.hmac_key.copy_from_slice(&okm[44..76]);
    keys
}

/// The padded length of a plaintext of `unpadded_len` bytes (without the length prefix):
/// at least 32, then chunks of 32 up to 256 and of one eighth of the next power of two above.
pub fn calc_padded_len(unpadded_len: usize) -> usize {
    let len = unpadded_len as u64;
    if len <= 32 {
        return 32;
    }
    let next_power = 1u64 << (64 - (len - 1).leading_zeros());
    let chunk = if next_power <= 256 {
        32
    } else {
        next_power / 8
    };
    let padded = chunk * ((len - 1) / chunk + 1);
    usize::try_from(padded).unwrap_or(usize::MAX)
}

/// `[length prefix][plaintext][zeros]`, the prefix being a `u16`, or `[0, 0]` and a `u32` from
/// [`EXTENDED_PREFIX_THRESHOLD`] on.
pub fn pad(plaintext: &[u8]) -> Result<Vec<u8>, Nip44Error> {
    let len = plaintext.len();
    if len < MIN_PLAINTEXT_LEN {
        return Err(Nip44Error::MessageEmpty);
    }
    let prefix: Vec<u8> = if let Ok(short) = u16::try_from(len) {
        short.to_be_bytes().to_vec()
    } else {
        let long = u32::try_from(len).map_err(|_| Nip44Error::MessageTooLong(len))?;
        let mut p = vec![0u8, 0u8];
        p.extend_from_slice(&long.to_be_bytes());
        p
    };
    let padded_len = calc_padded_len(len);
    let mut out = Vec::with_capacity(prefix.len() + padded_len);
    out.extend_from_slice(&prefix);
    out.extend_from_slice(plaintext);
    out.resize(prefix.len() + padded_len, 0);
    Ok(out)
}

/// Reverses [`pad`], refusing any blob that [`pad`] would not have produced from its length
/// (wrong size, zero length, an extended prefix for a short plaintext).
pub fn unpad(padded: &[u8]) -> Result<&[u8], Nip44Error> {
    let short = padded
        .get(..2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or(Nip44Error::InvalidPadding)?;
    let (prefix_len, len) = if short != 0 {
        (2usize, usize::from(short))
    } else {
        let long = padded
            .get(2..6)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or(Nip44Error::InvalidPadding)?;
        let long = usize::try_from(long).map_err(|_| Nip44Error::InvalidPadding)?;
        if long < EXTENDED_PREFIX_THRESHOLD {
            return Err(Nip44Error::InvalidPadding);
        }
        (6usize, long)
    };
    if padded.len() != prefix_len.saturating_add(calc_padded_len(len)) {
        return Err(Nip44Error::InvalidPadding);
    }
    padded
        .get(prefix_len..prefix_len + len)
        .ok_or(Nip44Error::InvalidPadding)
}

fn mac(keys: &MessageKeys, nonce: &[u8], ciphertext: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length: `new_from_slice` cannot fail, but stays panic-free.
    let mut m = <HmacSha256 as Mac>::new_from_slice(&keys.hmac_key)
        .unwrap_or_else(|_| <HmacSha256 as Mac>::new(&Default::default()));
    m.update(nonce);
    m.update(ciphertext);
    m
}

fn apply_chacha(keys: &MessageKeys, buf: &mut [u8]) -> Result<(), Nip44Error> {
    let mut cipher = ChaCha20::new(&keys.chacha_key.into(), &keys.chacha_nonce.into());
    // The 32-bit block counter covers 256 GiB, far above a u32-length plaintext.
    cipher
        .try_apply_keystream(buf)
        .map_err(|_| Nip44Error::MessageTooLong(buf.len()))
}

/// Encrypts with a caller-chosen nonce (for vectors); the result is the base64 payload.
/// Use [`encrypt`] otherwise: a nonce must never be reused with the same conversation key.
pub fn encrypt_with_nonce(
    conversation_key: &ConversationKey,
    plaintext: &[u8],
    nonce: &[u8; 32],
) -> Result<String, Nip44Error> {
    let keys = message_keys(conversation_key, nonce);
    let mut buf = pad(plaintext)?;
    apply_chacha(&keys, &mut buf)?;
    let tag = mac(&keys, nonce, &buf).finalize().into_bytes();
    let mut payload = Vec::with_capacity(1 + NONCE_LEN + buf.len() + MAC_LEN);
    payload.push(VERSION);
    payload.extend_from_slice(nonce);
    payload.extend_from_slice(&buf);
    payload.extend_from_slice(&tag);
    Ok(base64::engine::general_purpose::STANDARD.encode(payload))
}

/// Encrypts with a fresh random nonce from the operating system.
pub fn encrypt(conversation_key: &ConversationKey, plaintext: &[u8]) -> Result<String, Nip44Error> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    encrypt_with_nonce(conversation_key, plaintext, &nonce)
}

/// Decrypts a base64 payload to bytes: version, MAC (checked in constant time, before
/// decrypting), then padding.
pub fn decrypt_to_bytes(
    conversation_key: &ConversationKey,
    payload: &str,
) -> Result<Vec<u8>, Nip44Error> {
    // `#` is NIP-44's reserved "future encoding" marker; an empty payload is refused by length,
    // as the vectors name it.
    if payload.starts_with('#') {
        return Err(Nip44Error::UnknownVersion(None));
    }
    if payload.len() < MIN_ENCODED_PAYLOAD_LEN {
        return Err(Nip44Error::InvalidPayloadLength(payload.len()));
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .map_err(|_| Nip44Error::InvalidBase64)?;
    if data.len() < MIN_DECODED_PAYLOAD_LEN {
        return Err(Nip44Error::InvalidPayloadLength(data.len()));
    }
    if data[0] != VERSION {
        return Err(Nip44Error::UnknownVersion(Some(data[0])));
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&data[1..1 + NONCE_LEN]);
    let (body, tag) = data[1 + NONCE_LEN..].split_at(data.len() - 1 - NONCE_LEN - MAC_LEN);
    let keys = message_keys(conversation_key, &nonce);
    mac(&keys, &nonce, body)
        .verify_slice(tag)
        .map_err(|_| Nip44Error::InvalidMac)?;
    let mut buf = body.to_vec();
    apply_chacha(&keys, &mut buf)?;
    Ok(unpad(&buf)?.to_vec())
}

/// Decrypts a base64 payload to a UTF-8 string.
pub fn decrypt(conversation_key: &ConversationKey, payload: &str) -> Result<String, Nip44Error> {
    String::from_utf8(decrypt_to_bytes(conversation_key, payload)?)
        .map_err(|_| Nip44Error::InvalidUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_round_trips_across_the_prefix_threshold() {
        for len in [1usize, 32, 33, 65_535, 65_536, 70_000] {
            let msg = vec![b'x'; len];
            let padded = pad(&msg).expect("pad");
            let expected_prefix = if len < EXTENDED_PREFIX_THRESHOLD {
                2
            } else {
                6
            };
            assert_eq!(padded.len(), expected_prefix + calc_padded_len(len));
            assert_eq!(unpad(&padded).expect("unpad"), &msg[..]);
        }
        assert_eq!(pad(&[]), Err(Nip44Error::MessageEmpty));
    }

    #[test]
    fn extended_prefix_for_a_short_message_is_refused() {
        let mut blob = vec![0u8, 0, 0, 0, 0, 5];
        blob.extend_from_slice(b"hello");
        blob.resize(6 + calc_padded_len(5), 0);
        assert_eq!(unpad(&blob), Err(Nip44Error::InvalidPadding));
    }
}
