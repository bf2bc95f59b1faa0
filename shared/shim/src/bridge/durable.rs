//! The route's durable consumer, kept in line with its settings.
//!
//! Binding to an existing durable as it is would silently ignore a changed `max_deliver`,
//! `ack_wait`, `max_ack_pending` or subject list, while the bridge computed "exhausted"
//! and its in-progress cadence from the new values. So each start compares the server's
//! consumer with the settings, updates it in place where the server allows that, and
//! re-creates it where it does not, resuming after its ack floor rather than replaying the
//! stream.
//!
//! Several bridges share a route's durable. During a rolling deploy that changes a route's
//! settings, the first new bridge updates the durable, and records when in the consumer's
//! metadata (`lzstock.written_at`); a bridge whose settings came into force before that (it
//! started earlier: an old replica) keeps the durable as the newer bridge left it and works
//! with the durable's values, instead of reverting it. So the durable is updated once, and
//! nothing flaps. (A replica restarted on old settings during the deploy counts as newer;
//! hosts' clocks are trusted to within the time between two deploys.)

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use async_nats::jetstream::consumer::{self, pull, AckPolicy, DeliverPolicy, FromConsumer};
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::stream::Stream;
use async_nats::jetstream::{self, consumer::Consumer};

use super::settings::{ConsumerSettings, StartPosition};

/// Why the durable consumer could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open consumer {durable}: {source}")]
pub struct DurableError {
    /// The consumer's name.
    pub durable: String,
    /// The broker's reason.
    pub source: async_nats::Error,
}

/// What reconciling did to the durable consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconciled {
    /// It did not exist and was created at the route's start position.
    Created,
    /// It matched the settings.
    Unchanged,
    /// It was updated in place; each entry names a field and its old and new values.
    Updated(Vec<String>),
    /// It differed, but a bridge whose settings are newer than these wrote it: it was kept
    /// as it is, and the route works with its values.
    KeptNewer(Vec<String>),
    /// The server refused an update; it was re-created from the sequence after its ack
    /// floor.
    Recreated {
        /// What differed.
        changes: Vec<String>,
        /// The first stream sequence the new consumer delivers.
        resumed_at: u64,
    },
}

type PullConsumer = Consumer<pull::Config>;

/// The subject filter in one form, whichever field the server used.
fn filters(config: &consumer::Config) -> Vec<String> {
    let mut subjects = if config.filter_subjects.is_empty() {
        if config.filter_subject.is_empty() {
            Vec::new()
        } else {
            vec![config.filter_subject.clone()]
        }
    } else {
        config.filter_subjects.clone()
    };
    subjects.sort();
    subjects
}

/// The metadata key holding when a bridge last wrote the durable (milliseconds since the
/// epoch).
pub const WRITTEN_AT: &str = "lzstock.written_at";
/// The metadata key holding which bridge last wrote the durable.
pub const WRITTEN_BY: &str = "lzstock.written_by";

/// Who reconciles, and since when its settings are in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer {
    /// Unique to the process.
    pub id: String,
    /// When its settings came into force (its first reconcile).
    pub since: SystemTime,
}

impl Writer {
    /// This process.
    #[must_use]
    pub fn this_process() -> Self {
        static WRITER: OnceLock<Writer> = OnceLock::new();
        WRITER
            .get_or_init(|| Self {
                id: format!("{}-{}", std::process::id(), millis(SystemTime::now())),
                since: SystemTime::now(),
            })
            .clone()
    }
}

fn millis(time: SystemTime) -> u128 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

/// Sets the fields the settings own on `config`, keeping every other field as it is, and
/// records who wrote it and when.
fn apply(settings: &ConsumerSettings, writer: &Writer, config: &mut pull::Config) {
    config
        .metadata
        .insert(WRITTEN_AT.to_owned(), millis(SystemTime::now()).to_string());
    config
        .metadata
        .insert(WRITTEN_BY.to_owned(), writer.id.clone());
    config.durable_name = Some(settings.durable.clone());
    config.filter_subject = super::settings::single_subject(&settings.filter_subjects);
    config.filter_subjects = super::settings::several_subjects(&settings.filter_subjects);
    config.ack_policy = AckPolicy::Explicit;
    config.ack_wait = settings.ack_wait;
    config.max_deliver = settings.max_deliver;
    config.max_ack_pending = settings.max_ack_pending;
}

/// The differences between the server's consumer and the settings, as `field: old → new`.
fn differences(settings: &ConsumerSettings, current: &consumer::Config) -> Vec<String> {
    let mut wanted = settings.filter_subjects.clone();
    wanted.sort();
    let mut changes = Vec::new();
    let have = filters(current);
    if have != wanted {
        changes.push(format!("subjects: {have:?} → {wanted:?}"));
    }
    if current.ack_policy != AckPolicy::Explicit {
        changes.push(format!("ack_policy: {:?} → Explicit", current.ack_policy));
    }
    if current.ack_wait != settings.ack_wait {
        changes.push(format!(
            "ack_wait: {:?} → {:?}",
            current.ack_wait, settings.ack_wait
        ));
    }
    if current.max_deliver != settings.max_deliver {
        changes.push(format!(
            "max_deliver: {} → {}",
            current.max_deliver, settings.max_deliver
        ));
    }
    if current.max_ack_pending != settings.max_ack_pending {
        changes.push(format!(
            "max_ack_pending: {} → {}",
            current.max_ack_pending, settings.max_ack_pending
        ));
    }
    changes
}

