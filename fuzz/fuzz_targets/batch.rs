//! The batch-event decoder: any Lambda invoke payload, as the events function's runtime
//! reads it (`MessageBatch`), then every record through the typed handler. A payload that
//! parses is answered with at most one failure per record, each naming a record it holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lzstock_shim::backoff::Backoff;
use lzstock_shim::batch::{process, MessageBatch};
use lzstock_shim::envelope::{typed, Envelope};

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = serde_json::from_slice::<MessageBatch>(data) else {
        return;
    };
    let handler = typed(
        |_: Envelope<serde_json::Value, serde_json::Value>| async { Ok(()) },
        Backoff::default(),
    );
    let answer = futures::executor::block_on(process(&batch, 4, &handler));
    assert!(answer.batch_item_failures.len() <= batch.records.len());
    for failure in &answer.batch_item_failures {
        assert!(batch
            .records
            .iter()
            .any(|record| record.item_identifier() == failure.item_identifier));
    }
    // The answer goes back over the wire: it must serialise.
    serde_json::to_vec(&answer).expect("the answer serialises");
});
