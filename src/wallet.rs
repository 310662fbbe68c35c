//! `mintwatch wallet`: a Cashu wallet for the shell whose mint traffic all goes over nostr
//! (Nostr Mint Connect through the mint's gateway), with its state in one directory. The
//! wallet itself is the `mintwatch-wallet` crate over cdk's wallet.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use cdk::nuts::{PaymentMethod, Token};
use cdk::wallet::ReceiveOptions;
use clap::{Args, Subcommand};
use mintwatch_wallet::home::KnownService;
use mintwatch_wallet::nutzap::{
    fetch_profile, pick_mint as pick_nutzap_mint, publish_profile, send_nutzap,
};
use mintwatch_wallet::records::{Outcome, ReceivedRecord, SentHow};
use mintwatch_wallet::request::{make_request, pay, plan_payment};
use mintwatch_wallet::sending::take_out;
use mintwatch_wallet::sent::sent_status;
use mintwatch_wallet::{mint_of_url, Inbox, IndexClient, MintRef, Patience, Relays, WalletHome};
use nostr_sdk::prelude::{PublicKey, ToBech32};

#[derive(Debug, Args)]
#[command(
    after_help = "The mint is named by its nostr key (hex, npub or nprofile), never by a \
                        URL: every call to it is a NIP-44 encrypted request on its relays, \
                        answered by its gateway (docs/NMC.md)."
)]
pub struct WalletArgs {
    #[command(subcommand)]
    command: WalletCommand,
    /// The wallet's directory: wallet.json (seed words, mints by key; mode 0600) and
    /// proofs.redb [default: $HOME/.mintwatch-wallet].
    #[arg(long, env = "MINTWATCH_WALLET_DIR", value_name = "DIR", global = true)]
    dir: Option<PathBuf>,
    /// The mint to use when the wallet has several (its key).
    #[arg(long, env = "MINTWATCH_WALLET_MINT", value_name = "KEY", global = true)]
    mint: Option<String>,
    /// A mintwatch indexer's query-service key (`check-mint`, and the report `add-mint`
    /// shows); remembered in wallet.json once given.
    #[arg(
        long,
        env = "MINTWATCH_WALLET_INDEX",
        value_name = "KEY",
        global = true
    )]
    index: Option<String>,
    /// The indexer's relays (repeatable; the environment takes a comma-separated list).
    #[arg(
        long = "index-relay",
        env = "MINTWATCH_WALLET_INDEX_RELAYS",
        value_delimiter = ',',
        value_name = "URL",
        global = true
    )]
    index_relays: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum WalletCommand {
    /// Create the wallet (new seed words, or --restore's) without adding a mint.
    Init {
        /// Seed words of a wallet to recover (then `restore`).
        #[arg(long, value_name = "WORDS")]
        restore: Option<String>,
    },
    /// Add a mint by its key: reads its NMC service info (17338) and its announcement (38172).
    AddMint {
        /// The mint's key: hex, npub, or nprofile (whose relays are used).
        mint: String,
        /// A relay where the mint's 17338 is (repeatable).
        #[arg(long = "relay", value_name = "URL")]
        relays: Vec<String>,
    },
    /// Mint ecash: prints the Lightning invoice, waits for it to be paid, mints.
    Mint {
        /// Sat.
        amount: u64,
        /// Give up waiting for the payment after this many seconds.
        #[arg(long, default_value_t = 600)]
        wait_secs: u64,
    },
    /// The balance, per mint (from the wallet's own records; no mint is asked).
    Balance,
    /// Send: prints a cashu token of this many sat.
    Send {
        /// Sat.
        amount: u64,
    },
    /// Receive a cashu token (swapped at its mint over nostr).
    Receive {
        /// The token (cashuA… or cashuB…).
        token: String,
    },
    /// Pay a Lightning invoice from the wallet (a melt).
    Melt {
        /// A BOLT11 invoice.
        invoice: String,
    },
    /// The mint's reputation from a mintwatch indexer over nostr: rank, components, findings.
    CheckMint {
        /// The mint's key (hex, npub or nprofile).
        mint: String,
    },
    /// Recover the proofs of this wallet's seed words from its mint (NUT-09/13).
    Restore,
    /// Print a NUT-18 payment request (creqA…) paid over nostr: to a fresh receiving key, at
    /// this wallet's mints (or --mint), through its relays. `listen` receives the payment.
    Request {
        /// Sat; omitted, the payer chooses.
        amount: Option<u64>,
        /// Where to be paid (repeatable); remembered as the wallet's relays.
        #[arg(long = "relay", value_name = "URL")]
        relays: Vec<String>,
        /// Shown to the payer.
        #[arg(long)]
        description: Option<String>,
    },
    /// Pay a NUT-18 payment request over nostr (a gift-wrapped message from a fresh key).
    Pay {
        /// The request (creqA…).
        request: String,
        /// Sat, when the request names no amount.
        #[arg(long)]
        amount: Option<u64>,
    },
    /// Receive payments as they arrive (NUT-18 payments to this wallet's requests, nutzaps to
    /// its npub), redeem each once at its mint over nostr, and print it.
    Listen {
        /// Stop after this many payments handled (redeemed or refused).
        #[arg(long)]
        count: Option<u64>,
        /// Stop after this many seconds.
        #[arg(long)]
        wait_secs: Option<u64>,
        /// The wallet's relays (repeatable), if not yet remembered.
        #[arg(long = "relay", value_name = "URL")]
        relays: Vec<String>,
    },
    /// Send a NIP-61 nutzap: P2PK-locked ecash to a nostr user, at a mint their 10019 lists.
    Nutzap {
        /// The user: npub, nprofile or hex.
        user: String,
        /// Sat.
        amount: u64,
        /// A message.
        #[arg(long, default_value = "")]
        comment: String,
        /// A relay to look for the user's 10019 on (repeatable; the wallet's relays and the
        /// nprofile's are looked at too).
        #[arg(long = "relay", value_name = "URL")]
        relays: Vec<String>,
    },
    /// Publish this wallet's nutzap profile (10019): its relays, its mints, and a P2PK key that
    /// is not its nostr key. Prints the npub nutzaps are sent to.
    Profile {
        /// The wallet's relays (repeatable); remembered.
        #[arg(long = "relay", value_name = "URL")]
        relays: Vec<String>,
    },
    /// The payments this wallet sent and whether each was redeemed, from a mintwatch index's
    /// check_spent over nostr (the mint's public 4919 feed; the mint is never asked).
    Sent,
}

