//! Hosting a message function: batches from the bridge on Lambda, JetStream standalone.

use lambda_runtime::{service_fn, LambdaEvent};

use crate::batch::{self, BatchResponse, MessageBatch, MessageHandler};
use crate::bridge::{self, advisory, BridgeMetrics, ConsumerError, ConsumerSettings, InProcess};
use crate::shutdown::Shutdown;
use crate::Host;

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

/// Runs `handler` on the detected [`Host`]: on Lambda it answers each [`MessageBatch`]
/// with a [`BatchResponse`] ([`on_lambda`]); standalone it consumes JetStream itself with
/// `settings` until Ctrl-C or SIGTERM ([`standalone`]).
///
/// # Errors
/// See [`MessageHostError`].
pub async fn run<H: MessageHandler>(
    js: &async_nats::jetstream::Context,
    settings: &ConsumerSettings,
    handler: &H,
) -> Result<(), MessageHostError> {
    match Host::detect() {
        Host::Lambda => on_lambda(settings.concurrency, handler).await,
        Host::Standalone => standalone(js, settings, handler).await,
    }
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
/// out of deliveries (there is no bridge process standalone).
///
/// # Errors
/// When the consumer cannot start.
pub async fn standalone<H: MessageHandler>(
    js: &async_nats::jetstream::Context,
    settings: &ConsumerSettings,
    handler: &H,
) -> Result<(), MessageHostError> {
    let shutdown = Shutdown::listen();
    let metrics = BridgeMetrics::new();
    let invoker = InProcess::new(handler, settings.concurrency);
    let consuming = bridge::run(js, settings, &invoker, &metrics, shutdown.requested());
    // Standalone there is no bridge process: this one also dead-letters what ran out of
    // deliveries while it was down.
    let dead_lettering = async {
        let stored = advisory::run(
            js,
            &settings.stream,
            &settings.dead_letter_prefix,
            &metrics,
            shutdown.requested(),
        )
        .await;
        if let Err(error) = stored {
            tracing::warn!(%error, "not dead-lettering from advisories");
        }
    };
    let (consumed, ()) = tokio::join!(consuming, dead_lettering);
    consumed?;
    Ok(())
}
