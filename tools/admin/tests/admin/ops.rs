//! The operations files hold together with the code: `promtool` accepts the alert rules,
//! and every metric the rules and the Grafana dashboard query is one the code exports.

use std::collections::BTreeSet;

use crate::checkout::{root, rust_sources};

/// `lzstock_…` words in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("lzstock_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

/// What the code exports: every name goes through the `metrics` facade, written whole.
fn exported() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_sources(&root().join("shared"), &mut files);
    rust_sources(&root().join("functions"), &mut files);
    let mut names = BTreeSet::new();
    // Quoted names in the code (tests and examples excluded: naming a metric there exports
    // nothing).
    for file in files.iter().filter(|f| {
        let path = f.to_string_lossy();
        !path.contains("/tests/") && !path.ends_with("tests.rs") && !path.contains("/examples/")
    }) {
        let text = std::fs::read_to_string(file).expect("a source file");
        for piece in text.split("\"lzstock_").skip(1) {
            let end = piece
                .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(piece.len());
            names.insert(format!("lzstock_{}", &piece[..end]));
        }
    }
    names
}

#[test]
fn promtool_accepts_the_alert_rules() {
    let output = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(root().join("ops/prometheus/alerts.yml"))
        .output()
        .expect("promtool (Debian's prometheus package; the README's commands install it)");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn every_metric_the_rules_and_the_dashboard_query_is_exported() {
    let exported = exported();
    assert!(
        exported.contains("lzstock_http_requests_total"),
        "{exported:?}"
    );
    for file in ["ops/prometheus/alerts.yml", "ops/grafana/lzstock.json"] {
        let text = std::fs::read_to_string(root().join(file)).expect("an ops file");
        for name in metric_names(&text) {
            let base = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(&name);
            assert!(
                exported.contains(&name) || exported.contains(base),
                "{file} queries {name}, which no code exports"
            );
        }
    }
}
