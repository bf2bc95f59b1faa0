//! The checks of the checks: a broken example is noticed, and the bridge's deployment example parses as the bridge parses it.

use super::*;

#[test]
fn a_broken_example_is_noticed() {
    // The checks above would pass vacuously if nothing were parsed: a malformed value of a
    // documented variable must be refused by a binary that reads it.
    let rows = table();
    let files = Files::new();
    for (name, value) in [
        ("NATS_URL", "nats://n1:4222,n2:port"),
        ("SIGNUP_DEFAULT_TICKERS", "AAPL,,MSFT!"),
        ("LOG_FORMAT", "xml"),
    ] {
        let binary = rows
            .iter()
            .find(|row| row.variables.iter().any(|v| v == name))
            .and_then(|row| row.used_by.first())
            .map(|(binary, _)| binary.clone())
            .expect("documented");
        let env = environment(
            &rows,
            &files,
            &binary,
            Host::Standalone,
            Some((name, value)),
        );
        let error = parse(&binary, &env).expect_err("refused");
        assert!(error.to_string().contains(name), "{error}");
    }
}

#[test]
fn the_bridges_deployment_example_parses_as_the_bridge_parses_it() {
    let text =
        std::fs::read_to_string(crate::checkout::root().join("deploy/nats-bridge.env.example"))
            .expect("deploy/nats-bridge.env.example");
    let values: HashMap<String, String> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (name, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not NAME=value: {line}"));
            (name.to_owned(), value.to_owned())
        })
        .collect();
    let env = Recorded::new(values);
    let lists = parse("nats-bridge", &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(lists.get("NATS_URL"), Some(&3), "three seeds");
    for name in env.values.keys() {
        assert!(
            env.read.borrow().contains(name),
            "the example sets {name}, which the bridge does not read"
        );
    }
}
