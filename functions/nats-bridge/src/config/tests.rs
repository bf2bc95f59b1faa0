use std::collections::HashMap;

use super::*;
use lzstock_shim::bridge::settings::StartPosition;

fn config(vars: &[(&str, &str)]) -> Result<BridgeConfig, ConfigError> {
    let mut env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.insert("NATS_URL".into(), "nats://127.0.0.1:4222".into());
    BridgeConfig::from_source(&env)
}

#[test]
fn without_a_function_or_a_file_the_bridge_invokes_nothing() {
    assert!(config(&[]).unwrap().routes.is_empty());
}

#[test]
fn a_function_alone_gets_one_route_for_every_subject() {
    let config = config(&[("BRIDGE_FUNCTION", "events"), ("BRIDGE_BATCH_SIZE", "25")]).unwrap();
    let [route] = config.routes.as_slice() else {
        panic!("{:?}", config.routes)
    };
    assert_eq!(route.function, "events");
    assert_eq!(route.consumer.filter_subjects, ["lzstock.>"]);
    assert_eq!(route.consumer.batch_size, 25);
}

#[test]
fn a_routes_file_names_consumers_and_subjects_under_the_root() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        r#"{"routes": [{"name": "signups", "function": "events",
            "subjects": ["users.signed_up"], "max_deliver": 3}]}"#,
    )
    .unwrap();
    let path = file.path().to_str().unwrap();
    let config = config(&[
        ("BRIDGE_ROUTES_FILE", path),
        ("EVENTS_SUBJECT_ROOT", "t1.lzstock"),
    ])
    .unwrap();
    let route = &config.routes[0];
    assert_eq!(route.consumer.durable, "signups");
    assert_eq!(
        route.consumer.filter_subjects,
        ["t1.lzstock.users.signed_up"]
    );
    assert_eq!(route.consumer.max_deliver, 3);
    assert_eq!(route.consumer.batch_size, 10);
    assert_eq!((route.min_concurrency, route.max_concurrency), (1, 10));
}

fn routes_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

#[test]
fn duplicate_route_names_are_refused() {
    let file = routes_file(
        r#"{"routes": [{"name": "a", "function": "f", "subjects": ["x"]},
                       {"name": "a", "function": "g", "subjects": ["y"]}]}"#,
    );
    let error = config(&[("BRIDGE_ROUTES_FILE", file.path().to_str().unwrap())])
        .unwrap_err()
        .to_string();
    assert!(error.contains("route a appears more than once"), "{error}");
}

#[test]
fn out_of_range_route_values_name_the_route_and_field() {
    for (field, value) in [
        ("batch_size", "0"),
        ("max_deliver", "0"),
        ("max_deliver", "-3"),
        ("ack_wait_ms", "0"),
        ("max_ack_pending", "0"),
        ("max_wait_ms", "0"),
        ("invoke_timeout_ms", "0"),
        ("max_invoke_bytes", "10"),
        ("batches_in_flight", "0"),
        ("min_concurrency", "0"),
        ("max_concurrency", "101"),
        ("start", "\"sometime\""),
    ] {
        let file = routes_file(&format!(
            r#"{{"routes": [{{"name": "signups", "function": "f", "subjects": ["x"], "{field}": {value}}}]}}"#
        ));
        let error = config(&[("BRIDGE_ROUTES_FILE", file.path().to_str().unwrap())])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("route signups") && error.contains(field),
            "{field}={value}: {error}"
        );
    }
}

#[test]
fn out_of_range_variables_are_refused_by_name() {
    for (name, value) in [
        ("BRIDGE_ACK_WAIT_MS", "0"),
        ("BRIDGE_MAX_DELIVER", "0"),
        ("BRIDGE_MAX_DELIVER", "-1"),
        ("BRIDGE_BATCH_SIZE", "0"),
        ("BRIDGE_BATCH_SIZE", "-1"),
        ("BRIDGE_BATCHES_IN_FLIGHT", "0"),
        ("BRIDGE_MIN_CONCURRENCY", "0"),
        ("BRIDGE_MAX_CONCURRENCY", "0"),
        ("BRIDGE_START", "later"),
    ] {
        let error = config(&[("BRIDGE_FUNCTION", "events"), (name, value)])
            .unwrap_err()
            .to_string();
        assert!(error.contains(name), "{name}={value}: {error}");
    }
}

#[test]
fn a_route_may_start_at_new_messages_or_a_time() {
    let file = routes_file(
        r#"{"routes": [{"name": "a", "function": "f", "subjects": ["x"], "start": "new"},
                       {"name": "b", "function": "f", "subjects": ["y"], "start": "2026-11-23T10:00:00Z"}]}"#,
    );
    let config = config(&[("BRIDGE_ROUTES_FILE", file.path().to_str().unwrap())]).unwrap();
    assert_eq!(config.routes[0].consumer.start, StartPosition::New);
    assert!(matches!(
        config.routes[1].consumer.start,
        StartPosition::Since(_)
    ));
}

#[test]
fn a_bad_routes_file_is_refused_with_the_reason() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        r#"{"routes": [{"name": "a b", "function": "f", "subjects": ["x"]}]}"#,
    )
    .unwrap();
    let error = config(&[("BRIDGE_ROUTES_FILE", file.path().to_str().unwrap())])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("BRIDGE_ROUTES_FILE") && error.contains("\"a b\""),
        "{error}"
    );
    let error = config(&[("BRIDGE_ROUTES_FILE", "/nonexistent/routes.json")])
        .unwrap_err()
        .to_string();
    assert!(error.contains("/nonexistent/routes.json"), "{error}");
}

#[test]
fn the_invoke_endpoint_and_region_are_checked_at_start() {
    let valid = config(&[
        ("AWS_ENDPOINT_URL_LAMBDA", "http://[::1]:9000"),
        ("AWS_REGION", "us-east-1"),
    ])
    .expect("valid");
    assert_eq!(valid.lambda_endpoint.as_deref(), Some("http://[::1]:9000"));
    for (name, value) in [
        ("AWS_ENDPOINT_URL_LAMBDA", "127.0.0.1:9000"),
        ("AWS_REGION", "US East"),
    ] {
        let error = config(&[(name, value)]).unwrap_err();
        assert!(error.to_string().contains(name), "{name}={value}: {error}");
    }
}

#[test]
fn concurrency_ranges_from_a_minimum_to_a_maximum_or_is_fixed_by_the_older_name() {
    let config = config(&[("BRIDGE_FUNCTION", "events")]).unwrap();
    let route = &config.routes[0];
    assert_eq!((route.min_concurrency, route.max_concurrency), (1, 10));
    let fixed = config_of(&[
        ("BRIDGE_FUNCTION", "events"),
        ("BRIDGE_BATCHES_IN_FLIGHT", "3"),
    ]);
    assert_eq!((fixed.min_concurrency, fixed.max_concurrency), (3, 3));
    let ranged = config_of(&[
        ("BRIDGE_FUNCTION", "events"),
        ("BRIDGE_MIN_CONCURRENCY", "2"),
        ("BRIDGE_MAX_CONCURRENCY", "4"),
    ]);
    assert_eq!((ranged.min_concurrency, ranged.max_concurrency), (2, 4));
}

fn config_of(vars: &[(&str, &str)]) -> crate::config::BridgeRoute {
    config(vars).unwrap().routes[0].clone()
}
