use super::*;

fn check_emf(line: &str) -> Value {
    lzstock_harness::emf::check(line).unwrap_or_else(|error| panic!("{error}: {line}"))
}

#[test]
fn constant_dimensions_are_name_value_pairs() {
    assert_eq!(
        parse_dimensions("Stage=prod, Service=lzstock").expect("valid"),
        [
            ("Stage".into(), "prod".into()),
            ("Service".into(), "lzstock".into())
        ]
    );
    for bad in [
        "Stage",
        "Stage=",
        "=prod",
        "Stage=a,Stage=b",
        "FunctionName=x",
    ] {
        assert!(parse_dimensions(bad).is_err(), "{bad}");
    }
}

#[test]
fn lines_follow_the_emf_specification_and_count_deltas() {
    let recorder = Arc::new(EmfRecorder::new(EmfSettings {
        namespace: "LZStock".into(),
        function_name: "events".into(),
        dimensions: vec![("Stage".into(), "test".into())],
    }));
    let shared = Shared(Arc::clone(&recorder));
    metrics::with_local_recorder(&shared, || {
        metrics::counter!("lzstock_events_acked_total", "subject" => "lzstock.users.signed_up")
            .increment(3);
        metrics::counter!("lzstock_lambda_invocations_total").increment(1);
        metrics::histogram!("lzstock_lambda_duration_seconds").record(0.25);
        metrics::gauge!("lzstock_inflight").set(2.0);
    });
    let lines = recorder.take_lines(1_795_000_000_000);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let roots: Vec<Value> = lines.iter().map(|l| check_emf(l)).collect();
    let by_subject = roots
        .iter()
        .find(|r| r.get("subject").is_some())
        .expect("a line per label set");
    assert_eq!(by_subject["lzstock_events_acked_total"], 3);
    assert_eq!(
        by_subject["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0],
        json!(["FunctionName", "Stage", "subject"])
    );
    assert_eq!(by_subject["Stage"], "test");
    // Counters restart; the gauge keeps its value.
    let next = recorder.take_lines(1_795_000_001_000);
    assert_eq!(next.len(), 1);
    assert_eq!(check_emf(&next[0])["lzstock_inflight"], 2.0);
}

#[test]
fn a_histogram_of_more_than_a_hundred_values_keeps_every_one_across_lines() {
    let recorder = Arc::new(EmfRecorder::new(EmfSettings {
        namespace: "LZStock".into(),
        function_name: "events".into(),
        dimensions: Vec::new(),
    }));
    let shared = Shared(Arc::clone(&recorder));
    metrics::with_local_recorder(&shared, || {
        for n in 0..=250 {
            metrics::histogram!("lzstock_handler_duration_seconds").record(f64::from(n));
        }
        metrics::counter!("lzstock_lambda_invocations_total").increment(1);
    });
    let lines = recorder.take_lines(1_795_000_000_000);
    assert_eq!(lines.len(), 3, "100 + 100 + 51 values: {lines:?}");
    let roots: Vec<Value> = lines.iter().map(|l| check_emf(l)).collect();
    let values: Vec<f64> = roots
        .iter()
        .flat_map(|root| {
            root["lzstock_handler_duration_seconds"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|v| v.as_f64())
        .collect();
    assert_eq!(values, (0..=250).map(f64::from).collect::<Vec<_>>());
    assert!(roots
        .iter()
        .all(|root| root["lzstock_handler_duration_seconds"]
            .as_array()
            .is_some_and(|v| v.len() <= MAX_VALUES)));
    // The counter is counted once, on the first line.
    let counted: u64 = roots
        .iter()
        .filter_map(|root| root["lzstock_lambda_invocations_total"].as_u64())
        .sum();
    assert_eq!(counted, 1);
}
