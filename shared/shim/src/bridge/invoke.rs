//! How the bridge reaches the function that handles a batch.

use std::future::Future;

use crate::batch::{self, BatchResponse, MessageBatch, MessageHandler};

/// Hands a batch to a function and returns its answer.
pub trait Invoke: Send + Sync {
    /// Invokes the function with `batch`.
    fn invoke<'a>(
        &'a self,
        batch: &'a MessageBatch,
    ) -> impl Future<Output = Result<BatchResponse, InvokeError>> + Send + 'a;
}

/// Why an invocation failed as a whole; the bridge then retries every record of the batch
/// with backoff.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The function could not be reached, or the Invoke API refused the call.
    #[error("cannot invoke {function}: {source}")]
    Unreachable {
        /// The function's name.
        function: String,
        /// The client's reason.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Lambda did not run the function for lack of capacity (throttled: reserved
    /// concurrency reached, ENIs or addresses of the VPC exhausted, the function not ready,
    /// a 5xx of the service). Not the batch's fault: the bridge keeps it in hand and tries
    /// again, spending no delivery.
    #[error("{function} throttled: {reason}")]
    Throttled {
        /// The function's name.
        function: String,
        /// The service's error code and message.
        reason: String,
    },
    /// The function ran and failed (crashed, panicked, timed out).
    #[error("{function} failed: {detail}")]
    Function {
        /// The function's name.
        function: String,
        /// The error document the runtime reported.
        detail: String,
    },
    /// The function did not answer within the route's invoke timeout.
    #[error("no answer within {after:?}")]
    TimedOut {
        /// The timeout.
        after: std::time::Duration,
    },
    /// The function reported a failure for a record the batch does not hold.
    #[error("the answer names item {item:?}, which is not in the batch")]
    UnknownItem {
        /// The identifier the function sent.
        item: String,
    },
    /// The function answered something that is not a batch response.
    #[error("{function} answered something that is not a batch response: {source}")]
    Response {
        /// The function's name.
        function: String,
        /// Why the answer did not parse.
        source: serde_json::Error,
    },
}

/// `response` if every failure it reports names a record of `batch`. As in Lambda's SQS
/// mapping, one that does not fails the whole batch: acking the rest on a garbled answer
/// could lose a record.
pub(crate) fn checked(
    batch: &MessageBatch,
    response: BatchResponse,
) -> Result<BatchResponse, InvokeError> {
    let stray = response.batch_item_failures.iter().find(|failure| {
        !batch
            .records
            .iter()
            .any(|record| record.item_identifier() == failure.item_identifier)
    });
    match stray {
        Some(stray) => Err(InvokeError::UnknownItem {
            item: stray.item_identifier.clone(),
        }),
        None => Ok(response),
    }
}

/// Invokes a [`MessageHandler`] in this process, `concurrency` records at a time.
#[derive(Debug)]
pub struct InProcess<'h, H> {
    handler: &'h H,
    concurrency: usize,
}

impl<'h, H> InProcess<'h, H> {
    /// Wraps `handler`.
    pub fn new(handler: &'h H, concurrency: usize) -> Self {
        Self {
            handler,
            concurrency,
        }
    }
}

impl<H: MessageHandler> Invoke for InProcess<'_, H> {
    async fn invoke(&self, batch: &MessageBatch) -> Result<BatchResponse, InvokeError> {
        Ok(batch::process(batch, self.concurrency, self.handler).await)
    }
}
