//! The simulated wallets and keysets: every secret, blinding factor and keyset key is a hash of a
//! seed and a position, so a token can be recomputed from its (mint, unit, epoch, index) instead
//! of being stored. That is what keeps a long simulation's memory flat, and what lets a test
//! unblind any issued signature.

use std::collections::BTreeMap;

use cashu::dhke;
use secp256k1::{PublicKey, SecretKey, SECP256K1};
use sha2::{Digest, Sha256};

use mintwatch_protocol::broadcast::{BurnEntry, MintEntry};
use mintwatch_protocol::{Amount, Epoch, MintKey, Point, Unit};

/// SHA-256 over a domain and length-prefixed parts, so that no two inputs share a preimage.
pub(crate) fn derive(domain: &str, parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"mintwatch-sim/");
    hasher.update(domain.as_bytes());
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// A valid secret key from [`derive`]; a hash is out of range with probability ~2^-128, in which
/// case the next counter is tried.
pub(crate) fn derive_secret_key(domain: &str, parts: &[&[u8]]) -> SecretKey {
    let mut counter: u32 = 0;
    loop {
        let c = counter.to_le_bytes();
        let mut all: Vec<&[u8]> = parts.to_vec();
        all.push(&c);
        if let Ok(key) = SecretKey::from_slice(&derive(domain, &all)) {
            return key;
        }
        counter = counter.wrapping_add(1);
    }
}

/// The amount every token made for a misbehaviour carries, so that the filler tokens minted
/// beside it cover its burns exactly.
pub(crate) const SPECIAL_AMOUNT: u64 = 8;

/// One ecash token as its wallet knows it: the secret, the blinding factor `r`, the mint's view
/// of it (`Y = hash_to_curve(secret)`) and its amount.
#[derive(Debug, Clone)]
pub struct Token {
    /// The secret as the wallet sends it (64 hex characters); `Y` is `hash_to_curve` of its bytes.
    pub secret: String,
    /// The blinding factor: `B_ = Y + r·G`.
    pub r: SecretKey,
    /// `hash_to_curve(secret)`: what the mint publishes when the token is burnt.
    pub y: Point,
    /// The token's amount.
    pub amount: Amount,
}

/// What a wallet draws for a token before the mint ever sees it.
struct Drawn {
    secret: String,
    r: SecretKey,
    amount: Amount,
}

impl Drawn {
    fn new(domain: &str, parts: &[&[u8]], amount: u64) -> Self {
        #[allow(clippy::expect_used)]
        let amount = Amount::new(amount).expect("simulated amounts are powers of two below 2^8");
        Self {
            secret: hex::encode(derive(&format!("{domain}/secret"), parts)),
            r: derive_secret_key(&format!("{domain}/r"), parts),
            amount,
        }
    }

    fn regular(seed: &[u8; 32], unit: &Unit, epoch: Epoch, index: u64) -> Self {
        let parts: [&[u8]; 4] = [
            seed,
            unit.as_str().as_bytes(),
            &epoch.get().to_le_bytes(),
            &index.to_le_bytes(),
        ];
        let amount = 1u64 << (derive("amount", &parts)[0] % 8);
        Self::new("token", &parts, amount)
    }

    /// The mint's side of issuing the token with keyset key `k`: `B_ = Y + r·G`, `C_ = k·B_`.
    fn mint_entry(&self, k: &SecretKey) -> MintEntry {
        #[allow(clippy::expect_used)]
        let (b_, _) = dhke::blind_message(self.secret.as_bytes(), Some(self.r.into()))
            .expect("Y + rG is the point at infinity only if r is -log(Y): probability 2^-256");
        #[allow(clippy::expect_used)]
        let c_ = dhke::sign_message(&(*k).into(), &b_)
            .expect("k·B_ of a non-zero k and a valid point is a valid point");
        MintEntry {
            b_: Point::from_public_key(&b_),
            c_: Point::from_public_key(&c_),
            amount: self.amount,
        }
    }

