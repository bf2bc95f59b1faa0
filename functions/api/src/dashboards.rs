//! The dashboard controller: REST JSON in, domain input through parsing, domain errors out
//! through [`ApiError`].

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use chrono::{DateTime, Utc};
use lzstock_domain::common::{Page, PageRequest};
use lzstock_domain::dashboard::{
    parse_indicators, CreateDashboard, Dashboard, DashboardId, DashboardInsights, DashboardName,
    DeleteDashboard, GetDashboard, ListDashboards, NewDashboard, TickerList,
};
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::companies::CompanyInsightsView;
use super::error::ApiError;
use super::json::ApiJson;
use super::trace::RequestTrace;
use super::ApiState;

/// `POST /v1/dashboards`. The schema states every rule the parsers enforce, so a client
/// generated from the document knows them (the contract test holds the two together).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDashboardBody {
    /// 1 to 100 characters, no control characters, not only whitespace; stored trimmed.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: String,
    /// 1 to 50 distinct tickers.
    #[schema(value_type = BTreeSet<TickerSymbol>, min_items = 1, max_items = 50)]
    pub tickers: Vec<String>,
    /// Distinct indicator names from the closed set; may be empty.
    #[serde(default)]
    #[schema(value_type = BTreeSet<IndicatorName>)]
    pub indicators: Vec<String>,
}

/// A ticker as the document describes it (the domain's `Ticker` parses it).
#[derive(Debug, Clone, utoipa::ToSchema)]
#[schema(value_type = String, pattern = "^[A-Z0-9][A-Z0-9.\\-]{0,9}$")]
pub struct TickerSymbol(pub String);

/// An indicator's name, as the document lists them (the domain's `Indicator` parses it; a
/// test keeps the two lists equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IndicatorName {
    /// Revenue growth against the same period a year earlier.
    RevenueGrowthYoy,
    /// Net income over revenue.
    NetMargin,
    /// Diluted earnings per share.
    EpsDiluted,
    /// Total liabilities over shareholders' equity.
    DebtToEquity,
    /// Current assets over current liabilities.
    CurrentRatio,
}

impl TryFrom<CreateDashboardBody> for NewDashboard {
    type Error = ApiError;

    fn try_from(body: CreateDashboardBody) -> Result<Self, Self::Error> {
        Ok(Self {
            name: DashboardName::parse(&body.name)?,
            tickers: TickerList::parse(&body.tickers)?,
            indicators: parse_indicators(&body.indicators)?,
        })
    }
}

/// A dashboard as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardView {
    /// Its id.
    pub id: String,
    /// Its owner (the JWT `sub`).
    pub owner_id: String,
    /// Its name.
    pub name: String,
    /// Its companies.
    pub tickers: Vec<String>,
    /// Its indicators.
    pub indicators: Vec<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl From<Dashboard> for DashboardView {
    fn from(dashboard: Dashboard) -> Self {
        Self {
            id: dashboard.id.to_string(),
            owner_id: dashboard.owner.to_string(),
            name: dashboard.name.as_str().to_owned(),
            tickers: dashboard
                .tickers
                .as_slice()
                .iter()
                .map(ToString::to_string)
                .collect(),
            indicators: dashboard
                .indicators
                .iter()
                .map(ToString::to_string)
                .collect(),
            created_at: dashboard.created_at,
        }
    }
}

/// A dashboard with its companies' indicators: `GET /v1/dashboards/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardDetail {
    /// The dashboard.
    #[serde(flatten)]
    pub dashboard: DashboardView,
    /// Per ticker, in the dashboard's order, the indicators it shows (every indicator
    /// when it selected none), each with its value and period or why it has none.
    pub companies: Vec<CompanyInsightsView>,
}

impl From<DashboardInsights> for DashboardDetail {
    fn from(read: DashboardInsights) -> Self {
        Self {
            dashboard: read.dashboard.into(),
            companies: read.companies.into_iter().map(Into::into).collect(),
        }
    }
}

/// One page of dashboards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DashboardPage {
    /// This page's dashboards, newest first.
    pub items: Vec<DashboardView>,
    /// The page number, from 1.
    pub page: u32,
    /// The page size.
    pub size: u32,
    /// The number of dashboards across every page.
    pub total: u64,
}

impl From<Page<Dashboard>> for DashboardPage {
    fn from(page: Page<Dashboard>) -> Self {
        Self {
            items: page.items.into_iter().map(Into::into).collect(),
            page: page.request.page(),
            size: page.request.size(),
            total: page.total,
        }
    }
}

/// `GET /v1/dashboards?page=&size=`.
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// From 1 (default 1).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 4_294_967_295_u64)]
    pub page: Option<u32>,
    /// 1 to 100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub size: Option<u32>,
}

