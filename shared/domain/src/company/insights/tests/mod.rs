//! Fixtures shaped like companyfacts: each filing repeats earlier periods as comparatives
//! under its own `fy`/`fp`, amendments restate, 10-Qs hold quarters, and revenue changes
//! concept over the years.

use super::*;

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

/// One filing: the facts it reported carry its form, `fy`, `fp` and filing date.
struct Report {
    form: &'static str,
    fy: i32,
    fp: &'static str,
    filed: &'static str,
    accession: &'static str,
}

impl Report {
    fn fact(&self, concept: &str, unit: &str, start: Option<&str>, end: &str, value: f64) -> Fact {
        Fact {
            concept: concept.into(),
            unit: unit.into(),
            period_start: start.map(day),
            period_end: day(end),
            fiscal_year: self.fy,
            fiscal_period: self.fp.into(),
            form: self.form.into(),
            filed: day(self.filed),
            accession: self.accession.into(),
            value,
        }
    }

    fn flow(&self, concept: &str, start: &str, end: &str, value: f64) -> Fact {
        self.fact(concept, "USD", Some(start), end, value)
    }

    fn balance(&self, concept: &str, end: &str, value: f64) -> Fact {
        self.fact(concept, "USD", None, end, value)
    }
}

const K2024: Report = Report {
    form: "10-K",
    fy: 2024,
    fp: "FY",
    filed: "2025-02-14",
    accession: "0000000001-26-000001",
};
const K2025: Report = Report {
    form: "10-K",
    fy: 2025,
    fp: "FY",
    filed: "2026-02-13",
    accession: "0000000001-26-000002",
};
const K2025_AMENDED: Report = Report {
    form: "10-K/A",
    fy: 2025,
    fp: "FY",
    filed: "2026-04-30",
    accession: "0000000001-26-000003",
};
const Q1_2026: Report = Report {
    form: "10-Q",
    fy: 2026,
    fp: "Q1",
    filed: "2026-05-08",
    accession: "0000000001-26-000004",
};

const REVENUES: &str = "us-gaap:Revenues";
const CONTRACT_REVENUE: &str = "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax";

/// Two 10-Ks, each with its comparatives, and a 10-Q after them.
fn company() -> Vec<Fact> {
    let mut facts = Vec::new();
    for (report, years) in [
        (&K2024, [("2023", 900.0), ("2024", 1000.0)]),
        (&K2025, [("2024", 1000.0), ("2025", 1200.0)]),
    ] {
        for (year, revenue) in years {
            let (start, end) = (format!("{year}-01-01"), format!("{year}-12-31"));
            facts.push(report.flow(REVENUES, &start, &end, revenue));
            facts.push(report.flow("us-gaap:NetIncomeLoss", &start, &end, revenue / 10.0));
            facts.push(report.fact(
                "us-gaap:EarningsPerShareDiluted",
                "USD/shares",
                Some(&start),
                &end,
                revenue / 400.0,
            ));
            // A 10-K's fourth quarter is not its year.
            facts.push(report.flow(REVENUES, &format!("{year}-10-01"), &end, revenue / 4.0));
        }
        let end = format!("{}-12-31", report.fy);
        facts.push(report.balance("us-gaap:Liabilities", &end, 600.0));
        facts.push(report.balance("us-gaap:StockholdersEquity", &end, 400.0));
        facts.push(report.balance("us-gaap:AssetsCurrent", &end, 300.0));
        facts.push(report.balance("us-gaap:LiabilitiesCurrent", &end, 200.0));
    }
    // The 10-Q after the year: a quarter, a year-to-date with the same end, a balance.
    facts.push(Q1_2026.flow(REVENUES, "2026-01-01", "2026-03-31", 5000.0));
    facts.push(Q1_2026.flow("us-gaap:NetIncomeLoss", "2026-01-01", "2026-03-31", 1.0));
    facts.push(Q1_2026.balance("us-gaap:StockholdersEquity", "2026-03-31", -50.0));
    facts.push(Q1_2026.balance("us-gaap:LiabilitiesCurrent", "2026-03-31", 1.0));
    facts
}

