//! EventBridge schedule expressions, as the template writes them and AWS evaluates them:
//! `cron(Minutes Hours Day-of-month Month Day-of-week Year)` (days of the week 1–7 from
//! Sunday, or SUN–SAT; one of the two day fields `?`; `L`, `W` and `#` as EventBridge
//! allows), `rate(N minute[s] | hour[s] | day[s])` and the one-time `at(yyyy-mm-ddThh:mm:ss)`,
//! each in a time zone (EventBridge Scheduler's `ScheduleExpressionTimezone`, UTC by
//! default). The local scheduler fires the template's rules by them.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

/// A parsed schedule expression in its time zone.
#[derive(Clone)]
pub struct ScheduleExpression {
    kind: Kind,
    zone: Tz,
    text: String,
}

#[derive(Clone)]
enum Kind {
    Cron(Box<Cron>),
    Rate(Duration),
    At(NaiveDateTime),
}

impl fmt::Debug for ScheduleExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.text, self.zone)
    }
}

impl fmt::Display for ScheduleExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why an expression was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{expression:?}: {reason}")]
pub struct ExpressionError {
    /// The expression as written.
    pub expression: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ScheduleExpression {
    /// Parses `expression` in `time_zone` (an IANA name such as `Europe/Paris`; `None` is
    /// UTC).
    ///
    /// # Errors
    /// When the expression or the time zone is not one EventBridge accepts.
    pub fn parse(expression: &str, time_zone: Option<&str>) -> Result<Self, ExpressionError> {
        let error = |reason: String| ExpressionError {
            expression: expression.to_owned(),
            reason,
        };
        let zone = match time_zone.map(str::trim).filter(|z| !z.is_empty()) {
            None => Tz::UTC,
            Some(name) => name
                .parse::<Tz>()
                .map_err(|_| error(format!("{name:?} is not an IANA time zone")))?,
        };
        let text = expression.trim();
        let inner = |prefix: &str| {
            text.strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(')'))
                .map(str::trim)
        };
        let kind = if let Some(fields) = inner("cron(") {
            Kind::Cron(Box::new(cron(fields).map_err(error)?))
        } else if let Some(rate) = inner("rate(") {
            Kind::Rate(self::rate(rate).map_err(error)?)
        } else if let Some(at) = inner("at(") {
            Kind::At(
                NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S")
                    .map_err(|e| error(format!("at() takes yyyy-mm-ddThh:mm:ss: {e}")))?,
            )
        } else {
            return Err(error("not cron(...), rate(...) or at(...)".into()));
        };
        Ok(Self {
            kind,
            zone,
            text: text.to_owned(),
        })
    }

    /// When the schedule next fires strictly after `after`. A `rate()` counts from `start`
    /// (when the schedule was created, as on AWS); an `at()` fires once.
    #[must_use]
    pub fn next_after(&self, after: DateTime<Utc>, start: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Cron(cron) => cron
                .find_next_occurrence(&after.with_timezone(&self.zone), false)
                .ok()
                .map(|at| at.with_timezone(&Utc)),
            Kind::Rate(every) => {
                let every = chrono::Duration::from_std(*every).ok()?;
                if after < start {
                    return start.checked_add_signed(every);
                }
                let periods = (after - start).num_milliseconds() / every.num_milliseconds() + 1;
                // Checked: a rate of centuries from a far start is out of any calendar.
                start.checked_add_signed(every.checked_mul(i32::try_from(periods).ok()?)?)
            }
            Kind::At(at) => self
                .zone
                .from_local_datetime(at)
                .earliest()
                .map(|at| at.with_timezone(&Utc))
                .filter(|at| *at > after),
        }
    }
}

/// EventBridge's six cron fields, as croner's Quartz-style seven (seconds first, days of the
/// week numbered from Sunday = 1).
fn cron(fields: &str) -> Result<Cron, String> {
    let parts: Vec<&str> = fields.split_whitespace().collect();
    if parts.len() != 6 {
        return Err(format!(
            "cron() takes 6 fields (minutes hours day-of-month month day-of-week year), not {}",
            parts.len()
        ));
    }
    if (parts[2] == "?") == (parts[4] == "?") {
        return Err("exactly one of day-of-month and day-of-week must be ?".into());
    }
    CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Required)
        .alternative_weekdays(true)
        .build()
        .parse(&format!("0 {}", parts.join(" ")))
        .map_err(|e| format!("not a cron expression: {e}"))
}

