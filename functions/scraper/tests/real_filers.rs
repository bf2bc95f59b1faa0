//! The SEC sync on real filers: SEC's own documents for Apple, NVIDIA, Walmart, Alphabet,
//! an IFRS 20-F filer (Logistic Properties of the Americas) and Microsoft, read at run time
//! from `../shared/sec-samples/` and served by the stand-in as SEC serves them; the scraper
//! binary syncs them into PostgreSQL and every indicator read back is compared with figures
//! worked out by hand from each filing's own facts. Skipped, saying so, when the samples are
//! absent.
//!
//! Each input figure is written with its concept and the accession number of the filing
//! that reported it, so a reader can check it against the filing on EDGAR.

use chrono::NaiveDate;
use lzstock_domain::company::{
    annual_insights, insight_concepts, insights_of, CompanyStore, Fact, Insight, Reading,
};
use lzstock_domain::dashboard::Indicator;
use lzstock_domain::Ticker;
use lzstock_harness::sec_samples::SecSamples;
use lzstock_harness::sec_standin::{SecStandIn, StandInRules};
use lzstock_harness::{base_env, database, nats, TestDatabase};
use lzstock_infra::companies::PgCompanyStore;
use serde_json::{json, Value};

/// A figure a filing reported.
#[derive(Debug, Clone, Copy)]
struct Figure {
    concept: &'static str,
    accession: &'static str,
    value: f64,
}

const fn fig(concept: &'static str, accession: &'static str, value: f64) -> Figure {
    Figure {
        concept,
        accession,
        value,
    }
}

/// Total liabilities: as reported, or derived from the same filing's balance sheet.
#[derive(Debug, Clone, Copy)]
enum Liabilities {
    Reported(Figure),
    Derived {
        liabilities_and_equity: Figure,
        total_equity: Figure,
        temporary_equity: Option<Figure>,
    },
}

/// A company's latest fiscal year, worked out by hand.
#[derive(Debug, Clone, Copy)]
struct Year {
    ticker: &'static str,
    /// The fiscal year: its first and last day.
    start: &'static str,
    end: &'static str,
    /// The previous fiscal year's first and last day.
    previous: (&'static str, &'static str),
    revenue: Figure,
    previous_revenue: Figure,
    net_income: Figure,
    eps_diluted: Figure,
    liabilities: Liabilities,
    equity: Figure,
    current_assets: Figure,
    current_liabilities: Figure,
}

const APPLE_10K_FY2025: &str = "0000320193-25-000079";
const NVIDIA_10K_FY2026: &str = "0001045810-26-000021";
const WALMART_10K_FY2026: &str = "0000104169-26-000055";
const ALPHABET_10K_FY2025: &str = "0001652044-26-000018";
const LPA_20F_FY2024: &str = "0001997711-25-000030";

/// Apple's fiscal 2025 (52 weeks to 2025-09-27), its 10-K filed 2025-10-31.
const APPLE: Year = Year {
    ticker: "AAPL",
    start: "2024-09-29",
    end: "2025-09-27",
    previous: ("2023-10-01", "2024-09-28"),
    revenue: fig(
        "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax",
        APPLE_10K_FY2025,
        416_161_000_000.0,
    ),
    previous_revenue: fig(
        "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax",
        APPLE_10K_FY2025,
        391_035_000_000.0,
    ),
    net_income: fig("us-gaap:NetIncomeLoss", APPLE_10K_FY2025, 112_010_000_000.0),
    eps_diluted: fig("us-gaap:EarningsPerShareDiluted", APPLE_10K_FY2025, 7.46),
    liabilities: Liabilities::Reported(fig(
        "us-gaap:Liabilities",
        APPLE_10K_FY2025,
        285_508_000_000.0,
    )),
    equity: fig(
        "us-gaap:StockholdersEquity",
        APPLE_10K_FY2025,
        73_733_000_000.0,
    ),
    current_assets: fig("us-gaap:AssetsCurrent", APPLE_10K_FY2025, 147_957_000_000.0),
    current_liabilities: fig(
        "us-gaap:LiabilitiesCurrent",
        APPLE_10K_FY2025,
        165_631_000_000.0,
    ),
};

