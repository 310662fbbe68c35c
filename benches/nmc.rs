//! Nostr Mint Connect against plain HTTP (docs/PERFORMANCE.md §9): the same cdk `MintConnector`
//! calls, `swap` of ten proofs and `checkstate` of ten `Y`s, made alternately through the
//! gateway and a local relay (`NostrMintConnector`) and directly to the mint (cdk's
//! `HttpClient`), against a real nutshell mint. Prints p50/p99 of each and their ratio (target:
//! NMC p50 ≤ 2 × HTTP p50 + 5 ms), then the `checkstate` rate the gateway sustains at 1 to 32
//! callers at once, each request from a fresh key, with the gateway's global limit (default
//! 100 requests/s) raised out of the way.
//!
//! `cargo bench --bench nmc` (after `scripts/setup.sh`); `MINTWATCH_BENCH_ROUNDS` (default 200).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/gateway_support/mod.rs"]
mod gateway_support;

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cashu::dhke::construct_proofs;
use cdk::mint_url::MintUrl;
use cdk::nuts::{
    CheckStateRequest, KeySet, MintQuoteBolt11Request, MintRequest, PaymentMethod, Proof,
    SwapRequest,
};
use cdk::wallet::{HttpClient, MintConnector};
use cdk_common::{MintQuoteRequest, MintQuoteResponse};
use gateway_support::wallet::outputs;
use gateway_support::NutshellBehindGateway;
use mintwatch_testkit::bench::{ms, percentile, rounds};
use mintwatch_testkit::TestRelay;
use mintwatch_wallet::{NostrMintConnector, Patience, Relays};

/// Mints `n` 1-sat proofs through `mint`.
async fn mint_proofs(mint: &dyn MintConnector, set: &KeySet, n: usize) -> Vec<Proof> {
    let quote = mint
        .post_mint_quote(MintQuoteRequest::Bolt11(MintQuoteBolt11Request {
            amount: (n as u64).into(),
            unit: cdk::nuts::CurrencyUnit::Sat,
            description: None,
            pubkey: None,
        }))
        .await
        .expect("quote");
    let MintQuoteResponse::Bolt11(quote) = quote else {
        panic!("bolt11 quote")
    };
    for _ in 0..100 {
        let state = mint
            .get_mint_quote_status(PaymentMethod::BOLT11, &quote.quote)
            .await
            .expect("state");
        if let MintQuoteResponse::Bolt11(s) = state {
            if s.state == cdk::nuts::MintQuoteState::Paid {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = outputs(set.id, n);
    let signed = mint
        .post_mint(
            &PaymentMethod::BOLT11,
            MintRequest {
                quote: quote.quote,
                outputs: out.messages,
                signature: None,
            },
        )
        .await
        .expect("mint");
    construct_proofs(signed.signatures, out.rs, out.secrets, &set.keys).expect("proofs")
}

/// Proofs minted per call: 200 signatures answer in about 40 KB, under NMC's 65,408 bytes.
const MINT_CHUNK: usize = 200;

/// Proofs each swap spends (1 sat each).
const SWAP_INPUTS: usize = 10;

/// One swap of [`SWAP_INPUTS`] proofs from `pool` for new 1-sat proofs (as many as the input fee
/// leaves), put back in `pool`: its round trip.
async fn swap_some(
    mint: &dyn MintConnector,
    set: &KeySet,
    fee: usize,
    pool: &mut Vec<Proof>,
) -> Duration {
    let inputs: Vec<Proof> = pool.drain(..SWAP_INPUTS).collect();
    let out = outputs(set.id, SWAP_INPUTS - fee);
    let start = Instant::now();
    let signed = mint
        .post_swap(SwapRequest::new(inputs, out.messages))
        .await
        .expect("swap");
    let took = start.elapsed();
    pool.extend(
        construct_proofs(signed.signatures, out.rs, out.secrets, &set.keys).expect("proofs"),
    );
    took
}

/// `callers` loops of `checkstate` of `ys` through `path` for 5 s: answers per second and every
/// round trip.
async fn sustained(
    path: Arc<dyn MintConnector + Send + Sync>,
    ys: &[cdk::nuts::PublicKey],
    callers: usize,
) -> (f64, Vec<Duration>) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let (path, ys) = (path.clone(), ys.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut took = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                path.post_check_state(CheckStateRequest { ys: ys.clone() })
                    .await
                    .expect("checkstate");
                took.push(t.elapsed());
            }
            took
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("caller"));
    }
    (all.len() as f64 / start.elapsed().as_secs_f64(), all)
}

