//! A real third-party client, `buf curl`, calls the proto service on the standalone server
//! over Connect, gRPC-Web and gRPC (HTTP/2 without TLS), with the schema from `proto/`.

use std::process::Output;

use lzstock_harness::process;
use serde_json::Value;

use crate::common::start;

async fn buf_curl(protocol: &str, url: &str, method: &str, user: &str, body: &str) -> Output {
    let buf = process::find_program("buf", "BUF_BIN")
        .expect("buf (installed into .venv by the test command)");
    let token = lzstock_harness::tokens::issue_token(
        lzstock_harness::TEST_JWT_SECRET.as_bytes(),
        user,
        chrono::Duration::minutes(5),
    )
    .expect("a token");
    let mut command = tokio::process::Command::new(buf);
    command
        .args(["curl", "--schema"])
        .arg(process::workspace_root().join("proto"))
        .args(["--protocol", protocol])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["-d", body]);
    if protocol == "grpc" {
        command.arg("--http2-prior-knowledge");
    }
    command
        .arg(format!("{url}/lzstock.v1.DashboardService/{method}"))
        .output()
        .await
        .expect("buf curl runs")
}

fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "buf curl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("buf curl prints JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn buf_curl_creates_and_reads_a_dashboard_over_every_protocol() {
    let server = start().await;
    for protocol in ["connect", "grpcweb", "grpc"] {
        let name = format!("Over {protocol}");
        let body = format!(
            r#"{{"name": "{name}", "tickers": ["AAPL", "MSFT"], "indicators": ["net_margin"]}}"#
        );
        let created = json(&buf_curl(protocol, &server.url, "CreateDashboard", "ada", &body).await);
        let id = created["dashboard"]["id"]
            .as_str()
            .expect("an id")
            .to_owned();
        assert_eq!(created["dashboard"]["name"], name.as_str());

        let read = json(
            &buf_curl(
                protocol,
                &server.url,
                "GetDashboard",
                "ada",
                &format!(r#"{{"id": "{id}"}}"#),
            )
            .await,
        );
        assert_eq!(read["dashboard"], created["dashboard"], "{protocol}");
    }
    let listed = json(&buf_curl("connect", &server.url, "ListDashboards", "ada", "{}").await);
    assert_eq!(listed["dashboards"].as_array().map(Vec::len), Some(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn buf_curl_sees_the_error_codes() {
    let server = start().await;
    for protocol in ["connect", "grpcweb", "grpc"] {
        let invalid = buf_curl(
            protocol,
            &server.url,
            "CreateDashboard",
            "ada",
            r#"{"name": "", "tickers": ["AAPL"]}"#,
        )
        .await;
        assert!(!invalid.status.success());
        let stderr = String::from_utf8_lossy(&invalid.stderr);
        assert!(stderr.contains("invalid_argument"), "{protocol}: {stderr}");

        let missing = buf_curl(
            protocol,
            &server.url,
            "GetDashboard",
            "ada",
            r#"{"id": "0190a6f5-7d3c-7b3e-9f00-000000000000"}"#,
        )
        .await;
        let stderr = String::from_utf8_lossy(&missing.stderr);
        assert!(stderr.contains("not_found"), "{protocol}: {stderr}");
    }
}
