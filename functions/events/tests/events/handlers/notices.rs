//! The notification routes: a welcome on a new user's first dashboard, filing alerts, and
//! emails other services request — each once, however often its event arrives.

use lzstock_shim::batch::{self, MessageBatch, MessageHandler, Outcome};
use serde_json::{json, Value};

use crate::handlers::{record, router, signed_up};

async fn emails(pool: &sqlx::PgPool) -> Vec<(String, Vec<String>, String)> {
    sqlx::query_as("SELECT owner_id, to_addresses, subject FROM emails ORDER BY created_at")
        .fetch_all(pool)
        .await
        .expect("emails")
}

/// The dashboards.created events in the outbox, as the relay would publish them.
async fn announced_dashboards(pool: &sqlx::PgPool) -> Vec<Value> {
    sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE subject = 'lzstock.dashboards.created' ORDER BY created_at",
    )
    .fetch_all(pool)
    .await
    .expect("outbox")
}

#[tokio::test]
async fn a_new_user_gets_one_welcome_email_however_often_the_events_arrive() {
    let db = lzstock_harness::database().await;
    let router = router(db.pool.clone());
    let sign_up = signed_up("evt-w1", "user-7", "grace@example.com");
    for _ in 0..2 {
        assert_eq!(router.handle(&sign_up).await, Outcome::Ack);
    }
    let contact: (String, String) =
        sqlx::query_as("SELECT address, name FROM user_contacts WHERE user_id = 'user-7'")
            .fetch_one(&db.pool)
            .await
            .expect("the contact, recorded with the first dashboard");
    assert_eq!(contact, ("grace@example.com".into(), "Ada".into()));
    let created = announced_dashboards(&db.pool).await;
    assert_eq!(created.len(), 1);
    let id = created[0]["id"].as_str().expect("an id").to_owned();
    let event = record("lzstock.dashboards.created", &id, created[0].clone());
    for _ in 0..3 {
        assert_eq!(router.handle(&event).await, Outcome::Ack);
    }
    // Even a second dashboard's event welcomes nobody again.
    let mut second = created[0].clone();
    second["id"] = json!("d-2");
    second["response"]["id"] = json!(uuid::Uuid::new_v4().to_string());
    assert_eq!(
        router
            .handle(&record("lzstock.dashboards.created", "d-2", second))
            .await,
        Outcome::Ack
    );
    let sent = emails(&db.pool).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, "user-7");
    assert_eq!(sent[0].1, ["grace@example.com"]);
    assert_eq!(sent[0].2, "Welcome to LZStock");
}

#[tokio::test]
async fn in_one_batch_a_taken_notice_key_undoes_its_email_and_keeps_the_rest() {
    let db = lzstock_harness::database().await;
    let router = router(db.pool.clone());
    let sign_up = signed_up("evt-w2", "user-8", "hopper@example.com");
    assert_eq!(router.handle(&sign_up).await, Outcome::Ack);
    let created = announced_dashboards(&db.pool).await;
    let first = created[0].clone();
    let mut second = first.clone();
    second["id"] = json!("d-8b");
    second["response"]["id"] = json!(uuid::Uuid::new_v4().to_string());
    let first_id = first["id"].as_str().expect("id").to_owned();
    let mut records = vec![
        record("lzstock.dashboards.created", &first_id, first),
        record("lzstock.dashboards.created", "d-8b", second),
    ];
    records[1].stream_sequence = 2;
    // One transaction: the second record's welcome finds the first's notice key taken, so
    // its email is rolled back to the savepoint inside the record, and the record (its
    // processed event) still commits.
    let answer = batch::process(&MessageBatch { records }, 4, &router).await;
    assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
    let sent = emails(&db.pool).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let processed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM processed_events WHERE handler = 'dashboards.created'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("processed");
    assert_eq!(processed, 2);
}

