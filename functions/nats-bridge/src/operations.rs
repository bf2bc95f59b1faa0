//! Operations on the streams: list and redrive dead letters, replay history to a route.

use async_nats::jetstream;
use lzstock_app::bridge::BridgeConfig;
use lzstock_app::resources;
use lzstock_shim::bridge::dead_letters::{self, Filter};
use lzstock_shim::bridge::replay::{self, ReplayFrom};
use lzstock_shim::bridge::LambdaFunction;

pub async fn list_dead_letters(
    config: BridgeConfig,
    filter: Filter,
) -> Result<(), Box<dyn std::error::Error>> {
    let nats = resources::nats(&config.nats, "lzstock-nats-bridge-ops").await?;
    let letters =
        dead_letters::list(&jetstream::new(nats), &config.streams.dead_letters, &filter).await?;
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

pub async fn redrive(
    config: BridgeConfig,
    filter: Filter,
) -> Result<(), Box<dyn std::error::Error>> {
    let nats = resources::nats(&config.nats, "lzstock-nats-bridge-ops").await?;
    let count = dead_letters::redrive(
        &jetstream::new(nats),
        &config.streams.dead_letters,
        &filter,
        |letter| {
            eprintln!(
                "redriven {} -> {} (event {})",
                letter.sequence, letter.original_subject, letter.event_id
            );
        },
    )
    .await?;
    eprintln!(
        "{count} dead letter(s) redriven from {}",
        config.streams.dead_letters
    );
    Ok(())
}

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
    let summary = replay::replay(
        &jetstream::new(nats),
        &route.consumer,
        from,
        &function,
        |progress| {
            eprintln!(
                "  {} delivered, {} handled",
                progress.delivered, progress.acked
            )
        },
    )
    .await?;
    eprintln!(
        "replayed {} message(s): {} handled, {} dead-lettered",
        summary.delivered, summary.acked, summary.dead_lettered
    );
    Ok(())
}
