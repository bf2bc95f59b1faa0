//! The SEC client and the fleet's request budget against a stand-in SEC over real HTTP and a
//! real PostgreSQL: SEC's own blocking rule is the judge of politeness.

use std::time::Duration;

use futures::StreamExt;
use lzstock_harness::sec_standin::{SecStandIn, StandInRules, LAST_MODIFIED};
use lzstock_harness::{database, TestDatabase};
use lzstock_infra::sec::{Fetched, RequestBudget, SecConnection, SecError, SecHttp, SecPolicy};

const AGENT: &str = "LZStock tests ops@lzstock.test";

fn quick_policy() -> SecPolicy {
    SecPolicy {
        block_pause: Duration::from_millis(1500),
        retry: lzstock_shim::backoff::Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(100),
        },
        timeout: Duration::from_secs(5),
        ..SecPolicy::default()
    }
}

/// A client as one scraper process would build it: its own pool on the shared database.
fn client(db: &TestDatabase, per_second: f64, policy: SecPolicy) -> SecHttp {
    let pool = lzstock_infra::postgres::pool(&db.url, 4).expect("pool");
    let connection = SecConnection::new(AGENT).expect("client");
    SecHttp::new(
        &connection,
        RequestBudget::new(pool, "sec", per_second),
        policy,
    )
}

