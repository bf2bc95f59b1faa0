//! Hosting a scheduled function: EventBridge scheduled events on Lambda, cron standalone.

use std::fmt;
use std::future::Future;
use std::str::FromStr;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use lambda_runtime::{service_fn, LambdaEvent};
use serde::Serialize;

use crate::{shutdown, Host};

/// One run of a scheduled job, whatever started it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduledRun {
    /// The id of the fire: its fire time (RFC 3339, to the second) when the trigger gives
    /// one, so every delivery of one fire has the same id; otherwise the Lambda request id
    /// (the same across Lambda's retries of one asynchronous invoke), or `manual-…`.
    pub id: String,
    /// When the run was due.
    pub scheduled_at: DateTime<Utc>,
    /// What started the run.
    pub trigger: Trigger,
    /// When the run must be finished by, if the host imposes a deadline (Lambda does). Not
    /// reported as it came: a job reports the deadline it used.
    #[serde(skip)]
    pub deadline: Option<DateTime<Utc>>,
    /// What the trigger asked for: a rule's constant input, or a scheduled event's
    /// `detail`; `null` when nothing was given. The job decides what it means.
    #[serde(skip)]
    pub input: serde_json::Value,
}

/// What started a [`ScheduledRun`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// An EventBridge scheduled event delivered to a Lambda function.
    EventBridge,
    /// The in-process cron schedule.
    Cron,
    /// An operator running the job by hand.
    Manual,
}

impl ScheduledRun {
    /// A run started by hand, now.
    #[must_use]
    pub fn manual() -> Self {
        let now = Utc::now();
        Self {
            id: format!("manual-{}", now.timestamp_millis()),
            scheduled_at: now,
            trigger: Trigger::Manual,
            deadline: None,
            input: serde_json::Value::Null,
        }
    }
}

/// A cron expression, parsed once at start.
#[derive(Clone)]
pub struct Schedule(croner::Cron);

impl Schedule {
    /// The next time the schedule fires strictly after `after`.
    #[must_use]
    pub fn next_after(&self, after: &DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.0.find_next_occurrence(after, false).ok()
    }
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(pattern: &str) -> Result<Self, Self::Err> {
        croner::Cron::from_str(pattern)
            .map(Self)
            .map_err(|e| format!("not a cron expression: {e}"))
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Schedule")
            .field(&self.0.pattern.to_string())
            .finish()
    }
}

/// Why a scheduled host stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleHostError {
    /// The Lambda runtime loop failed.
    #[error("Lambda runtime failed: {0}")]
    Lambda(lambda_runtime::Error),
    /// The schedule has no future occurrence.
    #[error("the schedule never fires again")]
    Exhausted,
}

/// Runs `job` on the detected [`Host`]: once per EventBridge scheduled event on Lambda, or
/// at every occurrence of `schedule` standalone until Ctrl-C or SIGTERM.
///
/// A failed standalone run is logged and the schedule goes on; on Lambda the error is
/// returned to the Runtime API so EventBridge's retry policy applies.
///
/// # Errors
/// See [`ScheduleHostError`].
pub async fn run<J, Fut, R, E>(schedule: Schedule, job: J) -> Result<(), ScheduleHostError>
where
    J: Fn(ScheduledRun) -> Fut + Send + Sync,
    Fut: Future<Output = Result<R, E>> + Send,
    R: Serialize + Send,
    E: std::error::Error + Send + Sync + 'static,
{
    match Host::detect() {
        Host::Lambda => {
            let job = &job;
            crate::invocation::flush_on_sigterm();
            lambda_runtime::run(service_fn(
                move |event: LambdaEvent<serde_json::Value>| async move {
                    let run = run_from_event(&event);
                    tracing::info!(run.id = %run.id, "scheduled event received");
                    crate::invocation::invocation(async {
                        job(run).await.map_err(lambda_runtime::Error::from)
                    })
                    .await
                },
            ))
            .await
            .map_err(ScheduleHostError::Lambda)
        }
        Host::Standalone => run_on_schedule(&schedule, &job, shutdown::signal()).await,
    }
}

/// The key of a constant input that carries the fire time: EventBridge Scheduler fills it
/// in from `<aws.scheduler.scheduled-time>`. It is the run's, not the job's, and is taken
/// out of the input.
pub const FIRE_TIME_KEY: &str = "scheduled_time";

/// The run an invocation stands for. A rule without input delivers the scheduled event
/// itself (`id`, `time`, `detail`); a rule (or EventBridge Scheduler target) with a constant
/// input delivers that document instead, which becomes the run's input.
fn run_from_event(event: &LambdaEvent<serde_json::Value>) -> ScheduledRun {
    let deadline = DateTime::<Utc>::from_timestamp_millis(
        i64::try_from(event.context.deadline).unwrap_or(i64::MAX),
    );
    ScheduledRun {
        deadline,
        ..run_from_payload(&event.payload, &event.context.request_id)
    }
}

