//! `template.yaml` holds together with the code: every function crate has a resource built
//! by cargo-lambda for arm64; every schedule's input is one the scraper takes; every
//! function's configuration parses from exactly the environment the template gives it (plus
//! what Lambda sets, and the secrets it reads at init). The secrets' own rules are in
//! `secrets`.

use std::collections::HashMap;

use crate::checkout::root;
use lzstock_admin::local_schedules;
use lzstock_shim::config::ConfigError;
use lzstock_shim::meters::EmfSettings;
use serde_norway::Value as Yaml;

mod secrets;

fn template_text() -> String {
    std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml")
}

fn template() -> Yaml {
    serde_norway::from_str(&template_text()).expect("YAML")
}

/// A realistic value for a parameter without a default, as an operator would give it.
fn sample_parameter(name: &str) -> String {
    match name {
        "DatabaseSecretArn" | "SmtpSecretArn" | "NatsCredsSecretArn" => {
            format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf")
        }
        "NatsUrl" => "nats://nats.internal:4222".into(),
        "EmailFrom" => "noreply@example.com".into(),
        "JwtIssuer" => "https://id.example.com/".into(),
        "JwtAudience" => "lzstock".into(),
        "SecUserAgent" => "LZStock ops@example.com".into(),
        other => panic!("template.yaml has a parameter {other} this test has no sample of"),
    }
}

/// What Secrets Manager would hand over for `key` of a secret.
fn sample_secret(key: &str, variable: &str) -> String {
    match (variable, key) {
        ("DATABASE_URL", "url") => "postgres://lzstock:pw@proxy.internal:5432/lzstock".into(),
        ("DATABASE_URL", "direct_url") => "postgres://lzstock:pw@db.internal:5432/lzstock".into(),
        ("SMTP_URL", "url") => "smtp://user:pw@mail.internal:587".into(),
        ("NATS_CREDS", "") => crate::samples::NATS_USER_CREDS.into(),
        _ => panic!("{variable} reads key {key:?} of a secret this test has no sample of"),
    }
}

/// A variable's value as CloudFormation would resolve it, or `None` when it resolves to
/// `AWS::NoValue`. `!If` takes its first branch: every condition is held true.
fn resolve(value: &Yaml, variable: &str, parameters: &Yaml) -> Option<String> {
    match value {
        Yaml::String(text) => Some(text.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Tagged(tagged) => match tagged.tag.to_string().trim_start_matches('!') {
            "Ref" => {
                let name = tagged.value.as_str().expect("a !Ref name");
                if name == "AWS::NoValue" {
                    return None;
                }
                Some(
                    parameters
                        .get(name)
                        .and_then(|p| p.get("Default"))
                        .and_then(Yaml::as_str)
                        .map_or_else(|| sample_parameter(name), str::to_owned),
                )
            }
            "Sub" => {
                let mut text = tagged
                    .value
                    .as_str()
                    .expect("a !Sub string")
                    .replace("${AWS::StackName}", "lzstock")
                    .replace("${AWS::Region}", "us-east-1");
                for (name, _) in parameters.as_mapping().into_iter().flatten() {
                    let name = name.as_str().expect("a parameter name");
                    let placeholder = format!("${{{name}}}");
                    if text.contains(&placeholder) {
                        text = text.replace(&placeholder, &sample_parameter(name));
                    }
                }
                Some(text)
            }
            "If" => {
                let branches = tagged.value.as_sequence().expect("!If [condition, a, b]");
                resolve(&branches[1], variable, parameters)
            }
            other => panic!("{variable}: this test does not resolve !{other}"),
        },
        other => panic!("{variable}: unexpected value {other:?}"),
    }
}

fn functions(template: &Yaml) -> Vec<(String, Yaml)> {
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, r)| (id.as_str().expect("an id").to_owned(), r.clone()))
        .collect()
}

fn binary_of(resource: &Yaml) -> String {
    resource["Metadata"]["BuildProperties"]["Binary"]
        .as_str()
        .expect("Metadata.BuildProperties.Binary")
        .to_owned()
}

