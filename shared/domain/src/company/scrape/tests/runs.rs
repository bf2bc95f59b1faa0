//! A run across invocations: a deadline, a finished run opened again, a resumed one, a busy one.

use super::*;

#[tokio::test]
async fn a_passed_deadline_leaves_every_company_for_the_next_run_whatever_its_scope() {
    let sec = Sec {
        filings: HashMap::from([(1, Ok(Some(filing("a-1")))), (2, Ok(Some(filing("b-1"))))]),
        ..Sec::default()
    };
    let store = Store {
        companies: vec![company("AAA", 1), company("BBB", 2)],
        ..Store::default()
    };
    let usecase = ScrapeCompanies::new(sec, store, Runs::default(), 1);
    let past = Instant::now()
        .checked_sub(Duration::from_secs(1))
        .expect("an instant in the past");
    let report = usecase
        .execute(&ScrapeRun {
            deadline: Some(past),
            ..run("r1", scope(&["AAA"]))
        })
        .await
        .expect("report");
    assert_eq!(report.remaining, ["AAA"]);
    let next = usecase
        .execute(&run("r2", scope(&["BBB"])))
        .await
        .expect("next");
    assert_eq!(next.requested, 2);
    assert_eq!(next.synced, ["AAA", "BBB"]);
    assert!(usecase.runs.owed.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_finished_run_opened_again_gives_its_report_and_does_nothing() {
    let sec = Sec {
        filings: HashMap::from([(1, Ok(Some(filing("a-1"))))]),
        ..Sec::default()
    };
    let store = Store {
        companies: vec![company("AAA", 1)],
        ..Store::default()
    };
    let usecase = ScrapeCompanies::new(sec, store, Runs::default(), 1);
    let first = usecase
        .execute(&run("fire-1", Scope::All))
        .await
        .expect("first");
    let again = usecase
        .execute(&run("fire-1", Scope::All))
        .await
        .expect("again");
    assert!(again.repeated);
    assert_eq!(again.synced, first.synced);
    assert_eq!(usecase.source.facts_fetched.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_unfinished_run_resumed_does_only_what_its_first_attempt_did_not() {
    let sec = Sec {
        filings: HashMap::from([(1, Ok(Some(filing("a-1")))), (2, Ok(Some(filing("b-1"))))]),
        ..Sec::default()
    };
    let store = Store {
        companies: vec![company("AAA", 1), company("BBB", 2)],
        ..Store::default()
    };
    let runs = Runs::default();
    // The first attempt synced AAA and was cut off before closing the run.
    runs.outcomes.lock().expect("lock").insert(
        "fire-1".into(),
        vec![(ticker("AAA"), CompanyOutcome::Synced)],
    );
    let usecase = ScrapeCompanies::new(sec, store, runs, 1);
    let report = usecase
        .execute(&run("fire-1", Scope::All))
        .await
        .expect("report");
    assert_eq!(report.synced, ["AAA", "BBB"]);
    assert_eq!(usecase.source.facts_fetched.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_run_another_invocation_holds_is_refused_as_busy() {
    let runs = Runs::default();
    runs.busy.lock().expect("lock").insert("fire-1".into());
    let usecase = ScrapeCompanies::new(Sec::default(), Store::default(), runs, 1);
    assert!(matches!(
        usecase.execute(&run("fire-1", Scope::All)).await,
        Err(ScrapeError::Busy(id)) if id == "fire-1"
    ));
}
