//! A stand-in for AWS Secrets Manager's `GetSecretValue` over real HTTP (the JSON 1.1
//! protocol the SDK speaks), so a binary reads its secrets through the same SDK path it
//! takes on AWS. A test sets and changes secrets (a rotation) and counts the reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use crate::local_http::LocalServer;

#[derive(Debug, Default)]
struct Shared {
    secrets: HashMap<String, String>,
    reads: HashMap<String, usize>,
}

/// A running stand-in on a free loopback port; it stops when dropped.
#[derive(Debug)]
pub struct SecretsManagerStandIn {
    server: LocalServer,
    shared: Arc<Mutex<Shared>>,
}

impl SecretsManagerStandIn {
    /// Starts a stand-in holding no secret.
    pub async fn start() -> Self {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let app = Router::new()
            .route("/", post(get_secret_value))
            .with_state(shared.clone());
        Self {
            server: LocalServer::start(app).await,
            shared,
        }
    }

    /// Sets (or rotates) secret `id` to the text `value`.
    ///
    /// # Panics
    /// When a request handler panicked while holding the state.
    pub fn set(&self, id: &str, value: &str) {
        self.shared
            .lock()
            .expect("state")
            .secrets
            .insert(id.to_owned(), value.to_owned());
    }

    /// How many times secret `id` was read.
    ///
    /// # Panics
    /// When a request handler panicked while holding the state.
    #[must_use]
    pub fn reads(&self, id: &str) -> usize {
        self.shared
            .lock()
            .expect("state")
            .reads
            .get(id)
            .copied()
            .unwrap_or(0)
    }

    /// The variables that point a binary's SDK at the stand-in, with credentials it
    /// accepts (any).
    #[must_use]
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", self.server.url()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "local".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .to_vec()
    }
}

async fn get_secret_value(
    State(shared): State<Arc<Mutex<Shared>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if target != "secretsmanager.GetSecretValue" {
        return error(StatusCode::BAD_REQUEST, "UnknownOperationException", target);
    }
    let id = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|request| request["SecretId"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut shared = shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *shared.reads.entry(id.clone()).or_default() += 1;
    match shared.secrets.get(&id) {
        Some(value) => (
            StatusCode::OK,
            [("Content-Type", "application/x-amz-json-1.1")],
            serde_json::json!({
                "ARN": format!("arn:aws:secretsmanager:us-east-1:000000000000:secret:{id}"),
                "Name": id,
                "SecretString": value,
                "VersionId": "00000000-0000-0000-0000-000000000001",
                "VersionStages": ["AWSCURRENT"],
            })
            .to_string(),
        )
            .into_response(),
        None => error(
            StatusCode::BAD_REQUEST,
            "ResourceNotFoundException",
            "Secrets Manager can't find the specified secret.",
        ),
    }
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [("Content-Type", "application/x-amz-json-1.1")],
        serde_json::json!({"__type": kind, "Message": message}).to_string(),
    )
        .into_response()
}