fn reading(insights: &[Insight], indicator: Indicator) -> &Reading {
    &insights
        .iter()
        .find(|i| i.indicator == indicator)
        .expect("every indicator is present")
        .reading
}

fn value(insights: &[Insight], indicator: Indicator) -> (f64, Period) {
    match reading(insights, indicator) {
        Reading::Value { value, period, .. } => (*value, *period),
        Reading::NotAvailable { reason } => panic!("{indicator} not available: {reason}"),
    }
}

fn reason(insights: &[Insight], indicator: Indicator) -> String {
    match reading(insights, indicator) {
        Reading::NotAvailable { reason } => reason.clone(),
        Reading::Value { value, .. } => panic!("{indicator} has a value: {value}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn every_indicator_describes_the_latest_fiscal_year_and_a_later_10q_changes_nothing() {
    let insights = annual_insights(&company());
    assert_eq!(insights.len(), Indicator::ALL.len());
    let year = Period {
        start: Some(day("2025-01-01")),
        end: day("2025-12-31"),
    };
    let at_year_end = Period {
        start: None,
        end: day("2025-12-31"),
    };
    let (growth, period) = value(&insights, Indicator::RevenueGrowthYoy);
    assert!(close(growth, 0.2), "{growth}");
    assert_eq!(period, year);
    let (margin, period) = value(&insights, Indicator::NetMargin);
    assert!(close(margin, 0.1) && period == year, "{margin}");
    let (eps, period) = value(&insights, Indicator::EpsDiluted);
    assert!(close(eps, 3.0) && period == year, "{eps}");
    let (leverage, period) = value(&insights, Indicator::DebtToEquity);
    assert!(close(leverage, 1.5) && period == at_year_end, "{leverage}");
    let (current, period) = value(&insights, Indicator::CurrentRatio);
    assert!(close(current, 1.5) && period == at_year_end, "{current}");
}

#[test]
fn an_amendment_filed_later_restates_the_year() {
    let mut facts = company();
    facts.push(K2025_AMENDED.flow(REVENUES, "2025-01-01", "2025-12-31", 1300.0));
    facts.push(K2025_AMENDED.balance("us-gaap:StockholdersEquity", "2025-12-31", 300.0));
    let insights = annual_insights(&facts);
    let (growth, _) = value(&insights, Indicator::RevenueGrowthYoy);
    assert!(close(growth, 0.3), "{growth}");
    let (margin, _) = value(&insights, Indicator::NetMargin);
    assert!(close(margin, 120.0 / 1300.0), "{margin}");
    let (leverage, _) = value(&insights, Indicator::DebtToEquity);
    assert!(close(leverage, 2.0), "{leverage}");
}

#[test]
fn a_comparative_restated_by_the_next_10k_replaces_the_original() {
    let mut facts = company();
    // The FY2025 10-K restates 2024 (a comparative, carrying fy=2025).
    facts.retain(|f| {
        !(f.concept == REVENUES
            && f.filed == day(K2025.filed)
            && f.period_end == day("2024-12-31")
            && f.period_start == Some(day("2024-01-01")))
    });
    facts.push(K2025.flow(REVENUES, "2024-01-01", "2024-12-31", 960.0));
    let insights = annual_insights(&facts);
    let (growth, _) = value(&insights, Indicator::RevenueGrowthYoy);
    assert!(close(growth, 1200.0 / 960.0 - 1.0), "{growth}");
}

#[test]
fn a_renamed_revenue_concept_is_followed_year_by_year() {
    // Revenues until FY2018, then the contract-revenue concept; the FY2019 10-K shows
    // FY2018 under the new name too. "The first concept with data" would stop at 2018.
    let k2018 = Report {
        form: "10-K",
        fy: 2018,
        fp: "FY",
        filed: "2019-02-15",
        accession: "0000000001-26-000005",
    };
    let k2019 = Report {
        form: "10-K",
        fy: 2019,
        fp: "FY",
        filed: "2020-02-14",
        accession: "0000000001-26-000006",
    };
    let mut facts = vec![
        k2018.flow(REVENUES, "2017-01-01", "2017-12-31", 70.0),
        k2018.flow(REVENUES, "2018-01-01", "2018-12-31", 80.0),
        k2019.flow(CONTRACT_REVENUE, "2018-01-01", "2018-12-31", 80.0),
        k2019.flow(CONTRACT_REVENUE, "2019-01-01", "2019-12-31", 100.0),
    ];
    let insights = annual_insights(&facts);
    let (growth, period) = value(&insights, Indicator::RevenueGrowthYoy);
    assert!(close(growth, 0.25), "{growth}");
    assert_eq!(period.end, day("2019-12-31"));
    if let Reading::Value { concepts, .. } = reading(&insights, Indicator::RevenueGrowthYoy) {
        // 2018 was reported under both names: the later filing's is read.
        assert_eq!(concepts, &[CONTRACT_REVENUE]);
    }

    // And back: FY2020 returns to `Revenues`.
    let k2020 = Report {
        form: "10-K",
        fy: 2020,
        fp: "FY",
        filed: "2021-02-12",
        accession: "0000000001-26-000007",
    };
    facts.push(k2020.flow(REVENUES, "2020-01-01", "2020-12-31", 150.0));
    let insights = annual_insights(&facts);
    let (growth, period) = value(&insights, Indicator::RevenueGrowthYoy);
    assert!(close(growth, 0.5), "{growth}");
    assert_eq!(period.end, day("2020-12-31"));
}

#[test]
fn a_53_week_year_is_a_year() {
    let k = Report {
        form: "10-K",
        fy: 2025,
        fp: "FY",
        filed: "2025-11-01",
        accession: "0000000001-26-000008",
    };
    let facts = vec![
        k.flow(REVENUES, "2023-10-01", "2024-09-28", 100.0),
        k.flow(REVENUES, "2024-09-29", "2025-09-27", 110.0),
    ];
    let (growth, _) = value(&annual_insights(&facts), Indicator::RevenueGrowthYoy);
    assert!(close(growth, 0.1), "{growth}");
}

#[test]
fn what_the_facts_cannot_support_is_not_available_with_the_reason() {
    assert!(reason(&annual_insights(&[]), Indicator::NetMargin).contains("no annual report"));
    // Only a 10-Q: still no annual basis.
    let quarter = vec![Q1_2026.flow(REVENUES, "2026-01-01", "2026-03-31", 10.0)];
    assert!(reason(&annual_insights(&quarter), Indicator::NetMargin).contains("no annual report"));

    let mut facts = company();
    facts.retain(|f| {
        f.concept != "us-gaap:Liabilities" && f.concept != "us-gaap:EarningsPerShareDiluted"
    });
    let insights = annual_insights(&facts);
    assert_eq!(
        reason(&insights, Indicator::DebtToEquity),
        "no total liabilities reported at 2025-12-31, nor total liabilities and equity to \
         derive them from"
    );
    assert!(reason(&insights, Indicator::EpsDiluted).contains("no diluted EPS"));

    let mut facts = company();
    facts.push(K2025_AMENDED.balance("us-gaap:StockholdersEquity", "2025-12-31", -10.0));
    assert!(reason(&annual_insights(&facts), Indicator::DebtToEquity)
        .contains("stockholders' equity is not positive (-10)"));

    let mut facts = company();
    facts.push(K2025_AMENDED.flow(REVENUES, "2024-01-01", "2024-12-31", 0.0));
    assert!(
        reason(&annual_insights(&facts), Indicator::RevenueGrowthYoy)
            .contains("the previous year's revenue is not positive (0)")
    );

    // A single year: no growth, the rest as usual.
    let facts: Vec<Fact> = company()
        .into_iter()
        .filter(|f| f.period_end != day("2024-12-31") && f.period_end != day("2023-12-31"))
        .collect();
    let insights = annual_insights(&facts);
    assert!(reason(&insights, Indicator::RevenueGrowthYoy).contains("fiscal year before"));
    assert!(matches!(
        reading(&insights, Indicator::NetMargin),
        Reading::Value { .. }
    ));
}

mod derived;
