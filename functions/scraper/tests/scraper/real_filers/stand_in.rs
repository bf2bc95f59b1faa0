//! The SEC stand-in serving the real documents as SEC serves them, and one scraper run over
//! the six companies.

use lzstock_harness::sec_samples::SecSamples;
use lzstock_harness::sec_standin::{SecStandIn, StandInRules};
use lzstock_harness::{base_env, database, nats, TestDatabase};
use serde_json::{json, Value};

/// A submissions document naming only `companyfacts`' newest report (the samples hold no
/// filing list of Alphabet or LPA).
pub(crate) fn submissions_from_facts(cik: &str, facts: &Value) -> Value {
    let mut newest: Option<(String, String, String)> = None;
    for concepts in facts["facts"]
        .as_object()
        .into_iter()
        .flat_map(|t| t.values())
    {
        for concept in concepts.as_object().into_iter().flat_map(|c| c.values()) {
            for entries in concept["units"]
                .as_object()
                .into_iter()
                .flat_map(|u| u.values())
            {
                for entry in entries.as_array().into_iter().flatten() {
                    let (Some(form), Some(filed), Some(accession)) = (
                        entry["form"].as_str(),
                        entry["filed"].as_str(),
                        entry["accn"].as_str(),
                    ) else {
                        continue;
                    };
                    if ["10-K", "10-Q", "20-F", "20-F/A", "10-K/A", "10-Q/A"].contains(&form)
                        && newest
                            .as_ref()
                            .is_none_or(|(f, a, _)| (filed, accession) > (f.as_str(), a.as_str()))
                    {
                        newest = Some((filed.to_owned(), accession.to_owned(), form.to_owned()));
                    }
                }
            }
        }
    }
    let (filed, accession, form) = newest.expect("a report");
    json!({"cik": cik, "filings": {"recent": {
        "accessionNumber": [accession], "filingDate": [filed], "form": [form]
    }, "files": []}})
}

/// Walmart's filing list cut as a heavy filer's is: the recent filings only those after
/// its newest report, the rest on two older pages, newest first, with the newest report
/// (and the newest 10-K) on the first of them. Returns the document and the pages.
pub(crate) fn walmart_paged(samples: &SecSamples) -> (Value, Vec<(String, Value)>) {
    let mut document = samples.json("submissions/CIK0000104169.json");
    let recent = document["filings"]["recent"].take();
    let forms: Vec<String> = recent["form"]
        .as_array()
        .expect("forms")
        .iter()
        .map(|f| f.as_str().unwrap_or_default().to_owned())
        .collect();
    let first_report = forms
        .iter()
        .position(|f| ["10-K", "10-Q"].contains(&f.as_str()))
        .expect("Walmart filed reports");
    let slice = |from: usize, to: usize| -> Value {
        let columns = recent.as_object().expect("columns");
        Value::Object(
            columns
                .iter()
                .map(|(key, column)| {
                    let rows = column.as_array().map_or(&[][..], Vec::as_slice);
                    (
                        key.clone(),
                        Value::from(rows[from.min(rows.len())..to.min(rows.len())].to_vec()),
                    )
                })
                .collect(),
        )
    };
    let split = first_report + 1000;
    let pages = vec![
        (
            "CIK0000104169-submissions-001.json".to_owned(),
            slice(first_report, split),
        ),
        (
            "CIK0000104169-submissions-002.json".to_owned(),
            slice(split, forms.len()),
        ),
    ];
    let files: Vec<Value> = pages
        .iter()
        .map(|(name, page)| {
            let dates = page["filingDate"].as_array().expect("dates");
            json!({"name": name, "filingCount": dates.len(),
                   "filingFrom": dates.last(), "filingTo": dates.first()})
        })
        .collect();
    document["filings"] = json!({"recent": slice(0, first_report), "files": files});
    (document, pages)
}

pub(crate) struct Synced {
    pub(crate) db: TestDatabase,
    pub(crate) sec: SecStandIn,
    pub(crate) report: Value,
}

/// The stand-in serving the samples, and one scraper run over the six companies.
pub(crate) async fn sync(samples: &SecSamples) -> Synced {
    let sec = SecStandIn::start(StandInRules::default()).await;
    sec.put(
        "/files/company_tickers.json",
        samples.read("company_tickers.json"),
    );
    for cik in ["0000320193", "0001045810", "0000789019"] {
        let path = format!("submissions/CIK{cik}.json");
        sec.put(&format!("/{path}"), samples.read(&path));
    }
    let (walmart, pages) = walmart_paged(samples);
    sec.put("/submissions/CIK0000104169.json", walmart.to_string());
    for (name, page) in pages {
        sec.put(&format!("/submissions/{name}"), page.to_string());
    }
    for cik in ["0001652044", "0001997711"] {
        let facts = samples.json(&format!("companyfacts/CIK{cik}.json"));
        sec.put(
            &format!("/submissions/CIK{cik}.json"),
            submissions_from_facts(cik, &facts).to_string(),
        );
    }
    // Microsoft's companyfacts is not among the samples: SEC's 404, as for a company that
    // files no XBRL.
    for cik in [
        "0000320193",
        "0001045810",
        "0000104169",
        "0001652044",
        "0001997711",
    ] {
        let path = format!("companyfacts/CIK{cik}.json");
        sec.put(&format!("/api/xbrl/{path}"), samples.read(&path));
    }
    let (db, bus) = tokio::join!(database(), nats());
    let mut env = base_env();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    env.extend(bus.env());
    env.extend(sec.env());
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_scraper"))
        .args(["run", "--tickers", "AAPL,NVDA,WMT,GOOGL,LPA,MSFT"])
        .envs(env)
        .env("RUST_LOG", "warn")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .await
        .expect("the scraper runs");
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    Synced { db, sec, report }
}
