//! Seeing a trace without a trace UI: a sink that takes OTLP/HTTP JSON exports
//! (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`) and appends each to a file, one JSON document
//! a line, and a reader that prints one trace from that file as a tree of spans with their
//! services and durations. `lzstock-admin trace-sink` and `lzstock-admin trace` run them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde_json::Value;

/// The sink's routes: `POST /v1/traces` appends the export to `file`.
pub fn sink_router(file: PathBuf) -> Router {
    let file = Arc::new(Mutex::new(file));
    Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let file = Arc::clone(&file);
            async move {
                let Ok(document) = serde_json::from_slice::<Value>(&body) else {
                    return (
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "send OTLP JSON: set OTEL_EXPORTER_OTLP_PROTOCOL=http/json",
                    );
                };
                let Ok(path) = file.lock() else {
                    return (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the sink's file is unusable",
                    );
                };
                let written = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&*path)
                    .and_then(|mut f| writeln!(f, "{document}"));
                match written {
                    Ok(()) => (StatusCode::OK, "{}"),
                    Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "the sink cannot write"),
                }
            }
        }),
    )
}

struct Span {
    service: String,
    name: String,
    parent: String,
    start: u64,
    end: u64,
}

fn nanos(value: &Value) -> u64 {
    match value {
        Value::String(text) => text.parse().unwrap_or(0),
        other => other.as_u64().unwrap_or(0),
    }
}

/// The [`span_tree`] of `trace_id` once it is whole: one root, and each of `names` at least
/// as often as it says. Processes export on their own schedules and a span after its
/// children, so a tree read too early can miss a parent and show its children as a second
/// root; a test waits for this instead.
#[must_use]
pub fn whole_tree(exports: &str, trace_id: &str, names: &[(&str, usize)]) -> Option<String> {
    let tree = span_tree(exports, trace_id)?;
    let roots = tree.lines().filter(|line| !line.starts_with(' ')).count();
    let present = names.iter().all(|(name, at_least)| {
        tree.lines()
            .filter(|line| line.trim_start().starts_with(name))
            .count()
            >= *at_least
    });
    (roots == 1 && present).then_some(tree)
}

/// The spans of `trace_id` (32 hex digits) in `exports` (one OTLP JSON document a line), as
/// an indented tree: `service  name  duration`, children under their parent, oldest first.
/// `None` when no span of that trace is there.
#[must_use]
pub fn span_tree(exports: &str, trace_id: &str) -> Option<String> {
    let wanted = trace_id.to_ascii_lowercase();
    let mut spans: BTreeMap<String, Span> = BTreeMap::new();
    for line in exports.lines() {
        let Ok(document) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        for resource in document["resourceSpans"].as_array().into_iter().flatten() {
            let service = resource["resource"]["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["key"] == "service.name")
                .and_then(|a| a["value"]["stringValue"].as_str())
                .unwrap_or("?")
                .to_owned();
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    if span["traceId"]
                        .as_str()
                        .map(str::to_ascii_lowercase)
                        .as_deref()
                        != Some(wanted.as_str())
                    {
                        continue;
                    }
                    let Some(id) = span["spanId"].as_str() else {
                        continue;
                    };
                    spans.insert(
                        id.to_owned(),
                        Span {
                            service: service.clone(),
                            name: span["name"].as_str().unwrap_or("?").to_owned(),
                            parent: span["parentSpanId"].as_str().unwrap_or("").to_owned(),
                            start: nanos(&span["startTimeUnixNano"]),
                            end: nanos(&span["endTimeUnixNano"]),
                        },
                    );
                }
            }
        }
    }
    if spans.is_empty() {
        return None;
    }
    // Roots: no parent, or a parent outside the file (another process's unexported span).
    let mut roots: Vec<&String> = spans
        .iter()
        .filter(|(_, s)| s.parent.is_empty() || !spans.contains_key(&s.parent))
        .map(|(id, _)| id)
        .collect();
    roots.sort_by_key(|id| spans[*id].start);
    let mut out = String::new();
    let mut stack: Vec<(&String, usize)> = roots.into_iter().rev().map(|id| (id, 0)).collect();
    let origin = spans.values().map(|s| s.start).min().unwrap_or(0);
    while let Some((id, depth)) = stack.pop() {
        let span = &spans[id];
        let millis = span.end.saturating_sub(span.start) as f64 / 1e6;
        let offset = span.start.saturating_sub(origin) as f64 / 1e6;
        out.push_str(&format!(
            "{:indent$}{} [{}] {:.2} ms (at +{:.2} ms)\n",
            "",
            span.name,
            span.service,
            millis,
            offset,
            indent = depth * 2
        ));
        let mut children: Vec<&String> = spans
            .iter()
            .filter(|(_, s)| s.parent == *id)
            .map(|(child, _)| child)
            .collect();
        children.sort_by_key(|child| std::cmp::Reverse(spans[*child].start));
        stack.extend(children.into_iter().map(|child| (child, depth + 1)));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_prints_as_a_tree_across_services() {
        let export = |service: &str, spans: Value| {
            serde_json::json!({"resourceSpans": [{
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"spans": spans}]
            }]})
            .to_string()
        };
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let file = [
            export("api", serde_json::json!([
                {"traceId": trace, "spanId": "a1", "name": "http.request",
                 "startTimeUnixNano": "1000000000", "endTimeUnixNano": "1005000000"}
            ])),
            export("events", serde_json::json!([
                {"traceId": trace, "spanId": "b1", "parentSpanId": "a1", "name": "handle_message",
                 "startTimeUnixNano": "1010000000", "endTimeUnixNano": "1012500000"},
                {"traceId": "ffffffffffffffffffffffffffffffff", "spanId": "c1", "name": "other",
                 "startTimeUnixNano": "1", "endTimeUnixNano": "2"}
            ])),
        ]
        .join("\n");
        let tree = span_tree(&file, trace).expect("the trace");
        assert_eq!(
            tree,
            "http.request [api] 5.00 ms (at +0.00 ms)\n  handle_message [events] 2.50 ms (at +10.00 ms)\n"
        );
        assert!(span_tree(&file, "00000000000000000000000000000001").is_none());
    }
}
