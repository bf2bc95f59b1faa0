//! The JSON log line: one object a line, with everything a reader needs to find its
//! context. Each line holds the event's own fields, the fields of every span it happened in
//! (root first, so the closest span wins a clash: `event_id`, `subject`, `deliveries` from a
//! handler's span, `trace_id` and the HTTP fields from a request's), and the ids of the
//! trace and span it belongs to: OpenTelemetry's when spans are exported, otherwise the
//! `trace_id` a span recorded and the span's own id in this process.

use std::io::Write as _;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Record};
use tracing::{Event, Id, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// A `tracing` layer writing [the JSON log line](self) for every event to `writer`.
#[derive(Debug)]
pub struct JsonLog<W> {
    writer: W,
}

impl<W> JsonLog<W> {
    /// Writes lines to `writer` (stderr, in the binaries).
    pub const fn new(writer: W) -> Self {
        Self { writer }
    }
}

/// The names a log reader searches by, for span fields named otherwise: OpenTelemetry's
/// attribute names on the handler's span, the Lambda runtime's on its invoke span.
const SHORT_NAMES: [(&str, &str); 5] = [
    ("messaging.message.id", "event_id"),
    ("messaging.destination.name", "subject"),
    ("messaging.nats.deliveries", "deliveries"),
    ("requestId", "request_id"),
    ("xrayTraceId", "xray_trace_id"),
];

fn short_name(name: &str) -> &str {
    SHORT_NAMES
        .iter()
        .find_map(|(long, short)| (*long == name).then_some(*short))
        .unwrap_or(name)
}

/// A span's fields as they were recorded, kept in the span's extensions: names are
/// `'static`, so recording a span allocates only for its text values.
struct SpanFields(Vec<(&'static str, Value)>);

impl SpanFields {
    fn set(&mut self, name: &'static str, value: Value) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, old)) => *old = value,
            None => self.0.push((name, value)),
        }
    }
}

impl Visit for SpanFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field.name(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field.name(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field.name(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field.name(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.set(field.name(), value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.set(field.name(), format!("{value:?}").into());
    }
}

/// Collects an event's fields as JSON values: numbers and booleans as themselves, the rest
/// as text.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

impl<S, W> Layer<S> for JsonLog<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = SpanFields(Vec::with_capacity(attrs.fields().len()));
        attrs.record(&mut fields);
        span.extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            values.record(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        line.insert("level".into(), metadata.level().as_str().into());
        line.insert("target".into(), metadata.target().into());
        let mut ids = None;
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                let extensions = span.extensions();
                if let Some(SpanFields(fields)) = extensions.get::<SpanFields>() {
                    line.extend(
                        fields
                            .iter()
                            .map(|(k, v)| (short_name(k).to_owned(), v.clone())),
                    );
                }
                let otel = extensions
                    .get::<tracing_opentelemetry::OtelData>()
                    .and_then(|data| Some((data.trace_id()?, data.span_id()?)));
                ids = Some((span.name(), span.id(), otel));
            }
        }
        if let Some((name, id, otel)) = ids {
            line.insert("span".into(), name.into());
            match otel {
                Some((trace_id, span_id)) => {
                    line.insert("trace_id".into(), trace_id.to_string().into());
                    line.insert("span_id".into(), span_id.to_string().into());
                }
                None => {
                    line.insert("span_id".into(), format!("{:016x}", id.into_u64()).into());
                }
            }
        }
        event.record(&mut Fields(&mut line));
        let Ok(mut text) = serde_json::to_vec(&line) else {
            return;
        };
        text.push(b'\n');
        // A log line that cannot be written has nowhere else to go.
        let _ = self.writer.make_writer().write_all(&text);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::JsonLog;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_carries_its_spans_fields_and_ids() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::registry().with(JsonLog::new(move || writer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!(
                "http.request",
                trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
            );
            let _request = request.enter();
            let handler = tracing::info_span!(
                "handle_message",
                messaging.message.id = "e-1",
                messaging.destination.name = "lzstock.dashboards.created",
                messaging.nats.deliveries = tracing::field::Empty
            );
            handler.record("messaging.nats.deliveries", 2_u64);
            let _handler = handler.enter();
            tracing::warn!(attempt = 3, "it went \"wrong\"");
        });
        let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line: serde_json::Value = serde_json::from_str(lines[0]).expect("JSON");
        assert_eq!(line["message"], "it went \"wrong\"");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["attempt"], 3);
        assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(line["event_id"], "e-1");
        assert_eq!(line["subject"], "lzstock.dashboards.created");
        assert_eq!(line["deliveries"], 2);
        assert_eq!(line["span"], "handle_message");
        assert_eq!(line["span_id"].as_str().map(str::len), Some(16));
        assert!(line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
}
