//! The arrows that must never exist between mintwatch's crates (docs/ARCHITECTURE.md), read from
//! `cargo metadata`: a dependency added against them fails here, not in a later review.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Crates that do I/O (sockets, databases, files, async runtimes): the protocol crate and the
/// simulator use none of them, directly or through another dependency.
const IO_CRATES: &[&str] = &[
    "tokio",
    "sqlx",
    "nostr-sdk",
    "nostr-relay-builder",
    "tokio-tungstenite",
    "reqwest",
    "hyper",
    "axum",
    "mio",
];

/// The workspace's dependency graph: package name → (dependency name → the kinds it is declared
/// as: "normal", "dev", "build"), for every package cargo resolved.
struct Graph {
    workspace: BTreeSet<String>,
    /// Normal dependencies of every resolved package, by name (for transitive questions).
    normal: BTreeMap<String, BTreeSet<String>>,
    /// Every declared dependency of the workspace's packages, with its kinds.
    declared: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

/// The graph, read once for all tests (cargo metadata takes the package cache's lock).
fn graph() -> &'static Graph {
    static GRAPH: std::sync::OnceLock<Graph> = std::sync::OnceLock::new();
    GRAPH.get_or_init(read_graph)
}

/// The host's target triple, so the graph holds the dependencies built here and no others.
fn host_triple() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc -vV runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

fn read_graph() -> Graph {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--filter-platform"])
        .arg(host_triple())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata is JSON");
    let name_of: BTreeMap<String, String> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().expect("id").to_string(),
                p["name"].as_str().expect("name").to_string(),
            )
        })
        .collect();
    let workspace: BTreeSet<String> = meta["workspace_members"]
        .as_array()
        .expect("workspace_members")
        .iter()
        .map(|id| name_of[id.as_str().expect("member id")].clone())
        .collect();
    let mut normal: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut declared: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().expect("resolve nodes") {
        let from = name_of[node["id"].as_str().expect("node id")].clone();
        for dep in node["deps"].as_array().expect("deps") {
            let to = name_of[dep["pkg"].as_str().expect("dep pkg")].clone();
            for kind in dep["dep_kinds"].as_array().expect("dep_kinds") {
                let kind = kind["kind"].as_str().unwrap_or("normal").to_string();
                if kind == "normal" {
                    normal.entry(from.clone()).or_default().insert(to.clone());
                }
                if workspace.contains(&from) {
                    declared
                        .entry(from.clone())
                        .or_default()
                        .entry(to.clone())
                        .or_default()
                        .insert(kind);
                }
            }
        }
    }
    Graph {
        workspace,
        normal,
        declared,
    }
}

impl Graph {
    /// Every package `root` reaches through normal dependencies.
    fn reaches(&self, root: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![root.to_string()];
        while let Some(p) = todo.pop() {
            for d in self.normal.get(&p).into_iter().flatten() {
                if seen.insert(d.clone()) {
                    todo.push(d.clone());
                }
            }
        }
        seen
    }

    /// The workspace packages `pkg` declares a dependency on, of any kind.
    fn declares(&self, pkg: &str) -> BTreeSet<String> {
        self.declared
            .get(pkg)
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default()
    }
}

#[test]
fn the_workspace_has_the_crates_the_architecture_names() {
    let g = graph();
    for name in [
        "mintwatch",
        "mintwatch-protocol",
        "mintwatch-store",
        "mintwatch-indexer",
        "mintwatch-api",
        "mintwatch-gateway",
        "mintwatch-sim",
        "mintwatch-testkit",
    ] {
        assert!(
            g.workspace.contains(name),
            "{name} is not a workspace member"
        );
    }
}

#[test]
fn protocol_and_sim_reach_no_io_crate() {
    let g = graph();
    for pkg in ["mintwatch-protocol", "mintwatch-sim"] {
        // What the package pulls in built as itself. The workspace graph unifies features
        // across every member: there cdk's `nostr` feature (the wallet's NUT-18 interop) gives
        // cashu an optional nostr-sdk that protocol's own build does not have.
        let reached = own_build(pkg);
        let io: Vec<_> = IO_CRATES.iter().filter(|c| reached.contains(**c)).collect();
        assert!(io.is_empty(), "{pkg} reaches I/O crates {io:?}");
        assert!(reached.contains("cashu") || pkg == "mintwatch-sim");
        let inner: Vec<_> = g
            .reaches(pkg)
            .into_iter()
            .filter(|d| g.workspace.contains(d) && d != "mintwatch-protocol")
            .collect();
        assert!(inner.is_empty(), "{pkg} depends on {inner:?}");
    }
}

/// The crates `pkg`'s normal dependencies reach when it is built alone (`cargo tree -p`).
fn own_build(pkg: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .args([
            "tree", "-p", pkg, "-e", "normal", "--prefix", "none", "-f", "{p}",
        ])
        .arg("--target")
        .arg(host_triple())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let names: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != pkg)
        .map(str::to_string)
        .collect();
    assert!(!names.is_empty(), "cargo tree listed nothing for {pkg}");
    names
}

#[test]
fn api_never_depends_on_the_indexer_not_even_for_tests() {
    let g = graph();
    let declared = g.declares("mintwatch-api");
    assert!(
        !declared.contains("mintwatch-indexer"),
        "mintwatch-api declares mintwatch-indexer"
    );
    assert!(
        !g.reaches("mintwatch-api").contains("mintwatch-indexer"),
        "mintwatch-api reaches mintwatch-indexer"
    );
    assert!(declared.contains("mintwatch-store"));
}

#[test]
fn the_gateway_stands_beside_a_mint_on_the_protocol_alone() {
    // It runs on the mint's machine: none of the indexer's stages, nor its PostgreSQL store.
    let g = graph();
    let reached = g.reaches("mintwatch-gateway");
    for other in [
        "mintwatch-store",
        "mintwatch-indexer",
        "mintwatch-api",
        "mintwatch-testkit",
    ] {
        assert!(
            !reached.contains(other),
            "mintwatch-gateway reaches {other}"
        );
    }
    assert!(g
        .declares("mintwatch-gateway")
        .contains("mintwatch-protocol"));
}

#[test]
fn the_store_depends_on_no_stage_that_uses_it() {
    let g = graph();
    let reached = g.reaches("mintwatch-store");
    for stage in ["mintwatch-indexer", "mintwatch-api", "mintwatch-testkit"] {
        assert!(!reached.contains(stage), "mintwatch-store reaches {stage}");
    }
}

#[test]
fn no_library_depends_on_the_binary_and_production_code_not_on_the_test_kit() {
    let g = graph();
    for pkg in g.workspace.iter().filter(|p| *p != "mintwatch") {
        assert!(
            !g.declares(pkg).contains("mintwatch"),
            "{pkg} depends on the mintwatch binary package"
        );
        if pkg != "mintwatch-testkit" {
            assert!(
                !g.reaches(pkg).contains("mintwatch-testkit"),
                "{pkg} uses the test kit outside its tests"
            );
        }
    }
}
