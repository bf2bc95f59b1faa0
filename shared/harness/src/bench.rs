//! What the benchmarks share: the median of their rounds, and the headline figure each one
//! hands to `scripts/bench-all` for the table at the top of BENCHMARKS.md.
//!
//! A headline is one line of tab-separated fields appended to the file
//! `LZSTOCK_BENCH_HEADLINES` names (`scripts/lib.sh`'s `bench_headline` writes the same
//! line from the shell benchmarks); without that variable a benchmark reports nothing more
//! than what it prints.

use std::io::Write;

/// The variable naming the file headlines are appended to.
pub const HEADLINES_VARIABLE: &str = "LZSTOCK_BENCH_HEADLINES";

/// The median of `values` (the upper one of an even count); `NaN` for none.
#[must_use]
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One headline figure: what was measured, against which baseline of the same run.
#[derive(Debug, Clone, Copy)]
pub struct Headline<'a> {
    /// The part of the system (a row group of the table): "API", "Bridge core", ….
    pub area: &'a str,
    /// What was measured.
    pub figure: &'a str,
    /// The unit of the figure and of its baseline ("events/s", "ms").
    pub unit: &'a str,
    /// What the figure is compared with.
    pub baseline: &'a str,
}

impl Headline<'_> {
    /// Appends the figure, its baseline and their ratio (the median of the rounds' ratios,
    /// which need not be the ratio of the medians) to the headlines file, if one is named.
    ///
    /// # Panics
    /// When the file is named but cannot be written: a benchmark run for the table that
    /// silently drops a row would publish a table with a hole.
    pub fn report(&self, value: f64, baseline_value: f64, ratio: f64) {
        let Some(path) = std::env::var_os(HEADLINES_VARIABLE) else {
            return;
        };
        let line = [
            self.area.to_owned(),
            self.figure.to_owned(),
            format!("{value:.2}"),
            self.unit.to_owned(),
            self.baseline.to_owned(),
            format!("{baseline_value:.2}"),
            format!("{ratio:.3}"),
        ]
        .map(|field| field.replace(['\t', '\n'], " "))
        .join("\t");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{HEADLINES_VARIABLE}={}: {e}", path.to_string_lossy()));
        writeln!(file, "{line}")
            .unwrap_or_else(|e| panic!("{HEADLINES_VARIABLE}={}: {e}", path.to_string_lossy()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_the_middle_value_or_the_upper_of_two() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 3.0);
        assert!(median(&[]).is_nan());
    }
}