fn report(what: &str, nmc: &mut [Duration], http: &mut [Duration]) {
    nmc.sort();
    http.sort();
    let (n50, n99) = (percentile(nmc, 0.5), percentile(nmc, 0.99));
    let (h50, h99) = (percentile(http, 0.5), percentile(http, 0.99));
    let target = 2.0 * ms(h50) + 5.0;
    println!(
        "{what}: NMC p50 {:.2} ms p99 {:.2} ms | HTTP p50 {:.2} ms p99 {:.2} ms | p50 ratio {:.2} \
         | target NMC p50 <= {target:.2} ms: {}",
        ms(n50),
        ms(n99),
        ms(h50),
        ms(h99),
        ms(n50) / ms(h50),
        if ms(n50) <= target { "met" } else { "MISSED" }
    );
}

fn main() {
    let rt = mintwatch_testkit::bench::runtime();
    rt.block_on(async {
        let rounds = rounds(200);
        let relay = TestRelay::start(None).await;
        println!("{}", mintwatch_testkit::machine::machine());
        // The gateway's global limit (default 100 requests/s) raised, so that the rate below is
        // what the gateway and the mint sustain, not the limit.
        let beside = NutshellBehindGateway::start(
            "nmc bench seed",
            &[&relay.url],
            &["--nmc-global-rate", "100000"],
        )
        .await;
        let (mint, pk) = (&beside.mint, beside.key);
        let pool = Relays::connect(std::slice::from_ref(&relay.url), Duration::from_secs(10))
            .await
            .expect("relay");
        let nmc = NostrMintConnector::new(pool, pk, vec![relay.url.clone()], Patience::default());
        let http = HttpClient::new(MintUrl::from_str(&mint.url).expect("url"), None);

        let sets = http.get_mint_keysets().await.expect("keysets");
        let info = sets
            .keysets
            .iter()
            .find(|k| k.active && k.unit == cdk::nuts::CurrencyUnit::Sat)
            .expect("active sat keyset");
        // The input fee of a swap of SWAP_INPUTS proofs, in sat (nutshell: 100 ppk each).
        let fee = (SWAP_INPUTS as u64 * info.input_fee_ppk).div_ceil(1_000) as usize;
        let set = http.get_mint_keyset(info.id).await.expect("keys");
        // Each round loses `fee` proofs per path; mint enough for every round.
        let need = SWAP_INPUTS + (rounds + 10) * fee;
        let mut via_nmc = Vec::new();
        let mut via_http = Vec::new();
        while via_nmc.len() < need {
            via_nmc.extend(mint_proofs(&nmc, &set, MINT_CHUNK.min(need - via_nmc.len() + SWAP_INPUTS)).await);
        }
        while via_http.len() < need {
            via_http.extend(mint_proofs(&http, &set, MINT_CHUNK.min(need - via_http.len() + SWAP_INPUTS)).await);
        }

        // Warm both paths, then alternate so both see the same machine.
        let (mut n_swap, mut h_swap) = (Vec::new(), Vec::new());
        for i in 0..rounds + 10 {
            let t = swap_some(&nmc, &set, fee, &mut via_nmc).await;
            let u = swap_some(&http, &set, fee, &mut via_http).await;
            if i >= 10 {
                n_swap.push(t);
                h_swap.push(u);
            }
        }
        report("swap (10 proofs)", &mut n_swap, &mut h_swap);

        let ys: Vec<_> = via_nmc
            .iter()
            .take(10)
            .map(|p| p.y().expect("Y"))
            .collect();
        let (mut n_check, mut h_check) = (Vec::new(), Vec::new());
        for i in 0..rounds + 10 {
            let start = Instant::now();
            nmc.post_check_state(CheckStateRequest { ys: ys.clone() })
                .await
                .expect("checkstate");
            let t = start.elapsed();
            let start = Instant::now();
            http.post_check_state(CheckStateRequest { ys: ys.clone() })
                .await
                .expect("checkstate");
            if i >= 10 {
                n_check.push(t);
                h_check.push(start.elapsed());
            }
        }
        report("checkstate (10 Ys)", &mut n_check, &mut h_check);

        // Sustained rate: `callers` loops of checkstate for 5 s each, through NMC and, as the
        // baseline, straight to the mint.
        let paths: [(&str, Arc<dyn MintConnector + Send + Sync>); 2] =
            [("NMC", Arc::new(nmc)), ("HTTP", Arc::new(http))];
        for callers in [1usize, 2, 4, 8, 16, 32] {
            for (name, path) in &paths {
                let (rate, mut took) = sustained(path.clone(), &ys, callers).await;
                took.sort();
                println!(
                    "checkstate over {name:>4}, {callers:>2} callers: {rate:.0} answers/s, p50 {:.2} ms, p99 {:.2} ms",
                    ms(percentile(&took, 0.5)),
                    ms(percentile(&took, 0.99))
                );
            }
        }
        beside.stop().await;
    });
}
