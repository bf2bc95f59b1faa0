//! SEC's ticker map: refreshed, unavailable with and without an earlier copy, refused for good.

use super::*;

fn refreshing(id: &str, scope: Scope) -> ScrapeRun {
    ScrapeRun {
        refresh_listing: true,
        ..run(id, scope)
    }
}

#[tokio::test]
async fn no_ticker_map_and_no_earlier_copy_fails_every_company_in_scope_and_syncs_nothing() {
    let sec = Sec {
        listing_down: Some(SourceError::Failed("connection refused".into())),
        ..Sec::default()
    };
    // A fresh database: dashboards track five tickers, no company is known.
    let store = Store {
        tracked: vec!["AAPL", "MSFT", "NVDA", "WMT", "GOOGL"],
        ..Store::default()
    };
    let usecase = ScrapeCompanies::new(sec, store, Runs::default(), 2);
    let report = usecase
        .execute(&refreshing("r1", Scope::Dashboards))
        .await
        .expect("report");
    assert_eq!(report.requested, 5);
    assert!(report.synced.is_empty() && report.unchanged.is_empty() && report.skipped.is_empty());
    let failed: Vec<&str> = report.failed.iter().map(|f| f.ticker.as_str()).collect();
    assert_eq!(failed, ["AAPL", "GOOGL", "MSFT", "NVDA", "WMT"]);
    let why =
        "SEC's ticker map could not be fetched (connection refused) and no earlier copy exists";
    assert!(report.failed.iter().all(|f| f.reason == why), "{report:?}");
    assert_eq!(report.stopped.as_deref(), Some(why));
    assert_eq!(usecase.source.filings_asked.load(Ordering::SeqCst), 0);
    // Left undone, so the retry of the delivery tries SEC again.
    assert_eq!(*usecase.runs.released.lock().expect("lock"), ["r1"]);
    assert!(usecase.runs.finished.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn no_ticker_map_with_an_earlier_copy_goes_on_from_it_and_says_so() {
    let sec = Sec {
        listing_down: Some(SourceError::Failed("connection refused".into())),
        filings: HashMap::from([(1, Ok(Some(filing("a-1"))))]),
        ..Sec::default()
    };
    let store = Store {
        companies: vec![company("AAA", 1)],
        tracked: vec!["AAA", "ZZZ"],
        listing_at: chrono::DateTime::from_timestamp(1_796_000_000, 0),
        ..Store::default()
    };
    let usecase = ScrapeCompanies::new(sec, store, Runs::default(), 2);
    let report = usecase
        .execute(&refreshing("r1", Scope::Dashboards))
        .await
        .expect("report");
    assert_eq!(report.synced, ["AAA"]);
    assert_eq!(report.stopped, None);
    let note = report.listing_unavailable.as_deref().expect("says so");
    assert!(
        note.contains("connection refused") && note.contains("copy fetched at 2026-"),
        "{note}"
    );
    // A dashboard's ticker the copy does not list is in the report too.
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].ticker, "ZZZ");
    assert_eq!(report.failed[0].reason, "SEC does not list this ticker");
    assert_eq!(report.requested, 2);
}

#[tokio::test]
async fn a_ticker_map_refused_for_good_leaves_every_company_owed() {
    let sec = Sec {
        listing_down: Some(SourceError::Stop("SEC refuses the User-Agent".into())),
        ..Sec::default()
    };
    let store = Store {
        companies: vec![company("AAA", 1), company("BBB", 2)],
        tracked: vec!["AAA", "BBB"],
        ..Store::default()
    };
    let usecase = ScrapeCompanies::new(sec, store, Runs::default(), 2);
    let report = usecase
        .execute(&refreshing("r1", Scope::Dashboards))
        .await
        .expect("report");
    assert_eq!(report.remaining, ["AAA", "BBB"]);
    assert!(report.stopped.is_some());
    assert_eq!(usecase.runs.owed.lock().expect("lock").len(), 2);
}
