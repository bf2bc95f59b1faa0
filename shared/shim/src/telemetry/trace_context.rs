//! Trace context across process boundaries: the one W3C `traceparent` type
//! ([`TraceParent`]) that HTTP requests, message headers, event envelopes and outbox rows
//! carry, and the remote parents it and AWS X-Ray's header give a span.

use std::fmt;
use std::str::FromStr;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A W3C `traceparent` (`00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`),
/// valid by construction: version `00`, ids of the right length and not all zero. Kept in
/// lower case, as the spec writes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TraceParent(String);

/// Why a `traceparent` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>, ids not all zero)")]
pub struct InvalidTraceParent;

impl TraceParent {
    /// Parses a `traceparent` header, surrounding whitespace allowed.
    ///
    /// # Errors
    /// When it is not version `00` with well-formed, non-zero ids.
    pub fn parse(header: &str) -> Result<Self, InvalidTraceParent> {
        let header = header.trim();
        let mut parts = header.split('-');
        let (Some(version), Some(trace_id), Some(span_id), Some(flags), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(InvalidTraceParent);
        };
        let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
        let zero = |s: &str| s.bytes().all(|b| b == b'0');
        if version != "00"
            || !hex(trace_id, 32)
            || !hex(span_id, 16)
            || !hex(flags, 2)
            || zero(trace_id)
            || zero(span_id)
        {
            return Err(InvalidTraceParent);
        }
        Ok(Self(header.to_ascii_lowercase()))
    }

    /// `trace` as a parent to publish under: a `traceparent` itself, or a bare 32-hex trace
    /// id continued under a new span id; `None` for anything else.
    #[must_use]
    pub fn continuing(trace: &str) -> Option<Self> {
        if let Ok(parent) = Self::parse(trace) {
            return Some(parent);
        }
        let span_id = opentelemetry_sdk::trace::RandomIdGenerator::default();
        let span_id = opentelemetry_sdk::trace::IdGenerator::new_span_id(&span_id);
        Self::parse(&format!("00-{}-{span_id}-01", trace.trim())).ok()
    }

    /// The span `span` names, when it is exported (an OpenTelemetry layer gives it a
    /// context).
    #[must_use]
    pub fn of_span(span: &tracing::Span) -> Option<Self> {
        let context = span.context();
        let otel_span = context.span();
        let span_context = otel_span.span_context();
        span_context.is_valid().then(|| {
            Self(format!(
                "00-{}-{}-{:02x}",
                span_context.trace_id(),
                span_context.span_id(),
                span_context.trace_flags().to_u8()
            ))
        })
    }

    /// The trace id: 32 lower-case hex digits.
    #[must_use]
    pub fn trace_id(&self) -> &str {
        &self.0[3..35]
    }

    /// The parent span id: 16 lower-case hex digits.
    #[must_use]
    pub fn span_id(&self) -> &str {
        &self.0[36..52]
    }

    /// Whether the caller sampled the trace.
    #[must_use]
    pub fn sampled(&self) -> bool {
        u8::from_str_radix(&self.0[53..55], 16).is_ok_and(|flags| flags & 1 == 1)
    }

    /// The header as sent.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This parent as an OpenTelemetry remote context, with the caller's W3C `tracestate`
    /// (a malformed `tracestate` is dropped, the parent kept).
    #[must_use]
    pub fn remote_context(&self, tracestate: Option<&str>) -> opentelemetry::Context {
        let (Ok(trace_id), Ok(span_id)) = (
            TraceId::from_hex(self.trace_id()),
            SpanId::from_hex(self.span_id()),
        ) else {
            // Parsing checked both: unreachable, and an empty context is harmless.
            return opentelemetry::Context::new();
        };
        let flags = if self.sampled() {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let state = tracestate
            .and_then(|state| state.parse::<TraceState>().ok())
            .unwrap_or_default();
        let context = SpanContext::new(trace_id, span_id, flags, true, state);
        opentelemetry::Context::new().with_remote_span_context(context)
    }
}

impl FromStr for TraceParent {
    type Err = InvalidTraceParent;