/// The run a scheduled event or a rule's constant input stands for, as on Lambda, with no
/// deadline; `request_id` names it when the payload carries no fire time. The local
/// scheduler's standalone target runs a job through this.
#[must_use]
pub fn run_from_payload(payload: &serde_json::Value, request_id: &str) -> ScheduledRun {
    let scheduled = payload.get("detail-type").is_some() && payload.get("source").is_some();
    let (fired, input) = if scheduled {
        match serde_json::from_value::<EventBridgeEvent<serde_json::Value>>(payload.clone()) {
            Ok(scheduled) => (scheduled.time, scheduled.detail),
            Err(_) => (None, serde_json::Value::Null),
        }
    } else {
        let mut input = payload.clone();
        let fired = input
            .as_object_mut()
            .and_then(|fields| fields.remove(FIRE_TIME_KEY))
            .and_then(|time| time.as_str().and_then(|t| t.parse::<DateTime<Utc>>().ok()));
        (fired, input)
    };
    let input = match input {
        serde_json::Value::Object(map) if map.is_empty() => serde_json::Value::Null,
        other => other,
    };
    ScheduledRun {
        id: fired.map_or_else(|| request_id.to_owned(), |at| fire_id(&at)),
        scheduled_at: fired.unwrap_or_else(Utc::now),
        trigger: Trigger::EventBridge,
        deadline: None,
        input,
    }
}

/// The id of a fire at `at`.
fn fire_id(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Runs `job` at every occurrence of `schedule` until `shutdown` resolves.
///
/// # Errors
/// [`ScheduleHostError::Exhausted`] when the schedule has no next occurrence.
pub async fn run_on_schedule<J, Fut, R, E>(
    schedule: &Schedule,
    job: &J,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ScheduleHostError>
where
    J: Fn(ScheduledRun) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    R: Serialize,
    E: std::error::Error,
{
    tokio::pin!(shutdown);
    loop {
        let now = Utc::now();
        let next = schedule
            .next_after(&now)
            .ok_or(ScheduleHostError::Exhausted)?;
        tracing::info!(next = %next, "next scheduled run");
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            () = tokio::time::sleep(wait) => {}
        }
        let run = ScheduledRun {
            id: fire_id(&next),
            scheduled_at: next,
            trigger: Trigger::Cron,
            deadline: None,
            input: serde_json::Value::Null,
        };
        let id = run.id.clone();
        match job(run).await {
            Ok(report) => tracing::info!(
                run.id = %id,
                report = %serde_json::to_string(&report).unwrap_or_default(),
                "scheduled run finished"
            ),
            Err(error) => tracing::error!(run.id = %id, error = %error, "scheduled run failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daily_schedule_fires_the_next_day() {
        let schedule: Schedule = "0 3 * * *".parse().unwrap();
        let now = DateTime::parse_from_rfc3339("2026-11-23T04:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let next = schedule.next_after(&now).unwrap();
        assert_eq!(next.to_rfc3339(), "2026-11-24T03:00:00+00:00");
    }

    #[test]
    fn a_six_field_pattern_has_seconds() {
        let schedule: Schedule = "*/5 * * * * *".parse().unwrap();
        let now = DateTime::parse_from_rfc3339("2026-11-23T04:00:01Z")
            .unwrap()
            .with_timezone(&Utc);
        let next = schedule.next_after(&now).unwrap();
        assert_eq!(next.to_rfc3339(), "2026-11-23T04:00:05+00:00");
    }

    fn invocation(payload: serde_json::Value) -> LambdaEvent<serde_json::Value> {
        let mut context = lambda_runtime::Context::default();
        context.request_id = "req-1".into();
        LambdaEvent::new(payload, context)
    }

    #[test]
    fn a_scheduled_events_run_is_named_by_its_fire_time() {
        let event = serde_json::json!({
            "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-24T02:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/daily"], "detail": {}
        });
        let run = run_from_event(&invocation(event));
        assert_eq!(run.id, "2026-11-24T02:00:00Z");
        assert_eq!(run.input, serde_json::Value::Null);
    }

    #[test]
    fn a_constant_input_gives_its_fire_time_and_keeps_the_rest() {
        let input =
            serde_json::json!({"universe": "all", "scheduled_time": "2026-11-24T02:00:00Z"});
        let run = run_from_event(&invocation(input));
        assert_eq!(run.id, "2026-11-24T02:00:00Z");
        assert_eq!(run.input, serde_json::json!({"universe": "all"}));
        let without = run_from_event(&invocation(serde_json::json!({"universe": "all"})));
        assert_eq!(without.id, "req-1");
    }

    #[test]
    fn a_bad_pattern_is_refused() {
        assert!("every day".parse::<Schedule>().is_err());
    }
}
