//! `NATS_URL` (a list of seeds), `NATS_CREDS` and the TLS files: how a binary reaches NATS.

use std::path::PathBuf;

use lzstock_infra::nats::{NatsCredentials, NatsTls};
use lzstock_shim::config::{optional, required, ConfigError, Secret, Source};

use super::check_scheme;

/// `NATS_URL` and optional `NATS_CREDS`.
#[derive(Debug, Clone)]
pub struct NatsConfig {
    /// The seeds of `NATS_URL` (comma-separated, e.g. `nats://n1:4222,nats://n2:4222`):
    /// the client connects to one of them and learns the rest of the cluster from it.
    pub servers: Vec<async_nats::ServerAddr>,
    /// `NATS_CREDS`: a `.creds` file's path, or its content (from a secret), if the server
    /// requires credentials.
    pub creds: Option<NatsCredentials>,
    /// `NATS_TLS_CA`, `NATS_TLS_CERT` and `NATS_TLS_KEY`, checked at start; TLS is required
    /// when any is set or a seed is `tls://`.
    pub tls: NatsTls,
}

impl NatsConfig {
    /// Reads `NATS_URL` and `NATS_CREDS` (a `.creds` file's path, or its content).
    ///
    /// # Errors
    /// When `NATS_URL` is missing, or one of its seeds is not a server address with a known
    /// scheme, or `NATS_CREDS` names no file.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let url = required(source, "NATS_URL", "set it to nats://host:port")?;
        let servers = url
            .split(',')
            .map(str::trim)
            .filter(|seed| !seed.is_empty())
            .map(|seed| {
                if seed.contains("://") {
                    check_scheme("NATS_URL", seed, &["nats", "tls", "ws", "wss"])?;
                }
                seed.parse::<async_nats::ServerAddr>()
                    .map_err(|error| ConfigError::Malformed {
                        name: "NATS_URL",
                        // The seed without its user information: it may hold a password.
                        reason: format!(
                            "{:?} is not a server address: {error}",
                            seed.rsplit('@').next().unwrap_or(seed)
                        ),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if servers.is_empty() {
            return Err(ConfigError::Malformed {
                name: "NATS_URL",
                reason: "names no server".into(),
            });
        }
        let creds = match optional(source, "NATS_CREDS") {
            None => None,
            // The file's content itself, as Secrets Manager hands it to a function.
            Some(content) if content.contains("-----BEGIN NATS USER JWT-----") => {
                Some(NatsCredentials::Inline(Secret::new(content)))
            }
            Some(path) => {
                let path = PathBuf::from(path);
                if !path.is_file() {
                    return Err(ConfigError::Malformed {
                        name: "NATS_CREDS",
                        reason: format!(
                            "no credentials file at {} (give a .creds file's path or its content)",
                            path.display()
                        ),
                    });
                }
                Some(NatsCredentials::File(path))
            }
        };
        let tls = nats_tls(source, &servers)?;
        Ok(Self {
            servers,
            creds,
            tls,
        })
    }
}

/// Reads `NATS_TLS_CA` (a PEM bundle), `NATS_TLS_CERT` and `NATS_TLS_KEY` (a client
/// certificate and its key, both or neither), checking each file parses.
fn nats_tls(
    source: &dyn Source,
    servers: &[async_nats::ServerAddr],
) -> Result<NatsTls, ConfigError> {
    let file = |name: &'static str,
                check: fn(&std::path::Path) -> Result<(), lzstock_infra::nats::PemError>|
     -> Result<Option<PathBuf>, ConfigError> {
        optional(source, name)
            .map(|path| {
                let path = PathBuf::from(path);
                check(&path).map_err(|error| ConfigError::Malformed {
                    name,
                    reason: error.to_string(),
                })?;
                Ok(path)
            })
            .transpose()
    };
    let ca = file("NATS_TLS_CA", lzstock_infra::nats::check_certificates)?;
    let cert = file("NATS_TLS_CERT", lzstock_infra::nats::check_certificates)?;
    let key = file("NATS_TLS_KEY", lzstock_infra::nats::check_private_key)?;
    let client = match (cert, key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConfigError::Missing {
                name: "NATS_TLS_KEY",
                hint: "NATS_TLS_CERT is set: give its private key (PEM) too",
            })
        }
        (None, Some(_)) => {
            return Err(ConfigError::Missing {
                name: "NATS_TLS_CERT",
                hint: "NATS_TLS_KEY is set: give its certificate (PEM) too",
            })
        }
    };
    let tls_seed = servers.iter().any(|seed| seed.tls_required());
    Ok(NatsTls {
        required: tls_seed || ca.is_some() || client.is_some(),
        ca,
        client,
    })
}