/// NVIDIA's fiscal 2026 (52 weeks to 2026-01-25), its 10-K filed 2026-02-25.
const NVIDIA: Year = Year {
    ticker: "NVDA",
    start: "2025-01-27",
    end: "2026-01-25",
    previous: ("2024-01-29", "2025-01-26"),
    revenue: fig("us-gaap:Revenues", NVIDIA_10K_FY2026, 215_938_000_000.0),
    previous_revenue: fig("us-gaap:Revenues", NVIDIA_10K_FY2026, 130_497_000_000.0),
    net_income: fig(
        "us-gaap:NetIncomeLoss",
        NVIDIA_10K_FY2026,
        120_067_000_000.0,
    ),
    eps_diluted: fig("us-gaap:EarningsPerShareDiluted", NVIDIA_10K_FY2026, 4.90),
    liabilities: Liabilities::Reported(fig(
        "us-gaap:Liabilities",
        NVIDIA_10K_FY2026,
        49_510_000_000.0,
    )),
    equity: fig(
        "us-gaap:StockholdersEquity",
        NVIDIA_10K_FY2026,
        157_293_000_000.0,
    ),
    current_assets: fig(
        "us-gaap:AssetsCurrent",
        NVIDIA_10K_FY2026,
        125_605_000_000.0,
    ),
    current_liabilities: fig(
        "us-gaap:LiabilitiesCurrent",
        NVIDIA_10K_FY2026,
        32_163_000_000.0,
    ),
};

/// Walmart's fiscal 2026 (to 2026-01-31), its 10-K filed 2026-03-13. It reports no
/// `Liabilities`: 284,668 − 105,887 − 293 = 178,488 million.
const WALMART: Year = Year {
    ticker: "WMT",
    start: "2025-02-01",
    end: "2026-01-31",
    previous: ("2024-02-01", "2025-01-31"),
    revenue: fig("us-gaap:Revenues", WALMART_10K_FY2026, 713_163_000_000.0),
    previous_revenue: fig("us-gaap:Revenues", WALMART_10K_FY2026, 680_985_000_000.0),
    net_income: fig(
        "us-gaap:NetIncomeLoss",
        WALMART_10K_FY2026,
        21_893_000_000.0,
    ),
    eps_diluted: fig("us-gaap:EarningsPerShareDiluted", WALMART_10K_FY2026, 2.73),
    liabilities: Liabilities::Derived {
        liabilities_and_equity: fig(
            "us-gaap:LiabilitiesAndStockholdersEquity",
            WALMART_10K_FY2026,
            284_668_000_000.0,
        ),
        total_equity: fig(
            "us-gaap:StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest",
            WALMART_10K_FY2026,
            105_887_000_000.0,
        ),
        temporary_equity: Some(fig(
            "us-gaap:RedeemableNoncontrollingInterestEquityCarryingAmount",
            WALMART_10K_FY2026,
            293_000_000.0,
        )),
    },
    equity: fig(
        "us-gaap:StockholdersEquity",
        WALMART_10K_FY2026,
        99_617_000_000.0,
    ),
    current_assets: fig(
        "us-gaap:AssetsCurrent",
        WALMART_10K_FY2026,
        84_874_000_000.0,
    ),
    current_liabilities: fig(
        "us-gaap:LiabilitiesCurrent",
        WALMART_10K_FY2026,
        107_469_000_000.0,
    ),
};

/// Alphabet's 2025, its 10-K filed 2026-02-05.
const ALPHABET: Year = Year {
    ticker: "GOOGL",
    start: "2025-01-01",
    end: "2025-12-31",
    previous: ("2024-01-01", "2024-12-31"),
    revenue: fig("us-gaap:Revenues", ALPHABET_10K_FY2025, 402_836_000_000.0),
    previous_revenue: fig("us-gaap:Revenues", ALPHABET_10K_FY2025, 350_018_000_000.0),
    net_income: fig(
        "us-gaap:NetIncomeLoss",
        ALPHABET_10K_FY2025,
        132_170_000_000.0,
    ),
    eps_diluted: fig(
        "us-gaap:EarningsPerShareDiluted",
        ALPHABET_10K_FY2025,
        10.81,
    ),
    liabilities: Liabilities::Reported(fig(
        "us-gaap:Liabilities",
        ALPHABET_10K_FY2025,
        180_016_000_000.0,
    )),
    equity: fig(
        "us-gaap:StockholdersEquity",
        ALPHABET_10K_FY2025,
        415_265_000_000.0,
    ),
    current_assets: fig(
        "us-gaap:AssetsCurrent",
        ALPHABET_10K_FY2025,
        206_038_000_000.0,
    ),
    current_liabilities: fig(
        "us-gaap:LiabilitiesCurrent",
        ALPHABET_10K_FY2025,
        102_745_000_000.0,
    ),
};