fn deliver_policy(start: StartPosition) -> DeliverPolicy {
    match start {
        StartPosition::All => DeliverPolicy::All,
        StartPosition::New => DeliverPolicy::New,
        StartPosition::Since(time) => DeliverPolicy::ByStartTime {
            start_time: time
                .timestamp_nanos_opt()
                .and_then(|nanos| {
                    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).ok()
                })
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        },
    }
}

/// The settings a route works with: its own, or the durable's where a newer bridge wrote
/// them ([`Reconciled::KeptNewer`]).
fn adopted(settings: &ConsumerSettings, current: &consumer::Config) -> ConsumerSettings {
    ConsumerSettings {
        filter_subjects: filters(current),
        ack_wait: current.ack_wait,
        max_deliver: current.max_deliver,
        max_ack_pending: current.max_ack_pending,
        ..settings.clone()
    }
}

/// Opens the route's durable consumer on `stream`, creating it at the route's start
/// position when it does not exist and bringing an existing one in line with `settings`
/// unless a newer bridge wrote it (see the module's notes); every change is logged. Returns
/// the consumer, what was done, and the settings the route works with.
///
/// # Errors
/// When the server cannot be asked, or refuses both the update and the re-creation.
pub async fn reconcile(
    stream: &Stream,
    settings: &ConsumerSettings,
) -> Result<(PullConsumer, Reconciled, ConsumerSettings), DurableError> {
    reconcile_as(stream, settings, &Writer::this_process()).await
}

/// [`reconcile`] by `writer`.
///
/// # Errors
/// As [`reconcile`].
pub async fn reconcile_as(
    stream: &Stream,
    settings: &ConsumerSettings,
    writer: &Writer,
) -> Result<(PullConsumer, Reconciled, ConsumerSettings), DurableError> {
    let failed = |source: async_nats::Error| DurableError {
        durable: settings.durable.clone(),
        source,
    };
    let info = match stream.consumer_info(&settings.durable).await {
        Ok(info) => Some(info),
        Err(error) if error.kind() == ConsumerInfoErrorKind::NotFound => None,
        Err(error) => return Err(failed(error.into())),
    };
    let Some(info) = info else {
        let mut config = pull::Config {
            deliver_policy: deliver_policy(settings.start),
            ..Default::default()
        };
        apply(settings, writer, &mut config);
        let created = create(stream, config).await.map_err(failed)?;
        tracing::info!(durable = %settings.durable, start = ?settings.start, "created the durable consumer");
        return Ok((created, Reconciled::Created, settings.clone()));
    };
    let changes = differences(settings, &info.config);
    let metadata = &info.config.metadata;
    let written_by_newer = metadata.get(WRITTEN_BY).is_some_and(|by| *by != writer.id)
        && metadata
            .get(WRITTEN_AT)
            .and_then(|at| at.parse::<u128>().ok())
            .is_some_and(|at| at > millis(writer.since));
    if changes.is_empty() || written_by_newer {
        let bound = stream
            .get_consumer(&settings.durable)
            .await
            .map_err(failed)?;
        if changes.is_empty() {
            return Ok((bound, Reconciled::Unchanged, settings.clone()));
        }
        tracing::warn!(
            durable = %settings.durable,
            ?changes,
            "a bridge with newer settings wrote the durable consumer; keeping them"
        );
        let kept = adopted(settings, &info.config);
        return Ok((bound, Reconciled::KeptNewer(changes), kept));
    }
    let mut config =
        pull::Config::try_from_consumer_config(info.config.clone()).map_err(&failed)?;
    apply(settings, writer, &mut config);
    match stream.update_consumer(config.clone()).await {
        Ok(updated) => {
            tracing::info!(durable = %settings.durable, ?changes, "updated the durable consumer in place");
            Ok((updated, Reconciled::Updated(changes), settings.clone()))
        }
        Err(error) => {
            // Resume after what was acknowledged: re-creating at the route's start position
            // would replay the whole stream.
            let resumed_at = info.ack_floor.stream_sequence + 1;
            tracing::warn!(
                durable = %settings.durable,
                %error,
                ?changes,
                resumed_at,
                "the server refused to update the durable consumer; re-creating it"
            );
            stream
                .delete_consumer(&settings.durable)
                .await
                .map_err(|e| failed(e.into()))?;
            config.deliver_policy = DeliverPolicy::ByStartSequence {
                start_sequence: resumed_at,
            };
            let created = create(stream, config).await.map_err(failed)?;
            Ok((
                created,
                Reconciled::Recreated {
                    changes,
                    resumed_at,
                },
                settings.clone(),
            ))
        }
    }
}

async fn create(stream: &Stream, config: pull::Config) -> Result<PullConsumer, async_nats::Error> {
    let name = config.durable_name.clone().unwrap_or_default();
    match stream.create_consumer(config).await {
        Ok(created) => Ok(created),
        // Another loop of the route may have created it meanwhile, with the same settings.
        Err(error) => stream.get_consumer(&name).await.map_err(|_| error.into()),
    }
}

/// The durable consumer's state, for tests and operators.
///
/// # Errors
/// When the stream or the consumer cannot be read.
pub async fn info(
    js: &jetstream::Context,
    stream: &str,
    durable: &str,
) -> Result<consumer::Info, async_nats::Error> {
    Ok(js.get_stream(stream).await?.consumer_info(durable).await?)
}
