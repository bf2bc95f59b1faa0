//! The bridge provisions the streams, answers `/healthz`, and stops cleanly on SIGTERM.

use std::time::Duration;

use lzstock_harness::{nats, process};
use serde_json::Value;

const BRIDGE: &str = env!("CARGO_BIN_EXE_nats-bridge");

#[tokio::test(flavor = "multi_thread")]
async fn provisions_the_streams_and_reports_health() {
    let bus = nats().await;
    // Names of its own, so the streams the bridge creates are not the harness's.
    let events = format!("{}_BRIDGE", bus.streams.events);
    let dead_letters = format!("{}_BRIDGE", bus.streams.dead_letters);
    let root = format!("b{}", bus.streams.subject_root);
    let port = process::free_port();
    let mut bridge = tokio::process::Command::new(BRIDGE)
        .env("NATS_URL", &bus.url)
        .env("EVENTS_STREAM", &events)
        .env("DEAD_LETTER_STREAM", &dead_letters)
        .env("EVENTS_SUBJECT_ROOT", &root)
        .env("PORT", port.to_string())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::task::block_in_place(|| process::wait_for_port(port, Duration::from_secs(20))).unwrap();

    let health: Value = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    assert!(health["nats"]["version"]
        .as_str()
        .unwrap()
        .starts_with("2."));
    assert!(
        health.get("database").is_none(),
        "the bridge uses no database"
    );

    let provisioned = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let (Ok(mut e), Ok(mut d)) = (
                bus.jetstream.get_stream(&events).await,
                bus.jetstream.get_stream(&dead_letters).await,
            ) {
                return (
                    e.info().await.unwrap().config.clone(),
                    d.info().await.unwrap().config.clone(),
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the bridge provisions both streams");
    assert_eq!(provisioned.0.subjects, [format!("{root}.>")]);
    assert_eq!(provisioned.1.subjects, [format!("dlq.{root}.>")]);

    process::signal_pid(bridge.id().unwrap(), 15);
    let status = tokio::time::timeout(Duration::from_secs(10), bridge.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stops_with_the_reason_when_jetstream_refuses_the_streams() {
    let bus = nats().await;
    // Subjects inside the harness's own stream: the server refuses the overlap.
    let output = tokio::process::Command::new(BRIDGE)
        .env("NATS_URL", &bus.url)
        .env("EVENTS_STREAM", format!("{}_OVERLAP", bus.streams.events))
        .env(
            "EVENTS_SUBJECT_ROOT",
            format!("{}.inner", bus.streams.subject_root),
        )
        .env("PORT", process::free_port().to_string())
        .env("LOG_FORMAT", "json")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("overlap"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn relays_the_outbox_to_jetstream_when_it_has_a_database() {
    use lzstock_domain::common::OwnerId;
    use lzstock_domain::dashboard::{
        parse_indicators, CreateDashboard, DashboardName, NewDashboard, TickerList,
    };
    let (db, bus) = tokio::join!(lzstock_harness::database(), nats());
    // What a Lambda-hosted API leaves behind: a committed dashboard and its pending event.
    let store = lzstock_infra::dashboards::PgDashboardStore::new(
        db.pool.clone(),
        bus.streams.subject_root.clone(),
    );
    let request = NewDashboard {
        name: DashboardName::parse("Relayed").unwrap(),
        tickers: TickerList::parse(&["AAPL"]).unwrap(),
        indicators: parse_indicators::<&str>(&[]).unwrap(),
    };
    CreateDashboard::new(store)
        .execute(OwnerId::parse("ada").unwrap(), request, None)
        .await
        .unwrap();

    let port = process::free_port();
    let _bridge = tokio::process::Command::new(BRIDGE)
        .envs(bus.env())
        .env("DATABASE_URL", &db.url)
        .env("PORT", port.to_string())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stream = bus.jetstream.get_stream(&bus.streams.events).await.unwrap();
    let message = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(message) = stream.get_raw_message(1).await {
                return message;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the bridge publishes the pending event");
    assert_eq!(
        message.subject.as_str(),
        bus.streams.subject("dashboards.created")
    );
    let envelope: Value = serde_json::from_slice(&message.payload).unwrap();
    assert_eq!(envelope["response"]["name"], "Relayed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sigterm_during_start_up_still_stops_every_part() {
    let bus = nats().await;
    let port = process::free_port();
    let mut bridge = tokio::process::Command::new(BRIDGE)
        .envs(bus.env())
        .env("PORT", port.to_string())
        // A route, so start-up also resolves the AWS configuration after the streams.
        .env("BRIDGE_FUNCTION", "events")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:1")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::task::block_in_place(|| process::wait_for_port(port, Duration::from_secs(20))).unwrap();
    // At once: the consumers and the advisory listener may not have started yet.
    process::signal_pid(bridge.id().unwrap(), 15);
    let status = tokio::time::timeout(Duration::from_secs(10), bridge.wait())
        .await
        .expect("the bridge stops")
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_that_keeps_failing_is_restarted_and_makes_the_bridge_unready_until_it_recovers() {
    let bus = nats().await;
    let events = format!("{}_TASKS", bus.streams.events);
    let port = process::free_port();
    let _bridge = tokio::process::Command::new(BRIDGE)
        .env("NATS_URL", &bus.url)
        .env("EVENTS_STREAM", &events)
        .env(
            "DEAD_LETTER_STREAM",
            format!("{}_TASKS", bus.streams.dead_letters),
        )
        .env(
            "EVENTS_SUBJECT_ROOT",
            format!("k{}", bus.streams.subject_root),
        )
        .env("PORT", port.to_string())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    let health = || async {
        let response = reqwest::get(&healthz).await?;
        let status = response.status().as_u16();
        Ok::<_, reqwest::Error>((status, response.json::<Value>().await?))
    };
    let until = |want: u16| async move {
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Ok((status, body)) = health().await {
                    if status == want {
                        return body;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("/healthz never answered {want}"))
    };
    let ready = until(200).await;
    assert_eq!(ready["tasks"]["status"], "ok", "{ready}");

    // The advisory listener's stream disappears: the listener fails at each restart.
    let advisories = format!("{events}_ADVISORIES");
    bus.jetstream
        .delete_stream(&advisories)
        .await
        .expect("deleted");
    let unready = until(503).await;
    assert_eq!(
        unready["tasks"]["failing"],
        serde_json::json!(["advisory-listener"]),
        "{unready}"
    );
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("lzstock_task_restarts_total{task=\"advisory-listener\"}"),
        "{metrics}"
    );

    // Its stream back (an operator provisions again): the next restart holds, ready again.
    lzstock_shim::bridge::advisory::provision(&bus.jetstream, &events, None)
        .await
        .expect("provisioned");
    let recovered = until(200).await;
    assert_eq!(recovered["tasks"]["status"], "ok", "{recovered}");
}