/// Logistic Properties of the Americas' 2024 (IFRS, in USD), its 20-F filed 2025-04-02: a
/// loss, so a negative net margin and EPS.
const LPA: Year = Year {
    ticker: "LPA",
    start: "2024-01-01",
    end: "2024-12-31",
    previous: ("2023-01-01", "2023-12-31"),
    revenue: fig("ifrs-full:Revenue", LPA_20F_FY2024, 43_862_372.0),
    previous_revenue: fig("ifrs-full:Revenue", LPA_20F_FY2024, 39_436_343.0),
    net_income: fig(
        "ifrs-full:ProfitLossAttributableToOwnersOfParent",
        LPA_20F_FY2024,
        -29_285_428.0,
    ),
    eps_diluted: fig(
        "ifrs-full:DilutedEarningsLossPerShare",
        LPA_20F_FY2024,
        -0.94,
    ),
    liabilities: Liabilities::Reported(fig("ifrs-full:Liabilities", LPA_20F_FY2024, 336_218_160.0)),
    equity: fig(
        "ifrs-full:EquityAttributableToOwnersOfParent",
        LPA_20F_FY2024,
        228_964_876.0,
    ),
    current_assets: fig("ifrs-full:CurrentAssets", LPA_20F_FY2024, 40_001_754.0),
    current_liabilities: fig("ifrs-full:CurrentLiabilities", LPA_20F_FY2024, 26_524_836.0),
};

const YEARS: [Year; 5] = [APPLE, NVIDIA, WALMART, ALPHABET, LPA];

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

/// What an indicator should read.
struct Want {
    indicator: Indicator,
    value: f64,
    concepts: Vec<&'static str>,
    derived: bool,
    /// The period's first day; `None` for a balance at the year end.
    start: Option<&'static str>,
}

/// What each indicator of `year` should read.
fn expected(year: &Year) -> Vec<Want> {
    let (total, liability_concepts, derived) = match year.liabilities {
        Liabilities::Reported(total) => (total.value, vec![total.concept], false),
        Liabilities::Derived {
            liabilities_and_equity,
            total_equity,
            temporary_equity,
        } => (
            liabilities_and_equity.value
                - total_equity.value
                - temporary_equity.map_or(0.0, |t| t.value),
            [
                Some(liabilities_and_equity),
                Some(total_equity),
                temporary_equity,
            ]
            .into_iter()
            .flatten()
            .map(|f| f.concept)
            .collect(),
            true,
        ),
    };
    let revenue_concepts = if year.previous_revenue.concept == year.revenue.concept {
        vec![year.revenue.concept]
    } else {
        vec![year.previous_revenue.concept, year.revenue.concept]
    };
    vec![
        Want {
            indicator: Indicator::RevenueGrowthYoy,
            value: (year.revenue.value - year.previous_revenue.value) / year.previous_revenue.value,
            concepts: revenue_concepts,
            derived: false,
            start: Some(year.start),
        },
        Want {
            indicator: Indicator::NetMargin,
            value: year.net_income.value / year.revenue.value,
            concepts: vec![year.net_income.concept, year.revenue.concept],
            derived: false,
            start: Some(year.start),
        },
        Want {
            indicator: Indicator::EpsDiluted,
            value: year.eps_diluted.value,
            concepts: vec![year.eps_diluted.concept],
            derived: false,
            start: Some(year.start),
        },
        Want {
            indicator: Indicator::DebtToEquity,
            value: total / year.equity.value,
            concepts: liability_concepts
                .into_iter()
                .chain([year.equity.concept])
                .collect(),
            derived,
            start: None,
        },
        Want {
            indicator: Indicator::CurrentRatio,
            value: year.current_assets.value / year.current_liabilities.value,
            concepts: vec![
                year.current_assets.concept,
                year.current_liabilities.concept,
            ],
            derived: false,
            start: None,
        },
    ]
}

