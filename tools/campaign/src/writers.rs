//! The writers: numbered events through every entry a user has, each remembered once the
//! system acknowledged it. Event `i` is a sign-up (published), an email request
//! (published) or an API create (a dashboard or an email, over HTTP), in turn.
//!
//! A publish is retried until the stream acknowledges it, with its `Nats-Msg-Id`, as an
//! at-least-once publisher does. An API create is tried once: only a 2xx is an
//! acknowledgement, and a create that got none (a killed API, a stopped database) may or
//! may not have happened, so the checker holds only acknowledged ones to account.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use lzstock_harness::{tokens, TestNats, TEST_JWT_SECRET};

/// One numbered event of the campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// `users.signed_up` for owner `camp-s-<n>`, address `user<n>@example.com`.
    SignUp(usize),
    /// `emails.requested` for owner `camp-r-<n>`, to `req<n>@example.com`.
    EmailRequest(usize),
    /// `POST /v1/dashboards` as owner `camp-d-<n>`.
    ApiDashboard(usize),
    /// `POST /v1/emails` as owner `camp-e-<n>`, to `api<n>@example.com`.
    ApiEmail(usize),
}

impl Write {
    /// The `i`th event of a campaign.
    #[must_use]
    pub const fn nth(i: usize) -> Self {
        let n = i / 3;
        match (i % 3, n % 2) {
            (0, _) => Self::SignUp(n),
            (1, _) => Self::EmailRequest(n),
            (_, 0) => Self::ApiDashboard(n / 2),
            _ => Self::ApiEmail(n / 2),
        }
    }
}

/// What the system acknowledged.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Sign-ups the stream stored.
    pub sign_ups: Mutex<Vec<usize>>,
    /// Email requests the stream stored.
    pub email_requests: Mutex<Vec<usize>>,
    /// Dashboards the API answered 2xx for.
    pub api_dashboards: Mutex<Vec<usize>>,
    /// Emails the API answered 2xx for.
    pub api_emails: Mutex<Vec<usize>>,
    /// API creates answered otherwise (or not at all): may or may not have happened.
    pub api_unacknowledged: AtomicUsize,
    /// Reads of an accepted email that failed (Redis is read through on the way).
    pub api_read_failures: AtomicUsize,
    /// Publishes tried again before the stream acknowledged them.
    pub publish_retries: AtomicUsize,
}

/// Where the writers write.
#[derive(Debug, Clone)]
pub struct Target {
    /// The streams.
    pub bus: TestNats,
    /// The API's address.
    pub api_url: String,
}

/// How the writers spread their events over the nemesis's faults.
#[derive(Debug, Clone)]
pub struct Pace {
    /// Events per second at most.
    pub rate: f64,
    /// Faults the nemesis has finished so far.
    pub faults_done: Arc<AtomicUsize>,
    /// Faults it will inject.
    pub faults: usize,
}

/// Writes events `0..count` from `concurrency` tasks, event `i` not before `i / rate`
/// seconds from the start nor before the nemesis is `i / count` of the way through its
/// faults, so the writes go on for as long as the faults do.
pub async fn write_all(
    target: Target,
    ledger: Arc<Ledger>,
    count: usize,
    pace: Pace,
    concurrency: usize,
) {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (target, ledger, next, http, pace) = (
            target.clone(),
            ledger.clone(),
            next.clone(),
            http.clone(),
            pace.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= count {
                    return;
                }
                let due = started + Duration::from_secs_f64(i as f64 / pace.rate.max(0.001));
                tokio::time::sleep_until(due.into()).await;
                let step = i * pace.faults / count;
                while pace.faults_done.load(Ordering::SeqCst) < step {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                write(&target, &ledger, &http, Write::nth(i)).await;
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

async fn write(target: &Target, ledger: &Ledger, http: &reqwest::Client, write: Write) {
    match write {
        Write::SignUp(n) => {
            let body = serde_json::json!({
                "id": format!("camp-s-{n}"),
                "occurred_at": "2026-12-07T10:00:00Z",
                "request": {"email": format!("user{n}@example.com"), "name": "Campaign"},
                "response": {"userId": format!("camp-s-{n}")},
            });
            publish(
                target,
                ledger,
                "users.signed_up",
                &format!("camp-s-{n}"),
                &body,
            )
            .await;
            lock(&ledger.sign_ups).push(n);
        }
        Write::EmailRequest(n) => {
            let body = serde_json::json!({
                "id": format!("camp-r-{n}"),
                "occurred_at": "2026-12-07T10:00:00Z",
                "request": {
                    "ownerId": format!("camp-r-{n}"),
                    "to": [format!("req{n}@example.com")],
                    "subject": format!("campaign request {n}"),
                    "body": "Sent under faults.",
                },
            });
            publish(
                target,
                ledger,
                "emails.requested",
                &format!("camp-r-{n}"),
                &body,
            )
            .await;
            lock(&ledger.email_requests).push(n);
        }
        Write::ApiDashboard(n) => {
            let body = serde_json::json!({"name": format!("campaign {n}"), "tickers": ["AAPL"]});
            let answer = post(
                target,
                http,
                &format!("camp-d-{n}"),
                "/v1/dashboards",
                &body,
            )
            .await;
            match answer {
                Some(_) => lock(&ledger.api_dashboards).push(n),
                None => {
                    ledger.api_unacknowledged.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        Write::ApiEmail(n) => {
            let owner = format!("camp-e-{n}");
            let body = serde_json::json!({
                "to": [format!("api{n}@example.com")],
                "subject": format!("campaign api {n}"),
                "body": "Sent under faults.",
            });
            let Some(created) = post(target, http, &owner, "/v1/emails", &body).await else {
                ledger.api_unacknowledged.fetch_add(1, Ordering::SeqCst);
                return;
            };
            lock(&ledger.api_emails).push(n);
            let id = created["id"].as_str().unwrap_or_default();
            let read = http
                .get(format!("{}/v1/emails/{id}", target.api_url))
                .bearer_auth(token(&owner))
                .send()
                .await;
            if !read.is_ok_and(|answer| answer.status().is_success()) {
                ledger.api_read_failures.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// Publishes until the stream acknowledges, with `id` as `Nats-Msg-Id`.
async fn publish(
    target: &Target,
    ledger: &Ledger,
    subject: &str,
    id: &str,
    body: &serde_json::Value,
) {
    let subject = target.bus.streams.subject(subject);
    let body = body.to_string();
    loop {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", id);
        let sent = target
            .bus
            .jetstream
            .publish_with_headers(subject.clone(), headers, body.clone().into())
            .await;
        if let Ok(ack) = sent {
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(5), ack).await {
                return;
            }
        }
        ledger.publish_retries.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// POSTs `body` as `owner`; the answer's document when it is a 2xx.
async fn post(
    target: &Target,
    http: &reqwest::Client,
    owner: &str,
    path: &str,
    body: &serde_json::Value,
) -> Option<serde_json::Value> {
    let answer = http
        .post(format!("{}{path}", target.api_url))
        .bearer_auth(token(owner))
        .json(body)
        .send()
        .await
        .ok()?;
    if !answer.status().is_success() {
        return None;
    }
    answer.json().await.ok()
}

fn token(owner: &str) -> String {
    tokens::issue_token(
        TEST_JWT_SECRET.as_bytes(),
        owner,
        chrono::TimeDelta::hours(1),
    )
    .unwrap_or_default()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
