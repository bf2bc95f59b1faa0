//! Insights from a companyfacts document shaped like SEC's, through the parser the scraper
//! uses: comparatives, a 10-K/A restatement, a later 10-Q and a revenue concept renamed and
//! renamed back.

use lzstock_domain::company::{annual_insights, Period, Reading};
use lzstock_domain::dashboard::Indicator;
use lzstock_harness::sec_standin::ACME_COMPANYFACTS;
use lzstock_infra::sec::documents::parse_company_facts;

#[test]
fn acmes_latest_fiscal_year_as_restated() {
    let parsed = parse_company_facts(ACME_COMPANYFACTS.as_bytes()).expect("parses");
    assert_eq!(parsed.skipped, 0);
    let insights = annual_insights(&parsed.facts);
    let fy2024 = Period {
        start: Some("2024-01-01".parse().expect("date")),
        end: "2024-12-31".parse().expect("date"),
    };
    let year_end = Period {
        start: None,
        end: fy2024.end,
    };
    let expected = [
        (Indicator::RevenueGrowthYoy, 100.0 / 1100.0, fy2024),
        (Indicator::NetMargin, 0.09, fy2024),
        (Indicator::EpsDiluted, 2.16, fy2024),
        (Indicator::DebtToEquity, 2.0, year_end),
        (Indicator::CurrentRatio, 1.5, year_end),
    ];
    for (insight, (indicator, value, period)) in insights.iter().zip(expected) {
        assert_eq!(insight.indicator, indicator);
        match &insight.reading {
            Reading::Value {
                value: got,
                period: at,
                ..
            } => {
                assert!((got - value).abs() < 1e-9, "{indicator}: {got} != {value}");
                assert_eq!(*at, period, "{indicator}");
            }
            Reading::NotAvailable { reason } => panic!("{indicator}: {reason}"),
        }
    }
    let Reading::Value { unit, .. } = &insights[2].reading else {
        panic!("EPS has a value")
    };
    assert_eq!(unit, "USD/shares");
}
