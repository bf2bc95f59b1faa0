//! No secret is a parameter, a literal or a value in a function's configuration; each
//! function names its secrets through `*_SECRET` variables, and its role may read exactly
//! those.

use std::collections::{BTreeMap, BTreeSet};

use serde_norway::Value as Yaml;

use super::{functions, template};

/// The variables that must never be in a function's configuration at all: each is read from
/// Secrets Manager at init (`<NAME>_SECRET`), or not used on Lambda.
const NEVER_IN_CONFIGURATION: [&str; 5] = [
    "DATABASE_URL",
    "SMTP_URL",
    "NATS_CREDS",
    "REDIS_URL",
    "JWT_SECRET",
];

/// Every place `variable` is set, as written.
fn settings_of<'a>(template: &'a Yaml, variable: &str) -> Vec<(String, &'a Yaml)> {
    let mut found = Vec::new();
    if let Some(value) = template["Globals"]["Function"]["Environment"]["Variables"].get(variable) {
        found.push(("Globals".to_owned(), value));
    }
    for (id, resource) in template["Resources"].as_mapping().expect("Resources") {
        if let Some(value) = resource["Properties"]["Environment"]["Variables"].get(variable) {
            found.push((id.as_str().unwrap_or_default().to_owned(), value));
        }
    }
    found
}

/// The secret parameters a `*_SECRET` value can name (`!Ref XSecretArn`, `!Sub
/// "${XSecretArn}#key"`, an `!If` of those or `AWS::NoValue`); `None` when it can resolve to
/// anything else (a literal, say).
fn named_secrets(value: &Yaml) -> Option<Vec<String>> {
    if let Yaml::Sequence(list) = value {
        let mut names = Vec::new();
        for item in list {
            names.extend(named_secrets(item)?);
        }
        return Some(names);
    }
    let Yaml::Tagged(tagged) = value else {
        return None;
    };
    let secret_parameter = |name: &str| name.ends_with("SecretArn").then(|| name.to_owned());
    match tagged.tag.to_string().trim_start_matches('!') {
        "Ref" => match tagged.value.as_str()? {
            "AWS::NoValue" => Some(Vec::new()),
            name => secret_parameter(name).map(|name| vec![name]),
        },
        "Sub" => {
            let text = tagged.value.as_str()?;
            let name = text.strip_prefix("${")?.split('}').next()?;
            let rest = &text[name.len() + 3..];
            (rest.is_empty() || rest.starts_with('#'))
                .then(|| secret_parameter(name))
                .flatten()
                .map(|name| vec![name])
        }
        "If" => {
            let branches = tagged.value.as_sequence()?;
            let mut names = Vec::new();
            for branch in &branches[1..] {
                names.extend(named_secrets(branch)?);
            }
            Some(names)
        }
        _ => None,
    }
}

/// Each `*_SECRET` variable a resource (with the globals; its own setting wins) sets, with
/// the secret parameters its value names (`None`: it can name something else, a literal say).
fn secret_settings(template: &Yaml, resource: &Yaml) -> BTreeMap<String, Option<Vec<String>>> {
    let mut settings = BTreeMap::new();
    for variables in [
        &template["Globals"]["Function"]["Environment"]["Variables"],
        &resource["Properties"]["Environment"]["Variables"],
    ] {
        for (name, value) in variables.as_mapping().into_iter().flatten() {
            let name = name.as_str().expect("a variable name");
            if name.ends_with("_SECRET") && name != "JWT_SECRET" {
                settings.insert(name.to_owned(), named_secrets(value));
            }
        }
    }
    settings
}

/// The `*_SECRET` variables a resource (with the globals) sets to a secret.
pub(super) fn variables_naming_a_secret(template: &Yaml, resource: &Yaml) -> Vec<String> {
    secret_settings(template, resource)
        .into_iter()
        .filter(|(_, secrets)| secrets.as_ref().is_some_and(|names| !names.is_empty()))
        .map(|(name, _)| name)
        .collect()
}

/// Every secret parameter a resource (with the globals) names through a `*_SECRET`.
fn secrets_named_by(template: &Yaml, resource: &Yaml) -> BTreeSet<String> {
    secret_settings(template, resource)
        .into_iter()
        .flat_map(|(name, secrets)| {
            secrets.unwrap_or_else(|| panic!("{name} names something other than a secret"))
        })
        .collect()
}

/// Every secret parameter a resource's policies let it read (`secretsmanager:GetSecretValue`).
fn secrets_readable_by(resource: &Yaml) -> BTreeSet<String> {
    let mut readable = BTreeSet::new();
    for policy in resource["Properties"]["Policies"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        for statement in policy["Statement"].as_sequence().into_iter().flatten() {
            let actions = &statement["Action"];
            let reads = actions.as_str() == Some("secretsmanager:GetSecretValue")
                || actions.as_sequence().is_some_and(|list| {
                    list.iter()
                        .any(|a| a.as_str() == Some("secretsmanager:GetSecretValue"))
                });
            if reads {
                readable.extend(
                    named_secrets(&statement["Resource"]).expect("a policy on secret parameters"),
                );
            }
        }
    }
    readable
}

#[test]
fn each_function_reads_exactly_the_secrets_its_configuration_names() {
    let template = template();
    for (id, resource) in functions(&template) {
        assert_eq!(
            secrets_readable_by(&resource),
            secrets_named_by(&template, &resource),
            "{id}: the secrets its role may read and those its *_SECRET variables name"
        );
    }
}

#[test]
fn no_secret_is_a_parameter_or_a_literal() {
    let template = template();
    for (name, parameter) in template["Parameters"].as_mapping().expect("Parameters") {
        assert!(
            parameter.get("NoEcho").is_none(),
            "{name:?} is NoEcho: a secret passed as a parameter; keep it in Secrets Manager \
             and pass its ARN"
        );
    }
    for variable in NEVER_IN_CONFIGURATION {
        let places = settings_of(&template, variable);
        assert!(
            places.is_empty(),
            "{places:?} set {variable} in the function's configuration: name its secret with \
             {variable}_SECRET instead"
        );
    }
    assert!(!settings_of(&template, "DATABASE_URL_SECRET").is_empty());
}
