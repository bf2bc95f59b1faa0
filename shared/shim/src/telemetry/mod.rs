//! Telemetry initialisation: the one place that sets up `tracing` for every binary.

use std::io::IsTerminal;

mod json_log;
mod trace_context;

use tracing_subscriber::{
    fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer as _,
};

pub use json_log::JsonLog;
pub use trace_context::{
    continue_trace, current_traceparent, remote_parent, remote_parent_with_state,
    remote_parent_xray, traceparent_of, InvalidTraceParent, TraceParent,
};

use crate::config::ConfigError;
use crate::Host;

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object a line, for CloudWatch and log shippers ([`JsonLog`]).
    Json,
    /// Human-readable multi-line output for a terminal.
    Pretty,
}

impl LogFormat {
    /// Chooses the format: `LOG_FORMAT`'s (`chosen`) wins; otherwise JSON on Lambda, where
    /// CloudWatch indexes the fields, and wherever stderr is not a terminal (a service
    /// manager, a container, a log shipper), and pretty for a person at a terminal.
    #[must_use]
    pub fn choose(chosen: Option<Self>, host: Host) -> Self {
        match chosen {
            Some(format) => format,
            None if host == Host::Lambda || !std::io::stderr().is_terminal() => Self::Json,
            None => Self::Pretty,
        }
    }
}

/// How spans leave the process (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// `http/protobuf`, the specification's default.
    HttpProtobuf,
    /// `http/json`, for a sink that reads JSON (`lzstock-admin trace-sink`).
    HttpJson,
}

/// Where spans go: `OTEL_EXPORTER_OTLP_ENDPOINT` and the settings that come with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpExport {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, an `http://` or `https://` URL; spans go to
    /// `<endpoint>/v1/traces`.
    pub endpoint: String,
    /// `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub protocol: OtlpProtocol,
    /// `OTEL_SERVICE_NAME`, when set (otherwise the binary's name).
    pub service_name: Option<String>,
}

/// What [`init`] reads from the environment, checked the way a binary's configuration is:
/// a malformed value is an error naming its variable, never silently replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetrySettings {
    /// `LOG_FORMAT` (`json` or `pretty`), when set.
    pub format: Option<LogFormat>,
    /// `RUST_LOG`, default `info`: the log's level and filter directives.
    pub filter: String,
    /// Where spans go, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
    pub export: Option<OtlpExport>,
}

impl TelemetrySettings {
    /// Reads `LOG_FORMAT`, `RUST_LOG`, `OTEL_EXPORTER_OTLP_ENDPOINT`,
    /// `OTEL_EXPORTER_OTLP_PROTOCOL` and `OTEL_SERVICE_NAME`.
    ///
    /// # Errors
    /// When one is set to something the process cannot use: a format other than `json` or
    /// `pretty`, a filter `tracing` cannot parse, an endpoint that is not an HTTP(S) URL,
    /// or a protocol other than `http/protobuf` and `http/json` (`grpc` is not built in).
    pub fn from_source(source: &dyn crate::config::Source) -> Result<Self, ConfigError> {
        use crate::config::optional;
        let format = match optional(source, "LOG_FORMAT").as_deref().map(str::trim) {
            None => None,
            Some("json") => Some(LogFormat::Json),
            Some("pretty") => Some(LogFormat::Pretty),
            Some(other) => {
                return Err(ConfigError::Malformed {
                    name: "LOG_FORMAT",
                    reason: format!("must be json or pretty (got {other:?})"),
                })
            }
        };
        let filter = optional(source, "RUST_LOG").unwrap_or_else(|| "info".into());
        if let Err(error) = EnvFilter::try_new(&filter) {
            return Err(ConfigError::Malformed {
                name: "RUST_LOG",
                reason: format!("{error} (got {filter:?})"),
            });
        }
        let protocol = match optional(source, "OTEL_EXPORTER_OTLP_PROTOCOL")
            .as_deref()
            .map(str::trim)
        {
            None | Some("http/protobuf") => OtlpProtocol::HttpProtobuf,
            Some("http/json") => OtlpProtocol::HttpJson,
            Some(other) => {
                return Err(ConfigError::Malformed {
                    name: "OTEL_EXPORTER_OTLP_PROTOCOL",
                    reason: format!("must be http/protobuf or http/json (got {other:?})"),
                })
            }
        };
        let export = optional(source, "OTEL_EXPORTER_OTLP_ENDPOINT")
            .map(|endpoint| {
                let endpoint = endpoint.trim().to_owned();
                let http = ["http://", "https://"]
                    .iter()
                    .any(|scheme| endpoint.starts_with(scheme) && endpoint.len() > scheme.len());
                if http {
                    Ok(OtlpExport {
                        endpoint,
                        protocol,
                        service_name: optional(source, "OTEL_SERVICE_NAME"),
                    })
                } else {
                    Err(ConfigError::Malformed {
                        name: "OTEL_EXPORTER_OTLP_ENDPOINT",
                        reason: "must be an http:// or https:// URL".into(),
                    })
                }
            })
            .transpose()?;
        Ok(Self {
            format,
            filter,
            export,
        })
    }
}

/// The process's telemetry: keep it alive for the process's life. When spans are exported,
/// dropping it flushes what is buffered and stops the exporter.
#[derive(Debug, Default)]
#[must_use = "dropping it stops the span exporter"]
pub struct Telemetry {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans leave the process (`OTEL_EXPORTER_OTLP_ENDPOINT` is set).
    #[must_use]
    pub const fn exports(&self) -> bool {
        self.provider.is_some()
    }
}

