//! Operator commands the dev and deploy scripts call:
//!
//! - `lzstock-admin migrate`: apply pending migrations to `DATABASE_URL`;
//! - `lzstock-admin provision-streams`: create or update the JetStream streams on `NATS_URL`;
//! - `lzstock-admin dev-token [SUB]`: print an HS256 token signed with `JWT_SECRET`, valid
//!   for 30 days (development only);
//! - `lzstock-admin outbox-unpark`: return the outbox events the relay parked after repeated
//!   failures to the relay, once their cause is fixed;
//! - `lzstock-admin trace-sink PORT FILE`: take OTLP/HTTP JSON span exports on
//!   `127.0.0.1:PORT` and append them to FILE (the dev stack's local trace store);
//! - `lzstock-admin trace TRACE_ID [FILE]`: print that trace's spans from FILE (default
//!   `.lzstock/traces.jsonl`) as a tree with durations;
//! - `lzstock-admin schedules [--template FILE] [--invoke URL] [--fire RULE]`: fire every
//!   `Schedule`/`ScheduleV2` rule of the template (default `template.yaml`) at its times,
//!   with its input: at `cargo lambda watch`'s Invoke API with `--invoke`, else at the
//!   standalone binaries beside this one (`<binary> event '<json>'`); `--fire RULE`
//!   (`Function/Event`) fires that rule once now and exits. `LZSTOCK_SCHEDULER_START`
//!   (RFC 3339) starts the scheduler's clock at that instant instead of now.

use std::process::ExitCode;

use lzstock_app::config::{self as app_config, DatabaseConfig, NatsConfig};
use lzstock_app::resources;
use lzstock_shim::config;
use lzstock_shim::secrets;

/// The variables lzstock-admin may read from Secrets Manager (`*_SECRET`).
const ADMIN_SECRETS: [&str; 2] = ["DATABASE_URL", "NATS_CREDS"];
use lzstock_shim::telemetry;

const USAGE: &str = "usage: lzstock-admin migrate | provision-streams | dev-token [SUB] | \
                     outbox-unpark | trace-sink PORT FILE | trace TRACE_ID [FILE] | \
                     schedules [--template FILE] [--invoke URL] [--fire RULE]";

/// Where the dev stack's trace sink writes.
const DEFAULT_TRACE_FILE: &str = ".lzstock/traces.jsonl";

