//! NIP-61 nutzaps: a user's 10019 names the relays to reach them on, the mints they accept and
//! the key to P2PK-lock to (not their nostr key); a nutzap (9321) carries proofs locked to that
//! key, at one of those mints, tagged `p` with the user; the receiver redeems it and publishes a
//! 7376 (NIP-60 history) tagging the nutzap `redeemed`.

use cdk::nuts::{Proof, SpendingConditions};
use nostr::nips::nip44;
use nostr::{EventBuilder, Filter, Keys, Kind, PublicKey, Tag};

use crate::connector::{mint_of_url, mint_url_of};
use crate::error::WalletError;
use crate::home::{MintSession, WalletHome, CONNECT_WAIT};
use crate::records::{SentHow, SentRecord};
use crate::rpc::Relays;
use crate::sending::{record_and_deliver, take_out};

/// Kind of the nutzap profile.
pub const PROFILE: u16 = 10019;
/// Kind of a nutzap.
pub const NUTZAP: u16 = 9321;
/// Kind of a NIP-60 spending-history entry.
pub const HISTORY: u16 = 7376;

/// A user's 10019.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NutzapProfile {
    /// Relays to publish nutzaps to.
    pub relays: Vec<String>,
    /// Mint URLs accepted (this wallet's are `nmc://<key>`).
    pub mints: Vec<String>,
    /// The P2PK key, compressed hex (`02…`).
    pub pubkey: String,
}

