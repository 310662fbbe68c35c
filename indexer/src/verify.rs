//! Verify: drop duplicates before any crypto, check ids and signatures in parallel on rayon, and
//! parse the content of what passed into typed values. Only verified, parsed events go on.

use std::collections::HashSet;

use rayon::prelude::*;

use mintwatch_protocol::broadcast::{CashuData, FinEpoch, MintInfo};
use mintwatch_protocol::event::verify_batch_by;
use mintwatch_protocol::nip87::{
    AnnouncedMint, Deletion, FedimintAnnouncement, MintAnnouncement, Recommendation,
};
use mintwatch_protocol::{kinds, ParseError, Reason, SignedEvent};

use crate::pipeline::{Content, Rejection, RelayUrl, Verified};

/// An event whose JSON parsed, not yet checked.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The event.
    pub event: SignedEvent,
    /// Its JSON, verbatim.
    pub json: Box<str>,
    /// The relay that delivered it.
    pub relay: RelayUrl,
}

/// Parses raw event JSON on the current rayon pool. Refusals come back with their reason.
pub fn decode(raw: Vec<(RelayUrl, Box<str>)>) -> (Vec<Decoded>, Vec<Rejection>) {
    let results: Vec<Result<Decoded, Rejection>> = raw
        .into_par_iter()
        .map(|(relay, json)| match SignedEvent::from_json(&json) {
            Ok(event) => Ok(Decoded { event, json, relay }),
            Err(e) => Err(Rejection {
                relay,
                reason: e.reason.label().to_string(),
                kind: None,
            }),
        })
        .collect();
    split(results)
}

fn split<T>(results: Vec<Result<T, Rejection>>) -> (Vec<T>, Vec<Rejection>) {
    let mut ok = Vec::with_capacity(results.len());
    let mut rejected = Vec::new();
    for r in results {
        match r {
            Ok(v) => ok.push(v),
            Err(e) => rejected.push(e),
        }
    }
    (ok, rejected)
}

/// A digest of every field of an event (id, signature, author, time, kind, tags, content).
pub type Digest = [u8; 32];

/// What dedup knows of an event's digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// An identical copy verified: this one is a duplicate, and a sighting of that event.
    Verified,
    /// An identical copy is being verified: this one is a sighting only if that copy verifies.
    Pending,
    /// Not seen recently: now pending, and it must be verified and then settled.
    New,
}

/// Remembers recently verified events in two generations, so memory stays bounded: when the
/// current generation is full it becomes the previous one and the oldest are forgotten (the
/// store answers for those).
///
/// An event is remembered by a digest of *every* field, not by its id or signature: a relay can
/// send a copy of a real event with a broken signature, or with the real id and signature but
/// another `created_at` or content, before an honest relay sends the real one. Keyed by id (or
/// id and signature), the copy would be refused and the real event then dropped as its
/// duplicate. And only a digest whose event *verified* hides its later copies: copies of a digest
/// still being verified wait for its outcome ([`Seen::Pending`]), so a relay that repeats a copy
/// that fails is refused each time, never counted as a relay that carries the event.
#[derive(Debug)]
pub struct Dedup {
    current: HashSet<Digest>,
    previous: HashSet<Digest>,
    /// Digests handed to verification and not yet settled (bounded by the batches in flight).
    pending: HashSet<Digest>,
    capacity: usize,
}

impl Dedup {
    /// A dedup that remembers between `capacity` and `2 × capacity` verified events.
    pub fn new(capacity: usize) -> Self {
        Self {
            current: HashSet::with_capacity(capacity.min(1 << 16)),
            previous: HashSet::new(),
            pending: HashSet::new(),
            capacity: capacity.max(1),
        }
    }

