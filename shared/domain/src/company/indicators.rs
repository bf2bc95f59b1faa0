//! Indicators derived from a company's annual facts.
//!
//! SEC's `fy` is the fiscal year of the *filing*, and a 10-K repeats earlier years as
//! comparatives, so periods are identified by their dates: a flow (revenue, income) is a
//! duration of about a year, a balance is an instant.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Fact;
use crate::dashboard::Indicator;

/// One indicator's latest annual value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorValue {
    /// Which indicator.
    pub indicator: Indicator,
    /// Its value (a ratio, or USD per share for `eps_diluted`).
    pub value: f64,
    /// The end of the fiscal year it describes.
    pub period_end: NaiveDate,
}

const REVENUE: [&str; 3] = [
    "us-gaap:Revenues",
    "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax",
    "us-gaap:SalesRevenueNet",
];

fn is_annual_duration(fact: &Fact) -> bool {
    fact.period_start
        .is_some_and(|start| (350..=380).contains(&(fact.period_end - start).num_days()))
}

/// Annual values of the first of `concepts` that has any, by period end.
fn annual_flow(facts: &[Fact], concepts: &[&str]) -> Vec<(NaiveDate, f64)> {
    for concept in concepts {
        let mut values: Vec<(NaiveDate, f64, NaiveDate)> = facts
            .iter()
            .filter(|f| f.concept == *concept && is_annual_duration(f))
            .map(|f| (f.period_end, f.value, f.filed))
            .collect();
        if values.is_empty() {
            continue;
        }
        // The latest filing wins for a period (restatements).
        values.sort_by_key(|&(end, _, filed)| (end, filed));
        let mut by_period: Vec<(NaiveDate, f64)> = Vec::new();
        for (end, value, _) in values {
            match by_period.last_mut() {
                Some(last) if last.0 == end => last.1 = value,
                _ => by_period.push((end, value)),
            }
        }
        return by_period;
    }
    Vec::new()
}

/// The latest value of an instant `concept` reported in an annual filing.
fn annual_balance(facts: &[Fact], concept: &str) -> Option<(NaiveDate, f64)> {
    facts
        .iter()
        .filter(|f| f.concept == concept && f.period_start.is_none() && f.fiscal_period == "FY")
        .max_by_key(|f| (f.period_end, f.filed))
        .map(|f| (f.period_end, f.value))
}

fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator != 0.0).then(|| numerator / denominator)
}

