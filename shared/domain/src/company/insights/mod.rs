//! Insights: the indicators of a company's latest fiscal year, computed from the facts it
//! reported, each with the period it describes, or the reason it has none.
//!
//! The basis is annual: the latest fiscal year reported in a 10-K, 20-F or 40-F (or an
//! amendment of one). SEC's `fy`/`fp` belong to the filing, not the period, and a 10-K
//! repeats earlier years as comparatives, so a period is identified by its dates: a flow
//! (revenue, income) is a duration of about a year, a balance is an instant. A period
//! reported by several filings takes the value of the latest filed. A concept list (revenue
//! was `Revenues`, then `RevenueFromContractWithCustomerExcludingAssessedTax`, then back)
//! is resolved per period: of the concepts with a value for that period, the latest filed,
//! the first listed on a tie; never one concept for every year. Nothing is
//! estimated: a missing concept, a non-positive denominator or mismatched units give
//! "not available" and the reason.

mod concepts;
mod derived;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Fact;
use crate::dashboard::Indicator;
use concepts::{Family, Kind, EPS_DILUTED, FLOWS, REVENUE};

pub use concepts::insight_concepts;

/// The dates a value describes: a duration, or an instant (`start` absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// The first day of a duration; `None` for an instant.
    pub start: Option<NaiveDate>,
    /// The last day of the duration, or the instant.
    pub end: NaiveDate,
}

/// An indicator's value, or why it has none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Reading {
    /// The indicator's value.
    Value {
        /// A ratio, or money per share for diluted EPS.
        value: f64,
        /// `ratio`, or the unit as reported (e.g. `USD/shares`).
        unit: String,
        /// The period it describes (for revenue growth, the later year).
        period: Period,
        /// The concepts the value was computed from.
        concepts: Vec<String>,
        /// Whether a figure it needs was derived from others the same filing reported
        /// (total liabilities from liabilities and equity, less equity), not reported as
        /// such; `concepts` then lists every concept the derivation used.
        #[serde(default)]
        derived: bool,
    },
    /// The facts do not support a value.
    NotAvailable {
        /// Why, e.g. "stockholders' equity is not positive (-120000000) at 2025-12-31".
        reason: String,
    },
}

/// One indicator of one company.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Insight {
    /// Which indicator.
    pub indicator: Indicator,
    /// Its value, or why it has none.
    pub reading: Reading,
}

/// What an indicator measures, as shown next to its value.
#[must_use]
pub const fn definition(indicator: Indicator) -> &'static str {
    match indicator {
        Indicator::RevenueGrowthYoy => {
            "(revenue - the previous fiscal year's revenue) / the previous fiscal year's revenue"
        }
        Indicator::NetMargin => "net income / revenue, same fiscal year",
        Indicator::EpsDiluted => "diluted earnings per share for the fiscal year, as reported",
        Indicator::DebtToEquity => {
            "total liabilities (all of them, not only borrowings) / stockholders' equity, at the fiscal year end"
        }
        Indicator::CurrentRatio => "current assets / current liabilities, at the fiscal year end",
    }
}

/// The forms whose facts make the annual basis.
const ANNUAL_FORMS: [&str; 6] = ["10-K", "10-K/A", "20-F", "20-F/A", "40-F", "40-F/A"];

/// A duration of about a year (52/53-week years included).
fn is_year(start: NaiveDate, end: NaiveDate) -> bool {
    (350..=380).contains(&(end - start).num_days())
}

/// Every indicator of the latest fiscal year `facts` report, in [`Indicator::ALL`] order.
#[must_use]
pub fn annual_insights(facts: &[Fact]) -> Vec<Insight> {
    let annual = Annual::new(facts);
    Indicator::ALL
        .into_iter()
        .map(|indicator| Insight {
            indicator,
            reading: match annual.fiscal_year_end() {
                Some(end) => annual.reading(indicator, end),
                None => Reading::NotAvailable {
                    reason: "no annual report (10-K, 20-F or 40-F) has been synced".into(),
                },
            },
        })
        .collect()
}