/// The exporting provider, for [`flush_spans`] from wherever an invocation ends.
static EXPORTING: std::sync::OnceLock<opentelemetry_sdk::trace::SdkTracerProvider> =
    std::sync::OnceLock::new();

/// Sends every finished span now, and returns once the exporter has answered (or given up);
/// a no-op when spans are not exported. The batch processor's own thread does the
/// sending, and this waits for it on a blocking thread: `force_flush` blocks its caller,
/// which on a current-thread runtime would stop the very tasks the export may need.
pub async fn flush_spans() {
    let Some(provider) = EXPORTING.get().cloned() else {
        return;
    };
    match tokio::task::spawn_blocking(move || provider.force_flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "spans could not be flushed"),
        Err(error) => tracing::warn!(%error, "the span flush did not finish"),
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Installs the global `tracing` subscriber, writing to stderr (stdout stays free for a
/// command's output; Lambda sends both to CloudWatch), with the settings of
/// [`TelemetrySettings`] read from the process environment: the level from `RUST_LOG`
/// (default `info`), the format from [`LogFormat::choose`], and, when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans exported over OTLP (HTTP/protobuf, or JSON
/// with `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`, to `<endpoint>/v1/traces`) by a batch
/// processor on its own thread, as service `OTEL_SERVICE_NAME` (default: the binary's
/// name); unset, no OpenTelemetry layer is installed at all.
///
/// A malformed setting stops the process with one line naming it (exit status 2), as a
/// binary's configuration does. Calling it twice is harmless: the second call keeps the
/// first subscriber.
pub fn init() -> Telemetry {
    let settings = crate::config::or_exit(
        &binary_name(),
        TelemetrySettings::from_source(&crate::config::ProcessEnv),
    );
    let format = LogFormat::choose(settings.format, Host::detect());
    install(format, &settings)
}

/// The running binary's file name: the default service name of its spans.
fn binary_name() -> String {
    std::env::args()
        .next()
        .and_then(|path| {
            std::path::Path::new(&path)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "lzstock".into())
}

fn otlp_provider(export: &OtlpExport) -> Option<opentelemetry_sdk::trace::SdkTracerProvider> {
    use opentelemetry_otlp::{Protocol, WithExportConfig};
    let protocol = match export.protocol {
        OtlpProtocol::HttpProtobuf => Protocol::HttpBinary,
        OtlpProtocol::HttpJson => Protocol::HttpJson,
    };
    // The builder reads the endpoint and the other OTEL_EXPORTER_OTLP_* settings itself.
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .build()
    {
        Ok(exporter) => exporter,
        Err(error) => {
            eprintln!("OTEL_EXPORTER_OTLP_ENDPOINT: no span exporter: {error}");
            return None;
        }
    };
    let service = export.service_name.clone().unwrap_or_else(binary_name);
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .build();
    Some(
        opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    )
}

fn install(format: LogFormat, settings: &TelemetrySettings) -> Telemetry {
    use opentelemetry::trace::TracerProvider as _;

    let provider = settings.export.as_ref().and_then(otlp_provider);
    if let Some(provider) = &provider {
        let _ = EXPORTING.set(provider.clone());
    }
    // Spans have their own filter: `RUST_LOG` quiets the log, not the traces. The HTTP
    // stack's own spans stay out (the exporter's requests would trace themselves).
    let spans = provider.as_ref().map(|provider| {
        // Only what a reader of the trace uses: the source location, thread, target and
        // busy/idle times would be attributes on every span. (The context stays activated on
        // entry: that is what gives a log line its span's OpenTelemetry ids.)
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("lzstock"))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .with_filter(EnvFilter::new(
                "info,h2=off,hyper=off,hyper_util=off,reqwest=off,tower=off,opentelemetry=off",
            ))
    });
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(spans);
    let result = match format {
        LogFormat::Json => registry
            .with(JsonLog::new(std::io::stderr).with_filter(filter))
            .try_init(),
        LogFormat::Pretty => registry
            .with(
                fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr)
                    .compact()
                    .with_filter(filter),
            )
            .try_init(),
    };
    // A subscriber already installed (a test harness, a second init) is fine to keep.
    drop(result);
    Telemetry { provider }
}

#[cfg(test)]
mod tests {
    use super::{LogFormat, OtlpProtocol, TelemetrySettings};

    #[test]
    fn telemetry_settings_are_checked_like_any_configuration() {
        let settings = TelemetrySettings::from_source(&[
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "info,lzstock=debug"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_SERVICE_NAME", "lzstock-api"),
        ])
        .expect("valid");
        assert_eq!(settings.format, Some(LogFormat::Json));
        let export = settings.export.expect("exported");
        assert_eq!(export.protocol, OtlpProtocol::HttpJson);
        assert_eq!(export.service_name.as_deref(), Some("lzstock-api"));
        let none: [(&str, &str); 0] = [];
        let defaults = TelemetrySettings::from_source(&none).expect("defaults");
        assert_eq!((defaults.format, defaults.filter.as_str()), (None, "info"));
        assert!(defaults.export.is_none());
        for (name, value) in [
            ("LOG_FORMAT", "xml"),
            ("RUST_LOG", "lzstock=loud"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ] {
            let err = TelemetrySettings::from_source(&[(name, value)]).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
    }
}
