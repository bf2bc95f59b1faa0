//! The checker: once every fault is healed and the system has settled, what PostgreSQL,
//! the SMTP sink and the streams hold, against what the writers were told was accepted.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use lzstock_shim::bridge::dead_letter_headers as h;

use crate::system::System;
use crate::writers::Ledger;

/// What one path's run came to.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Acknowledged events the system holds to account.
    pub acknowledged: usize,
    /// Acknowledged, with an effect missing (no dashboard, no email sent).
    pub lost: Vec<String>,
    /// An effect applied twice: two dashboards, two emails (rows or distinct
    /// Message-IDs) for one event.
    pub duplicated: Vec<String>,
    /// The same message (one Message-ID) handed to the SMTP server again: the window the
    /// README names (accepted, then the process died before `sent` was written).
    pub resent: usize,
    /// Messages on the dead-letter stream (every event the writers write is valid).
    pub dead_letters: u64,
    /// The first dead letters: subject, event id and reason.
    pub dead_letter_reasons: Vec<String>,
    /// Outbox rows parked (given up on).
    pub parked: i64,
    /// Whether the consumer settled (ack floor at the end, nothing pending) in time.
    pub settled: bool,
    /// How long settling took after the last fault was healed.
    pub settle_time: Duration,
    /// Where the system stood when the checker stopped waiting: the consumer, the outbox
    /// and the emails by status (what to read first when it did not settle).
    pub last_progress: String,
}

impl Verdict {
    /// Whether the run kept every promise.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.lost.is_empty()
            && self.duplicated.is_empty()
            && self.dead_letters == 0
            && self.parked == 0
            && self.settled
    }
}

/// The effects one logical email had.
#[derive(Debug, Default)]
struct Mail {
    rows: i64,
    sent_rows: i64,
    message_ids: HashMap<String, usize>,
}