/// Every figure `year` is worked out from, with the period it belongs to.
fn figures(year: &Year) -> Vec<(Figure, Option<&'static str>, &'static str)> {
    let flow = Some(year.start);
    let mut all = vec![
        (year.revenue, flow, year.end),
        (
            year.previous_revenue,
            Some(year.previous.0),
            year.previous.1,
        ),
        (year.net_income, flow, year.end),
        (year.eps_diluted, flow, year.end),
        (year.equity, None, year.end),
        (year.current_assets, None, year.end),
        (year.current_liabilities, None, year.end),
    ];
    match year.liabilities {
        Liabilities::Reported(total) => all.push((total, None, year.end)),
        Liabilities::Derived {
            liabilities_and_equity,
            total_equity,
            temporary_equity,
        } => {
            for figure in [
                Some(liabilities_and_equity),
                Some(total_equity),
                temporary_equity,
            ]
            .into_iter()
            .flatten()
            {
                all.push((figure, None, year.end));
            }
        }
    }
    all
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

/// A submissions document naming only `companyfacts`' newest report (the samples hold no
/// filing list of Alphabet or LPA).
fn submissions_from_facts(cik: &str, facts: &Value) -> Value {
    let mut newest: Option<(String, String, String)> = None;
    for concepts in facts["facts"]
        .as_object()
        .into_iter()
        .flat_map(|t| t.values())
    {
        for concept in concepts.as_object().into_iter().flat_map(|c| c.values()) {
            for entries in concept["units"]
                .as_object()
                .into_iter()
                .flat_map(|u| u.values())
            {
                for entry in entries.as_array().into_iter().flatten() {
                    let (Some(form), Some(filed), Some(accession)) = (
                        entry["form"].as_str(),
                        entry["filed"].as_str(),
                        entry["accn"].as_str(),
                    ) else {
                        continue;
                    };
                    if ["10-K", "10-Q", "20-F", "20-F/A", "10-K/A", "10-Q/A"].contains(&form)
                        && newest
                            .as_ref()
                            .is_none_or(|(f, a, _)| (filed, accession) > (f.as_str(), a.as_str()))
                    {
                        newest = Some((filed.to_owned(), accession.to_owned(), form.to_owned()));
                    }
                }
            }
        }
    }
    let (filed, accession, form) = newest.expect("a report");
    json!({"cik": cik, "filings": {"recent": {
        "accessionNumber": [accession], "filingDate": [filed], "form": [form]
    }, "files": []}})
}

/// Walmart's filing list cut as a heavy filer's is: the recent filings only those after
/// its newest report, the rest on two older pages, newest first, with the newest report
/// (and the newest 10-K) on the first of them. Returns the document and the pages.
fn walmart_paged(samples: &SecSamples) -> (Value, Vec<(String, Value)>) {
    let mut document = samples.json("submissions/CIK0000104169.json");
    let recent = document["filings"]["recent"].take();
    let forms: Vec<String> = recent["form"]
        .as_array()
        .expect("forms")
        .iter()
        .map(|f| f.as_str().unwrap_or_default().to_owned())
        .collect();
    let first_report = forms
        .iter()
        .position(|f| ["10-K", "10-Q"].contains(&f.as_str()))
        .expect("Walmart filed reports");
    let slice = |from: usize, to: usize| -> Value {
        let columns = recent.as_object().expect("columns");
        Value::Object(
            columns
                .iter()
                .map(|(key, column)| {
                    let rows = column.as_array().map_or(&[][..], Vec::as_slice);
                    (
                        key.clone(),
                        Value::from(rows[from.min(rows.len())..to.min(rows.len())].to_vec()),
                    )
                })
                .collect(),
        )
    };
    let split = first_report + 1000;
    let pages = vec![
        (
            "CIK0000104169-submissions-001.json".to_owned(),
            slice(first_report, split),
        ),
        (
            "CIK0000104169-submissions-002.json".to_owned(),
            slice(split, forms.len()),
        ),
    ];
    let files: Vec<Value> = pages
        .iter()
        .map(|(name, page)| {
            let dates = page["filingDate"].as_array().expect("dates");
            json!({"name": name, "filingCount": dates.len(),
                   "filingFrom": dates.last(), "filingTo": dates.first()})
        })
        .collect();
    document["filings"] = json!({"recent": slice(0, first_report), "files": files});
    (document, pages)
}

struct Synced {
    db: TestDatabase,
    sec: SecStandIn,
    report: Value,
}

/// The stand-in serving the samples, and one scraper run over the six companies.
async fn sync(samples: &SecSamples) -> Synced {
    let sec = SecStandIn::start(StandInRules::default()).await;
    sec.put(
        "/files/company_tickers.json",
        samples.read("company_tickers.json"),
    );
    for cik in ["0000320193", "0001045810", "0000789019"] {
        let path = format!("submissions/CIK{cik}.json");
        sec.put(&format!("/{path}"), samples.read(&path));
    }
    let (walmart, pages) = walmart_paged(samples);
    sec.put("/submissions/CIK0000104169.json", walmart.to_string());
    for (name, page) in pages {
        sec.put(&format!("/submissions/{name}"), page.to_string());
    }
    for cik in ["0001652044", "0001997711"] {
        let facts = samples.json(&format!("companyfacts/CIK{cik}.json"));
        sec.put(
            &format!("/submissions/CIK{cik}.json"),
            submissions_from_facts(cik, &facts).to_string(),
        );
    }
    // Microsoft's companyfacts is not among the samples: SEC's 404, as for a company that
    // files no XBRL.
    for cik in [
        "0000320193",
        "0001045810",
        "0000104169",
        "0001652044",
        "0001997711",
    ] {
        let path = format!("companyfacts/CIK{cik}.json");
        sec.put(&format!("/api/xbrl/{path}"), samples.read(&path));
    }
    let (db, bus) = tokio::join!(database(), nats());
    let mut env = base_env();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    env.extend(bus.env());
    env.extend(sec.env());
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_scraper"))
        .args(["run", "--tickers", "AAPL,NVDA,WMT,GOOGL,LPA,MSFT"])
        .envs(env)
        .env("RUST_LOG", "warn")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .await
        .expect("the scraper runs");
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    Synced { db, sec, report }
}

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