    /// The digest dedup remembers `event` by.
    pub fn digest(event: &SignedEvent) -> Digest {
        use sha2::{Digest as _, Sha256};
        let mut h = Sha256::new();
        h.update(event.id.0);
        h.update(event.sig);
        h.update(event.pubkey);
        h.update(event.created_at.to_le_bytes());
        h.update(event.kind.to_le_bytes());
        // Lengths before contents, so no two different tag lists or contents hash alike.
        h.update((event.tags.len() as u64).to_le_bytes());
        for tag in &event.tags {
            h.update((tag.len() as u64).to_le_bytes());
            for value in tag {
                h.update((value.len() as u64).to_le_bytes());
                h.update(value.as_bytes());
            }
        }
        h.update((event.content.len() as u64).to_le_bytes());
        h.update(event.content.as_bytes());
        h.finalize().into()
    }

    /// What is known of `digest`; a [`Seen::New`] one is pending from now on.
    pub fn admit(&mut self, digest: Digest) -> Seen {
        if self.is_verified(&digest) {
            Seen::Verified
        } else if !self.pending.insert(digest) {
            Seen::Pending
        } else {
            Seen::New
        }
    }

    /// Records whether the pending event of `digest` verified; only then does it hide copies.
    pub fn settle(&mut self, digest: Digest, verified: bool) {
        self.pending.remove(&digest);
        if !verified || self.is_verified(&digest) {
            return;
        }
        if self.current.len() >= self.capacity {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(digest);
    }

    /// Whether an event with this digest verified recently.
    pub fn is_verified(&self, digest: &Digest) -> bool {
        self.current.contains(digest) || self.previous.contains(digest)
    }
}

/// The mint keys known so far: signers of parsed 4919s and 11467s, and of self-signed 38172s.
/// Kind 1337 is read only from these keys (other apps use kind 1337).
#[derive(Debug, Default, Clone)]
pub struct KnownMintKeys(HashSet<[u8; 32]>);

impl KnownMintKeys {
    /// From keys already in the store.
    pub fn from_keys(keys: impl IntoIterator<Item = [u8; 32]>) -> Self {
        Self(keys.into_iter().collect())
    }

    /// Whether `key` is a known mint key.
    pub fn contains(&self, key: &[u8; 32]) -> bool {
        self.0.contains(key)
    }

    /// Adds a key; returns `true` if it is new.
    pub fn insert(&mut self, key: [u8; 32]) -> bool {
        self.0.insert(key)
    }