/// Waits until every acknowledged event has its effects and the consumer has settled,
/// for as long as the system makes progress (the consumer's ack floor or the emails sent
/// move) and at most [`SETTLE_CEILING`] times `stalled_for`; then checks. It gives up once
/// nothing moved for `stalled_for`: a backlog still draining is slow, not lost.
pub async fn check(system: &System, ledger: &Ledger, stalled_for: Duration) -> Verdict {
    let started = Instant::now();
    let expected = expected_mail(ledger);
    let mut verdict = Verdict::default();
    let mut reported: Option<Instant> = None;
    let (mut mark, mut moved_at) = (progress_mark(system).await, Instant::now());
    loop {
        // The cheap signals first; the whole comparison (every row, every message) only
        // once they are quiet, so the checker does not slow what it waits for.
        let quiet = consumer_settled(system).await && outbox_drained(system).await;
        if quiet && missing(system, ledger, &expected).await.is_empty() {
            verdict.settled = true;
            break;
        }
        let now = progress_mark(system).await;
        if now != mark {
            (mark, moved_at) = (now, Instant::now());
        }
        if moved_at.elapsed() > stalled_for || started.elapsed() > stalled_for * SETTLE_CEILING {
            break;
        }
        // A timeline while it settles: whether it drains, and what holds it up.
        if reported.is_none_or(|at| at.elapsed() >= PROGRESS_EVERY) {
            reported = Some(Instant::now());
            eprintln!(
                "  settling, {} s: {}",
                started.elapsed().as_secs(),
                progress(system).await
            );
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    verdict.settle_time = started.elapsed();
    verdict.last_progress = progress(system).await;
    verdict.acknowledged = lock_len(&ledger.sign_ups)
        + lock_len(&ledger.email_requests)
        + lock_len(&ledger.api_dashboards)
        + lock_len(&ledger.api_emails);
    verdict.lost = missing(system, ledger, &expected).await;
    verdict.duplicated = duplicated(system).await;
    let mail = mail_by_recipient(system).await;
    verdict.resent = mail
        .values()
        .flat_map(|mail| mail.message_ids.values())
        .map(|copies| copies.saturating_sub(1))
        .sum();
    verdict.dead_letters = system.bus.dead_letter_count().await;
    verdict.dead_letter_reasons = dead_letter_reasons(system, 20).await;
    verdict.parked = scalar(
        system,
        "SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL",
    )
    .await;
    verdict
}

/// How many times the stall window settling may take in all.
const SETTLE_CEILING: u32 = 6;

/// What moves while the system drains: the consumer's ack floor and the emails sent.
async fn progress_mark(system: &System) -> (u64, i64) {
    let floor = match system
        .bus
        .jetstream
        .get_stream(&system.bus.streams.events)
        .await
    {
        Ok(stream) => stream
            .consumer_info(&system.durable)
            .await
            .map_or(0, |consumer| consumer.ack_floor.stream_sequence),
        Err(_) => 0,
    };
    let sent = scalar(system, "SELECT count(*) FROM emails WHERE status = 'sent'").await;
    (floor, sent)
}

/// How often the settling timeline is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(30);

/// The consumer's state, the outbox's backlog and the emails by status, in one line.
async fn progress(system: &System) -> String {
    let consumer = match system
        .bus
        .jetstream
        .get_stream(&system.bus.streams.events)
        .await
    {
        Ok(mut stream) => match (
            stream.info().await.map(|info| info.state.last_sequence),
            stream.consumer_info(&system.durable).await,
        ) {
            (Ok(last), Ok(consumer)) => format!(
                "stream last {last}, ack floor {}, pending {}, ack pending {}, redelivered {}",
                consumer.ack_floor.stream_sequence,
                consumer.num_pending,
                consumer.num_ack_pending,
                consumer.num_redelivered
            ),
            (Err(error), _) => format!("stream unreadable: {error}"),
            (_, Err(error)) => format!("consumer unreadable: {error}"),
        },
        Err(error) => format!("stream unreadable: {error}"),
    };
    let outbox = scalar(
        system,
        "SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL",
    )
    .await;
    let statuses = sqlx::query_as::<_, (String, i64)>(
        "SELECT status, count(*) FROM emails GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&system.db.pool)
    .await
    .map_or_else(
        |error| format!("emails unreadable: {error}"),
        |rows| {
            rows.iter()
                .map(|(status, count)| format!("{status} {count}"))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    format!(
        "{consumer}; outbox unpublished {outbox}; emails {statuses}; received {}",
        system.smtp.received().len()
    )
}

/// The recipient of every email an acknowledged event must have sent.
fn expected_mail(ledger: &Ledger) -> Vec<String> {
    let mut expected = Vec::new();
    expected.extend(
        lock(&ledger.sign_ups)
            .iter()
            .map(|n| format!("user{n}@example.com")),
    );
    expected.extend(
        lock(&ledger.email_requests)
            .iter()
            .map(|n| format!("req{n}@example.com")),
    );
    expected.extend(
        lock(&ledger.api_emails)
            .iter()
            .map(|n| format!("api{n}@example.com")),
    );
    expected
}

/// Acknowledged events with an effect missing, named.
async fn missing(system: &System, ledger: &Ledger, expected_mail: &[String]) -> Vec<String> {
    let owners = dashboards_by_owner(system).await;
    let mail = mail_by_recipient(system).await;
    let mut missing = Vec::new();
    for n in lock(&ledger.sign_ups).iter() {
        if !owners.contains_key(&format!("camp-s-{n}")) {
            missing.push(format!("sign-up {n}: no dashboard"));
        }
    }
    for n in lock(&ledger.api_dashboards).iter() {
        if !owners.contains_key(&format!("camp-d-{n}")) {
            missing.push(format!("API dashboard {n}: no row"));
        }
    }
    for recipient in expected_mail {
        if mail
            .get(recipient)
            .is_none_or(|mail| mail.message_ids.is_empty())
        {
            let status = mail.get(recipient).map_or("no row".to_owned(), |mail| {
                format!("{} row(s), {} sent", mail.rows, mail.sent_rows)
            });
            missing.push(format!("email to {recipient}: never received ({status})"));
        }
    }
    missing
}

/// Effects applied twice, named.
async fn duplicated(system: &System) -> Vec<String> {
    let mut duplicated: Vec<String> = dashboards_by_owner(system)
        .await
        .into_iter()
        .filter(|(_, count)| *count > 1)
        .map(|(owner, count)| format!("{owner}: {count} dashboards"))
        .collect();
    for (recipient, mail) in mail_by_recipient(system).await {
        if mail.rows > 1 {
            duplicated.push(format!("{recipient}: {} email rows", mail.rows));
        }
        if mail.message_ids.len() > 1 {
            duplicated.push(format!(
                "{recipient}: {} distinct Message-IDs",
                mail.message_ids.len()
            ));
        }
    }
    duplicated.sort();
    duplicated
}

/// The first `count` dead letters, each as its original subject, event id and reason.
async fn dead_letter_reasons(system: &System, count: u64) -> Vec<String> {
    let Ok(stream) = system
        .bus
        .jetstream
        .get_stream(&system.bus.streams.dead_letters)
        .await
    else {
        return Vec::new();
    };
    let mut reasons = Vec::new();
    for sequence in 1..=count {
        let Ok(message) = stream.get_raw_message(sequence).await else {
            break;
        };
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .map_or(String::new(), |value| value.as_str().to_owned())
        };
        reasons.push(format!(
            "{} {} (deliveries {}): {}",
            header(h::ORIGINAL_SUBJECT),
            header(h::EVENT_ID),
            header(h::DELIVERIES),
            header(h::REASON)
        ));
    }
    reasons
}

async fn dashboards_by_owner(system: &System) -> HashMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>(
        "SELECT owner_id, count(*) FROM dashboards WHERE owner_id LIKE 'camp-%' GROUP BY 1",
    )
    .fetch_all(&system.db.pool)
    .await
    .unwrap_or_default()
    .into_iter()
    .collect()
}

/// Email rows and received messages by (first) recipient: each logical email of the
/// campaign has a recipient of its own.
async fn mail_by_recipient(system: &System) -> HashMap<String, Mail> {
    let mut mail: HashMap<String, Mail> = HashMap::new();
    let rows = sqlx::query_as::<_, (String, i64, i64)>(
        "SELECT to_addresses[1], count(*), count(*) FILTER (WHERE status = 'sent') \
         FROM emails GROUP BY 1",
    )
    .fetch_all(&system.db.pool)
    .await
    .unwrap_or_default();
    for (recipient, count, sent) in rows {
        let entry = mail.entry(recipient).or_default();
        entry.rows = count;
        entry.sent_rows = sent;
    }
    for received in system.smtp.received() {
        let Some(recipient) = received.envelope_to.first() else {
            continue;
        };
        let id = received.header("Message-ID").unwrap_or_default();
        *mail
            .entry(recipient.trim_matches(['<', '>']).to_owned())
            .or_default()
            .message_ids
            .entry(id)
            .or_default() += 1;
    }
    mail
}

/// Whether the durable consumer has acknowledged everything the stream holds.
async fn consumer_settled(system: &System) -> bool {
    let Ok(mut stream) = system
        .bus
        .jetstream
        .get_stream(&system.bus.streams.events)
        .await
    else {
        return false;
    };
    let Ok(info) = stream.info().await else {
        return false;
    };
    let last = info.state.last_sequence;
    let Ok(consumer) = stream.consumer_info(&system.durable).await else {
        return false;
    };
    consumer.ack_floor.stream_sequence >= last
        && consumer.num_pending == 0
        && consumer.num_ack_pending == 0
}

/// Whether the outbox has nothing left to publish.
async fn outbox_drained(system: &System) -> bool {
    scalar(
        system,
        "SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL",
    )
    .await
        == 0
}

async fn scalar(system: &System, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&system.db.pool)
        .await
        .unwrap_or(-1)
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn lock_len<T>(mutex: &std::sync::Mutex<Vec<T>>) -> usize {
    lock(mutex).len()
}
