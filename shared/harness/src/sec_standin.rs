//! A stand-in for SEC EDGAR over real HTTP, behaving as SEC does where a client can tell:
//! more than `limit` requests in any one second blocks the caller (one caller: every client
//! of the test) with SEC's gzipped 403 "Request Rate Threshold Exceeded" page for `block_for`,
//! and asking during the block extends it; a `User-Agent` without a contact address gets the
//! "Undeclared Automated Tool" 403; an unknown document is a 404 `NoSuchKey`; documents carry
//! `Last-Modified` and answer a matching `If-Modified-Since` with 304; every `fail_every`-th
//! request can be made a 503.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::local_http::LocalServer;

/// How the stand-in behaves.
#[derive(Debug, Clone, Copy)]
pub struct StandInRules {
    /// Requests allowed in any one second.
    pub limit: usize,
    /// How long a block lasts (from the last request made during it).
    pub block_for: Duration,
    /// Every n-th request answers 503, when set.
    pub fail_every: Option<usize>,
    /// The n-th request (1-based) is taken as over the limit, whatever the rate: a block
    /// that happens once.
    pub block_at: Option<usize>,
}

impl Default for StandInRules {
    fn default() -> Self {
        Self {
            limit: 10,
            block_for: Duration::from_secs(600),
            fail_every: None,
            block_at: None,
        }
    }
}

/// What the stand-in saw.
#[derive(Debug, Default, Clone)]
pub struct StandInLog {
    /// Every request, in order: its path.
    pub requests: Vec<String>,
    /// Times a caller went over the limit and was blocked.
    pub blocks: usize,
    /// Requests that arrived while the caller was blocked.
    pub during_block: usize,
    /// Requests answered 503 on purpose.
    pub failed: usize,
}

struct Shared {
    rules: StandInRules,
    documents: Mutex<HashMap<String, Bytes>>,
    recent: Mutex<VecDeque<Instant>>,
    blocked_until: Mutex<Option<Instant>>,
    log: Mutex<StandInLog>,
}

/// A companyfacts document shaped like SEC's, of "Acme Widgets" (CIK 42): revenue under
/// `Revenues` until FY2021, `RevenueFromContractWithCustomerExcludingAssessedTax` for FY2022
/// and FY2023, `Revenues` again from FY2024; every 10-K repeating earlier years as
/// comparatives; a 10-K/A restating FY2024 (revenue 1200, net income 108, diluted EPS 2.16);
/// a later 10-Q. Its FY2024 insights: revenue growth 100/1100, net margin 0.09, diluted EPS
/// 2.16, debt to equity 2.0, current ratio 1.5.
pub const ACME_COMPANYFACTS: &str = include_str!("../fixtures/companyfacts-acme.json");

/// Acme's submissions: the 10-Q is its newest report.
pub const ACME_SUBMISSIONS: &str = include_str!("../fixtures/submissions-acme.json");

/// The `Last-Modified` every document carries.
pub const LAST_MODIFIED: &str = "Mon, 23 Nov 2026 06:00:00 GMT";

/// A running stand-in on a free loopback port; it stops when dropped.
pub struct SecStandIn {
    server: LocalServer,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SecStandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecStandIn")
            .field("url", &self.server.url())
            .finish_non_exhaustive()
    }
}