/// Every indicator that the facts support, from the latest fiscal year; indicators without
/// the facts they need are left out rather than guessed.
#[must_use]
pub fn compute_indicators(facts: &[Fact]) -> Vec<IndicatorValue> {
    let mut values = Vec::new();
    let mut push = |indicator, value: Option<f64>, period_end| {
        if let Some(value) = value.filter(|v| v.is_finite()) {
            values.push(IndicatorValue {
                indicator,
                value,
                period_end,
            });
        }
    };
    let revenue = annual_flow(facts, &REVENUE);
    if let [.., previous, latest] = revenue.as_slice() {
        let a_year_apart = (350..=380).contains(&(latest.0 - previous.0).num_days());
        if a_year_apart {
            push(
                Indicator::RevenueGrowthYoy,
                ratio(latest.1 - previous.1, previous.1),
                latest.0,
            );
        }
    }
    if let Some(&(end, income)) = annual_flow(facts, &["us-gaap:NetIncomeLoss"]).last() {
        if let Some(&(_, rev)) = revenue.iter().find(|(e, _)| *e == end) {
            push(Indicator::NetMargin, ratio(income, rev), end);
        }
    }
    if let Some(&(end, eps)) = annual_flow(facts, &["us-gaap:EarningsPerShareDiluted"]).last() {
        push(Indicator::EpsDiluted, Some(eps), end);
    }
    if let (Some(liabilities), Some(equity)) = (
        annual_balance(facts, "us-gaap:Liabilities"),
        annual_balance(facts, "us-gaap:StockholdersEquity"),
    ) {
        if liabilities.0 == equity.0 {
            push(
                Indicator::DebtToEquity,
                ratio(liabilities.1, equity.1),
                equity.0,
            );
        }
    }
    if let (Some(assets), Some(liabilities)) = (
        annual_balance(facts, "us-gaap:AssetsCurrent"),
        annual_balance(facts, "us-gaap:LiabilitiesCurrent"),
    ) {
        if assets.0 == liabilities.0 {
            push(
                Indicator::CurrentRatio,
                ratio(assets.1, liabilities.1),
                assets.0,
            );
        }
    }
    values.sort_by_key(|v| Indicator::ALL.iter().position(|i| *i == v.indicator));
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn flow(concept: &str, start: &str, end: &str, filed: &str, value: f64) -> Fact {
        Fact {
            concept: concept.into(),
            unit: "USD".into(),
            period_start: Some(day(start)),
            period_end: day(end),
            fiscal_year: 2025,
            fiscal_period: "FY".into(),
            form: "10-K".into(),
            filed: day(filed),
            value,
        }
    }

    fn balance(concept: &str, end: &str, value: f64) -> Fact {
        Fact {
            period_start: None,
            ..flow(concept, "2025-01-01", end, "2026-02-01", value)
        }
    }

    fn sample() -> Vec<Fact> {
        vec![
            flow(
                "us-gaap:Revenues",
                "2024-01-01",
                "2024-12-31",
                "2025-02-01",
                100.0,
            ),
            flow(
                "us-gaap:Revenues",
                "2025-01-01",
                "2025-12-31",
                "2026-02-01",
                120.0,
            ),
            // A quarter must not count as a year.
            flow(
                "us-gaap:Revenues",
                "2025-10-01",
                "2025-12-31",
                "2026-02-01",
                35.0,
            ),
            flow(
                "us-gaap:NetIncomeLoss",
                "2025-01-01",
                "2025-12-31",
                "2026-02-01",
                30.0,
            ),
            flow(
                "us-gaap:EarningsPerShareDiluted",
                "2025-01-01",
                "2025-12-31",
                "2026-02-01",
                2.5,
            ),
            balance("us-gaap:Liabilities", "2025-12-31", 50.0),
            balance("us-gaap:StockholdersEquity", "2025-12-31", 25.0),
            balance("us-gaap:AssetsCurrent", "2025-12-31", 60.0),
            balance("us-gaap:LiabilitiesCurrent", "2025-12-31", 40.0),
        ]
    }

    #[test]
    fn every_indicator_comes_from_the_latest_fiscal_year() {
        let values = compute_indicators(&sample());
        let get = |i| values.iter().find(|v| v.indicator == i).map(|v| v.value);
        assert_eq!(get(Indicator::RevenueGrowthYoy), Some(0.2));
        assert_eq!(get(Indicator::NetMargin), Some(0.25));
        assert_eq!(get(Indicator::EpsDiluted), Some(2.5));
        assert_eq!(get(Indicator::DebtToEquity), Some(2.0));
        assert_eq!(get(Indicator::CurrentRatio), Some(1.5));
        assert!(values.iter().all(|v| v.period_end == day("2025-12-31")));
    }

    #[test]
    fn a_restated_value_replaces_the_original() {
        let mut facts = sample();
        facts.push(flow(
            "us-gaap:Revenues",
            "2024-01-01",
            "2024-12-31",
            "2026-02-01",
            80.0,
        ));
        let values = compute_indicators(&facts);
        let growth = values
            .iter()
            .find(|v| v.indicator == Indicator::RevenueGrowthYoy)
            .unwrap();
        assert!((growth.value - 0.5).abs() < 1e-12);
    }

    #[test]
    fn missing_facts_leave_indicators_out_and_zero_never_divides() {
        assert!(compute_indicators(&[]).is_empty());
        let facts = vec![
            balance("us-gaap:AssetsCurrent", "2025-12-31", 60.0),
            balance("us-gaap:LiabilitiesCurrent", "2025-12-31", 0.0),
        ];
        assert!(compute_indicators(&facts).is_empty());
    }
}
