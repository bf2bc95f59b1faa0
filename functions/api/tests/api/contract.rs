//! The OpenAPI document as a contract: schemathesis, a third-party fuzzer, generates
//! requests from the document served by the standalone API and runs every check it has
//! (server errors, status codes, content types, response schemas, schema-valid requests
//! accepted, schema-invalid ones rejected, auth, resources after create and delete).
//! Any finding fails the test.

use lzstock_harness::process;

/// Test cases per operation and phase: bounded, so the run takes well under a minute.
const MAX_EXAMPLES: &str = "100";
/// A fixed seed: a finding reproduces with the same command.
const SEED: &str = "20261123";

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_nothing_in_the_documented_api() {
    let api = crate::common::start().await;
    seed_a_company(&api.db.pool).await;
    let schemathesis = process::find_program("st", "SCHEMATHESIS_BIN")
        .expect("schemathesis (installed into .venv by the test command)");
    let token = lzstock_harness::tokens::issue_token(
        lzstock_harness::TEST_JWT_SECRET.as_bytes(),
        "schemathesis",
        chrono::Duration::hours(2),
    )
    .expect("a token");
    let reports = tempfile::tempdir().expect("report dir");
    let output = tokio::process::Command::new(schemathesis)
        .arg("run")
        .arg(format!("{}/openapi.json", api.url))
        .args(["--checks", "all"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--seed", SEED, "--max-examples", MAX_EXAMPLES])
        .args(["--generation-database", "none", "--no-color"])
        // One worker: with two, CPython 3.11 can fail parsing inside hypothesis ("AST
        // constructor recursion depth mismatch", a thread-safety bug of `ast`), a tool error
        // that is no finding about the API.
        .args(["--workers", "1", "--request-timeout", "10"])
        .arg("--report-dir")
        .arg(reports.path())
        // Its caches go there too, not into the work tree.
        .current_dir(reports.path())
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .output()
        .await
        .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Shown with --nocapture: what was generated and covered.
    println!("{stdout}");
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{stderr}"
    );
}

/// The company the document's example names, with a year of facts, so the company
/// operation answers 200 and its response schema is checked too.
async fn seed_a_company(pool: &sqlx::PgPool) {
    sqlx::query(
        "INSERT INTO companies (ticker, cik, name) VALUES ('AAPL', '0000320193', 'Apple Inc.')",
    )
    .execute(pool)
    .await
    .expect("company");
    for (concept, value) in [("us-gaap:Revenues", 125.0), ("us-gaap:NetIncomeLoss", 25.0)] {
        sqlx::query(
            "INSERT INTO company_facts (ticker, concept, unit, period_start, period_end, fiscal_year,
                                        fiscal_period, form, filed, accession, value)
             VALUES ('AAPL', $1, 'USD', '2025-01-01', '2025-12-31', 2025, 'FY', '10-K',
                     '2026-02-01', '0000320193-26-000001', $2)",
        )
        .bind(concept)
        .bind(value)
        .execute(pool)
        .await
        .expect("fact");
    }
}
