//! The event publisher against a real JetStream.

use futures::future::join_all;
use lzstock_harness::nats;
use lzstock_infra::publisher::{EventPublisher, OutgoingEvent};

fn event(subject: String, id: &str) -> OutgoingEvent {
    OutgoingEvent {
        subject,
        id: id.to_owned(),
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        body: r#"{"id":"x"}"#.into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn events_carry_their_id_and_trace_and_a_repeat_is_stored_once() {
    let bus = nats().await;
    let publisher = EventPublisher::new(bus.jetstream.clone(), 4);
    let subject = bus.streams.subject("published");
    let first = publisher
        .publish(event(subject.clone(), "evt-1"))
        .await
        .expect("stored");
    let again = publisher
        .publish(event(subject.clone(), "evt-1"))
        .await
        .expect("acknowledged");
    assert!(!first.duplicate);
    assert!(again.duplicate, "the stream knew the id");
    assert_eq!(again.sequence, first.sequence);

    let stream = bus
        .jetstream
        .get_stream(&bus.streams.events)
        .await
        .expect("stream");
    let stored = stream
        .get_raw_message(first.sequence)
        .await
        .expect("message");
    assert_eq!(
        stored.headers.get("Nats-Msg-Id").map(|v| v.as_str()),
        Some("evt-1")
    );
    assert_eq!(
        stored.headers.get("traceparent").map(|v| v.as_str()),
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_more_than_the_bound_await_their_ack_and_every_publish_is_stored() {
    let bus = nats().await;
    let publisher = EventPublisher::new(bus.jetstream.clone(), 3);
    let subject = bus.streams.subject("bounded");

    // Three sends take every slot; the fourth waits until an ack frees one.
    let mut pending = Vec::new();
    for n in 0..3 {
        pending.push(
            publisher
                .send(event(subject.clone(), &format!("held-{n}")))
                .await
                .expect("sent"),
        );
    }
    assert_eq!(publisher.free_slots(), 0);
    let fourth = publisher.send(event(subject.clone(), "held-3"));
    tokio::pin!(fourth);
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), &mut fourth)
            .await
            .is_err(),
        "a fourth publish went out with three unacknowledged"
    );
    pending.remove(0).stored().await.expect("stored");
    let fourth = fourth.await.expect("sent once a slot freed");
    for ack in pending.into_iter().chain([fourth]) {
        ack.stored().await.expect("stored");
    }

    // Many concurrent publishers through one bound: all stored.
    let results =
        join_all((0..50).map(|n| publisher.publish(event(subject.clone(), &format!("many-{n}")))))
            .await;
    assert!(results.iter().all(Result::is_ok));
    let mut stream = bus
        .jetstream
        .get_stream(&bus.streams.events)
        .await
        .expect("stream");
    assert_eq!(stream.info().await.expect("info").state.messages, 54);
    assert_eq!(publisher.free_slots(), 3);
}
