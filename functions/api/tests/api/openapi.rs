use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::TestApi;

fn operations(document: &Value) -> BTreeSet<(String, String)> {
    document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("a path item")
                .keys()
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

#[tokio::test]
async fn the_document_is_valid_openapi() {
    let api = TestApi::new().await;
    let reply = api.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(reply.status, StatusCode::OK, "the document is open");
    let file = tempfile::NamedTempFile::new().expect("a temp file");
    std::fs::write(file.path(), reply.body.to_string()).expect("written");
    let validator =
        lzstock_harness::process::find_program("openapi-spec-validator", "OPENAPI_VALIDATOR_BIN")
            .expect("openapi-spec-validator (installed into .venv by the test command)");
    let output = std::process::Command::new(validator)
        .arg(file.path())
        .output()
        .expect("the validator runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn the_document_lists_exactly_the_rest_routes() {
    let api = TestApi::new().await;
    let document = api
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .body;
    let expected: BTreeSet<(String, String)> = [
        ("POST", "/v1/dashboards"),
        ("GET", "/v1/dashboards"),
        ("GET", "/v1/dashboards/{id}"),
        ("DELETE", "/v1/dashboards/{id}"),
        ("GET", "/v1/companies/{ticker}"),
        ("POST", "/v1/emails"),
        ("GET", "/v1/emails"),
        ("GET", "/v1/emails/{id}"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .collect();
    assert_eq!(operations(&document), expected);
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let api = TestApi::new().await;
    let document = api
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .body;
    for (method, path) in operations(&document) {
        let uri = path
            .replace("{id}", "0190a6f5-7d3c-7b3e-9f00-000000000000")
            .replace("{ticker}", "AAPL");
        let method: Method = method.parse().expect("a method");
        let body =
            (method == Method::POST).then(|| serde_json::json!({"name": "A", "tickers": ["AAPL"]}));
        let reply = api.call(method.clone(), &uri, Some("ada"), body).await;
        assert_ne!(
            reply.body["message"], "no such route",
            "{method} {path} is documented but not routed"
        );
        assert_ne!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn swagger_ui_is_served_without_a_token() {
    let api = TestApi::new().await;
    for path in [
        "/docs",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-ui.css",
    ] {
        let reply = api.call(Method::GET, path, None, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
    }
}

/// Every name a client writes or reads: object properties and parameters, wherever they
/// sit in the document.
fn field_names(node: &Value, names: &mut BTreeSet<String>) {
    match node {
        Value::Object(object) => {
            if let Some(Value::Object(properties)) = object.get("properties") {
                names.extend(properties.keys().cloned());
            }
            if let (Some(Value::String(name)), Some(Value::String(place))) =
                (object.get("name"), object.get("in"))
            {
                if place == "query" || place == "path" {
                    names.insert(name.clone());
                }
            }
            for child in object.values() {
                field_names(child, names);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| field_names(item, names)),
        _ => {}
    }
}

#[tokio::test]
async fn every_field_and_parameter_is_lower_camel_case_as_in_the_proto_json_mapping() {
    let api = TestApi::new().await;
    let document = api
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .body;
    let mut names = BTreeSet::new();
    field_names(&document, &mut names);
    assert!(
        names.contains("ownerId") && names.contains("totalCount"),
        "{names:?}"
    );
    let lower_camel = |name: &str| {
        name.starts_with(|c: char| c.is_ascii_lowercase())
            && name.chars().all(|c| c.is_ascii_alphanumeric())
    };
    let other: Vec<_> = names.iter().filter(|name| !lower_camel(name)).collect();
    assert!(other.is_empty(), "not lowerCamelCase: {other:?}");
}
