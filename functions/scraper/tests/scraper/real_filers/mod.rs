//! The SEC sync on real filers: SEC's own documents for Apple, NVIDIA, Walmart, Alphabet,
//! an IFRS 20-F filer (Logistic Properties of the Americas) and Microsoft, read at run time
//! from `../shared/sec-samples/` and served by the stand-in as SEC serves them; the scraper
//! binary syncs them into PostgreSQL and every indicator read back is compared with figures
//! worked out by hand from each filing's own facts. Skipped, saying so, when the samples are
//! absent.
//!
//! Each input figure is written with its concept and the accession number of the filing
//! that reported it, so a reader can check it against the filing on EDGAR.

mod figures;
mod stand_in;

use lzstock_domain::company::{
    annual_insights, insight_concepts, insights_of, CompanyStore, Fact, Insight, Reading,
};
use lzstock_domain::dashboard::Indicator;
use lzstock_domain::Ticker;
use lzstock_harness::sec_samples::SecSamples;
use lzstock_harness::TestDatabase;
use lzstock_infra::companies::PgCompanyStore;
use serde_json::json;

use figures::{close, day, expected, figures, Want, YEARS};
use stand_in::{sync, Synced};

async fn stored_facts(db: &TestDatabase, ticker: &str) -> Vec<Fact> {
    let store = PgCompanyStore::new(db.pool.clone());
    store
        .facts_of(
            &[Ticker::parse(ticker).expect("ticker")],
            &insight_concepts(),
        )
        .await
        .expect("facts")
        .into_iter()
        .map(|(_, fact)| fact)
        .collect()
}

fn reading(insights: &[Insight], indicator: Indicator) -> &Reading {
    &insights
        .iter()
        .find(|i| i.indicator == indicator)
        .expect("every indicator")
        .reading
}

