//! Reproducible signing: BIP-340 takes 32 bytes of auxiliary randomness per signature, and
//! `nostr`'s `sign_with_keys` draws them from the OS. The simulator passes its own ChaCha20 stream
//! instead, seeded from the simulation seed and the event id, so signatures (not only ids) are the
//! same on every run and independent of the order in which events are signed.

use nostr::{EventBuilder, Keys, Kind, Tag, Timestamp};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use secp256k1::SECP256K1;

use mintwatch_protocol::event::{compute_id, SignedEvent};

use crate::wallet::derive;

/// Builds and signs one event. Tags are given as plain string lists (name first).
pub(crate) fn sign(
    aux_seed: &[u8; 32],
    keys: &Keys,
    kind: u16,
    content: String,
    tags: Vec<Vec<String>>,
    created_at: u64,
) -> SignedEvent {
    // The aux stream is keyed by the NIP-01 id, computed here from the same fields nostr hashes.
    let id = compute_id(
        &keys.public_key().to_bytes(),
        created_at,
        kind,
        &tags,
        &content,
    );
    let mut aux = ChaCha20Rng::from_seed(derive("aux", &[aux_seed, &id.0]));
    #[allow(clippy::expect_used)]
    let tags: Vec<Tag> = tags
        .into_iter()
        .map(|t| Tag::parse(t).expect("every simulated tag has a name"))
        .collect();
    let unsigned = EventBuilder::new(Kind::from(kind), content)
        .tags(tags)
        .custom_created_at(Timestamp::from_secs(created_at))
        .build(keys.public_key());
    #[allow(clippy::expect_used)]
    let event = unsigned
        .sign_with_ctx(SECP256K1, &mut aux, keys)
        .expect("signing an event whose id was computed from its own fields cannot fail");
    SignedEvent::from(&event)
}
