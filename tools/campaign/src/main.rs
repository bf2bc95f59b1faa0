//! `lzstock-campaign`: LZStock under randomised faults, with a checker.
//!
//! Writers publish numbered sign-ups and email requests to a 3-node JetStream cluster and
//! create dashboards and emails through the API, while a nemesis, from a seed, kills the
//! events hosts, bridges, API, cluster nodes and the stream's leader, cuts nodes off, stops
//! PostgreSQL, takes SMTP and Redis down or has SMTP refuse, and throttles the Invoke API,
//! one fault at a time. Then everything is healed, and the checker waits for the system to
//! settle and reads PostgreSQL, the SMTP sink and the streams: lost, duplicated,
//! dead-lettered, parked. See `USAGE` in `options.rs`.

mod checker;
mod nemesis;
mod options;
mod system;
mod throttle;
mod writers;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use checker::Verdict;
use nemesis::{Fault, Tally};
use options::{DeliveryPath, Options, USAGE};
use system::System;
use writers::{Ledger, Target};

/// One path's run, for the report.
struct PathRun {
    path: DeliveryPath,
    partitions: bool,
    tally: Tally,
    ledger: Arc<Ledger>,
    verdict: Verdict,
    throttled: u64,
    revived: usize,
    minutes: f64,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("lzstock-campaign: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    println!(
        "campaign: seed {}, {} faults and {} events per path",
        options.seed, options.faults, options.events
    );
    let mut runs = Vec::new();
    for path in &options.paths {
        match run(&options, *path).await {
            Ok(run) => runs.push(run),
            Err(error) => {
                eprintln!("lzstock-campaign: the {path} system did not start: {error}");
                return ExitCode::from(2);
            }
        }
    }
    let report = report(&options, &runs);
    println!("{report}");
    if let Some(file) = &options.report {
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .and_then(|mut file| std::io::Write::write_all(&mut file, report.as_bytes()));
        if let Err(error) = written {
            eprintln!("lzstock-campaign: cannot write {}: {error}", file.display());
        }
    }
    if runs.iter().all(|run| run.verdict.passed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn run(options: &Options, path: DeliveryPath) -> std::io::Result<PathRun> {
    let logs = PathBuf::from(std::env::var_os("CARGO_TARGET_DIR").unwrap_or("target".into()))
        .join("campaign")
        .join(format!("{path}-{}", options.seed));
    println!("campaign [{path}]: starting (logs in {})", logs.display());
    let mut system = System::start(path, &logs).await?;
    let kinds = Fault::kinds(path, system.partitions);
    let plan = nemesis::plan(options.seed, options.faults, &kinds);
    let duration = nemesis::planned_duration(&plan);
    let rate = options.events as f64 / duration.as_secs_f64().max(1.0);
    println!(
        "campaign [{path}]: {} faults over about {} s, {rate:.0} events/s",
        plan.len(),
        duration.as_secs()
    );
    let started = Instant::now();
    let ledger = Arc::new(Ledger::default());
    let target = Target {
        bus: system.bus.clone(),
        api_url: system.api_url.clone(),
    };
    let faults_done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let pace = writers::Pace {
        rate,
        faults_done: faults_done.clone(),
        faults: plan.len(),
    };
    let writing = tokio::spawn(writers::write_all(
        target,
        ledger.clone(),
        options.events,
        pace,
        32,
    ));
    let tally = nemesis::run(&mut system, &plan, &faults_done).await;
    let _ = writing.await;
    println!(
        "campaign [{path}]: writers done after {} s; settling",
        started.elapsed().as_secs()
    );
    let verdict = checker::check(&system, &ledger, options.settle).await;
    let throttled = system.lambda.as_ref().map_or(0, |l| l.throttle.throttled());
    let revived = system.lambda.as_ref().map_or(0, |l| l.revived);
    Ok(PathRun {
        path,
        partitions: system.partitions,
        tally,
        ledger,
        verdict,
        throttled,
        revived,
        minutes: started.elapsed().as_secs_f64() / 60.0,
    })
}

/// The report, in Markdown: one table of the paths, the faults by kind, and what failed.
fn report(options: &Options, runs: &[PathRun]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n#### Campaign: seed {}, `lzstock-campaign --path {} --seed {} --faults {} --events {}`\n",
        options.seed,
        if runs.len() > 1 { "both".to_owned() } else { runs.first().map_or(String::new(), |r| r.path.to_string()) },
        options.seed,
        options.faults,
        options.events
    );
    let _ = writeln!(
        out,
        "| path | faults | events acknowledged | API creates unanswered | lost | duplicated | resent (same Message-ID) | dead letters | parked | settled after | minutes | verdict |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for run in runs {
        let v = &run.verdict;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} |",
            run.path,
            run.tally.values().sum::<usize>(),
            v.acknowledged,
            run.ledger
                .api_unacknowledged
                .load(std::sync::atomic::Ordering::SeqCst),
            v.lost.len(),
            v.duplicated.len(),
            v.resent,
            v.dead_letters,
            v.parked,
            if v.settled {
                format!("{} s", v.settle_time.as_secs())
            } else {
                "not settled".to_owned()
            },
            run.minutes,
            if v.passed() { "pass" } else { "FAIL" }
        );
    }
    for run in runs {
        let faults: Vec<String> = run
            .tally
            .iter()
            .map(|(fault, count)| format!("{fault} {count}"))
            .collect();
        let _ = writeln!(out, "\n{} faults: {}.", run.path, faults.join(", "));
        if !run.partitions {
            let _ = writeln!(
                out,
                "No partitions: the nodes ran on loopback (network namespaces unavailable)."
            );
        }
        let _ = writeln!(
            out,
            "Publishes retried {}, API reads failed {}, invokes throttled {}, sandboxes that \
             ended by themselves and were started again {}.",
            run.ledger
                .publish_retries
                .load(std::sync::atomic::Ordering::SeqCst),
            run.ledger
                .api_read_failures
                .load(std::sync::atomic::Ordering::SeqCst),
            run.throttled,
            run.revived
        );
        if !run.verdict.settled {
            let _ = writeln!(
                out,
                "Not settled (nothing moved for the settle window, or the ceiling was reached); at the end: {}.",
                run.verdict.last_progress
            );
        }
        for (what, list) in [
            ("lost", &run.verdict.lost),
            ("duplicated", &run.verdict.duplicated),
            ("dead letter", &run.verdict.dead_letter_reasons),
        ] {
            for line in list.iter().take(20) {
                let _ = writeln!(out, "- {what}: {line}");
            }
        }
    }
    out
}
