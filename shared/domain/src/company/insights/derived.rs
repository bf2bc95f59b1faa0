//! Total liabilities where a filer reports none: derived from the same filing's balance
//! sheet (liabilities and equity, less total and temporary equity), never across filings.

use chrono::NaiveDate;

use super::concepts::{self, Family};
use super::{Annual, Fact};

/// Total liabilities derived from one filing's balance sheet, and the concepts used.
pub(super) struct DerivedLiabilities {
    pub(super) total: Fact,
    pub(super) concepts: Vec<String>,
}

impl<'a> Annual<'a> {
    /// The value of `family` at `end` in the filing that reported `from` (same accession
    /// number), in `from`'s unit when it has several: the first of its concepts that filing
    /// reports.
    pub(super) fn in_filing(
        &self,
        family: &Family,
        end: NaiveDate,
        from: &Fact,
    ) -> Option<&'a Fact> {
        family.concepts.iter().find_map(|concept| {
            self.facts
                .iter()
                .copied()
                .filter(|f| {
                    f.concept == *concept
                        && f.period_start.is_none()
                        && f.period_end == end
                        && f.accession == from.accession
                })
                // A filing that reports a figure in several currencies: the one `from` is in.
                .max_by_key(|f| f.unit == from.unit)
        })
    }

    /// Total liabilities at `end` when no filing reports them as such: liabilities and
    /// equity, less total equity including noncontrolling interests, less temporary equity
    /// when the filing reports any, every figure from the filing of the latest liabilities
    /// and equity, in one unit. The reason names what is missing.
    pub(super) fn derived_liabilities(&self, end: NaiveDate) -> Result<DerivedLiabilities, String> {
        let no_liabilities = format!("no total liabilities reported at {end}");
        let Some(sum) = self.value(&concepts::LIABILITIES_AND_EQUITY, end) else {
            return Err(format!(
                "{no_liabilities}, nor total liabilities and equity to derive them from"
            ));
        };
        let Some(equity) = self.in_filing(&concepts::TOTAL_EQUITY, end, sum) else {
            return Err(format!(
                "{no_liabilities}; deriving them needs total equity including noncontrolling \
                 interests from the same filing ({} {} filed {}), which it does not report",
                sum.form, sum.accession, sum.filed
            ));
        };
        let temporary = self.in_filing(&concepts::TEMPORARY_EQUITY, end, sum);
        let parts: Vec<&Fact> = [Some(sum), Some(equity), temporary]
            .into_iter()
            .flatten()
            .collect();
        if let Some(other) = parts.iter().find(|f| f.unit != sum.unit) {
            return Err(format!(
                "{no_liabilities}; the figures to derive them from are in different units ({} and {})",
                sum.unit, other.unit
            ));
        }
        let total = sum.value - equity.value - temporary.map_or(0.0, |t| t.value);
        Ok(DerivedLiabilities {
            total: Fact {
                concept: "total liabilities (derived)".into(),
                value: total,
                ..sum.clone()
            },
            concepts: parts.iter().map(|f| f.concept.clone()).collect(),
        })
    }
}
