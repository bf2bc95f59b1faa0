//! The API binary under both hosts: a real Lambda invocation through `cargo lambda watch`,
//! and a standalone HTTP server.

use std::process::Command;
use std::time::Duration;

use lzstock_harness::lambda::LambdaEmulator;
use lzstock_harness::{base_env, database, nats, process};
use serde_json::Value;

const API: &str = env!("CARGO_BIN_EXE_api");

async fn function_env() -> Vec<(String, String)> {
    let (db, bus) = tokio::join!(database(), nats());
    let mut env = base_env();
    env.push(("DATABASE_URL".into(), db.url));
    env.extend(bus.env());
    env
}

/// Ready, and telling an anonymous caller nothing about the servers behind it.
fn assert_ready(body: &Value) {
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["database"]["status"], "ok", "{body}");
    assert_eq!(body["nats"]["status"], "ok", "{body}");
    assert!(body["database"].get("version").is_none(), "{body}");
    assert!(body["nats"].get("version").is_none(), "{body}");
}

/// Ready, with the server versions a token holder sees.
fn assert_healthy(body: &Value) {
    assert_eq!(body["status"], "ok", "{body}");
    let pg = body["database"]["version"].as_str().unwrap_or_default();
    let nats = body["nats"]["version"].as_str().unwrap_or_default();
    assert!(
        pg.chars().next().is_some_and(|c| c.is_ascii_digit()),
        "{body}"
    );
    assert!(nats.starts_with("2."), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_an_api_gateway_v2_event_under_cargo_lambda_watch() {
    let env = function_env().await;
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).unwrap();
    let _function = emulator.run_function(API.as_ref(), &env).unwrap();

    let event: Value =
        serde_json::from_str(include_str!("../../../../events/api-healthz.json")).unwrap();
    let response = emulator.invoke(&event).await.unwrap();

    assert_eq!(response["statusCode"], 200, "{response}");
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_ready(&body);
}

#[tokio::test(flavor = "multi_thread")]
async fn creates_and_reads_a_dashboard_from_api_gateway_events_under_cargo_lambda_watch() {
    let env = function_env().await;
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).unwrap();
    let _function = emulator.run_function(API.as_ref(), &env).unwrap();

    // The owner comes from the claims the API Gateway JWT authorizer verified.
    let create: Value =
        serde_json::from_str(include_str!("../../../../events/api-create-dashboard.json")).unwrap();
    let created = emulator.invoke(&create).await.unwrap();
    assert_eq!(created["statusCode"], 201, "{created}");
    let dashboard: Value = serde_json::from_str(created["body"].as_str().unwrap()).unwrap();
    assert_eq!(dashboard["ownerId"], "ada");
    let id = dashboard["id"].as_str().unwrap();

    let mut read = create.clone();
    let path = format!("/v1/dashboards/{id}");
    read["rawPath"] = path.clone().into();
    read["requestContext"]["http"]["method"] = "GET".into();
    read["requestContext"]["http"]["path"] = path.into();
    read.as_object_mut().unwrap().remove("body");
    let fetched = emulator.invoke(&read).await.unwrap();
    assert_eq!(fetched["statusCode"], 200, "{fetched}");
    let mut body: Value = serde_json::from_str(fetched["body"].as_str().unwrap()).unwrap();
    let companies = body.as_object_mut().unwrap().remove("companies").unwrap();
    assert_eq!(body, dashboard);
    // No facts synced: each company's indicators say so.
    assert_eq!(
        companies[0]["indicators"][0]["available"], false,
        "{companies}"
    );

    // Another user's claims: the dashboard does not exist for them.
    read["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = "bob".into();
    let foreign = emulator.invoke(&read).await.unwrap();
    assert_eq!(foreign["statusCode"], 404, "{foreign}");
}

#[tokio::test(flavor = "multi_thread")]
async fn on_lambda_a_valid_token_without_authorizer_claims_is_refused() {
    // JWT_SECRET is in the environment, and the token is signed with it: on Lambda it is
    // never read, so a route or function URL without the authorizer opens nothing.
    let env = function_env().await;
    assert!(env.iter().any(|(k, _)| k == "JWT_SECRET"));
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).unwrap();
    let _function = emulator.run_function(API.as_ref(), &env).unwrap();

    let mut event: Value =
        serde_json::from_str(include_str!("../../../../events/api-create-dashboard.json")).unwrap();
    event["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    let token = lzstock_harness::tokens::issue_token(
        lzstock_harness::TEST_JWT_SECRET.as_bytes(),
        "ada",
        chrono::Duration::minutes(5),
    )
    .unwrap();
    event["headers"]["authorization"] = format!("Bearer {token}").into();
    let response = emulator.invoke(&event).await.unwrap();
    assert_eq!(response["statusCode"], 401, "{response}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_healthz_standalone_on_port() {
    let mut env = function_env().await;
    let port = process::free_port();
    env.push(("PORT".into(), port.to_string()));
    let mut server = tokio::process::Command::new(API)
        .envs(env)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::task::block_in_place(|| process::wait_for_port(port, Duration::from_secs(20))).unwrap();

    let response = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_ready(&response.json().await.unwrap());
    let token = lzstock_harness::tokens::issue_token(
        lzstock_harness::TEST_JWT_SECRET.as_bytes(),
        "operator",
        chrono::Duration::minutes(5),
    )
    .unwrap();
    let detailed = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(detailed.status(), 200);
    assert_healthy(&detailed.json().await.unwrap());

    let missing = reqwest::get(format!("http://127.0.0.1:{port}/nope"))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // SIGTERM drains and exits 0.
    process::signal_pid(server.id().unwrap(), 15);
    let status = tokio::time::timeout(Duration::from_secs(10), server.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn a_missing_variable_is_one_line_naming_it() {
    let output = Command::new(API)
        .env_clear()
        .env("JWT_SECRET", lzstock_harness::TEST_JWT_SECRET)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Connections the function holds on `db`: client backends only (an autovacuum worker on
/// the freshly migrated database shows up in `pg_stat_activity` too, for as long as it
/// works).
async fn connections(pool: &sqlx::PgPool, db: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
    )
    .bind(db)
    .fetch_one(pool)
    .await
    .expect("pg_stat_activity")
}

#[tokio::test(flavor = "multi_thread")]
async fn on_lambda_the_pool_is_lazy_small_and_survives_a_thaw_after_its_connections_died() {
    let (db, bus) = tokio::join!(lzstock_harness::database(), nats());
    let mut env = base_env();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    // What template.yaml gives the API function.
    env.push(("DATABASE_MAX_CONNECTIONS".into(), "2".into()));
    env.extend(bus.env());
    // The test's own pool is closed: only the function's connections count.
    let watcher = sqlx::PgPool::connect(&db.url.replace(&db.name, "postgres"))
        .await
        .unwrap();
    db.pool.close().await;
    // A closed connection's server process lingers a moment, longer on a loaded machine
    // (seen: past 10 s with the rest of the suite running): end whatever the harness left,
    // then wait until the server reports none before the function starts.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while connections(&watcher, &db.name).await > 0 {
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
        )
        .bind(&db.name)
        .execute(&watcher)
        .await
        .expect("pg_terminate_backend");
        assert!(
            std::time::Instant::now() < deadline,
            "the harness's connections never went"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).unwrap();
    let function = emulator.run_function(API.as_ref(), &env).unwrap();
    let create: Value =
        serde_json::from_str(include_str!("../../../../events/api-create-dashboard.json")).unwrap();

    // Past init and one event that needs no database (`GET /livez`): still no connection,
    // since the pool connects on first use.
    let mut live: Value =
        serde_json::from_str(include_str!("../../../../events/api-healthz.json")).unwrap();
    live["rawPath"] = "/livez".into();
    live["requestContext"]["http"]["path"] = "/livez".into();
    let answer = emulator.invoke(&live).await.unwrap();
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(
        connections(&watcher, &db.name).await,
        0,
        "a connection before the first event that needs one"
    );
    for _ in 0..5 {
        let created = emulator.invoke(&create).await.unwrap();
        assert_eq!(created["statusCode"], 201, "{created}");
    }
    let held = connections(&watcher, &db.name).await;
    assert!((1..=2).contains(&held), "{held} connections");

    // Frozen between events, its connections are cut (an idle timeout, a failover); thawed,
    // the next event still succeeds.
    function.freeze();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()")
        .bind(&db.name)
        .execute(&watcher)
        .await
        .unwrap();
    function.thaw();
    let created = emulator.invoke(&create).await.unwrap();
    assert_eq!(created["statusCode"], 201, "{created}");
}