impl SecStandIn {
    /// Starts a stand-in with `rules` and no documents.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(rules: StandInRules) -> Self {
        let shared = Arc::new(Shared {
            rules,
            documents: Mutex::new(HashMap::new()),
            recent: Mutex::new(VecDeque::new()),
            blocked_until: Mutex::new(None),
            log: Mutex::new(StandInLog::default()),
        });
        let app = Router::new()
            .fallback(serve)
            .with_state(Arc::clone(&shared));
        Self {
            server: LocalServer::start(app).await,
            shared,
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    #[must_use]
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Serves `body` at `path` (e.g. `/files/company_tickers.json`).
    ///
    /// # Panics
    /// When a request handler panicked while holding the documents.
    pub fn put(&self, path: &str, body: impl Into<Bytes>) {
        self.shared
            .documents
            .lock()
            .expect("documents")
            .insert(path.to_owned(), body.into());
    }

    /// Serves nothing at `path` any more (SEC's 404 `NoSuchKey`).
    ///
    /// # Panics
    /// When a request handler panicked while holding the documents.
    pub fn remove(&self, path: &str) {
        self.shared
            .documents
            .lock()
            .expect("documents")
            .remove(path);
    }

    /// The variables that point the scraper at the stand-in: `SEC_BASE_URL` and
    /// `SEC_TICKERS_URL`.
    #[must_use]
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("SEC_BASE_URL".into(), self.url()),
            (
                "SEC_TICKERS_URL".into(),
                format!("{}/files/company_tickers.json", self.url()),
            ),
        ]
    }

    /// Lists `companies` (ticker, CIK, revenue) in the ticker map, and gives each one 10-K
    /// (its submissions and its companyfacts, shaped as SEC's) reporting that revenue.
    pub fn put_companies(&self, companies: &[(&str, u64, f64)]) {
        let listing: serde_json::Map<String, serde_json::Value> = companies
            .iter()
            .enumerate()
            .map(|(n, (ticker, cik, _))| {
                let title = format!("{ticker} Inc.");
                (
                    n.to_string(),
                    serde_json::json!({"cik_str": cik, "ticker": ticker, "title": title}),
                )
            })
            .collect();
        self.put(
            "/files/company_tickers.json",
            serde_json::Value::Object(listing).to_string(),
        );
        for (_, cik, revenue) in companies {
            let accession = format!("{cik:010}-25-000001");
            self.put(
                &format!("/submissions/CIK{cik:010}.json"),
                serde_json::json!({"cik": cik.to_string(), "filings": {"recent": {
                    "accessionNumber": [accession], "filingDate": ["2025-10-31"],
                    "form": ["10-K"]
                }}})
                .to_string(),
            );
            self.put(
                &format!("/api/xbrl/companyfacts/CIK{cik:010}.json"),
                serde_json::json!({"cik": cik, "facts": {"us-gaap": {"Revenues": {"units": {
                    "USD": [{"start": "2024-10-01", "end": "2025-09-30", "val": revenue,
                             "accn": accession, "fy": 2025, "fp": "FY", "form": "10-K",
                             "filed": "2025-10-31"}]
                }}}}})
                .to_string(),
            );
        }
    }

    /// What it saw so far.
    ///
    /// # Panics
    /// When a request handler panicked while holding the log.
    #[must_use]
    pub fn log(&self) -> StandInLog {
        self.shared.log.lock().expect("log").clone()
    }
}

fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = encoder.write_all(text.as_bytes());
    encoder.finish().unwrap_or_default()
}

const THRESHOLD_PAGE: &str = "<!DOCTYPE html><html><head><title>SEC.gov | Request Rate Threshold Exceeded</title></head><body><h1>Your Request Originates from an Undeclared Automated Tool or exceeds the Request Rate Threshold</h1><p>Request Rate Threshold Exceeded</p></body></html>";

const UNDECLARED_PAGE: &str = "<!DOCTYPE html><html><head><title>SEC.gov | Your Request Originates from an Undeclared Automated Tool</title></head><body><p>Please declare your traffic by updating your user agent to include company specific information.</p></body></html>";

async fn serve(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let path = request.uri().path().to_owned();
    let now = Instant::now();
    let blocked = {
        let mut log = shared.log.lock().expect("log");
        log.requests.push(path.clone());
        let mut until = shared.blocked_until.lock().expect("block");
        if until.is_some_and(|until| now < until) {
            log.during_block += 1;
            // Asking during the block extends it, as SEC's does.
            *until = Some(now + shared.rules.block_for);
            true
        } else {
            let mut recent = shared.recent.lock().expect("recent");
            while recent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
            {
                recent.pop_front();
            }
            recent.push_back(now);
            let forced = shared.rules.block_at == Some(log.requests.len());
            if forced || recent.len() > shared.rules.limit {
                log.blocks += 1;
                *until = Some(now + shared.rules.block_for);
                recent.clear();
                true
            } else {
                false
            }
        }
    };
    if blocked {
        // Gzipped without saying so in every case: clients must cope.
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/html")],
            gzip(THRESHOLD_PAGE),
        )
            .into_response();
    }
    let declared = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.split_whitespace().any(|w| w.contains('@')));
    if !declared {
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/html")],
            UNDECLARED_PAGE,
        )
            .into_response();
    }
    if let Some(every) = shared.rules.fail_every {
        let mut log = shared.log.lock().expect("log");
        if every > 0 && log.requests.len() % every == 0 {
            log.failed += 1;
            return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
        }
    }
    if headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        == Some(LAST_MODIFIED)
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let document = shared
        .documents
        .lock()
        .expect("documents")
        .get(&path)
        .cloned();
    match document {
        Some(body) => {
            let wants_gzip = headers
                .get(header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("gzip"));
            if wants_gzip {
                (
                    StatusCode::OK,
                    [
                        (header::CONTENT_TYPE, "application/json"),
                        (header::CONTENT_ENCODING, "gzip"),
                        (header::LAST_MODIFIED, LAST_MODIFIED),
                    ],
                    gzip(&String::from_utf8_lossy(&body)),
                )
                    .into_response()
            } else {
                (
                    StatusCode::OK,
                    [
                        (header::CONTENT_TYPE, "application/json"),
                        (header::LAST_MODIFIED, LAST_MODIFIED),
                    ],
                    body,
                )
                    .into_response()
            }
        }
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/xml")],
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>",
        )
            .into_response(),
    }
}