/// The environment Lambda gives `resource`: the template's (global, then its own) and the
/// runtime's own variables.
fn environment(template: &Yaml, resource: &Yaml) -> HashMap<String, String> {
    let parameters = &template["Parameters"];
    let mut env = HashMap::from(
        [
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_LAMBDA_FUNCTION_NAME", "lzstock-Function-AbCdEf"),
            ("AWS_REGION", "us-east-1"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    for variables in [
        &template["Globals"]["Function"]["Environment"]["Variables"],
        &resource["Properties"]["Environment"]["Variables"],
    ] {
        for (name, value) in variables.as_mapping().into_iter().flatten() {
            let name = name.as_str().expect("a variable name");
            match resolve(value, name, parameters) {
                Some(value) => env.insert(name.to_owned(), value),
                None => env.remove(name),
            };
        }
    }
    // What the function reads at init in place of each `*_SECRET` (EnvWithSecrets).
    for (variable, secret_variable) in lzstock_shim::secrets::SECRET_VARIABLES {
        // An empty one (a parameter left at its empty default) names nothing.
        if let Some(reference) = env.remove(secret_variable).filter(|r| !r.is_empty()) {
            let reference: lzstock_shim::secrets::SecretReference =
                reference.parse().expect("a secret reference");
            let key = reference.key.unwrap_or_default();
            env.insert(variable.to_owned(), sample_secret(&key, variable));
        }
    }
    env
}

/// The configuration each function binary parses at start, on Lambda.
fn parse_config(binary: &str, env: &HashMap<String, String>) -> Result<(), ConfigError> {
    EmfSettings::from_source(env)?;
    match binary {
        "api" => lzstock_api::config::ApiConfig::from_source(env).map(drop),
        "events" => lzstock_events::config::EventsConfig::from_source(env).map(drop),
        "scraper" => lzstock_scraper::config::ScraperConfig::from_source(env).map(drop),
        "migrate" => lzstock_app::config::DatabaseConfig::from_source(env).map(drop),
        other => panic!("function {other} has no configuration check here: add one"),
    }
}

/// The binaries of `functions/*`, but the nats-bridge (a service, not a function).
fn function_binaries() -> Vec<String> {
    let mut binaries = Vec::new();
    for entry in std::fs::read_dir(root().join("functions"))
        .expect("functions/")
        .flatten()
    {
        let manifest = std::fs::read_to_string(entry.path().join("Cargo.toml")).unwrap_or_default();
        let name = manifest
            .split("[[bin]]")
            .nth(1)
            .and_then(|bin| bin.lines().find_map(|l| l.trim().strip_prefix("name = ")))
            .map(|name| name.trim_matches('"').to_owned());
        if let Some(name) = name.filter(|n| n != "nats-bridge") {
            binaries.push(name);
        }
    }
    binaries.sort();
    binaries
}

#[test]
fn every_function_crate_has_a_resource_built_by_cargo_lambda_for_arm64() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(globals["Architectures"][0].as_str(), Some("arm64"));
    let mut built: Vec<String> = functions(&template)
        .iter()
        .map(|(id, resource)| {
            assert_eq!(
                resource["Metadata"]["BuildMethod"].as_str(),
                Some("rust-cargolambda"),
                "{id}"
            );
            binary_of(resource)
        })
        .collect();
    built.sort();
    assert_eq!(built, function_binaries());
}

#[test]
fn every_function_configuration_parses_from_the_environment_the_template_gives() {
    let template = template();
    for (id, resource) in functions(&template) {
        // A *_SECRET the binary does not read would leave its variable unset on AWS.
        let binary = binary_of(&resource);
        let reads: &[&str] = match binary.as_str() {
            "api" => &lzstock_api::config::SECRETS,
            "events" => &lzstock_events::config::SECRETS,
            "scraper" => &lzstock_scraper::config::SECRETS,
            "migrate" => &lzstock_app::config::DATABASE_SECRETS,
            other => panic!("function {other} has no secrets list here: add it"),
        };
        for secret in secrets::variables_naming_a_secret(&template, &resource) {
            assert!(
                reads
                    .iter()
                    .any(|variable| format!("{variable}_SECRET") == secret),
                "{id} sets {secret}, which {binary} does not read"
            );
        }
        let env = environment(&template, &resource);
        if let Err(error) = parse_config(&binary, &env) {
            panic!("{id}: {error} (its environment: {:?})", env.keys());
        }
    }
}

#[test]
fn every_schedules_input_is_one_the_scraper_takes() {
    let rules = local_schedules::rules_of(&template_text()).expect("the schedules");
    assert!(!rules.is_empty());
    for rule in rules {
        assert_eq!(rule.binary, "scraper", "{}", rule.name);
        let event = rule
            .event_at("2026-11-24T03:00:00Z".parse().expect("a time"))
            .unwrap_or_else(|e| panic!("{e}"));
        let run = lzstock_shim::schedule::run_from_payload(&event, "request-id");
        assert_eq!(
            run.id, "2026-11-24T03:00:00Z",
            "{}: the fire time names the run",
            rule.name
        );
        lzstock_scraper::scope_of_input(&run.input)
            .unwrap_or_else(|e| panic!("{}: {e}", rule.name));
    }
}