#[tokio::test]
async fn a_dashboard_of_a_user_without_a_known_address_welcomes_nobody() {
    let db = lzstock_harness::database().await;
    let router = router(db.pool.clone());
    let event = json!({"id": "d-9", "occurred_at": "2026-11-23T10:00:00Z",
        "request": {"name": "Tech", "tickers": ["AAPL"], "indicators": []},
        "response": {"id": uuid::Uuid::new_v4().to_string(), "ownerId": "anonymous",
                     "name": "Tech", "tickers": ["AAPL"], "indicators": [],
                     "createdAt": "2026-11-23T10:00:00Z"}});
    assert_eq!(
        router
            .handle(&record("lzstock.dashboards.created", "d-9", event))
            .await,
        Outcome::Ack,
        "logged, not an error"
    );
    assert!(emails(&db.pool).await.is_empty());
}

fn facts_updated(id: &str, ticker: &str, accession: &str, concepts: &[&str]) -> Value {
    json!({"id": id, "occurred_at": "2026-11-23T10:00:00Z",
           "request": {"ticker": ticker},
           "response": {"ticker": ticker, "cik": "0000320193", "changedConcepts": concepts,
                        "latestFiled": "2026-10-31", "accession": accession}})
}

#[tokio::test]
async fn a_filing_alerts_each_owner_tracking_the_company_once() {
    let db = lzstock_harness::database().await;
    let router = router(db.pool.clone());
    for (n, user) in ["ann", "ben"].into_iter().enumerate() {
        let event = signed_up(&format!("s-{n}"), user, &format!("{user}@example.com"));
        assert_eq!(router.handle(&event).await, Outcome::Ack);
    }
    // A second dashboard of ann's tracking AAPL, and one of a user with no address.
    sqlx::query(
        "INSERT INTO dashboards (id, owner_id, name, tickers)
         VALUES (gen_random_uuid(), 'ann', 'More', ARRAY['AAPL']),
                (gen_random_uuid(), 'nobody', 'Tech', ARRAY['AAPL', 'NVDA'])",
    )
    .execute(&db.pool)
    .await
    .expect("dashboards");
    let concepts = [
        "us-gaap:Revenues",
        "us-gaap:NetIncomeLoss",
        "us-gaap:Assets",
    ];
    let first = record(
        "lzstock.companies.facts_updated",
        "f-1",
        facts_updated("f-1", "AAPL", "0000320193-26-000010", &concepts),
    );
    for _ in 0..2 {
        assert_eq!(router.handle(&first).await, Outcome::Ack);
    }
    // The same filing announced again (a re-sync): nothing new.
    let again = record(
        "lzstock.companies.facts_updated",
        "f-2",
        facts_updated("f-2", "AAPL", "0000320193-26-000010", &concepts[..1]),
    );
    assert_eq!(router.handle(&again).await, Outcome::Ack);
    let alerts: Vec<_> = emails(&db.pool)
        .await
        .into_iter()
        .filter(|e| e.2 == "AAPL filed new figures")
        .collect();
    let owners: Vec<&str> = alerts.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(owners, ["ann", "ben"], "one per owner with an address");

    let next_filing = record(
        "lzstock.companies.facts_updated",
        "f-3",
        facts_updated("f-3", "AAPL", "0000320193-26-000020", &concepts),
    );
    assert_eq!(router.handle(&next_filing).await, Outcome::Ack);
    let count = emails(&db.pool)
        .await
        .iter()
        .filter(|e| e.2 == "AAPL filed new figures")
        .count();
    assert_eq!(count, 4, "a new filing alerts again");
}

