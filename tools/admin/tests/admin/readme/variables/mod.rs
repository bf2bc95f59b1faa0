//! The README's environment table, parsed by the binaries' own configuration code: every
//! example is taken as written by every binary its row names (on each host the row allows),
//! a list where the row says list parses as that many items, and every binary that reads a
//! documented variable is named in its row.

use std::collections::{BTreeMap, HashMap};

use lzstock_harness::tls::TestCertificates;
use lzstock_shim::config::{ConfigError, Source};
use lzstock_shim::meters::{self, EmfSettings};
use lzstock_shim::telemetry::TelemetrySettings;

use self::sources::{Lists, Recorded, WithSampleSecrets};
use super::readme;
use crate::samples::NATS_USER_CREDS;

/// One row of the table.
#[derive(Debug)]
struct Row {
    variables: Vec<String>,
    /// Whether the variables are alternatives (`A` or `B`): one is set at a time.
    alternatives: bool,
    /// The binaries the row names, each with its qualifier (`standalone`, `Lambda`,
    /// `optional`), if any.
    used_by: Vec<(String, Option<String>)>,
    /// `NAME=value` examples, split.
    examples: Vec<(String, String)>,
    text: String,
}

/// The texts between backticks in `cell`.
fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn table() -> Vec<Row> {
    let text = readme();
    let section = text
        .split("\n## Environment")
        .nth(1)
        .expect("the README has an Environment section");
    section
        .lines()
        .skip_while(|line| !line.starts_with("| variable |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
            assert_eq!(cells.len(), 4, "a row of four cells: {line}");
            let variables = backticked(cells[0]);
            assert!(!variables.is_empty(), "a row names its variables: {line}");
            let used_by = cells[1]
                .split(',')
                .map(|entry| {
                    let entry = entry.trim();
                    match entry.split_once(" (") {
                        Some((name, qualifier)) => (
                            name.to_owned(),
                            Some(qualifier.trim_end_matches(')').to_owned()),
                        ),
                        None => (entry.to_owned(), None),
                    }
                })
                .collect();
            let examples = backticked(cells[2])
                .into_iter()
                .map(|example| {
                    let (name, value) = example
                        .split_once('=')
                        .unwrap_or_else(|| panic!("an example is NAME=value: {example}"));
                    (name.to_owned(), value.to_owned())
                })
                .collect();
            Row {
                alternatives: cells[0].contains(" or "),
                variables,
                used_by,
                examples,
                text: cells[3].to_owned(),
            }
        })
        .collect()
}

/// Where a binary runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    Standalone,
    Lambda,
}

/// The binaries, and the hosts each runs on.
const BINARIES: [(&str, &[Host]); 6] = [
    ("api", &[Host::Standalone, Host::Lambda]),
    ("events", &[Host::Standalone, Host::Lambda]),
    ("scraper", &[Host::Standalone, Host::Lambda]),
    ("migrate", &[Host::Standalone, Host::Lambda]),
    ("nats-bridge", &[Host::Standalone]),
    ("lzstock-admin", &[Host::Standalone]),
];

/// Variables the binaries read that a user does not set: Lambda's own.
const SET_BY_LAMBDA: [&str; 2] = ["AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_FUNCTION_NAME"];

