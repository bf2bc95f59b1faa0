//! The template's schedules, fired locally: neither `sam local` nor `cargo lambda watch`
//! fires a `Schedule` or `ScheduleV2` rule, so the dev stack reads every such rule of
//! `template.yaml` and fires it as AWS would — at the times its `cron()`, `rate()` or `at()`
//! expression gives in its time zone, with its constant `Input` (the scheduler's
//! `<aws.scheduler.scheduled-time>` filled in) or, for a rule without one, the scheduled
//! event EventBridge sends. `lzstock-admin schedules` runs it.

use crate::schedule_expression::{ExpressionError, ScheduleExpression};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use serde_norway::Value as Yaml;

/// One schedule of the template.
#[derive(Debug, Clone)]
pub struct ScheduleRule {
    /// `Function/Event`, e.g. `ScraperFunction/Nightly`: what `--fire` names.
    pub name: String,
    /// The binary the function is built from (`Metadata.BuildProperties.Binary`).
    pub binary: String,
    /// When it fires.
    pub expression: ScheduleExpression,
    /// The constant input, as written (JSON text with the scheduler's placeholders).
    pub input: Option<String>,
    /// `ScheduleV2` (EventBridge Scheduler) or `Schedule` (an EventBridge rule).
    pub scheduler: bool,
    /// Whether the template enables it.
    pub enabled: bool,
}

/// Why the template's schedules cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// Not YAML.
    #[error("template: {0}")]
    Yaml(#[from] serde_norway::Error),
    /// A schedule lacks what it needs, or has what AWS would refuse.
    #[error("template: {rule}: {reason}")]
    Rule {
        /// `Function/Event`.
        rule: String,
        /// What is wrong.
        reason: String,
    },
    /// An expression AWS would refuse.
    #[error("template: {rule}: {source}")]
    Expression {
        /// `Function/Event`.
        rule: String,
        /// The expression's error.
        source: ExpressionError,
    },
}

/// A scalar of the template: itself, or the default of the parameter a `!Ref` names.
fn resolve(value: &Yaml, parameters: &Yaml) -> Option<String> {
    match value {
        Yaml::String(text) => Some(text.clone()),
        Yaml::Bool(flag) => Some(flag.to_string()),
        Yaml::Number(number) => Some(number.to_string()),
        Yaml::Tagged(tagged) if tagged.tag == "Ref" => {
            let name = tagged.value.as_str()?;
            resolve(parameters.get(name)?.get("Default")?, parameters)
        }
        Yaml::Mapping(map) if map.len() == 1 => {
            let name = map.get("Ref")?.as_str()?;
            resolve(parameters.get(name)?.get("Default")?, parameters)
        }
        _ => None,
    }
}

/// Every `Schedule` and `ScheduleV2` event of every function in `template`.
///
/// # Errors
/// See [`TemplateError`].
pub fn rules_of(template: &str) -> Result<Vec<ScheduleRule>, TemplateError> {
    let document: Yaml = serde_norway::from_str(template)?;
    let parameters = document.get("Parameters").cloned().unwrap_or(Yaml::Null);
    let mut rules = Vec::new();
    let Some(resources) = document.get("Resources").and_then(Yaml::as_mapping) else {
        return Ok(rules);
    };
    for (id, resource) in resources {
        if resource.get("Type").and_then(Yaml::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let function = id.as_str().unwrap_or_default();
        let binary = resource
            .get("Metadata")
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|p| p.get("Binary"))
            .and_then(Yaml::as_str)
            .unwrap_or(function)
            .to_owned();
        let Some(events) = resource
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(Yaml::as_mapping)
        else {
            continue;
        };
        for (event, definition) in events {
            let kind = definition.get("Type").and_then(Yaml::as_str);
            let scheduler = match kind {
                Some("ScheduleV2") => true,
                Some("Schedule") => false,
                _ => continue,
            };
            let name = format!("{function}/{}", event.as_str().unwrap_or_default());
            let properties = definition.get("Properties").cloned().unwrap_or(Yaml::Null);
            let field = |key: &str| properties.get(key).and_then(|v| resolve(v, &parameters));
            let key = if scheduler {
                "ScheduleExpression"
            } else {
                "Schedule"
            };
            let text = field(key).ok_or_else(|| TemplateError::Rule {
                rule: name.clone(),
                reason: format!("no {key} (or a !Ref to a parameter without a Default)"),
            })?;
            let zone = field("ScheduleExpressionTimezone");
            let expression =
                ScheduleExpression::parse(&text, zone.as_deref()).map_err(|source| {
                    TemplateError::Expression {
                        rule: name.clone(),
                        source,
                    }
                })?;
            let enabled = if scheduler {
                field("State").is_none_or(|state| state == "ENABLED")
            } else {
                field("Enabled").is_none_or(|enabled| enabled == "true")
            };
            rules.push(ScheduleRule {
                name,
                binary: binary.clone(),
                expression,
                input: field("Input"),
                scheduler,
                enabled,
            });
        }
    }
    Ok(rules)
}