/// Creates a dashboard owned by the caller.
#[utoipa::path(
    post,
    path = "/v1/dashboards",
    operation_id = "createDashboard",
    tag = "dashboards",
    request_body = CreateDashboardBody,
    responses(
        (status = 201, description = "Created", body = DashboardView,
            headers(("Location" = String, description = "The new dashboard's URL"))),
        (status = 400, description = "A field is invalid", body = ApiError),
        (status = 401, description = "No valid bearer token", body = ApiError),
        (status = 413, description = "The body is over 1 MiB", body = ApiError),
        (status = 415, description = "The body is not JSON", body = ApiError),
        (status = 500, description = "Internal error, with a reference", body = ApiError),
    ),
    security(("bearer" = []))
)]
pub(super) async fn create(
    State(state): State<ApiState>,
    Caller(owner): Caller,
    trace: Option<Extension<RequestTrace>>,
    ApiJson(body): ApiJson<CreateDashboardBody>,
) -> Result<Response, ApiError> {
    let request = NewDashboard::try_from(body)?;
    let dashboard = CreateDashboard::new(state.dashboards.clone())
        .execute(owner, request, trace.map(|Extension(t)| t.0))
        .await?;
    state.wake_relay();
    let location = format!("/v1/dashboards/{}", dashboard.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(DashboardView::from(dashboard)),
    )
        .into_response())
}

/// One of the caller's dashboards.
#[utoipa::path(
    get,
    path = "/v1/dashboards/{id}",
    operation_id = "getDashboard",
    tag = "dashboards",
    params(("id" = String, Path, description = "The dashboard's id (any other text names no dashboard: 404)")),
    responses(
        (status = 200, description = "The dashboard, with its companies' indicators", body = DashboardDetail),
        (status = 401, description = "No valid bearer token", body = ApiError),
        (status = 404, description = "No such dashboard, or not the caller's", body = ApiError),
    ),
    security(("bearer" = []))
)]
pub(super) async fn get(
    State(state): State<ApiState>,
    Caller(owner): Caller,
    Path(id): Path<String>,
) -> Result<Json<DashboardDetail>, ApiError> {
    // A malformed id cannot name a dashboard: not found, like any other absent one.
    let id = DashboardId::parse(&id).map_err(|_| ApiError::dashboard_not_found())?;
    let read = GetDashboard::new(state.dashboards.clone(), state.companies.clone())
        .execute(&owner, id)
        .await?;
    Ok(Json(read.into()))
}

/// The caller's dashboards, newest first.
#[utoipa::path(
    get,
    path = "/v1/dashboards",
    operation_id = "listDashboards",
    tag = "dashboards",
    params(PageQuery),
    responses(
        (status = 200, description = "One page", body = DashboardPage),
        (status = 400, description = "page or size out of range", body = ApiError),
        (status = 401, description = "No valid bearer token", body = ApiError),
    ),
    security(("bearer" = []))
)]
pub(super) async fn list(
    State(state): State<ApiState>,
    Caller(owner): Caller,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<DashboardPage>, ApiError> {
    let Query(query) = query?;
    let page = PageRequest::parse(query.page, query.size)?;
    let page = ListDashboards::new(state.dashboards.clone())
        .execute(&owner, page)
        .await?;
    Ok(Json(page.into()))
}

/// Deletes one of the caller's dashboards.
#[utoipa::path(
    delete,
    path = "/v1/dashboards/{id}",
    operation_id = "deleteDashboard",
    tag = "dashboards",
    params(("id" = String, Path, description = "The dashboard's id (any other text names no dashboard: 404)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid bearer token", body = ApiError),
        (status = 404, description = "No such dashboard, or not the caller's", body = ApiError),
    ),
    security(("bearer" = []))
)]
pub(super) async fn delete(
    State(state): State<ApiState>,
    Caller(owner): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = DashboardId::parse(&id).map_err(|_| ApiError::dashboard_not_found())?;
    DeleteDashboard::new(state.dashboards.clone())
        .execute(&owner, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use lzstock_domain::dashboard::Indicator;

    use super::IndicatorName;

    #[test]
    fn the_documented_indicators_are_the_domains() {
        let documented: Vec<String> = [
            IndicatorName::RevenueGrowthYoy,
            IndicatorName::NetMargin,
            IndicatorName::EpsDiluted,
            IndicatorName::DebtToEquity,
            IndicatorName::CurrentRatio,
        ]
        .iter()
        .map(|name| {
            serde_json::to_value(name)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
        let domain: Vec<&str> = Indicator::ALL.iter().map(|i| i.as_str()).collect();
        assert_eq!(documented, domain);
    }
}
