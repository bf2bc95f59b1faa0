//! Every request runs in a span of a trace: the caller's, when it sends a W3C `traceparent`
//! (or, on Lambda, an X-Ray `X-Amzn-Trace-Id`), or a new one. The trace id travels with the
//! request, so the events a request publishes carry it (their outbox rows get a
//! `traceparent`) and the handlers downstream continue the same trace.

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The trace context a request runs in, as a W3C `traceparent` naming the request's span:
/// the events the request publishes carry it, so their handlers hang under this span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTrace(pub String);

fn hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The trace id of the caller's `traceparent`, else of an X-Ray `Root=1-<8 hex>-<24 hex>`
/// (the AWS propagator's mapping), else `None`; the all-zero id is no id.
#[must_use]
pub fn caller_trace_id(headers: &HeaderMap) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let from_w3c = header("traceparent").and_then(|value| {
        let mut parts = value.trim().split('-');
        let (version, trace_id) = (parts.next()?, parts.next()?);
        (version == "00" && hex(trace_id, 32)).then(|| trace_id.to_ascii_lowercase())
    });
    let from_xray = || {
        header("x-amzn-trace-id").and_then(|value| {
            let root = value
                .split(';')
                .find_map(|part| part.trim().strip_prefix("Root="))?;
            let mut parts = root.split('-');
            let (version, time, id) = (parts.next()?, parts.next()?, parts.next()?);
            (version == "1" && hex(time, 8) && hex(id, 24))
                .then(|| format!("{time}{id}").to_ascii_lowercase())
        })
    };
    from_w3c
        .or_else(from_xray)
        .filter(|id| id.bytes().any(|b| b != b'0'))
}

/// The caller's span as a remote parent: from its W3C `traceparent` (with its `tracestate`),
/// else from an X-Ray
/// header that names a parent.
fn caller_parent(headers: &HeaderMap) -> Option<opentelemetry::Context> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("traceparent")
        .and_then(|parent| {
            lzstock_shim::telemetry::remote_parent_with_state(parent, header("tracestate"))
        })
        .or_else(|| header("x-amzn-trace-id").and_then(lzstock_shim::telemetry::remote_parent_xray))
}

/// The route a path belongs to, as a metric label: `/v1/<collection>/{id}` for one item, so
/// ids never become label values; the result is bounded besides.
#[must_use]
pub fn route_of(path: &str) -> String {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["v1", collection] => format!("/v1/{collection}"),
        ["v1", collection, _] => format!("/v1/{collection}/{{id}}"),
        [service, method] if service.starts_with("lzstock.") => format!("/{service}/{method}"),
        [single] => format!("/{single}"),
        _ => "other".to_owned(),
    }
}

/// A new trace id.
#[must_use]
pub fn new_trace_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The middleware: a span per request, in the caller's trace or a new one, with the trace
/// id in the request's extensions for the controllers.
pub async fn trace_request(mut request: Request, next: Next) -> Response {
    use opentelemetry::trace::TraceContextExt;

    let span = tracing::info_span!(
        "http.request",
        http.request.method = %request.method(),
        url.path = %request.uri().path(),
        trace_id = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    if let Some(parent) = caller_parent(request.headers()) {
        let _ = span.set_parent(parent);
    }
    // With spans exported, the span's own context names the trace and the span the
    // request's events hang under; without, the caller's trace or a new one, under a
    // span id of our own.
    let exported = span.context().span().span_context().clone();
    let (trace_id, span_id) = if exported.is_valid() {
        (
            exported.trace_id().to_string(),
            exported.span_id().to_string(),
        )
    } else {
        let trace_id = caller_trace_id(request.headers()).unwrap_or_else(new_trace_id);
        (trace_id, new_trace_id()[..16].to_owned())
    };
    span.record("trace_id", trace_id.as_str());
    request
        .extensions_mut()
        .insert(RequestTrace(format!("00-{trace_id}-{span_id}-01")));
    let route = route_of(request.uri().path());
    let method = request.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    let route = lzstock_shim::meters::bounded("route", &route);
    metrics::counter!("lzstock_http_requests_total",
        "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
    .increment(1);
    metrics::histogram!("lzstock_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).expect("a header"));
        headers
    }

    #[test]
    fn the_callers_trace_is_continued_and_garbage_starts_a_new_one() {
        assert_eq!(
            caller_trace_id(&headers(
                "traceparent",
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"
            ))
            .as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            caller_trace_id(&headers(
                "x-amzn-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
            ))
            .as_deref(),
            Some("5759e988bd862e3fe1be46a994272793")
        );
        for garbage in [
            "nonsense",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ] {
            assert_eq!(caller_trace_id(&headers("traceparent", garbage)), None);
        }
        assert_eq!(new_trace_id().len(), 32);
        assert_eq!(route_of("/v1/emails/0193-abc"), "/v1/emails/{id}");
        assert_eq!(route_of("/v1/emails"), "/v1/emails");
        assert_eq!(
            route_of("/lzstock.v1.EmailService/Create"),
            "/lzstock.v1.EmailService/Create"
        );
        assert_eq!(route_of("/a/b/c/d"), "other");
        assert_eq!(route_of("/healthz"), "/healthz");
    }
}
