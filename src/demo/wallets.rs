//! The demo's two wallets, alice and bob: each a `mintwatch wallet` home (seed words, the mint by
//! key, cdk's proofs, its records) in the demo's run directory, that adds the demo's real mint by
//! its key over the relay and reaches it over Nostr Mint Connect only, never HTTP. Every round
//! they top up (mint: the fake Lightning backend pays the invoice at once), pay each other over
//! nostr (a NUT-18 payment request paid as a gift wrap, or a NIP-61 nutzap, in turn), redeem what
//! arrives (each wallet listens all along, as `mintwatch wallet listen` does), and now and then
//! melt to a Lightning invoice. The payer then asks the indexer's query service over nostr
//! (`check_spent`) whether the payment was redeemed: the answer comes from the mint's public 4919
//! feed, so the mint never learns which `Y`s a payer watches.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use cdk::nuts::PaymentMethod;
use mintwatch_protocol::output::query::{CheckSpent, Query, MAX_CHECK_SPENT_YS};
use mintwatch_protocol::Point;
use mintwatch_testkit::cdk_mint::fake_invoice;
use mintwatch_wallet::home::CONNECT_WAIT;
use mintwatch_wallet::nutzap::{fetch_profile, publish_profile, send_nutzap};
use mintwatch_wallet::records::{Outcome, SentHow};
use mintwatch_wallet::request::{make_request, pay, plan_payment};
use mintwatch_wallet::{Inbox, IndexClient, MintRef, MintSession, Patience, Relays, WalletHome};
use nostr_sdk::prelude::PublicKey;
use tokio::task::JoinSet;
use tracing::{info, warn};

/// Time between two rounds of the wallets.
pub const ROUND: Duration = Duration::from_secs(3);
/// A wallet with less than this (sat) mints [`TOP_UP_SAT`] at the start of a round.
const LOW_SAT: u64 = 100;
/// What a wallet mints when it runs low, sat.
const TOP_UP_SAT: u64 = 500;
/// One round in this many ends with a melt of [`MELT_SAT`].
const MELT_EVERY: u64 = 4;
/// What a melt pays, sat (plus the mint's fee reserve, 1 sat or 2 %, returned as change).
const MELT_SAT: u64 = 20;
/// Payments watched for redemption at most; older ones are forgotten (a payment of at most 47
/// sat has at most 6 proofs, so their `Y`s stay within one `check_spent`'s 250).
const WATCHED: usize = 20;
/// How long to wait for the mint's NMC service info (17338) at the start.
const SERVED_WITHIN: Duration = Duration::from_secs(60);
/// How long a mint's invoice may take to be paid (the fake backend pays at once).
const MINT_WITHIN: Duration = Duration::from_secs(30);
/// The index's answer: re-asked after 5 s, given up 10 s later.
const INDEX_PATIENCE: Patience = Patience {
    first: Duration::from_secs(5),
    rest: Duration::from_secs(10),
};

/// What the wallets did, for the progress line. Counts since the start.
#[derive(Debug, Default)]
pub struct WalletStats {
    /// Wallet-to-wallet payments sent (NUT-18 requests paid, nutzaps).
    pub payments_made: AtomicU64,
    /// Payments their receiver's listener redeemed (swapped at the mint over NMC).
    pub payments_redeemed: AtomicU64,
    /// Payments whose every `Y` the indexer's `check_spent` reports burnt by the mint.
    pub payments_seen_spent: AtomicU64,
    /// Sat minted.
    pub minted_sat: AtomicU64,
    /// Sat melted (paid to Lightning invoices, fees excluded).
    pub melted_sat: AtomicU64,
}

/// Where the wallets find everything.
#[derive(Debug, Clone)]
pub struct WalletsSetup {
    /// The wallets' homes go in `<dir>/alice` and `<dir>/bob`.
    pub dir: PathBuf,
    /// The demo's relay.
    pub relay: String,
    /// The demo mint's key.
    pub mint: PublicKey,
    /// The indexer's query-service key.
    pub indexer: PublicKey,
    /// The API's base URL, `http://<addr>`, for the printed `try` line.
    pub api_base: String,
}

/// A demo wallet: its home (shared with its listener) and its session with the demo mint.
pub struct DemoWallet {
    /// `alice` or `bob`.
    pub name: &'static str,
    home: Arc<WalletHome>,
    session: MintSession,
    /// Payments this wallet has sent: an even count pays by NUT-18 request next, odd by nutzap.
    sent: AtomicU64,
}

/// A payment made: who paid whom, how, how much, and the `Y`s of the proofs sent (burnt at the
/// mint when the receiver redeems them).
#[derive(Debug, Clone)]
pub struct Payment {
    /// The payer's name.
    pub from: &'static str,
    /// The receiver's name.
    pub to: &'static str,
    /// A NUT-18 request or a nutzap.
    pub how: SentHow,
    /// Sat the receiver gets.
    pub amount: u64,
    /// `hash_to_curve` of each sent proof's secret.
    pub ys: Vec<Point>,
}