fn value_of(insights: &[Insight], indicator: Indicator) -> (f64, Vec<String>) {
    match reading(insights, indicator) {
        Reading::Value {
            value, concepts, ..
        } => (*value, concepts.clone()),
        Reading::NotAvailable { reason } => panic!("{indicator}: {reason}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_indicator_of_six_real_filers_matches_the_figures_worked_by_hand() {
    let Some(samples) = SecSamples::find() else {
        return;
    };
    let Synced { db, sec, report } = sync(&samples).await;
    assert_eq!(
        report["synced"],
        json!(["AAPL", "GOOGL", "LPA", "NVDA", "WMT"]),
        "{report}"
    );
    let failed = report["failed"].as_array().expect("failed");
    assert_eq!(failed.len(), 1, "{report}");
    assert_eq!(failed[0]["ticker"], "MSFT");
    assert!(
        failed[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("SEC has no") && r.contains("CIK0000789019")),
        "a company with no companyfacts fails, saying so: {report}"
    );

    // Walmart's newest report sits on the first older page of its filing list: found there,
    // with one request for that page and none for the page after it.
    let requests = sec.log().requests;
    assert!(requests.contains(&"/submissions/CIK0000104169-submissions-001.json".to_owned()));
    assert!(!requests.contains(&"/submissions/CIK0000104169-submissions-002.json".to_owned()));
    let walmart_filing: String =
        sqlx::query_scalar("SELECT last_accession FROM company_syncs WHERE ticker = 'WMT'")
            .fetch_one(&db.pool)
            .await
            .expect("Walmart synced");
    assert_eq!(
        walmart_filing, "0000104169-26-000102",
        "its 10-Q of 2026-05-29"
    );

    let store = PgCompanyStore::new(db.pool.clone());
    let tickers: Vec<Ticker> = YEARS
        .iter()
        .map(|y| Ticker::parse(y.ticker).expect("ticker"))
        .collect();
    let all = insights_of(&store, &tickers, &Indicator::ALL)
        .await
        .expect("insights");
    for (year, company) in YEARS.iter().zip(&all) {
        let ticker = year.ticker;
        // Each hand-written figure is the filing's own.
        let facts = stored_facts(&db, ticker).await;
        for (figure, start, end) in figures(year) {
            let found = facts.iter().find(|f| {
                f.concept == figure.concept
                    && f.accession == figure.accession
                    && f.period_start == start.map(day)
                    && f.period_end == day(end)
            });
            let Some(found) = found else {
                panic!("{ticker}: {figure:?} for {start:?}..{end} is not in the filing")
            };
            assert!(
                close(found.value, figure.value),
                "{ticker}: {figure:?} is {}",
                found.value
            );
        }
        for Want {
            indicator,
            value,
            concepts,
            derived,
            start,
        } in expected(year)
        {
            let Reading::Value {
                value: got,
                concepts: got_concepts,
                derived: got_derived,
                period,
                unit,
            } = reading(&company.insights, indicator)
            else {
                panic!(
                    "{ticker} {indicator}: {:?}",
                    reading(&company.insights, indicator)
                )
            };
            assert!(close(*got, value), "{ticker} {indicator}: {got} != {value}");
            assert_eq!(got_concepts, &concepts, "{ticker} {indicator}");
            assert_eq!(*got_derived, derived, "{ticker} {indicator}");
            assert_eq!(period.end, day(year.end), "{ticker} {indicator}");
            assert_eq!(period.start, start.map(day), "{ticker} {indicator}");
            let want_unit = if indicator == Indicator::EpsDiluted {
                "USD/shares"
            } else {
                "ratio"
            };
            assert_eq!(unit, want_unit, "{ticker} {indicator}");
        }
    }

    // The quirks the documents hold, pinned on what was stored.
    let nvidia = stored_facts(&db, "NVDA").await;
    let apple = stored_facts(&db, "AAPL").await;
    let until = |facts: &[Fact], end: &str| -> Vec<Fact> {
        facts
            .iter()
            .filter(|f| f.period_end <= day(end))
            .cloned()
            .collect()
    };

    // A concept renamed and renamed back: NVIDIA's revenue is `Revenues` to fiscal 2016,
    // only `RevenueFromContractWithCustomerExcludingAssessedTax` for fiscal 2019, and
    // `Revenues` again from fiscal 2023. Fiscal 2019 (to 2019-01-27): 11,716 million (10-K
    // 0001045810-21-000010, as a comparative) over fiscal 2018's 9,714 million (10-K
    // 0001045810-20-000010).
    let contract = "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax";
    let (growth, concepts) = value_of(
        &annual_insights(&until(&nvidia, "2019-01-27")),
        Indicator::RevenueGrowthYoy,
    );
    assert!(close(growth, 11_716.0 / 9_714.0 - 1.0), "{growth}");
    assert_eq!(concepts, [contract]);
    // Fiscal 2023 (to 2023-01-29), back under `Revenues`: 26,974 million (10-K
    // 0001045810-25-000023) over fiscal 2022's 26,914 million (10-K 0001045810-24-000029).
    let (growth, concepts) = value_of(
        &annual_insights(&until(&nvidia, "2023-01-29")),
        Indicator::RevenueGrowthYoy,
    );
    assert!(close(growth, 26_974.0 / 26_914.0 - 1.0), "{growth}");
    assert_eq!(concepts, ["us-gaap:Revenues"]);

    // Quarter-length facts labelled FY inside a 10-K: Apple's 10-K 0000320193-19-000119
    // reports each quarter's revenue with `fp` FY; its year is still the year: 260,174
    // million over 265,595 million.
    let one_filing: Vec<Fact> = apple
        .iter()
        .filter(|f| f.accession == "0000320193-19-000119")
        .cloned()
        .collect();
    assert!(
        one_filing.iter().any(|f| f.concept == contract
            && f.fiscal_period == "FY"
            && f.period_start
                .is_some_and(|s| (f.period_end - s).num_days() < 100)),
        "the filing labels quarters FY"
    );
    let insights = annual_insights(&one_filing);
    let (growth, _) = value_of(&insights, Indicator::RevenueGrowthYoy);
    assert!(close(growth, 260_174.0 / 265_595.0 - 1.0), "{growth}");
    let Reading::Value { period, .. } = reading(&insights, Indicator::NetMargin) else {
        panic!("net margin")
    };
    assert_eq!(period.start, Some(day("2018-09-30")));

    // 52/53-week years: Apple's fiscal 2023 ran 53 weeks (2022-09-25 to 2023-09-30): 383,285
    // million (10-K 0000320193-25-000079) over fiscal 2022's 394,328 million (10-K
    // 0000320193-24-000123); fiscal 2024, 52 weeks, over it: 391,035 / 383,285.
    let insights = annual_insights(&until(&apple, "2023-09-30"));
    let (growth, _) = value_of(&insights, Indicator::RevenueGrowthYoy);
    assert!(close(growth, 383_285.0 / 394_328.0 - 1.0), "{growth}");
    let Reading::Value { period, .. } = reading(&insights, Indicator::RevenueGrowthYoy) else {
        panic!("growth")
    };
    assert_eq!((period.end - period.start.expect("a year")).num_days(), 370);
    let (growth, _) = value_of(
        &annual_insights(&until(&apple, "2024-09-28")),
        Indicator::RevenueGrowthYoy,
    );
    assert!(close(growth, 391_035.0 / 383_285.0 - 1.0), "{growth}");

    // A stock split restates EPS: NVIDIA's fiscal 2024 diluted EPS was 11.93 in its 10-K
    // 0001045810-24-000029, and 1.19 after the 10-for-1 split of June 2024 in the 10-Ks
    // 0001045810-25-000023 and 0001045810-26-000021: the restated figure is read.
    let (eps, _) = value_of(
        &annual_insights(&until(&nvidia, "2024-01-28")),
        Indicator::EpsDiluted,
    );
    assert!(close(eps, 1.19), "{eps}");
    let as_first_filed: Vec<Fact> = nvidia
        .iter()
        .filter(|f| f.filed <= day("2024-02-21"))
        .cloned()
        .collect();
    let (eps, _) = value_of(&annual_insights(&as_first_filed), Indicator::EpsDiluted);
    assert!(close(eps, 11.93), "{eps}");

    // Several currencies in one IFRS file: LPA reports exchange rates and a sale in COP, CRC
    // and PEN beside its USD statements; they were kept, and no indicator read them.
    let currencies: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT unit FROM company_facts WHERE ticker = 'LPA' AND unit IN ('COP', 'CRC', 'PEN')
         ORDER BY unit",
    )
    .fetch_all(&db.pool)
    .await
    .expect("units");
    assert_eq!(currencies, ["COP", "CRC", "PEN"]);
}
