//! The command line: which path, how many faults and events, which seed.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The way events reach their handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryPath {
    /// Two standalone events hosts consuming JetStream themselves.
    Standalone,
    /// Two nats-bridges invoking the events function through the Lambda Invoke API
    /// (`cargo lambda watch`), behind a proxy that can throttle.
    Lambda,
}

impl fmt::Display for DeliveryPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Standalone => "standalone",
            Self::Lambda => "lambda",
        })
    }
}

impl FromStr for DeliveryPath {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "standalone" => Ok(Self::Standalone),
            "lambda" => Ok(Self::Lambda),
            other => Err(format!(
                "--path: expected standalone or lambda, got {other:?}"
            )),
        }
    }
}

/// What one run of the campaign does.
#[derive(Debug, Clone)]
pub struct Options {
    /// The paths to run, one after the other, each on a system of its own.
    pub paths: Vec<DeliveryPath>,
    /// The nemesis's seed: the same seed picks the same faults in the same order with the
    /// same hold times (what the system does meanwhile still depends on timing).
    pub seed: u64,
    /// Faults to inject, per path.
    pub faults: usize,
    /// Events to write, per path (sign-ups, email requests and API creates in turn).
    pub events: usize,
    /// How long the system may take to apply everything once the last fault is healed.
    pub settle: Duration,
    /// A Markdown file the report is appended to.
    pub report: Option<std::path::PathBuf>,
}

/// How to call the campaign.
pub const USAGE: &str = "\
usage: lzstock-campaign [--path standalone|lambda|both] [--seed N] [--faults N]
                        [--events N] [--settle-secs N] [--report FILE]

Starts a 3-node JetStream cluster (each node on a network namespace of its own when the
campaign may make them), PostgreSQL, Redis, an SMTP sink and LZStock's binaries, writes
numbered events while a seeded nemesis injects faults one at a time, heals everything, and
checks what PostgreSQL, the SMTP sink and the streams hold. Exits 1 when an acknowledged
event is lost, an effect is duplicated or an event was dead-lettered. --settle-secs is how
long settling may go without progress (the consumer's ack floor or the emails sent moving)
before the run counts as not settled; a backlog that drains is waited for (up to six times
that in all).

defaults: --path standalone --faults 20 --events 3000 --settle-secs 300, a seed from the
clock (printed, so a run can be repeated)";

impl Options {
    /// Parses the arguments after the program name.
    ///
    /// # Errors
    /// A message naming the argument that is wrong.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut options = Self {
            paths: vec![DeliveryPath::Standalone],
            seed: seed_from_clock(),
            faults: 20,
            events: 3000,
            settle: Duration::from_secs(300),
            report: None,
        };
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--path" => {
                    let path = value()?;
                    options.paths = if path == "both" {
                        vec![DeliveryPath::Standalone, DeliveryPath::Lambda]
                    } else {
                        vec![path.parse()?]
                    };
                }
                "--seed" => options.seed = number(&flag, &value()?)?,
                "--faults" => options.faults = number(&flag, &value()?)?,
                "--events" => options.events = number(&flag, &value()?)?,
                "--settle-secs" => {
                    options.settle = Duration::from_secs(number(&flag, &value()?)?);
                }
                "--report" => options.report = Some(value()?.into()),
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        if options.events < 3 {
            return Err("--events: at least 3 (one of each kind)".into());
        }
        Ok(options)
    }
}

fn number<T: FromStr>(flag: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{flag}: expected a whole number, got {text:?}"))
}

fn seed_from_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |elapsed| elapsed.as_secs())
}
