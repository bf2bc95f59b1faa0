//! The long-running bridge.

use std::net::{Ipv4Addr, SocketAddr};

use crate::config::BridgeConfig;
use async_nats::jetstream;
use futures::future::join_all;
use lzstock_app::{health, resources};
use lzstock_infra::emails::PgEmailStore;
use lzstock_infra::emails::{RESEND_EVERY, RESEND_STALLED_AFTER};
use lzstock_infra::outbox::OutboxRelay;
use lzstock_shim::bridge::{
    self, advisory, lambda, BridgeMetrics, Concurrency, Gated, LambdaFunction,
};
use lzstock_shim::http;
use lzstock_shim::shutdown::Shutdown;
use lzstock_shim::tasks::{self, TaskHealth};

/// Serves until Ctrl-C or SIGTERM, then drains: stops fetching, finishes the batches in
/// hand, settles them, and returns.
pub async fn run(config: BridgeConfig) -> Result<(), Box<dyn std::error::Error>> {
    // Listened for from the start: a SIGTERM during start-up still stops every part.
    let shutdown = Shutdown::listen();
    let nats = resources::nats(&config.nats, "lzstock-nats-bridge").await?;
    let js = jetstream::new(nats.clone());
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, config.http.port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let pool = config
        .database
        .as_ref()
        .map(resources::database)
        .transpose()?;
    let relay = pool
        .clone()
        .map(|pool| OutboxRelay::with_settings(pool, js.clone(), config.outbox.relay));
    // One /metrics for the bridge and the relay: both count into the process's recorder.
    let metrics = BridgeMetrics::new();
    // Every long-running part below is a supervised task: restarted when it fails, and
    // /healthz fails while one stays down.
    let task_health = TaskHealth::new();
    let probe = health::HealthProbe {
        database: pool.clone(),
        nats: Some(health::NatsProbe::Client(nats)),
        tasks: Some(task_health.clone()),
    };
    // The bridge's port is an operator port (beside /metrics): versions for every caller.
    let routes = health::router(probe).merge(metrics.router());
    let serving = http::serve_within(listener, routes, config.http.limits, shutdown.requested());
    let working = async {
        if !resources::provision_streams(&js, &config.streams, shutdown.requested()).await? {
            return Ok(());
        }
        tracing::info!(
            events = %config.streams.events,
            dead_letters = %config.streams.dead_letters,
            routes = config.routes.len(),
            "streams ready"
        );
        // Resolving the AWS configuration can take seconds off AWS: only when needed.
        let functions: Vec<LambdaFunction> = if config.routes.is_empty() {
            Vec::new()
        } else {
            let client = lambda::client_from_env().await;
            config
                .routes
                .iter()
                .map(|route| LambdaFunction::new(&client, route.function.clone()))
                .collect()
        };
        // Each durable is brought in line with its route once, before its loops share it.
        if !config.routes.is_empty() {
            let stream = js.get_stream(&config.streams.events).await?;
            for route in &config.routes {
                let (_, reconciled, _) = bridge::reconcile(&stream, &route.consumer).await?;
                tracing::info!(route = %route.consumer.durable, ?reconciled, "route's consumer ready");
            }
        }
        // Each route runs `max_concurrency` pull loops on its durable consumer, each invoking
        // through the route's slots: from `min_concurrency` invokes at once, rising while the
        // backlog grows and invokes succeed, halving on throttles and failures. A loop that
        // fails is restarted alone.
        let slots: Vec<Concurrency> = config
            .routes
            .iter()
            .map(|route| {
                Concurrency::new(
                    &route.consumer.durable,
                    route.min_concurrency,
                    route.max_concurrency,
                )
            })
            .collect();
        let gated: Vec<Gated<'_, LambdaFunction>> = config
            .routes
            .iter()
            .zip(&functions)
            .zip(&slots)
            .map(|((route, function), slots)| {
                Gated::new(function, slots, route.consumer.batch_size)
            })
            .collect();
        let consuming = join_all(
            config
                .routes
                .iter()
                .zip(&gated)
                .flat_map(|(route, invoker)| {
                    (0..route.max_concurrency).map(move |_| (route, invoker))
                })
                .map(|(route, invoker)| {
                    bridge::supervise(
                        &route.consumer.durable,
                        &metrics,
                        &task_health,
                        || shutdown.requested(),
                        |stop| bridge::run(&js, &route.consumer, invoker, &metrics, stop),
                    )
                }),
        );
        let dead_lettering = tasks::supervise(
            "advisory-listener",
            &task_health,
            || shutdown.requested(),
            |stop| {
                advisory::run(
                    &js,
                    &config.streams.events,
                    &config.streams.dead_letter_prefix,
                    &metrics,
                    stop,
                )
            },
        );
        let relaying = async {
            if let Some(relay) = &relay {
                tasks::supervise(
                    "outbox-relay",
                    &task_health,
                    || shutdown.requested(),
                    |stop| async {
                        relay.run(stop).await;
                        Ok::<(), std::convert::Infallible>(())
                    },
                )
                .await;
            }
        };
        // Beside the relay, where the database is: emails whose event ran out of
        // deliveries are announced again (the events function cannot, between invocations).
        let resending = async {
            if let Some(pool) = &pool {
                let emails = PgEmailStore::new(pool.clone(), config.streams.subject_root.clone());
                tasks::supervise(
                    "stalled-email-announcer",
                    &task_health,
                    || shutdown.requested(),
                    |stop| async {
                        emails
                            .resend_stalled(RESEND_EVERY, RESEND_STALLED_AFTER, stop)
                            .await;
                        Ok::<(), std::convert::Infallible>(())
                    },
                )
                .await;
            }
        };
        tokio::join!(consuming, dead_lettering, relaying, resending);
        Ok::<(), Box<dyn std::error::Error>>(())
    };
    let serving = async { serving.await.map_err(Into::into) };
    // A refusal while working (say, a stream configuration the server rejects) stops the
    // server too; a shutdown signal ends both normally.
    tokio::try_join!(serving, working)?;
    tracing::info!("nats-bridge drained");
    Ok(())
}
