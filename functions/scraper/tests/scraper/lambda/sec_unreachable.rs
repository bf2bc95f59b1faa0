//! SEC unreachable: with no earlier listing every tracked company fails and so does the delivery; with one, the run goes on from it and says so.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn sec_unreachable_on_a_fresh_database_fails_every_tracked_company_and_the_delivery() {
    let (db, bus) = tokio::join!(database(), nats());
    // Three dashboards tracking five tickers; no company has ever been listed.
    for tickers in [
        "ARRAY['AAPL', 'MSFT']",
        "ARRAY['NVDA', 'AAPL']",
        "ARRAY['WMT', 'GOOGL']",
    ] {
        sqlx::query(&format!(
            "INSERT INTO dashboards (id, owner_id, name, tickers)
             VALUES (gen_random_uuid(), 'ada', 'Mine', {tickers})"
        ))
        .execute(&db.pool)
        .await
        .expect("dashboard");
    }
    // SEC at a port nothing listens on.
    let nowhere = format!("http://127.0.0.1:{}", lzstock_harness::process::free_port());
    let mut env = base_env();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    env.extend(bus.env());
    env.push(("SEC_BASE_URL".into(), nowhere.clone()));
    env.push((
        "SEC_TICKERS_URL".into(),
        format!("{nowhere}/files/company_tickers.json"),
    ));
    let tracked = json!(["AAPL", "GOOGL", "MSFT", "NVDA", "WMT"]);

    // On Lambda: the delivery fails (EventBridge retries it, then its dead-letter queue has
    // it), naming why, and the failures are counted.
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).expect("emulator");
    let function = emulator
        .run_function(SCRAPER.as_ref(), &env)
        .expect("function");
    let failed = emulator.invoke(&scheduled_event()).await;
    let Err(lzstock_harness::lambda::InvokeError::Function { body, .. }) = failed else {
        panic!("the delivery must fail: {failed:?}")
    };
    assert!(
        body.contains("ticker map could not be fetched") && body.contains("no earlier copy"),
        "{body}"
    );
    assert!(body.contains("5 of 5 companies failed"), "{body}");
    let stdout = function.stdout();
    let failed_total: f64 = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .filter_map(|line| lzstock_harness::emf::check(line).ok())
        .filter_map(|m| m["lzstock_scraper_companies_failed_total"].as_f64())
        .sum();
    assert_eq!(failed_total, 5.0, "{stdout}");

    // The same fire delivered again (EventBridge's retry) tries SEC again: the run was left
    // undone, not closed with the failure.
    let again = emulator.invoke(&scheduled_event()).await;
    assert!(again.is_err(), "{again:?}");
    let attempts: i64 =
        sqlx::query_scalar("SELECT count(*) FROM scrape_runs WHERE finished_at IS NULL")
            .fetch_one(&db.pool)
            .await
            .expect("runs");
    assert_eq!(attempts, 1);

    // The same as a one-off run: the report lists every tracked company as failed, nothing
    // as synced, and says the run stopped; the process exits non-zero.
    let output = tokio::process::Command::new(SCRAPER)
        .args(["run"])
        .envs(env.iter().cloned())
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .await
        .expect("the scraper runs");
    assert!(!output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert_eq!(report["requested"], 5, "{report}");
    assert_eq!(report["synced"], json!([]), "{report}");
    let failed: Vec<&Value> = report["failed"]
        .as_array()
        .expect("failed")
        .iter()
        .map(|f| &f["ticker"])
        .collect();
    assert_eq!(json!(failed), tracked, "{report}");
    assert!(report["stopped"]
        .as_str()
        .is_some_and(|r| r.contains("no earlier copy")));
}

#[tokio::test(flavor = "multi_thread")]
async fn sec_unreachable_after_an_earlier_listing_goes_on_from_it_and_says_so() {
    let sec = sec().await;
    let (db, env) = setup(&sec).await;
    let first = run_once(&env, &[]).await;
    assert_eq!(first["synced"], json!(["AAPL", "MSFT"]), "{first}");
    // The map is due again, and SEC now has no map to give (its documents stay).
    sqlx::query("UPDATE sec_listing SET fetched_at = now() - interval '2 days'")
        .execute(&db.pool)
        .await
        .expect("listing aged");
    sec.remove("/files/company_tickers.json");
    let second = run_once(&env, &[]).await;
    assert_eq!(second["skipped"], json!(["AAPL", "MSFT"]), "{second}");
    assert!(second.get("stopped").is_none(), "{second}");
    let note = second["listing_unavailable"].as_str().expect("says so");
    assert!(note.contains("went on from the copy fetched at"), "{note}");
}
