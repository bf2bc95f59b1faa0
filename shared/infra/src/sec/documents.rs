//! SEC's documents, parsed: the ticker map, a company's recent filings, and its facts.
//!
//! Everything from SEC is input: a record that does not parse is skipped and counted,
//! never a reason to fail the whole document.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use lzstock_domain::company::{Fact, Filing, ListedCompany};
use lzstock_domain::{Cik, Ticker};
use serde::Deserialize;

/// The forms whose facts LZStock keeps: annual and quarterly reports, domestic and foreign,
/// and their amendments.
pub const FACT_FORMS: [&str; 8] = [
    "10-K", "10-K/A", "10-Q", "10-Q/A", "20-F", "20-F/A", "40-F", "40-F/A",
];

/// A document that is not the JSON it should be.
#[derive(Debug, thiserror::Error)]
#[error("{document} does not parse: {reason}")]
pub struct MalformedDocument {
    /// Which document.
    pub document: &'static str,
    /// Why.
    pub reason: String,
}

fn malformed(document: &'static str) -> impl Fn(serde_json::Error) -> MalformedDocument {
    move |e| MalformedDocument {
        document,
        reason: e.to_string(),
    }
}

/// Parses `company_tickers.json`: `{"0": {"cik_str", "ticker", "title"}, …}`. Entries with
/// a ticker or CIK LZStock cannot represent are skipped; the count of skipped is returned.
///
/// # Errors
/// When the document is not that shape at all.
pub fn parse_tickers(body: &[u8]) -> Result<(Vec<ListedCompany>, usize), MalformedDocument> {
    #[derive(Deserialize)]
    struct Entry {
        cik_str: serde_json::Value,
        ticker: String,
        title: String,
    }
    let entries: HashMap<String, Entry> =
        serde_json::from_slice(body).map_err(malformed("company_tickers.json"))?;
    let mut skipped = 0;
    let mut listed: Vec<ListedCompany> = entries
        .into_values()
        .filter_map(|entry| {
            let cik = match &entry.cik_str {
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::String(s) => s.clone(),
                _ => String::new(),
            };
            match (Ticker::parse(&entry.ticker), Cik::parse(&cik)) {
                (Ok(ticker), Ok(cik)) => Some(ListedCompany {
                    ticker,
                    cik,
                    name: entry.title,
                }),
                _ => {
                    skipped += 1;
                    None
                }
            }
        })
        .collect();
    listed.sort_by(|a, b| a.ticker.cmp(&b.ticker));
    Ok((listed, skipped))
}

/// A submissions document, as far as the sync reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submissions {
    /// The newest filing of a [`FACT_FORMS`] form among the recent filings, if any.
    pub latest_report: Option<Filing>,
    /// The older pages `filings.files` names, newest first: file names below
    /// `/submissions/`. Names that are not a plain `*.json` file name are left out.
    pub older_pages: Vec<String>,
}

/// The columns SEC lists filings in, in `filings.recent` and in each older page.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FilingColumns {
    accession_number: Vec<String>,
    filing_date: Vec<String>,
    form: Vec<String>,
}

impl FilingColumns {
    fn latest_report(&self) -> Option<Filing> {
        self.accession_number
            .iter()
            .zip(&self.filing_date)
            .zip(&self.form)
            .filter(|(_, form)| FACT_FORMS.contains(&form.as_str()))
            .filter_map(|((accession, filed), form)| {
                Some(Filing {
                    accession: accession.clone(),
                    filed: NaiveDate::parse_from_str(filed, "%Y-%m-%d").ok()?,
                    form: form.clone(),
                })
            })
            .max_by(|a, b| (a.filed, &a.accession).cmp(&(b.filed, &b.accession)))
    }
}

