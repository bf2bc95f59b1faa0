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
    let (_, reconciled, _) = bridge::reconcile(&stream, &fresh).await.expect("reconcile");
    assert_eq!(reconciled, Reconciled::Created);
    assert_eq!(bus.consumer_info("from-new").await.num_pending, 0);

    let (_, again, _) = bridge::reconcile(&stream, &fresh).await.expect("reconcile");
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
    let (_, reconciled, _) = bridge::reconcile(&stream, &route).await.expect("update");
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
    let (_, reconciled, _) = bridge::reconcile(&stream, &route).await.expect("reconcile");
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

#[tokio::test(flavor = "multi_thread")]
async fn a_rolling_settings_change_updates_the_durable_once_and_old_replicas_keep_it() {
    use lzstock_shim::bridge::{reconcile_as, Writer};
    use std::time::{Duration, SystemTime};

    let bus = nats().await;
    let stream = bus
        .jetstream
        .get_stream(&bus.streams.events)
        .await
        .expect("stream");
    // Two replicas of the old deploy, started before the new one.
    let old_settings = settings(&bus, "rolling");
    let started = SystemTime::now();
    let old = [
        Writer {
            id: "old-1".into(),
            since: started,
        },
        Writer {
            id: "old-2".into(),
            since: started,
        },
    ];
    let (_, created, _) = reconcile_as(&stream, &old_settings, &old[0])
        .await
        .expect("create");
    assert_eq!(created, Reconciled::Created);
    let (_, unchanged, _) = reconcile_as(&stream, &old_settings, &old[1])
        .await
        .expect("bind");
    assert_eq!(unchanged, Reconciled::Unchanged);

    // The new deploy's first replica changes the route.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut new_settings = old_settings.clone();
    new_settings.max_deliver = 9;
    new_settings.ack_wait = Duration::from_secs(45);
    let new = [
        Writer {
            id: "new-1".into(),
            since: SystemTime::now(),
        },
        Writer {
            id: "new-2".into(),
            since: SystemTime::now(),
        },
    ];
    let (_, updated, _) = reconcile_as(&stream, &new_settings, &new[0])
        .await
        .expect("update");
    assert!(matches!(updated, Reconciled::Updated(_)), "{updated:?}");
    let written = bus.consumer_info("rolling").await;

    // Old replicas reconciling again (a stall, say) keep it, and work with its values.
    for writer in &old {
        let (_, kept, working) = reconcile_as(&stream, &old_settings, writer)
            .await
            .expect("reconcile");
        assert!(matches!(kept, Reconciled::KeptNewer(_)), "{kept:?}");
        assert_eq!(
            (working.max_deliver, working.ack_wait),
            (9, Duration::from_secs(45))
        );
    }
    // The second new replica finds it as it wants it.
    let (_, same, _) = reconcile_as(&stream, &new_settings, &new[1])
        .await
        .expect("reconcile");
    assert_eq!(same, Reconciled::Unchanged);

    let after = bus.consumer_info("rolling").await;
    assert_eq!(after.config.max_deliver, 9);
    assert_eq!(after.created, written.created, "never re-created");
    assert_eq!(
        after.config.metadata, written.config.metadata,
        "written once, by the new deploy's first replica"
    );
}
