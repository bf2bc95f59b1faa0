//! EventBridge Scheduler expressions (`rate(…)`, `cron(…)`, `at(…)`), with a time zone
//! from the input's second line: parsed, then the next fire times computed, which must
//! move forward.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use lzstock_admin::schedule_expression::ScheduleExpression;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(2, '\n');
    let expression = lines.next().unwrap_or_default();
    let zone = lines.next();
    let Ok(schedule) = ScheduleExpression::parse(expression, zone) else {
        return;
    };
    let start = Utc
        .with_ymd_and_hms(2026, 12, 7, 10, 0, 0)
        .single()
        .expect("a time");
    let mut after = start;
    for _ in 0..3 {
        match schedule.next_after(after, start) {
            Some(next) => {
                assert!(next > after, "{expression:?}: {next} is not after {after}");
                after = next;
            }
            None => break,
        }
    }
});
