//! Rust generated from the protobuf contracts in `proto/` (see `build.rs`): buffa message
//! types with canonical proto3 JSON, and the Connect/gRPC/gRPC-Web service traits that
//! `lzstock-app` implements.
//!
//! The contracts are the source of truth for every payload that crosses a process
//! boundary: the proto services of the API and the event payloads on NATS.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

connectrpc::include_generated!();

/// The compiled contracts, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/lzstock_descriptor.bin"));

#[cfg(test)]
mod tests {
    use super::lzstock::v1::CreateDashboardRequest;

    #[test]
    fn messages_use_canonical_proto3_json() {
        let request = CreateDashboardRequest {
            name: "Tech".into(),
            tickers: vec!["AAPL".into()],
            ..Default::default()
        };
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name": "Tech", "tickers": ["AAPL"]})
        );
        let parsed: CreateDashboardRequest = serde_json::from_str(
            r#"{"name": "Tech", "tickers": ["AAPL"], "indicators": ["net_margin"]}"#,
        )
        .unwrap();
        assert_eq!(parsed.indicators, ["net_margin"]);
    }
}
