//! The scraper's throughput, run as an operator runs it (the release `scraper` binary, one
//! process per measurement) against the stand-in SEC on loopback. `scripts/bench-scraper`
//! runs it; BENCHMARKS.md has the figures.
//!
//! 1. **Policy floor**: 500 tickers against a stand-in that blocks any caller over 10
//!    requests in a second, at default settings; wall time against the floor SEC's policy
//!    allows (requests / 10 per second).
//! 2. **Throughput and memory**: companies synced per second and the process's peak RSS
//!    against an unlimited stand-in whose every companyfacts document is ~4 MB, at
//!    concurrency 1, 4, 8 and 16, each on a fresh database (every company's facts stored).
//!
//! Usage: `bench_scraper [floor]` (`floor`: the first measurement only).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lzstock_harness::bench::Headline;
use lzstock_harness::sec_standin::{SecStandIn, StandInRules};
use lzstock_harness::{base_env, database, nats, TestNats};
use serde_json::{json, Value};

const FLOOR_TICKERS: u64 = 500;
const HEAVY_COMPANIES: u64 = 24;

fn scraper_binary() -> PathBuf {
    std::env::var_os("SCRAPER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/release/scraper"))
}

/// A companyfacts document of about 4 MB: 60 concepts, each reported by 40 annual filings,
/// each filing repeating eleven earlier years as comparatives.
fn heavy_companyfacts(cik: u64) -> String {
    let mut concepts = serde_json::Map::new();
    for c in 0..60 {
        let mut entries = Vec::new();
        for filing in 0..40_u32 {
            let year = 1985 + filing;
            let filed = format!("{}-02-{:02}", year + 1, 1 + filing % 4);
            let accession = format!("{cik:010}-{:02}-{:06}", (year + 1) % 100, filing);
            for back in 0..12 {
                let y = year - back;
                entries.push(json!({
                    "start": format!("{y}-01-01"), "end": format!("{y}-12-31"),
                    "val": f64::from(c * 1000 + filing + back), "accn": accession,
                    "fy": year, "fp": "FY", "form": "10-K", "filed": filed,
                    "frame": format!("CY{y}")
                }));
            }
        }
        concepts.insert(
            format!("Concept{c:03}"),
            json!({"label": format!("Concept {c}"), "description": "A synthetic concept.", "units": {"USD": entries}}),
        );
    }
    json!({"cik": cik, "entityName": "Heavy Filer", "facts": {"us-gaap": concepts}}).to_string()
}

struct Run {
    wall: Duration,
    peak_rss_kib: u64,
    report: Value,
}

/// Runs `scraper run --tickers …` and polls its peak RSS (`VmHWM`) until it exits.
async fn scrape(env: &[(String, String)], tickers: &[String]) -> Run {
    let started = Instant::now();
    let mut child = tokio::process::Command::new(scraper_binary())
        .args(["run", "--tickers", &tickers.join(",")])
        .envs(env.iter().cloned())
        .env("RUST_LOG", "error")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the scraper starts (build it: cargo build --release -p scraper)");
    let pid = child.id().expect("a pid");
    let mut peak = 0;
    let mut stdout = child.stdout.take().expect("stdout");
    let reading = tokio::spawn(async move {
        let mut out = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut stdout, &mut out)
            .await
            .expect("report");
        out
    });
    loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wall = started.elapsed();
    let out = reading.await.expect("stdout");
    let report = serde_json::from_slice(&out).unwrap_or(Value::Null);
    Run {
        wall,
        peak_rss_kib: peak,
        report,
    }
}

async fn env_for(
    sec: &SecStandIn,
    bus: &TestNats,
    extra: &[(&str, String)],
) -> Vec<(String, String)> {
    let db = database().await;
    let mut env = base_env();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    env.extend(bus.env());
    env.extend(sec.env());
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    // The database lives as long as the process; a benchmark leaks it on purpose.
    std::mem::forget(db);
    env
}

fn synced(report: &Value) -> usize {
    report["synced"].as_array().map_or(0, Vec::len)
}

#[tokio::main]
async fn main() {
    let bus = nats().await;

    // 1. The policy floor.
    let sec = SecStandIn::start(StandInRules::default()).await;
    let companies: Vec<(String, u64, f64)> = (0..FLOOR_TICKERS)
        .map(|n| (format!("T{n:04}"), 1000 + n, 1000.0 + n as f64))
        .collect();
    let listed: Vec<(&str, u64, f64)> = companies
        .iter()
        .map(|(t, c, r)| (t.as_str(), *c, *r))
        .collect();
    sec.put_companies(&listed);
    let tickers: Vec<String> = companies.iter().map(|(t, _, _)| t.clone()).collect();
    let env = env_for(&sec, &bus, &[]).await;
    let run = scrape(&env, &tickers).await;
    let log = sec.log();
    let requests = log.requests.len();
    let floor = requests as f64 / 10.0;
    println!(
        "policy floor: {FLOOR_TICKERS} tickers, {requests} requests, synced {}, blocks {}, wall {:.1} s, floor {floor:.1} s, ratio {:.2}",
        synced(&run.report),
        log.blocks,
        run.wall.as_secs_f64(),
        run.wall.as_secs_f64() / floor
    );
    Headline {
        area: "SEC sync",
        figure: "a 500-ticker run under SEC's 10 requests/s rule, wall time",
        unit: "s",
        baseline: "the policy floor: requests / 10 per second",
    }
    .report(
        run.wall.as_secs_f64(),
        floor,
        run.wall.as_secs_f64() / floor,
    );
    if std::env::args().nth(1).as_deref() == Some("floor") {
        return;
    }

    // 2. Throughput and memory against an unlimited stand-in.
    let heavy = SecStandIn::start(StandInRules {
        limit: usize::MAX,
        ..StandInRules::default()
    })
    .await;
    let companies: Vec<(String, u64, f64)> = (0..HEAVY_COMPANIES)
        .map(|n| (format!("H{n:03}"), 5000 + n, 1.0))
        .collect();
    let listed: Vec<(&str, u64, f64)> = companies
        .iter()
        .map(|(t, c, r)| (t.as_str(), *c, *r))
        .collect();
    heavy.put_companies(&listed);
    let document = heavy_companyfacts(5000);
    println!(
        "companyfacts document: {:.1} MB",
        document.len() as f64 / 1e6
    );
    for (_, cik, _) in &companies {
        heavy.put(
            &format!("/api/xbrl/companyfacts/CIK{cik:010}.json"),
            document.clone(),
        );
    }
    let tickers: Vec<String> = companies.iter().map(|(t, _, _)| t.clone()).collect();
    println!("| concurrency | companies | wall | companies/s | peak RSS |");
    println!("|---|---|---|---|---|");
    for concurrency in [1, 4, 8, 16] {
        let env = env_for(
            &heavy,
            &bus,
            &[
                ("SCRAPER_CONCURRENCY", concurrency.to_string()),
                ("SEC_REQUESTS_PER_SECOND", "1000".into()),
                ("DATABASE_MAX_CONNECTIONS", (concurrency + 2).to_string()),
            ],
        )
        .await;
        let run = scrape(&env, &tickers).await;
        println!(
            "| {concurrency} | {} | {:.1} s | {:.2} | {:.0} MiB |",
            synced(&run.report),
            run.wall.as_secs_f64(),
            synced(&run.report) as f64 / run.wall.as_secs_f64(),
            run.peak_rss_kib as f64 / 1024.0
        );
    }
}
