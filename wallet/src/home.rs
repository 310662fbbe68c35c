//! A wallet's local files, in one directory: `wallet.json` (the seed words, the mints it uses
//! by key and relay, the index it asks) written with owner-only permissions, and
//! `proofs.redb` (cdk's wallet database: proofs, quotes, keysets). No mint URL is ever stored.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cdk::amount::SplitTarget;
use cdk::nuts::{CurrencyUnit, PaymentMethod};
use cdk::wallet::{MintQuote, Wallet, WalletBuilder};
use cdk::Amount;
use cdk_redb::WalletRedbDatabase;
use futures::StreamExt;
use mintwatch_protocol::nmc::NmcInfo;
use nostr::nips::nip06::FromMnemonic;
use nostr_sdk::prelude::{Keys, PublicKey};
use serde::{Deserialize, Serialize};

use crate::connector::{mint_url_of, NostrMintConnector};
use crate::discover::{nmc_info, MintRef};
use crate::error::WalletError;
use crate::rpc::{Patience, Relays};

/// How long to wait for relay connections and for a mint's 17338.
pub const CONNECT_WAIT: Duration = Duration::from_secs(10);

/// The contents of `wallet.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletFile {
    /// BIP-39 words: the seed of every proof (NUT-13), so `restore` recovers them.
    pub mnemonic: String,
    /// The mints this wallet uses.
    #[serde(default)]
    pub mints: Vec<KnownMint>,
    /// The mintwatch indexer whose query service `check-mint` and `sent` ask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<KnownService>,
    /// Where this wallet is paid: the relays of its payment requests' nprofile and of its
    /// nutzap profile (10019), and where `listen` listens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relays: Vec<String>,
}

/// A mint: its key, and the relays where its 17338 was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownMint {
    /// x-only hex.
    pub key: String,
    /// Relays to look for its 17338 on (the 17338 names the ones to publish requests to).
    pub relays: Vec<String>,
}

/// A query service: the indexer's key and relays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownService {
    /// x-only hex.
    pub key: String,
    /// Its relays.
    pub relays: Vec<String>,
}

/// A wallet directory, opened.
pub struct WalletHome {
    dir: PathBuf,
    /// What `wallet.json` says.
    pub file: WalletFile,
    db: Arc<WalletRedbDatabase>,
}

/// A mint ready to use: cdk's wallet over NMC, and what its 17338 said.
pub struct MintSession {
    /// cdk's wallet for the mint, in sat.
    pub wallet: Wallet,
    /// Its transport.
    pub connector: NostrMintConnector,
    /// The mint's 17338.
    pub info: NmcInfo,
    /// The relays, for more of the mint's events.
    pub relays: Relays,
}

impl MintSession {
    /// A mint quote of `amount` sat: its `request` is the Lightning invoice to pay.
    pub async fn mint_quote(&self, amount: u64) -> Result<MintQuote, WalletError> {
        Ok(self
            .wallet
            .mint_quote(
                PaymentMethod::BOLT11,
                Some(Amount::from(amount)),
                None,
                None,
            )
            .await?)
    }

    /// Waits (at most `within`) for `quote`'s invoice to be paid, then mints; the sat minted.
    /// The quote's state is polled over NMC (there is no socket to the mint).
    pub async fn mint_when_paid(
        &self,
        quote: MintQuote,
        within: Duration,
    ) -> Result<u64, WalletError> {
        let minted = tokio::time::timeout(
            within,
            self.wallet
                .proof_stream(quote, SplitTarget::default(), None)
                .next(),
        )
        .await
        .map_err(|_| WalletError::NotPaid(within))?
        .ok_or_else(|| WalletError::Input("the mint's quote stream ended".into()))??;
        Ok(minted.iter().map(|p| u64::from(p.amount)).sum())
    }
}

fn file_error(path: &Path, why: impl ToString) -> WalletError {
    WalletError::File {
        path: path.display().to_string(),
        why: why.to_string(),
    }
}

impl WalletHome {
    /// Opens the wallet in `dir`, creating it (fresh seed words, or `restore`'s) when it has
    /// none. A `restore` given for an existing wallet is refused rather than ignored.
    pub fn open(dir: &Path, restore: Option<&str>) -> Result<(WalletHome, bool), WalletError> {
        let path = dir.join("wallet.json");
        let (file, created) = if path.exists() {
            if restore.is_some() {
                return Err(file_error(
                    &path,
                    "a wallet already exists here; restore into an empty directory",
                ));
            }
            let text = std::fs::read_to_string(&path).map_err(|e| file_error(&path, e))?;
            let file: WalletFile = serde_json::from_str(&text).map_err(|e| file_error(&path, e))?;
            (file, false)
        } else {
            std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
            let mnemonic = match restore {
                Some(words) => bip39::Mnemonic::parse_normalized(words)
                    .map_err(|e| WalletError::Input(format!("seed words: {e}")))?,
                None => bip39::Mnemonic::generate(12)
                    .map_err(|e| WalletError::Input(format!("seed words: {e}")))?,
            };
            let file = WalletFile {
                mnemonic: mnemonic.to_string(),
                mints: Vec::new(),
                index: None,
                relays: Vec::new(),
            };
            (file, true)
        };
        // Checked before the database opens, so bad words leave nothing behind.
        bip39::Mnemonic::parse_normalized(&file.mnemonic).map_err(|e| file_error(&path, e))?;
        let db_path = dir.join("proofs.redb");
        let db = WalletRedbDatabase::new(&db_path).map_err(|e| file_error(&db_path, e))?;
        let home = WalletHome {
            dir: dir.to_path_buf(),
            file,
            db: Arc::new(db),
        };
        if created {
            home.save()?;
        }
        Ok((home, created))
    }

