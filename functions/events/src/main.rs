//! The events function: handles NATS messages, as batches from the bridge on Lambda or as
//! its own JetStream consumer standalone.

use std::process::ExitCode;

use async_nats::jetstream;
use lzstock_app::resources;
use lzstock_events::config::EventsConfig;
use lzstock_events::event_deps::EventDeps;
use lzstock_events::event_deps::MailDeps;
use lzstock_events::event_router::EventRouter;
use lzstock_infra::dashboards::PgDashboardStore;
use lzstock_infra::database::Database;
use lzstock_infra::emails::PgEmailStore;
use lzstock_infra::emails::{RESEND_EVERY, RESEND_STALLED_AFTER};
use lzstock_shim::backoff::Backoff;
use lzstock_shim::config::{self, ProcessEnv};
use lzstock_shim::http::HttpLimits;
use lzstock_shim::secrets::{self, EnvWithSecrets};
use lzstock_shim::tasks::{self, TaskHealth};
use lzstock_shim::{message_host, meters, shutdown, telemetry, Host};

#[tokio::main]
async fn main() -> ExitCode {
    // Held to the end of main: dropping it flushes exported spans.
    let _telemetry = telemetry::init();
    // Secrets first: DATABASE_URL, SMTP_URL and NATS_CREDS may come from Secrets Manager.
    let env = secrets::process_env("events", &lzstock_events::config::SECRETS).await;
    let config = config::or_exit("events", EventsConfig::from_source(&*env));
    let metrics_port = config::or_exit("events", meters::port_from_env(&*env));
    let http_limits = config::or_exit("events", HttpLimits::from_source(&*env));
    let meters = config::or_exit("events", meters::install_from(&*env, Host::detect()));
    // The consumer, the advisory listener and the stalled-email announcer are supervised
    // tasks; /healthz on METRICS_PORT fails while one stays down.
    let tasks = TaskHealth::new();
    if let (Some(port), Host::Standalone) = (metrics_port, Host::detect()) {
        tokio::spawn(lzstock_shim::http::serve_metrics(
            meters,
            tasks.clone(),
            port,
            http_limits,
            shutdown::signal(),
        ));
    }
    match run(config, tasks, &env).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "events stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    config: EventsConfig,
    tasks: TaskHealth,
    env: &std::sync::Arc<EnvWithSecrets<ProcessEnv>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let pool = resources::database(&config.database)?;
    resources::follow_database_secret(&pool, env);
    if Host::detect() == Host::Standalone {
        // Emails whose event ran out of deliveries (a long mail-server outage) are announced
        // again; on Lambda the nats-bridge does this beside its outbox relay.
        let emails = PgEmailStore::new(pool.clone(), config.streams.subject_root.clone());
        let watched = tasks.clone();
        tokio::spawn(async move {
            tasks::supervise(
                "stalled-email-announcer",
                &watched,
                shutdown::signal,
                |stop| async {
                    emails
                        .resend_stalled(RESEND_EVERY, RESEND_STALLED_AFTER, stop)
                        .await;
                    Ok::<(), std::convert::Infallible>(())
                },
            )
            .await
        });
    }
    let mail = MailDeps::new(
        pool.clone(),
        &config.streams.subject_root,
        config.mail.as_ref(),
        resources::email_cache(&config.optional)?,
    )?;
    if let Some(sender) = &mail.sender {
        resources::follow_smtp_secret(&sender.mailer, env);
    }
    let router = EventRouter::new(
        EventDeps {
            mail,
            dashboards: PgDashboardStore::new(pool.clone(), config.streams.subject_root.clone()),
            database: Database::new(pool),
            signup_tickers: config.signup_tickers.clone(),
            backoff: Backoff::default(),
        },
        config.streams.subject_root.clone(),
    )
    .committing(config.commit);
    if Host::detect() == Host::Lambda {
        // The bridge fetched the batch and settles it: no broker connection, and no network
        // I/O before the first event.
        message_host::on_lambda(config.consumer.concurrency, &router).await?;
        return Ok(());
    }
    let nats = resources::nats(&config.nats, "lzstock-events").await?;
    let js = jetstream::new(nats);
    // Standalone, this process owns its consumer, so the streams must exist first.
    if !resources::provision_streams(&js, &config.streams, shutdown::signal()).await? {
        return Ok(());
    }
    message_host::standalone(&js, &config.consumer, &router, &tasks).await?;
    Ok(())
}
