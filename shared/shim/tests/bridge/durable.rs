//! The durable consumer brought in line with its settings: created at the route's start
//! position, updated in place, or re-created after its ack floor when the server refuses.

use async_nats::jetstream::consumer::AckPolicy;
use lzstock_shim::bridge::settings::StartPosition;
use lzstock_shim::bridge::Reconciled;

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_new_durable_starts_where_the_route_says() {
    let bus = nats().await;
    publish(&bus, "before", "before-1").await;
    let stream = bus
        .jetstream
        .get_stream(&bus.streams.events)
        .await
        .expect("stream");
    let mut fresh = settings(&bus, "from-new");
    fresh.start = StartPosition::New;
    let (_, reconciled) = bridge::reconcile(&stream, &fresh).await.expect("reconcile");
    assert_eq!(reconciled, Reconciled::Created);
    assert_eq!(bus.consumer_info("from-new").await.num_pending, 0);

    let (_, again) = bridge::reconcile(&stream, &fresh).await.expect("reconcile");
    assert_eq!(again, Reconciled::Unchanged);

    let everything = settings(&bus, "from-all");
    bridge::reconcile(&stream, &everything)
        .await
        .expect("reconcile");
    assert_eq!(bus.consumer_info("from-all").await.num_pending, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn changed_settings_update_the_durable_in_place() {
    let bus = nats().await;
    let stream = bus
        .jetstream
        .get_stream(&bus.streams.events)
        .await
        .expect("stream");
    let mut route = settings(&bus, "tuned");
    bridge::reconcile(&stream, &route).await.expect("create");
    route.max_deliver = 2;
    route.max_ack_pending = 7;
    route.filter_subjects = vec![bus.streams.subject("only.this")];
    let (_, reconciled) = bridge::reconcile(&stream, &route).await.expect("update");
    let Reconciled::Updated(changes) = reconciled else {
        panic!("{reconciled:?}")
    };
    assert_eq!(changes.len(), 3, "{changes:?}");
    let config = bus.consumer_info("tuned").await.config;
    assert_eq!(config.max_deliver, 2);
    assert_eq!(config.max_ack_pending, 7);
    assert_eq!(config.filter_subject, bus.streams.subject("only.this"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_durable_the_server_cannot_update_is_recreated_after_its_ack_floor() {
    let bus = nats().await;
    for n in 1..=3 {
        publish(&bus, "history", &format!("history-{n}")).await;
    }
    let stream = bus
        .jetstream
        .get_stream(&bus.streams.events)
        .await
        .expect("stream");
    // Made by hand with another ack policy, which no update can change.
    let foreign = stream
        .create_consumer(pull::Config {
            durable_name: Some("foreign".into()),
            ack_policy: AckPolicy::All,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut taken = foreign
        .fetch()
        .max_messages(2)
        .messages()
        .await
        .expect("fetch");
    let mut last = None;
    while let Some(message) = taken.next().await {
        last = Some(message.expect("message"));
    }
    // With AckPolicy::All, acking the second acknowledges the first too.
    last.expect("two messages").double_ack().await.expect("ack");

    let route = settings(&bus, "foreign");
    let (_, reconciled) = bridge::reconcile(&stream, &route).await.expect("reconcile");
    let Reconciled::Recreated { resumed_at, .. } = reconciled else {
        panic!("{reconciled:?}")
    };
    assert_eq!(resumed_at, 3);
    let info = bus.consumer_info("foreign").await;
    assert_eq!(info.config.ack_policy, AckPolicy::Explicit);
    assert_eq!(
        info.num_pending, 1,
        "only the unacknowledged message is left"
    );
}
