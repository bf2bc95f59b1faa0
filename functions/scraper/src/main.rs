//! The scraper function: keeps company fundamentals in sync with SEC EDGAR.
//!
//! `scraper` runs on the schedule (EventBridge on Lambda, `SCRAPER_SCHEDULE` standalone);
//! `scraper run [--tickers A,B]` runs once now and prints the report.

use std::process::ExitCode;

use lzstock_app::resources;
use lzstock_app::scraper::{self, ScraperConfig};
use lzstock_domain::Ticker;
use lzstock_shim::config::{self, ProcessEnv};
use lzstock_shim::schedule::{self, ScheduledRun};
use lzstock_shim::telemetry;

const USAGE: &str = "usage: scraper [run [--tickers AAPL,MSFT]]";

enum Command {
    Scheduled,
    Once(Vec<Ticker>),
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    match args {
        [] => Ok(Command::Scheduled),
        [run] if run == "run" => Ok(Command::Once(Vec::new())),
        [run, flag, list] if run == "run" && flag == "--tickers" => scraper::parse_tickers(list)
            .map(Command::Once)
            .map_err(|e| e.to_string()),
        _ => Err(USAGE.to_owned()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse_args(&args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("scraper: {message}");
            return ExitCode::from(2);
        }
    };
    let config = config::or_exit("scraper", ScraperConfig::from_source(&ProcessEnv));
    match run(config, command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "scraper stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: ScraperConfig, command: Command) -> Result<(), Box<dyn std::error::Error>> {
    let pool = resources::database(&config.database)?;
    match command {
        Command::Once(tickers) => {
            let report = scraper::run(&pool, ScheduledRun::manual(), &tickers).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Scheduled => {
            let pool = &pool;
            schedule::run(config.schedule, |run| scraper::run(pool, run, &[])).await?;
        }
    }
    Ok(())
}
