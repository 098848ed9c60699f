//! The architecture's dependency rules, checked against what Cargo actually resolves:
//! dependencies point down (binary → dashboard → planes → auth/guard/http/live/
//! providers/store → core), the planes do not know each other, the dashboard sits on
//! the control plane only (never on the data plane), the data plane never depends on the
//! store (not even through another crate), and core does no I/O.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Which layer each workspace crate is in; a crate may depend only on lower layers.
const LAYERS: &[(&str, u8)] = &[
    ("behest", 4),
    ("behest-dashboard", 3),
    ("behest-control", 2),
    ("behest-gateway", 2),
    ("behest-auth", 1),
    ("behest-guard", 1),
    ("behest-http", 1),
    ("behest-live", 1),
    ("behest-providers", 1),
    ("behest-store", 1),
    ("behest-core", 0),
];

/// Crates behind every kind of I/O: core may not reach any of them.
const IO_CRATES: &[&str] = &[
    "tokio", "mio", "socket2", "hyper", "axum", "reqwest", "sqlx", "redis", "tower",
];

/// Pairs (crate, dependency) that must never appear, even transitively.
const NEVER: &[(&str, &str)] = &[
    ("behest-gateway", "behest-store"),
    ("behest-gateway", "behest-control"),
    ("behest-control", "behest-gateway"),
    ("behest-dashboard", "behest-gateway"),
];

/// Each package's normal (non-dev) dependencies, by name.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn resolved_graph() -> Graph {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // The host's graph only: other platforms' crates are neither built nor fetched.
    let host = String::from_utf8(
        std::process::Command::new("rustc")
            .arg("-vV")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .lines()
    .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
    .unwrap();
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .args(["--filter-platform", &host])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let mut graph = Graph::new();
    for node in metadata["resolve"]["nodes"].as_array().unwrap() {
        let name = names[node["id"].as_str().unwrap()].to_owned();
        let deps = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|dep| {
                dep["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|kind| kind["kind"].is_null() || kind["kind"] == "build")
            })
            .map(|dep| names[dep["pkg"].as_str().unwrap()].to_owned());
        graph.entry(name).or_default().extend(deps);
    }
    graph
}

/// Everything `name` depends on, directly or not.
fn closure(graph: &Graph, name: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![name.to_owned()];
    while let Some(next) = todo.pop() {
        for dep in graph.get(&next).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                todo.push(dep.clone());
            }
        }
    }
    seen
}

/// Every rule the graph breaks, one line each.
fn violations(graph: &Graph) -> Vec<String> {
    let layer: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut found = Vec::new();
    for (name, deps) in graph {
        let Some(&own) = layer.get(name.as_str()) else {
            continue;
        };
        for dep in deps {
            if let Some(&theirs) = layer.get(dep.as_str()) {
                if theirs >= own {
                    found.push(format!("{name} depends on {dep}, which is not below it"));
                }
            } else if dep.starts_with("behest-") {
                // Test support (fakes, testkit) is for dev-dependencies only.
                found.push(format!("{name} depends on {dep}, a test-support crate"));
            }
        }
    }
    for (from, to) in NEVER {
        if closure(graph, from).contains(*to) {
            found.push(format!("{from} depends on {to}, directly or not"));
        }
    }
    for io in closure(graph, "behest-core")
        .iter()
        .filter(|d| IO_CRATES.contains(&d.as_str()))
    {
        found.push(format!("behest-core depends on {io}: core does no I/O"));
    }
    found
}

#[test]
fn dependencies_follow_the_architecture() {
    let graph = resolved_graph();
    assert!(
        graph.contains_key("behest-gateway"),
        "the workspace was not read"
    );
    let found = violations(&graph);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_check_catches_each_kind_of_violation() {
    let graph = resolved_graph();
    let with = |from: &str, to: &str| {
        let mut g = graph.clone();
        g.entry(from.to_owned()).or_default().insert(to.to_owned());
        violations(&g)
    };
    let gateway_store = with("behest-gateway", "behest-store");
    assert!(
        gateway_store
            .iter()
            .any(|v| v == "behest-gateway depends on behest-store, directly or not"),
        "{gateway_store:?}"
    );
    // Through a crate that may depend on the store, still caught.
    let through_auth = with("behest-auth", "behest-store");
    assert!(
        through_auth
            .iter()
            .any(|v| v == "behest-gateway depends on behest-store, directly or not"),
        "{through_auth:?}"
    );
    assert!(!with("behest-control", "behest-gateway").is_empty());
    assert!(!with("behest-gateway", "behest-control").is_empty());
    assert!(!with("behest-dashboard", "behest-gateway").is_empty());
    assert!(!with("behest-control", "behest-dashboard").is_empty());
    assert!(with("behest-core", "tokio")
        .iter()
        .any(|v| v.contains("core does no I/O")));
    assert!(with("behest-core", "serde_json").is_empty());
    assert!(!with("behest-store", "behest-auth").is_empty());
    assert!(!with("behest-control", "behest-fakes").is_empty());
}