/// The facts of annual reports.
struct Annual<'a> {
    facts: Vec<&'a Fact>,
}

fn not_available(reason: String) -> Reading {
    Reading::NotAvailable { reason }
}

fn ratio(
    numerator: &Fact,
    denominator: &Fact,
    period: Period,
    what: &str,
    denominator_name: &str,
) -> Reading {
    if numerator.unit != denominator.unit {
        return not_available(format!(
            "{what}: the values are in different units ({} and {})",
            numerator.unit, denominator.unit
        ));
    }
    if denominator.value <= 0.0 {
        return not_available(format!(
            "{denominator_name} is not positive ({}) for the period ending {}",
            denominator.value, denominator.period_end
        ));
    }
    Reading::Value {
        value: numerator.value / denominator.value,
        unit: "ratio".into(),
        period,
        concepts: vec![numerator.concept.clone(), denominator.concept.clone()],
        derived: false,
    }
}

impl<'a> Annual<'a> {
    fn new(facts: &'a [Fact]) -> Self {
        Self {
            facts: facts
                .iter()
                .filter(|f| ANNUAL_FORMS.contains(&f.form.as_str()) && f.value.is_finite())
                .collect(),
        }
    }

    /// The end of the latest fiscal year any annual report gives a flow for.
    fn fiscal_year_end(&self) -> Option<NaiveDate> {
        self.facts
            .iter()
            .filter(|f| {
                f.period_start
                    .is_some_and(|start| is_year(start, f.period_end))
                    && FLOWS
                        .iter()
                        .any(|family| family.concepts.contains(&f.concept.as_str()))
            })
            .map(|f| f.period_end)
            .max()
    }

