//! `mintwatch`: a public transparency index for Cashu mints on Nostr.
//!
//! Subcommands: `demo` (everything locally, needs only PostgreSQL), `run` (production: crawl
//! relays, index, analyze, serve), `migrate`, `simulate` (publish simulated mints to a relay).
//! Every flag can also come from the environment.

mod commands;
mod config;
mod demo;
mod shutdown;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use commands::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
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
