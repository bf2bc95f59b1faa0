//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set, the standalone API exports its spans over OTLP
//! (HTTP/protobuf) to that endpoint, in the caller's trace.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::routing::post;
use axum::Router;
use lzstock_harness::local_http::LocalServer;
use lzstock_harness::{base_env, database, nats, process};

#[tokio::test(flavor = "multi_thread")]
async fn spans_reach_the_otlp_endpoint_in_the_callers_trace() {
    let received: Arc<Mutex<Vec<Bytes>>> = Arc::default();
    let sink = {
        let received = Arc::clone(&received);
        LocalServer::start(Router::new().route(
            "/v1/traces",
            post(move |body: Bytes| {
                let received = Arc::clone(&received);
                async move {
                    received.lock().expect("lock").push(body);
                    ""
                }
            }),
        ))
        .await
    };
    let (db, bus) = tokio::join!(database(), nats());
    let port = process::free_port();
    let _api = tokio::process::Command::new(env!("CARGO_BIN_EXE_api"))
        .envs(base_env())
        .env("DATABASE_URL", &db.url)
        .envs(bus.env())
        .env("PORT", port.to_string())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", sink.url())
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .kill_on_drop(true)
        .spawn()
        .expect("the api starts");
    tokio::task::block_in_place(|| process::wait_for_port(port, Duration::from_secs(20)))
        .expect("the api listens");

    let trace_hex = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/livez"))
        .header("traceparent", format!("00-{trace_hex}-00f067aa0ba902b7-01"))
        .send()
        .await
        .expect("GET /livez");
    assert!(response.status().is_success());

    // The trace id appears in the protobuf as its 16 raw bytes.
    let trace_bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&trace_hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let found = received
            .lock()
            .expect("lock")
            .iter()
            .any(|body| body.windows(16).any(|w| w == trace_bytes.as_slice()));
        if found {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no span of trace {trace_hex} reached the OTLP endpoint"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
