//! Finding a mint on nostr: its key (hex, npub or nprofile with relay hints) and its 17338,
//! which names the relays its gateway listens on.

use std::time::Duration;

use mintwatch_protocol::kinds::{MINT_ANNOUNCEMENT, NMC_INFO};
use mintwatch_protocol::nip87::MintAnnouncement;
use mintwatch_protocol::nmc::{parse_info, NmcInfo};
use nostr::nips::nip19::{FromBech32, Nip19Profile};
use nostr_sdk::prelude::{Filter, Kind, PublicKey};

use crate::error::WalletError;
use crate::rpc::Relays;

/// A mint as a person names it: its key, and relays where its 17338 may be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintRef {
    /// The mint's x-only key (its NUT-06 `pubkey` without the parity byte).
    pub key: PublicKey,
    /// Relays the nprofile suggested (empty for a bare key).
    pub relays: Vec<String>,
}

impl MintRef {
    /// Reads `nprofile1…`, `npub1…` or 64 hex digits.
    pub fn parse(text: &str) -> Result<MintRef, WalletError> {
        let text = text.trim();
        if text.starts_with("nprofile1") {
            let profile = Nip19Profile::from_bech32(text)
                .map_err(|e| WalletError::Input(format!("nprofile: {e}")))?;
            return Ok(MintRef {
                key: profile.public_key,
                relays: profile.relays.iter().map(|r| r.to_string()).collect(),
            });
        }
        let key = PublicKey::parse(text).map_err(|e| {
            WalletError::Input(format!(
                "{text:?} is not a mint key (hex, npub or nprofile): {e}"
            ))
        })?;
        Ok(MintRef {
            key,
            relays: Vec::new(),
        })
    }
}

/// The mint's newest 17338 on `relays`, its signature checked, read.
pub async fn nmc_info(
    relays: &Relays,
    mint: &PublicKey,
    within: Duration,
) -> Result<NmcInfo, WalletError> {
    let filter = Filter::new()
        .kind(Kind::Custom(NMC_INFO))
        .author(*mint)
        .limit(1);
    let event = relays
        .latest(filter, within)
        .await?
        .ok_or_else(|| WalletError::Mint {
            mint: mint.to_hex(),
            why: format!("no NMC service info (kind {NMC_INFO}) on these relays"),
        })?;
    event.verify().map_err(|e| WalletError::Mint {
        mint: mint.to_hex(),
        why: format!("its {NMC_INFO} does not verify: {e}"),
    })?;
    let info = parse_info(&event).map_err(|e| WalletError::Mint {
        mint: mint.to_hex(),
        why: format!("its {NMC_INFO}: {e}"),
    })?;
    if info.relays.is_empty() {
        return Err(WalletError::Mint {
            mint: mint.to_hex(),
            why: format!("its {NMC_INFO} names no relay"),
        });
    }
    Ok(info)
}

/// The mint's newest NIP-87 announcement (38172) on `relays` that verifies and parses, if any:
/// what it says of itself (nuts, network, name); informative, never used to reach it.
pub async fn announcement(
    relays: &Relays,
    mint: &PublicKey,
    within: Duration,
) -> Result<Option<MintAnnouncement>, WalletError> {
    let filter = Filter::new()
        .kind(Kind::Custom(MINT_ANNOUNCEMENT))
        .author(*mint)
        .limit(1);
    Ok(relays
        .latest(filter, within)
        .await?
        .filter(|e| e.verify().is_ok())
        .and_then(|e| MintAnnouncement::parse(&e).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nostr::nips::nip19::ToBech32;
    use nostr::RelayUrl;

    #[test]
    fn a_mint_is_named_by_hex_npub_or_nprofile_and_nothing_else() {
        let key = nostr::Keys::generate().public_key();
        assert_eq!(MintRef::parse(&key.to_hex()).expect("hex").key, key);
        let npub = key.to_bech32().expect("npub");
        assert_eq!(
            MintRef::parse(&format!(" {npub}\n")).expect("npub").key,
            key
        );
        let relay = RelayUrl::parse("wss://relay.example.com").expect("relay");
        let nprofile = Nip19Profile::new(key, [relay])
            .to_bech32()
            .expect("nprofile");
        let parsed = MintRef::parse(&nprofile).expect("nprofile");
        assert_eq!(parsed.key, key);
        assert_eq!(parsed.relays.len(), 1);
        assert!(parsed.relays[0].starts_with("wss://relay.example.com"));
        for bad in ["", "https://mint.example.com", "npub1xyz", "nprofile1xyz"] {
            assert!(
                matches!(MintRef::parse(bad), Err(WalletError::Input(_))),
                "{bad:?} refused"
            );
        }
    }
}
