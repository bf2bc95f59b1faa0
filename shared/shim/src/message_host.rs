//! Hosting a message function: batches from the bridge on Lambda, JetStream standalone.

use lambda_runtime::{service_fn, LambdaEvent};

use crate::batch::{self, BatchResponse, MessageBatch, MessageHandler};
use crate::bridge::{self, advisory, BridgeMetrics, ConsumerError, ConsumerSettings, InProcess};
use crate::shutdown::Shutdown;

/// Why a message host stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum MessageHostError {
    /// The Lambda runtime loop failed.
    #[error("Lambda runtime failed: {0}")]
    Lambda(lambda_runtime::Error),
    /// The standalone consumer could not start.
    #[error(transparent)]
    Consumer(#[from] ConsumerError),
}

/// Answers each [`MessageBatch`] the Lambda runtime delivers with a [`BatchResponse`],
/// handling up to `concurrency` records at once. It needs no broker: the bridge fetched
/// the messages and settles them.
///
/// # Errors
/// When the Lambda runtime fails.
pub async fn on_lambda<H: MessageHandler>(
    concurrency: usize,
    handler: &H,
) -> Result<(), MessageHostError> {
    crate::invocation::flush_on_sigterm();
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<MessageBatch>| async move {
            tracing::info!(records = event.payload.records.len(), "batch received");
            crate::invocation::invocation(async {
                let response: BatchResponse =
                    batch::process(&event.payload, concurrency, handler).await;
                Ok::<_, lambda_runtime::Error>(response)
            })
            .await
        },
    ))
    .await
    .map_err(MessageHostError::Lambda)
}

/// Consumes JetStream with `settings` until Ctrl-C or SIGTERM, and dead-letters what ran
/// out of deliveries (there is no bridge process standalone). Both are tasks supervised in
/// `tasks`: restarted when they fail.
///
/// # Errors
/// None today; the signature keeps room for a start-up refusal.
pub async fn standalone<H: MessageHandler>(
    js: &async_nats::jetstream::Context,
    settings: &ConsumerSettings,
    handler: &H,
    tasks: &crate::tasks::TaskHealth,
) -> Result<(), MessageHostError> {
    let shutdown = Shutdown::listen();
    let metrics = BridgeMetrics::new();
    let invoker = InProcess::new(handler, settings.concurrency);
    let consuming = bridge::supervise(
        &settings.durable,
        &metrics,
        tasks,
        || shutdown.requested(),
        |stop| bridge::run(js, settings, &invoker, &metrics, stop),
    );
    // Standalone there is no bridge process: this one also dead-letters what ran out of
    // deliveries while it was down.
    let dead_lettering = crate::tasks::supervise(
        "advisory-listener",
        tasks,
        || shutdown.requested(),
        |stop| {
            advisory::run(
                js,
                &settings.stream,
                &settings.dead_letter_prefix,
                &metrics,
                stop,
            )
        },
    );
    tokio::join!(consuming, dead_lettering);
    Ok(())
}
