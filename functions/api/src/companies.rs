//! The company controller: `GET /v1/companies/{ticker}` and `CompanyService.GetCompany`.

use axum::extract::{Path, State};
use axum::Json;
use connectrpc::{ConnectError, RequestContext, Response, ServiceRequest, ServiceResult};
use lzstock_domain::company::{
    definition, CompanyInsights, CompanyProfile, GetCompany, GetCompanyError, Insight, Reading,
};
use lzstock_domain::{InvalidInput, Ticker};
use lzstock_proto::lzstock::v1 as pb;
use serde::{Deserialize, Serialize};

use super::caller::{authenticate, Caller};
use super::error::{ApiError, ErrorCode};
use super::ApiState;

impl From<GetCompanyError> for ApiError {
    fn from(error: GetCompanyError) -> Self {
        match error {
            GetCompanyError::NotFound => Self::new(ErrorCode::NotFound, "company not found"),
            GetCompanyError::Unexpected(e) => Self::internal(&e),
        }
    }
}

fn ticker(raw: &str) -> Result<Ticker, ApiError> {
    Ticker::parse(raw).map_err(|e| InvalidInput::new("ticker", e.to_string()).into())
}

/// A company as the REST API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompanyView {
    /// The ticker.
    pub ticker: String,
    /// The CIK, ten digits.
    pub cik: String,
    /// The registered name.
    pub name: String,
    /// Annual facts, newest period first.
    pub facts: Vec<FactView>,
    /// Every indicator of the latest fiscal year, with its value or why it has none.
    pub indicators: Vec<IndicatorView>,
}

/// One reported fact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FactView {
    /// The XBRL concept.
    pub concept: String,
    /// The unit.
    pub unit: String,
    /// The first day of a duration; absent for an instant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_start: Option<String>,
    /// The last day of the period, or the instant.
    pub period_end: String,
    /// The fiscal year of the filing.
    pub fiscal_year: i32,
    /// The fiscal period of the filing.
    pub fiscal_period: String,
    /// The form.
    pub form: String,
    /// The filing date.
    pub filed: String,
    /// The accession number of the filing that reported it, e.g. `0000320193-25-000079`.
    pub accession: String,
    /// The value.
    pub value: f64,
}

/// One indicator of one company, on an annual basis: its value and the period it
/// describes, or the reason it has none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IndicatorView {
    /// The indicator's name.
    pub indicator: String,
    /// Whether the facts support a value.
    pub available: bool,
    /// A ratio, or money per share for `eps_diluted`; null when not available.
    pub value: Option<f64>,
    /// `ratio`, or the unit as reported (e.g. `USD/shares`); null when not available.
    pub unit: Option<String>,
    /// The first day of the fiscal year for a flow; null for a balance at an instant.
    pub period_start: Option<String>,
    /// The end of the fiscal year it describes; null when not available.
    pub period_end: Option<String>,
    /// The XBRL concepts the value was computed from.
    pub concepts: Vec<String>,
    /// Whether a figure it needs was derived from others the same filing reported (total
    /// liabilities as liabilities and equity, less total equity, less temporary equity)
    /// rather than reported as such; `concepts` then lists every concept the derivation
    /// used. False when not available.
    pub derived: bool,
    /// What the indicator measures.
    pub definition: String,
    /// Why there is no value; null when available.
    pub reason: Option<String>,
}

impl From<Insight> for IndicatorView {
    fn from(insight: Insight) -> Self {
        let indicator = insight.indicator.to_string();
        let definition = definition(insight.indicator).to_owned();
        match insight.reading {
            Reading::Value {
                value,
                unit,
                period,
                concepts,
                derived,
            } => Self {
                indicator,
                available: true,
                value: Some(value),
                unit: Some(unit),
                period_start: period.start.map(|d| d.to_string()),
                period_end: Some(period.end.to_string()),
                concepts,
                derived,
                definition,
                reason: None,
            },
            Reading::NotAvailable { reason } => Self {
                indicator,
                available: false,
                value: None,
                unit: None,
                period_start: None,
                period_end: None,
                concepts: Vec::new(),
                derived: false,
                definition,
                reason: Some(reason),
            },
        }
    }
}

