//! Test support shared by the protocol crate's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `protocol/tests/vectors/`: the published vectors, copied unchanged with their `SOURCES.md`
/// (or `MINTWATCH_VECTORS` if set, to run the same tests against another copy).
pub fn vectors_dir() -> PathBuf {
    std::env::var_os("MINTWATCH_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors")))
}

/// Reads one vector file as JSON; panics with a clear message if it is missing or not JSON.
pub fn load_json(name: &str) -> serde_json::Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("vector file {} is missing: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("vector file {} is not JSON: {e}", path.display()))
}

/// Reads a JSON Lines vector file, one value per non-empty line.
pub fn load_jsonl(name: &str) -> Vec<String> {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("vector file {} is missing: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// Reports how many entries of a file a test checked, and fails if none were.
pub fn report(file: &str, checked: usize) {
    assert!(checked > 0, "no entries of {file} were checked");
    println!("vectors: {file}: {checked} entries checked");
}
