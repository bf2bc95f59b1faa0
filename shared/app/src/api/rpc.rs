//! `lzstock.v1.DashboardService` over Connect (JSON and binary), gRPC-Web and gRPC: the same
//! usecases and the same error mapping as the REST controller, through generated stubs.

use std::sync::Arc;

use buffa_types::google::protobuf::Timestamp;
use connectrpc::{ConnectError, RequestContext, Response, ServiceRequest, ServiceResult};
use lzstock_domain::dashboard::{
    parse_indicators, CreateDashboard, Dashboard, DashboardId, DashboardName, DeleteDashboard,
    GetDashboard, ListDashboards, NewDashboard, OwnerId, PageRequest, TickerList,
};
use lzstock_domain::InvalidInput;
use lzstock_proto::lzstock::v1 as pb;
use lzstock_proto::lzstock::v1::{CompanyServiceExt, DashboardService, DashboardServiceExt};

use super::caller::authenticate;
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
    fn caller(&self, ctx: &RequestContext) -> Result<OwnerId, ConnectError> {
        authenticate(ctx.headers(), ctx.extensions(), &self.state.tokens).map_err(Into::into)
    }
}

/// A Connect router serving every LZStock proto service.
#[must_use]
pub fn connect_router(state: ApiState) -> connectrpc::Router {
    let router = Arc::new(DashboardRpc {
        state: state.clone(),
    })
    .register(connectrpc::Router::new());
    Arc::new(super::companies::CompanyRpc { state }).register(router)
}

fn to_proto(dashboard: Dashboard) -> pb::Dashboard {
    pb::Dashboard {
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
        created_at: Some(Timestamp {
            seconds: dashboard.created_at.timestamp(),
            nanos: i32::try_from(dashboard.created_at.timestamp_subsec_nanos()).unwrap_or(0),
            ..Default::default()
        })
        .into(),
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
        let owner = self.caller(&ctx)?;
        let body = request.to_owned_message();
        let new = NewDashboard {
            name: DashboardName::parse(&body.name).map_err(invalid)?,
            tickers: TickerList::parse(&body.tickers).map_err(invalid)?,
            indicators: parse_indicators(&body.indicators).map_err(invalid)?,
        };
        let dashboard = CreateDashboard::new(self.state.dashboards.clone())
            .execute(owner, new, None)
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
        let owner = self.caller(&ctx)?;
        let id = dashboard_id(request.id)?;
        let dashboard = GetDashboard::new(self.state.dashboards.clone())
            .execute(&owner, id)
            .await
            .map_err(ApiError::from)?;
        Response::ok(pb::GetDashboardResponse {
            dashboard: Some(to_proto(dashboard)).into(),
            ..Default::default()
        })
    }

    async fn list_dashboards(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, pb::ListDashboardsRequest>,
    ) -> ServiceResult<pb::ListDashboardsResponse> {
        let owner = self.caller(&ctx)?;
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
        let owner = self.caller(&ctx)?;
        let id = dashboard_id(request.id)?;
        DeleteDashboard::new(self.state.dashboards.clone())
            .execute(&owner, id)
            .await
            .map_err(ApiError::from)?;
        Response::ok(pb::DeleteDashboardResponse::default())
    }
}
