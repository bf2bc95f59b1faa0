//! One commit per batch, through the events binary under `cargo lambda watch`: a record that
//! fails rolls back alone and is reported alone, the others commit together.

use base64::Engine as _;
use lzstock_harness::lambda::LambdaEmulator;
use lzstock_harness::{base_env, database, nats, TestDatabase};
use serde_json::{json, Value};

const EVENTS: &str = env!("CARGO_BIN_EXE_events");

/// A sign-up record for user `user` at stream sequence `sequence`.
fn sign_up(sequence: u64, user: &str) -> Value {
    let id = format!("evt-batch-{user}");
    let body = json!({
        "id": id,
        "occurred_at": "2026-12-07T10:00:00Z",
        "request": {"email": format!("{user}@example.com"), "name": "User"},
        "response": {"userId": user},
    });
    record(sequence, &id, &body.to_string())
}

fn record(sequence: u64, id: &str, data: &str) -> Value {
    json!({
        "subject": "lzstock.users.signed_up",
        "data": base64::engine::general_purpose::STANDARD.encode(data),
        "headers": {"Nats-Msg-Id": [id]},
        "stream": "LZSTOCK",
        "stream_sequence": sequence,
        "consumer_sequence": sequence,
        "deliveries": 1,
        "published_at": "2026-12-07T10:00:00Z",
    })
}

/// Six records: four good sign-ups, one the database refuses (a trigger the test installs,
/// so the failure happens inside the transaction, after the record's once-only claim), and
/// one that is not an envelope at all.
fn batch() -> Value {
    json!({"records": [
        sign_up(1, "user-a"),
        sign_up(2, "user-b"),
        sign_up(3, "user-refused"),
        sign_up(4, "user-c"),
        record(5, "evt-batch-poison", "{\"id\": \"evt-batch-poison\""),
        sign_up(6, "user-d"),
    ]})
}

async fn refuse_user(db: &TestDatabase) {
    for statement in [
        "CREATE FUNCTION refuse_user() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.owner_id = 'user-refused' THEN RAISE EXCEPTION 'refused by the test'; END IF;
             RETURN NEW;
         END $$",
        "CREATE TRIGGER refuse_user BEFORE INSERT ON dashboards
         FOR EACH ROW EXECUTE FUNCTION refuse_user()",
    ] {
        sqlx::query(statement)
            .execute(&db.pool)
            .await
            .expect("the refusing trigger is installed");
    }
}

async fn owners(db: &TestDatabase) -> Vec<String> {
    sqlx::query_scalar("SELECT owner_id FROM dashboards ORDER BY owner_id")
        .fetch_all(&db.pool)
        .await
        .expect("owners")
}

/// How many records are processed, and in how many transactions: `now()`, the default of
/// `processed_at`, is the time its transaction began.
async fn processed(db: &TestDatabase) -> (i64, i64) {
    sqlx::query_as("SELECT count(*), count(DISTINCT processed_at) FROM processed_events")
        .fetch_one(&db.pool)
        .await
        .expect("processed events")
}

async fn function_env(db: &TestDatabase, commit: Option<&str>) -> Vec<(String, String)> {
    let bus = nats().await;
    let mut env = base_env();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    env.extend(bus.env());
    env.retain(|(k, _)| k != "EVENTS_SUBJECT_ROOT");
    if let Some(commit) = commit {
        env.push(("EVENTS_COMMIT".into(), commit.into()));
    }
    env
}

fn failures(response: &Value) -> Vec<(String, &'static str)> {
    response["batchItemFailures"]
        .as_array()
        .expect("a batch response")
        .iter()
        .map(|failure| {
            let kind = if failure.get("reject_reason").is_some() {
                "reject"
            } else {
                "retry"
            };
            (
                failure["itemIdentifier"]
                    .as_str()
                    .expect("an item identifier")
                    .to_owned(),
                kind,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_with_one_failing_record_commits_the_others_together_and_reports_the_one() {
    let db = database().await;
    refuse_user(&db).await;
    let env = function_env(&db, None).await;
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).unwrap();
    let _function = emulator.run_function(EVENTS.as_ref(), &env).unwrap();

    let response = emulator.invoke(&batch()).await.unwrap();
    assert_eq!(
        failures(&response),
        [("3".to_owned(), "retry"), ("5".to_owned(), "reject")],
        "{response}"
    );
    assert_eq!(owners(&db).await, ["user-a", "user-b", "user-c", "user-d"]);
    // The refused record's claim went with its savepoint: its retry is not skipped.
    assert_eq!(
        processed(&db).await,
        (4, 1),
        "four records, one transaction"
    );
    let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(outbox, 4, "one dashboards.created per dashboard");

    // The database accepts the user again; the whole batch comes back (as after a lost
    // answer): the retried record is applied, the others are not applied twice.
    sqlx::query("DROP TRIGGER refuse_user ON dashboards")
        .execute(&db.pool)
        .await
        .unwrap();
    let response = emulator.invoke(&batch()).await.unwrap();
    assert_eq!(
        failures(&response),
        [("5".to_owned(), "reject")],
        "{response}"
    );
    assert_eq!(
        owners(&db).await,
        ["user-a", "user-b", "user-c", "user-d", "user-refused"]
    );
    assert_eq!(processed(&db).await, (5, 2));
}

#[tokio::test(flavor = "multi_thread")]
async fn events_commit_record_gives_each_record_a_transaction_of_its_own() {
    let db = database().await;
    refuse_user(&db).await;
    let mut env = function_env(&db, Some("record")).await;
    // One record at a time, so no two transactions can begin in the same microsecond.
    env.push(("EVENTS_CONCURRENCY".into(), "1".into()));
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).unwrap();
    let _function = emulator.run_function(EVENTS.as_ref(), &env).unwrap();

    let response = emulator.invoke(&batch()).await.unwrap();
    assert_eq!(
        failures(&response),
        [("3".to_owned(), "retry"), ("5".to_owned(), "reject")],
        "{response}"
    );
    assert_eq!(owners(&db).await, ["user-a", "user-b", "user-c", "user-d"]);
    assert_eq!(
        processed(&db).await,
        (4, 4),
        "four records, four transactions"
    );
}