impl DemoWallet {
    /// Opens (creating) the wallet `name` in `setup.dir`, to be paid through the demo's relay,
    /// adds the mint by key (waiting for its gateway to have published the NMC service info) and
    /// publishes its nutzap profile (10019).
    async fn open(name: &'static str, setup: &WalletsSetup) -> anyhow::Result<DemoWallet> {
        let (mut home, _) = WalletHome::open(&setup.dir.join(name), None)?;
        home.file.relays = vec![setup.relay.clone()];
        home.save()?;
        let mint = MintRef {
            key: setup.mint,
            relays: vec![setup.relay.clone()],
        };
        let started = Instant::now();
        let session = loop {
            match home.add_mint(&mint, &[]).await {
                Ok(session) => break session,
                Err(e) if started.elapsed() < SERVED_WITHIN => {
                    info!(wallet = name, error = %e, "the demo mint is not served yet");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("{name} cannot add the demo mint"))
                }
            }
        };
        publish_profile(&home)
            .await
            .with_context(|| format!("{name} cannot publish its nutzap profile"))?;
        Ok(DemoWallet {
            name,
            home: Arc::new(home),
            session,
            sent: AtomicU64::new(0),
        })
    }

    /// The wallet's balance, sat (its own records).
    async fn balance(&self) -> anyhow::Result<u64> {
        Ok(u64::from(self.session.wallet.total_balance().await?))
    }

    /// Mints `amount` sat: a quote, its invoice paid by the fake backend, the proofs minted.
    async fn mint(&self, amount: u64) -> anyhow::Result<u64> {
        let quote = self.session.mint_quote(amount).await?;
        Ok(self.session.mint_when_paid(quote, MINT_WITHIN).await?)
    }

    /// Pays a fresh invoice of `amount` sat (a melt).
    async fn melt(&self, amount: u64) -> anyhow::Result<()> {
        let wallet = &self.session.wallet;
        let quote = wallet
            .melt_quote(PaymentMethod::BOLT11, fake_invoice(amount), None, None)
            .await?;
        wallet
            .prepare_melt(&quote.id, HashMap::new())
            .await?
            .confirm()
            .await?;
        Ok(())
    }
}

