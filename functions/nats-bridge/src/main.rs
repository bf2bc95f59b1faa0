//! The NATS bridge: a long-running process that provisions the streams, relays the
//! transactional outbox to JetStream (when `DATABASE_URL` is set) and, with the event
//! pipeline, pulls JetStream and invokes the events function.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use async_nats::jetstream;
use lzstock_app::bridge::BridgeConfig;
use lzstock_app::{health, resources};
use lzstock_infra::outbox::OutboxRelay;
use lzstock_shim::config::{self, ProcessEnv};
use lzstock_shim::dead_letters::{self, Filter};
use lzstock_shim::{http, shutdown, telemetry};

const USAGE: &str =
    "usage: nats-bridge [dlq list | redrive] [--subject SUBJECT] [--from SEQ] [--to SEQ]";

enum Command {
    Serve,
    ListDeadLetters(Filter),
    Redrive(Filter),
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let (command, options) = match args {
        [] => return Ok(Command::Serve),
        [dlq, list, rest @ ..] if dlq == "dlq" && list == "list" => ("list", rest),
        [redrive, rest @ ..] if redrive == "redrive" => ("redrive", rest),
        _ => return Err(USAGE.to_owned()),
    };
    let mut filter = Filter::default();
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
        match flag.as_str() {
            "--subject" => filter.subject = Some(value.clone()),
            "--from" => filter.from_sequence = Some(sequence()?),
            "--to" => filter.to_sequence = Some(sequence()?),
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    Ok(if command == "list" {
        Command::ListDeadLetters(filter)
    } else {
        Command::Redrive(filter)
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse_args(&args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("nats-bridge: {message}");
            return ExitCode::from(2);
        }
    };
    let config = config::or_exit("nats-bridge", BridgeConfig::from_source(&ProcessEnv));
    let result = match command {
        Command::Serve => run(config).await,
        Command::ListDeadLetters(filter) => list_dead_letters(config, filter).await,
        Command::Redrive(filter) => redrive(config, filter).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "nats-bridge stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: BridgeConfig) -> Result<(), Box<dyn std::error::Error>> {
    let nats = resources::nats(&config.nats, "lzstock-nats-bridge").await?;
    let js = jetstream::new(nats.clone());
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, config.http.port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let pool = config
        .database
        .as_ref()
        .map(resources::database)
        .transpose()?;
    let probe = health::HealthProbe {
        database: pool.clone(),
        nats: Some(nats),
    };
    let relaying = async {
        match pool {
            Some(pool) => {
                OutboxRelay::new(pool, js.clone())
                    .run(shutdown::signal())
                    .await
            }
            None => std::future::pending().await,
        }
    };
    let serving = http::serve_standalone(listener, health::router(probe), shutdown::signal());
    let provisioning = async {
        let ready = resources::provision_streams(&js, &config.streams, shutdown::signal()).await?;
        if ready {
            tracing::info!(
                events = %config.streams.events,
                dead_letters = %config.streams.dead_letters,
                "streams ready"
            );
        }
        // Keep running with the server until shutdown.
        std::future::pending::<()>().await;
        Ok::<(), resources::StartupError>(())
    };
    tokio::select! {
        served = serving => served?,
        provisioned = provisioning => provisioned?,
        () = relaying => {}
    }
    Ok(())
}

async fn list_dead_letters(
    config: BridgeConfig,
    filter: Filter,
) -> Result<(), Box<dyn std::error::Error>> {
    let nats = resources::nats(&config.nats, "lzstock-nats-bridge-ops").await?;
    let letters =
        dead_letters::list(&jetstream::new(nats), &config.streams.dead_letters, &filter).await?;
    for letter in &letters {
        println!(
            "{}\t{}\t#{}\tdeliveries={}\tevent={}\t{}",
            letter.sequence,
            letter.original_subject,
            letter.original_sequence,
            letter.deliveries,
            letter.event_id,
            letter.reason
        );
    }
    eprintln!(
        "{} dead letter(s) in {}",
        letters.len(),
        config.streams.dead_letters
    );
    Ok(())
}

async fn redrive(config: BridgeConfig, filter: Filter) -> Result<(), Box<dyn std::error::Error>> {
    let nats = resources::nats(&config.nats, "lzstock-nats-bridge-ops").await?;
    let count = dead_letters::redrive(
        &jetstream::new(nats),
        &config.streams.dead_letters,
        &filter,
        |letter| {
            eprintln!(
                "redriven {} -> {} (event {})",
                letter.sequence, letter.original_subject, letter.event_id
            );
        },
    )
    .await?;
    eprintln!(
        "{count} dead letter(s) redriven from {}",
        config.streams.dead_letters
    );
    Ok(())
}