impl ScheduleRule {
    /// What the function receives for the fire at `at`: the constant input with the
    /// scheduler's placeholders filled in, or the scheduled event an EventBridge rule sends.
    ///
    /// # Errors
    /// When the input is not JSON once filled in.
    pub fn event_at(&self, at: DateTime<Utc>) -> Result<Value, TemplateError> {
        let time = at.to_rfc3339_opts(SecondsFormat::Secs, true);
        let Some(input) = &self.input else {
            if self.scheduler {
                return Ok(json!({}));
            }
            return Ok(json!({
                "version": "0",
                "id": uuid::Uuid::new_v4().to_string(),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": "000000000000",
                "time": time,
                "region": "local",
                "resources": [format!("arn:aws:events:local:000000000000:rule/{}", self.name)],
                "detail": {},
            }));
        };
        let filled = input
            .replace("<aws.scheduler.scheduled-time>", &time)
            .replace(
                "<aws.scheduler.execution-id>",
                &uuid::Uuid::new_v4().to_string(),
            )
            .replace("<aws.scheduler.attempt-number>", "1")
            .replace(
                "<aws.scheduler.schedule-arn>",
                &format!(
                    "arn:aws:scheduler:local:000000000000:schedule/default/{}",
                    self.name
                ),
            );
        serde_json::from_str(&filled).map_err(|e| TemplateError::Rule {
            rule: self.name.clone(),
            reason: format!("Input is not JSON: {e}"),
        })
    }
}

/// Where a fire goes.
#[derive(Debug, Clone)]
pub enum FireTarget {
    /// The Invoke API of `cargo lambda watch` at this base URL: the function named after
    /// its binary is invoked with the event, as Lambda would be.
    Invoke(String),
    /// The standalone binaries in this directory: `<binary> event '<json>'` runs once.
    Exec(std::path::PathBuf),
}

/// The scheduler's clock: the wall clock, or one that starts at a given instant and runs at
/// the wall clock's pace (to rehearse a fire, and for tests).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: DateTime<Utc>,
    started: std::time::Instant,
}

impl Clock {
    /// The wall clock.
    #[must_use]
    pub fn wall() -> Self {
        Self::starting_at(Utc::now())
    }

    /// A clock that reads `origin` now.
    #[must_use]
    pub fn starting_at(origin: DateTime<Utc>) -> Self {
        Self {
            origin,
            started: std::time::Instant::now(),
        }
    }

    /// The time now.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        self.origin + chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default()
    }
}

/// Fires `rule` for the time `at` at `target` and prints the fire and its outcome.
///
/// # Errors
/// When the input is not JSON, or the target cannot be reached or fails; the message says
/// which.
pub async fn fire(
    rule: &ScheduleRule,
    at: DateTime<Utc>,
    target: &FireTarget,
) -> Result<Value, String> {
    let event = rule.event_at(at).map_err(|e| e.to_string())?;
    println!(
        "{} fire {} → {}: {}",
        at.to_rfc3339_opts(SecondsFormat::Secs, true),
        rule.name,
        rule.binary,
        event
    );
    let started = std::time::Instant::now();
    let outcome = match target {
        FireTarget::Invoke(base) => {
            let url = format!(
                "{}/2015-03-31/functions/{}/invocations",
                base.trim_end_matches('/'),
                rule.binary
            );
            let response = reqwest::Client::new()
                .post(&url)
                .json(&event)
                .send()
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            let failed = response.headers().contains_key("x-amz-function-error")
                || !response.status().is_success();
            let body = response.text().await.unwrap_or_default();
            let answer = serde_json::from_str(&body).unwrap_or(Value::String(body));
            if failed {
                Err(format!("the function failed: {answer}"))
            } else {
                Ok(answer)
            }
        }
        FireTarget::Exec(dir) => {
            let binary = dir.join(&rule.binary);
            let output = tokio::process::Command::new(&binary)
                .arg("event")
                .arg(event.to_string())
                .env_remove("AWS_LAMBDA_RUNTIME_API")
                .output()
                .await
                .map_err(|e| format!("{}: {e}", binary.display()))?;
            let stdout = String::from_utf8_lossy(&output.stdout);
            if output.status.success() {
                Ok(serde_json::from_str(&stdout).unwrap_or(Value::String(stdout.into_owned())))
            } else {
                Err(format!(
                    "{} exited with {}: {}",
                    rule.binary,
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                ))
            }
        }
    };
    let took = started.elapsed().as_secs_f64();
    match &outcome {
        Ok(answer) => println!("  {} answered in {took:.1} s: {answer}", rule.binary),
        Err(reason) => println!("  {} failed after {took:.1} s: {reason}", rule.binary),
    }
    outcome
}

/// Fires every enabled rule at each of its times by `clock` until `shutdown` resolves. A
/// rule's fires are sequential: one still running when the next is due delays it.
pub async fn fire_forever(
    rules: &[ScheduleRule],
    target: &FireTarget,
    clock: Clock,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let created = clock.now();
    let rules: Vec<&ScheduleRule> = rules.iter().filter(|r| r.enabled).collect();
    for rule in &rules {
        println!(
            "schedule {} = {} → {}",
            rule.name, rule.expression, rule.binary
        );
    }
    let fires = rules.iter().map(|rule| async move {
        let mut after = clock.now();
        while let Some(next) = rule.expression.next_after(after, created) {
            let wait = (next - clock.now()).to_std().unwrap_or_default();
            tokio::time::sleep(wait).await;
            // A failed fire is printed; the schedule goes on, as EventBridge's does.
            let _ = fire(rule, next, target).await;
            after = next;
        }
    });
    tokio::select! {
        () = shutdown => {}
        _ = futures::future::join_all(fires) => {}
    }
}

#[cfg(test)]
mod tests;