/// `from` pays `to` `amount` sat over nostr, by turns a NUT-18 payment request (`to` makes it,
/// `from` pays it as a gift wrap to its fresh receiving key) or a NIP-61 nutzap (to `to`'s
/// nostr key, at a mint of its 10019, locked to its P2PK key). `to`'s listener redeems it.
pub async fn pay_once(from: &DemoWallet, to: &DemoWallet, amount: u64) -> anyhow::Result<Payment> {
    let mint = from.session.connector.mint();
    let sent = if from.sent.fetch_add(1, Ordering::Relaxed) % 2 == 0 {
        let made = make_request(
            &to.home,
            Some(amount),
            &[mint],
            &to.home.file.relays,
            Some(format!("{} pays {}", from.name, to.name)),
        )?;
        let plan = plan_payment(&made.encoded, &[mint], None, None)?;
        pay(&from.home, &from.session, &plan)
            .await
            .with_context(|| format!("{} cannot pay {}'s request", from.name, to.name))?
    } else {
        let user = to.home.identity()?.public_key();
        let profile = fetch_profile(&from.session.relays, &user)
            .await
            .with_context(|| format!("{}'s nutzap profile", to.name))?;
        send_nutzap(
            &from.home,
            &from.session,
            &user,
            &profile,
            amount,
            "mintwatch demo",
        )
        .await
        .with_context(|| format!("{} cannot nutzap {}", from.name, to.name))?
    };
    let ys = sent
        .ys
        .iter()
        .map(|y| Point::parse(y).map_err(|e| anyhow!("Y: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Payment {
        from: from.name,
        to: to.name,
        how: sent.how,
        amount: sent.amount,
        ys,
    })
}

/// Redeems what arrives for the wallet `name` (NUT-18 payments and nutzaps), as `mintwatch
/// wallet listen` does, until the task is aborted.
async fn listen_forever(name: &'static str, home: Arc<WalletHome>, stats: Arc<WalletStats>) {
    let mut inbox = loop {
        match Inbox::open(&home).await {
            Ok(inbox) => break inbox,
            Err(e) => {
                warn!(wallet = name, error = %e, "cannot listen yet");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    loop {
        match inbox.next(&home).await {
            Ok(received) if received.outcome == Outcome::Redeemed => {
                stats.payments_redeemed.fetch_add(1, Ordering::Relaxed);
            }
            Ok(received) => warn!(
                wallet = name,
                outcome = ?received.outcome,
                detail = received.detail,
                "a payment was not redeemed"
            ),
            Err(e) => {
                warn!(wallet = name, error = %e, "listening failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Runs alice and bob until the task is aborted: a round every [`ROUND`]. A failed step is
/// logged and the next round goes on.
pub async fn run_forever(setup: WalletsSetup, stats: Arc<WalletStats>) -> anyhow::Result<()> {
    let alice = DemoWallet::open("alice", &setup).await?;
    let bob = DemoWallet::open("bob", &setup).await?;
    // Aborted with this task: the set aborts its tasks when dropped.
    let mut listeners = JoinSet::new();
    for wallet in [&alice, &bob] {
        listeners.spawn(listen_forever(
            wallet.name,
            wallet.home.clone(),
            stats.clone(),
        ));
    }
    let index = IndexClient::new(
        Relays::connect(std::slice::from_ref(&setup.relay), CONNECT_WAIT).await?,
        setup.indexer,
        INDEX_PATIENCE,
    );
    let mut watched: Vec<Payment> = Vec::new();
    let mut shown = false;
    let mut tick = tokio::time::interval(ROUND);
    for round in 0u64.. {
        tick.tick().await;
        for wallet in [&alice, &bob] {
            if let Err(e) = top_up(wallet, &stats).await {
                warn!(
                    wallet = wallet.name,
                    error = format!("{e:#}"),
                    "mint failed"
                );
            }
        }
        let (from, to) = if round % 2 == 0 {
            (&alice, &bob)
        } else {
            (&bob, &alice)
        };
        // 5 to 47 sat: a few proofs each time.
        let amount = 5 + (round * 7) % 43;
        match pay_once(from, to, amount).await {
            Ok(payment) => {
                info!(
                    from = payment.from,
                    to = payment.to,
                    how = payment.how.as_str(),
                    sat = payment.amount,
                    "payment sent"
                );
                stats.payments_made.fetch_add(1, Ordering::Relaxed);
                watched.push(payment);
                if watched.len() > WATCHED {
                    watched.remove(0);
                }
            }
            Err(e) => warn!(error = format!("{e:#}"), "payment failed"),
        }
        if round % MELT_EVERY == MELT_EVERY - 1 {
            match to.melt(MELT_SAT).await {
                Ok(()) => {
                    stats.melted_sat.fetch_add(MELT_SAT, Ordering::Relaxed);
                }
                Err(e) => warn!(wallet = to.name, error = format!("{e:#}"), "melt failed"),
            }
        }
        let seen = match seen_spent(&index, &setup.mint, &mut watched).await {
            Ok(seen) => seen,
            Err(e) => {
                warn!(error = format!("{e:#}"), "check_spent failed");
                Vec::new()
            }
        };
        stats
            .payments_seen_spent
            .fetch_add(seen.len() as u64, Ordering::Relaxed);
        if let (false, Some(payment)) = (shown, seen.first()) {
            shown = true;
            print_try(&setup, payment)?;
        }
    }
    Ok(())
}

/// Mints [`TOP_UP_SAT`] into `wallet` when it has less than [`LOW_SAT`].
async fn top_up(wallet: &DemoWallet, stats: &WalletStats) -> anyhow::Result<()> {
    if wallet.balance().await? < LOW_SAT {
        let minted = wallet.mint(TOP_UP_SAT).await?;
        stats.minted_sat.fetch_add(minted, Ordering::Relaxed);
    }
    Ok(())
}

/// Asks the index which of the `watched` payments' `Y`s are burnt, and takes out (returning
/// them) the payments whose every `Y` is.
async fn seen_spent(
    index: &IndexClient,
    mint: &PublicKey,
    watched: &mut Vec<Payment>,
) -> anyhow::Result<Vec<Payment>> {
    let ys: Vec<Point> = watched
        .iter()
        .flat_map(|p| p.ys.iter().copied())
        .take(MAX_CHECK_SPENT_YS)
        .collect();
    if ys.is_empty() {
        return Ok(Vec::new());
    }
    let result = index.check_spent(ys, Some(mint)).await?;
    let burnt: BTreeSet<Point> = result
        .results
        .into_iter()
        .filter(|s| s.burnt)
        .map(|s| s.y)
        .collect();
    let (seen, still): (Vec<Payment>, Vec<Payment>) = watched
        .drain(..)
        .partition(|p| p.ys.iter().all(|y| burnt.contains(y)));
    *watched = still;
    Ok(seen)
}

/// Prints the `try` lines of a `Y` the demo wallets spent: the API's lookup, and the same
/// `check_spent` as a request to the indexer's query service over nostr.
fn print_try(setup: &WalletsSetup, payment: &Payment) -> anyhow::Result<()> {
    let Some(y) = payment.ys.first() else {
        return Ok(());
    };
    let query = Query::CheckSpent(CheckSpent {
        ys: vec![*y],
        mint: None,
    });
    println!(
        "  try              curl -s {}/v1/spent/{y}   (a Y {} redeemed from {}'s {}: \
         check_spent, answered from the mint's 4919 feed)",
        setup.api_base,
        payment.to,
        payment.from,
        match payment.how {
            SentHow::Nutzap => "nutzap",
            _ => "NUT-18 payment",
        }
    );
    println!(
        "  or over nostr    {}   NIP-44 v2 encrypted to {} in a kind 28172 with [\"p\", that \
         key] on {}; the answer is a 28173 (docs/PROTOCOL.md §5; the wallets ask so each round)",
        serde_json::to_string(&query)?,
        setup.indexer.to_hex(),
        setup.relay
    );
    Ok(())
}