#[tokio::test]
async fn a_requested_email_is_created_once_and_a_bad_one_names_its_field() {
    let db = lzstock_harness::database().await;
    let router = router(db.pool.clone());
    let requested = |id: &str, to: Value, subject: &str| {
        record(
            "lzstock.emails.requested",
            id,
            json!({"id": id, "occurred_at": "2026-11-23T10:00:00Z",
                   "request": {"ownerId": "ada", "to": to, "subject": subject, "body": "Hi"},
                   "response": {}}),
        )
    };
    let good = requested("r-1", json!(["bob@example.com"]), "Invoice");
    for _ in 0..2 {
        assert_eq!(router.handle(&good).await, Outcome::Ack);
    }
    assert_eq!(emails(&db.pool).await.len(), 1);
    for (event, field) in [
        (
            requested("r-2", json!(["bob@example.com", "nope"]), "Hi"),
            "request.to[1]",
        ),
        (
            requested(
                "r-3",
                json!(["bob@example.com"]),
                "Hi\r\nBcc: eve@example.com",
            ),
            "request.subject",
        ),
    ] {
        match router.handle(&event).await {
            Outcome::Reject { reason } => assert!(reason.contains(field), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn a_requested_email_may_spell_its_fields_as_proto_names_too() {
    let db = lzstock_harness::database().await;
    let router = router(db.pool.clone());
    let event = record(
        "lzstock.emails.requested",
        "r-snake",
        json!({"id": "r-snake", "occurred_at": "2026-11-23T10:00:00Z",
               "request": {"owner_id": "ada", "to": ["bob@example.com"],
                           "subject": "Snake case", "body": "Hi"},
               "response": {}}),
    );
    assert_eq!(router.handle(&event).await, Outcome::Ack);
    assert_eq!(emails(&db.pool).await.len(), 1);
}

#[tokio::test]
async fn a_requested_email_needs_no_response_part() {
    let db = lzstock_harness::database().await;
    let router = router(db.pool.clone());
    let event = record(
        "lzstock.emails.requested",
        "r-bare",
        json!({"id": "r-bare", "occurred_at": "2026-11-23T10:00:00Z",
               "request": {"ownerId": "ada", "to": ["bob@example.com"],
                           "subject": "No response", "body": "Hi"}}),
    );
    let outcome = router.handle(&event).await;
    assert_eq!(outcome, Outcome::Ack, "{outcome:?}");
}

#[tokio::test]
async fn a_welcome_and_its_processed_event_commit_together_even_alone() {
    use lzstock_events::routing::Commit;
    let db = lzstock_harness::database().await;
    let sign_up = signed_up("evt-w9", "user-9", "lovelace@example.com");
    assert_eq!(router(db.pool.clone()).handle(&sign_up).await, Outcome::Ack);
    let created = announced_dashboards(&db.pool).await;
    let id = created[0]["id"].as_str().expect("an id").to_owned();
    let event = record("lzstock.dashboards.created", &id, created[0].clone());
    // The database refuses the processed event of this route, after the welcome was
    // written: the welcome must go with it.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_welcome_claims() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.handler = 'dashboards.created' THEN RAISE EXCEPTION 'refused by the test'; END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER refuse_welcome_claims BEFORE INSERT ON processed_events
         FOR EACH ROW EXECUTE FUNCTION refuse_welcome_claims();",
    )
    .execute(&db.pool)
    .await
    .expect("trigger");
    for commit in [Commit::Batch, Commit::Record] {
        let router = router(db.pool.clone()).committing(commit);
        // Alone, and as a batch of one, under either setting.
        assert!(matches!(router.handle(&event).await, Outcome::Retry { .. }));
        let answer = batch::process(
            &MessageBatch {
                records: vec![event.clone()],
            },
            4,
            &router,
        )
        .await;
        assert_eq!(
            answer.batch_item_failures.len(),
            1,
            "{commit:?}: {answer:?}"
        );
        assert!(
            emails(&db.pool).await.is_empty(),
            "{commit:?}: a welcome without its processed event"
        );
    }
    sqlx::raw_sql("DROP TRIGGER refuse_welcome_claims ON processed_events")
        .execute(&db.pool)
        .await
        .expect("trigger dropped");
    assert_eq!(router(db.pool.clone()).handle(&event).await, Outcome::Ack);
    assert_eq!(emails(&db.pool).await.len(), 1);
}