    fn from_str(header: &str) -> Result<Self, Self::Err> {
        Self::parse(header)
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The current span as a W3C `traceparent`, when spans are exported (an OpenTelemetry layer
/// gives the span a context); events published from here then hang under this span.
#[must_use]
pub fn current_traceparent() -> Option<String> {
    traceparent_of(&tracing::Span::current())
}

/// `span` as a W3C `traceparent`, when spans are exported.
#[must_use]
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    TraceParent::of_span(span).map(|parent| parent.0)
}

/// Makes the span a W3C `traceparent` names the parent of `span`, so `span` continues that
/// trace; a malformed `traceparent` leaves `span` as it is.
pub fn continue_trace(span: &tracing::Span, traceparent: &str) {
    if let Some(parent) = remote_parent(traceparent) {
        let _ = span.set_parent(parent);
    }
}

/// The remote parent a W3C `traceparent` header names, as an OpenTelemetry context; `None`
/// when the header is malformed ([`TraceParent::parse`]).
///
/// A handler's span set to this parent continues the publisher's trace in whatever
/// OpenTelemetry pipeline the process installs.
#[must_use]
pub fn remote_parent(traceparent: &str) -> Option<opentelemetry::Context> {
    remote_parent_with_state(traceparent, None)
}

/// [`remote_parent`] with the caller's W3C `tracestate` (vendor data that travels with the
/// trace); a malformed `tracestate` is dropped, the parent kept.
#[must_use]
pub fn remote_parent_with_state(
    traceparent: &str,
    tracestate: Option<&str>,
) -> Option<opentelemetry::Context> {
    TraceParent::parse(traceparent)
        .ok()
        .map(|parent| parent.remote_context(tracestate))
}

/// The remote parent an AWS X-Ray trace header names
/// (`Root=1-<8 hex time>-<24 hex id>;Parent=<16 hex span id>;Sampled=1`), mapped as the AWS
/// propagator maps it: the trace id is the time and the id joined. `None` without a root
/// and a parent, or when either is malformed.
#[must_use]
pub fn remote_parent_xray(header: &str) -> Option<opentelemetry::Context> {
    let field = |key: &str| {
        header
            .split(';')
            .find_map(|part| part.trim().strip_prefix(key)?.strip_prefix('='))
    };
    let mut root = field("Root")?.split('-');
    let (version, time, id) = (root.next()?, root.next()?, root.next()?);
    if version != "1" || root.next().is_some() {
        return None;
    }
    let sampled = if field("Sampled") == Some("0") {
        "00"
    } else {
        "01"
    };
    remote_parent(&format!("00-{time}{id}-{}-{sampled}", field("Parent")?))
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TraceContextExt;

    use super::*;

    #[test]
    fn a_traceparent_becomes_a_remote_parent_and_garbage_does_not() {
        let parent = remote_parent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .expect("valid");
        let span = parent.span();
        let context = span.span_context();
        assert!(context.is_remote() && context.is_sampled());
        assert_eq!(
            context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            assert!(remote_parent(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_callers_tracestate_travels_with_its_parent() {
        let parent = remote_parent_with_state(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
        )
        .expect("valid");
        let span = parent.span();
        assert_eq!(
            span.span_context().trace_state().get("congo"),
            Some("t61rcWkgMzE")
        );
    }

    #[test]
    fn an_xray_header_with_a_parent_becomes_a_remote_parent() {
        let parent = remote_parent_xray(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .expect("valid");
        let span = parent.span();
        assert_eq!(
            span.span_context().trace_id().to_string(),
            "5759e988bd862e3fe1be46a994272793"
        );
        assert_eq!(
            span.span_context().span_id().to_string(),
            "53995c3f42cd8ad8"
        );
        for bad in [
            "Root=1-5759e988-bd862e3fe1be46a994272793",
            "Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a99427279;Parent=53995c3f42cd8ad8",
            "nonsense",
        ] {
            assert!(remote_parent_xray(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn a_traceparent_parses_strictly_and_a_bare_trace_id_is_continued() {
        let full = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01";
        let parent = TraceParent::parse(full).expect("valid");
        assert_eq!(parent.as_str(), full.to_ascii_lowercase());
        assert_eq!(parent.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(parent.span_id(), "00f067aa0ba902b7");
        assert!(parent.sampled());
        assert_eq!(TraceParent::continuing(full), Some(parent));
        let continued =
            TraceParent::continuing("4bf92f3577b34da6a3ce929d0e0e4736").expect("a bare trace id");
        assert_eq!(continued.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(continued.as_str().len(), 55);
        for bad in [
            "not-a-trace",
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
        ] {
            assert!(TraceParent::continuing(bad).is_none(), "{bad:?}");
        }
        assert!(
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01").is_err()
        );
    }

    proptest::proptest! {
        #[test]
        fn whatever_arrives_a_parsed_traceparent_is_canonical(text in "\\PC{0,60}|[0-9a-fA-F-]{50,58}") {
            if let Ok(parent) = TraceParent::parse(&text) {
                proptest::prop_assert_eq!(parent.as_str().len(), 55);
                proptest::prop_assert_eq!(parent.as_str(), text.trim().to_ascii_lowercase());
                let again = TraceParent::parse(parent.as_str());
                proptest::prop_assert_eq!(again, Ok(parent.clone()));
                proptest::prop_assert!(remote_parent(parent.as_str()).is_some());
            } else {
                proptest::prop_assert!(remote_parent(&text).is_none());
            }
        }

        #[test]
        fn every_well_formed_traceparent_is_accepted_and_continued_as_is(
            trace in "[0-9a-f]{31}[1-9a-f]",
            span in "[1-9a-f][0-9a-f]{15}",
            flags in "[0-9a-f]{2}",
        ) {
            let header = format!("00-{trace}-{span}-{flags}");
            let parent = TraceParent::parse(&header).expect("well formed");
            proptest::prop_assert_eq!(parent.trace_id(), trace.as_str());
            proptest::prop_assert_eq!(parent.span_id(), span.as_str());
            proptest::prop_assert_eq!(TraceParent::continuing(&header), Some(parent));
            let continued = TraceParent::continuing(&trace).expect("a bare trace id");
            proptest::prop_assert_eq!(continued.trace_id(), trace.as_str());
        }
    }
}
