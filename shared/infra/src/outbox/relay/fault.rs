//! Whose fault a failed publish is: the row's (charged an attempt, parked in the end) or the
//! broker's (an outage or an election, which charges no row).

use std::time::Duration;

use async_nats::jetstream;

use super::OutboxRelay;
use crate::publisher::PublishError;

/// How long the broker may take to answer a question that tells a failing row from an
/// unavailable broker.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whose fault a failed publish is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    /// The row's: the stream refuses it, as it will next time (too large, no stream holds
    /// its subject). Charged an attempt.
    Row,
    /// The broker's: it did not answer, or cannot now. Not charged.
    Broker,
}

impl OutboxRelay {
    /// Tells a row the stream refuses from a broker that cannot take it now, by the kind of
    /// the failure: a lost connection is the broker's; so is a JetStream error that means
    /// "not now" (an election, no quorum). No answer from a stream (no responders, or a
    /// timeout) is either a subject no stream holds (the row's) or a stream without a leader
    /// or slow (the broker's): JetStream is asked which stream holds the subject.
    pub(super) async fn fault_of(&self, subject: &str, error: &PublishError) -> Fault {
        use async_nats::jetstream::context::{GetStreamByNameErrorKind, PublishErrorKind};
        let reason = error.reason();
        match reason.kind() {
            PublishErrorKind::MaxPayloadExceeded
            | PublishErrorKind::WrongLastMessageId
            | PublishErrorKind::WrongLastSequence => Fault::Row,
            PublishErrorKind::BrokenPipe | PublishErrorKind::MaxAckPending => Fault::Broker,
            // No stream answered: none holds the subject (the row's fault, however the
            // server says it: no responders, or silence when something else listens on the
            // subject), or the one that holds it has no leader now, or is slow (the broker's).
            PublishErrorKind::StreamNotFound | PublishErrorKind::TimedOut => {
                match tokio::time::timeout(PROBE_TIMEOUT, self.js.stream_by_subject(subject)).await
                {
                    Ok(Err(e)) if e.kind() == GetStreamByNameErrorKind::NotFound => Fault::Row,
                    _ => Fault::Broker,
                }
            }
            PublishErrorKind::Other => {
                let api = std::error::Error::source(reason)
                    .and_then(|source| source.downcast_ref::<jetstream::Error>());
                match api {
                    Some(api) if lzstock_shim::streams::is_unavailable(api) => Fault::Broker,
                    Some(_) => Fault::Row,
                    // Not the server's words: blame the row only if JetStream answers.
                    None if self.broker_answers().await => Fault::Row,
                    None => Fault::Broker,
                }
            }
        }
    }

    /// Whether JetStream answers a request at all right now.
    pub(super) async fn broker_answers(&self) -> bool {
        matches!(
            tokio::time::timeout(PROBE_TIMEOUT, self.js.query_account()).await,
            Ok(Ok(_))
        )
    }
}