fn rate(text: &str) -> Result<Duration, String> {
    let (value, unit) = text
        .split_once(char::is_whitespace)
        .ok_or_else(|| "rate() takes a value and a unit, e.g. rate(5 minutes)".to_owned())?;
    let value: u64 = value
        .trim()
        .parse()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("{value:?} is not a positive whole number"))?;
    let unit = unit.trim();
    let seconds = match (unit, value) {
        ("minute", 1) | ("minutes", 2..) => 60,
        ("hour", 1) | ("hours", 2..) => 3600,
        ("day", 1) | ("days", 2..) => 86_400,
        _ => {
            return Err(format!(
                "{unit:?} is not minute(s), hour(s) or day(s) (singular for 1, plural otherwise)"
            ))
        }
    };
    value
        .checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("rate({text}) is longer than any schedule can wait"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("a time")
    }

    #[test]
    fn cron_fires_as_eventbridge_does() {
        let nightly = ScheduleExpression::parse("cron(0 3 * * ? *)", None).expect("valid");
        let start = at("2026-11-24T00:00:00Z");
        assert_eq!(
            nightly.next_after(at("2026-11-24T02:59:59Z"), start),
            Some(at("2026-11-24T03:00:00Z"))
        );
        assert_eq!(
            nightly.next_after(at("2026-11-24T03:00:00Z"), start),
            Some(at("2026-11-25T03:00:00Z"))
        );
        // Day 2 is Monday in EventBridge (1 is Sunday); 2026-11-24 is a Tuesday.
        let mondays = ScheduleExpression::parse("cron(30 8 ? * 2 *)", None).expect("valid");
        assert_eq!(
            mondays.next_after(at("2026-11-24T00:00:00Z"), start),
            Some(at("2026-11-30T08:30:00Z"))
        );
        let weekdays = ScheduleExpression::parse("cron(0 9 ? * MON-FRI *)", None).expect("valid");
        assert_eq!(
            weekdays.next_after(at("2026-11-27T10:00:00Z"), start),
            Some(at("2026-11-30T09:00:00Z")),
            "Friday after nine: Monday"
        );
        let every_minute = ScheduleExpression::parse("cron(* * * * ? *)", None).expect("valid");
        assert_eq!(
            every_minute.next_after(at("2026-11-24T02:59:30Z"), start),
            Some(at("2026-11-24T03:00:00Z"))
        );
    }

    #[test]
    fn a_time_zone_moves_the_fire_and_follows_daylight_saving() {
        let paris =
            ScheduleExpression::parse("cron(0 3 * * ? *)", Some("Europe/Paris")).expect("valid");
        let start = at("2026-01-01T00:00:00Z");
        // Winter: UTC+1.
        assert_eq!(
            paris.next_after(at("2026-11-24T00:00:00Z"), start),
            Some(at("2026-11-24T02:00:00Z"))
        );
        // Summer: UTC+2.
        assert_eq!(
            paris.next_after(at("2026-07-01T00:00:00Z"), start),
            Some(at("2026-07-01T01:00:00Z"))
        );
    }

    #[test]
    fn rate_counts_from_the_start_and_at_fires_once() {
        let start = at("2026-11-24T03:00:10Z");
        let rate = ScheduleExpression::parse("rate(5 minutes)", None).expect("valid");
        assert_eq!(
            rate.next_after(start, start),
            Some(at("2026-11-24T03:05:10Z"))
        );
        assert_eq!(
            rate.next_after(at("2026-11-24T03:12:00Z"), start),
            Some(at("2026-11-24T03:15:10Z"))
        );
        let once = ScheduleExpression::parse("at(2026-11-24T05:00:00)", Some("America/New_York"))
            .expect("valid");
        assert_eq!(
            once.next_after(start, start),
            Some(at("2026-11-24T10:00:00Z"))
        );
        assert_eq!(once.next_after(at("2026-11-24T10:00:00Z"), start), None);
    }

    #[test]
    fn what_eventbridge_refuses_is_refused() {
        for bad in [
            "cron(0 3 * * *)",
            "cron(0 3 * * * *)",
            "cron(0 3 ? * ? *)",
            "cron(0 25 * * ? *)",
            "rate(1 minutes)",
            "rate(5 minute)",
            "rate(0 hours)",
            "rate(5 weeks)",
            "every day",
            "at(tomorrow)",
        ] {
            assert!(ScheduleExpression::parse(bad, None).is_err(), "{bad}");
        }
        assert!(ScheduleExpression::parse("cron(0 3 * * ? *)", Some("Mars/Olympus")).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_expression_is_answered_without_panic(
            text in "\\PC{0,40}|(rate|cron|at)\\([0-9a-z ?*/,#LW-]{0,30}\\)",
            zone in proptest::option::of("\\PC{0,20}|Europe/Paris|UTC"),
        ) {
            if let Ok(expression) = ScheduleExpression::parse(&text, zone.as_deref()) {
                let start = at("2026-11-24T03:00:10Z");
                let _ = expression.next_after(start, start);
            }
        }

        #[test]
        fn a_rate_fires_every_period_from_its_start(
            value in 1_u64..10_000,
            unit in proptest::sample::select(vec![("minute", 60_i64), ("hour", 3600), ("day", 86_400)]),
            periods in 0_i64..5,
        ) {
            let (name, seconds) = unit;
            let plural = if value == 1 { "" } else { "s" };
            let expression = ScheduleExpression::parse(&format!("rate({value} {name}{plural})"), None)
                .expect("a rate EventBridge accepts");
            let start = at("2026-11-24T03:00:10Z");
            let period = chrono::Duration::seconds(seconds * i64::try_from(value).expect("small"));
            let after = start + period * i32::try_from(periods).expect("small");
            proptest::prop_assert_eq!(expression.next_after(after, start), Some(after + period));
        }
    }
}
