//! BENCHMARKS.md opens with one table from one run of `scripts/bench-all`: that command runs
//! every benchmark script, each area of the table is reported by one of them, and the
//! committed table has a row for every area.

use std::collections::BTreeSet;

use crate::checkout::{root, rust_sources};

/// The areas the headline table covers, as the benchmarks name them (a benchmark with a
/// new area adds it here, and its row appears in the table at the next run).
const AREAS: [&str; 10] = [
    "API",
    "Bridge core",
    "Handler path",
    "Lambda path",
    "Outbox relay",
    "SEC sync",
    "Cold start",
    "Emails",
    "Tracing cost",
    "Cluster",
];

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The `scripts/bench-*` names `scripts/bench-all` runs.
fn run_by_bench_all() -> BTreeSet<String> {
    let script = read("scripts/bench-all");
    let list = script
        .split("benches=(")
        .nth(1)
        .and_then(|rest| rest.split("\n)").next())
        .expect("bench-all's list of benchmarks");
    list.lines()
        .filter_map(|line| line.trim().trim_matches('"').split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The areas the benchmarks' sources report a headline in (Rust: `area: "…"`; shell:
/// `bench_headline "…"`).
fn reported_areas() -> BTreeSet<String> {
    let mut texts: Vec<String> = Vec::new();
    let mut sources = Vec::new();
    for dir in ["functions", "tools"] {
        rust_sources(&root().join(dir), &mut sources);
    }
    texts.extend(
        sources
            .iter()
            .filter(|path| path.components().any(|c| c.as_os_str() == "examples"))
            .map(|path| std::fs::read_to_string(path).expect("a source")),
    );
    for entry in std::fs::read_dir(root().join("scripts"))
        .expect("scripts/")
        .flatten()
    {
        if entry.file_name().to_string_lossy().starts_with("bench-") {
            texts.push(std::fs::read_to_string(entry.path()).expect("a script"));
        }
    }
    let mut areas = BTreeSet::new();
    for text in &texts {
        for marker in ["area: \"", "bench_headline \""] {
            for rest in text.split(marker).skip(1) {
                areas.insert(rest.split('"').next().unwrap_or_default().to_owned());
            }
        }
    }
    areas
}

#[test]
fn bench_all_runs_every_benchmark_script() {
    let scripts: BTreeSet<String> = std::fs::read_dir(root().join("scripts"))
        .expect("scripts/")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("bench-") && name != "bench-all")
        .collect();
    assert!(!scripts.is_empty());
    assert_eq!(run_by_bench_all(), scripts);
}

#[test]
fn every_area_of_the_table_is_reported_by_a_benchmark_and_in_the_committed_table() {
    let reported = reported_areas();
    let known: BTreeSet<String> = AREAS.iter().map(|a| (*a).to_owned()).collect();
    assert_eq!(reported, known, "the areas the benchmarks report");

    let benchmarks = read("BENCHMARKS.md");
    let table = benchmarks
        .split("<!-- bench-all: begin -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- bench-all: end -->").next())
        .expect("BENCHMARKS.md has the bench-all markers");
    assert!(
        benchmarks.find("<!-- bench-all: begin -->") < benchmarks.find("\n## API"),
        "the table opens BENCHMARKS.md, before the detailed sections"
    );
    for area in &known {
        assert!(
            table
                .lines()
                .any(|line| line.starts_with(&format!("| {area} |"))),
            "BENCHMARKS.md's headline table has no {area} row: run scripts/bench-all"
        );
    }
}
