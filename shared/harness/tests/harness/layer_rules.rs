//! The layer rules of `docs/architecture.md` ("Crates and their rules"), checked over
//! `cargo metadata`:
//! - `lzstock-domain` pulls in no transport or I/O crate, even transitively;
//! - `lzstock-shim` depends on no LZStock crate;
//! - no function crate depends on another function crate, even through a shared crate;
//! - no function reaches tooling (`tools/`, the test harness), and no shared crate reaches
//!   a function or tooling;
//! - only the API links the API's own stack (OpenAPI, JWT verification), and no function
//!   links what only tooling reads (the template's YAML, schedule time zones).
//!
//! A failure names the offending chain of edges, e.g.
//! `lzstock-domain -> some-crate -> tokio`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::process::Command;

use serde::Deserialize;

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    resolve: Resolve,
    workspace_members: Vec<String>,
}

#[derive(Deserialize)]
struct Package {
    id: String,
    name: String,
    manifest_path: String,
}

#[derive(Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(Deserialize)]
struct Node {
    id: String,
    deps: Vec<NodeDep>,
}

#[derive(Deserialize)]
struct NodeDep {
    pkg: String,
    dep_kinds: Vec<DepKind>,
}

#[derive(Deserialize)]
struct DepKind {
    kind: Option<String>,
}

/// Package name → names of its normal (non-dev, non-build) dependencies.
type Graph = BTreeMap<String, BTreeSet<String>>;

struct Workspace {
    graph: Graph,
    functions: BTreeSet<String>,
    tooling: BTreeSet<String>,
    shared: BTreeSet<String>,
}

fn load() -> Workspace {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Metadata = serde_json::from_slice(&output.stdout).expect("metadata parses");
    let names: BTreeMap<&str, &Package> = metadata
        .packages
        .iter()
        .map(|p| (p.id.as_str(), p))
        .collect();
    let mut graph = Graph::new();
    for node in &metadata.resolve.nodes {
        let deps = node
            .deps
            .iter()
            .filter(|d| d.dep_kinds.iter().any(|k| k.kind.is_none()))
            .map(|d| names[d.pkg.as_str()].name.clone())
            .collect();
        graph.insert(names[node.id.as_str()].name.clone(), deps);
    }
    let members_under = |folder: &str| -> BTreeSet<String> {
        metadata
            .workspace_members
            .iter()
            .map(|id| names[id.as_str()])
            .filter(|p| p.manifest_path.contains(folder))
            .map(|p| p.name.clone())
            .collect()
    };
    let mut tooling = members_under("/tools/");
    tooling.insert("lzstock-harness".to_owned());
    let shared = members_under("/shared/")
        .into_iter()
        .filter(|name| !tooling.contains(name))
        .collect();
    Workspace {
        graph,
        functions: members_under("/functions/"),
        tooling,
        shared,
    }
}

/// The shortest chain of normal dependencies from `from` to a package matching `bad`.
fn forbidden_path(graph: &Graph, from: &str, bad: impl Fn(&str) -> bool) -> Option<Vec<String>> {
    let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([from]);
    let mut seen = BTreeSet::from([from]);
    while let Some(current) = queue.pop_front() {
        for dep in graph.get(current).into_iter().flatten() {
            if !seen.insert(dep.as_str()) {
                continue;
            }
            parent.insert(dep.as_str(), current);
            if bad(dep) {
                let mut path = vec![dep.clone()];
                let mut at = dep.as_str();
                while let Some(&p) = parent.get(at) {
                    path.push(p.to_owned());
                    at = p;
                }
                path.reverse();
                return Some(path);
            }
            queue.push_back(dep.as_str());
        }
    }
    None
}

/// Transport and I/O crates the domain must never reach.
fn is_io_crate(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "lambda_runtime",
        "lambda_http",
        "aws_lambda_events",
        "async-nats",
        "http",
        "hyper",
        "reqwest",
        "lettre",
        "redis",
        "tokio",
        "mio",
        "connectrpc",
        "socket2",
    ];
    const PREFIXES: &[&str] = &["aws-", "aws_", "sqlx", "axum", "tonic", "lambda_"];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Crates only the API needs: its OpenAPI document and its own token verification.
