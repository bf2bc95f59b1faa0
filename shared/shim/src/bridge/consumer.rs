//! One durable pull consumer: fetch a batch, invoke the function, settle every record.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, AckKind, Message};

use futures::StreamExt;

use super::dispatch::handle_batch;
use super::durable::{reconcile, DurableError};
use super::invoke::Invoke;
use super::metrics::{BridgeMetrics, ConsumerState};
use super::settings::{progress_every, ConsumerSettings};

/// Why the consumer stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// The stream is missing or unreachable.
    #[error("cannot open stream {stream}: {source}")]
    Stream {
        /// The stream's name.
        stream: String,
        /// The broker's reason.
        source: async_nats::jetstream::context::GetStreamError,
    },
    /// The durable consumer cannot be created or brought in line with the settings.
    #[error(transparent)]
    Durable(#[from] DurableError),
}

type PullConsumer = jetstream::consumer::Consumer<pull::Config>;

/// How often the consumer's state (pending, awaiting ack) is asked of the server.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// Records what the server says of the consumer; a broker that does not answer within a
/// second is skipped until the next sample (the fetch loop reports the outage).
async fn sample(consumer: &PullConsumer, route: &str, metrics: &BridgeMetrics) {
    if let Ok(Ok(info)) = tokio::time::timeout(Duration::from_secs(1), consumer.get_info()).await {
        metrics.consumer(
            route,
            ConsumerState {
                pending: info.num_pending,
                ack_pending: u64::try_from(info.num_ack_pending).unwrap_or(0),
                max_ack_pending: info.config.max_ack_pending,
            },
        );
    }
}

/// Consumes until `shutdown` resolves, then finishes the batch in hand (invoke, settle),
/// flushes every settle to the server and returns: the graceful drain. Stops fetching as
/// soon as `shutdown` resolves. The durable consumer is first brought in line with
/// `settings` ([`reconcile`]).
///
/// A fetch that fails or stalls (the broker restarted and lost the pull request, no answer
/// within [`ConsumerSettings::stall_after`], the consumer was deleted) is logged, counted, and the consumer re-created and
/// re-subscribed: the consumer outlives a broker outage.
///
/// # Errors
/// See [`ConsumerError`]; both happen only at start.
pub async fn run<I: Invoke>(
    js: &jetstream::Context,
    settings: &ConsumerSettings,
    invoker: &I,
    metrics: &BridgeMetrics,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ConsumerError> {
    let stream = js
        .get_stream(&settings.stream)
        .await
        .map_err(|source| ConsumerError::Stream {
            stream: settings.stream.clone(),
            source,
        })?;
    // Where a newer bridge wrote the durable, its values are the ones to work with.
    let (consumer, _, settings) = reconcile(&stream, settings).await?;
    let settings = &settings;
    tracing::info!(stream = %settings.stream, durable = %settings.durable, "consuming");

    // The shutdown future is driven beside the loop, which reads a flag between batches:
    // a fetch is never cancelled (what it brought would sit unacknowledged until ack_wait)
    // and the batch in hand is finished and settled: the graceful drain.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let consuming = consume(js, settings, invoker, metrics, &stream, consumer, stopped);
    tokio::pin!(consuming);
    tokio::select! {
        () = &mut consuming => return Ok(()),
        () = shutdown => {
            let _ = stop.send(true);
        }
    }
    consuming.await;
    Ok(())
}

/// Waits until the server has every ack, nak and term this client sent: they are
/// fire-and-forget publishes, and a process exiting right after a drain would lose the
/// last ones still in its write buffer.
async fn flush_settles(js: &jetstream::Context, durable: &str) {
    match tokio::time::timeout(Duration::from_secs(10), js.client().flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, durable, "flushing the last settles failed"),
        Err(_) => tracing::warn!(durable, "flushing the last settles timed out"),
    }
}

/// How long a stalled consumer waits to be checked (and re-created if gone) before it pulls
/// again with the consumer in hand.
const RECONCILE_AFTER_STALL: Duration = Duration::from_secs(2);

