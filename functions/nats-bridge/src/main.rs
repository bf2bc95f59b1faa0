//! The NATS bridge: a long-running process that provisions the streams, pulls JetStream
//! for each configured route and invokes its Lambda function with every batch, relays the
//! transactional outbox (when `DATABASE_URL` is set), dead-letters from max-deliveries
//! advisories, and serves `/healthz` and `/metrics`. Its subcommands operate the
//! dead-letter stream and replay history.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use lzstock_nats_bridge::config::BridgeConfig;
use lzstock_nats_bridge::{operations, serve};
use lzstock_shim::bridge::dead_letters::Filter;
use lzstock_shim::bridge::replay::ReplayFrom;
use lzstock_shim::config;
use lzstock_shim::secrets;
use lzstock_shim::telemetry;

const USAGE: &str = "usage: nats-bridge
       nats-bridge dlq list [--subject SUBJECT] [--from SEQ] [--to SEQ]
       nats-bridge redrive [--subject SUBJECT] [--from SEQ] [--to SEQ]
       nats-bridge replay [--route NAME] (--from-sequence SEQ | --since RFC3339-TIME)";

enum Command {
    Serve,
    ListDeadLetters(Filter),
    Redrive(Filter),
    Replay {
        route: Option<String>,
        from: ReplayFrom,
    },
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let (command, options) = match args {
        [] => return Ok(Command::Serve),
        [dlq, list, rest @ ..] if dlq == "dlq" && list == "list" => ("list", rest),
        [name, rest @ ..] if name == "redrive" || name == "replay" => (name.as_str(), rest),
        _ => return Err(USAGE.to_owned()),
    };
    let mut filter = Filter::default();
    let mut route = None;
    let mut from = None;
    let mut options = options.iter();
    while let Some(flag) = options.next() {
        let value = options
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let sequence = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: {value:?} is not a sequence number"))
        };
        match (command, flag.as_str()) {
            ("list" | "redrive", "--subject") => filter.subject = Some(value.clone()),
            ("list" | "redrive", "--from") => filter.from_sequence = Some(sequence()?),
            ("list" | "redrive", "--to") => filter.to_sequence = Some(sequence()?),
            ("replay", "--route") => route = Some(value.clone()),
            ("replay", "--from-sequence") => from = Some(ReplayFrom::Sequence(sequence()?)),
            ("replay", "--since") => {
                let time = DateTime::parse_from_rfc3339(value)
                    .map_err(|e| format!("--since: {value:?} is not an RFC 3339 time: {e}"))?;
                from = Some(ReplayFrom::Time(time.with_timezone(&Utc)));
            }
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    Ok(match command {
        "list" => Command::ListDeadLetters(filter),
        "redrive" => Command::Redrive(filter),
        _ => Command::Replay {
            route,
            from: from
                .ok_or_else(|| format!("replay needs --from-sequence or --since\n{USAGE}"))?,
        },
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    // Held to the end of main: dropping it flushes exported spans.
    let _telemetry = telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse_args(&args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("nats-bridge: {message}");
            return ExitCode::from(2);
        }
    };
    // DATABASE_URL and NATS_CREDS may come from Secrets Manager (`*_SECRET`).
    let env = secrets::process_env("nats-bridge", &lzstock_nats_bridge::config::SECRETS).await;
    let config = config::or_exit("nats-bridge", BridgeConfig::from_source(&*env));
    let result = match command {
        Command::Serve => serve::run(config).await,
        Command::ListDeadLetters(filter) => operations::list_dead_letters(config, filter).await,
        Command::Redrive(filter) => operations::redrive(config, filter).await,
        Command::Replay { route, from } => operations::replay(config, route, from).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "nats-bridge stopped");
            eprintln!("nats-bridge: {error}");
            ExitCode::FAILURE
        }
    }
}
