//! Operations on the streams: list and redrive dead letters, replay history to a route.
//!
//! Each is safe to repeat (listing reads; a redriven event keeps its id, so the stream's
//! duplicate window and the handlers' records absorb a second redrive; a replay applies only
//! what was never applied), so one that fails on the way (a leader election, a node
//! restarting) is run again, with capped and jittered backoff, for up to a minute.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::config::BridgeConfig;
use async_nats::jetstream;
use lzstock_app::resources;
use lzstock_shim::backoff::Backoff;
use lzstock_shim::bridge::dead_letters::{self, Filter};
use lzstock_shim::bridge::replay::{self, ReplayFrom};
use lzstock_shim::bridge::LambdaFunction;

/// How long an operation is retried before its last error is reported.
const PATIENCE: Duration = Duration::from_secs(60);

async fn patiently<T, F, Fut>(what: &str, mut operation: F) -> Result<T, Box<dyn std::error::Error>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Box<dyn std::error::Error>>>,
{
    let backoff = Backoff {
        base: Duration::from_millis(500),
        max: Duration::from_secs(5),
    };
    let started = Instant::now();
    let mut attempt = 0_u64;
    loop {
        attempt += 1;
        match operation().await {
            Ok(done) => return Ok(done),
            Err(error) if started.elapsed() < PATIENCE => {
                let delay = backoff.delay(attempt, attempt ^ u64::from(std::process::id()));
                eprintln!("{what} failed ({error}); trying again in {delay:?}");
                tokio::time::sleep(delay).await;
            }
            Err(error) => return Err(error),
        }
    }
}

/// `nats-bridge dlq list`: prints the dead letters `filter` selects, oldest first.
pub async fn list_dead_letters(
    config: BridgeConfig,
    filter: Filter,
) -> Result<(), Box<dyn std::error::Error>> {
    let nats = resources::nats(&config.nats, "lzstock-nats-bridge-ops").await?;
    let js = jetstream::new(nats);
    let letters = patiently("listing the dead letters", || async {
        Ok(dead_letters::list(&js, &config.streams.dead_letters, &filter).await?)
    })
    .await?;
    for letter in &letters {
        println!(
            "{}\t{}\t#{}\tdeliveries={}\tevent={}\t{}",
            letter.sequence,
            letter.original_subject,
            letter.original_sequence,
            letter.deliveries,
            letter.event_id,
            letter.reason
        );
    }
    eprintln!(
        "{} dead letter(s) in {}",
        letters.len(),
        config.streams.dead_letters
    );
    Ok(())
}

/// `nats-bridge redrive`: publishes the dead letters `filter` selects to their subjects
/// again (keeping their event ids) and deletes each from the dead-letter stream once its
/// republish is acknowledged.
pub async fn redrive(
    config: BridgeConfig,
    filter: Filter,
) -> Result<(), Box<dyn std::error::Error>> {
    let nats = resources::nats(&config.nats, "lzstock-nats-bridge-ops").await?;
    let js = jetstream::new(nats);
    let count = patiently("redriving", || async {
        Ok(
            dead_letters::redrive(&js, &config.streams.dead_letters, &filter, |letter| {
                eprintln!(
                    "redriven {} -> {} (event {})",
                    letter.sequence, letter.original_subject, letter.event_id
                );
            })
            .await?,
        )
    })
    .await?;
    eprintln!(
        "{count} dead letter(s) redriven from {}",
        config.streams.dead_letters
    );
    Ok(())
}

/// `nats-bridge replay`: replays the events stream from `from` to `route` (or every route).
pub async fn replay(
    config: BridgeConfig,
    route: Option<String>,
    from: ReplayFrom,
) -> Result<(), Box<dyn std::error::Error>> {
    let route = match (route, config.routes.as_slice()) {
        (Some(name), routes) => routes
            .iter()
            .find(|r| r.consumer.durable == name)
            .ok_or_else(|| format!("no route named {name}"))?,
        (None, [only]) => only,
        (None, []) => {
            return Err("replay needs a route: set BRIDGE_FUNCTION or BRIDGE_ROUTES_FILE".into())
        }
        (None, _) => return Err("several routes are configured: name one with --route".into()),
    };
    let nats = resources::nats(&config.nats, "lzstock-nats-bridge-ops").await?;
    let function = LambdaFunction::from_env(route.function.clone()).await;
    eprintln!(
        "replaying {} ({}) from {from:?} to {}",
        route.consumer.durable,
        route.consumer.filter_subjects.join(", "),
        function.name()
    );
    let js = jetstream::new(nats);
    let summary = patiently("replaying", || async {
        Ok(
            replay::replay(&js, &route.consumer, from, &function, |progress| {
                eprintln!(
                    "  {} delivered, {} handled",
                    progress.delivered, progress.acked
                )
            })
            .await?,
        )
    })
    .await?;
    eprintln!(
        "replayed {} message(s): {} handled, {} dead-lettered",
        summary.delivered, summary.acked, summary.dead_lettered
    );
    Ok(())
}