impl NutzapProfile {
    /// This wallet's profile: its relays, its mints, its P2PK key.
    pub fn of(home: &WalletHome) -> Result<NutzapProfile, WalletError> {
        let mints = home
            .file
            .mints
            .iter()
            .map(|m| {
                PublicKey::from_hex(&m.key)
                    .map(|k| mint_url_of(&k).to_string())
                    .map_err(|e| WalletError::Input(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NutzapProfile {
            relays: home.file.relays.clone(),
            mints,
            pubkey: home.p2pk_key()?.public_key().to_hex(),
        })
    }

    /// Reads a 10019's tags; the P2PK key is given `02` when it is x-only (NIP-61).
    pub fn from_event(event: &nostr::Event) -> Result<NutzapProfile, WalletError> {
        let mut profile = NutzapProfile {
            relays: Vec::new(),
            mints: Vec::new(),
            pubkey: String::new(),
        };
        for tag in event.tags.iter() {
            match tag.as_slice() {
                [name, relay, ..] if name == "relay" => profile.relays.push(relay.clone()),
                [name, mint, ..] if name == "mint" => profile.mints.push(mint.clone()),
                [name, key, ..] if name == "pubkey" => {
                    profile.pubkey = if key.len() == 64 {
                        format!("02{key}")
                    } else {
                        key.clone()
                    }
                }
                _ => {}
            }
        }
        if profile.pubkey.is_empty() {
            return Err(WalletError::Input(
                "the user's nutzap profile (10019) names no P2PK key".into(),
            ));
        }
        Ok(profile)
    }

    /// The 10019, signed by `identity`.
    pub fn to_event(&self, identity: &Keys) -> Result<nostr::Event, WalletError> {
        let mut tags = Vec::new();
        for relay in &self.relays {
            tags.push(tag(["relay", relay])?);
        }
        for mint in &self.mints {
            tags.push(tag(["mint", mint, "sat"])?);
        }
        tags.push(tag(["pubkey", &self.pubkey])?);
        EventBuilder::new(Kind::Custom(PROFILE), "")
            .tags(tags)
            .sign_with_keys(identity)
            .map_err(|e| WalletError::Input(format!("10019: {e}")))
    }
}

fn tag<const N: usize>(parts: [&str; N]) -> Result<Tag, WalletError> {
    Tag::parse(parts).map_err(|e| WalletError::Input(format!("tag: {e}")))
}

/// Publishes this wallet's 10019 to its relays.
pub async fn publish_profile(home: &WalletHome) -> Result<NutzapProfile, WalletError> {
    if home.file.relays.is_empty() {
        return Err(WalletError::Input(
            "a nutzap profile needs the relays to be reached on (--relay <url>)".into(),
        ));
    }
    if home.file.mints.is_empty() {
        return Err(WalletError::Input(
            "a nutzap profile names the mints accepted: add a mint first".into(),
        ));
    }
    let profile = NutzapProfile::of(home)?;
    let event = profile.to_event(&home.identity()?)?;
    Relays::connect(&home.file.relays, CONNECT_WAIT)
        .await?
        .send(&event, &[])
        .await?;
    Ok(profile)
}

/// The newest 10019 of `user` on `relays`.
pub async fn fetch_profile(
    relays: &Relays,
    user: &PublicKey,
) -> Result<NutzapProfile, WalletError> {
    let filter = Filter::new().kind(Kind::Custom(PROFILE)).author(*user);
    let event = relays
        .client()
        .fetch_events(filter, CONNECT_WAIT)
        .await
        .map_err(|e| WalletError::Input(format!("relays: {e}")))?
        .into_iter()
        .max_by_key(|e| e.created_at)
        .ok_or_else(|| {
            WalletError::Input(format!(
                "{} has no nutzap profile (10019) on these relays: they cannot be nutzapped",
                user.to_hex()
            ))
        })?;
    NutzapProfile::from_event(&event)
}

/// The mint to nutzap at: the first of `ours` (`chosen` first) that `profile` accepts.
pub fn pick_mint(
    profile: &NutzapProfile,
    ours: &[PublicKey],
    chosen: Option<PublicKey>,
) -> Result<PublicKey, WalletError> {
    let accepted: Vec<PublicKey> = profile
        .mints
        .iter()
        .filter_map(|m| m.parse().ok().and_then(|u| mint_of_url(&u)))
        .collect();
    chosen
        .into_iter()
        .chain(ours.iter().copied())
        .find(|m| ours.contains(m) && accepted.contains(m))
        .ok_or_else(|| {
            WalletError::Input(format!(
                "the user accepts nutzaps only at mints this wallet does not have ({}); nothing \
                 was sent",
                profile.mints.join(", ")
            ))
        })
}

/// Sends `amount` sat to `user` as a nutzap at `session`'s mint: proofs P2PK-locked to the
/// profile's key, in a 9321 signed by a fresh key, published to the profile's relays.
pub async fn send_nutzap(
    home: &WalletHome,
    session: &MintSession,
    user: &PublicKey,
    profile: &NutzapProfile,
    amount: u64,
    comment: &str,
) -> Result<SentRecord, WalletError> {
    let lock = cdk::nuts::PublicKey::from_hex(&profile.pubkey)
        .map_err(|e| WalletError::Input(format!("the profile's P2PK key: {e}")))?;
    if profile.relays.is_empty() {
        return Err(WalletError::Input(
            "the user's nutzap profile names no relay".into(),
        ));
    }
    let out = take_out(
        home,
        session,
        amount,
        Some(SpendingConditions::new_p2pk(lock, None)),
    )
    .await?;
    let mut tags = Vec::with_capacity(out.proofs.len() + 2);
    for proof in &out.proofs {
        let json =
            serde_json::to_string(proof).map_err(|e| WalletError::Input(format!("proof: {e}")))?;
        tags.push(tag(["proof", &json])?);
    }
    let mint_url = mint_url_of(&session.connector.mint()).to_string();
    tags.push(tag(["u", &mint_url])?);
    tags.push(Tag::public_key(*user));
    let sender = Keys::generate();
    let event = EventBuilder::new(Kind::Custom(NUTZAP), comment)
        .tags(tags)
        .sign_with_keys(&sender)
        .map_err(|e| WalletError::Input(format!("9321: {e}")))?;
    let record = out.record(
        session,
        SentHow::Nutzap,
        event.id.to_hex(),
        Some(user.to_hex()),
    );
    record_and_deliver(home, record, &event, &profile.relays).await
}

/// A nutzap read: its proofs, its mint URL, its comment.
#[derive(Debug, Clone)]
pub struct ReadNutzap {
    /// The proofs.
    pub proofs: Vec<Proof>,
    /// The `u` tag.
    pub mint: String,
    /// The content.
    pub comment: String,
}

/// Reads a 9321 addressed to `me`.
pub fn read_nutzap(event: &nostr::Event, me: &PublicKey) -> Result<ReadNutzap, String> {
    let mut proofs = Vec::new();
    let mut mint = None;
    let mut to_me = false;
    for tag in event.tags.iter() {
        match tag.as_slice() {
            [name, json, ..] if name == "proof" => proofs.push(
                serde_json::from_str::<Proof>(json).map_err(|e| format!("a bad proof: {e}"))?,
            ),
            [name, url, ..] if name == "u" => mint = Some(url.clone()),
            [name, key, ..] if name == "p" => to_me |= key == &me.to_hex(),
            _ => {}
        }
    }
    if !to_me {
        return Err("not addressed to this wallet".into());
    }
    if proofs.is_empty() {
        return Err("no proofs".into());
    }
    Ok(ReadNutzap {
        proofs,
        mint: mint.ok_or("no mint (u tag)")?,
        comment: event.content.clone(),
    })
}

/// The 7376 saying `nutzap` (seen on `relay`) was redeemed for `amount` sat: the amount and
/// direction encrypted to the wallet itself (NIP-44), the `e … redeemed` and the sender's `p`
/// in the clear as NIP-61 asks.
pub fn history_event(
    identity: &Keys,
    nutzap: &nostr::Event,
    relay: &str,
    amount: u64,
) -> Result<nostr::Event, WalletError> {
    let body = serde_json::json!([["direction", "in"], ["amount", amount.to_string()]]).to_string();
    let content = nip44::encrypt(
        identity.secret_key(),
        &identity.public_key(),
        body,
        nip44::Version::V2,
    )
    .map_err(|e| WalletError::Input(format!("7376: {e}")))?;
    EventBuilder::new(Kind::Custom(HISTORY), content)
        .tags([
            tag(["e", &nutzap.id.to_hex(), relay, "redeemed"])?,
            Tag::public_key(nutzap.pubkey),
        ])
        .sign_with_keys(identity)
        .map_err(|e| WalletError::Input(format!("7376: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_round_trips_and_an_x_only_key_gets_02() {
        let identity = Keys::generate();
        let mint = Keys::generate().public_key();
        let profile = NutzapProfile {
            relays: vec!["ws://127.0.0.1:9/".into()],
            mints: vec![mint_url_of(&mint).to_string()],
            pubkey: format!("02{}", "ab".repeat(32)),
        };
        let event = profile.to_event(&identity).expect("10019");
        assert_eq!(event.kind, Kind::Custom(PROFILE));
        assert_eq!(NutzapProfile::from_event(&event).expect("read"), profile);
        assert_eq!(
            pick_mint(&profile, &[Keys::generate().public_key(), mint], None).expect("mint"),
            mint
        );
        assert!(pick_mint(&profile, &[Keys::generate().public_key()], None).is_err());
        let x_only = EventBuilder::new(Kind::Custom(PROFILE), "")
            .tags([tag(["pubkey", &"cd".repeat(32)]).expect("tag")])
            .sign_with_keys(&identity)
            .expect("event");
        assert_eq!(
            NutzapProfile::from_event(&x_only).expect("read").pubkey,
            format!("02{}", "cd".repeat(32))
        );
        let none = EventBuilder::new(Kind::Custom(PROFILE), "")
            .sign_with_keys(&identity)
            .expect("event");
        assert!(NutzapProfile::from_event(&none).is_err());
    }

    #[test]
    fn the_history_entry_tags_the_nutzap_redeemed_and_hides_the_amount() {
        let identity = Keys::generate();
        let sender = Keys::generate();
        let nutzap = EventBuilder::new(Kind::Custom(NUTZAP), "thanks")
            .sign_with_keys(&sender)
            .expect("9321");
        let history = history_event(&identity, &nutzap, "ws://r/", 21).expect("7376");
        assert_eq!(history.kind, Kind::Custom(HISTORY));
        let e = history
            .tags
            .iter()
            .find(|t| t.as_slice().first().map(String::as_str) == Some("e"))
            .expect("e tag");
        assert_eq!(
            e.as_slice(),
            &["e", &nutzap.id.to_hex(), "ws://r/", "redeemed"]
        );
        assert!(
            !history.content.contains("amount"),
            "the amount is not in the clear"
        );
        let opened = nip44::decrypt(
            identity.secret_key(),
            &identity.public_key(),
            &history.content,
        )
        .expect("decrypts for the wallet");
        assert!(opened.contains("\"21\""));
    }

    #[test]
    fn a_nutzap_for_someone_else_or_without_proofs_is_not_read() {
        let me = Keys::generate().public_key();
        let sender = Keys::generate();
        let for_other = EventBuilder::new(Kind::Custom(NUTZAP), "")
            .tags([
                Tag::public_key(Keys::generate().public_key()),
                tag(["u", "nmc://00"]).expect("tag"),
            ])
            .sign_with_keys(&sender)
            .expect("9321");
        assert!(read_nutzap(&for_other, &me).is_err());
        let empty = EventBuilder::new(Kind::Custom(NUTZAP), "")
            .tags([Tag::public_key(me), tag(["u", "nmc://00"]).expect("tag")])
            .sign_with_keys(&sender)
            .expect("9321");
        assert_eq!(
            read_nutzap(&empty, &me).expect_err("no proofs"),
            "no proofs"
        );
    }
}