/// How long `check-mint` waits for the index.
const INDEX_PATIENCE: Patience = Patience {
    first: Duration::from_secs(10),
    rest: Duration::from_secs(20),
};

fn default_dir() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME").ok_or_else(|| anyhow!("HOME is not set: give --dir"))?;
    Ok(PathBuf::from(home).join(".mintwatch-wallet"))
}

pub async fn run(args: WalletArgs) -> anyhow::Result<()> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => default_dir()?,
    };
    let restore = match &args.command {
        WalletCommand::Init { restore } => restore.as_deref(),
        _ => None,
    };
    let (mut home, created) = WalletHome::open(&dir, restore)?;
    if created {
        eprintln!(
            "new wallet in {}; its seed words are in wallet.json (keep a copy: they recover the \
             proofs)",
            dir.display()
        );
    }
    remember_index(&mut home, &args)?;
    match args.command {
        WalletCommand::Init { .. } => Ok(()),
        WalletCommand::AddMint { mint, relays } => {
            let mint = MintRef::parse(&mint)?;
            if mint.relays.is_empty() && relays.is_empty() {
                bail!("give a relay where the mint is (--relay <url>) or an nprofile");
            }
            let session = home.add_mint(&mint, &relays).await?;
            let info = session.wallet.fetch_mint_info().await?;
            println!("mint {}", mint.key.to_hex());
            if let Some(info) = info {
                println!("  name: {}", info.name.unwrap_or_default());
            }
            println!("  relays (NMC): {}", session.info.relays.join(" "));
            let methods: Vec<&str> = session.info.methods.iter().map(|m| m.as_str()).collect();
            println!("  methods: {}", methods.join(" "));
            if let Some(a) = mintwatch_wallet::discover::announcement(
                &session.relays,
                &mint.key,
                mintwatch_wallet::home::CONNECT_WAIT,
            )
            .await?
            {
                let nuts: Vec<String> = a.nuts.iter().map(u16::to_string).collect();
                println!(
                    "  announced (38172): network {}, NUTs {}",
                    a.network.map_or("unknown", |n| n.as_str()),
                    nuts.join(",")
                );
            }
            let keyset = session.wallet.active_keyset().await?;
            println!("  active keyset: {} ({})", keyset.id, keyset.unit);
            if let Some(index) = index_client(&home).await? {
                print_report(&index, &mint.key).await?;
            }
            Ok(())
        }
        WalletCommand::Mint { amount, wait_secs } => {
            let key = home.pick_mint(args.mint.as_deref())?;
            let session = home.session(key).await?;
            let quote = session.mint_quote(amount).await?;
            println!("pay this invoice: {}", quote.request);
            let total = session
                .mint_when_paid(quote, Duration::from_secs(wait_secs))
                .await?;
            println!("minted {total} sat");
            println!("balance {} sat", session.wallet.total_balance().await?);
            Ok(())
        }
        WalletCommand::Balance => {
            let mut total = 0u64;
            for known in &home.file.mints {
                let key = PublicKey::from_hex(&known.key)?;
                let wallet = home.offline_wallet(key)?;
                let balance = u64::from(wallet.total_balance().await?);
                total += balance;
                println!("{} {balance} sat", known.key);
            }
            println!("total {total} sat");
            Ok(())
        }
        WalletCommand::Send { amount } => {
            let key = home.pick_mint(args.mint.as_deref())?;
            let session = home.session(key).await?;
            let out = take_out(&home, &session, amount, None).await?;
            let id = token_id(&out.token.to_string());
            home.record_sent(&out.record(&session, SentHow::Token, id, None))?;
            println!("{}", out.token);
            Ok(())
        }
        WalletCommand::Receive { token } => {
            let parsed = Token::from_str(token.trim()).context("not a cashu token")?;
            let url = parsed.mint_url()?;
            let key = mint_of_url(&url).ok_or_else(|| {
                anyhow!(
                    "this token is of the mint at {url}; this wallet reaches mints over nostr \
                     only: receive tokens of a mint it has added by key"
                )
            })?;
            let session = home.session(key).await.with_context(|| {
                format!("add the token's mint first: mintwatch wallet add-mint {key} --relay <url>")
            })?;
            let received = session
                .wallet
                .receive(token.trim(), ReceiveOptions::default())
                .await?;
            println!("received {received} sat");
            Ok(())
        }
        WalletCommand::Melt { invoice } => {
            let key = home.pick_mint(args.mint.as_deref())?;
            let session = home.session(key).await?;
            let quote = session
                .wallet
                .melt_quote(
                    PaymentMethod::BOLT11,
                    invoice.trim().to_string(),
                    None,
                    None,
                )
                .await?;
            println!(
                "paying {} sat (fee reserve {} sat)",
                quote.amount, quote.fee_reserve
            );
            let outcome = session
                .wallet
                .prepare_melt(&quote.id, HashMap::new())
                .await?
                .confirm()
                .await?;
            println!("paid: {:?}", outcome.state());
            println!("balance {} sat", session.wallet.total_balance().await?);
            Ok(())
        }
        WalletCommand::CheckMint { mint } => {
            let mint = MintRef::parse(&mint)?;
            let index = index_client(&home).await?.ok_or_else(|| {
                anyhow!("no index configured: give --index <key> --index-relay <url>")
            })?;
            print_report(&index, &mint.key).await
        }
        WalletCommand::Restore => {
            let key = home.pick_mint(args.mint.as_deref())?;
            let session = home.session(key).await?;
            let restored = session.wallet.restore().await?;
            println!(
                "restored {} sat unspent ({} sat spent, {} sat pending)",
                restored.unspent, restored.spent, restored.pending
            );
            println!("balance {} sat", session.wallet.total_balance().await?);
            Ok(())
        }
        WalletCommand::Request {
            amount,
            relays,
            description,
        } => {
            remember_relays(&mut home, &relays)?;
            let mints = match &args.mint {
                Some(_) => vec![home.pick_mint(args.mint.as_deref())?],
                None => our_mints(&home)?,
            };
            let made = make_request(&home, amount, &mints, &home.file.relays, description)?;
            println!("{}", made.encoded);
            eprintln!(
                "request {} to {} ({}); `mintwatch wallet listen` receives it",
                made.id,
                made.receiver.to_bech32()?,
                home.file.relays.join(" ")
            );
            Ok(())
        }
        WalletCommand::Pay { request, amount } => {
            let chosen = match &args.mint {
                Some(_) => Some(home.pick_mint(args.mint.as_deref())?),
                None => None,
            };
            let plan = plan_payment(&request, &our_mints(&home)?, chosen, amount)?;
            let session = home.session(plan.mint).await?;
            let record = pay(&home, &session, &plan).await?;
            println!(
                "paid {} sat at mint {} to {} (gift wrap {})",
                record.amount,
                record.mint,
                plan.receiver.to_bech32()?,
                record.id
            );
            println!("balance {} sat", session.wallet.total_balance().await?);
            Ok(())
        }
        WalletCommand::Listen {
            count,
            wait_secs,
            relays,
        } => {
            remember_relays(&mut home, &relays)?;
            let mut inbox = Inbox::open(&home).await?;
            // On stdout: the line a script waits for before it asks to be paid.
            println!(
                "listening on {} for {} request key(s) and nutzaps to {}",
                home.file.relays.join(" "),
                inbox.receiving_keys().len(),
                home.identity()?.public_key().to_bech32()?
            );
            let deadline = wait_secs.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
            let mut handled = 0u64;
            while count.is_none_or(|c| handled < c) {
                let next = inbox.next(&home);
                let record = match deadline {
                    Some(d) => match tokio::time::timeout_at(d, next).await {
                        Ok(r) => r?,
                        Err(_) => break,
                    },
                    None => next.await?,
                };
                print_received(&record);
                if record.outcome != Outcome::Failed {
                    handled += 1;
                }
            }
            Ok(())
        }
        WalletCommand::Nutzap {
            user,
            amount,
            comment,
            relays,
        } => {
            let user = MintRef::parse(&user).context("the user")?;
            let mut look: Vec<String> = relays;
            look.extend(user.relays.iter().cloned());
            look.extend(home.file.relays.iter().cloned());
            // Last, the relays of this wallet's mints: where it already has a foothold.
            look.extend(
                home.file
                    .mints
                    .iter()
                    .flat_map(|m| m.relays.iter().cloned()),
            );
            look.sort();
            look.dedup();
            if look.is_empty() {
                bail!("give a relay to find the user's nutzap profile on (--relay <url>)");
            }
            let pool = Relays::connect(&look, mintwatch_wallet::home::CONNECT_WAIT).await?;
            let profile = fetch_profile(&pool, &user.key).await?;
            let chosen = match &args.mint {
                Some(_) => Some(home.pick_mint(args.mint.as_deref())?),
                None => None,
            };
            let mint = pick_nutzap_mint(&profile, &our_mints(&home)?, chosen)?;
            let session = home.session(mint).await?;
            let record =
                send_nutzap(&home, &session, &user.key, &profile, amount, &comment).await?;
            println!(
                "nutzapped {} sat at mint {} to {} (9321 {})",
                record.amount,
                record.mint,
                user.key.to_bech32()?,
                record.id
            );
            println!("balance {} sat", session.wallet.total_balance().await?);
            Ok(())
        }
        WalletCommand::Profile { relays } => {
            remember_relays(&mut home, &relays)?;
            let profile = publish_profile(&home).await?;
            println!(
                "published 10019 for {}",
                home.identity()?.public_key().to_bech32()?
            );
            println!("  relays: {}", profile.relays.join(" "));
            println!("  mints: {}", profile.mints.join(" "));
            println!("  P2PK key: {}", profile.pubkey);
            Ok(())
        }
        WalletCommand::Sent => {
            let index = index_client(&home).await?.ok_or_else(|| {
                anyhow!("no index configured: give --index <key> --index-relay <url>")
            })?;
            for status in sent_status(&home, &index).await? {
                let r = &status.record;
                println!(
                    "{} {} {} sat at {} to {}: {}",
                    r.id,
                    r.how.as_str(),
                    r.amount,
                    r.mint,
                    r.to.as_deref().unwrap_or("-"),
                    status.verdict()
                );
            }
            Ok(())
        }
    }
}

