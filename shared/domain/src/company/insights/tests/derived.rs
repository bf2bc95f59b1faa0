//! Total liabilities a filer does not report: derived from the same filing only, and said so.

use super::*;

/// Walmart's 10-K for the year ending 2026-01-31 (accession 0000104169-26-000055, filed
/// 2026-03-13) reports no `Liabilities`; its balance sheet gives, in USD:
/// `LiabilitiesAndStockholdersEquity` 284,668,000,000,
/// `StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest` 105,887,000,000,
/// `RedeemableNoncontrollingInterestEquityCarryingAmount` 293,000,000 and
/// `StockholdersEquity` 99,617,000,000. Liabilities: 284,668 − 105,887 − 293 = 178,488
/// million; debt to equity 178,488 / 99,617.
fn walmart_like() -> Vec<Fact> {
    let k = Report {
        form: "10-K",
        fy: 2026,
        fp: "FY",
        filed: "2026-03-13",
        accession: "0000104169-26-000055",
    };
    vec![
        k.flow(REVENUES, "2025-02-01", "2026-01-31", 700_000_000_000.0),
        k.balance(
            "us-gaap:LiabilitiesAndStockholdersEquity",
            "2026-01-31",
            284_668_000_000.0,
        ),
        k.balance(
            "us-gaap:StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest",
            "2026-01-31",
            105_887_000_000.0,
        ),
        k.balance(
            "us-gaap:RedeemableNoncontrollingInterestEquityCarryingAmount",
            "2026-01-31",
            293_000_000.0,
        ),
        k.balance("us-gaap:StockholdersEquity", "2026-01-31", 99_617_000_000.0),
    ]
}

#[test]
fn total_liabilities_not_reported_are_derived_from_the_same_filing_and_said_so() {
    let insights = annual_insights(&walmart_like());
    let Reading::Value {
        value,
        concepts,
        derived,
        period,
        ..
    } = reading(&insights, Indicator::DebtToEquity)
    else {
        panic!(
            "debt to equity: {}",
            reason(&insights, Indicator::DebtToEquity)
        );
    };
    assert!(close(*value, 178_488.0 / 99_617.0), "{value}");
    assert!(*derived);
    assert_eq!(period.end, day("2026-01-31"));
    assert_eq!(
        concepts,
        &[
            "us-gaap:LiabilitiesAndStockholdersEquity",
            "us-gaap:StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest",
            "us-gaap:RedeemableNoncontrollingInterestEquityCarryingAmount",
            "us-gaap:StockholdersEquity",
        ]
    );
}

#[test]
fn a_derivation_never_mixes_filings() {
    // Total equity only from another filing (a later amendment): nothing is derived.
    let mut facts: Vec<Fact> = walmart_like()
        .into_iter()
        .filter(|f| {
            f.concept
                != "us-gaap:StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest"
        })
        .collect();
    let amendment = Report {
        form: "10-K/A",
        fy: 2026,
        fp: "FY",
        filed: "2026-01-15",
        accession: "0000000001-26-000010",
    };
    facts.push(amendment.balance(
        "us-gaap:StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest",
        "2026-01-31",
        105_887_000_000.0,
    ));
    let why = reason(&annual_insights(&facts), Indicator::DebtToEquity);
    assert!(
        why.contains("total equity including noncontrolling interests from the same filing (10-K 0000104169-26-000055 filed 2026-03-13)"),
        "{why}"
    );
    // A reported total is used as reported, never derived.
    let mut facts = walmart_like();
    facts.push(
        Report {
            form: "10-K",
            fy: 2026,
            fp: "FY",
            filed: "2026-03-13",
            accession: "0000104169-26-000055",
        }
        .balance("us-gaap:Liabilities", "2026-01-31", 170_000_000_000.0),
    );
    let insights = annual_insights(&facts);
    assert!(matches!(
        reading(&insights, Indicator::DebtToEquity),
        Reading::Value { derived: false, .. }
    ));
}