/// What `binary` parses at start (as its `main` does), from `recorded`.
fn parse(binary: &str, recorded: &Recorded) -> Result<Lists, ConfigError> {
    use lzstock_app::{config, resources};
    // The secrets each `main` reads (`secrets::process_env`).
    let secrets: &[&str] = match binary {
        "api" => &lzstock_api::config::SECRETS,
        "events" => &lzstock_events::config::SECRETS,
        "scraper" => &lzstock_scraper::config::SECRETS,
        "nats-bridge" => &lzstock_nats_bridge::config::SECRETS,
        "migrate" => &config::DATABASE_SECRETS,
        // lzstock-admin's own list (its binary's ADMIN_SECRETS).
        _ => &["DATABASE_URL", "NATS_CREDS"],
    };
    let with_secrets = WithSampleSecrets::read(recorded, secrets)?;
    let source: &dyn Source = &with_secrets;
    TelemetrySettings::from_source(source)?;
    let mut lists = Lists::new();
    let emf = |source: &dyn Source, lists: &mut Lists| -> Result<(), ConfigError> {
        lists.insert(
            "METRICS_DIMENSIONS",
            EmfSettings::from_source(source)?.dimensions.len(),
        );
        Ok(())
    };
    match binary {
        "api" => {
            let config = lzstock_api::config::ApiConfig::from_source(source)?;
            lists.insert("NATS_URL", config.nats.servers.len());
            emf(source, &mut lists)?;
        }
        "events" => {
            let config = lzstock_events::config::EventsConfig::from_source(source)?;
            lists.insert("NATS_URL", config.nats.servers.len());
            lists.insert(
                "SIGNUP_DEFAULT_TICKERS",
                config.signup_tickers.as_slice().len(),
            );
            meters::port_from_env(source)?;
            lzstock_shim::http::HttpLimits::from_source(source)?;
            emf(source, &mut lists)?;
        }
        "scraper" => {
            let config = lzstock_scraper::config::ScraperConfig::from_source(source)?;
            lists.insert("NATS_URL", config.nats.servers.len());
            meters::port_from_env(source)?;
            lzstock_shim::http::HttpLimits::from_source(source)?;
            emf(source, &mut lists)?;
        }
        "migrate" => {
            config::DatabaseConfig::from_source(source)?;
            emf(source, &mut lists)?;
        }
        "nats-bridge" => {
            let config = lzstock_nats_bridge::config::BridgeConfig::from_source(source)?;
            lists.insert("NATS_URL", config.nats.servers.len());
        }
        // Each subcommand reads its part: migrate and outbox-unpark the database,
        // provision-streams NATS and the stream names, dev-token the HS256 key.
        "lzstock-admin" => {
            config::DatabaseConfig::from_source(source)?;
            let nats = config::NatsConfig::from_source(source)?;
            lists.insert("NATS_URL", nats.servers.len());
            resources::event_streams(source)?;
            config::jwt_secret(source)?;
        }
        other => panic!("the README names a binary {other:?} this test does not know"),
    }
    Ok(lists)
}

/// Files the examples name: the test writes one of each kind and points the variable at it.
struct Files {
    dir: tempfile::TempDir,
    certificates: TestCertificates,
}

impl Files {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
            certificates: TestCertificates::generate().expect("certificates (openssl)"),
        }
    }

    fn certificate(&self, file: &str) -> String {
        std::fs::read_to_string(self.certificates.path(file)).expect("a PEM file")
    }

    /// `value` as the binaries will find it: a path the README shows is replaced by a file
    /// of that kind written here.
    fn resolve(&self, name: &str, value: &str) -> String {
        let content = match name {
            "NATS_CREDS" => NATS_USER_CREDS.to_owned(),
            "BRIDGE_ROUTES_FILE" => routes_file_of_readme(),
            "NATS_TLS_CA" => self.certificate("ca.pem"),
            "NATS_TLS_CERT" => self.certificate("client.pem"),
            "NATS_TLS_KEY" => self.certificate("client.key"),
            _ => return value.to_owned(),
        };
        assert!(
            value.starts_with('/'),
            "{name}: the example names a file by its path: {value}"
        );
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).expect("a file");
        path.display().to_string()
    }
}

/// The routes file shown in the README's section on the bridge.
fn routes_file_of_readme() -> String {
    readme()
        .split("```json\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .find(|block| block.trim_start().starts_with("{\"routes\""))
        .expect("the README shows a routes file")
        .to_owned()
}

/// The environment of `binary` on `host` with every variable the table says it uses set to
/// its first example, then `extra`.
fn environment(
    rows: &[Row],
    files: &Files,
    binary: &str,
    host: Host,
    extra: Option<(&str, &str)>,
) -> Recorded {
    let mut values = HashMap::new();
    for row in rows {
        if !row.used_by.iter().any(|(name, _)| name == binary) {
            continue;
        }
        for variable in &row.variables {
            if let Some((_, value)) = row.examples.iter().find(|(name, _)| name == variable) {
                values.insert(variable.clone(), files.resolve(variable, value));
            }
        }
    }
    // Of alternatives, the first.
    for row in rows.iter().filter(|row| row.alternatives) {
        for other in &row.variables[1..] {
            values.remove(other);
        }
    }
    if host == Host::Lambda {
        values.insert("AWS_LAMBDA_RUNTIME_API".into(), "127.0.0.1:9001".into());
        values.insert(
            "AWS_LAMBDA_FUNCTION_NAME".into(),
            format!("lzstock-{binary}"),
        );
    }
    if let Some((name, value)) = extra {
        values.insert(name.to_owned(), files.resolve(name, value));
    }
    Recorded::new(values)
}

