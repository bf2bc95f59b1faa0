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

/// TLS towards NATS beyond the system's roots: a CA bundle to trust (`NATS_TLS_CA`) and a
/// client certificate to present (`NATS_TLS_CERT`, `NATS_TLS_KEY`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatsTls {
    /// PEM certificates the server's certificate may chain to.
    pub ca: Option<PathBuf>,
    /// A PEM certificate chain and its PEM private key, when the server verifies clients.
    pub client: Option<(PathBuf, PathBuf)>,
    /// Whether to insist on TLS (a `tls://` seed, or any of the above).
    pub required: bool,
}

/// Why a PEM file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// It cannot be read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It holds no certificate, or no private key, or a malformed one.
    #[error("{path} holds no usable {what}: {reason}")]
    Malformed {
        /// The file.
        path: String,
        /// A certificate or a private key.
        what: &'static str,
        /// What the parser said.
        reason: String,
    },
}

/// Checks that `path` holds at least one PEM certificate, and all of its certificates parse.
///
/// # Errors
/// See [`PemError`].
pub fn check_certificates(path: &std::path::Path) -> Result<(), PemError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let (shown, text) = read_pem(path)?;
    let malformed = |reason: String| PemError::Malformed {
        path: shown.clone(),
        what: "certificate",
        reason,
    };
    let mut count = 0;
    for certificate in CertificateDer::pem_slice_iter(&text) {
        certificate.map_err(|e| malformed(e.to_string()))?;
        count += 1;
    }
    if count == 0 {
        return Err(malformed("no CERTIFICATE block".into()));
    }
    Ok(())
}

/// Checks that `path` holds a PEM private key.
///
/// # Errors
/// See [`PemError`].
pub fn check_private_key(path: &std::path::Path) -> Result<(), PemError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::PrivateKeyDer;
    let (shown, text) = read_pem(path)?;
    PrivateKeyDer::from_pem_slice(&text)
        .map(drop)
        .map_err(|e| PemError::Malformed {
            path: shown,
            what: "private key",
            reason: e.to_string(),
        })
}

/// The file's path as shown in errors, and its bytes.
fn read_pem(path: &std::path::Path) -> Result<(String, Vec<u8>), PemError> {
    let shown = path.display().to_string();
    match std::fs::read(path) {
        Ok(text) => Ok((shown, text)),
        Err(source) => Err(PemError::Unreadable {
            path: shown,
            source,
        }),
    }
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
    tls: &NatsTls,
    name: &str,
) -> Result<Client, NatsError> {
    let mut options = ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(5))
        .request_timeout(Some(Duration::from_secs(5)))
        .require_tls(tls.required);
    if let Some(ca) = &tls.ca {
        options = options.add_root_certificates(ca.clone());
    }
    if let Some((cert, key)) = &tls.client {
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
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