#[tokio::main]
async fn main() -> ExitCode {
    // Held to the end of main: dropping it flushes exported spans.
    let _telemetry = telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["migrate"] => migrate().await,
        ["provision-streams"] => provision().await,
        ["dev-token"] => dev_token("dev-user"),
        ["dev-token", sub] => dev_token(sub),
        ["outbox-unpark"] => unpark().await,
        ["trace-sink", port, file] => trace_sink(port, file).await,
        ["trace", id] => print_trace(id, DEFAULT_TRACE_FILE),
        ["trace", id, file] => print_trace(id, file),
        ["schedules", options @ ..] => schedules(options).await,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("lzstock-admin: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate() -> Result<(), Box<dyn std::error::Error>> {
    let config = config::or_exit(
        "lzstock-admin",
        DatabaseConfig::from_source(&*secrets::process_env("lzstock-admin", &ADMIN_SECRETS).await),
    );
    let pool = resources::database(&config)?;
    let report = lzstock_infra::migrations::apply_pending(&pool).await?;
    let version = lzstock_infra::postgres::server_version(&pool).await?;
    match report.applied.as_slice() {
        [] => eprintln!(
            "the schema is up to date: {} migrations (PostgreSQL {version})",
            report.total
        ),
        applied => {
            for migration in applied {
                eprintln!("applied {} {}", migration.version, migration.description);
            }
            eprintln!(
                "{} of {} migrations applied now (PostgreSQL {version})",
                applied.len(),
                report.total
            );
        }
    }
    Ok(())
}

async fn unpark() -> Result<(), Box<dyn std::error::Error>> {
    let config = config::or_exit(
        "lzstock-admin",
        DatabaseConfig::from_source(&*secrets::process_env("lzstock-admin", &ADMIN_SECRETS).await),
    );
    let pool = resources::database(&config)?;
    let count = lzstock_infra::outbox::relay::unpark(&pool).await?;
    eprintln!("{count} parked outbox event(s) returned to the relay");
    Ok(())
}

async fn provision() -> Result<(), Box<dyn std::error::Error>> {
    let nats = config::or_exit(
        "lzstock-admin",
        NatsConfig::from_source(&*secrets::process_env("lzstock-admin", &ADMIN_SECRETS).await),
    );
    let streams = config::or_exit(
        "lzstock-admin",
        resources::event_streams(&config::ProcessEnv),
    );
    let client = resources::nats(&nats, "lzstock-admin").await?;
    let js = async_nats::jetstream::new(client);
    let deadline = tokio::time::sleep(std::time::Duration::from_secs(30));
    if resources::provision_streams(&js, &streams, deadline).await? {
        eprintln!(
            "streams {} ({}) and {} ({}) ready",
            streams.events,
            streams.events_wildcard(),
            streams.dead_letters,
            streams.dead_letters_wildcard()
        );
        Ok(())
    } else {
        Err("JetStream did not answer within 30 s".into())
    }
}

fn dev_token(sub: &str) -> Result<(), Box<dyn std::error::Error>> {
    let secret = config::or_exit("lzstock-admin", app_config::jwt_secret(&config::ProcessEnv));
    let token = lzstock_harness::tokens::issue_token(
        secret.expose().as_bytes(),
        sub,
        chrono::Duration::days(30),
    )?;
    println!("{token}");
    Ok(())
}

async fn trace_sink(port: &str, file: &str) -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = port
        .parse()
        .map_err(|_| format!("PORT {port:?} is not a port"))?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("trace sink: OTLP JSON on http://127.0.0.1:{port}/v1/traces → {file}");
    let router = lzstock_harness::trace_file::sink_router(file.into());
    lzstock_shim::http::serve_within(
        listener,
        router,
        lzstock_shim::http::HttpLimits::default(),
        lzstock_shim::shutdown::signal(),
    )
    .await?;
    Ok(())
}

fn print_trace(id: &str, file: &str) -> Result<(), Box<dyn std::error::Error>> {
    let exports = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    match lzstock_harness::trace_file::span_tree(&exports, id) {
        Some(tree) => {
            print!("{tree}");
            Ok(())
        }
        None => {
            Err(format!("no span of trace {id} in {file} (spans arrive within seconds)").into())
        }
    }
}

async fn schedules(options: &[&str]) -> Result<(), Box<dyn std::error::Error>> {
    use lzstock_admin::local_schedules::{self, Clock, FireTarget};
    let mut template = "template.yaml".to_owned();
    let mut invoke = None;
    let mut fire = None;
    let mut rest = options.iter();
    while let Some(flag) = rest.next() {
        let value = rest
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match *flag {
            "--template" => template = (*value).to_owned(),
            "--invoke" => invoke = Some((*value).to_owned()),
            "--fire" => fire = Some((*value).to_owned()),
            _ => return Err(format!("unknown option {flag}\n{USAGE}").into()),
        }
    }
    let text = std::fs::read_to_string(&template).map_err(|e| format!("{template}: {e}"))?;
    let rules = local_schedules::rules_of(&text)?;
    let target = match invoke {
        Some(url) => FireTarget::Invoke(url),
        None => FireTarget::Exec(
            std::env::current_exe()?
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default(),
        ),
    };
    let clock = match std::env::var("LZSTOCK_SCHEDULER_START") {
        Ok(start) if !start.trim().is_empty() => Clock::starting_at(
            start
                .trim()
                .parse()
                .map_err(|e| format!("LZSTOCK_SCHEDULER_START: {start:?} is not RFC 3339: {e}"))?,
        ),
        _ => Clock::wall(),
    };
    if let Some(name) = fire {
        let rule = rules.iter().find(|r| r.name == name).ok_or_else(|| {
            let known: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
            format!("no rule {name} in {template} (it has {})", known.join(", "))
        })?;
        local_schedules::fire(rule, clock.now(), &target).await?;
        return Ok(());
    }
    if rules.iter().all(|r| !r.enabled) {
        return Err(format!("{template} has no enabled schedule").into());
    }
    local_schedules::fire_forever(&rules, &target, clock, lzstock_shim::shutdown::signal()).await;
    Ok(())
}
