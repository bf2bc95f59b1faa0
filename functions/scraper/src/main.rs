//! The scraper function: keeps company fundamentals in sync with SEC EDGAR.
//!
//! `scraper` runs on the schedule (EventBridge on Lambda, `SCRAPER_SCHEDULE` standalone)
//! over every company on a dashboard, or what the rule's input names (`{"tickers": […]}`,
//! `{"universe": "dashboards" | "all"}`); `scraper run [--tickers A,B | --universe U]
//! [--deadline 10m]` runs once now and prints the report as JSON; `scraper event '<json>'`
//! runs once for a scheduled event or a rule's input exactly as a Lambda invocation would
//! (the local scheduler fires the template's rules at a standalone scraper this way).

use std::process::ExitCode;
use std::time::Duration;

use lzstock_app::resources;
use lzstock_domain::company::Scope;
use lzstock_infra::sec::SecConnection;
use lzstock_scraper::config::ScraperConfig;
use lzstock_scraper::schedules::SEC_SYNC;
use lzstock_scraper::{self as scraper, ScraperDeps};
use lzstock_shim::config::{self, ConfigError, ProcessEnv};
use lzstock_shim::http::HttpLimits;
use lzstock_shim::schedule::{self, ScheduledRun};
use lzstock_shim::secrets::{self, EnvWithSecrets};
use lzstock_shim::{meters, telemetry, Host};

const USAGE: &str = "usage: scraper [run [--tickers AAPL,MSFT | --universe dashboards|all] \
                     [--deadline 10m] | event '<scheduled event or rule input as JSON>']";

enum Command {
    Scheduled,
    /// One delivery of a schedule, as on Lambda.
    Event(serde_json::Value),
    Once {
        scope: Scope,
        deadline: Option<Duration>,
    },
}

/// `90s`, `10m`, `1h`.
fn duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let value: u64 = number
        .parse()
        .map_err(|_| format!("--deadline: {text:?} is not like 90s, 10m or 1h"))?;
    match unit {
        "s" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value * 60)),
        "h" => Ok(Duration::from_secs(value * 3600)),
        _ => Err(format!("--deadline: {text:?} is not like 90s, 10m or 1h")),
    }
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let Some((first, rest)) = args.split_first() else {
        return Ok(Command::Scheduled);
    };
    if first == "event" {
        let [event] = rest else {
            return Err(USAGE.to_owned());
        };
        return serde_json::from_str(event)
            .map(Command::Event)
            .map_err(|e| format!("event: not JSON: {e}"));
    }
    if first != "run" {
        return Err(USAGE.to_owned());
    }
    let mut scope = Scope::Dashboards;
    let mut deadline = None;
    let mut options = rest.iter();
    while let Some(flag) = options.next() {
        let value = options
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--tickers" => scope = Scope::Tickers(scraper::ticker_list(value)),
            "--universe" => scope = scraper::universe(value)?,
            "--deadline" => deadline = Some(duration(value)?),
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    Ok(Command::Once { scope, deadline })
}

#[tokio::main]
async fn main() -> ExitCode {
    // Held to the end of main: dropping it flushes exported spans.
    let _telemetry = telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse_args(&args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("scraper: {message}");
            return ExitCode::from(2);
        }
    };
    // Secrets first: DATABASE_URL and NATS_CREDS may come from Secrets Manager.
    let env = secrets::process_env("scraper", &lzstock_scraper::config::SECRETS).await;
    let config = config::or_exit("scraper", ScraperConfig::from_source(&*env));
    // Built once, at start: a user agent SEC's client refuses stops the process here.
    let sec = config::or_exit(
        "scraper",
        SecConnection::new(&config.sec.user_agent).map_err(|e| ConfigError::Malformed {
            name: "SEC_USER_AGENT",
            reason: e.to_string(),
        }),
    );
    let metrics_port = config::or_exit("scraper", meters::port_from_env(&*env));
    let http_limits = config::or_exit("scraper", HttpLimits::from_source(&*env));
    let meters = config::or_exit("scraper", meters::install_from(&*env, Host::detect()));
    if let (Some(port), Command::Scheduled, Host::Standalone) =
        (metrics_port, &command, Host::detect())
    {
        // The schedule loop is this process's only work, and main awaits it.
        tokio::spawn(lzstock_shim::http::serve_metrics(
            meters,
            lzstock_shim::tasks::TaskHealth::new(),
            port,
            http_limits,
            lzstock_shim::shutdown::signal(),
        ));
    }
    match run(config, sec, command, &env).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "scraper stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    config: ScraperConfig,
    sec: SecConnection,
    command: Command,
    env: &std::sync::Arc<EnvWithSecrets<ProcessEnv>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let pool = resources::database(&config.database)?;
    resources::follow_database_secret(&pool, env);
    let root = config.streams.subject_root.clone();
    match command {
        Command::Once { scope, deadline } => {
            let deadline = deadline.map(scraper::Deadline::after);
            let report = scraper::run(
                &config,
                &pool,
                &sec,
                &root,
                ScheduledRun::manual(),
                &scope,
                deadline,
            )
            .await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            // The report is printed either way; a run that stopped exits non-zero.
            report.completed()?;
        }
        Command::Event(event) => {
            let deps = ScraperDeps {
                config: config.clone(),
                pool: pool.clone(),
                sec: sec.clone(),
            };
            let run = schedule::run_from_payload(&event, &format!("local-{}", std::process::id()));
            match (SEC_SYNC.run)(&deps, run).await {
                Ok(report) => println!("{}", serde_json::to_string_pretty(&report)?),
                Err(scraper::RunError::Stopped(report)) => {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                    return Err(scraper::RunError::Stopped(report).into());
                }
                Err(error) => return Err(error.into()),
            }
        }
        Command::Scheduled => {
            let job = SEC_SYNC;
            let deps = ScraperDeps {
                config: config.clone(),
                pool: pool.clone(),
                sec: sec.clone(),
            };
            let deps = &deps;
            schedule::run(config.schedule.clone(), |run| (job.run)(deps, run)).await?;
        }
    }
    Ok(())
}