impl From<IndicatorView> for pb::IndicatorValue {
    fn from(view: IndicatorView) -> Self {
        Self {
            indicator: view.indicator,
            value: view.value.unwrap_or_default(),
            period_end: view.period_end.unwrap_or_default(),
            available: view.available,
            reason: view.reason.unwrap_or_default(),
            period_start: view.period_start.unwrap_or_default(),
            unit: view.unit.unwrap_or_default(),
            concepts: view.concepts,
            definition: view.definition,
            derived: view.derived,
            ..Default::default()
        }
    }
}

/// One company's indicators on a dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompanyInsightsView {
    /// The ticker.
    pub ticker: String,
    /// The dashboard's indicators (every indicator when it selected none), in its order.
    pub indicators: Vec<IndicatorView>,
}

impl From<CompanyInsights> for CompanyInsightsView {
    fn from(company: CompanyInsights) -> Self {
        Self {
            ticker: company.ticker.to_string(),
            indicators: company.insights.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<CompanyInsightsView> for pb::CompanyInsights {
    fn from(view: CompanyInsightsView) -> Self {
        Self {
            ticker: view.ticker,
            indicators: view.indicators.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }
}

impl From<CompanyProfile> for CompanyView {
    fn from(profile: CompanyProfile) -> Self {
        Self {
            ticker: profile.company.ticker.to_string(),
            cik: profile.company.cik.to_string(),
            name: profile.company.name,
            facts: profile
                .facts
                .into_iter()
                .map(|f| FactView {
                    concept: f.concept,
                    unit: f.unit,
                    period_start: f.period_start.map(|d| d.to_string()),
                    period_end: f.period_end.to_string(),
                    fiscal_year: f.fiscal_year,
                    fiscal_period: f.fiscal_period,
                    form: f.form,
                    filed: f.filed.to_string(),
                    accession: f.accession,
                    value: f.value,
                })
                .collect(),
            indicators: profile.insights.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<CompanyView> for pb::Company {
    fn from(view: CompanyView) -> Self {
        Self {
            ticker: view.ticker,
            cik: view.cik,
            name: view.name,
            facts: view
                .facts
                .into_iter()
                .map(|f| pb::Fact {
                    concept: f.concept,
                    unit: f.unit,
                    period_start: f.period_start.unwrap_or_default(),
                    period_end: f.period_end,
                    fiscal_year: f.fiscal_year,
                    fiscal_period: f.fiscal_period,
                    form: f.form,
                    filed: f.filed,
                    accession: f.accession,
                    value: f.value,
                    ..Default::default()
                })
                .collect(),
            indicators: view.indicators.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }
}

/// A company with its annual facts and derived indicators.
#[utoipa::path(
    get,
    path = "/v1/companies/{ticker}",
    operation_id = "getCompany",
    tag = "companies",
    params(("ticker" = String, Path, pattern = "^[A-Z0-9][A-Z0-9.\\-]{0,9}$", example = "AAPL", description = "The ticker, e.g. AAPL")),
    responses(
        (status = 200, description = "The company", body = CompanyView),
        (status = 400, description = "Not a ticker", body = ApiError),
        (status = 401, description = "No valid bearer token", body = ApiError),
        (status = 404, description = "Not tracked", body = ApiError),
    ),
    security(("bearer" = []))
)]
pub(super) async fn get(
    State(state): State<ApiState>,
    Caller(_): Caller,
    Path(raw): Path<String>,
) -> Result<Json<CompanyView>, ApiError> {
    let profile = GetCompany::new(state.companies.clone())
        .execute(&ticker(&raw)?)
        .await?;
    Ok(Json(profile.into()))
}

/// `CompanyService` over Connect, gRPC-Web and gRPC.
#[derive(Debug, Clone)]
pub struct CompanyRpc {
    pub(super) state: ApiState,
}

#[allow(refining_impl_trait)]
impl pb::CompanyService for CompanyRpc {
    async fn get_company(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, pb::GetCompanyRequest>,
    ) -> ServiceResult<pb::GetCompanyResponse> {
        authenticate(ctx.headers(), ctx.extensions(), &self.state.auth)
            .await
            .map_err(ConnectError::from)?;
        let ticker = ticker(request.ticker)?;
        let profile = GetCompany::new(self.state.companies.clone())
            .execute(&ticker)
            .await
            .map_err(ApiError::from)?;
        Response::ok(pb::GetCompanyResponse {
            company: Some(pb::Company::from(CompanyView::from(profile))).into(),
            ..Default::default()
        })
    }
}