fn hosts_of(binary: &str) -> &'static [Host] {
    BINARIES
        .iter()
        .find(|(name, _)| *name == binary)
        .map_or_else(
            || panic!("the README names a binary {binary:?} this test does not know"),
            |(_, hosts)| *hosts,
        )
}

#[test]
fn every_documented_variable_parses_in_the_form_the_readme_shows() {
    let rows = table();
    let files = Files::new();
    for row in &rows {
        for variable in &row.variables {
            assert!(
                row.examples.iter().any(|(name, _)| name == variable),
                "{variable}: the README shows no example"
            );
        }
        let says_list = row.text.contains("comma-separated");
        for (name, value) in &row.examples {
            assert!(
                row.variables.contains(name),
                "the example {name}={value} is in another variable's row"
            );
            for (binary, qualifier) in &row.used_by {
                let hosts: Vec<Host> = hosts_of(binary)
                    .iter()
                    .copied()
                    .filter(|host| match qualifier.as_deref() {
                        Some("standalone") => *host == Host::Standalone,
                        Some("Lambda") => *host == Host::Lambda,
                        Some("optional") | None => true,
                        Some(other) => panic!("{binary} ({other}): an unknown qualifier"),
                    })
                    .collect();
                assert!(!hosts.is_empty(), "{binary} ({qualifier:?}) runs nowhere");
                for host in hosts {
                    let mut env = environment(&rows, &files, binary, host, Some((name, value)));
                    if row.alternatives {
                        env.values.retain(|variable, _| {
                            variable == name || !row.variables.contains(variable)
                        });
                    }
                    let lists = parse(binary, &env).unwrap_or_else(|error| {
                        panic!("{binary} ({host:?}) refuses the README's {name}={value}: {error}")
                    });
                    assert!(
                        env.read.borrow().contains(name),
                        "{binary} ({host:?}) does not read {name}, yet the README says it does"
                    );
                    if says_list && value.contains(',') {
                        let items = value.split(',').count();
                        let parsed = lists.get(name.as_str()).unwrap_or_else(|| {
                            panic!("{name} is a list: add its length to this test's parse()")
                        });
                        assert_eq!(
                            *parsed, items,
                            "{binary} parses {name}={value} as {parsed} items"
                        );
                    }
                }
            }
        }
        if says_list {
            for variable in &row.variables {
                assert!(
                    row.examples
                        .iter()
                        .any(|(name, value)| name == variable && value.contains(',')),
                    "{variable} is a list: the README shows one with several items"
                );
            }
        }
    }
}

#[test]
fn every_binary_that_reads_a_variable_is_named_in_its_row() {
    let rows = table();
    let files = Files::new();
    let documented: BTreeMap<&str, &Row> = rows
        .iter()
        .flat_map(|row| row.variables.iter().map(move |v| (v.as_str(), row)))
        .collect();
    for (binary, hosts) in BINARIES {
        for host in hosts {
            let env = environment(&rows, &files, binary, *host, None);
            if let Err(error) = parse(binary, &env) {
                panic!("{binary} ({host:?}) refuses the README's examples: {error}");
            }
            for variable in env.read.borrow().iter() {
                if SET_BY_LAMBDA.contains(&variable.as_str()) {
                    continue;
                }
                let row = documented.get(variable.as_str()).unwrap_or_else(|| {
                    panic!("{binary} reads {variable}, which the README's table does not document")
                });
                assert!(
                    row.used_by.iter().any(|(name, _)| name == binary),
                    "{binary} ({host:?}) reads {variable}, but its row names only {:?}",
                    row.used_by
                );
            }
        }
    }
}

mod examples;
mod sources;