    /// How many keys are known.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no key is known.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What [`verify_and_parse`] returns.
#[derive(Debug, Default)]
pub struct Checked {
    /// Verified, parsed events in input order.
    pub verified: Vec<Verified>,
    /// Whether each input's id and signature verified (content parsed or not), in input order.
    pub authentic: Vec<bool>,
    /// Refusals with their reasons.
    pub rejections: Vec<Rejection>,
    /// Mint keys seen for the first time in this batch.
    pub new_mint_keys: Vec<[u8; 32]>,
}

/// The mint key a verified, parsed event proves exists: the signer of a 4919 or 11467 whose
/// content parsed, or of a 38172 it signed about itself (`d` is its own key). A 38172 naming
/// another key proves nothing about that key (anyone can sign one), and neither does an event
/// whose content does not parse.
fn mint_key_of(v: &Verified) -> Option<[u8; 32]> {
    match &v.content {
        Content::CashuData(_) | Content::MintInfo(_) => Some(v.event.pubkey),
        Content::MintAnnouncement(a) => match &a.mint {
            AnnouncedMint::Key(k) if *k.as_bytes() == v.event.pubkey => Some(v.event.pubkey),
            _ => None,
        },
        _ => None,
    }
}

/// Parses a verified event's content by kind.
pub fn parse_content(event: &SignedEvent, known: &KnownMintKeys) -> Result<Content, ParseError> {
    Ok(match event.kind {
        kinds::MINT_ANNOUNCEMENT => Content::MintAnnouncement(MintAnnouncement::parse(event)?),
        kinds::FEDIMINT_ANNOUNCEMENT => {
            Content::FedimintAnnouncement(FedimintAnnouncement::parse(event)?)
        }
        kinds::RECOMMENDATION => Content::Recommendation(Recommendation::parse(event)?),
        kinds::DELETION => Content::Deletion(Deletion::parse(event)?),
        kinds::MINT_INFO => Content::MintInfo(MintInfo::parse(event)?),
        kinds::CASHU_DATA => Content::CashuData(CashuData::parse(event)?),
        kinds::FIN_EPOCH if known.contains(&event.pubkey) => {
            Content::FinEpoch(FinEpoch::parse(event)?)
        }
        kinds::FIN_EPOCH => {
            return Err(ParseError::new(
                "pubkey",
                Reason::NotForUs("kind 1337 from a key that is not a known mint".into()),
            ))
        }
        other => {
            return Err(ParseError::new(
                "kind",
                Reason::NotForUs(format!("kind {other} is not read")),
            ))
        }
    })
}

/// Checks ids and signatures of a deduplicated batch in parallel, parses every verified event's
/// content in parallel, and learns mint keys from what parsed ([`mint_key_of`]). Kind 1337 is
/// parsed last, with the keys this batch taught, so a 1337 in the same batch as its mint's first
/// 4919 is read.
pub fn verify_and_parse(batch: Vec<Decoded>, known: &mut KnownMintKeys) -> Checked {
    let results = verify_batch_by(&batch, |d| &d.event);
    let mut checked = Checked {
        authentic: results.iter().map(Result::is_ok).collect(),
        ..Checked::default()
    };
    let mut first = Vec::with_capacity(batch.len());
    let mut fins = Vec::new();
    for (i, (decoded, result)) in batch.into_iter().zip(results).enumerate() {
        match result {
            Ok(()) if decoded.event.kind == kinds::FIN_EPOCH => fins.push((i, decoded)),
            Ok(()) => first.push((i, decoded)),
            Err(e) => checked.rejections.push(Rejection {
                relay: decoded.relay,
                reason: e.label().to_string(),
                kind: Some(decoded.event.kind),
            }),
        }
    }
    let mut parsed = parse_all(first, known);
    for (_, v) in &parsed {
        if let Some(key) = v.as_ref().ok().and_then(mint_key_of) {
            if known.insert(key) {
                checked.new_mint_keys.push(key);
            }
        }
    }
    parsed.extend(parse_all(fins, known));
    // Input order, as before the split.
    parsed.sort_unstable_by_key(|(i, _)| *i);
    let (verified, rejected) = split(parsed.into_iter().map(|(_, r)| r).collect());
    checked.verified = verified;
    checked.rejections.extend(rejected);
    checked
}

/// Parses the content of verified events in parallel, keeping each one's place.
fn parse_all(
    events: Vec<(usize, Decoded)>,
    known: &KnownMintKeys,
) -> Vec<(usize, Result<Verified, Rejection>)> {
    events
        .into_par_iter()
        .map(|(i, d)| {
            let parsed = match parse_content(&d.event, known) {
                Ok(content) => {
                    let mut event = d.event;
                    if matches!(content, Content::CashuData(_)) {
                        // Up to 512 KiB of base64 that `content` now holds decoded and `json`
                        // holds verbatim: a third copy in every queued batch was about 16 MiB a
                        // batch.
                        event.content = String::new();
                    }
                    Ok(Verified {
                        event,
                        json: d.json,
                        relay: d.relay,
                        content,
                    })
                }
                Err(e) => Err(Rejection {
                    relay: d.relay,
                    reason: e.reason.label().to_string(),
                    kind: Some(d.event.kind),
                }),
            };
            (i, parsed)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mintwatch_sim::{SimConfig, Simulator};

    #[test]
    fn a_4919_keeps_its_content_decoded_and_in_the_verbatim_json_only() {
        let config = SimConfig {
            honest_mints: 2,
            misbehaviours: Vec::new(),
            ..SimConfig::default()
        };
        let mut sim = Simulator::new(config).expect("a valid simulation");
        let events: Vec<SignedEvent> = (0..2).flat_map(|_| sim.next_round()).collect();
        let relay: RelayUrl = "ws://127.0.0.1:1".into();
        let raw = events
            .iter()
            .map(|e| (relay.clone(), e.to_json().into_boxed_str()))
            .collect();
        let (decoded, refused) = decode(raw);
        assert!(refused.is_empty());
        let checked = verify_and_parse(decoded, &mut KnownMintKeys::default());
        assert!(checked.rejections.is_empty(), "{:?}", checked.rejections);
        assert_eq!(checked.verified.len(), events.len());
        let mut cashu_data = 0;
        for (v, original) in checked.verified.iter().zip(&events) {
            assert_eq!(v.event.id, original.id);
            assert_eq!(SignedEvent::from_json(&v.json).as_ref(), Ok(original));
            if let Content::CashuData(data) = &v.content {
                cashu_data += 1;
                assert!(v.event.content.is_empty());
                assert_eq!(
                    data.groups,
                    CashuData::parse(original).expect("parses").groups
                );
            } else {
                assert_eq!(v.event.content, original.content);
            }
        }
        assert!(cashu_data > 0 && cashu_data < events.len());
    }

    fn signed(keys: &nostr::Keys, kind: u16, content: &str, tags: &[[&str; 2]]) -> SignedEvent {
        let tags: Vec<nostr::Tag> = tags
            .iter()
            .map(|t| nostr::Tag::parse(*t).expect("tag"))
            .collect();
        let e = nostr::EventBuilder::new(nostr::Kind::Custom(kind), content)
            .tags(tags)
            .sign_with_keys(keys)
            .expect("signed");
        SignedEvent::from(&e)
    }

    #[test]
    fn mint_keys_are_learned_only_from_parsed_content_and_self_signed_announcements() {
        let relay: RelayUrl = "ws://127.0.0.1:1".into();
        let (garbage, operator, named, itself) = (
            nostr::Keys::generate(),
            nostr::Keys::generate(),
            nostr::Keys::generate(),
            nostr::Keys::generate(),
        );
        let mut sim = Simulator::new(SimConfig {
            honest_mints: 1,
            misbehaviours: Vec::new(),
            ..SimConfig::default()
        })
        .expect("simulation");
        let real_4919 = sim
            .next_round()
            .into_iter()
            .find(|e| e.kind == kinds::CASHU_DATA)
            .expect("a 4919");
        let hex = |k: &nostr::Keys| k.public_key().to_hex();
        let events = [
            // Signature-valid, content that does not parse.
            signed(&garbage, kinds::CASHU_DATA, "not base64 cbor", &[]),
            signed(&garbage, kinds::MINT_INFO, "nor this", &[]),
            // An announcement by someone else naming a key.
            signed(
                &operator,
                kinds::MINT_ANNOUNCEMENT,
                "",
                &[["d", &hex(&named)]],
            ),
            // A mint announcing itself.
            signed(
                &itself,
                kinds::MINT_ANNOUNCEMENT,
                "",
                &[["d", &hex(&itself)]],
            ),
            // A 1337 from the key whose 4919 did not parse is not read.
            signed(&garbage, kinds::FIN_EPOCH, "", &[]),
            real_4919.clone(),
        ];
        let raw = events
            .iter()
            .map(|e| (relay.clone(), e.to_json().into_boxed_str()))
            .collect();
        let (decoded, _) = decode(raw);
        let mut known = KnownMintKeys::default();
        let checked = verify_and_parse(decoded, &mut known);
        let bytes = |k: &nostr::Keys| k.public_key().to_bytes();
        assert!(!known.contains(&bytes(&garbage)));
        assert!(!known.contains(&bytes(&named)));
        assert!(!known.contains(&bytes(&operator)));
        assert!(known.contains(&bytes(&itself)));
        assert!(known.contains(&real_4919.pubkey));
        assert_eq!(known.len(), 2);
        let mut learned = checked.new_mint_keys.clone();
        learned.sort_unstable();
        let mut want = vec![bytes(&itself), real_4919.pubkey];
        want.sort_unstable();
        assert_eq!(learned, want);
        // Three refusals (two unparsable contents, the 1337), in input order for the rest.
        assert_eq!(checked.rejections.len(), 3, "{:?}", checked.rejections);
        let ids: Vec<_> = checked.verified.iter().map(|v| v.event.id).collect();
        assert_eq!(ids, vec![events[2].id, events[3].id, events[5].id]);
    }
}
