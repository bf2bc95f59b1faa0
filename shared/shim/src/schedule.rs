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
    /// The id of the trigger: the EventBridge event id, or a generated one standalone.
    pub id: String,
    /// When the run was due.
    pub scheduled_at: DateTime<Utc>,
    /// What started the run.
    pub trigger: Trigger,
    /// When the run must be finished by, if the host imposes a deadline (Lambda does).
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
            lambda_runtime::run(service_fn(
                move |event: LambdaEvent<serde_json::Value>| async move {
                    let run = run_from_event(&event);
                    tracing::info!(run.id = %run.id, "scheduled event received");
                    job(run).await.map_err(lambda_runtime::Error::from)
                },
            ))
            .await
            .map_err(ScheduleHostError::Lambda)
        }
        Host::Standalone => run_on_schedule(&schedule, &job, shutdown::signal()).await,
    }
}

/// The run an invocation stands for. A rule without input delivers the scheduled event
/// itself (`id`, `time`, `detail`); a rule (or EventBridge Scheduler target) with a constant
/// input delivers that document instead, which becomes the run's input.
fn run_from_event(event: &LambdaEvent<serde_json::Value>) -> ScheduledRun {
    let deadline = DateTime::<Utc>::from_timestamp_millis(
        i64::try_from(event.context.deadline).unwrap_or(i64::MAX),
    );
    let scheduled =
        event.payload.get("detail-type").is_some() && event.payload.get("source").is_some();
    let (id, time, input) = if scheduled {
        match serde_json::from_value::<EventBridgeEvent<serde_json::Value>>(event.payload.clone()) {
            Ok(scheduled) => (scheduled.id, scheduled.time, scheduled.detail),
            Err(_) => (None, None, serde_json::Value::Null),
        }
    } else {
        (None, None, event.payload.clone())
    };
    let input = match input {
        serde_json::Value::Object(map) if map.is_empty() => serde_json::Value::Null,
        other => other,
    };
    ScheduledRun {
        id: id.unwrap_or_else(|| event.context.request_id.clone()),
        scheduled_at: time.unwrap_or_else(Utc::now),
        trigger: Trigger::EventBridge,
        deadline,
        input,
    }
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
            id: format!("cron-{}", next.timestamp()),
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

    #[test]
    fn a_bad_pattern_is_refused() {
        assert!("every day".parse::<Schedule>().is_err());
    }
}
