//! The NATS connection.

use std::path::PathBuf;
use std::time::Duration;

use async_nats::{Client, ConnectOptions};
use lzstock_shim::config::Secret;

/// The credentials a NATS server asks for: a `.creds` file (JWT and nkey seed), or its
/// content itself (as a secret manager hands it to a Lambda function).
#[derive(Debug, Clone)]
pub enum NatsCredentials {
    /// A `.creds` file's path.
    File(PathBuf),
    /// A `.creds` file's content.
    Inline(Secret<String>),
}

/// Why a NATS client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// The credentials are missing or malformed.
    #[error("cannot read NATS credentials {path}: {source}")]
    Credentials {
        /// The file's path, or that they were given inline.
        path: String,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The URL is malformed.
    #[error("cannot connect to NATS: {0}")]
    Connect(#[from] async_nats::ConnectError),
}

/// Connects to NATS as `name`, through any of `servers` (seeds: the client learns the rest
/// of a cluster from the server it reaches). The client keeps retrying in the background while the
/// server is down (initial connect included), so a function starts and reports the outage
/// instead of crashing.
///
/// # Errors
/// See [`NatsError`].
pub async fn connect(
    servers: &[async_nats::ServerAddr],
    creds: Option<&NatsCredentials>,
    name: &str,
) -> Result<Client, NatsError> {
    let mut options = ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(5))
        .request_timeout(Some(Duration::from_secs(5)));
    options =
        match creds {
            None => options,
            Some(NatsCredentials::File(path)) => {
                options
                    .credentials_file(path)
                    .await
                    .map_err(|source| NatsError::Credentials {
                        path: path.display().to_string(),
                        source,
                    })?
            }
            Some(NatsCredentials::Inline(content)) => options
                .credentials(content.expose())
                .map_err(|source| NatsError::Credentials {
                    path: "given inline".into(),
                    source,
                })?,
        };
    Ok(options.connect(servers).await?)
}

/// The version of the server the client is connected to, or `None` while disconnected.
#[must_use]
pub fn server_version(client: &Client) -> Option<String> {
    match client.connection_state() {
        async_nats::connection::State::Connected => Some(client.server_info().version),
        _ => None,
    }
}