/// Every mint this wallet has, by key.
fn our_mints(home: &WalletHome) -> anyhow::Result<Vec<PublicKey>> {
    home.file
        .mints
        .iter()
        .map(|m| PublicKey::from_hex(&m.key).map_err(anyhow::Error::from))
        .collect()
}

/// Keeps `--relay` (where this wallet is paid) in wallet.json once given.
fn remember_relays(home: &mut WalletHome, relays: &[String]) -> anyhow::Result<()> {
    if !relays.is_empty() && home.file.relays != relays {
        home.file.relays = relays.to_vec();
        home.save()?;
    }
    Ok(())
}

/// A token's id in sent.jsonl: the first 16 bytes of its SHA-256, hex.
fn token_id(token: &str) -> String {
    use nostr_sdk::hashes::{sha256, Hash};
    sha256::Hash::hash(token.as_bytes()).to_string()[..32].to_string()
}

/// One line per payment handled.
fn print_received(r: &ReceivedRecord) {
    let verb = match r.outcome {
        Outcome::Redeemed => "received",
        Outcome::Refused => "refused",
        Outcome::Failed => "not yet",
    };
    println!(
        "{verb} {} sat ({} {}) at {}: {}",
        r.amount,
        r.how.as_str(),
        r.event,
        r.mint,
        r.detail
    );
}

/// Keeps `--index` and `--index-relay` in wallet.json once given.
fn remember_index(home: &mut WalletHome, args: &WalletArgs) -> anyhow::Result<()> {
    let Some(key) = &args.index else {
        return Ok(());
    };
    let key = MintRef::parse(key).context("--index")?.key.to_hex();
    if args.index_relays.is_empty() {
        bail!("--index needs --index-relay <url>");
    }
    let service = KnownService {
        key,
        relays: args.index_relays.clone(),
    };
    if home.file.index.as_ref() != Some(&service) {
        home.file.index = Some(service);
        home.save()?;
    }
    Ok(())
}

async fn index_client(home: &WalletHome) -> anyhow::Result<Option<IndexClient>> {
    let Some(service) = &home.file.index else {
        return Ok(None);
    };
    let key = PublicKey::from_hex(&service.key)?;
    let relays = Relays::connect(&service.relays, mintwatch_wallet::home::CONNECT_WAIT).await?;
    Ok(Some(IndexClient::new(relays, key, INDEX_PATIENCE)))
}

async fn print_report(index: &IndexClient, mint: &PublicKey) -> anyhow::Result<()> {
    let report = index.mint_report(mint).await?;
    println!("mintwatch report of {}:", mint.to_hex());
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
