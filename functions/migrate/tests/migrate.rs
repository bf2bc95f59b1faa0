//! The migrate function: two runs at once (one applies, the other waits and finds nothing),
//! a changed migration refused, and the CloudFormation custom resource answered at its
//! response URL, under `cargo lambda watch`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::put;
use axum::Router;
use lzstock_harness::lambda::LambdaEmulator;
use lzstock_harness::local_http::LocalServer;
use lzstock_harness::{base_env, empty_database, TestDatabase};
use serde_json::Value;

const MIGRATE: &str = env!("CARGO_BIN_EXE_migrate");

/// How many migrations the repository has.
fn migrations() -> usize {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations"))
        .expect("migrations/")
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count()
}

fn env(db: &TestDatabase) -> Vec<(String, String)> {
    let mut env = base_env();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    env
}

async fn run_standalone(db: &TestDatabase) -> std::process::Output {
    tokio::process::Command::new(MIGRATE)
        .envs(env(db))
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .await
        .expect("migrate runs")
}

fn report(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("a JSON report")
}

async fn sessions_waiting_for_the_lock(db: &TestDatabase) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
         WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = $1",
    )
    .bind(&db.name)
    .fetch_one(&db.pool)
    .await
    .expect("pg_locks")
}

#[tokio::test(flavor = "multi_thread")]
async fn two_runs_at_once_one_applies_and_the_other_waits_and_finds_nothing() {
    let db = empty_database().await;
    // The test holds the lock first, so both runs are seen waiting before either starts.
    let mut holder = db.pool.acquire().await.expect("a connection");
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(lzstock_infra::migrations::MIGRATION_LOCK)
        .execute(&mut *holder)
        .await
        .expect("lock");
    let first = tokio::spawn({
        let db = db.clone();
        async move { run_standalone(&db).await }
    });
    let second = tokio::spawn({
        let db = db.clone();
        async move { run_standalone(&db).await }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while sessions_waiting_for_the_lock(&db).await < 2 {
        assert!(
            Instant::now() < deadline,
            "the runs never queued on the lock"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(lzstock_infra::migrations::MIGRATION_LOCK)
        .execute(&mut *holder)
        .await
        .expect("unlock");
    let (first, second) = (first.await.expect("first"), second.await.expect("second"));
    let mut applied: Vec<usize> = [report(&first), report(&second)]
        .iter()
        .map(|r| {
            assert_eq!(r["total"], migrations(), "{r}");
            r["applied"].as_array().expect("applied").len()
        })
        .collect();
    applied.sort_unstable();
    assert_eq!(applied, [0, migrations()]);

    // A third run, later, has nothing to do either.
    let again = report(&run_standalone(&db).await);
    assert_eq!(again["applied"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_whose_file_changed_since_it_was_applied_is_refused() {
    let db = empty_database().await;
    report(&run_standalone(&db).await);
    sqlx::query(
        "UPDATE _sqlx_migrations SET checksum = '\\x00'::bytea
         WHERE version = (SELECT min(version) FROM _sqlx_migrations)",
    )
    .execute(&db.pool)
    .await
    .expect("tamper");
    let refused = run_standalone(&db).await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("20261123000001"), "{stderr}");
    assert!(stderr.contains("changed"), "{stderr}");
}

/// What the response URL received: each PUT's body and whether it had a Content-Type.
#[derive(Clone, Default)]
struct Answers(Arc<Mutex<Vec<(Value, bool)>>>);

impl Answers {
    fn server(&self) -> Router {
        let answers = self.clone();
        Router::new().route(
            "/{*key}",
            put(move |headers: HeaderMap, body: Bytes| {
                let answers = answers.clone();
                async move {
                    let parsed = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    answers
                        .0
                        .lock()
                        .expect("answers")
                        .push((parsed, headers.contains_key("content-type")));
                    StatusCode::OK
                }
            }),
        )
    }

    fn taken(&self) -> Vec<(Value, bool)> {
        std::mem::take(&mut *self.0.lock().expect("answers"))
    }
}

fn request(fixture: &str, response_url: &str) -> Value {
    let mut event: Value = serde_json::from_str(fixture).expect("a fixture");
    event["ResponseURL"] =
        format!("{response_url}/stack%7CMigrations%7Cid?X-Amz-Signature=0").into();
    event
}

#[tokio::test(flavor = "multi_thread")]
async fn as_a_custom_resource_it_answers_cloudformation_at_the_response_url() {
    let db = empty_database().await;
    let answers = Answers::default();
    let s3 = LocalServer::start(answers.server()).await;
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).expect("emulator");
    let _function = emulator
        .run_function(MIGRATE.as_ref(), &env(&db))
        .expect("function");

    // Create: everything is applied, and CloudFormation hears so.
    let create = request(
        include_str!("../../../events/migrate-create.json"),
        &s3.url(),
    );
    let returned = emulator.invoke(&create).await.expect("an answer");
    let answered = answers.taken();
    assert_eq!(answered.len(), 1);
    let (answer, content_type) = &answered[0];
    assert!(!content_type, "a pre-signed URL takes no Content-Type");
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["PhysicalResourceId"], "lzstock-schema");
    assert_eq!(answer["RequestId"], create["RequestId"]);
    assert_eq!(answer["StackId"], create["StackId"]);
    assert_eq!(answer["LogicalResourceId"], "Migrations");
    let result: Value =
        serde_json::from_str(answer["Data"]["Result"].as_str().expect("Data.Result"))
            .expect("JSON");
    assert_eq!(
        result["applied"].as_array().expect("applied").len(),
        migrations()
    );
    assert_eq!(
        &returned, answer,
        "the invocation returns the answer it sent"
    );

    // Update: nothing pending.
    let update = request(
        include_str!("../../../events/migrate-update.json"),
        &s3.url(),
    );
    emulator.invoke(&update).await.expect("an answer");
    let (answer, _) = answers.taken().remove(0);
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert!(answer["Reason"]
        .as_str()
        .expect("reason")
        .contains("\"applied\":[]"));

    // A migration changed since it was applied: the deploy fails, with the reason.
    sqlx::query(
        "UPDATE _sqlx_migrations SET checksum = '\\x00'::bytea WHERE version = 20261124000005",
    )
    .execute(&db.pool)
    .await
    .expect("tamper");
    emulator.invoke(&update).await.expect("an answer");
    let (answer, _) = answers.taken().remove(0);
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    assert!(
        answer["Reason"]
            .as_str()
            .expect("reason")
            .contains("20261124000005"),
        "{answer}"
    );

    // Delete: the schema stays, and the stack may go.
    let delete = request(
        include_str!("../../../events/migrate-delete.json"),
        &s3.url(),
    );
    emulator.invoke(&delete).await.expect("an answer");
    let (answer, _) = answers.taken().remove(0);
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(usize::try_from(tables).expect("small"), migrations());

    // A response URL that refuses the answer fails the invocation, so Lambda retries it.
    let mut lost = create.clone();
    lost["ResponseURL"] = "http://127.0.0.1:9/nowhere".into();
    assert!(emulator.invoke(&lost).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn invoked_directly_it_returns_its_report() {
    let db = empty_database().await;
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).expect("emulator");
    let _function = emulator
        .run_function(MIGRATE.as_ref(), &env(&db))
        .expect("function");
    let report = emulator
        .invoke(&serde_json::json!({}))
        .await
        .expect("report");
    assert_eq!(
        report["applied"].as_array().expect("applied").len(),
        migrations()
    );
    let again = emulator
        .invoke(&serde_json::json!({}))
        .await
        .expect("report");
    assert_eq!(again["applied"], serde_json::json!([]));
}
