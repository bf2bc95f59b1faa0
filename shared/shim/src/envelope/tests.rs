use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Deserialize;

use super::*;

#[derive(Debug, Deserialize)]
struct SignedUp {
    email: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserId {
    user_id: String,
}

fn record(body: &str, id: Option<&str>) -> MessageRecord {
    let mut headers = BTreeMap::new();
    if let Some(id) = id {
        headers.insert("Nats-Msg-Id".to_owned(), vec![id.to_owned()]);
    }
    headers.insert(
        "traceparent".to_owned(),
        vec!["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()],
    );
    MessageRecord {
        subject: "lzstock.users.signed_up".into(),
        data: body.as_bytes().to_vec(),
        headers,
        stream: "LZSTOCK".into(),
        stream_sequence: 7,
        consumer_sequence: 7,
        deliveries: 1,
        published_at: Utc::now(),
    }
}

const GOOD: &str = r#"{"id": "e1", "occurred_at": "2026-11-23T10:00:00Z",
    "request": {"email": "ada@example.com", "name": "Ada"}, "response": {"userId": "u1"}}"#;

type CallbackResult = Result<(), HandlerError>;

fn handler(result: fn() -> CallbackResult) -> impl MessageHandler {
    typed(
        move |envelope: Envelope<SignedUp, UserId>| {
            assert_eq!(envelope.request.email, "ada@example.com");
            assert_eq!(envelope.response.user_id, "u1");
            std::future::ready(result())
        },
        Backoff::default(),
    )
}

#[tokio::test]
async fn a_good_event_is_acked() {
    assert_eq!(
        handler(|| Ok(())).handle(&record(GOOD, Some("e1"))).await,
        Outcome::Ack
    );
}

#[tokio::test]
async fn malformed_or_mistyped_bodies_are_rejected_without_running_the_callback() {
    let calls = AtomicUsize::new(0);
    let counting = typed(
        |_: Envelope<SignedUp, UserId>| {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok(()))
        },
        Backoff::default(),
    );
    let wrong_type = r#"{"id": "e1", "occurred_at": "2026-11-23T10:00:00Z", "request": {"email": 5}, "response": {"userId": "u1"}}"#;
    for body in ["{not json", "[]", wrong_type] {
        let outcome = counting.handle(&record(body, Some("e1"))).await;
        assert!(
            matches!(outcome, Outcome::Reject { .. }),
            "{body}: {outcome:?}"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_message_id_must_match_the_envelope() {
    let ok = handler(|| Ok(()));
    let Outcome::Reject { reason } = ok.handle(&record(GOOD, Some("other"))).await else {
        panic!("a mismatched id is poison");
    };
    assert!(reason.contains("differs"), "{reason}");
    let Outcome::Reject { reason } = ok.handle(&record(GOOD, None)).await else {
        panic!("a missing id is poison");
    };
    assert!(reason.contains("no Nats-Msg-Id"), "{reason}");
}

#[tokio::test]
async fn errors_say_whether_to_retry() {
    let outage = handler(|| Err(HandlerError::retryable(std::io::Error::other("db down"))));
    assert!(matches!(
        outage.handle(&record(GOOD, Some("e1"))).await,
        Outcome::Retry { .. }
    ));
    let invalid = handler(|| Err(HandlerError::permanent("email is not an address")));
    assert_eq!(
        invalid.handle(&record(GOOD, Some("e1"))).await,
        Outcome::Reject {
            reason: "email is not an address".into()
        }
    );
}

/// Found by `cargo fuzz run envelope`: bytes that are not UTF-8 inside a field the envelope
/// ignores were skipped unchecked, and the event was acked.
#[tokio::test]
async fn a_body_that_is_not_utf8_is_rejected_even_in_a_field_nobody_reads() {
    let mut body = br#"{"id": "e1", "occurred_at": "2026-11-23T10:00:00Z", "extra": "a"#.to_vec();
    body.push(0xce);
    body.extend_from_slice(
        br#"b", "request": {"email": "ada@example.com", "name": "Ada"}, "response": {"userId": "u1"}}"#,
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
    let mut record = record(GOOD, Some("e1"));
    record.data = body;
    assert!(matches!(
        handler(|| Ok(())).handle(&record).await,
        Outcome::Reject { reason } if reason.contains("UTF-8")
    ));
}

#[tokio::test]
async fn a_failure_of_known_length_waits_it_out_but_never_less_than_the_backoff() {
    // Another worker's lease with 90 s left: one redelivery after it, not five in 15 s.
    let leased = handler(|| {
        Err(HandlerError::retry_after(
            Duration::from_secs(90),
            std::io::Error::other("held by another sender"),
        ))
    });
    assert_eq!(
        leased.handle(&record(GOOD, Some("e1"))).await,
        Outcome::Retry {
            delay: Duration::from_secs(90)
        }
    );
    let nearly_over = handler(|| {
        Err(HandlerError::retry_after(
            Duration::ZERO,
            std::io::Error::other("lease just ended"),
        ))
    });
    let backoff = Backoff::default().delay(1, 7);
    assert_eq!(
        nearly_over.handle(&record(GOOD, Some("e1"))).await,
        Outcome::Retry { delay: backoff }
    );
}

#[tokio::test]
async fn a_panic_is_retried_not_fatal() {
    let panicking = handler(|| panic!("handler bug"));
    assert!(matches!(
        panicking.handle(&record(GOOD, Some("e1"))).await,
        Outcome::Retry { .. }
    ));
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

proptest::proptest! {
    #[test]
    fn any_body_is_answered_and_only_a_well_typed_envelope_is_acked(
        body in "\\PC{0,120}|\\{\"id\": \"e1\", \"occurred_at\": \"2026-11-23T10:00:00Z\", \"request\": \\{\"email\": \"[a-z@.]{0,12}\"\\}(, \"response\": \\{\"userId\": \"u[0-9]\"\\})?\\}"
    ) {
        let decodes = serde_json::from_str::<Envelope<SignedUp, UserId>>(&body)
            .is_ok_and(|envelope| envelope.id == "e1");
        let outcome = block_on(
            typed(
                |_: Envelope<SignedUp, UserId>| std::future::ready(Ok::<(), HandlerError>(())),
                Backoff::default(),
            )
            .handle(&record(&body, Some("e1"))),
        );
        match outcome {
            Outcome::Ack => proptest::prop_assert!(decodes, "{:?} acked", body),
            Outcome::Reject { .. } => proptest::prop_assert!(!decodes, "{:?} rejected", body),
            Outcome::Retry { .. } => proptest::prop_assert!(false, "{:?} retried", body),
        }
    }

    #[test]
    fn an_envelope_reads_back_as_written(
        id in "\\PC{1,40}",
        trace in proptest::option::of("[0-9a-f]{32}"),
        millis in 0_i64..4_102_444_800_000,
        request in "\\PC{0,40}",
    ) {
        let envelope = Envelope {
            id,
            trace_id: trace,
            occurred_at: DateTime::from_timestamp_millis(millis).expect("in range"),
            request: serde_json::json!({ "text": request }),
            response: serde_json::Value::Null,
        };
        let json = serde_json::to_vec(&envelope).expect("serialises");
        let back: Envelope<serde_json::Value, serde_json::Value> =
            serde_json::from_slice(&json).expect("reads back");
        proptest::prop_assert_eq!(back, envelope);
    }
}
