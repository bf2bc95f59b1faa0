//! Secrets at run time: the API binary reads `DATABASE_URL` from Secrets Manager
//! (`DATABASE_URL_SECRET`, through the SDK, against a stand-in over HTTP) once at start,
//! and once more when PostgreSQL refuses the credentials it holds (the secret was rotated);
//! a secret it cannot read stops it at start, naming the variable.

use std::time::{Duration, Instant};

use lzstock_harness::secrets_manager::SecretsManagerStandIn;
use lzstock_harness::{base_env, database, nats, process, tokens, TEST_JWT_SECRET};

const SECRET: &str = "lzstock/database";

fn secret(url: &str) -> String {
    serde_json::json!({"url": url, "direct_url": url}).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_database_secret_is_read_again_when_postgresql_refuses_the_old_one() {
    let (db, bus, secrets) = tokio::join!(database(), nats(), SecretsManagerStandIn::start());
    // What the process reads at start: a login PostgreSQL refuses (no such role).
    let mut refused = reqwest::Url::parse(&db.url).expect("a URL");
    refused.set_username("rotated_away").expect("a user");
    secrets.set(SECRET, &secret(refused.as_str()));

    let port = process::free_port();
    let _api = tokio::process::Command::new(env!("CARGO_BIN_EXE_api"))
        .envs(base_env())
        .envs(bus.env())
        .envs(secrets.env())
        .env("DATABASE_URL_SECRET", format!("{SECRET}#url"))
        .env("PORT", port.to_string())
        .env("RUST_LOG", "error")
        .env_remove("DATABASE_URL")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .kill_on_drop(true)
        .spawn()
        .expect("the api starts");
    tokio::task::block_in_place(|| process::wait_for_port(port, Duration::from_secs(20)))
        .expect("the api listens");
    assert_eq!(secrets.reads(SECRET), 1, "read once, at start");

    // The secret is rotated to a login PostgreSQL accepts.
    secrets.set(SECRET, &secret(&db.url));
    let token = tokens::issue_token(
        TEST_JWT_SECRET.as_bytes(),
        "ada",
        chrono::Duration::minutes(5),
    )
    .expect("a token");
    let http = reqwest::Client::new();
    let list = || {
        http.get(format!("http://127.0.0.1:{port}/v1/dashboards"))
            .bearer_auth(&token)
            .send()
    };
    let first = list().await.expect("an answer").status();
    assert!(
        first.is_server_error(),
        "the old credentials are refused: {first}"
    );
    let started = Instant::now();
    let status = loop {
        let status = list().await.expect("an answer").status();
        if status == 200 || started.elapsed() > Duration::from_secs(20) {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, 200, "the rotated secret is used");
    assert_eq!(secrets.reads(SECRET), 2, "read again once, on the refusal");
}

#[tokio::test]
async fn a_secret_that_cannot_be_read_stops_the_api_at_start_naming_its_variable() {
    let secrets = SecretsManagerStandIn::start().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_api"))
        .envs(base_env())
        .envs(secrets.env())
        .env("DATABASE_URL_SECRET", "lzstock/absent#url")
        .env("NATS_URL", "nats://127.0.0.1:1")
        .env_remove("DATABASE_URL")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .await
        .expect("the api runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("DATABASE_URL_SECRET") && stderr.contains("lzstock/absent"),
        "{stderr}"
    );
    // Secrets Manager's own reason, in one line a reader takes in (not the SDK's chain).
    let line = stderr
        .lines()
        .find(|line| line.contains("DATABASE_URL_SECRET"))
        .expect("the line naming the variable");
    assert!(
        line.contains(
            "ResourceNotFoundException: Secrets Manager can't find the specified secret."
        ),
        "{line}"
    );
    assert!(line.len() < 300, "{} characters: {line}", line.len());
    assert_eq!(secrets.reads("lzstock/absent"), 1);
}
