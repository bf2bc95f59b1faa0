//! The bridge's reading of a function's answer: any bytes as `{"batchItemFailures": …}`,
//! each failure turned into an outcome, and a reject reason into the header value a dead
//! letter carries (cleaned and cut to the header limit, whatever the function wrote).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lzstock_shim::batch::{BatchResponse, Outcome};
use lzstock_shim::bridge::{header_value, MAX_HEADER_VALUE};

fuzz_target!(|data: &[u8]| {
    let Ok(answer) = serde_json::from_slice::<BatchResponse>(data) else {
        return;
    };
    for failure in &answer.batch_item_failures {
        if let Outcome::Reject { reason } = failure.outcome() {
            let value = header_value(&reason);
            assert!(value.as_str().len() <= MAX_HEADER_VALUE);
            assert!(!value.as_str().chars().any(char::is_control));
        }
    }
});
