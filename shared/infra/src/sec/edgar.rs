//! SEC EDGAR's three documents LZStock reads, at configurable addresses (tests point them at
//! a stand-in).

use lzstock_domain::company::{Fact, Filing, FilingSource, ListedCompany, SourceError};
use lzstock_domain::Cik;

use super::client::{Fetched, SecError, SecHttp};
use super::documents::{
    parse_company_facts, parse_submissions, parse_submissions_page, parse_tickers, CompanyFacts,
    MalformedDocument,
};

/// Where SEC serves its documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgarEndpoints {
    /// `https://data.sec.gov`: submissions and companyfacts.
    pub data_base: String,
    /// `https://www.sec.gov/files/company_tickers.json`.
    pub tickers_url: String,
}

impl Default for EdgarEndpoints {
    fn default() -> Self {
        Self {
            data_base: "https://data.sec.gov".to_owned(),
            tickers_url: "https://www.sec.gov/files/company_tickers.json".to_owned(),
        }
    }
}

/// Why a document could not be had.
#[derive(Debug, thiserror::Error)]
pub enum EdgarError {
    /// The request failed.
    #[error(transparent)]
    Request(#[from] SecError),
    /// The document did not parse.
    #[error(transparent)]
    Malformed(#[from] MalformedDocument),
}

impl EdgarError {
    /// Whether the whole run must stop.
    #[must_use]
    pub fn stops_the_run(&self) -> bool {
        matches!(self, Self::Request(error) if error.stops_the_run())
    }
}

/// The ticker map, or the news that it did not change since `if_modified_since`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickerMap {
    /// The map, with its `Last-Modified` and the count of entries skipped.
    Listed {
        /// The companies.
        companies: Vec<ListedCompany>,
        /// For the next conditional request.
        last_modified: Option<String>,
        /// Entries LZStock cannot represent.
        skipped: usize,
    },
    /// Not modified.
    Unchanged,
}

/// SEC EDGAR, through [`SecHttp`].
#[derive(Debug)]
pub struct Edgar {
    http: SecHttp,
    endpoints: EdgarEndpoints,
}

impl Edgar {
    /// EDGAR at `endpoints` through `http`.
    #[must_use]
    pub fn new(http: SecHttp, endpoints: EdgarEndpoints) -> Self {
        Self { http, endpoints }
    }

    /// The HTTP client, for its counters.
    #[must_use]
    pub fn http(&self) -> &SecHttp {
        &self.http
    }

    /// `company_tickers.json`, conditionally.
    ///
    /// # Errors
    /// See [`EdgarError`].
    pub async fn tickers(&self, if_modified_since: Option<&str>) -> Result<TickerMap, EdgarError> {
        match self
            .http
            .get(&self.endpoints.tickers_url, if_modified_since)
            .await?
        {
            Fetched::NotModified => Ok(TickerMap::Unchanged),
            Fetched::Document {
                body,
                last_modified,
            } => {
                let (companies, skipped) = parse_tickers(&body)?;
                Ok(TickerMap::Listed {
                    companies,
                    last_modified,
                    skipped,
                })
            }
        }
    }

    /// The newest report in `cik`'s submissions. When the recent filings hold none (a heavy
    /// filer's prospectus supplements can push its last 10-K out of them), the older pages
    /// the document names are read, newest first, one request each, until one holds a
    /// report or the pages end.
    ///
    /// # Errors
    /// See [`EdgarError`]; an unknown CIK is [`SecError::NotFound`].
    pub async fn latest_report(&self, cik: Cik) -> Result<Option<Filing>, EdgarError> {
        let base = &self.endpoints.data_base;
        let url = format!("{base}/submissions/CIK{cik}.json");
        let submissions = parse_submissions(&self.document(&url).await?)?;
        if submissions.latest_report.is_some() {
            return Ok(submissions.latest_report);
        }
        for page in &submissions.older_pages {
            let url = format!("{base}/submissions/{page}");
            if let Some(report) = parse_submissions_page(&self.document(&url).await?)? {
                tracing::info!(%cik, page, "the newest report is on an older page");
                return Ok(Some(report));
            }
        }
        Ok(None)
    }

    /// Every fact `cik` reported.
    ///
    /// # Errors
    /// See [`EdgarError`]; an unknown CIK is [`SecError::NotFound`].
    pub async fn company_facts(&self, cik: Cik) -> Result<CompanyFacts, EdgarError> {
        let url = format!(
            "{}/api/xbrl/companyfacts/CIK{cik}.json",
            self.endpoints.data_base
        );
        Ok(parse_company_facts(&self.document(&url).await?)?)
    }

    async fn document(&self, url: &str) -> Result<bytes::Bytes, SecError> {
        match self.http.get(url, None).await? {
            Fetched::Document { body, .. } => Ok(body),
            // Unasked for: a server answering 304 to an unconditional request is wrong.
            Fetched::NotModified => Err(SecError::Status {
                status: 304,
                url: url.to_owned(),
            }),
        }
    }
}

impl From<EdgarError> for SourceError {
    fn from(error: EdgarError) -> Self {
        match error {
            EdgarError::Request(SecError::NotFound(what)) => Self::NotFound(what),
            error if error.stops_the_run() => Self::Stop(error.to_string()),
            error => Self::Failed(error.to_string()),
        }
    }
}

impl FilingSource for Edgar {
    async fn listed_companies(&self) -> Result<Vec<ListedCompany>, SourceError> {
        match self.tickers(None).await? {
            TickerMap::Listed { companies, .. } => Ok(companies),
            TickerMap::Unchanged => Ok(Vec::new()),
        }
    }

    async fn latest_filing(&self, cik: Cik) -> Result<Option<Filing>, SourceError> {
        Ok(self.latest_report(cik).await?)
    }

    async fn reported_facts(&self, cik: Cik) -> Result<Vec<Fact>, SourceError> {
        Ok(self.company_facts(cik).await?.facts)
    }
}
