//! Cutting a fetched batch into invokes that stay under the Invoke API's payload limit.
//!
//! A synchronous Lambda invoke carries at most 6 MB, and base64 makes a message body a
//! third larger, so ten large messages that JetStream hands out in one pull can be too big
//! for one invoke. Were such a batch sent whole, Lambda would refuse it every time, and
//! healthy records would run out of deliveries and be dead-lettered.

use std::io::Write;

use crate::batch::MessageRecord;

/// `{"records":[` and `]}`: the framing of a batch around its records.
const BATCH_FRAMING: usize = r#"{"records":[]}"#.len();

/// How a fetched batch is invoked: groups of records, in stream order, each within the
/// limit; and the records that exceed it on their own.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct InvokePlan {
    /// Indexes into the fetched records, one group per invoke.
    pub(crate) invokes: Vec<Vec<usize>>,
    /// Indexes of records that cannot fit in any invoke, with their encoded size.
    pub(crate) oversized: Vec<(usize, usize)>,
}

/// The bytes `record` takes in an encoded batch.
pub(crate) fn encoded_len(record: &MessageRecord) -> usize {
    struct Counter(usize);
    impl Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Serialising a record cannot fail (string keys, no maps with other keys); were it to,
    // an over-estimate keeps the record on its own.
    match serde_json::to_writer(&mut counter, record) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

/// A bound no smaller than [`encoded_len`], computed without encoding: base64's exact
/// length for the body, and every text counted as if each byte needed a six-byte JSON
/// escape. Batches of ordinary messages are far under the limit by this bound alone.
fn upper_bound(record: &MessageRecord) -> usize {
    // The keys, punctuation, three integers and the timestamp of a record.
    const FIXED: usize = 256;
    let text = |s: &str| 6 * s.len() + 2;
    let headers: usize = record
        .headers
        .iter()
        .map(|(name, values)| text(name) + 3 + values.iter().map(|v| text(v) + 1).sum::<usize>())
        .sum();
    FIXED
        + text(&record.subject)
        + text(&record.stream)
        + record.data.len().div_ceil(3) * 4
        + headers
}

/// Groups `records` greedily, in order, so that each group's encoded batch stays at or
/// under `limit` bytes.
pub(crate) fn plan<'a>(
    records: impl IntoIterator<Item = &'a MessageRecord> + Clone,
    limit: usize,
) -> InvokePlan {
    let mut plan = InvokePlan::default();
    // The common case: the whole batch fits by the bound, one invoke, no encoding.
    let mut count = 0;
    let mut bound = BATCH_FRAMING;
    for record in records.clone() {
        bound = bound.saturating_add(upper_bound(record) + 1);
        count += 1;
    }
    if bound <= limit {
        if count > 0 {
            plan.invokes.push((0..count).collect());
        }
        return plan;
    }
    let mut group = Vec::new();
    let mut size = BATCH_FRAMING;
    for (index, record) in records.into_iter().enumerate() {
        let bytes = encoded_len(record);
        if bytes.saturating_add(BATCH_FRAMING) > limit {
            plan.oversized.push((index, bytes));
            continue;
        }
        // A comma separates it from the previous record.
        let added = bytes + usize::from(!group.is_empty());
        if size + added > limit {
            plan.invokes.push(std::mem::take(&mut group));
            size = BATCH_FRAMING;
            group.push(index);
            size += bytes;
        } else {
            group.push(index);
            size += added;
        }
    }
    if !group.is_empty() {
        plan.invokes.push(group);
    }
    plan
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::batch::MessageBatch;

    fn record(sequence: u64, bytes: usize) -> MessageRecord {
        MessageRecord {
            subject: "lzstock.big".into(),
            data: vec![b'x'; bytes],
            headers: BTreeMap::from([("Nats-Msg-Id".into(), vec![format!("m{sequence}")])]),
            stream: "LZSTOCK".into(),
            stream_sequence: sequence,
            consumer_sequence: sequence,
            deliveries: 1,
            published_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    fn encoded(records: &[&MessageRecord]) -> usize {
        let batch = MessageBatch {
            records: records.iter().map(|r| (*r).clone()).collect(),
        };
        serde_json::to_vec(&batch).expect("encode").len()
    }

    #[test]
    fn the_counted_size_is_the_encoded_size() {
        let a = record(1, 1000);
        let b = record(2, 10);
        assert_eq!(encoded(&[&a]), BATCH_FRAMING + encoded_len(&a));
        assert_eq!(
            encoded(&[&a, &b]),
            BATCH_FRAMING + encoded_len(&a) + 1 + encoded_len(&b)
        );
    }

    #[test]
    fn a_batch_over_the_limit_is_cut_in_order_and_every_group_fits() {
        let records: Vec<_> = (1..=10).map(|n| record(n, 900_000)).collect();
        let limit = 6 * 1024 * 1024;
        let plan = plan(&records, limit);
        assert!(plan.oversized.is_empty());
        assert_eq!(plan.invokes.len(), 2, "{:?}", plan.invokes);
        let flat: Vec<usize> = plan.invokes.iter().flatten().copied().collect();
        assert_eq!(flat, (0..10).collect::<Vec<_>>());
        for group in &plan.invokes {
            let members: Vec<&MessageRecord> = group.iter().map(|&i| &records[i]).collect();
            assert!(encoded(&members) <= limit);
        }
    }

    #[test]
    fn a_record_that_cannot_fit_alone_is_set_apart() {
        let records = vec![record(1, 10), record(2, 10_000), record(3, 10)];
        let plan = plan(&records, 5_000);
        assert_eq!(plan.invokes, [vec![0, 2]]);
        assert_eq!(plan.oversized.len(), 1);
        assert_eq!(plan.oversized[0].0, 1);
    }

    #[test]
    fn the_bound_is_never_below_the_encoded_size() {
        let mut awkward = record(7, 1001);
        awkward.subject = "lzstock.\"quoted\"\u{1}".into();
        awkward
            .headers
            .insert("X-Note".into(), vec!["tab\there".into(), "é\n".into()]);
        for record in [record(1, 0), record(2, 1), record(3, 2), awkward] {
            assert!(upper_bound(&record) >= encoded_len(&record), "{record:?}");
        }
    }

    #[test]
    fn small_batches_stay_whole() {
        let records: Vec<_> = (1..=10).map(|n| record(n, 100)).collect();
        assert_eq!(
            plan(&records, 6_000_000).invokes,
            [(0..10).collect::<Vec<_>>()]
        );
    }
}