    /// The value of `family` for the year ending `end` (a flow) or at `end` (a balance):
    /// among the family's concepts that have a value for that period, the latest filed
    /// (a restatement, or a comparative under the concept the company uses now); on a tie,
    /// the concept listed first.
    fn value(&self, family: &Family, end: NaiveDate) -> Option<&'a Fact> {
        self.facts
            .iter()
            .copied()
            .filter_map(|f| {
                let rank = family.concepts.iter().position(|c| *c == f.concept)?;
                let period_fits = match family.kind {
                    Kind::Flow | Kind::PerShare => f.period_start.is_some_and(|s| is_year(s, end)),
                    Kind::Balance => f.period_start.is_none(),
                };
                (f.period_end == end && period_fits && family.kind.accepts_unit(&f.unit))
                    .then_some((rank, f))
            })
            .max_by_key(|(rank, f)| {
                (
                    f.filed,
                    f.form.ends_with("/A"),
                    std::cmp::Reverse(*rank),
                    f.unit.starts_with("USD"),
                )
            })
            .map(|(_, f)| f)
    }

    /// The end of the fiscal year before the one ending `end`, if one was reported.
    fn previous_year_end(&self, family: &Family, end: NaiveDate) -> Option<NaiveDate> {
        self.facts
            .iter()
            .filter(|f| family.concepts.contains(&f.concept.as_str()))
            .map(|f| f.period_end)
            .filter(|&e| is_year(e, end))
            .min_by_key(|&e| ((end - e).num_days() - 365).abs())
    }

    fn reading(&self, indicator: Indicator, end: NaiveDate) -> Reading {
        let year = |fact: &Fact| Period {
            start: fact.period_start,
            end: fact.period_end,
        };
        let instant = Period { start: None, end };
        let missing = |family: &Family| {
            not_available(format!(
                "no {} reported {} {end}",
                family.name,
                family.kind.preposition()
            ))
        };
        match indicator {
            Indicator::RevenueGrowthYoy => {
                let Some(current) = self.value(&REVENUE, end) else {
                    return missing(&REVENUE);
                };
                let Some(previous) = self
                    .previous_year_end(&REVENUE, end)
                    .and_then(|e| self.value(&REVENUE, e))
                else {
                    return not_available(format!(
                        "no revenue reported for the fiscal year before the one ending {end}"
                    ));
                };
                if current.unit != previous.unit {
                    return not_available(format!(
                        "revenue is in {} one year and {} the other",
                        previous.unit, current.unit
                    ));
                }
                if previous.value <= 0.0 {
                    return not_available(format!(
                        "the previous year's revenue is not positive ({}) for the year ending {}",
                        previous.value, previous.period_end
                    ));
                }
                Reading::Value {
                    value: (current.value - previous.value) / previous.value,
                    unit: "ratio".into(),
                    period: year(current),
                    concepts: dedup(vec![previous.concept.clone(), current.concept.clone()]),
                    derived: false,
                }
            }
            Indicator::NetMargin => {
                let income = self.value(&concepts::NET_INCOME, end);
                let revenue = self.value(&REVENUE, end);
                let (Some(income), Some(revenue)) = (income, revenue) else {
                    return missing_any(
                        &[(&concepts::NET_INCOME, income), (&REVENUE, revenue)],
                        end,
                    );
                };
                ratio(income, revenue, year(revenue), "net margin", "revenue")
            }
            Indicator::EpsDiluted => match self.value(&EPS_DILUTED, end) {
                Some(eps) => Reading::Value {
                    value: eps.value,
                    unit: eps.unit.clone(),
                    period: year(eps),
                    concepts: vec![eps.concept.clone()],
                    derived: false,
                },
                None => missing(&EPS_DILUTED),
            },
            Indicator::DebtToEquity => {
                let reported = self.value(&concepts::LIABILITIES, end);
                let Some(equity) = self.value(&concepts::EQUITY, end) else {
                    let liabilities_known =
                        reported.is_some() || self.derived_liabilities(end).is_ok();
                    return if liabilities_known {
                        missing(&concepts::EQUITY)
                    } else {
                        missing_any(
                            &[(&concepts::LIABILITIES, None), (&concepts::EQUITY, None)],
                            end,
                        )
                    };
                };
                if let Some(liabilities) = reported {
                    return ratio(
                        liabilities,
                        equity,
                        instant,
                        "debt to equity",
                        "stockholders' equity",
                    );
                }
                match self.derived_liabilities(end) {
                    Ok(derived) => match ratio(
                        &derived.total,
                        equity,
                        instant,
                        "debt to equity",
                        "stockholders' equity",
                    ) {
                        Reading::Value {
                            value,
                            unit,
                            period,
                            ..
                        } => Reading::Value {
                            value,
                            unit,
                            period,
                            concepts: derived
                                .concepts
                                .into_iter()
                                .chain([equity.concept.clone()])
                                .collect(),
                            derived: true,
                        },
                        not_available => not_available,
                    },
                    Err(reason) => not_available(reason),
                }
            }
            Indicator::CurrentRatio => {
                let assets = self.value(&concepts::ASSETS_CURRENT, end);
                let liabilities = self.value(&concepts::LIABILITIES_CURRENT, end);
                let (Some(assets), Some(liabilities)) = (assets, liabilities) else {
                    return missing_any(
                        &[
                            (&concepts::ASSETS_CURRENT, assets),
                            (&concepts::LIABILITIES_CURRENT, liabilities),
                        ],
                        end,
                    );
                };
                ratio(
                    assets,
                    liabilities,
                    instant,
                    "current ratio",
                    "current liabilities",
                )
            }
        }
    }
}

/// "no X reported at …" naming every family without a value.
fn missing_any(families: &[(&Family, Option<&Fact>)], end: NaiveDate) -> Reading {
    let absent: Vec<&Family> = families
        .iter()
        .filter(|(_, fact)| fact.is_none())
        .map(|(family, _)| *family)
        .collect();
    let names: Vec<&str> = absent.iter().map(|f| f.name).collect();
    let preposition = absent.first().map_or("at", |f| f.kind.preposition());
    not_available(format!(
        "no {} reported {preposition} {end}",
        names.join(" or ")
    ))
}

fn dedup(mut concepts: Vec<String>) -> Vec<String> {
    concepts.dedup();
    concepts
}

#[cfg(test)]
mod tests;