    fn into_token(self) -> Token {
        #[allow(clippy::expect_used)]
        let y = dhke::hash_to_curve(self.secret.as_bytes()).expect(
            "hash_to_curve finds a point within 2^16 tries except with probability 2^-65536",
        );
        Token {
            secret: self.secret,
            r: self.r,
            y: Point::from_public_key(&y),
            amount: self.amount,
        }
    }
}

impl Token {
    /// The `index`-th token a mint issued for (unit, epoch).
    pub(crate) fn regular(seed: &[u8; 32], unit: &Unit, epoch: Epoch, index: u64) -> Self {
        Drawn::regular(seed, unit, epoch, index).into_token()
    }

    /// The MINT entry of [`Token::regular`] without computing its `Y` twice.
    pub(crate) fn regular_mint_entry(
        seed: &[u8; 32],
        unit: &Unit,
        epoch: Epoch,
        index: u64,
        k: &SecretKey,
    ) -> MintEntry {
        Drawn::regular(seed, unit, epoch, index).mint_entry(k)
    }

    /// A token made for one misbehaviour (`tag` names it), of [`SPECIAL_AMOUNT`].
    pub(crate) fn special(sim_seed: &[u8; 32], tag: &str, n: u64) -> Self {
        let parts: [&[u8]; 3] = [sim_seed, tag.as_bytes(), &n.to_le_bytes()];
        Drawn::new("special", &parts, SPECIAL_AMOUNT).into_token()
    }

    /// The mint's side of issuing this token with keyset key `k`: `B_ = Y + r·G`, `C_ = k·B_`.
    pub(crate) fn mint_entry(&self, k: &SecretKey) -> MintEntry {
        Drawn {
            secret: self.secret.clone(),
            r: self.r,
            amount: self.amount,
        }
        .mint_entry(k)
    }

    /// The mint's record of burning this token.
    pub(crate) fn burn_entry(&self) -> BurnEntry {
        BurnEntry {
            y: self.y,
            amount: self.amount,
        }
    }
}

/// A mint's keyset private key for (unit, epoch): one key per keyset (real mints use one per
/// amount; one is enough to exercise BDHKE).
pub(crate) fn keyset_key(seed: &[u8; 32], unit: &Unit, epoch: Epoch) -> SecretKey {
    derive_secret_key(
        "keyset",
        &[seed, unit.as_str().as_bytes(), &epoch.get().to_le_bytes()],
    )
}

/// The wallets' knowledge of every regular token the simulated mints issued, for tests that
/// check the BDHKE maths: the `i`-th MINT entry an honest mint published for (unit, epoch) is
/// [`Wallet::token`]`(mint, unit, epoch, i)`, signed with [`Wallet::keyset_key`].
#[derive(Debug, Clone, Default)]
pub struct Wallet {
    seeds: BTreeMap<MintKey, [u8; 32]>,
}

impl Wallet {
    pub(crate) fn insert(&mut self, mint: MintKey, seed: [u8; 32]) {
        self.seeds.insert(mint, seed);
    }

    /// The `index`-th regular token `mint` issued for (unit, epoch); `None` for an unknown mint.
    pub fn token(&self, mint: &MintKey, unit: &Unit, epoch: Epoch, index: u64) -> Option<Token> {
        self.seeds
            .get(mint)
            .map(|seed| Token::regular(seed, unit, epoch, index))
    }

    /// The keyset private key `k` of `mint` for (unit, epoch); `None` for an unknown mint.
    pub fn keyset_key(&self, mint: &MintKey, unit: &Unit, epoch: Epoch) -> Option<SecretKey> {
        self.seeds
            .get(mint)
            .map(|seed| keyset_key(seed, unit, epoch))
    }

    /// The keyset public key `K = k·G`.
    pub fn keyset_pubkey(&self, mint: &MintKey, unit: &Unit, epoch: Epoch) -> Option<PublicKey> {
        self.keyset_key(mint, unit, epoch)
            .map(|k| PublicKey::from_secret_key(SECP256K1, &k))
    }
}
