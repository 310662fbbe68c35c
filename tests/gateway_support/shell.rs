//! `mintwatch wallet` as a person runs it: a process per command, with nothing of the test's
//! environment but its arguments.

use std::path::Path;
use std::process::Command;

use crate::common::Running;

/// Runs `mintwatch wallet --dir <dir> <args>`; its stdout, or a panic with its stderr.
pub fn wallet(dir: &Path, args: &[&str]) -> String {
    let out = wallet_run(dir, args);
    assert!(
        out.status.success(),
        "mintwatch wallet {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mintwatch"));
    cmd.arg("wallet")
        .arg("--dir")
        .arg(dir)
        .args(args)
        // Nothing of the test's environment reaches the wallet but these arguments.
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn");
    cmd
}

/// Runs `mintwatch wallet --dir <dir> <args>` to its end.
pub fn wallet_run(dir: &Path, args: &[&str]) -> std::process::Output {
    command(dir, args).output().expect("run mintwatch wallet")
}

/// Starts `mintwatch wallet --dir <dir> <args>` (a `listen`), its lines collected.
pub fn wallet_spawn(dir: &Path, args: &[&str]) -> Running {
    Running::spawn("mintwatch wallet", command(dir, args))
}

/// The sat total `mintwatch wallet balance` prints.
pub fn balance(dir: &Path) -> u64 {
    let out = wallet(dir, &["balance"]);
    out.lines()
        .find_map(|l| l.strip_prefix("total "))
        .and_then(|l| l.strip_suffix(" sat"))
        .unwrap_or_else(|| panic!("no total in {out}"))
        .parse()
        .expect("sat")
}