fn is_api_only(name: &str) -> bool {
    ["utoipa", "utoipa-axum", "jsonwebtoken"].contains(&name)
}

/// Crates only tooling needs: the SAM template's YAML and schedule expressions' time zones.
fn is_tooling_only(name: &str) -> bool {
    ["serde_norway", "chrono-tz"].contains(&name)
}

fn check(workspace: &Workspace) -> Vec<String> {
    let mut violations = Vec::new();
    if let Some(path) = forbidden_path(&workspace.graph, "lzstock-domain", is_io_crate) {
        violations.push(format!(
            "the domain reaches an I/O crate: {}",
            path.join(" -> ")
        ));
    }
    if let Some(path) = forbidden_path(&workspace.graph, "lzstock-shim", |n| {
        n.starts_with("lzstock-")
    }) {
        violations.push(format!(
            "the shim depends on an LZStock crate: {}",
            path.join(" -> ")
        ));
    }
    for function in &workspace.functions {
        let other_function = |n: &str| n != function && workspace.functions.contains(n);
        if let Some(path) = forbidden_path(&workspace.graph, function, other_function) {
            violations.push(format!(
                "a function depends on another function: {} \
                 (move the shared piece into shared/)",
                path.join(" -> ")
            ));
        }
        if let Some(path) = forbidden_path(&workspace.graph, function, |n| {
            workspace.tooling.contains(n)
        }) {
            violations.push(format!("a function links tooling: {}", path.join(" -> ")));
        }
        if let Some(path) = forbidden_path(&workspace.graph, function, is_tooling_only) {
            violations.push(format!(
                "a function links what only tooling reads: {}",
                path.join(" -> ")
            ));
        }
        if function != "api" {
            if let Some(path) = forbidden_path(&workspace.graph, function, is_api_only) {
                violations.push(format!(
                    "a function other than the API links the API's stack: {}",
                    path.join(" -> ")
                ));
            }
        }
    }
    for crate_name in &workspace.shared {
        if let Some(path) = forbidden_path(&workspace.graph, crate_name, |n| {
            workspace.functions.contains(n) || workspace.tooling.contains(n)
        }) {
            violations.push(format!(
                "a shared crate depends on a function or on tooling: {}",
                path.join(" -> ")
            ));
        }
    }
    violations
}

#[test]
fn the_workspace_keeps_its_layer_rules() {
    let workspace = load();
    for expected in ["api", "events", "scraper", "nats-bridge"] {
        assert!(
            workspace.functions.contains(expected),
            "function crate {expected} is missing from functions/"
        );
    }
    let violations = check(&workspace);
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn a_violation_names_the_offending_edges() {
    let graph: Graph = [
        ("lzstock-domain", vec!["serde", "helper"]),
        ("helper", vec!["tokio"]),
        ("lzstock-shim", vec!["lzstock-domain"]),
        ("api", vec!["events"]),
        ("events", vec!["lzstock-app", "jsonwebtoken"]),
        ("lzstock-app", vec!["lzstock-admin"]),
        ("lzstock-admin", vec!["serde_norway"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    let workspace = Workspace {
        graph,
        functions: ["api".to_owned(), "events".to_owned()].into(),
        tooling: ["lzstock-admin".to_owned()].into(),
        shared: ["lzstock-app".to_owned()].into(),
    };
    let violations = check(&workspace);
    assert_eq!(
        violations,
        [
            "the domain reaches an I/O crate: lzstock-domain -> helper -> tokio",
            "the shim depends on an LZStock crate: lzstock-shim -> lzstock-domain",
            "a function depends on another function: api -> events (move the shared piece into shared/)",
            "a function links tooling: api -> events -> lzstock-app -> lzstock-admin",
            "a function links what only tooling reads: api -> events -> lzstock-app -> lzstock-admin -> serde_norway",
            "a function links tooling: events -> lzstock-app -> lzstock-admin",
            "a function links what only tooling reads: events -> lzstock-app -> lzstock-admin -> serde_norway",
            "a function other than the API links the API's stack: events -> jsonwebtoken",
            "a shared crate depends on a function or on tooling: lzstock-app -> lzstock-admin",
        ]
    );
}
