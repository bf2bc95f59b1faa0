//! `lzstock.v1.DashboardService` over Connect (JSON and binary), gRPC-Web and gRPC: the same
//! usecases and the same error mapping as the REST controller, through generated stubs.

use std::sync::Arc;

use buffa_types::google::protobuf::Timestamp;
use connectrpc::{ConnectError, RequestContext, Response, ServiceRequest, ServiceResult};
use lzstock_domain::common::{OwnerId, PageRequest};
use lzstock_domain::dashboard::{
    CreateDashboard, Dashboard, DashboardId, DeleteDashboard, GetDashboard, ListDashboards,
    NewDashboard,
};
use lzstock_domain::InvalidInput;
use lzstock_proto::lzstock::v1 as pb;
use lzstock_proto::lzstock::v1::{
    CompanyServiceExt, DashboardService, DashboardServiceExt, EmailServiceExt,
};

use super::caller::authenticate;
use super::companies::CompanyInsightsView;
use super::dashboards::{CreateDashboardBody, DashboardView};
use super::error::{ApiError, ErrorCode};
use super::ApiState;

impl From<ApiError> for ConnectError {
    fn from(error: ApiError) -> Self {
        let code = match error.code {
            ErrorCode::InvalidArgument => connectrpc::ErrorCode::InvalidArgument,
            ErrorCode::Unauthenticated => connectrpc::ErrorCode::Unauthenticated,
            ErrorCode::NotFound => connectrpc::ErrorCode::NotFound,
            ErrorCode::AlreadyExists => connectrpc::ErrorCode::AlreadyExists,
            ErrorCode::ResourceExhausted => connectrpc::ErrorCode::ResourceExhausted,
            ErrorCode::Unimplemented => connectrpc::ErrorCode::Unimplemented,
            ErrorCode::Unavailable => connectrpc::ErrorCode::Unavailable,
            ErrorCode::Internal => connectrpc::ErrorCode::Internal,
        };
        Self::new(code, error.message)
    }
}

fn invalid(error: InvalidInput) -> ConnectError {
    ApiError::from(error).into()
}

/// The generated `DashboardService` trait, implemented over the dashboard usecases.
#[derive(Debug, Clone)]
pub struct DashboardRpc {
    state: ApiState,
}

impl DashboardRpc {
    async fn caller(&self, ctx: &RequestContext) -> Result<OwnerId, ConnectError> {
        authenticate(ctx.headers(), ctx.extensions(), &self.state.auth)
            .await
            .map_err(Into::into)
    }
}

/// A Connect router serving every LZStock proto service.
#[must_use]
pub fn connect_router(state: ApiState) -> connectrpc::Router {
    let router = Arc::new(DashboardRpc {
        state: state.clone(),
    })
    .register(connectrpc::Router::new());
    let router = Arc::new(super::companies::CompanyRpc {
        state: state.clone(),
    })
    .register(router);
    Arc::new(super::email_rpc::EmailRpc { state }).register(router)
}

/// The REST view and the proto message carry the same fields; the view is the one mapping
/// from the domain, the proto only changes the timestamp's form.
fn to_proto(dashboard: Dashboard) -> pb::Dashboard {
    let view = DashboardView::from(dashboard);
    pb::Dashboard {
        created_at: Some(Timestamp {
            seconds: view.created_at.timestamp(),
            nanos: i32::try_from(view.created_at.timestamp_subsec_nanos()).unwrap_or(0),
            ..Default::default()
        })
        .into(),
        id: view.id,
        owner_id: view.owner_id,
        name: view.name,
        tickers: view.tickers,
        indicators: view.indicators,
        ..Default::default()
    }
}

fn dashboard_id(raw: &str) -> Result<DashboardId, ConnectError> {
    // A malformed id cannot name a dashboard: not found, as on REST.
    DashboardId::parse(raw).map_err(|_| ApiError::dashboard_not_found().into())
}

// The generated trait returns `impl Encodable`; returning the message itself is the refinement
// connectrpc documents for owned responses.
#[allow(refining_impl_trait)]
impl DashboardService for DashboardRpc {
    async fn create_dashboard(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, pb::CreateDashboardRequest>,
    ) -> ServiceResult<pb::CreateDashboardResponse> {
        let owner = self.caller(&ctx).await?;
        let body = request.to_owned_message();
        // One parsing path for both transports: the REST body's.
        let new = NewDashboard::try_from(CreateDashboardBody {
            name: body.name,
            tickers: body.tickers,
            indicators: body.indicators,
        })?;
        let trace_id = ctx
            .extensions()
            .get::<super::trace::RequestTrace>()
            .map(|t| t.0.clone());
        let dashboard = CreateDashboard::new(self.state.dashboards.clone())
            .execute(owner, new, trace_id)
            .await
            .map_err(ApiError::from)?;
        self.state.wake_relay();
        Response::ok(pb::CreateDashboardResponse {
            dashboard: Some(to_proto(dashboard)).into(),
            ..Default::default()
        })
    }

    async fn get_dashboard(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, pb::GetDashboardRequest>,
    ) -> ServiceResult<pb::GetDashboardResponse> {
        let owner = self.caller(&ctx).await?;
        let id = dashboard_id(request.id)?;
        let read = GetDashboard::new(self.state.dashboards.clone(), self.state.companies.clone())
            .execute(&owner, id)
            .await
            .map_err(ApiError::from)?;
        Response::ok(pb::GetDashboardResponse {
            dashboard: Some(to_proto(read.dashboard)).into(),
            companies: read
                .companies
                .into_iter()
                .map(|c| pb::CompanyInsights::from(CompanyInsightsView::from(c)))
                .collect(),
            ..Default::default()
        })
    }

    async fn list_dashboards(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, pb::ListDashboardsRequest>,
    ) -> ServiceResult<pb::ListDashboardsResponse> {
        let owner = self.caller(&ctx).await?;
        // proto3 has no "unset" for scalars: 0 means the default.
        let nonzero = |n: u32| (n != 0).then_some(n);
        let page =
            PageRequest::parse(nonzero(request.page), nonzero(request.size)).map_err(invalid)?;
        let page = ListDashboards::new(self.state.dashboards.clone())
            .execute(&owner, page)
            .await
            .map_err(ApiError::from)?;
        Response::ok(pb::ListDashboardsResponse {
            page: page.request.page(),
            size: page.request.size(),
            total: page.total,
            dashboards: page.items.into_iter().map(to_proto).collect(),
            ..Default::default()
        })
    }

    async fn delete_dashboard(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, pb::DeleteDashboardRequest>,
    ) -> ServiceResult<pb::DeleteDashboardResponse> {
        let owner = self.caller(&ctx).await?;
        let id = dashboard_id(request.id)?;
        DeleteDashboard::new(self.state.dashboards.clone())
            .execute(&owner, id)
            .await
            .map_err(ApiError::from)?;
        Response::ok(pb::DeleteDashboardResponse::default())
    }
}