fn documents(sec: &SecStandIn, count: usize) -> Vec<String> {
    (0..count)
        .map(|n| {
            let path = format!("/submissions/CIK{n:010}.json");
            sec.put(&path, format!(r#"{{"cik": "{n}"}}"#));
            format!("{}{path}", sec.url())
        })
        .collect()
}

/// Fetches every url with `workers` at once, as a worker pool would.
async fn fetch_all(
    client: &SecHttp,
    urls: &[String],
    workers: usize,
) -> Vec<Result<Fetched, SecError>> {
    futures::stream::iter(urls.iter().map(|url| client.get(url, None)))
        .buffer_unordered(workers)
        .collect()
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_sharing_the_budget_are_never_blocked_together() {
    let db = database().await;
    let sec = SecStandIn::start(StandInRules::default()).await;
    let urls = documents(&sec, 24);
    // Two "processes", eight workers each, at the default 10 requests a second each would
    // be 20/s together; the shared budget keeps them at 10 together.
    let first = client(&db, 10.0, quick_policy());
    let second = client(&db, 10.0, quick_policy());
    let (a, b) = tokio::join!(
        fetch_all(&first, &urls[..12], 8),
        fetch_all(&second, &urls[12..], 8)
    );
    for result in a.iter().chain(&b) {
        assert!(matches!(result, Ok(Fetched::Document { .. })), "{result:?}");
    }
    let log = sec.log();
    assert_eq!((log.blocks, log.requests.len()), (0, 24), "{log:?}");
    assert_eq!(
        first.counters().throttled() + second.counters().throttled(),
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_block_pauses_the_fleet_and_nothing_is_sent_inside_it() {
    let db = database().await;
    // A stand-in far stricter than the client's budget: it blocks on the fourth request.
    let sec = SecStandIn::start(StandInRules {
        limit: 3,
        block_for: Duration::from_secs(1),
        ..StandInRules::default()
    })
    .await;
    let urls = documents(&sec, 5);
    let client = client(&db, 50.0, quick_policy());
    let results = fetch_all(&client, &urls, 1).await;
    for result in &results {
        assert!(matches!(result, Ok(Fetched::Document { .. })), "{result:?}");
    }
    let log = sec.log();
    assert_eq!(log.blocks, 1, "{log:?}");
    assert_eq!(log.during_block, 0, "nothing sent while blocked: {log:?}");
    assert_eq!(client.counters().throttled(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_are_retried_until_every_document_arrives() {
    let db = database().await;
    let sec = SecStandIn::start(StandInRules {
        fail_every: Some(3),
        ..StandInRules::default()
    })
    .await;
    let urls = documents(&sec, 9);
    let client = client(&db, 10.0, quick_policy());
    let results = fetch_all(&client, &urls, 4).await;
    for result in &results {
        assert!(matches!(result, Ok(Fetched::Document { .. })), "{result:?}");
    }
    let log = sec.log();
    assert!(log.failed > 0 && log.blocks == 0, "{log:?}");
    assert_eq!(
        client.counters().requests(),
        u64::try_from(log.requests.len()).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn absent_documents_unchanged_documents_and_a_bad_user_agent_each_say_so() {
    let db = database().await;
    let sec = SecStandIn::start(StandInRules::default()).await;
    let urls = documents(&sec, 1);
    let client = client(&db, 10.0, quick_policy());

    let missing = client
        .get(
            &format!("{}/api/xbrl/companyfacts/CIK0000000404.json", sec.url()),
            None,
        )
        .await;
    assert!(matches!(missing, Err(SecError::NotFound(_))), "{missing:?}");

    let Ok(Fetched::Document {
        body,
        last_modified,
    }) = client.get(&urls[0], None).await
    else {
        panic!("the document")
    };
    assert_eq!(&body[..], br#"{"cik": "0"}"#, "gzip decoded");
    assert_eq!(last_modified.as_deref(), Some(LAST_MODIFIED));
    let again = client.get(&urls[0], Some(LAST_MODIFIED)).await;
    assert!(matches!(again, Ok(Fetched::NotModified)), "{again:?}");

    let pool = lzstock_infra::postgres::pool(&db.url, 1).expect("pool");
    let anonymous = SecHttp::new(
        &SecConnection::new("LZStock").expect("client"),
        RequestBudget::new(pool, "sec", 10.0),
        quick_policy(),
    );
    let refused = anonymous.get(&urls[0], None).await;
    let Err(error) = refused else {
        panic!("{refused:?}")
    };
    assert!(matches!(error, SecError::UndeclaredAgent(_)), "{error:?}");
    assert!(error.stops_the_run());
}

mod company_sync {
    use chrono::NaiveDate;
    use lzstock_domain::company::{Fact, Filing, ListedCompany};
    use lzstock_domain::{Cik, Ticker};
    use lzstock_harness::database;
    use lzstock_infra::company_sync::PgCompanySync;

    fn listed(ticker: &str, cik: &str, name: &str) -> ListedCompany {
        ListedCompany {
            ticker: Ticker::parse(ticker).expect("test data"),
            cik: Cik::parse(cik).expect("test data"),
            name: name.into(),
        }
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test data")
    }

    fn fact(concept: &str, fy: i32, fp: &str, value: f64, accession: &str) -> Fact {
        Fact {
            concept: concept.into(),
            unit: "USD".into(),
            period_start: Some(date("2024-01-01")),
            period_end: date("2024-12-31"),
            fiscal_year: fy,
            fiscal_period: fp.into(),
            form: "10-K".into(),
            filed: date("2025-02-01"),
            accession: accession.into(),
            value,
        }
    }

    async fn events(pool: &sqlx::PgPool) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM outbox WHERE subject = 'lzstock.companies.facts_updated'",
        )
        .fetch_one(pool)
        .await
        .expect("test data")
    }

    #[tokio::test]
    async fn share_classes_of_one_filer_are_two_companies_and_a_second_upsert_writes_nothing() {
        let db = database().await;
        let store = PgCompanySync::new(db.pool.clone(), "lzstock");
        let map = [
            listed("GOOG", "1652044", "Alphabet Inc."),
            listed("GOOGL", "1652044", "Alphabet Inc."),
        ];
        assert_eq!(store.upsert_companies(&map).await.unwrap(), 2);
        assert_eq!(store.upsert_companies(&map).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn storing_the_same_facts_twice_writes_and_publishes_once() {
        let db = database().await;
        let store = PgCompanySync::new(db.pool.clone(), "lzstock");
        store
            .upsert_companies(&[listed("AAPL", "320193", "Apple Inc.")])
            .await
            .unwrap();
        let ticker = Ticker::parse("AAPL").unwrap();
        let filing = Filing {
            accession: "0000320193-25-000079".into(),
            filed: date("2025-02-01"),
            form: "10-K".into(),
        };
        let facts = vec![
            fact(
                "us-gaap:Revenues",
                2024,
                "FY",
                100.0,
                "0000320193-25-000079",
            ),
            // Listed twice in the document: stored once.
            fact(
                "us-gaap:Revenues",
                2024,
                "FY",
                100.0,
                "0000320193-25-000079",
            ),
            fact(
                "us-gaap:NetIncomeLoss",
                2024,
                "FY",
                20.0,
                "0000320193-25-000079",
            ),
            // Not a fiscal period the table knows: refused, the rest stored.
            fact("us-gaap:Assets", 2024, "X9", 1.0, "0000320193-25-000079"),
        ];
        let first = store.store_facts(&ticker, &filing, &facts).await.unwrap();
        assert_eq!(
            first.changed_concepts,
            ["us-gaap:NetIncomeLoss", "us-gaap:Revenues"]
        );
        assert_eq!(first.rejected, 1);
        assert_eq!(events(&db.pool).await, 1);
        assert_eq!(
            store.last_accession(&ticker).await.unwrap().as_deref(),
            Some("0000320193-25-000079")
        );

        let again = store.store_facts(&ticker, &filing, &facts).await.unwrap();
        assert!(again.changed_concepts.is_empty());
        assert_eq!(
            events(&db.pool).await,
            1,
            "nothing changed, nothing published"
        );

        // A restatement: the same fact of the same filing with another value.
        let restated = vec![fact(
            "us-gaap:Revenues",
            2024,
            "FY",
            101.0,
            "0000320193-25-000079",
        )];
        let changed = store
            .store_facts(&ticker, &filing, &restated)
            .await
            .unwrap();
        assert_eq!(changed.changed_concepts, ["us-gaap:Revenues"]);
        assert_eq!(events(&db.pool).await, 2);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_pushed_out_of_the_recent_filings_is_found_on_the_newest_older_page() {
    use lzstock_infra::sec::{Edgar, EdgarEndpoints};
    let db = database().await;
    let sec = SecStandIn::start(StandInRules::default()).await;
    let columns = |rows: &[(&str, &str, &str)]| {
        serde_json::json!({
            "accessionNumber": rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "filingDate": rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "form": rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        })
    };
    // A bank's filing list: the recent filings are all prospectus supplements; the newest
    // page holds more of them, the next one the 10-K, the oldest an older 10-K.
    sec.put(
        "/submissions/CIK0000000077.json",
        serde_json::json!({"cik": "0000000077", "filings": {
            "recent": columns(&[("0000000077-26-000900", "2026-03-02", "424B2"),
                                ("0000000077-26-000899", "2026-03-01", "FWP")]),
            "files": [
                {"name": "CIK0000000077-submissions-003.json", "filingCount": 1, "filingFrom": "2020-01-01", "filingTo": "2020-03-01"},
                {"name": "CIK0000000077-submissions-001.json", "filingCount": 2, "filingFrom": "2026-01-01", "filingTo": "2026-02-28"},
                {"name": "CIK0000000077-submissions-002.json", "filingCount": 2, "filingFrom": "2025-02-01", "filingTo": "2025-12-31"}
            ]
        }})
        .to_string(),
    );
    sec.put(
        "/submissions/CIK0000000077-submissions-001.json",
        columns(&[("0000000077-26-000100", "2026-02-28", "424B2")]).to_string(),
    );
    sec.put(
        "/submissions/CIK0000000077-submissions-002.json",
        columns(&[
            ("0000000077-25-000500", "2025-12-31", "8-K"),
            ("0000000077-25-000020", "2025-02-20", "10-K"),
        ])
        .to_string(),
    );
    sec.put(
        "/submissions/CIK0000000077-submissions-003.json",
        columns(&[("0000000077-20-000010", "2020-02-20", "10-K")]).to_string(),
    );
    let client = client(&db, 10.0, quick_policy());
    let edgar = Edgar::new(
        client,
        EdgarEndpoints {
            data_base: sec.url(),
            tickers_url: format!("{}/files/company_tickers.json", sec.url()),
        },
    );
    let cik = lzstock_domain::Cik::parse("77").expect("a CIK");
    let report = edgar
        .latest_report(cik)
        .await
        .expect("the filing list")
        .expect("a report");
    assert_eq!(
        (report.accession.as_str(), report.form.as_str()),
        ("0000000077-25-000020", "10-K")
    );
    // One request per page, newest first, none after the page that held it; each drew
    // from the fleet's budget like any other request.
    assert_eq!(
        sec.log().requests,
        [
            "/submissions/CIK0000000077.json",
            "/submissions/CIK0000000077-submissions-001.json",
            "/submissions/CIK0000000077-submissions-002.json",
        ]
    );
    assert_eq!(edgar.http().counters().requests(), 3);

    // Pages that end without a report: none, after reading each once.
    sec.put(
        "/submissions/CIK0000000078.json",
        serde_json::json!({"filings": {
            "recent": columns(&[("0000000078-26-000001", "2026-03-02", "424B2")]),
            "files": [{"name": "CIK0000000078-submissions-001.json"}]
        }})
        .to_string(),
    );
    sec.put(
        "/submissions/CIK0000000078-submissions-001.json",
        columns(&[("0000000078-19-000001", "2019-03-02", "S-1")]).to_string(),
    );
    let cik = lzstock_domain::Cik::parse("78").expect("a CIK");
    assert_eq!(edgar.latest_report(cik).await.expect("the list"), None);
    assert_eq!(sec.log().requests.len(), 5);
}
