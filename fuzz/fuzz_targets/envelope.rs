//! The envelope decoder: any message body, with or without a `Nats-Msg-Id` (taken from the
//! input's first line), through the typed handler every route uses. It must answer every
//! body with an outcome (never panic), and ack only a well-typed envelope whose id matches.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use lzstock_shim::backoff::Backoff;
use lzstock_shim::batch::{MessageHandler, MessageRecord, Outcome};
use lzstock_shim::envelope::{typed, Envelope};

fuzz_target!(|data: &[u8]| {
    let (id, body) = match data.iter().position(|b| *b == b'\n') {
        Some(end) => (
            Some(String::from_utf8_lossy(&data[..end]).into_owned()),
            &data[end + 1..],
        ),
        None => (None, data),
    };
    let mut headers = BTreeMap::new();
    if let Some(id) = &id {
        headers.insert("Nats-Msg-Id".to_owned(), vec![id.clone()]);
    }
    let record = MessageRecord {
        subject: "lzstock.users.signed_up".into(),
        data: body.to_vec(),
        headers,
        stream: "LZSTOCK".into(),
        stream_sequence: 1,
        consumer_sequence: 1,
        deliveries: 1,
        published_at: chrono::Utc::now(),
    };
    let handler = typed(
        |_: Envelope<serde_json::Value, serde_json::Value>| async { Ok(()) },
        Backoff::default(),
    );
    let outcome = futures::executor::block_on(handler.handle(&record));
    if outcome == Outcome::Ack {
        let envelope: serde_json::Value =
            serde_json::from_slice(body).expect("an acked body is JSON");
        assert_eq!(
            envelope["id"].as_str(),
            id.as_deref(),
            "acked with a different id"
        );
    }
});
