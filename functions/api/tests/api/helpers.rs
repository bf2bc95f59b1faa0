use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use lzstock_api::auth::TokenVerifier;
use lzstock_api::{self as api, ApiState, Authenticator};
use lzstock_app::health::HealthProbe;
use lzstock_harness::tokens::issue_token;
use lzstock_harness::{database, TestDatabase, TEST_JWT_SECRET};
use lzstock_infra::dashboards::PgDashboardStore;
use serde_json::Value;
use tower::ServiceExt;

pub struct TestApi {
    pub router: Router,
    pub db: TestDatabase,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

pub fn token(sub: &str) -> String {
    issue_token(
        TEST_JWT_SECRET.as_bytes(),
        sub,
        chrono::Duration::minutes(5),
    )
    .expect("a token")
}

pub fn state_on(pool: sqlx::PgPool) -> ApiState {
    ApiState {
        health: HealthProbe {
            database: Some(pool.clone()),
            nats: None,
            tasks: None,
        },
        dashboards: PgDashboardStore::new(pool.clone(), "lzstock"),
        companies: lzstock_infra::companies::PgCompanyStore::new(pool.clone()),
        emails: lzstock_infra::emails::PgEmailStore::new(pool, "lzstock"),
        email_cache: None,
        default_from: Some(
            lzstock_domain::email::EmailAddress::parse("noreply@lzstock.test").expect("from"),
        ),
        auth: Authenticator::tokens(TokenVerifier::hs256(TEST_JWT_SECRET.as_bytes())),
        relay: None,
    }
}

impl TestApi {
    pub async fn new() -> Self {
        let db = database().await;
        Self {
            router: api::router(state_on(db.pool.clone())),
            db,
        }
    }

    /// An API whose state `change` adjusts (a cache, say).
    pub async fn with_state(change: impl FnOnce(ApiState) -> ApiState) -> Self {
        let db = database().await;
        let state = change(state_on(db.pool.clone()));
        Self {
            router: api::router(state),
            db,
        }
    }

    /// An API that authenticates callers with `auth`.
    pub async fn with_auth(auth: Authenticator) -> Self {
        let db = database().await;
        let state = ApiState {
            auth,
            ..state_on(db.pool.clone())
        };
        Self {
            router: api::router(state),
            db,
        }
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        send(&self.router, request).await
    }

    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        user: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(user) = user {
            request = request.header(header::AUTHORIZATION, format!("Bearer {}", token(user)));
        }
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).expect("a request")).await
    }

    pub async fn create(&self, user: &str, name: &str) -> Value {
        let reply = self
            .call(
                Method::POST,
                "/v1/dashboards",
                Some(user),
                Some(serde_json::json!({"name": name, "tickers": ["AAPL", "MSFT"], "indicators": ["net_margin"]})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }
}

pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("the router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Reply {
        status,
        headers,
        body,
    }
}
