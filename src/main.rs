//! `mintwatch`: a public transparency index for Cashu mints on Nostr.
//!
//! Subcommands: `demo` (everything locally, needs only PostgreSQL), `run` (production: crawl
//! relays, index, analyze, serve), `migrate`, `simulate` (publish simulated mints to a relay),
//! `gateway` (beside a mint: publish its identity and spent secrets on nostr), `wallet` (a
//! wallet whose mint traffic goes over nostr only).
//! Every flag can also come from the environment.

mod commands;
mod config;
mod demo;
mod gateway;
mod shutdown;
mod wallet;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use commands::Cli;

/// The log filter without `RUST_LOG`. nostr-sdk's relay pool (the nostr outputs' client) logs
/// every frame a relay sends that it cannot handle at ERROR: one hostile relay made that 44 MB in
/// 90 s. mintwatch counts and logs what matters of its relays itself (refusals and publish
/// failures in metrics, relay state in `/v1/stats`), so the pool is silenced by default;
/// `RUST_LOG=info,nostr_relay_pool=debug` shows it again. cdk's SQL layer (the demo's mint) warns
/// of every statement over 20 ms, its schema's creation included: errors only.
const DEFAULT_LOG: &str = "info,nostr_relay_pool=off,nostr_sdk=warn,cdk_sql_common=error";

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG)),
        )
        // Colour codes only for a terminal: logs piped to a file or a collector stay plain.
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mintwatch: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mintwatch: {e:#}");
            ExitCode::FAILURE
        }
    }
}