/// Whether `name` can only mean a file beside the submissions document.
fn is_page_name(name: &str) -> bool {
    name.len() <= 64
        && name.ends_with(".json")
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Parses a submissions document (`submissions/CIK##########.json`).
///
/// # Errors
/// When the document is not a submissions document.
pub fn parse_submissions(body: &[u8]) -> Result<Submissions, MalformedDocument> {
    #[derive(Deserialize)]
    struct Document {
        filings: Filings,
    }
    #[derive(Deserialize)]
    struct Filings {
        recent: FilingColumns,
        #[serde(default)]
        files: Vec<Page>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Page {
        name: String,
        filing_to: Option<String>,
    }
    let document: Document = serde_json::from_slice(body).map_err(malformed("submissions"))?;
    let mut pages: Vec<(Option<NaiveDate>, usize, String)> = document
        .filings
        .files
        .into_iter()
        .enumerate()
        .filter(|(_, page)| is_page_name(&page.name))
        .map(|(listed, page)| {
            let to = page
                .filing_to
                .and_then(|to| NaiveDate::parse_from_str(&to, "%Y-%m-%d").ok());
            (to, listed, page.name)
        })
        .collect();
    // Newest first by the last filing each holds; as listed (SEC lists newest first) when
    // a page does not say.
    pages.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(Submissions {
        latest_report: document.filings.recent.latest_report(),
        older_pages: pages.into_iter().map(|(_, _, name)| name).collect(),
    })
}

/// The newest filing of a [`FACT_FORMS`] form on an older page of a submissions document
/// (`submissions/CIK##########-submissions-NNN.json`: the same columns as
/// `filings.recent`, at the top level).
///
/// # Errors
/// When the document is not such a page.
pub fn parse_submissions_page(body: &[u8]) -> Result<Option<Filing>, MalformedDocument> {
    let page: FilingColumns =
        serde_json::from_slice(body).map_err(malformed("a submissions page"))?;
    Ok(page.latest_report())
}

/// A company's facts from `companyfacts/CIK##########.json`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompanyFacts {
    /// Every fact of a [`FACT_FORMS`] filing, as reported (a period appears once per
    /// filing that reported it).
    pub facts: Vec<Fact>,
    /// Entries skipped: another form, or a field missing or malformed.
    pub skipped: usize,
}

/// Parses a companyfacts document: `{"facts": {taxonomy: {concept: {"units": {unit:
/// [{start?, end, val, accn, fy, fp, form, filed}]}}}}}`.
///
/// # Errors
/// When the document is not a companyfacts document.
pub fn parse_company_facts(body: &[u8]) -> Result<CompanyFacts, MalformedDocument> {
    #[derive(Deserialize)]
    struct Document {
        #[serde(default)]
        facts: BTreeMap<String, BTreeMap<String, Concept>>,
    }
    #[derive(Deserialize)]
    struct Concept {
        #[serde(default)]
        units: BTreeMap<String, Vec<Listed>>,
    }
    /// An entry as listed: read straight into its fields, or skipped whole when it has not
    /// got them, so the document is never held as a tree of JSON values.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Listed {
        Entry(Entry),
        Unreadable(serde::de::IgnoredAny),
    }
    #[derive(Deserialize)]
    struct Entry {
        start: Option<String>,
        end: String,
        val: f64,
        accn: String,
        fy: Option<i32>,
        fp: Option<String>,
        form: String,
        filed: String,
    }
    let document: Document = serde_json::from_slice(body).map_err(malformed("companyfacts"))?;
    let mut parsed = CompanyFacts::default();
    let date = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
    for (taxonomy, concepts) in document.facts {
        for (name, concept) in concepts {
            for (unit, entries) in concept.units {
                for listed in entries {
                    let Listed::Entry(entry) = listed else {
                        parsed.skipped += 1;
                        continue;
                    };
                    let fact = (|| {
                        if !FACT_FORMS.contains(&entry.form.as_str()) || !entry.val.is_finite() {
                            return None;
                        }
                        let start = match &entry.start {
                            Some(start) => Some(date(start)?),
                            None => None,
                        };
                        Some(Fact {
                            concept: format!("{taxonomy}:{name}"),
                            unit: unit.clone(),
                            period_start: start,
                            period_end: date(&entry.end)?,
                            fiscal_year: entry.fy?,
                            fiscal_period: entry.fp.clone()?,
                            form: entry.form.clone(),
                            filed: date(&entry.filed)?,
                            accession: entry.accn.clone(),
                            value: entry.val,
                        })
                    })();
                    match fact {
                        Some(fact) => parsed.facts.push(fact),
                        None => parsed.skipped += 1,
                    }
                }
            }
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ticker_map_parses_and_skips_what_cannot_be_a_ticker() {
        let body = br#"{
            "0": {"cik_str": 320193, "ticker": "AAPL", "title": "Apple Inc."},
            "1": {"cik_str": 1067983, "ticker": "BRK-B", "title": "BERKSHIRE HATHAWAY INC"},
            "2": {"cik_str": 1, "ticker": "not a ticker", "title": "Odd"}
        }"#;
        let (listed, skipped) = parse_tickers(body).expect("parses");
        assert_eq!(skipped, 1);
        assert_eq!(listed[0].ticker.as_str(), "AAPL");
        assert_eq!(listed[0].cik.to_string(), "0000320193");
        assert_eq!(listed[1].ticker.as_str(), "BRK-B");
        assert!(parse_tickers(b"[]").is_err());
    }

    #[test]
    fn the_latest_report_is_the_newest_fact_bearing_filing() {
        let body = br#"{"cik": "320193", "filings": {"recent": {
            "accessionNumber": ["0000320193-26-000010", "0000320193-26-000009", "0000320193-25-000079"],
            "filingDate": ["2026-02-10", "2026-01-30", "2025-10-31"],
            "form": ["8-K", "10-Q", "10-K"]
        }, "files": []}}"#;
        let submissions = parse_submissions(body).expect("parses");
        let latest = submissions.latest_report.expect("a report");
        assert_eq!(latest.accession, "0000320193-26-000009");
        assert_eq!(latest.form, "10-Q");
        assert!(submissions.older_pages.is_empty());
        let none =
            br#"{"filings": {"recent": {"accessionNumber": [], "filingDate": [], "form": []}}}"#;
        assert_eq!(parse_submissions(none).expect("parses").latest_report, None);
    }

    #[test]
    fn older_pages_are_named_newest_first_and_only_as_plain_file_names() {
        let body = br#"{"filings": {"recent": {
            "accessionNumber": ["0000000001-26-000001"], "filingDate": ["2026-02-10"], "form": ["424B2"]
        }, "files": [
            {"name": "CIK0000000001-submissions-002.json", "filingCount": 10, "filingFrom": "1994-01-01", "filingTo": "2008-01-30"},
            {"name": "../../files/company_tickers.json", "filingTo": "2030-01-01"},
            {"name": "CIK0000000001-submissions-001.json", "filingCount": 2000, "filingFrom": "2008-02-01", "filingTo": "2019-11-06"},
            {"name": "https://elsewhere.example/x.json"}
        ]}}"#;
        let submissions = parse_submissions(body).expect("parses");
        assert_eq!(submissions.latest_report, None);
        assert_eq!(
            submissions.older_pages,
            [
                "CIK0000000001-submissions-001.json",
                "CIK0000000001-submissions-002.json"
            ]
        );
        let page = br#"{"accessionNumber": ["0000000001-19-000003", "0000000001-19-000002"],
            "filingDate": ["2019-11-01", "2019-10-30"], "form": ["8-K", "10-Q"],
            "primaryDocument": ["a.htm", "b.htm"]}"#;
        let latest = parse_submissions_page(page)
            .expect("parses")
            .expect("a report");
        assert_eq!(latest.accession, "0000000001-19-000002");
        assert!(parse_submissions_page(b"{}").is_err());
    }

    #[test]
    fn company_facts_keep_every_filing_of_a_period_and_skip_the_rest() {
        let body = br#"{"cik": 320193, "entityName": "Apple Inc.", "facts": {
            "dei": {"EntityCommonStockSharesOutstanding": {"units": {"shares": [
                {"end": "2025-10-17", "val": 14776353000, "accn": "0000320193-25-000079", "fy": 2025, "fp": "FY", "form": "10-K", "filed": "2025-10-31"}
            ]}}},
            "us-gaap": {"Revenues": {"label": "Revenues", "units": {"USD": [
                {"start": "2023-10-01", "end": "2024-09-28", "val": 391035000000, "accn": "0000320193-24-000123", "fy": 2024, "fp": "FY", "form": "10-K", "filed": "2024-11-01"},
                {"start": "2023-10-01", "end": "2024-09-28", "val": 391035000000, "accn": "0000320193-25-000079", "fy": 2025, "fp": "FY", "form": "10-K", "filed": "2025-10-31"},
                {"start": "2023-10-01", "end": "2024-09-28", "val": 1, "accn": "0000320193-24-000200", "fy": 2024, "fp": "FY", "form": "8-K", "filed": "2024-11-05"},
                {"start": "bad", "end": "2024-09-28", "val": 1, "accn": "x", "fy": 2024, "fp": "FY", "form": "10-K", "filed": "2024-11-05"},
                {"end": "2024-09-28", "val": "oops"}
            ]}}}
        }}"#;
        let parsed = parse_company_facts(body).expect("parses");
        assert_eq!(parsed.facts.len(), 3, "{:?}", parsed.facts);
        assert_eq!(parsed.skipped, 3);
        let revenue: Vec<_> = parsed
            .facts
            .iter()
            .filter(|f| f.concept == "us-gaap:Revenues")
            .collect();
        assert_eq!(revenue.len(), 2, "one per filing that reported the period");
        assert_eq!(revenue[1].fiscal_year, 2025, "fy belongs to the filing");
        assert!(parse_company_facts(b"not json").is_err());
    }
}
