//! Slow and idle clients against the standalone API, over raw TCP: headers that never
//! finish, a connection that sends nothing, a body that never arrives, and one connection
//! more than the server takes. Each is turned away within its limit and counted.

use std::time::{Duration, Instant};

use lzstock_harness::TEST_JWT_SECRET;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{start_with, StandaloneApi};

/// Everything the server sends until it closes the connection, and how long that took;
/// the test fails if it has not closed within 20 s.
async fn until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection")
        .ok();
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}

async fn connect(api: &StandaloneApi) -> TcpStream {
    TcpStream::connect(api.url.trim_start_matches("http://"))
        .await
        .expect("a connection")
}

/// The count of clients turned away by `limit`, read from `/metrics` once the server
/// takes a connection again (slots come back as the server sees their clients leave).
async fn limited_total(api: &StandaloneApi, limit: &str) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        match reqwest::get(format!("{}/metrics", api.url)).await {
            Ok(response) => break response.text().await.expect("the metrics"),
            Err(error) => {
                assert!(Instant::now() < deadline, "GET /metrics: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let prefix = format!("lzstock_http_limited_total{{limit=\"{limit}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0, |value| value.trim().parse().expect("a count"))
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_headers_an_idle_connection_and_a_missing_body_are_turned_away_in_time() {
    let api = start_with(&[
        ("HTTP_HEADER_TIMEOUT_SECS", "1"),
        ("HTTP_BODY_TIMEOUT_SECS", "1"),
    ])
    .await;

    // Headers that never finish: closed, without an answer, once the header time is up.
    let mut slow = connect(&api).await;
    slow.write_all(b"GET /livez HTTP/1.1\r\nHost: lzstock\r\n")
        .await
        .expect("part of the headers");
    let (answer, waited) = until_closed(&mut slow).await;
    assert!(answer.is_empty(), "{answer}");
    assert!(
        waited >= Duration::from_millis(900),
        "closed after {waited:?}"
    );

    // A connection that sends nothing at all: the same.
    let mut idle = connect(&api).await;
    let (answer, waited) = until_closed(&mut idle).await;
    assert!(answer.is_empty(), "{answer}");
    assert!(
        waited >= Duration::from_millis(900),
        "closed after {waited:?}"
    );

    // A body announced as 100 bytes of which one arrives: 408, then the connection closes.
    let token = lzstock_harness::tokens::issue_token(
        TEST_JWT_SECRET.as_bytes(),
        "slow-client",
        chrono::Duration::minutes(5),
    )
    .expect("a token");
    let mut partial = connect(&api).await;
    partial
        .write_all(
            format!(
                "POST /v1/dashboards HTTP/1.1\r\nHost: lzstock\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
            )
            .as_bytes(),
        )
        .await
        .expect("the headers and one byte");
    let (answer, waited) = until_closed(&mut partial).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("deadline_exceeded"), "{answer}");
    assert!(
        waited >= Duration::from_millis(900),
        "answered after {waited:?}"
    );

    // A client that keeps to the limits is served as ever, and each refusal was counted.
    let live = reqwest::get(format!("{}/livez", api.url))
        .await
        .expect("GET /livez");
    assert_eq!(live.status(), 200);
    assert!(limited_total(&api, "headers").await >= 2);
    assert!(limited_total(&api, "body").await >= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_past_the_cap_is_closed_at_once_and_its_slot_comes_back() {
    let api = start_with(&[
        ("HTTP_HEADER_TIMEOUT_SECS", "60"),
        ("HTTP_MAX_CONNECTIONS", "3"),
    ])
    .await;
    // Three idle connections fill the server: the fourth is closed as soon as accepted.
    // (The port probe that saw the server start has gone: each idle one waits to be
    // accepted by a free slot before the next opens.)
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect(&api).await);
    }
    let started = Instant::now();
    let mut refused = connect(&api).await;
    let (answer, waited) = until_closed(&mut refused).await;
    assert!(answer.is_empty(), "{answer}");
    assert!(waited < Duration::from_secs(10), "closed after {waited:?}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // One of the three leaves: its slot comes back, and a request is served.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        match reqwest::get(format!("{}/livez", api.url)).await {
            Ok(response) => break response.status(),
            Err(error) => {
                assert!(Instant::now() < deadline, "never served again: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(status, 200);
    drop(held);
    assert!(limited_total(&api, "connections").await >= 1);
}