    /// Writes `wallet.json` (owner-only, replaced whole: a crash leaves the old or the new).
    pub fn save(&self) -> Result<(), WalletError> {
        let path = self.dir.join("wallet.json");
        let tmp = self.dir.join("wallet.json.tmp");
        let text = serde_json::to_string_pretty(&self.file).map_err(|e| file_error(&path, e))?;
        write_private(&tmp, text.as_bytes()).map_err(|e| file_error(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| file_error(&path, e))
    }

    /// The wallet's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// cdk's wallet database (proofs, keysets).
    pub fn database(&self) -> Arc<WalletRedbDatabase> {
        self.db.clone()
    }

    /// The user's nostr identity: NIP-06 from the seed words (account 0), so the words give the
    /// same npub in any NIP-06 client. It signs the nutzap profile (10019) and the redemption
    /// history (7376), and nutzaps are addressed to it; it never receives a payment request's
    /// gift wrap and never locks ecash.
    pub fn identity(&self) -> Result<Keys, WalletError> {
        Keys::from_mnemonic(self.file.mnemonic.as_str(), None)
            .map_err(|e| WalletError::Input(format!("seed words: {e}")))
    }

    /// The key nutzaps are P2PK-locked to (NIP-61): derived from the seed apart from the nostr
    /// identity, with an even Y so its compressed form starts with `02` as NIP-61 asks.
    pub fn p2pk_key(&self) -> Result<cdk::nuts::SecretKey, WalletError> {
        use nostr::hashes::{sha256, Hash, HashEngine};
        let mut engine = sha256::Hash::engine();
        engine.input(b"mintwatch/nip61-p2pk");
        engine.input(&self.seed()?);
        let digest = sha256::Hash::from_engine(engine);
        let mut key = nostr::secp256k1::SecretKey::from_slice(digest.as_byte_array())
            .map_err(|e| WalletError::Input(format!("p2pk key: {e}")))?;
        let (_, parity) = key.x_only_public_key(nostr::SECP256K1);
        if parity == nostr::secp256k1::Parity::Odd {
            key = key.negate();
        }
        cdk::nuts::SecretKey::from_slice(&key.secret_bytes())
            .map_err(|e| WalletError::Input(format!("p2pk key: {e}")))
    }

    /// The 64-byte seed of the words.
    fn seed(&self) -> Result<[u8; 64], WalletError> {
        let words = bip39::Mnemonic::parse_normalized(&self.file.mnemonic)
            .map_err(|e| WalletError::Input(format!("seed words: {e}")))?;
        Ok(words.to_seed_normalized(""))
    }

    /// Looks `mint` up on its relays (and `extra`), reads its 17338, and remembers it.
    pub async fn add_mint(
        &mut self,
        mint: &MintRef,
        extra: &[String],
    ) -> Result<MintSession, WalletError> {
        let mut relays: Vec<String> = mint.relays.clone();
        relays.extend(extra.iter().cloned());
        relays.dedup();
        let session = self.session_with(mint.key, &relays).await?;
        let key = mint.key.to_hex();
        self.file.mints.retain(|m| m.key != key);
        self.file.mints.push(KnownMint { key, relays });
        self.save()?;
        Ok(session)
    }

    /// The mint to use: `chosen` (a key), or the only one this wallet has.
    pub fn pick_mint(&self, chosen: Option<&str>) -> Result<PublicKey, WalletError> {
        let known = match chosen {
            Some(text) => {
                let wanted = MintRef::parse(text)?.key.to_hex();
                self.file
                    .mints
                    .iter()
                    .find(|m| m.key == wanted)
                    .ok_or_else(|| {
                        WalletError::Input(format!(
                            "mint {wanted} is not added (mintwatch wallet add-mint)"
                        ))
                    })?
            }
            None => match self.file.mints.as_slice() {
                [only] => only,
                [] => {
                    return Err(WalletError::Input(
                        "no mint yet: mintwatch wallet add-mint <mint key> --relay <url>".into(),
                    ))
                }
                _ => {
                    return Err(WalletError::Input(
                        "this wallet has several mints: say which with --mint <key>".into(),
                    ))
                }
            },
        };
        PublicKey::from_hex(&known.key).map_err(|e| WalletError::Input(e.to_string()))
    }

    /// A session with a mint this wallet has added.
    pub async fn session(&self, mint: PublicKey) -> Result<MintSession, WalletError> {
        let hex = mint.to_hex();
        let known = self
            .file
            .mints
            .iter()
            .find(|m| m.key == hex)
            .ok_or_else(|| WalletError::Input(format!("mint {hex} is not added")))?;
        self.session_with(mint, &known.relays).await
    }

    async fn session_with(
        &self,
        mint: PublicKey,
        relays: &[String],
    ) -> Result<MintSession, WalletError> {
        let pool = Relays::connect(relays, CONNECT_WAIT).await?;
        let info = nmc_info(&pool, &mint, CONNECT_WAIT).await?;
        pool.add(&info.relays, CONNECT_WAIT).await?;
        let connector =
            NostrMintConnector::new(pool.clone(), mint, info.relays.clone(), Patience::default());
        let wallet = self.cdk_wallet(connector.clone())?;
        Ok(MintSession {
            wallet,
            connector,
            info,
            relays: pool,
        })
    }

    /// cdk's wallet for `mint` with no relay connected: for what the wallet's own records
    /// answer (the balance); a call to the mint through it fails.
    pub fn offline_wallet(&self, mint: PublicKey) -> Result<Wallet, WalletError> {
        let connector =
            NostrMintConnector::new(Relays::unconnected(), mint, Vec::new(), Patience::default());
        self.cdk_wallet(connector)
    }

    /// cdk's wallet (sat) over `connector`, on this wallet's seed and database.
    pub fn cdk_wallet(&self, connector: NostrMintConnector) -> Result<Wallet, WalletError> {
        Ok(WalletBuilder::new()
            .mint_url(mint_url_of(&connector.mint()))
            .unit(CurrencyUnit::Sat)
            .localstore(self.db.clone())
            .seed(self.seed()?)
            // Quote states are asked for over NMC; there is no socket to the mint.
            .use_http_subscription()
            .client(connector)
            .build()?)
    }
}

#[cfg(unix)]
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_wallet_keeps_its_words_private_and_reopens_with_them() {
        let dir = tempfile::tempdir().expect("dir");
        let (home, created) = WalletHome::open(dir.path(), None).expect("new wallet");
        assert!(created);
        let words = home.file.mnemonic.clone();
        assert_eq!(words.split_whitespace().count(), 12);
        drop(home);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("wallet.json"))
                .expect("file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "only the owner reads the seed words");
        }
        let (again, created) = WalletHome::open(dir.path(), None).expect("reopen");
        assert!(!created);
        assert_eq!(again.file.mnemonic, words);
        drop(again);
        // Restoring over an existing wallet would lose its words: refused.
        assert!(matches!(
            WalletHome::open(dir.path(), Some(&words)),
            Err(WalletError::File { .. })
        ));
    }

    #[test]
    fn a_wallet_restored_from_words_has_those_words_and_bad_words_leave_nothing() {
        let source = tempfile::tempdir().expect("dir");
        let (home, _) = WalletHome::open(source.path(), None).expect("wallet");
        let words = home.file.mnemonic.clone();
        let seed = home.seed().expect("seed");
        drop(home);
        let target = tempfile::tempdir().expect("dir");
        let into = target.path().join("restored");
        let (restored, created) = WalletHome::open(&into, Some(&words)).expect("restored");
        assert!(created);
        assert_eq!(restored.seed().expect("seed"), seed, "the same seed");
        let bad = target.path().join("bad");
        assert!(matches!(
            WalletHome::open(&bad, Some("not twelve real words")),
            Err(WalletError::Input(_))
        ));
        assert!(!bad.join("wallet.json").exists());
    }

    #[test]
    fn a_mint_is_picked_by_key_or_as_the_only_one() {
        let dir = tempfile::tempdir().expect("dir");
        let (mut home, _) = WalletHome::open(dir.path(), None).expect("wallet");
        assert!(matches!(home.pick_mint(None), Err(WalletError::Input(_))));
        let a = nostr::Keys::generate().public_key();
        let b = nostr::Keys::generate().public_key();
        home.file.mints.push(KnownMint {
            key: a.to_hex(),
            relays: vec!["ws://127.0.0.1:1".into()],
        });
        assert_eq!(home.pick_mint(None).expect("the only one"), a);
        home.file.mints.push(KnownMint {
            key: b.to_hex(),
            relays: vec!["ws://127.0.0.1:1".into()],
        });
        assert!(home.pick_mint(None).is_err(), "several: say which");
        assert_eq!(home.pick_mint(Some(&b.to_hex())).expect("b"), b);
        let c = nostr::Keys::generate().public_key();
        assert!(home.pick_mint(Some(&c.to_hex())).is_err(), "not added");
    }
}
