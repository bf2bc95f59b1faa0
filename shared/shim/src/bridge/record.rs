//! A JetStream delivery as the record handlers take, whoever delivers it (the consumer
//! loop, a replay).

use std::collections::BTreeMap;

use async_nats::jetstream::Message;
use chrono::{DateTime, Utc};

use crate::batch::MessageRecord;

/// The record the bridge sends for a JetStream delivery; `None` for a plain NATS message.
pub(crate) fn record_of(message: &Message) -> Option<MessageRecord> {
    let info = message.info().ok()?;
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(map) = &message.headers {
        for (name, values) in map.iter() {
            headers.insert(
                name.to_string(),
                values.iter().map(|v| v.as_str().to_owned()).collect(),
            );
        }
    }
    let published_at = DateTime::<Utc>::from_timestamp(
        info.published.unix_timestamp(),
        info.published.nanosecond(),
    )
    .unwrap_or_default();
    Some(MessageRecord {
        subject: message.subject.to_string(),
        data: message.payload.to_vec(),
        headers,
        stream: info.stream.to_owned(),
        stream_sequence: info.stream_sequence,
        consumer_sequence: info.consumer_sequence,
        deliveries: u64::try_from(info.delivered).unwrap_or(1),
        published_at,
    })
}
