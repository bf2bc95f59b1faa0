//! The standalone API binary on a free port, over its own database and streams, for the
//! tests that drive it with third-party clients.

use std::time::Duration;

use lzstock_harness::{base_env, database, nats, process, TestDatabase};

/// A running standalone API; it stops when dropped.
pub struct StandaloneApi {
    _child: tokio::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The database it serves.
    #[allow(dead_code)] // Each test binary compiles this module; not every one seeds data.
    pub db: TestDatabase,
}

/// Starts the API binary standalone and waits until it listens.
pub async fn start() -> StandaloneApi {
    start_with(&[]).await
}

/// Starts the API binary standalone with `extra` variables and waits until it listens.
pub async fn start_with(extra: &[(&str, &str)]) -> StandaloneApi {
    let (db, bus) = tokio::join!(database(), nats());
    let port = process::free_port();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_api"))
        .envs(base_env())
        .env("DATABASE_URL", &db.url)
        .envs(bus.env())
        .env("PORT", port.to_string())
        .env("RUST_LOG", "error")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .envs(extra.iter().copied())
        .kill_on_drop(true)
        .spawn()
        .expect("the api starts");
    tokio::task::block_in_place(|| process::wait_for_port(port, Duration::from_secs(20)))
        .expect("the api listens");
    StandaloneApi {
        _child: child,
        url: format!("http://127.0.0.1:{port}"),
        db,
    }
}
