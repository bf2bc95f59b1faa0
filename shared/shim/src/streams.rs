//! Provisioning JetStream streams on one server or a cluster: create a stream, or bring an
//! existing one to the settings its owner manages (subjects, retention, age, duplicate
//! window, replicas), telling a refusal that will pass (an election, a node down) from one
//! that will not (a configuration the server does not accept).
//!
//! Several processes provision at every start, so a stream already as asked is left alone:
//! no update request, nothing for a replica still on older settings to undo.

use async_nats::jetstream::context::{CreateStreamErrorKind, GetStreamErrorKind};
use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::{self, stream};

/// Why a stream could not be provisioned.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// JetStream did not answer, or answered that it cannot now (an election, a node down,
    /// the meta leader not known yet): worth retrying.
    #[error("stream {stream}: JetStream is not available yet: {reason}")]
    Unavailable {
        /// The stream.
        stream: String,
        /// What the client or the server said.
        reason: String,
    },
    /// The cluster cannot place as many replicas as asked for.
    #[error("stream {stream}: {wanted} replicas asked for, and the server says: {server}")]
    Replicas {
        /// The stream.
        stream: String,
        /// The replicas asked for.
        wanted: usize,
        /// The server's own words.
        server: String,
    },
    /// The server refuses the configuration (subjects another stream holds, say).
    #[error("stream {stream}: the server refuses it: {reason}")]
    Refused {
        /// The stream.
        stream: String,
        /// The server's own words.
        reason: String,
    },
}

impl ProvisionError {
    /// Whether retrying can help.
    #[must_use]
    pub const fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// Whether a JetStream API error means "not now" rather than "no": an election under way,
/// the cluster or a stream's group without quorum, a leader not known yet, or an earlier
/// publish of the same message id still waiting for that quorum (a retry during an
/// outage, from nats-server 2.11 on).
#[must_use]
pub fn is_unavailable(error: &jetstream::Error) -> bool {
    const NOT_NOW: [ErrorCode; 8] = [
        ErrorCode::STREAM_DUPLICATE_MESSAGE_CONFLICT,
        ErrorCode::CLUSTER_NOT_AVAILABLE,
        ErrorCode::CLUSTER_NOT_LEADER,
        ErrorCode::CLUSTER_NOT_ACTIVE,
        ErrorCode::CLUSTER_NOT_ASSIGNED,
        ErrorCode::CLUSTER_INCOMPLETE,
        ErrorCode::STREAM_OFFLINE,
        ErrorCode::CLUSTER_SERVER_MEMBER_CHANGE_INFLIGHT,
    ];
    NOT_NOW.contains(&error.error_code()) || error.code() == 503
}

/// Creates `config`'s stream, or brings an existing one to it. `replicas` is the number of
/// copies to keep; `None` keeps an existing stream's (an operator's choice) and creates a
/// new one with one. Lowering an existing stream's replicas is logged as a warning.
///
/// # Errors
/// See [`ProvisionError`].
pub async fn provision(
    js: &jetstream::Context,
    mut config: stream::Config,
    replicas: Option<usize>,
) -> Result<(), ProvisionError> {
    let name = config.name.clone();
    match js.get_stream(&name).await {
        Ok(mut existing) => {
            let info = existing
                .info()
                .await
                .map_err(|e| unavailable(&name, e.to_string()))?;
            let current = info.config.clone();
            let wanted = replicas.unwrap_or(current.num_replicas);
            if wanted < current.num_replicas {
                tracing::warn!(
                    stream = %name,
                    from = current.num_replicas,
                    to = wanted,
                    "lowering the stream's replicas, as configured"
                );
            }
            // Start from the stream as it is, so settings an operator added (limits,
            // placement, mirrors of it) stay; change only what this code manages.
            let mut target = current.clone();
            target.subjects = std::mem::take(&mut config.subjects);
            target.retention = config.retention;
            target.max_age = config.max_age;
            target.duplicate_window = config.duplicate_window;
            target.num_replicas = wanted;
            if target == current {
                return Ok(());
            }
            js.update_stream(&target)
                .await
                .map_err(|e| classify(&name, wanted, e.kind(), e.to_string()))?;
            tracing::info!(stream = %name, replicas = wanted, "stream updated");
            Ok(())
        }
        Err(error) => match error.kind() {
            GetStreamErrorKind::JetStream(inner)
                if inner.error_code() == ErrorCode::STREAM_NOT_FOUND =>
            {
                let wanted = replicas.unwrap_or(1);
                config.num_replicas = wanted;
                js.create_stream(config)
                    .await
                    .map_err(|e| classify(&name, wanted, e.kind(), e.to_string()))?;
                tracing::info!(stream = %name, replicas = wanted, "stream created");
                Ok(())
            }
            GetStreamErrorKind::JetStream(inner) if !is_unavailable(&inner) => {
                Err(ProvisionError::Refused {
                    stream: name,
                    reason: inner.to_string(),
                })
            }
            _ => Err(unavailable(&name, error.to_string())),
        },
    }
}

fn unavailable(stream: &str, reason: String) -> ProvisionError {
    ProvisionError::Unavailable {
        stream: stream.to_owned(),
        reason,
    }
}

fn classify(
    stream: &str,
    wanted: usize,
    kind: CreateStreamErrorKind,
    text: String,
) -> ProvisionError {
    match kind {
        CreateStreamErrorKind::JetStream(error) => {
            let placement = [
                ErrorCode::STREAM_REPLICAS_NOT_SUPPORTED,
                ErrorCode::CLUSTER_NO_PEERS,
                ErrorCode::INSUFFICIENT_RESOURCES,
            ];
            if wanted > 1 && placement.contains(&error.error_code()) {
                ProvisionError::Replicas {
                    stream: stream.to_owned(),
                    wanted,
                    server: error.to_string(),
                }
            } else if is_unavailable(&error) {
                unavailable(stream, error.to_string())
            } else {
                ProvisionError::Refused {
                    stream: stream.to_owned(),
                    reason: error.to_string(),
                }
            }
        }
        CreateStreamErrorKind::EmptyStreamName
        | CreateStreamErrorKind::InvalidStreamName
        | CreateStreamErrorKind::DomainAndExternalSet => ProvisionError::Refused {
            stream: stream.to_owned(),
            reason: text,
        },
        CreateStreamErrorKind::JetStreamUnavailable
        | CreateStreamErrorKind::TimedOut
        | CreateStreamErrorKind::Response
        | CreateStreamErrorKind::NotFound
        | CreateStreamErrorKind::ResponseParse => unavailable(stream, text),
    }
}
