use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::TestApi;

async fn post(api: &TestApi, user: &str, body: Value) -> crate::helpers::Reply {
    api.call(Method::POST, "/v1/emails", Some(user), Some(body))
        .await
}

async fn queue(api: &TestApi, user: &str, subject: &str, body: &str) -> Value {
    let reply = post(
        api,
        user,
        json!({"to": ["bob@example.com"], "subject": subject, "body": body}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    reply.body
}

#[tokio::test]
async fn an_email_is_queued_with_its_event_and_read_back_by_its_owner_only() {
    let api = TestApi::new().await;
    let reply = post(
        &api,
        "ada",
        json!({"to": ["bob@example.com", "carol@example.org"], "subject": "Hello", "body": "Hi Bob."}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let id = reply.body["id"].as_str().expect("an id").to_owned();
    assert_eq!(
        reply.headers.get("location").and_then(|v| v.to_str().ok()),
        Some(format!("/v1/emails/{id}").as_str())
    );
    assert_eq!(reply.body["status"], "queued");
    assert_eq!(reply.body["from"], "noreply@lzstock.test");
    assert_eq!(reply.body["ownerId"], "ada");

    let events: Vec<(String, Value)> =
        sqlx::query_as("SELECT subject, payload FROM outbox ORDER BY created_at")
            .fetch_all(&api.db.pool)
            .await
            .expect("outbox");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "lzstock.emails.created");
    assert_eq!(events[0].1["response"]["id"], id.as_str());

    let read = api
        .call(Method::GET, &format!("/v1/emails/{id}"), Some("ada"), None)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, reply.body);
    for (user, uri) in [
        ("bob", format!("/v1/emails/{id}")),
        ("ada", "/v1/emails/not-an-id".to_owned()),
        ("ada", format!("/v1/emails/{}", uuid::Uuid::new_v4())),
    ] {
        let missing = api.call(Method::GET, &uri, Some(user), None).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{uri} as {user}");
    }
}

#[tokio::test]
async fn every_bad_field_is_a_400_naming_it() {
    let api = TestApi::new().await;
    let good = json!({"to": ["bob@example.com"], "subject": "Hi", "body": "Hello"});
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let cases = [
        (
            with("to", json!(["bob@example.com", "not an address"])),
            "to[1]",
        ),
        (with("to", json!([])), "to"),
        (
            with("to", json!(["bob@example.com\r\nBcc: eve@example.com"])),
            "to[0]",
        ),
        (
            with("from", json!("ada@example.com\nBcc: eve@example.com")),
            "from",
        ),
        (
            with("subject", json!("Hi\r\nBcc: eve@example.com")),
            "subject",
        ),
        (with("subject", json!("x".repeat(999))), "subject"),
        (with("subject", json!("")), "subject"),
        (with("body", json!("x".repeat(1024 * 1024 + 1))), "body"),
    ];
    for (body, field) in cases {
        let reply = post(&api, "ada", body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{field}: {}",
            reply.body
        );
        assert_eq!(reply.body["field"], field, "{}", reply.body);
    }
    let unknown = post(&api, "ada", with("bcc", json!(["eve@example.com"]))).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let largest = post(&api, "ada", with("body", json!("x".repeat(1024 * 1024)))).await;
    assert_eq!(
        largest.status,
        StatusCode::ACCEPTED,
        "a body of exactly 1 MiB is fine"
    );
}

#[tokio::test]
async fn search_ranks_subject_matches_first_and_pages_exactly() {
    let api = TestApi::new().await;
    queue(
        &api,
        "ada",
        "Weekly digest",
        "Nothing about dividends here, except this.",
    )
    .await;
    let subject_match = queue(&api, "ada", "Dividends announced", "See attached.").await;
    for n in 0..295 {
        queue(
            &api,
            "ada",
            &format!("Note {n}"),
            "routine quarterly update",
        )
        .await;
    }
    queue(&api, "ada", "Board meeting", "the quarterly report is late").await;
    queue(&api, "bob", "Dividends for bob", "not ada's").await;

    let search = |query: &str| {
        let uri = format!("/v1/emails?{query}");
        let api = &api;
        async move { api.call(Method::GET, &uri, Some("ada"), None).await }
    };

    let ranked = search("search=dividends").await;
    assert_eq!(ranked.status, StatusCode::OK, "{}", ranked.body);
    assert_eq!(ranked.body["totalCount"], 2, "{}", ranked.body);
    assert_eq!(ranked.body["emails"][0]["id"], subject_match["id"]);

    let phrase = search("search=%22quarterly%20report%22").await;
    assert_eq!(phrase.body["totalCount"], 1, "{}", phrase.body);
    let excluded = search("search=quarterly%20-report").await;
    assert_eq!(excluded.body["totalCount"], 295, "{}", excluded.body);

    // 298 emails: pages of 100 hold 100, 100 and 98.
    let all = search("size=100").await;
    let shape = |page: &Value| {
        (
            page["totalCount"].as_u64(),
            page["totalPages"].as_u64(),
            page["hasMore"].as_bool(),
            page["emails"].as_array().map(Vec::len),
        )
    };
    assert_eq!(
        shape(&all.body),
        (Some(298), Some(3), Some(true), Some(100))
    );
    assert_eq!(
        all.body["emails"][0]["subject"], "Board meeting",
        "newest first"
    );
    let last = search("size=100&page=3").await;
    assert_eq!(
        shape(&last.body),
        (Some(298), Some(3), Some(false), Some(98))
    );
    // Exactly full pages: the 295 that exclude "report" fill 5 pages of 59.
    let exact = search("search=quarterly%20-report&size=59&page=5").await;
    assert_eq!(
        shape(&exact.body),
        (Some(295), Some(5), Some(false), Some(59))
    );
    let past = search("search=quarterly%20-report&size=59&page=6").await;
    assert_eq!(past.status, StatusCode::OK);
    assert_eq!(
        shape(&past.body),
        (Some(295), Some(5), Some(false), Some(0))
    );

    for odd in [
        "a%20%26%20b%20%7C%20!c%20(",
        "%27%3B%20DROP%20TABLE%20emails%3B--",
        "%3A*",
        "or",
        "-",
    ] {
        let reply = search(&format!("search={odd}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{odd}: {}", reply.body);
    }
    for (query, field) in [("page=0", "page"), ("size=101", "size"), ("size=0", "size")] {
        let reply = search(query).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.body["field"], field);
    }
    let long = search(&format!("search={}", "q".repeat(201))).await;
    assert_eq!(long.body["field"], "search");
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_go_through_redis_a_send_invalidates_and_a_dead_redis_is_only_slower() {
    use lzstock_domain::email::{EmailId, SendEmail, SendOutcome};
    use lzstock_harness::redis::RedisServer;
    use lzstock_harness::smtp_sink::SmtpSink;
    use lzstock_infra::email_cache::RedisEmailCache;

    let mut redis = tokio::task::block_in_place(RedisServer::start).expect("redis");
    let cache =
        RedisEmailCache::new(&redis.url(), std::time::Duration::from_secs(300)).expect("cache");
    let api = TestApi::with_state(|state| lzstock_api::ApiState {
        email_cache: Some(cache.clone()),
        ..state
    })
    .await;
    let email = queue(&api, "ada", "Cached", "body").await;
    let id = email["id"].as_str().expect("id").to_owned();
    let uri = format!("/v1/emails/{id}");

    let first = api.call(Method::GET, &uri, Some("ada"), None).await;
    let second = api.call(Method::GET, &uri, Some("ada"), None).await;
    assert_eq!(
        (first.status, second.status),
        (StatusCode::OK, StatusCode::OK)
    );
    assert_eq!((cache.counters().misses(), cache.counters().hits()), (1, 1));
    assert_eq!(second.body["status"], "queued");
    // Another user's read of a cached email is still a 404.
    let foreign = api.call(Method::GET, &uri, Some("bob"), None).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);

    // Sending changes the status: the cached copy goes, the next read sees `sent`.
    let sink = SmtpSink::start().await;
    let mailer =
        lzstock_infra::smtp::SmtpMailer::from_url(&sink.url(), "lzstock.test").expect("mailer");
    let store = lzstock_infra::emails::PgEmailStore::new(api.db.pool.clone(), "lzstock");
    let sent = SendEmail::new(
        store,
        mailer,
        Some(cache.clone()),
        std::time::Duration::from_secs(60),
    )
    .execute(EmailId::parse(&id).expect("id"))
    .await
    .expect("sent");
    assert_eq!(sent, SendOutcome::Sent);
    let after = api.call(Method::GET, &uri, Some("ada"), None).await;
    assert_eq!(after.body["status"], "sent", "{}", after.body);

    tokio::task::block_in_place(|| redis.stop());
    let errors_before = cache.counters().errors();
    let without_redis = api.call(Method::GET, &uri, Some("ada"), None).await;
    assert_eq!(
        without_redis.status,
        StatusCode::OK,
        "{}",
        without_redis.body
    );
    assert_eq!(without_redis.body["status"], "sent");
    assert!(
        cache.counters().errors() > errors_before,
        "the outage is counted"
    );
}