async fn consume<I: Invoke>(
    js: &jetstream::Context,
    settings: &ConsumerSettings,
    invoker: &I,
    metrics: &BridgeMetrics,
    stream: &jetstream::stream::Stream,
    mut consumer: PullConsumer,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut fetched = fetch(&consumer, settings).await;
    let mut sampled: Option<std::time::Instant> = None;
    loop {
        if sampled.is_none_or(|at| at.elapsed() >= SAMPLE_EVERY) {
            sampled = Some(std::time::Instant::now());
            sample(&consumer, &settings.durable, metrics).await;
        }
        let messages = match fetched {
            Ok(messages) => messages,
            Err(error) => {
                tracing::warn!(%error, durable = %settings.durable, "consumer stalled; re-subscribing");
                metrics.stalled(&settings.durable);
                tokio::select! {
                    _ = stopped.changed() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                // Bounded: during an election the server may not answer for a while, and the
                // consumer in hand pulls again as soon as a leader is back.
                match tokio::time::timeout(RECONCILE_AFTER_STALL, reconcile(stream, settings)).await
                {
                    Ok(Ok((reopened, _, _))) => consumer = reopened,
                    Ok(Err(error)) => tracing::warn!(%error, "re-creating the consumer failed"),
                    Err(_) => {
                        tracing::warn!("the consumer could not be checked yet; pulling again")
                    }
                }
                fetched = fetch(&consumer, settings).await;
                continue;
            }
        };
        let stopping = *stopped.borrow();
        let Some(last) = messages.last() else {
            if stopping {
                break;
            }
            fetched = fetch(&consumer, settings).await;
            continue;
        };
        if let Ok(info) = last.info() {
            metrics.pending(&settings.durable, info.pending);
        }
        if stopping {
            // Draining: settle what was fetched, fetch no more.
            handle_batch(js, settings, messages, invoker, metrics).await;
            break;
        }
        // The next batch is fetched while this one is handled, so the function never
        // waits on a pull round trip.
        let handling = handle_batch(js, settings, messages, invoker, metrics);
        fetched = while_handling(handling, fetch(&consumer, settings), settings.ack_wait).await;
    }
    flush_settles(js, &settings.durable).await;
    tracing::info!(durable = %settings.durable, "consumer drained");
}

/// Runs `handling` to its end while `prefetching` pulls the next batch. Messages that arrive
/// before `handling` ends wait with in-progress acks every [`progress_every`], so a slow
/// batch cannot make the server redeliver the next one elsewhere.
async fn while_handling(
    handling: impl Future<Output = ()>,
    prefetching: impl Future<Output = Result<Vec<Message>, FetchError>>,
    ack_wait: Duration,
) -> Result<Vec<Message>, FetchError> {
    tokio::pin!(handling, prefetching);
    let mut fetched = None;
    let mut progress = tokio::time::interval(progress_every(ack_wait));
    progress.reset();
    loop {
        tokio::select! {
            () = &mut handling => break,
            result = &mut prefetching, if fetched.is_none() => {
                progress.reset();
                fetched = Some(result);
            }
            _ = progress.tick(), if matches!(fetched, Some(Ok(_))) => {
                if let Some(Ok(waiting)) = &fetched {
                    for message in waiting {
                        if let Err(error) = message.ack_with(AckKind::Progress).await {
                            tracing::warn!(%error, "in-progress ack failed");
                        }
                    }
                }
            }
        }
    }
    match fetched {
        Some(result) => result,
        None => prefetching.await,
    }
}

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error(transparent)]
    Broker(#[from] async_nats::Error),
    #[error("no answer to a pull request within {0:?}")]
    Stalled(Duration),
}

async fn fetch(
    consumer: &PullConsumer,
    settings: &ConsumerSettings,
) -> Result<Vec<Message>, FetchError> {
    let pulling = async {
        let mut batch = consumer
            .fetch()
            .max_messages(settings.batch_size)
            .expires(settings.max_wait)
            .messages()
            .await?;
        let mut messages = Vec::with_capacity(settings.batch_size);
        while let Some(message) = batch.next().await {
            messages.push(message?);
        }
        Ok::<_, async_nats::Error>(messages)
    };
    // A pull request lost with a restarting server is never answered: this deadline
    // notices.
    let limit = settings.stall_after();
    match tokio::time::timeout(limit, pulling).await {
        Ok(fetched) => Ok(fetched?),
        Err(_) => Err(FetchError::Stalled(limit)),
    }
}
