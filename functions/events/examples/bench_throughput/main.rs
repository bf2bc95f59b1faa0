//! The event path's throughput at Lambda scale, on a PostgreSQL that commits as production's
//! does (`fsync`, `synchronous_commit` and `full_page_writes` on). `scripts/bench-throughput`
//! runs it (release build); BENCHMARKS.md has the figures. Each case has its baseline in the
//! same run, on a fresh database:
//!
//! - `handler`: the router's `users.signed_up` path (batches of 10, 4 in flight, no NATS)
//!   against a bare sqlx loop of the same statements per event, one transaction per batch;
//! - `commits`: one commit per batch against one per record, batches of 10 and 100, one
//!   batch at a time on a pool of 2 (what one Lambda instance has);
//! - `lambda`: release `nats-bridge` → `cargo lambda watch` → release `events` against the
//!   bridge core with the same router in-process, then `max_concurrency` 1, 2, 4 and 8 (as
//!   many function instances);
//! - `relay`: the outbox relay publishing rows against a bare async-nats loop publishing the
//!   same messages with the same window of unacknowledged publishes.
//!
//! Usage: `bench_throughput [rounds] [case ...]`.

mod handler;
mod lambda;
mod relay;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use lzstock_events::dashboard_events::parse_signup_tickers;
use lzstock_events::event_deps::EventDeps;
use lzstock_events::event_deps::MailDeps;
use lzstock_events::event_router::EventRouter;
use lzstock_events::routing::Commit;
use lzstock_harness::bench::{median, Headline};
use lzstock_harness::lambda::LambdaEmulator;
use lzstock_harness::{base_env, database_on, nats, process, PostgresServer, TestNats};
use lzstock_infra::dashboards::PgDashboardStore;
use lzstock_infra::database::Database;
use lzstock_infra::outbox::relay::{OutboxRelay, RELAY_IN_FLIGHT};
use lzstock_infra::outbox::{self, OutboxEvent};
use lzstock_shim::backoff::Backoff;
use lzstock_shim::batch::{self, MessageBatch, MessageRecord};
use lzstock_shim::bridge::settings::{StartPosition, DEFAULT_MAX_INVOKE_BYTES};
use lzstock_shim::bridge::{self, BridgeMetrics, ConsumerSettings, InProcess};
use sqlx::PgPool;

/// Records of a batch handled at once by the router (`EVENTS_CONCURRENCY`'s default).
use handler::*;
use lambda::*;
use relay::*;

const RECORDS_AT_ONCE: usize = 4;

/// The medians of a comparison's rounds: the case, its baseline and the per-round ratios.
struct Medians {
    case: f64,
    baseline: f64,
    ratio: f64,
}

impl Medians {
    fn report_as(&self, headline: Headline<'_>) {
        headline.report(self.case, self.baseline, self.ratio);
    }
}

/// Runs `measure` `rounds` times and prints each round and the medians of both sides and
/// of the per-round ratios.
async fn compare<F, Fut>(name: &str, rounds: usize, mut measure: F) -> Medians
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = (f64, f64)>,
{
    let (mut cases, mut baselines, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let (case, baseline) = measure(round).await;
        println!(
            "{name} round {round}: {case:.0}/s against {baseline:.0}/s ({:.2})",
            case / baseline
        );
        cases.push(case);
        baselines.push(baseline);
        ratios.push(case / baseline);
    }
    let (case, baseline, ratio) = (median(&cases), median(&baselines), median(&ratios));
    println!("| {name} | {case:.0} | {baseline:.0} | **{ratio:.2}** |");
    Medians {
        case,
        baseline,
        ratio,
    }
}

#[tokio::main]
async fn main() {
    let _telemetry = lzstock_shim::telemetry::init();
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let cases: Vec<String> = args.collect();
    let wanted = |case: &str| cases.is_empty() || cases.iter().any(|c| c == case);
    let server = tokio::task::block_in_place(PostgresServer::start_durable).expect("PostgreSQL");

    if wanted("handler") {
        println!("| case | events/s | baseline events/s | ratio (median of rounds) |");
        println!("|---|---|---|---|");
        // Alternating order between rounds: neither side always meets a warmer machine.
        let headline = Headline {
            area: "Handler path",
            figure: "users.signed_up through the router, batches of 10, 4 in flight",
            unit: "events/s",
            baseline: "bare sqlx loop, same statements",
        };
        compare("handler path / bare sqlx loop", rounds, |round| {
            let server = &server;
            async move {
                let router = || through_router(server, 4000, 10, 4, 5, Commit::Batch, 0);
                let bare = || bare_loop(server, 4000, 10, 4);
                if round % 2 == 1 {
                    let case = router().await;
                    (case, bare().await)
                } else {
                    let baseline = bare().await;
                    (router().await, baseline)
                }
            }
        })
        .await
        .report_as(headline);
    }
    if wanted("commits") {
        // This machine's disk flushes in about 0.1 ms (pg_test_fsync); a cloud database's
        // takes a millisecond or more, emulated with commit_delay.
        for flush_delay_us in [0, 1000] {
            for batch in [10, 100] {
                let name = format!(
                    "commit per batch / per record, batch {batch}, flush +{flush_delay_us} µs"
                );
                compare(&name, rounds, |round| {
                    let server = &server;
                    async move {
                        let count = if flush_delay_us > 0 { 1000 } else { 2000 };
                        let run = |commit| {
                            through_router(server, count, batch, 1, 2, commit, flush_delay_us)
                        };
                        if round % 2 == 1 {
                            let case = run(Commit::Batch).await;
                            (case, run(Commit::Record).await)
                        } else {
                            let baseline = run(Commit::Record).await;
                            (run(Commit::Batch).await, baseline)
                        }
                    }
                })
                .await;
            }
        }
    }
    if wanted("lambda") {
        let headline = Headline {
            area: "Lambda path",
            figure: "nats-bridge → Invoke → events → PostgreSQL, max_concurrency 1",
            unit: "events/s",
            baseline: "bridge core in-process, same router",
        };
        compare("Lambda path / in-process bridge core", rounds, |round| {
            let server = &server;
            async move {
                if round % 2 == 1 {
                    let case = on_lambda(server, 2000, 1).await;
                    (case, in_process(server, 2000).await)
                } else {
                    let baseline = in_process(server, 2000).await;
                    (on_lambda(server, 2000, 1).await, baseline)
                }
            }
        })
        .await
        .report_as(headline);
        let mut one = Vec::new();
        for instances in [1, 2, 4, 8] {
            let mut rates = Vec::new();
            for round in 1..=rounds {
                let rate = on_lambda(&server, 4000, instances).await;
                println!("Lambda path, max_concurrency {instances}, round {round}: {rate:.0}/s");
                rates.push(rate);
            }
            let rate = median(&rates);
            if instances == 1 {
                one.push(rate);
            }
            println!(
                "| Lambda path, max_concurrency {instances} | {rate:.0} | {:.2}x of 1 |",
                rate / one[0]
            );
        }
    }
    if wanted("relay") {
        let headline = Headline {
            area: "Outbox relay",
            figure: "rows claimed, published, marked",
            unit: "events/s",
            baseline: "bare async-nats publish loop, same window",
        };
        compare("outbox relay / bare publish loop", rounds, |round| {
            let server = &server;
            async move {
                if round % 2 == 1 {
                    let case = relay(server, 5000).await;
                    (case, bare_publish(server, 5000).await)
                } else {
                    let baseline = bare_publish(server, 5000).await;
                    (relay(server, 5000).await, baseline)
                }
            }
        })
        .await
        .report_as(headline);
    }
}
